/* DepthwiseConv2D on the device (also the first half of a SeparableConv2D). Weights are the
 * kernel (kh, kw, cout) then the bias (cout, zeros if none). */
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

static int depthwise_pieces(const kvk_vk_step_ctx *c, size_t *floats, int max_pieces) {
    (void)max_pieces;
    const kvk_node *n = c->node;
    floats[0] = ((size_t)n->kh * n->kw + 1) * (size_t)n->shape.c;
    return floats[0] * sizeof(float) <= c->max_binding ? 1 : -1;
}

static void depthwise_pack(const kvk_vk_step_ctx *c, int index, float *dst) {
    (void)index;
    const kvk_node *n = c->node;
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
    kvk_depthwise_params p = {.OC = os.c,
                              .M = n->depth_multiplier,
                              .total = c->plan->batch * (int)kvk_shape_size(os),
                              .ostride = c->plan->tensors[c->step->output].shape.c,
                              .obase = c->step->out_channel_offset};
    KVK_VK_WINDOW_PARAMS(p, is, os, n);
    KVK_VK_ACT_PARAMS(p, n);
    int spec[2] = {kvk_vk_fused_act(n), n->in_relu};
    /* the vec4 variant (4 channels and 8 pixels of a row per invocation) needs multiplier 1 and
     * every channel count and offset a multiple of 4 */
    const char *candidates[3];
    int count = 0;
    if (p.M == 1 && p.C % 4 == 0 && p.ostride % 4 == 0 && p.obase % 4 == 0) {
        if (p.KH == 3 && p.KW == 3 && p.SH == 1 && p.SW == 1)
            candidates[count++] = "depthwise_conv2d_x4_k3s1";
        candidates[count++] = "depthwise_conv2d_x4";
    }
    candidates[count++] = "depthwise_conv2d";
    const kvk_vk_kernel *kernel =
        kvk_vk_choose(c->caps, c->kernels, c->step->weights, candidates, count);
    if (c->chosen) *c->chosen = kernel->name;
    kvk_vk_binding b[3] = {c->inputs[0], c->weights[0], c->output};
    if (kernel->form == KVK_VK_FORM_VEC4) p.total = KVK_VK_ROW_BLOCKS(c, os, kernel->tile);
    return kvk_vk_dispatch1d(c, kernel->name, spec, 2, b, 3, &p, sizeof p, p.total);
}

const kvk_vk_op kvk_vk_depthwise_op = {.weight_pieces = depthwise_pieces,
                                       .weight_pack = depthwise_pack,
                                       .record = depthwise_record,
                                       .dtypes = KVK_DTYPE_BIT(KVK_DTYPE_F32),
                                       .weight_dtypes = KVK_DTYPE_BIT(KVK_DTYPE_F32)};
