#version 450
// Winograd F(M,3)'s kernel transform, run with the layer (conv2d_winograd_lean and
// conv2d_winograd43_lean in src/vk/ops/conv.c): the weights stay on the device as 3x3 kernels
// in the direct layout [3][3][C][OC4 vec4s], and each run turns them into U = G g G^T in
// scratch memory, U[xi][c][o] for xi = N i + j, the layout of the product step, with a zero
// row c = C that the product shader reads as its bias row. F(4,3)'s U is 4x the 3x3 kernel:
// where device memory is host memory, keeping it for one layer at a time is what keeps the
// process small. One invocation per input channel and output channel vec4.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;
const int N = TILE + 2; // rows of G

layout(std430, set = 0, binding = 0) readonly buffer Kernel { vec4 g[]; };
layout(std430, set = 0, binding = 1) writeonly buffer U { vec4 u[]; };

KVK_PUSH_CONSTANTS(KVK_WINOGRAD_KERNEL_PARAMS)

// G of conv.c's host transform (and of winograd_input.comp's B^T, winograd_output.comp's A^T)
#if TILE == 4
const float G[6][3] = float[6][3](float[3](0.25, 0.0, 0.0),
                                  float[3](-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0),
                                  float[3](-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0),
                                  float[3](1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0),
                                  float[3](1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0),
                                  float[3](0.0, 0.0, 1.0));
#else
const float G[4][3] = float[4][3](float[3](1.0, 0.0, 0.0), float[3](0.5, 0.5, 0.5),
                                  float[3](0.5, -0.5, 0.5), float[3](0.0, 0.0, 1.0));
#endif

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int o = i % p.OC4, c = i / p.OC4;
    int stride = p.total; // one xi matrix: (C + 1) x OC4 vec4s
    if (c == p.C) {       // the zero bias row
        [[unroll]] for (int xi = 0; xi < N * N; xi++) u[xi * stride + i] = vec4(0.0);
        return;
    }
    vec4 k[3][3];
    [[unroll]] for (int r = 0; r < 3; r++)
        [[unroll]] for (int s = 0; s < 3; s++) k[r][s] = g[((r * 3 + s) * p.C + c) * p.OC4 + o];
    vec4 t[N][3]; // G g
    [[unroll]] for (int a = 0; a < N; a++)
        [[unroll]] for (int s = 0; s < 3; s++)
            t[a][s] = G[a][0] * k[0][s] + G[a][1] * k[1][s] + G[a][2] * k[2][s];
    [[unroll]] for (int a = 0; a < N; a++)
        [[unroll]] for (int b = 0; b < N; b++)
            u[(a * N + b) * stride + i] = t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2];
}
