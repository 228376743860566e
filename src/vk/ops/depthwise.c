/* DepthwiseConv2D on the device (also the first half of a SeparableConv2D). Weights are the
 * kernel (kh, kw, cout) then the bias (cout, zeros if none). */
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

static int depthwise_pieces(const kvk_graph *g, const kvk_node *n, uint64_t max_binding,
                            size_t *floats, int max_pieces) {
    (void)g;
    (void)max_pieces;
    floats[0] = ((size_t)n->kh * n->kw + 1) * (size_t)n->shape.c;
    return floats[0] * sizeof(float) <= max_binding ? 1 : -1;
}

static void depthwise_pack(const kvk_graph *g, const kvk_node *n, uint64_t max_binding, int index,
                           float *dst) {
    (void)g;
    (void)max_binding;
    (void)index;
    size_t taps = (size_t)n->kh * n->kw * (size_t)n->shape.c;
    memcpy(dst, n->kernel, taps * sizeof(float));
    if (n->bias)
        memcpy(dst + taps, n->bias, sizeof(float) * (size_t)n->shape.c);
    else
        memset(dst + taps, 0, sizeof(float) * (size_t)n->shape.c);
}

static kvk_status depthwise_record(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    kvk_depthwise_params p = {.H = is.h,
                              .W = is.w,
                              .C = is.c,
                              .OH = os.h,
                              .OW = os.w,
                              .OC = os.c,
                              .KH = n->kh,
                              .KW = n->kw,
                              .SH = n->sh,
                              .SW = n->sw,
                              .pad_top = n->pad_top,
                              .pad_left = n->pad_left,
                              .M = n->depth_multiplier,
                              .act = n->act == KVK_ACT_RELU,
                              .total = c->plan->batch * (int)kvk_shape_size(os),
                              .ostride = c->plan->tensors[c->step->output].shape.c,
                              .obase = c->step->out_channel_offset};
    /* the vec4 variant (4 channels and 8 pixels of a row per invocation) needs multiplier 1 and
     * every channel count and offset a multiple of 4 */
    const char *candidates[2];
    int count = 0;
    if (p.M == 1 && p.C % 4 == 0 && p.ostride % 4 == 0 && p.obase % 4 == 0)
        candidates[count++] = "depthwise_conv2d_x4";
    candidates[count++] = "depthwise_conv2d";
    const kvk_vk_kernel *kernel = kvk_vk_choose(c->caps, c->kernels, candidates, count);
    if (c->chosen) *c->chosen = kernel->name;
    kvk_vk_binding b[3] = {c->inputs[0], c->weights[0], c->output};
    if (!strcmp(kernel->name, "depthwise_conv2d_x4")) {
        enum { PX = 8 };
        p.total = c->plan->batch * os.h * ((os.w + PX - 1) / PX) * (os.c / 4);
    }
    return kvk_vk_dispatch1d(c, kernel->name, NULL, 0, b, 3, &p, sizeof p, p.total);
}

const kvk_vk_op kvk_vk_depthwise_op = {depthwise_pieces, depthwise_pack, depthwise_record,
                                       KVK_DTYPE_BIT(KVK_DTYPE_F32)};
