#version 450
// Winograd F(2,3), step 1 of 3 (conv2d_winograd in src/vk/ops/conv.c): for each 2x2 output tile
// t and input channel c, the 4x4 input patch d (zeros outside the image: the padding) becomes
// V = B^T d B, written as V[xi][t][c] for xi = 4 i + j, so step 2 is 16 independent products
// V[xi] (T x C) by U[xi] (C x OC) on the convolution shader.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer V { float v[]; };

KVK_PUSH_CONSTANTS(KVK_WINOGRAD_INPUT_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int c = i % p.C;
    int t = i / p.C;
    int tx = t % p.TW;
    int ty = (t / p.TW) % p.TH;
    int n = t / (p.TW * p.TH);
    int y0 = 2 * ty - p.pad_top, x0 = 2 * tx - p.pad_left;
    float d[4][4];
    [[unroll]] for (int r = 0; r < 4; r++) {
        [[unroll]] for (int s = 0; s < 4; s++) {
            int iy = y0 + r, ix = x0 + s;
            bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            d[r][s] = inside ? x[((n * p.H + iy) * p.W + ix) * p.C + c] : 0.0;
        }
    }
    // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then the same on columns
    float b[4][4];
    [[unroll]] for (int s = 0; s < 4; s++) {
        b[0][s] = d[0][s] - d[2][s];
        b[1][s] = d[1][s] + d[2][s];
        b[2][s] = d[2][s] - d[1][s];
        b[3][s] = d[1][s] - d[3][s];
    }
    int stride = p.total; // one xi slice: T * C values
    [[unroll]] for (int r = 0; r < 4; r++) {
        v[(r * 4 + 0) * stride + i] = b[r][0] - b[r][2];
        v[(r * 4 + 1) * stride + i] = b[r][1] + b[r][2];
        v[(r * 4 + 2) * stride + i] = b[r][2] - b[r][1];
        v[(r * 4 + 3) * stride + i] = b[r][1] - b[r][3];
    }
}
