#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"
#include "float_bits.glsl"
// Max and average pooling, NHWC, one output value per invocation, or one vec4 of channels
// with VEC4 (C, the output stride and offset multiples of 4): a quarter of the invocations
// and of the index arithmetic, whose integer divisions the CPU drivers run lane by lane.
// Windows are clipped to the input: max ignores padding and average divides by the valid
// pixels (TensorFlow's 'same'). Max is TensorFlow's MaxPool: it starts from the lowest float
// and skips NaN (a window of NaN or -Inf gives -3.4e38); average propagates NaN.
layout(local_size_x = 64) in;
layout(constant_id = 0) const int IS_MAX = 1;
layout(constant_id = 1) const int VEC4 = 0;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 0) readonly buffer Input4 { vec4 x4[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { float y[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output4 { vec4 y4[]; };

KVK_PUSH_CONSTANTS(KVK_POOL2D_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return; // total: values, or vec4s with VEC4
    int lanes = VEC4 != 0 ? 4 : 1;
    int cn = p.C / lanes; // channel groups per pixel
    int c = (i % cn) * lanes;
    int pix = i / cn;
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    vec4 acc = vec4(IS_MAX != 0 ? -3.402823466e38 : 0.0);
    int count = 0;
    for (int ky = 0; ky < p.KH; ky++) {
        int iy = oy * p.SH + ky - p.pad_top;
        if (iy < 0 || iy >= p.H) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            int ix = ox * p.SW + kx - p.pad_left;
            if (ix < 0 || ix >= p.W) continue;
            int at = ((n * p.H + iy) * p.W + ix) * p.C + c;
            vec4 v = VEC4 != 0 ? x4[at >> 2] : vec4(x[at]);
            acc = IS_MAX != 0 ? mix(max(acc, v), acc, kvk_isnan4(v)) : acc + v;
            count++;
        }
    }
    vec4 r = IS_MAX != 0 ? acc : acc / float(count);
    int o = pix * p.ostride + p.obase + c;
    if (VEC4 != 0)
        y4[o >> 2] = r;
    else
        y[o] = r.x;
}
