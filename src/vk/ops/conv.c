/* Conv2D and Dense on the device: both run conv2d.comp (Dense is a 1x1 convolution of a 1x1
 * image). Weights are split by output channels into pieces that each fit one binding; each
 * piece is [kh][kw][cin][channels rounded up to 4] then the bias, so the shader reads vec4s. */
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

static int round4(int x) {
    return (x + 3) / 4 * 4;
}

static int input_channels(const kvk_graph *g, const kvk_node *n) {
    return g->nodes[n->inputs[0]].shape.c;
}

size_t kvk_vk_conv_piece_floats(const kvk_graph *g, const kvk_node *n, int channels) {
    return ((size_t)n->kh * n->kw * input_channels(g, n) + 1) * (size_t)round4(channels);
}

int kvk_vk_conv_channels_per_piece(const kvk_graph *g, const kvk_node *n, uint64_t max_binding) {
    int cout = n->shape.c;
    uint64_t per4 = kvk_vk_conv_piece_floats(g, n, 4) * sizeof(float);
    uint64_t groups = max_binding / per4;
    if (groups == 0) return 0; /* not even 4 channels fit: the caller reports it */
    return groups * 4 >= (uint64_t)cout ? cout : (int)(groups * 4);
}

void kvk_vk_conv_pack(const kvk_graph *g, const kvk_node *n, int oc0, int channels, float *dst) {
    int cout = n->shape.c, cp = round4(channels);
    long rows = (long)n->kh * n->kw * input_channels(g, n);
    for (long r = 0; r < rows; r++) {
        float *d = dst + r * cp;
        memcpy(d, n->kernel + r * cout + oc0, sizeof(float) * (size_t)channels);
        memset(d + channels, 0, sizeof(float) * (size_t)(cp - channels));
    }
    float *bias = dst + rows * cp;
    memset(bias, 0, sizeof(float) * (size_t)cp);
    if (n->bias) memcpy(bias, n->bias + oc0, sizeof(float) * (size_t)channels);
}

typedef struct conv_push {
    int H, W, C, OH, OW, OC, oc0, ocb, KH, KW, SH, SW, pad_top, pad_left, act, has_residual, npix;
} conv_push;

kvk_status kvk_vk_record_conv(const kvk_vk_step_ctx *c, uint64_t max_binding) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    kvk_shape os = n->shape;
    int per_piece = kvk_vk_conv_channels_per_piece(c->graph, n, max_binding);
    int batch = c->plan->batch;
    int dense = n->op == KVK_OP_DENSE;
    conv_push p = {is.h, is.w, is.c, os.h, os.w, os.c, 0, 0, n->kh, n->kw, n->sh, n->sw,
                   n->pad_top, n->pad_left, n->act == KVK_ACT_RELU, 0, batch * os.h * os.w};
    if (dense) p.H = p.W = p.OH = p.OW = 1;
    /* Dense has one "pixel" per image: tiling pixels would only repeat work */
    int tile = dense ? 1 : 4;
    int lx = dense ? 64 : 16, ly = dense ? 1 : 4;
    int spec[3] = {lx, ly, tile};
    for (int k = 0; k < c->weight_count; k++) {
        p.oc0 = k * per_piece;
        p.ocb = os.c - p.oc0 < per_piece ? os.c - p.oc0 : per_piece;
        kvk_vk_binding b[4] = {c->inputs[0], c->weights[k], c->output, c->inputs[0]};
        uint32_t gx = (uint32_t)((p.ocb + 3) / 4 + lx - 1) / (uint32_t)lx;
        uint32_t gy = (uint32_t)(((p.npix + tile - 1) / tile + ly - 1) / ly);
        kvk_status st = kvk_vk_dispatch(c->rec, "conv2d", spec, 3, b, 4, &p, sizeof p, gx, gy, 1);
        if (st != KVK_OK) return kvk_fail_context(st, "layer '%s': ", n->name);
    }
    return KVK_OK;
}
