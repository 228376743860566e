#version 450
// Conv2D and Dense. Variants (CMakeLists.txt's shader list) set RB, the subgroup broadcast
// width: conv2d_rb8 (lavapipe, GPUs), conv2d_rb4 (SwiftShader), conv2d_rb1 (no subgroups);
// WIDE: conv2d_rb8_i64 reads its inputs and weights as 64-bit words; TEXW: conv2d_rb8_tex
// and conv2d_rb8_tex4 (lavapipe; 16 pixels x 4 channel vec4s) read their weights as a uniform
// texel buffer; WF16: the _f16 twins read float16 weights (common/weights.glsl).
#extension GL_GOOGLE_include_directive : require
// Direct 2-D convolution, NHWC, as an implicit GEMM (pixels x kh*kw*cin x output channels);
// also used for Dense (a 1x1 convolution of a 1x1 image).
//
// A workgroup computes RP consecutive output pixels (chosen by gl_WorkGroupID.y) for
// 4 * NG * LX output channels: each invocation owns NG vec4 channel groups, g, g + LX and
// (FIXED_NG up to 4) g + 2 LX, g + 3 LX (neighbouring lanes read neighbouring weight vec4s),
// for all RP pixels. The pixels' inputs
// are read once per subgroup and shared with subgroupBroadcast: lane i reads pixels i % RB,
// RB + i % RB, ..., so per 4 input channels each lane loads RP / RB input vec4s and 4 * NG
// weight vec4s and does 4 * NG * RP vec4 multiply-adds with them.
// Why: on both CPU drivers a buffer load whose address differs between lanes (or sits inside
// any loop) is a scalar loop over the lanes, far dearer than the arithmetic, so this trades
// loads for accumulators (up to 128 vec4 per invocation; spilling them is cheap by
// comparison). RB <= gl_SubgroupSize, and the host keeps every subgroup full (LX a multiple
// of the subgroup size). No shared memory, no barriers: both CPU drivers are slower with them.
// The weights of one output-channel piece are [kh][kw][cin][ocb4] vec4s, then ocb4 bias vec4s.
#extension GL_EXT_control_flow_attributes : require
#if RB > 1
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "activation.glsl"
#include "push.glsl"

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
// FIXED_RP and FIXED_NG, where a variant defines them, fix the block at compile time:
// SwiftShader runs the defined block 1.5x faster than the same block specialized
#ifdef FIXED_RP
const int RP = FIXED_RP;
#else
layout(constant_id = 1) const int RP = 64;    // pixels per workgroup, 1..64 (RB divides it)
#endif
// RB, the broadcast width (1, 4 or 8), is a define of the variant: code for the other
// widths would cost SwiftShader time even where a specialisation constant disables it
layout(constant_id = 2) const int FLAGS = 0;  // 1: C % 4 == 0 (vec4 input), 2: every output
                                              // vec4 is aligned and whole (OC, ostride, obase,
                                              // zo % 4 == 0; so is every piece's ocb),
                                              // 4: two channel groups per invocation
layout(constant_id = 3) const int ACT = 0;        // the fused activation (kvk_activations.h)
const int VEC_IN = FLAGS & 1;
const int VEC_OUT = FLAGS & 2;
#ifdef FIXED_NG
const int NG = FIXED_NG;
#define NG_MAX FIXED_NG
#else
#define NG_MAX 2 // groups 3 and 4 are compiled only where FIXED_NG asks (SwiftShader runs the
                 // 2-group code slower when they are there, even dead: ResNet50 +4%)
