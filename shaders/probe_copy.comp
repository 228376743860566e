#version 450
// The bandwidth probe of `kvk bench --peak`: a plain copy, four vec4s per invocation a quarter
// of the buffer apart (neighbouring lanes, neighbouring vec4s). With one vec4 per invocation
// the probe measured the invocations, not the memory: lavapipe 7.9 against 12.1 GB/s,
// SwiftShader 2.6 against 3.5 (2026-12-03, Xeon); eight per invocation gained nothing more.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
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

const int PER = KVK_PROBE_COPY_PER_INVOCATION;

void main() {
    int i = kvk_flat_index();
    int quarter = (p.total + PER - 1) / PER;
    if (i >= quarter) return;
    [[unroll]] for (int k = 0; k < PER; k++)
        if (i + k * quarter < p.total) d[i + k * quarter] = s[i + k * quarter];
}
