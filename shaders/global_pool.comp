#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"
// GlobalAveragePooling2D / GlobalMaxPooling2D: one (image, channel) per invocation; lanes take
// neighbouring channels, so their reads are contiguous.
layout(local_size_x = 64) in;
layout(constant_id = 0) const int IS_MAX = 0;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { float y[]; };

KVK_PUSH_CONSTANTS(KVK_GLOBAL_POOL_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int c = i % p.C, n = i / p.C;
    int base = n * p.HW * p.C + c;
    float acc = IS_MAX != 0 ? -3.402823466e38 : 0.0;
    for (int k = 0; k < p.HW; k++) {
        float v = x[base + k * p.C];
        acc = IS_MAX != 0 ? max(acc, v) : acc + v;
    }
    y[i] = IS_MAX != 0 ? acc : acc / float(p.HW);
}
