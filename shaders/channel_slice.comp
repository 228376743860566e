#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"
// Concatenate on the channel axis, one input at a time: copies an NHWC tensor of C channels
// into channels obase.. of rows of ostride channels. Only for inputs the plan could not
// have written in place.
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { float y[]; };

KVK_PUSH_CONSTANTS(KVK_CHANNEL_SLICE_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int c = i % p.C;
    int pix = i / p.C;
    y[pix * p.ostride + p.obase + c] = x[i];
}
