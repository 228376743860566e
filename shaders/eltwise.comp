#version 450
// Element-wise ops over NHWC tensors, picked by MODE:
//   0: y = act(a + b)                       Add
//   1: y = act(a)                           Activation
//   2: y = act(a * s[c] + t[c])             BatchNormalization in inference form; the binding
//                                           b holds scale then shift, computed on the host
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "activation.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const int MODE = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };

KVK_PUSH_CONSTANTS(KVK_ELTWISE_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    float v = a[i];
    if (MODE == 0) v += b[i];
    if (MODE == 2) {
        int c = i % p.C;
        v = v * b[c] + b[p.C + c];
    }
    y[i] = kvk_activate(v, p.act);
}
