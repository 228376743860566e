#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "activation.glsl"
#include "index.glsl"
// DepthwiseConv2D (and the first half of SeparableConv2D), NHWC, one output value per
// invocation: output channel co reads input channel co / M. Neighbouring invocations take
// neighbouring channels, so their loads are contiguous. Depthwise work is a small share of
// any network's FLOPs, and memory-bound: no subgroup sharing as in conv2d.
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
// the kernel (kh, kw, OC) then the bias (OC)
layout(std430, set = 0, binding = 1) readonly buffer Weights { float w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Output { float y[]; };

layout(constant_id = 0) const int ACT = 0; // the fused activation (kvk_activations.h)
layout(constant_id = 1) const int IN_RELU = 0; // 1: the input read through Keras' relu
KVK_PUSH_CONSTANTS(KVK_DEPTHWISE_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int co = i % p.OC;
    int pix = i / p.OC;
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    int ci = co / p.M;
    float acc = w[p.KH * p.KW * p.OC + co];
    for (int ky = 0; ky < p.KH; ky++) {
        int iy = oy * p.SH + ky - p.pad_top;
        if (iy < 0 || iy >= p.H) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            int ix = ox * p.SW + kx - p.pad_left;
            if (ix < 0 || ix >= p.W) continue;
            float v = x[((n * p.H + iy) * p.W + ix) * p.C + ci];
            if (IN_RELU != 0) v = kvk_relu_plain(v);
            acc += v * w[(ky * p.KW + kx) * p.OC + co];
        }
    }
    y[pix * p.ostride + p.obase + co] = kvk_activate(acc, ACT, p.act_slope, p.act_max, p.act_threshold);
}
