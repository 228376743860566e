#version 450
// Dense for 1 to 8 images: a matrix-vector product, each weight read once, by one lane.
// Variants (CMakeLists.txt's shader list) set RB, the subgroup lanes that share input loads
// (8: dense_gemv_rb8, 4: dense_gemv_rb4), WIDE, weights read as 64-bit words
// (dense_gemv_rb8 needs shaderInt64), TEXW, weights read as a uniform texel buffer
// (dense_gemv_rb8_tex), and WF16, float16 weights (the _f16 twins).
//
// Each invocation owns one vec4 of output channels (neighbouring lanes, neighbouring vec4s)
// for every image. Why not conv2d.comp with one pixel: lavapipe turns every buffer load into
// a loop over the SIMD lanes and the components, one scalar load each. A batch-1 Dense is
// nothing but loads, so this kernel cuts their number: lane t loads the inputs of rows
// 4 (cb + t) .. 4 (cb + t) + 3 and subgroupBroadcast hands them to the others (one input vec4
// per RB rows instead of one per row), and WIDE reads each weight vec4 as two 64-bit words
// (two scalar loads instead of four).
// Weights: in blocks of RB vec4s of output channels (the last one zero-padded), each block
// [rows, then the bias][RB] vec4s: a subgroup reads its block's rows one after the other,
// a contiguous stream (rows of the whole piece, as conv2d.comp reads them, are 4-16 KiB
// apart in VGG16's fc1: a new page for every load). A piece is the icn rows from input ic0
// (a multiple of 4 * RB) over every output channel; has_residual: a later piece, which adds
// the output's values, the earlier pieces' sum (src/vk/ops/conv.c, gemv_rows_per_piece).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "activation.glsl"
#include "push.glsl"

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in; // a multiple of RB
layout(constant_id = 1) const int NB = 1;      // images, 1..MAXNB (npix)
layout(constant_id = 2) const int ACT = 0;     // the fused activation (kvk_activations.h)
layout(constant_id = 3) const int VEC_IN = 0;  // C % 4 == 0: inputs read as vec4s
const int MAXNB = 8;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 0) readonly buffer Input4 { vec4 x4[]; };
#include "weights.glsl" // WF16: the _f16 twins read float16 weights
layout(std430, set = 0, binding = 2) buffer Output { float y[]; };

KVK_PUSH_CONSTANTS(KVK_CONV2D_PARAMS)

// the weight vec4 of the piece's row r (icn: the bias) for vec4 group g
int at(int r, int g) {
    return ((g / RB) * (p.icn + 1) + r) * RB + g % RB;
}

#define weight(i) WV(i)

vec4 acc[MAXNB];
vec4 xl[MAXNB];

// row group j of the current block: its 4 weight rows times lane j's input vec4 of each image
#define ROWS(j) if (j < jn) {                                                              \
        int wi = at((cb + j) * 4, gc);                                                     \
        vec4 w0 = weight(wi), w1 = weight(wi + RB), w2 = weight(wi + 2 * RB),              \
             w3 = weight(wi + 3 * RB);                                                     \
        [[unroll]] for (int n = 0; n < MAXNB; n++) {                                       \
            if (n >= NB) break;                                                            \
            vec4 b = subgroupBroadcast(xl[n], j);                                          \
            acc[n] += b.x * w0 + b.y * w1 + b.z * w2 + b.w * w3;                           \
        }                                                                                  \
    }

void main() {
    int ocb4 = (p.ocb + 3) / 4;
    int g = int(gl_GlobalInvocationID.x);
    int gc = min(g, ocb4 - 1); // past the last vec4: recompute it, unwritten
    int lane = int(gl_SubgroupInvocationID) % RB;
    vec4 bias = weight(at(p.icn, gc));
    [[unroll]] for (int n = 0; n < MAXNB; n++) acc[n] = bias;

    if (VEC_IN != 0) {
        int c4n = p.icn >> 2, x4n = p.C >> 2, x40 = p.ic0 >> 2;
        for (int cb = 0; cb < c4n; cb += RB) {
            int jn = min(RB, c4n - cb); // row groups in this block (the same for every lane)
            int ci = min(cb + lane, c4n - 1);
            [[unroll]] for (int n = 0; n < MAXNB; n++) {
                if (n >= NB) break;
                xl[n] = XV(n * x4n + x40 + ci);
            }
            ROWS(0) ROWS(1) ROWS(2) ROWS(3)
#if RB == 8
            ROWS(4) ROWS(5) ROWS(6) ROWS(7)
#endif
        }
    } else {
        for (int c = 0; c < p.icn; c++) {
            vec4 w0 = weight(at(c, gc));
            [[unroll]] for (int n = 0; n < MAXNB; n++) {
                if (n >= NB) break;
                acc[n] += x[n * p.C + p.ic0 + c] * w0;
            }
        }
    }

    if (g >= ocb4) return;
    int nc = min(4, p.ocb - g * 4);
    [[unroll]] for (int n = 0; n < MAXNB; n++) {
        if (n >= NB) break;
        int o = n * p.ostride + p.obase + p.oc0 + g * 4;
        for (int j = 0; j < nc; j++) {
            float v = acc[n][j];
            if (p.has_residual != 0) v += y[o + j];
            y[o + j] = kvk_activate(v, ACT, p.act_slope, p.act_max, p.act_threshold);
        }
    }
}
