#version 450
// The GEMM probe of `kvk bench --peak`: C = A B in fp32, row-major (A M x K, B K x N). Each
// invocation keeps a 4 x 16 block of C in registers: 4 rows shared by the whole workgroup (so
// A's loads are uniform), and 4 vec4 columns 64 vec4 apart (so B's loads are contiguous across
// the lanes). No shared memory and no barriers: on the CPU drivers a shared-memory tiled kernel
// is slower (../shared/notes/cpu-vulkan-drivers.md). The host guarantees M % 4 == 0 and
// N % 1024 == 0.
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer A {
    float a[];
};
layout(std430, set = 0, binding = 1) readonly buffer B {
    vec4 b[];
};
layout(std430, set = 0, binding = 2) writeonly buffer C {
    vec4 c[];
};

KVK_PUSH_CONSTANTS(KVK_PROBE_GEMM_PARAMS)

void main() {
    int row0 = int(gl_WorkGroupID.y) * 4;
    int n4 = p.N / 4;
    int col = int(gl_WorkGroupID.x) * 256 + int(gl_LocalInvocationID.x); // in vec4
    vec4 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = vec4(0.0);
    for (int k = 0; k < p.K; k++) {
        vec4 bv[4];
        for (int j = 0; j < 4; j++) bv[j] = b[k * n4 + col + 64 * j];
        for (int r = 0; r < 4; r++) {
            float av = a[(row0 + r) * p.K + k];
            for (int j = 0; j < 4; j++) acc[r * 4 + j] = fma(vec4(av), bv[j], acc[r * 4 + j]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) c[(row0 + r) * n4 + col + 64 * j] = acc[r * 4 + j];
}
