#version 450
// Convolutions of few input channels (conv2d_im2col in src/vk/ops/conv.c), step 1 of 2: each
// output pixel's receptive field, KH x KW x C values in Keras' kernel order (ky, kx, c), becomes
// one row of K4 values (zeros outside the image, and after KH*KW*C up to the multiple of 4),
// so step 2 is a 1x1 product of aligned rows on the convolution shader. With 3 input
// channels the direct kernel reads scalars with a bounds check per tap; the rows read as vec4s.
// One invocation writes one kernel row (ky) of one pixel: KW x C values that lie side by side
// in the input too, by plain loops. (One vec4 per invocation cost integer divisions for each
// value to find its tap, which made this step as slow as the product on lavapipe:
// ResNet50's conv1_conv 10 of 20 ms.)
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Rows { float rows[]; };

KVK_PUSH_CONSTANTS(KVK_IM2COL_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int ky = i % p.KH;
    int pix = i / p.KH;
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    int iy = oy * p.SH - p.pad_top + ky;
    int ix0 = ox * p.SW - p.pad_left;
    bool row_inside = iy >= 0 && iy < p.H;
    int src = ((n * p.H + iy) * p.W + ix0) * p.C;
    int dst = pix * p.K4 + ky * p.KW * p.C;
    for (int kx = 0; kx < p.KW; kx++) {
        bool inside = row_inside && ix0 + kx >= 0 && ix0 + kx < p.W;
        for (int c = 0; c < p.C; c++) rows[dst + c] = inside ? x[src + c] : 0.0;
        src += p.C;
        dst += p.C;
    }
    if (ky == p.KH - 1) // the row's tail, up to its multiple of 4
        for (int k = p.KH * p.KW * p.C; k < p.K4; k++) rows[pix * p.K4 + k] = 0.0;
}
