#version 450
// The GEMM probe of `kvk bench --peak`: C = A B in fp32, row-major (A M x K, B K x N), built
// the way kvk's convolution shader is (conv2d.comp), so that the ceiling it measures is one
// kvk's own kernels can approach: each invocation owns NG vec4s of columns (col and col + 64)
// for RP rows. Per 4 steps of k a lane loads 4 * NG vec4s of B and RP / RB vec4s of A (rows
// lane % RB, RB + lane % RB, ...), shares its A values with the other RB - 1 lanes by
// subgroupBroadcast and does 4 * RP * NG vec4 multiply-adds. On the CPU drivers loads whose
// address differs between lanes are far dearer than arithmetic, and shared memory and
// barriers slow both down (../shared/notes/cpu-vulkan-drivers.md). RB, RP and NG are the
// variant's defines, as conv2d.comp's tiling on the same device (rb8, rb4: 16 rows x 2 vec4s,
// lavapipe's and SwiftShader's; rb1: 32 x 1). TEXB (probe_gemm_rb8_tex) reads B as a uniform
// texel buffer, as conv2d_rb8_tex reads its weights. The host guarantees M % RP == 0,
// N % (256 NG) == 0, K % 4 == 0.
#extension GL_GOOGLE_include_directive : require
#if RB > 1
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#endif
#include "push.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer A {
    vec4 a[];
};
#if defined(TEXB) && TEXB
layout(set = 0, binding = 1) uniform samplerBuffer b_texels;
#define BV(i) texelFetch(b_texels, i)
#else
layout(std430, set = 0, binding = 1) readonly buffer B {
    vec4 b[];
};
#define BV(i) b[i]
#endif
layout(std430, set = 0, binding = 2) writeonly buffer C {
    vec4 c[];
};

KVK_PUSH_CONSTANTS(KVK_PROBE_GEMM_PARAMS)

#define MAD(r, v)                                                                          \
    acc[r] += v.x * b0 + v.y * b1 + v.z * b2 + v.w * b3;                                   \
    if (NG > 1) acc2[r] += v.x * e0 + v.y * e1 + v.z * e2 + v.w * e3;
#if RB == 8
// row r's A values are held by lane r % 8, in its load r / 8
#define ROW(r)                                                                                     \
    {                                                                                              \
        vec4 v = subgroupBroadcast(own[(r) / 8], (r) % 8);                                         \
        MAD(r, v)                                                                                  \
    }
#elif RB == 4
// row r's A values are held by lane r % 4, in its load r / 4
#define ROW(r)                                                                                     \
    {                                                                                              \
        vec4 v = subgroupBroadcast(own[(r) / 4], (r) % 4);                                         \
        MAD(r, v)                                                                                  \
    }
#else
#define ROW(r)                                                                                     \
    {                                                                                              \
        vec4 v = own[r];                                                                           \
        MAD(r, v)                                                                                  \
    }
#endif
#define ROWS8(r) ROW(r) ROW(r + 1) ROW(r + 2) ROW(r + 3) ROW(r + 4) ROW(r + 5) ROW(r + 6) ROW(r + 7)

void main() {
    const int NV = RP / RB;
    int n4 = p.N / 4, k4n = p.K / 4;
    int col = int(gl_WorkGroupID.x) * 64 * NG + int(gl_LocalInvocationID.x); // in vec4
    int col2 = col + 64;
    int row0 = int(gl_WorkGroupID.y) * RP;
#if RB > 1
    int lane = int(gl_SubgroupInvocationID) % RB;
#else
    int lane = 0;
#endif
    vec4 acc[RP], acc2[RP];
    for (int r = 0; r < RP; r++) acc[r] = acc2[r] = vec4(0.0);
    for (int k4 = 0; k4 < k4n; k4++) {
        int bk = 4 * k4 * n4 + col, bk2 = bk + 64;
        vec4 b0 = BV(bk), b1 = BV(bk + n4), b2 = BV(bk + 2 * n4), b3 = BV(bk + 3 * n4);
        vec4 e0, e1, e2, e3;
        if (NG > 1) {
            e0 = BV(bk2); e1 = BV(bk2 + n4); e2 = BV(bk2 + 2 * n4); e3 = BV(bk2 + 3 * n4);
        }
        vec4 own[NV];
        for (int i = 0; i < NV; i++) own[i] = a[(row0 + i * RB + lane) * k4n + k4];
        ROWS8(0) ROWS8(8)
#if RP > 16
        ROWS8(16) ROWS8(24)
#endif
    }
    for (int r = 0; r < RP; r++) {
        c[(row0 + r) * n4 + col] = acc[r];
        if (NG > 1) c[(row0 + r) * n4 + col2] = acc2[r];
    }
}
