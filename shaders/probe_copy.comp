#version 450
// The bandwidth probe of `kvk bench --peak`: a plain copy, one vec4 per invocation.
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer S {
    vec4 s[];
};
layout(std430, set = 0, binding = 1) writeonly buffer D {
    vec4 d[];
};

KVK_PUSH_CONSTANTS(KVK_PROBE_COPY_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i < p.total) d[i] = s[i];
}
