#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "activation.glsl"
#include "index.glsl"
// DepthwiseConv2D with depth multiplier 1 and channels, output stride and offset all
// multiples of 4 (every SeparableConv2D in Xception): each invocation computes 4 channels
// (one vec4) of PX horizontally neighbouring output pixels. Neighbouring invocations take
// neighbouring channel groups. Why: on the CPU drivers each load whose address differs
// between lanes costs a loop over the lanes, so loading vec4s and reusing each weight vec4
// for PX pixels cuts loads ~7x against depthwise_conv2d.comp (one float per invocation).
// K3S1 (a define of the variant depthwise_conv2d_x4_k3s1): the kernel is 3x3, stride 1.
layout(local_size_x = 64) in;
const int PX = 8;

layout(std430, set = 0, binding = 0) readonly buffer Input { vec4 x[]; };
// the kernel (kh, kw, OC) then the bias (OC), as vec4s
layout(std430, set = 0, binding = 1) readonly buffer Weights { vec4 w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Output { vec4 y[]; };

layout(constant_id = 0) const int ACT = 0; // the fused activation (kvk_activations.h)
layout(constant_id = 1) const int IN_RELU = 0; // 1: the input read through Keras' relu
// an input vec4 as the kernel reads it
vec4 kvk_input(vec4 v) {
    return IN_RELU != 0 ? kvk_relu_plain4(v) : v;
}
KVK_PUSH_CONSTANTS(KVK_DEPTHWISE_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int c4n = p.OC >> 2;
    int c4 = i % c4n;
    int blk = i / c4n;
    int xblocks = (p.OW + PX - 1) / PX;
    int bx = blk % xblocks;
    int oy = (blk / xblocks) % p.OH;
    int n = blk / (xblocks * p.OH);
    int ox0 = bx * PX;

    vec4 bias = w[p.KH * p.KW * c4n + c4];
    vec4 acc[PX];
    [[unroll]] for (int j = 0; j < PX; j++) acc[j] = bias;
    int row0 = n * p.H;
    int cin4 = p.C >> 2;
#ifdef K3S1
    // 3x3, stride 1 (every SeparableConv2D of Xception): the PX outputs of a row share their
    // inputs, so each kernel row takes PX + 2 input loads instead of 3 PX (lavapipe: Xception's
    // depthwise layers 100 -> 54 ms; SwiftShader, bound elsewhere, unchanged)
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy + ky - p.pad_top;
        if (iy < 0 || iy >= p.H) continue;
        int rowbase = (row0 + iy) * p.W;
        vec4 w0 = w[ky * 3 * c4n + c4], w1 = w[(ky * 3 + 1) * c4n + c4],
             w2 = w[(ky * 3 + 2) * c4n + c4];
        [[unroll]] for (int t = 0; t < PX + 2; t++) {
            int ix = ox0 + t - p.pad_left;
            bool inside = ix >= 0 && ix < p.W;
            vec4 v = kvk_input(x[(rowbase + (inside ? ix : 0)) * cin4 + c4]) * (inside ? 1.0 : 0.0);
            if (t < PX) acc[t] += v * w0;
            if (t >= 1 && t <= PX) acc[t - 1] += v * w1;
            if (t >= 2) acc[t - 2] += v * w2;
        }
    }
#else
    for (int ky = 0; ky < p.KH; ky++) {
        int iy = oy * p.SH + ky - p.pad_top;
        if (iy < 0 || iy >= p.H) continue;
        int rowbase = (row0 + iy) * p.W;
        for (int kx = 0; kx < p.KW; kx++) {
            vec4 wv = w[(ky * p.KW + kx) * c4n + c4];
            [[unroll]] for (int j = 0; j < PX; j++) {
                int ix = (ox0 + j) * p.SW + kx - p.pad_left;
                bool inside = ix >= 0 && ix < p.W;
                // outside the image the input is zero (padding): read column 0, scale by 0
                acc[j] += kvk_input(x[(rowbase + (inside ? ix : 0)) * cin4 + c4]) * (inside ? 1.0 : 0.0) * wv;
            }
        }
    }
#endif
    int ostride4 = p.ostride >> 2, obase4 = p.obase >> 2;
    int pixrow = (n * p.OH + oy) * p.OW;
    [[unroll]] for (int j = 0; j < PX; j++) {
        if (ox0 + j >= p.OW) break;
        y[(pixrow + ox0 + j) * ostride4 + obase4 + c4] = kvk_activate4(acc[j], ACT, p.act_slope, p.act_max, p.act_threshold);
    }
}
