#version 450
// Winograd F(M,3), step 1 of 3 (conv2d_winograd and conv2d_winograd43 in src/vk/ops/conv.c):
// for each MxM output tile t and input channel c, the NxN input patch d (N = M + 2; zeros
// outside the image: the padding) becomes V = B^T d B, written as V[xi][t][c] for
// xi = N i + j, so step 2 is N*N independent products V[xi] (T x C) by U[xi] (C x OC) on the
// convolution shader. TILE (M) is the variant's define: 2 (F(2,3), 16 products) or 4 (F(4,3), 36
// products per 16 outputs instead of 16 per 4: fewer multiplications, larger transforms).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;
const int N = TILE + 2; // the input patch

// VEC4 (the _x4 variants, where C % 4 == 0): four channels per invocation as one vec4
#if VEC4
#define T vec4
const int LANES = 4;
#else
#define T float
const int LANES = 1;
#endif
#if defined(TEX) && TEX // the _x4_tex variants: the input read as a uniform texel buffer of vec4s
layout(set = 0, binding = 0) uniform samplerBuffer x_texels;
#define X(i) texelFetch(x_texels, i)
#else
layout(std430, set = 0, binding = 0) readonly buffer Input { T x[]; };
#define X(i) x[i]
#endif
layout(std430, set = 0, binding = 1) writeonly buffer V { T v[]; };

KVK_PUSH_CONSTANTS(KVK_WINOGRAD_INPUT_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int C = p.C / LANES; // elements per pixel
    int c = i % C;
    int t = p.tile0 + i / C; // the chunk's first tile, then this one
    int tx = t % p.TW;
    int ty = (t / p.TW) % p.TH;
    int n = t / (p.TW * p.TH);
    int y0 = TILE * ty - p.pad_top, x0 = TILE * tx - p.pad_left;
    T d[N][N];
    [[unroll]] for (int r = 0; r < N; r++) {
        [[unroll]] for (int s = 0; s < N; s++) {
            int iy = y0 + r, ix = x0 + s;
            bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            d[r][s] = inside ? X(((n * p.H + iy) * p.W + ix) * C + c) : T(0.0);
        }
    }
    int stride = p.total; // one xi slice: tiles * C elements
#if TILE == 4
    // B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
    //        0 4 0 -5 0 1] (Lavin and Gray's points 0, +-1, +-2) on rows, then on columns
    T b[6][6];
    [[unroll]] for (int s = 0; s < 6; s++) {
        b[0][s] = 4.0 * d[0][s] - 5.0 * d[2][s] + d[4][s];
        b[1][s] = -4.0 * (d[1][s] + d[2][s]) + d[3][s] + d[4][s];
        b[2][s] = 4.0 * (d[1][s] - d[2][s]) - d[3][s] + d[4][s];
        b[3][s] = -2.0 * (d[1][s] - d[3][s]) - d[2][s] + d[4][s];
        b[4][s] = 2.0 * (d[1][s] - d[3][s]) - d[2][s] + d[4][s];
        b[5][s] = 4.0 * d[1][s] - 5.0 * d[3][s] + d[5][s];
    }
    [[unroll]] for (int r = 0; r < 6; r++) {
        v[(r * 6 + 0) * stride + i] = 4.0 * b[r][0] - 5.0 * b[r][2] + b[r][4];
        v[(r * 6 + 1) * stride + i] = -4.0 * (b[r][1] + b[r][2]) + b[r][3] + b[r][4];
        v[(r * 6 + 2) * stride + i] = 4.0 * (b[r][1] - b[r][2]) - b[r][3] + b[r][4];
        v[(r * 6 + 3) * stride + i] = -2.0 * (b[r][1] - b[r][3]) - b[r][2] + b[r][4];
        v[(r * 6 + 4) * stride + i] = 2.0 * (b[r][1] - b[r][3]) - b[r][2] + b[r][4];
        v[(r * 6 + 5) * stride + i] = 4.0 * b[r][1] - 5.0 * b[r][3] + b[r][5];
    }
#else
    // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then the same on columns
    T b[4][4];
    [[unroll]] for (int s = 0; s < 4; s++) {
        b[0][s] = d[0][s] - d[2][s];
        b[1][s] = d[1][s] + d[2][s];
        b[2][s] = d[2][s] - d[1][s];
        b[3][s] = d[1][s] - d[3][s];
    }
    [[unroll]] for (int r = 0; r < 4; r++) {
        v[(r * 4 + 0) * stride + i] = b[r][0] - b[r][2];
        v[(r * 4 + 1) * stride + i] = b[r][1] + b[r][2];
        v[(r * 4 + 2) * stride + i] = b[r][2] - b[r][1];
        v[(r * 4 + 3) * stride + i] = b[r][1] - b[r][3];
    }
#endif
}
