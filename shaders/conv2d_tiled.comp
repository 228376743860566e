#version 450
// Conv2D and Dense for GPUs: the implicit GEMM of conv2d.comp (output pixels x kh*kw*cin x
// output channels, same weight layout and parameters) tiled through shared memory, the
// classic GPU shape. A workgroup of 16x16 invocations computes a 64-pixel x 64-channel block:
// per step of 16 K-rows it stages the 64 pixels' im2col inputs (16 x 64 floats) and the
// weights (16 x 16 vec4s) in shared memory, then each invocation accumulates 4 pixels (its
// row ty and ty + 16, + 32, + 48) for one vec4 of channels (its column tx). Every global load
// is used by 16 invocations from shared memory, where conv2d.comp (tuned for the CPU drivers,
// whose shared memory and barriers are slow) reloads through registers and subgroups.
// MMA = 1 (conv2d_coopmat_f16): the block's products by VK_NV_cooperative_matrix instead, float16
// inputs and weights into float32 sums: each of the 8 subgroups of 32 lanes owns two 16x16
// tiles of the block (one pixel row of tiles, two channel columns), loads them from the staged
// tiles, and stores its sums into shared memory, from where the epilogue reads them as above.
// MMA = 2 (conv2d_coopmat_emulated_f16): the same data flow with each 16x16x16 product done by
// plain arithmetic in "subgroups" of 32 invocations, so the staging, the tiles' places and the
// epilogue are proven on devices without cooperative matrices (the CPU drivers).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifndef MMA
#define MMA 0
#endif
#if MMA == 1
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#endif
#include "activation.glsl"
#include "push.glsl"

layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;
layout(constant_id = 0) const int FLAGS = 0; // 2: every output vec4 is aligned (as conv2d.comp)
layout(constant_id = 1) const int ACT = 0;   // the fused activation (kvk_activations.h)
const int VEC_OUT = FLAGS & 2;
const int BM = 64; // pixels per workgroup
const int BK = 16; // K-rows per shared-memory step

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 0) readonly buffer Input4 { vec4 x4[]; };
#include "weights.glsl" // WF16: the _f16 twin reads float16 weights
layout(std430, set = 0, binding = 2) writeonly buffer Output { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Output4 { vec4 y4[]; };
layout(std430, set = 0, binding = 3) readonly buffer Residual { float r[]; };
layout(std430, set = 0, binding = 3) readonly buffer Residual4 { vec4 r4[]; };

KVK_PUSH_CONSTANTS(KVK_CONV2D_PARAMS)

#if MMA
// staged as float16 values: A (pixels x K-rows) column-major, B (K-rows x 64 channels) row-major
#if MMA == 1
#define STAGE_T float16_t
#define STAGE(v) float16_t(v)
#else
#define STAGE_T float
#define STAGE(v) unpackHalf2x16(packHalf2x16(vec2(v, 0.0))).x // rounded as float16
#endif
shared STAGE_T ha[BK * BM]; // ha[kk * BM + m]
shared STAGE_T hb[BK * 64]; // hb[kk * 64 + n]
shared float hc[BM * 64];   // the block's sums, hc[m * 64 + n]
#else
shared float sa[BK][BM];  // inputs: K-row, pixel
shared vec4 sb[BK][16];   // weights: K-row, channel vec4
#endif

void main() {
    int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
    int tid = ty * 16 + tx;
    int ocb4 = (p.ocb + 3) / 4;
    int g = int(gl_WorkGroupID.x) * 16 + tx; // this invocation's channel vec4
    int p0 = p.pix0 + int(gl_WorkGroupID.y) * BM;
    int z = int(gl_WorkGroupID.z);
    int wz = z * p.zw;
    int K = p.KH * p.KW * p.C;

    // the input pixel this invocation stages (pixel tid % 64, K-rows tid / 64 + 4 * j)
    int sm = tid % BM, sk = tid / BM;
    int q = p0 + sm;
    bool qok = q < p.npix;
    int qc = min(q, p.npix - 1);
    int n = qc / (p.OH * p.OW);
    int rem = qc - n * p.OH * p.OW;
    int oy = rem / p.OW;
    int ox = rem - oy * p.OW;
    int iy0 = oy * p.SH - p.pad_top, ix0 = ox * p.SW - p.pad_left;
    int base = n * p.H * p.W * p.C + z * p.zi;

    vec4 acc[4];
    [[unroll]] for (int i = 0; i < 4; i++) acc[i] = vec4(0.0);
#if MMA
    // this subgroup's two tiles: pixels 16 mi.., channels 16 nj.. and 16 (nj + 1)..
#if MMA == 1
    int sg = int(gl_SubgroupID); // 8 subgroups of 32 lanes (the variant's needs)
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> c0 = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> c1 = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
#else
    int sg = tid / 32, sl = tid % 32; // emulated subgroups; lane sl holds elements sl + 32 j
    float c0[8], c1[8];
    [[unroll]] for (int j = 0; j < 8; j++) c0[j] = c1[j] = 0.0;
#endif
    int mi = sg / 2, nj = (sg % 2) * 2;
#endif

    for (int k0 = 0; k0 < K; k0 += BK) {
        [[unroll]] for (int j = 0; j < BK / 4; j++) {
            int kk = sk + 4 * j;
            int k = k0 + kk;
            float v = 0.0;
            if (qok && k < K) {
                int ci = k % p.C;
                int kxy = k / p.C;
                int ky = kxy / p.KW, kx = kxy - ky * p.KW;
                int iy = iy0 + ky, ix = ix0 + kx;
                if (iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) v = x[base + (iy * p.W + ix) * p.C + ci];
            }
#if MMA
            ha[kk * BM + sm] = STAGE(v);
#else
            sa[kk][sm] = v;
#endif
        }
        {
            int k = k0 + ty;
            vec4 wv = k < K && g < ocb4 ? WV(wz + k * ocb4 + g) : vec4(0.0);
#if MMA
            [[unroll]] for (int j = 0; j < 4; j++) hb[ty * 64 + tx * 4 + j] = STAGE(wv[j]);
#else
            sb[ty][tx] = wv;
#endif
        }
        barrier();
#if MMA == 1
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a, b0, b1;
        coopMatLoadNV(a, ha, mi * 16, BM, true);
        coopMatLoadNV(b0, hb, nj * 16, 64, false);
        coopMatLoadNV(b1, hb, nj * 16 + 16, 64, false);
        c0 = coopMatMulAddNV(a, b0, c0);
        c1 = coopMatMulAddNV(a, b1, c1);
#elif MMA == 2
        [[unroll]] for (int j = 0; j < 8; j++) {
            int e = sl + 32 * j, row = e / 16, col = e % 16;
            float s0 = 0.0, s1 = 0.0;
            for (int kk = 0; kk < BK; kk++) {
                float av = ha[kk * BM + mi * 16 + row];
                s0 += av * hb[kk * 64 + nj * 16 + col];
                s1 += av * hb[kk * 64 + nj * 16 + 16 + col];
            }
            c0[j] += s0;
            c1[j] += s1;
        }
#else
        [[unroll]] for (int kk = 0; kk < BK; kk++) {
            vec4 b = sb[kk][tx];
            [[unroll]] for (int i = 0; i < 4; i++) acc[i] += sa[kk][ty + 16 * i] * b;
        }
#endif
        barrier();
    }
#if MMA
    // the sums through shared memory into the layout of the epilogue below
#if MMA == 1
    coopMatStoreNV(c0, hc, mi * 16 * 64 + nj * 16, 64, false);
    coopMatStoreNV(c1, hc, mi * 16 * 64 + nj * 16 + 16, 64, false);
#else
    [[unroll]] for (int j = 0; j < 8; j++) {
        int e = sl + 32 * j, row = e / 16, col = e % 16;
        hc[(mi * 16 + row) * 64 + nj * 16 + col] = c0[j];
        hc[(mi * 16 + row) * 64 + nj * 16 + 16 + col] = c1[j];
    }
#endif
    barrier();
    [[unroll]] for (int i = 0; i < 4; i++) {
        int at = (ty + 16 * i) * 64 + tx * 4;
        acc[i] = vec4(hc[at], hc[at + 1], hc[at + 2], hc[at + 3]);
    }
#endif

    if (g >= ocb4) return;
    vec4 bias = WV(wz + K * ocb4 + g);
    int c = g * 4;
    int nc = min(4, p.ocb - c);
    [[unroll]] for (int i = 0; i < 4; i++) {
        int pix = p0 + ty + 16 * i;
        if (pix >= p.npix) break;
        int o = pix * p.ostride + p.obase + p.oc0 + c + z * p.zo;
        vec4 val = acc[i] + bias;
        // as conv2d.comp: whole vec4s where VEC_OUT says so, one activation per vec4
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
