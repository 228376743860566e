#version 450
// Softmax over the channel axis, one row per workgroup: the lanes share the max and the sum
// through shared memory, then each writes its share of the row. In place is allowed (the
// output may alias the input), so it reads through one binding and writes through it too.
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) buffer Data { float v[]; };

KVK_PUSH_CONSTANTS(KVK_SOFTMAX_PARAMS)

shared float partial[64];

void main() {
    int row = int(gl_WorkGroupID.x);
    int lane = int(gl_LocalInvocationID.x);
    int base = row * p.C;
    float m = -3.402823466e38;
    for (int c = lane; c < p.C; c += 64) m = max(m, v[base + c]);
    partial[lane] = m;
    barrier();
    for (int s = 32; s > 0; s >>= 1) {
        if (lane < s) partial[lane] = max(partial[lane], partial[lane + s]);
        barrier();
    }
    m = partial[0];
    barrier();
    float sum = 0.0;
    for (int c = lane; c < p.C; c += 64) sum += exp(v[base + c] - m);
    partial[lane] = sum;
    barrier();
    for (int s = 32; s > 0; s >>= 1) {
        if (lane < s) partial[lane] += partial[lane + s];
        barrier();
    }
    sum = partial[0];
    for (int c = lane; c < p.C; c += 64) v[base + c] = exp(v[base + c] - m) / sum;
}