const int NG = (FLAGS & 4) != 0 ? 2 : 1;     // vec4 channel groups per invocation: g, g + LX
#endif
const int NV = RP / RB;                       // input vec4s each lane loads per step
const int MAXRP = 64;                         // array sizes (the unused part is dead code)

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
// the same bindings seen as vec4s (descriptor aliasing)
layout(std430, set = 0, binding = 0) readonly buffer Input4 { vec4 x4[]; };
#include "weights.glsl"
layout(std430, set = 0, binding = 2) writeonly buffer Output { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Output4 { vec4 y4[]; };
layout(std430, set = 0, binding = 3) readonly buffer Residual { float r[]; };
layout(std430, set = 0, binding = 3) readonly buffer Residual4 { vec4 r4[]; };

KVK_PUSH_CONSTANTS(KVK_CONV2D_PARAMS)

// acc[a] += input of pixel a (held by lane t of load i) times the weights
#define MADV(a, b) acc[a] += b.x * w0 + b.y * w1 + b.z * w2 + b.w * w3; \
    if (NG > 1) acc2[a] += b.x * u0 + b.y * u1 + b.z * u2 + b.w * u3; MADV34(a, b)
#define MADS(a, b) acc[a] += b * w0; if (NG > 1) acc2[a] += b * u0; MADS34(a, b)
#if NG_MAX > 2
#define MADV34(a, b) acc3[a] += b.x * t0 + b.y * t1 + b.z * t2 + b.w * t3; \
    if (NG > 3) acc4[a] += b.x * e0 + b.y * e1 + b.z * e2 + b.w * e3;
#define MADS34(a, b) acc3[a] += b * t0; if (NG > 3) acc4[a] += b * e0;
#else
#define MADV34(a, b)
#define MADS34(a, b)
#endif
#if RB > 1
#define FV(a, i, t) if (RP > (a)) { vec4 b = subgroupBroadcast(v[i], t); MADV(a, b) }
#define FS(a, i, t) if (RP > (a)) { float b = subgroupBroadcast(s[i], t); MADS(a, b) }
#endif
#define FV1(a) if (RP > (a)) { vec4 b = v[a]; MADV(a, b) }
#define FS1(a) if (RP > (a)) { float b = s[a]; MADS(a, b) }
#define B8(F, i) F((i) * 8, i, 0) F((i) * 8 + 1, i, 1) F((i) * 8 + 2, i, 2) F((i) * 8 + 3, i, 3) \
    F((i) * 8 + 4, i, 4) F((i) * 8 + 5, i, 5) F((i) * 8 + 6, i, 6) F((i) * 8 + 7, i, 7)
#define B4(F, i) F((i) * 4, i, 0) F((i) * 4 + 1, i, 1) F((i) * 4 + 2, i, 2) F((i) * 4 + 3, i, 3)
#define ALL8(F) B8(F, 0) B8(F, 1) B8(F, 2) B8(F, 3) B8(F, 4) B8(F, 5) B8(F, 6) B8(F, 7)
#define ALL4(F) B4(F, 0) B4(F, 1) B4(F, 2) B4(F, 3) B4(F, 4) B4(F, 5) B4(F, 6) B4(F, 7) \
    B4(F, 8) B4(F, 9) B4(F, 10) B4(F, 11) B4(F, 12) B4(F, 13) B4(F, 14) B4(F, 15)
#define ONE8(F, a) F(a) F(a + 1) F(a + 2) F(a + 3) F(a + 4) F(a + 5) F(a + 6) F(a + 7)
#define ALL1(F) ONE8(F, 0) ONE8(F, 8) ONE8(F, 16) ONE8(F, 24) ONE8(F, 32) ONE8(F, 40) \
    ONE8(F, 48) ONE8(F, 56)

void main() {
    int ocb4 = (p.ocb + 3) / 4;
    int g = int(gl_WorkGroupID.x * gl_WorkGroupSize.x) * NG + int(gl_LocalInvocationID.x);
    int g2 = g + int(gl_WorkGroupSize.x); // the second group, if NG == 2
    int gc = min(g, ocb4 - 1);            // past the last group: recompute it, unwritten
    int gc2 = min(g2, ocb4 - 1);
#if NG_MAX > 2
    int g3 = g2 + int(gl_WorkGroupSize.x), g4 = g3 + int(gl_WorkGroupSize.x);
    int gc3 = min(g3, ocb4 - 1), gc4 = min(g4, ocb4 - 1);
#endif
    int p0 = p.pix0 + int(gl_WorkGroupID.y) * RP; // first pixel of the workgroup
#if RB > 1
    int lane = int(gl_SubgroupInvocationID) % RB;
#else
    int lane = 0;
#endif

    // several independent products in one dispatch (Winograd's 16): z selects the slices
    int z = int(gl_WorkGroupID.z);
    int wz = z * p.zw;
    // where this lane's input pixels start, and their top-left input corner
    int base[MAXRP], iy0[MAXRP], ix0[MAXRP];
    [[unroll]] for (int i = 0; i < NV; i++) {
        int q = min(p0 + i * RB + lane, p.npix - 1); // past the end: recompute the last one
        int n = q / (p.OH * p.OW);
        int rem = q - n * p.OH * p.OW;
        int oy = rem / p.OW;
        int ox = rem - oy * p.OW;
        iy0[i] = oy * p.SH - p.pad_top;
        ix0[i] = ox * p.SW - p.pad_left;
        base[i] = n * p.H * p.W * p.C + z * p.zi;
    }

    vec4 acc[MAXRP], acc2[MAXRP];
    vec4 bias = WV(wz + p.KH * p.KW * p.C * ocb4 + gc);
    vec4 bias2 = NG > 1 ? WV(wz + p.KH * p.KW * p.C * ocb4 + gc2) : vec4(0.0);
    [[unroll]] for (int a = 0; a < RP; a++) { acc[a] = bias; acc2[a] = bias2; }
#if NG_MAX > 2
    vec4 acc3[MAXRP], acc4[MAXRP];
    vec4 bias3 = WV(wz + p.KH * p.KW * p.C * ocb4 + gc3);
    vec4 bias4 = NG > 3 ? WV(wz + p.KH * p.KW * p.C * ocb4 + gc4) : vec4(0.0);
    [[unroll]] for (int a = 0; a < RP; a++) { acc3[a] = bias3; acc4[a] = bias4; }
#endif

    for (int ky = 0; ky < p.KH; ky++) {
        for (int kx = 0; kx < p.KW; kx++) {
            int off[MAXRP];
            float valid[MAXRP];
            [[unroll]] for (int i = 0; i < NV; i++) {
                int iy = iy0[i] + ky, ix = ix0[i] + kx;
                bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
                // outside the image the input is zero (padding): read pixel 0, scale by 0
                off[i] = inside ? base[i] + (iy * p.W + ix) * p.C : 0;
                valid[i] = inside ? 1.0 : 0.0;
            }
            int wi = wz + (ky * p.KW + kx) * p.C * ocb4 + gc;
            int wi2 = wi + gc2 - gc;
#if NG_MAX > 2
            int wi3 = wi + gc3 - gc, wi4 = wi + gc4 - gc;
#endif
            if (VEC_IN != 0) {
                [[unroll]] for (int i = 0; i < NV; i++) off[i] >>= 2;
                int c4n = p.C >> 2;
                for (int c4 = 0; c4 < c4n; c4++) {
                    vec4 v[MAXRP];
                    [[unroll]] for (int i = 0; i < NV; i++) v[i] = XV(off[i] + c4) * valid[i];
                    vec4 w0 = WV(wi), w1 = WV(wi + ocb4), w2 = WV(wi + 2 * ocb4), w3 = WV(wi + 3 * ocb4);
                    vec4 u0, u1, u2, u3;
                    if (NG > 1) {
                        u0 = WV(wi2); u1 = WV(wi2 + ocb4); u2 = WV(wi2 + 2 * ocb4); u3 = WV(wi2 + 3 * ocb4);
                    }
#if NG_MAX > 2
                    vec4 t0 = WV(wi3), t1 = WV(wi3 + ocb4), t2 = WV(wi3 + 2 * ocb4), t3 = WV(wi3 + 3 * ocb4);
                    vec4 e0, e1, e2, e3;
                    if (NG > 3) {
                        e0 = WV(wi4); e1 = WV(wi4 + ocb4); e2 = WV(wi4 + 2 * ocb4); e3 = WV(wi4 + 3 * ocb4);
                    }
                    wi3 += 4 * ocb4;
                    wi4 += 4 * ocb4;
#endif
                    wi += 4 * ocb4;
                    wi2 += 4 * ocb4;
#if RB == 8
                    ALL8(FV)
#elif RB == 4
                    ALL4(FV)
#else
                    ALL1(FV1)
#endif
                }
            } else {
                for (int ci = 0; ci < p.C; ci++) {
                    float s[MAXRP];
                    [[unroll]] for (int i = 0; i < NV; i++) s[i] = x[off[i] + ci] * valid[i];
                    vec4 w0 = WV(wi), u0;
                    if (NG > 1) u0 = WV(wi2);
#if NG_MAX > 2
                    vec4 t0 = WV(wi3), e0;
                    if (NG > 3) e0 = WV(wi4);
                    wi3 += ocb4;
                    wi4 += ocb4;
#endif
                    wi += ocb4;
                    wi2 += ocb4;
#if RB == 8
                    ALL8(FS)
#elif RB == 4
                    ALL4(FS)
#else
                    ALL1(FS1)
#endif
                }
            }
        }
    }

    [[unroll]] for (int h = 0; h < NG; h++) {
#if NG_MAX > 2
        int gh = h == 0 ? g : h == 1 ? g2 : h == 2 ? g3 : g4;
#else
        int gh = h == 0 ? g : g2;
#endif
        if (gh >= ocb4) continue;
        int c = gh * 4;
        int nc = min(4, p.ocb - c);
        [[unroll]] for (int a = 0; a < RP; a++) {
            int pix = p0 + a;
            if (pix >= p.npix) break;
            int o = pix * p.ostride + p.obase + p.oc0 + c + z * p.zo;
#if NG_MAX > 2
            vec4 val = h == 0 ? acc[a] : h == 1 ? acc2[a] : h == 2 ? acc3[a] : acc4[a];
#else
            vec4 val = h == 0 ? acc[a] : acc2[a];
#endif
            // each of the RP x NG stores is its own code: where every output vec4 is whole
            // (VEC_OUT) no per-channel code at all, else one activation per vec4 (lavapipe's
            // ResNet50 compiled 11.96 -> 3.2 s at its cold start, and ran 9% faster)
            if (VEC_OUT != 0) {
                if (p.has_residual != 0) val += r4[o >> 2];
                y4[o >> 2] = kvk_activate4(val, ACT, p.act_slope, p.act_max, p.act_threshold);
            } else {
                if (p.has_residual != 0)
                    for (int j = 0; j < nc; j++) val[j] += r[o + j];
                val = kvk_activate4(val, ACT, p.act_slope, p.act_max, p.act_threshold);
                for (int j = 0; j < nc; j++) y[o + j] = val[j];
            }
        }
    }
}
