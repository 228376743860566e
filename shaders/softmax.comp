#version 450
#extension GL_GOOGLE_include_directive : require
#include "float_bits.glsl"
#include "push.glsl"
// Softmax over the channel axis, one row per workgroup: the lanes share the max and the sum
// through shared memory, then each writes its share of the row. In place is allowed (the
// output may alias the input), so it reads through one binding and writes through it too.
// Non-finite values as in TensorFlow's softmax kernel (Eigen): a row holding NaN or +Inf, or
// only -Inf, is NaN throughout; -Inf among finite values gives 0.
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) buffer Data { float v[]; };

KVK_PUSH_CONSTANTS(KVK_SOFTMAX_PARAMS)

shared float partial[64];

void main() {
    int row = int(gl_WorkGroupID.x);
    int lane = int(gl_LocalInvocationID.x);
    int base = row * p.C;
    float m = kvk_neg_inf();
    // NaN counts as +Inf here: either makes the whole row NaN
    for (int c = lane; c < p.C; c += 64) {
        float x = v[base + c];
        m = kvk_isnan(x) ? uintBitsToFloat(0x7f800000u) : max(m, x);
    }
    partial[lane] = m;
    barrier();
    for (int s = 32; s > 0; s >>= 1) {
        if (lane < s) partial[lane] = max(partial[lane], partial[lane + s]);
        barrier();
    }
    m = partial[0];
    barrier();
    // the max is +Inf (NaN or +Inf in the row) or -Inf (the row is all -Inf): NaN throughout
    bool bad = kvk_nonfinite(m);
    float sum = 0.0;
    for (int c = lane; c < p.C; c += 64) sum += exp(v[base + c] - m);
    partial[lane] = sum;
    barrier();
    for (int s = 32; s > 0; s >>= 1) {
        if (lane < s) partial[lane] += partial[lane + s];
        barrier();
    }
    sum = partial[0];
    for (int c = lane; c < p.C; c += 64) v[base + c] = bad ? kvk_nan() : exp(v[base + c] - m) / sum;
}
