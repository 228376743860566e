#version 450
// Direct 2-D convolution, NHWC, also used for Dense (a 1x1 convolution on a 1x1 image).
// One invocation computes 4 consecutive output channels for TILE_P consecutive output pixels:
// lanes along x take neighbouring channel groups of the same pixels, so the input values they
// read are the same address (a broadcast) and the weights they read are contiguous vec4s.
// The weights of one output-channel block are [kh][kw][cin][ocb4] vec4s, then ocb4 bias vec4s;
// a layer too large for one buffer binding is several blocks, one dispatch each.
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z = 1) in;
layout(constant_id = 2) const int TILE_P = 4;

layout(std430, set = 0, binding = 0) readonly buffer Input { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Weights { vec4 w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Output { float y[]; };
layout(std430, set = 0, binding = 3) readonly buffer Residual { float r[]; };

layout(push_constant) uniform Params {
    int H, W, C;          // input
    int OH, OW, OC;       // output; OC is the channel stride of the output tensor
    int oc0, ocb;         // this block's first output channel and its channel count
    int KH, KW, SH, SW;
    int pad_top, pad_left;
    int act, has_residual;
    int npix;             // batch * OH * OW
} p;

void main() {
    int g = int(gl_GlobalInvocationID.x);
    int p0 = int(gl_GlobalInvocationID.y) * TILE_P;
    int ocb4 = (p.ocb + 3) / 4;
    if (g >= ocb4 || p0 >= p.npix) return;

    vec4 acc[TILE_P];
    int base[TILE_P], iy0[TILE_P], ix0[TILE_P];
    vec4 bias = w[p.KH * p.KW * p.C * ocb4 + g];
    for (int t = 0; t < TILE_P; t++) {
        int pix = min(p0 + t, p.npix - 1); // past the end: recompute the last pixel, unwritten
        int n = pix / (p.OH * p.OW);
        int rem = pix - n * p.OH * p.OW;
        int oy = rem / p.OW;
        int ox = rem - oy * p.OW;
        iy0[t] = oy * p.SH - p.pad_top;
        ix0[t] = ox * p.SW - p.pad_left;
        base[t] = n * p.H * p.W * p.C;
        acc[t] = bias;
    }
    for (int ky = 0; ky < p.KH; ky++) {
        for (int kx = 0; kx < p.KW; kx++) {
            int off[TILE_P];
            float valid[TILE_P];
            for (int t = 0; t < TILE_P; t++) {
                int iy = iy0[t] + ky, ix = ix0[t] + kx;
                bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
                // outside the image the input is zero (padding): read pixel 0, scale by 0
                off[t] = inside ? base[t] + (iy * p.W + ix) * p.C : 0;
                valid[t] = inside ? 1.0 : 0.0;
            }
            int wi = (ky * p.KW + kx) * p.C * ocb4 + g;
            for (int ci = 0; ci < p.C; ci++) {
                vec4 wv = w[wi + ci * ocb4];
                for (int t = 0; t < TILE_P; t++) acc[t] += (x[off[t] + ci] * valid[t]) * wv;
            }
        }
    }
    int c = g * 4;
    int nc = min(4, p.ocb - c);
    for (int t = 0; t < TILE_P; t++) {
        int pix = p0 + t;
        if (pix >= p.npix) break;
        int o = pix * p.OC + p.oc0 + c;
        for (int j = 0; j < nc; j++) {
            float v = acc[t][j];
            if (p.has_residual != 0) v += r[o + j];
            y[o + j] = kvk_activate(v, p.act);
        }
    }
}
