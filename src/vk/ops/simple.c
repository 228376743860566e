/* The memory-bound ops: one invocation per output value (or per row for softmax). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

/* 64-invocation groups for `items`, spread over x and y (see shaders/common/index.glsl) */
static void groups_for(long items, uint32_t *gx, uint32_t *gy) {
    long groups = (items + 63) / 64;
    *gy = (uint32_t)((groups + 65534) / 65535);
    *gx = (uint32_t)((groups + *gy - 1) / *gy);
}

static kvk_status dispatch1d(const kvk_vk_step_ctx *c, const char *shader, const int *spec,
                             int spec_count, const kvk_vk_binding *b, int nb, const void *push,
                             size_t push_size, long items) {
    uint32_t gx, gy;
    groups_for(items, &gx, &gy);
    kvk_status st =
        kvk_vk_dispatch(c->rec, shader, spec, spec_count, b, nb, push, push_size, gx, gy, 1);
    return st == KVK_OK ? st : kvk_fail_context(st, "layer '%s': ", c->node->name);
}

kvk_status kvk_vk_record_pool(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    int total = c->plan->batch * (int)kvk_shape_size(os);
    int p[14] = {is.h,
                 is.w,
                 is.c,
                 os.h,
                 os.w,
                 n->kh,
                 n->kw,
                 n->sh,
                 n->sw,
                 n->pad_top,
                 n->pad_left,
                 total,
                 c->plan->tensors[c->step->output].shape.c,
                 c->step->out_channel_offset};
    int spec[1] = {c->step->op == KVK_OP_MAXPOOL};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return dispatch1d(c, "pool2d", spec, 1, b, 2, p, sizeof p, total);
}

/* One input of a Concatenate that could not be written in place, copied into its slice. */
kvk_status kvk_vk_record_channel_slice(const kvk_vk_step_ctx *c) {
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    int total = c->plan->batch * (int)kvk_shape_size(is);
    int p[4] = {is.c, c->plan->tensors[c->step->output].shape.c, c->step->out_channel_offset,
                total};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return dispatch1d(c, "channel_slice", NULL, 0, b, 2, p, sizeof p, total);
}

/* DepthwiseConv2D: weights are the kernel (kh, kw, cout) then the bias (cout, zeros if none) */
size_t kvk_vk_depthwise_floats(const kvk_node *n) {
    return ((size_t)n->kh * n->kw + 1) * (size_t)n->shape.c;
}

void kvk_vk_depthwise_pack(const kvk_node *n, float *dst) {
    size_t taps = (size_t)n->kh * n->kw * (size_t)n->shape.c;
    memcpy(dst, n->kernel, taps * sizeof(float));
    if (n->bias)
        memcpy(dst + taps, n->bias, sizeof(float) * (size_t)n->shape.c);
    else
        memset(dst + taps, 0, sizeof(float) * (size_t)n->shape.c);
}

kvk_status kvk_vk_record_depthwise(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    int total = c->plan->batch * (int)kvk_shape_size(os);
    int p[17] = {is.h,
                 is.w,
                 is.c,
                 os.h,
                 os.w,
                 os.c,
                 n->kh,
                 n->kw,
                 n->sh,
                 n->sw,
                 n->pad_top,
                 n->pad_left,
                 n->depth_multiplier,
                 n->act == KVK_ACT_RELU,
                 total,
                 c->plan->tensors[c->step->output].shape.c,
                 c->step->out_channel_offset};
    kvk_vk_binding b[3] = {c->inputs[0], c->weights[0], c->output};
    /* the vec4 variant: 4 channels and 8 pixels of a row per invocation */
    if (n->depth_multiplier == 1 && is.c % 4 == 0 && p[15] % 4 == 0 && p[16] % 4 == 0) {
        enum { PX = 8 };
        p[14] = c->plan->batch * os.h * ((os.w + PX - 1) / PX) * (os.c / 4);
        return dispatch1d(c, "depthwise_conv2d_x4", NULL, 0, b, 3, p, sizeof p, p[14]);
    }
    return dispatch1d(c, "depthwise_conv2d", NULL, 0, b, 3, p, sizeof p, total);
}

kvk_status kvk_vk_record_global_pool(const kvk_vk_step_ctx *c) {
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    int total = c->plan->batch * is.c;
    int p[3] = {is.h * is.w, is.c, total};
    int spec[1] = {c->step->op == KVK_OP_GLOBAL_MAXPOOL};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return dispatch1d(c, "global_pool", spec, 1, b, 2, p, sizeof p, total);
}

/* BatchNormalization kept as its own op becomes y = x * scale + shift per channel. */
void kvk_vk_batchnorm_pack(const kvk_node *n, float *dst) {
    int ch = n->shape.c;
    for (int i = 0; i < ch; i++) {
        double s = (n->gamma ? n->gamma[i] : 1.0) / sqrt((double)n->variance[i] + n->epsilon);
        dst[i] = (float)s;
        dst[ch + i] = (float)((n->beta ? n->beta[i] : 0.0) - n->mean[i] * s);
    }
}

kvk_status kvk_vk_record_eltwise(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    int total = c->plan->batch * (int)kvk_shape_size(n->shape);
    int mode = c->step->op == KVK_OP_ADD ? 0 : c->step->op == KVK_OP_BATCHNORM ? 2 : 1;
    int p[3] = {total, n->shape.c, n->act == KVK_ACT_RELU};
    kvk_vk_binding second = mode == 0 ? c->inputs[1] : mode == 2 ? c->weights[0] : c->inputs[0];
    kvk_vk_binding b[3] = {c->inputs[0], second, c->output};
    return dispatch1d(c, "eltwise", &mode, 1, b, 3, p, sizeof p, total);
}

kvk_status kvk_vk_record_zeropad(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    int total = c->plan->batch * (int)kvk_shape_size(os);
    int p[8] = {is.h, is.w, is.c, os.h, os.w, n->pad_top, n->pad_left, total};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return dispatch1d(c, "zeropad", NULL, 0, b, 2, p, sizeof p, total);
}

kvk_status kvk_vk_record_softmax(const kvk_vk_step_ctx *c) {
    kvk_shape s = c->plan->tensors[c->step->output].shape;
    int rows = c->plan->batch * s.h * s.w;
    if (c->step->inputs[0] != c->step->output) {
        /* out of place: a linear Activation copies first, then softmax runs in place */
        kvk_vk_step_ctx copy = *c;
        kvk_status st = kvk_vk_record_eltwise(&copy);
        if (st != KVK_OK) return st;
    }
    int p[2] = {rows, s.c};
    kvk_vk_binding b[1] = {c->output};
    kvk_status st =
        kvk_vk_dispatch(c->rec, "softmax", NULL, 0, b, 1, p, sizeof p, (uint32_t)rows, 1, 1);
    return st == KVK_OK ? st : kvk_fail_context(st, "layer '%s': ", c->node->name);
}
