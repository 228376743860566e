#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"
// ZeroPadding2D: every output value either copies an input value or is zero.
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { float y[]; };

KVK_PUSH_CONSTANTS(KVK_ZEROPAD_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int c = i % p.C;
    int pix = i / p.C;
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    int iy = oy - p.top, ix = ox - p.left;
    bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
    y[i] = inside ? x[((n * p.H + iy) * p.W + ix) * p.C + c] : 0.0;
}
