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
    if (MODE == 3) v *= b[i];
    if (MODE == 4) v *= b[(i / (p.HW * p.C)) * p.C + i % p.C];
    y[i] = kvk_activate(v, ACT, p.act_slope, p.act_max, p.act_threshold);
}
