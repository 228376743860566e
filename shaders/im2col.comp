#version 450
// Convolutions of few input channels (conv2d_im2col in src/vk/ops/conv.c), step 1 of 2: each
// output pixel's receptive field, KH x KW x C values in Keras' kernel order (ky, kx, c), becomes
// one row of K4 values (zeros outside the image, and after KH*KW*C up to the multiple of 4),
// so step 2 is a 1x1 product of aligned rows on the convolution shader. With 3 input
// channels the direct kernel reads scalars with a bounds check per tap; the rows read as vec4s.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Rows { vec4 rows[]; };

KVK_PUSH_CONSTANTS(KVK_IM2COL_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int q = i % (p.K4 / 4); // the vec4 of the row
    int pix = i / (p.K4 / 4);
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    int taps = p.KH * p.KW * p.C;
    vec4 r = vec4(0.0);
    [[unroll]] for (int j = 0; j < 4; j++) {
        int k = 4 * q + j;
        int c = k % p.C;
        int kx = (k / p.C) % p.KW;
        int ky = k / (p.C * p.KW);
        int iy = oy * p.SH - p.pad_top + ky, ix = ox * p.SW - p.pad_left + kx;
        bool inside = k < taps && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
        r[j] = inside ? x[((n * p.H + iy) * p.W + ix) * p.C + c] : 0.0;
    }
    rows[i] = r;
}
