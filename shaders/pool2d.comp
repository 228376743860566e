#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push.glsl"
#include "index.glsl"
#include "float_bits.glsl"
// Max and average pooling, NHWC, one output value per invocation, or one vec4 of channels
// with VEC4 (C, the output stride and offset multiples of 4): a quarter of the invocations
// and of the index arithmetic, whose integer divisions the CPU drivers run lane by lane.
// Windows are clipped to the input: max ignores padding and average divides by the valid
// pixels (TensorFlow's 'same'); with pad_zero (a ZeroPadding2D folded in) the positions outside
// are zeros, which max and average's divisor count. Max is TensorFlow's MaxPool: it starts from the lowest float
// and skips NaN (a window of NaN or -Inf gives -3.4e38); average propagates NaN. With
// has_residual a fused Add: the value of binding 2 at the output's index is added (the output
// is then not a concat slice: ostride is C, obase 0); without, binding 2 is the input again.
layout(local_size_x = 64) in;
layout(constant_id = 0) const int IS_MAX = 1;
layout(constant_id = 1) const int VEC4 = 0;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 0) readonly buffer Input4 { vec4 x4[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output { float y[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Output4 { vec4 y4[]; };
layout(std430, set = 0, binding = 2) readonly buffer Residual { float r[]; };
layout(std430, set = 0, binding = 2) readonly buffer Residual4 { vec4 r4[]; };

KVK_PUSH_CONSTANTS(KVK_POOL2D_PARAMS)

// max keeps the running value where v is NaN; average adds
vec4 kvk_pool_step(vec4 acc, vec4 v) {
    return IS_MAX != 0 ? mix(max(acc, v), acc, kvk_isnan4(v)) : acc + v;
}

#ifdef ROW
// pool2d_row (ROW): stride 1 across, vec4 channels (C, the output stride and offset multiples
// of 4). An invocation computes PX neighbouring outputs of a row, which share their inputs:
// each window row loads PX + KW - 1 vec4s instead of PX * KW. Each output sums its window in
// the same order as main() below, so both give the same bits.
const int PX = 8;
void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return; // total: vec4 channel groups x blocks of PX outputs
    int cn = p.C >> 2;
    int c4 = i % cn;
    int blk = i / cn;
    int xblocks = (p.OW + PX - 1) / PX;
    int ox0 = (blk % xblocks) * PX;
    int oy = (blk / xblocks) % p.OH;
    int n = blk / (xblocks * p.OH);
    vec4 acc[PX];
    [[unroll]] for (int j = 0; j < PX; j++) acc[j] = vec4(IS_MAX != 0 ? -3.402823466e38 : 0.0);
    int rows = 0;
    for (int ky = 0; ky < p.KH; ky++) {
        int iy = oy * p.SH + ky - p.pad_top;
        bool row_inside = iy >= 0 && iy < p.H;
        if (!row_inside && p.pad_zero == 0) continue;
        rows++;
        int rowbase = (n * p.H + iy) * p.W;
        for (int t = 0; t < PX - 1 + p.KW; t++) {
            int ix = ox0 + t - p.pad_left;
            bool inside = row_inside && ix >= 0 && ix < p.W;
            if (!inside && p.pad_zero == 0) continue;
            vec4 v = inside ? x4[(rowbase + ix) * cn + c4] : vec4(0.0);
            [[unroll]] for (int j = 0; j < PX; j++) // column t is tap t - j of output j
                if (t - j >= 0 && t - j < p.KW) acc[j] = kvk_pool_step(acc[j], v);
        }
    }
    int pixrow = (n * p.OH + oy) * p.OW;
    [[unroll]] for (int j = 0; j < PX; j++) {
        int ox = ox0 + j;
        if (ox >= p.OW) break;
        // the window's columns inside the input (all of them with zero padding)
        int cols = p.pad_zero != 0 ? p.KW : min(p.KW, p.W + p.pad_left - ox) - max(0, p.pad_left - ox);
        vec4 v = IS_MAX != 0 ? acc[j] : acc[j] / float(rows * cols);
        int o = ((pixrow + ox) * p.ostride + p.obase + 4 * c4) >> 2;
        if (p.has_residual != 0) v += r4[o];
        y4[o] = v;
    }
}
#else
void main() {
    int i = kvk_flat_index();
    if (i >= p.total) return; // total: values, or vec4s with VEC4
    int lanes = VEC4 != 0 ? 4 : 1;
    int cn = p.C / lanes; // channel groups per pixel
    int c = (i % cn) * lanes;
    int pix = i / cn;
    int ox = pix % p.OW;
    int oy = (pix / p.OW) % p.OH;
    int n = pix / (p.OW * p.OH);
    vec4 acc = vec4(IS_MAX != 0 ? -3.402823466e38 : 0.0);
    int count = 0;
    for (int ky = 0; ky < p.KH; ky++) {
        int iy = oy * p.SH + ky - p.pad_top;
        bool row_inside = iy >= 0 && iy < p.H;
        if (!row_inside && p.pad_zero == 0) continue;
        for (int kx = 0; kx < p.KW; kx++) {
            int ix = ox * p.SW + kx - p.pad_left;
            bool inside = row_inside && ix >= 0 && ix < p.W;
            if (!inside && p.pad_zero == 0) continue;
            int at = inside ? ((n * p.H + iy) * p.W + ix) * p.C + c : 0;
            vec4 v = !inside ? vec4(0.0) : VEC4 != 0 ? x4[at >> 2] : vec4(x[at]);
            acc = kvk_pool_step(acc, v);
            count++;
        }
    }
    vec4 v = IS_MAX != 0 ? acc : acc / float(count);
    int o = pix * p.ostride + p.obase + c;
    if (p.has_residual != 0) v += VEC4 != 0 ? r4[o >> 2] : vec4(r[o]);
    if (VEC4 != 0)
        y4[o >> 2] = v;
    else
        y[o] = v.x;
}
#endif
