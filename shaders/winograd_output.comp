#version 450
// Winograd F(M,3), step 3 of 3 (M: the variant's define TILE, 2 or 4): for each MxM output tile t
// and output channel c, the N*N products P[xi][t][c] (N = M + 2) become Y = A^T P A
// (F(2,3): A^T = [1 1 1 0; 0 1 -1 -1]; F(4,3): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0;
// 0 1 1 4 4 0; 0 1 -1 8 -8 1]), plus the bias and the fused activation, written where they
// fall inside the OH x OW output (a tile may overhang it).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push.glsl"
#include "activation.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const int ACT = 0; // the fused activation (kvk_activations.h)

// VEC4 (the _x4 variants, where OC, ostride and obase are multiples of 4): four channels per
// invocation as one vec4
#if VEC4
#define T vec4
const int LANES = 4;
#define ACTIVATE kvk_activate4
#else
#define T float
const int LANES = 1;
#define ACTIVATE kvk_activate
#endif
#if defined(TEX) && TEX // the _x4_tex variants: the products read as a uniform texel buffer
layout(set = 0, binding = 0) uniform samplerBuffer m_texels;
#define M(i) texelFetch(m_texels, i)
#else
layout(std430, set = 0, binding = 0) readonly buffer Products { T m[]; };
#define M(i) m[i]
#endif
#if WF16 // the _f16 twins: the bias piece in float16, like the weights it comes with
layout(std430, set = 0, binding = 1) readonly buffer Bias { uint bias2[]; };
T bias_of(int c) {
#if VEC4
    return vec4(unpackHalf2x16(bias2[2 * c]), unpackHalf2x16(bias2[2 * c + 1]));
#else
    vec2 pair = unpackHalf2x16(bias2[c >> 1]);
    return (c & 1) != 0 ? pair.y : pair.x;
#endif
}
#else
layout(std430, set = 0, binding = 1) readonly buffer Bias { T bias[]; };
T bias_of(int c) {
    return bias[c];
}
#endif
layout(std430, set = 0, binding = 2) writeonly buffer Output { T y[]; };

KVK_PUSH_CONSTANTS(KVK_WINOGRAD_OUTPUT_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int OC = p.OC / LANES, ostride = p.ostride / LANES, obase = p.obase / LANES;
    int c = i % OC;
    int t = p.tile0 + i / OC; // the chunk's first tile, then this one
    int tx = t % p.TW;
    int ty = (t / p.TW) % p.TH;
    int n = t / (p.TW * p.TH);
    T b = bias_of(c);
#if TILE == 4
    T q[6][6];
    [[unroll]] for (int r = 0; r < 6; r++)
        [[unroll]] for (int s = 0; s < 6; s++) q[r][s] = M((r * 6 + s) * p.total + i);
    T a[4][6];
    [[unroll]] for (int s = 0; s < 6; s++) {
        T p12 = q[1][s] + q[2][s], m12 = q[1][s] - q[2][s];
        T p34 = q[3][s] + q[4][s], m34 = q[3][s] - q[4][s];
        a[0][s] = q[0][s] + p12 + p34;
        a[1][s] = m12 + 2.0 * m34;
        a[2][s] = p12 + 4.0 * p34;
        a[3][s] = m12 + 8.0 * m34 + q[5][s];
    }
    [[unroll]] for (int r = 0; r < 4; r++) {
        int oy = 4 * ty + r;
        if (oy >= p.OH) continue;
        T p12 = a[r][1] + a[r][2], m12 = a[r][1] - a[r][2];
        T p34 = a[r][3] + a[r][4], m34 = a[r][3] - a[r][4];
        T o[4] = {a[r][0] + p12 + p34, m12 + 2.0 * m34, p12 + 4.0 * p34,
                  m12 + 8.0 * m34 + a[r][5]};
        int row = (n * p.OH + oy) * p.OW;
        [[unroll]] for (int k = 0; k < 4; k++) {
            int ox = 4 * tx + k;
            if (ox < p.OW)
                y[(row + ox) * ostride + obase + c] =
                    ACTIVATE(o[k] + b, ACT, p.act_slope, p.act_max, p.act_threshold);
        }
    }
#else
    T q[4][4];
    [[unroll]] for (int r = 0; r < 4; r++)
        [[unroll]] for (int s = 0; s < 4; s++) q[r][s] = M((r * 4 + s) * p.total + i);
    // A^T q: rows q0 + q1 + q2, q1 - q2 - q3; then the same on columns
    T a[2][4];
    [[unroll]] for (int s = 0; s < 4; s++) {
        a[0][s] = q[0][s] + q[1][s] + q[2][s];
        a[1][s] = q[1][s] - q[2][s] - q[3][s];
    }
    [[unroll]] for (int r = 0; r < 2; r++) {
        int oy = 2 * ty + r;
        if (oy >= p.OH) continue;
        T o0 = a[r][0] + a[r][1] + a[r][2] + b;
        T o1 = a[r][1] - a[r][2] - a[r][3] + b;
        int row = (n * p.OH + oy) * p.OW;
        int ox = 2 * tx;
        y[(row + ox) * ostride + obase + c] =
            ACTIVATE(o0, ACT, p.act_slope, p.act_max, p.act_threshold);
        if (ox + 1 < p.OW)
            y[(row + ox + 1) * ostride + obase + c] =
                ACTIVATE(o1, ACT, p.act_slope, p.act_max, p.act_threshold);
    }
#endif
}
