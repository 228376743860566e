#version 450
#extension GL_GOOGLE_include_directive : require
#include "push.glsl"
#include "index.glsl"
// Max and average pooling, NHWC, one output value per invocation. Windows are clipped to the
// input: max ignores padding and average divides by the valid pixels (TensorFlow's 'same').
layout(local_size_x = 64) in;
layout(constant_id = 0) const int IS_MAX = 1;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { float y[]; };

KVK_PUSH_CONSTANTS(KVK_POOL2D_PARAMS)

void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return;
    int c = i % p.C;
    int pix = i / p.C;
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    float acc = IS_MAX != 0 ? -3.402823466e38 : 0.0;
    int count = 0;
    for (int ky = 0; ky < p.KH; ky++) {
        int iy = oy * p.SH + ky - p.pad_top;
        if (iy < 0 || iy >= p.H) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            int ix = ox * p.SW + kx - p.pad_left;
            if (ix < 0 || ix >= p.W) continue;
            float v = x[((n * p.H + iy) * p.W + ix) * p.C + c];
            acc = IS_MAX != 0 ? max(acc, v) : acc + v;
            count++;
        }
    }
    y[pix * p.ostride + p.obase + c] = IS_MAX != 0 ? acc : acc / float(count);
}
