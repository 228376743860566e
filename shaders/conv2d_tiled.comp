#version 450
// Conv2D and Dense for GPUs: the implicit GEMM of conv2d.comp (output pixels x kh*kw*cin x
// output channels, same weight layout and parameters) tiled through shared memory, the
// classic GPU shape. A workgroup of 16x16 invocations computes a 64-pixel x 64-channel block:
// per step of 16 K-rows it stages the 64 pixels' im2col inputs (16 x 64 floats) and the
// weights (16 x 16 vec4s) in shared memory, then each invocation accumulates 4 pixels (its
// row ty and ty + 16, + 32, + 48) for one vec4 of channels (its column tx). Every global load
// is used by 16 invocations from shared memory, where conv2d.comp (tuned for the CPU drivers,
// whose shared memory and barriers are slow) reloads through registers and subgroups.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
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

shared float sa[BK][BM];  // inputs: K-row, pixel
shared vec4 sb[BK][16];   // weights: K-row, channel vec4

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
            sa[kk][sm] = v;
        }
        {
            int k = k0 + ty;
            sb[ty][tx] = k < K && g < ocb4 ? WV(wz + k * ocb4 + g) : vec4(0.0);
        }
        barrier();
        [[unroll]] for (int kk = 0; kk < BK; kk++) {
            vec4 b = sb[kk][tx];
            [[unroll]] for (int i = 0; i < 4; i++) acc[i] += sa[kk][ty + 16 * i] * b;
        }
        barrier();
    }

    if (g >= ocb4) return;
    vec4 bias = WV(wz + K * ocb4 + g);
    int c = g * 4;
    int nc = min(4, p.ocb - c);
    [[unroll]] for (int i = 0; i < 4; i++) {
        int pix = p0 + ty + 16 * i;
        if (pix >= p.npix) break;
        int o = pix * p.ostride + p.obase + p.oc0 + c + z * p.zo;
        vec4 val = acc[i] + bias;
        if (VEC_OUT != 0 && nc == 4) {
            if (p.has_residual != 0) val += r4[o >> 2];
            y4[o >> 2] = kvk_activate4(val, ACT, p.act_slope, p.act_max, p.act_threshold);
        } else {
            for (int j = 0; j < nc; j++) {
                float sv = val[j];
                if (p.has_residual != 0) sv += r[o + j];
                y[o + j] = kvk_activate(sv, ACT, p.act_slope, p.act_max, p.act_threshold);
            }
        }
    }
}
