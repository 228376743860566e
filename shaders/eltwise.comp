#version 450
// Element-wise ops over NHWC tensors, picked by MODE:
//   0: y = act(a + b)                       Add
//   1: y = act(a)                           Activation
//   2: y = act(a * s[c] + t[c])             BatchNormalization in inference form, Rescaling,
//                                           Normalization; the binding b holds scale then
//                                           shift, computed on the host
//   3: y = act(a * b)                       Multiply
//   4: y = act(a * b[n, c])                 Multiply by one value per image and channel
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "activation.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const int MODE = 0;
layout(constant_id = 1) const int ACT = 0; // the activation (kvk_activations.h)
// C % 4 == 0: one vec4 of channels per invocation (a quarter of the invocations, whose
// per-invocation cost dominates on the CPU drivers); total then counts vec4s
layout(constant_id = 2) const int VEC4 = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y4 { vec4 y4[]; };

KVK_PUSH_CONSTANTS(KVK_ELTWISE_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    if (VEC4 != 0) {
        int C4 = p.C / 4;
        vec4 v = a4[i];
        if (MODE == 0) v += b4[i];
        if (MODE == 2) {
            int c = i % C4;
            v = v * b4[c] + b4[C4 + c];
        }
        if (MODE == 3) v *= b4[i];
        if (MODE == 4) v *= b4[(i / (p.HW * C4)) * C4 + i % C4];
        y4[i] = kvk_activate4(v, ACT, p.act_slope, p.act_max, p.act_threshold);
        return;
    }
    float v = a[i];
    if (MODE == 0) v += b[i];
    if (MODE == 2) {
        int c = i % p.C;
        v = v * b[c] + b[p.C + c];
    }
    if (MODE == 3) v *= b[i];
    if (MODE == 4) v *= b[(i / (p.HW * p.C)) * p.C + i % p.C];
    y[i] = kvk_activate(v, ACT, p.act_slope, p.act_max, p.act_threshold);
}
