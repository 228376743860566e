/* The memory-bound ops: one invocation per output value (or per row for softmax). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

#define F32_ONLY KVK_DTYPE_BIT(KVK_DTYPE_F32)

kvk_status kvk_vk_dispatch1d(const kvk_vk_step_ctx *c, const char *shader, const int *spec,
                             int spec_count, const kvk_vk_binding *b, int nb, const void *push,
                             size_t push_size, long items) {
    long groups = (items + 63) / 64;
    uint32_t gy = (uint32_t)((groups + 65534) / 65535);
    uint32_t gx = (uint32_t)((groups + gy - 1) / gy);
    if (c->chosen) *c->chosen = shader;
    kvk_status st =
        kvk_vk_dispatch(c->rec, shader, spec, spec_count, b, nb, push, push_size, gx, gy, 1);
    return st == KVK_OK ? st : kvk_fail_context(st, "layer '%s': ", c->node->name);
}

static kvk_status pool_record(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    kvk_pool2d_params p = {.total = c->plan->batch * (int)kvk_shape_size(os),
                           .ostride = c->plan->tensors[c->step->output].shape.c,
                           .obase = c->step->out_channel_offset,
                           .pad_zero = n->pad_zero,
                           .has_residual = c->step->input_count > 1};
    KVK_VK_WINDOW_PARAMS(p, is, os, n);
    /* four channels per invocation where every vec4 is aligned; with stride 1 across, a row
     * of outputs per invocation (pool2d_row: InceptionV3's pools 31 -> 20 ms on lavapipe,
     * 48 -> 38 ms on SwiftShader) */
    int vec4 = p.C % 4 == 0 && p.ostride % 4 == 0 && p.obase % 4 == 0;
    const char *candidates[2];
    int count = 0;
    if (vec4 && p.SW == 1) candidates[count++] = "pool2d_row";
    candidates[count++] = "pool2d";
    const kvk_vk_kernel *kernel =
        kvk_vk_choose(c->caps, c->kernels, c->step->weights, candidates, count);
    if (kernel->form == KVK_VK_FORM_VEC4)
        p.total = KVK_VK_ROW_BLOCKS(c, os, kernel->tile);
    else if (vec4)
        p.total /= 4;
    int spec[2] = {c->step->op == KVK_OP_MAXPOOL, vec4};
    kvk_vk_binding b[3] = {c->inputs[0], c->output, c->inputs[p.has_residual ? 1 : 0]};
    return kvk_vk_dispatch1d(c, kernel->name, spec, 2, b, 3, &p, sizeof p, p.total);
}
const kvk_vk_op kvk_vk_pool_op = {
    .record = pool_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

/* One input of a Concatenate that could not be written in place, copied into its slice. */
static kvk_status channel_slice_record(const kvk_vk_step_ctx *c) {
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    kvk_channel_slice_params p = {.C = is.c,
                                  .ostride = c->plan->tensors[c->step->output].shape.c,
                                  .obase = c->step->out_channel_offset,
                                  .total = c->plan->batch * (int)kvk_shape_size(is)};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return kvk_vk_dispatch1d(c, "channel_slice", NULL, 0, b, 2, &p, sizeof p, p.total);
}
const kvk_vk_op kvk_vk_channel_slice_op = {
    .record = channel_slice_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

static kvk_status global_pool_record(const kvk_vk_step_ctx *c) {
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    kvk_global_pool_params p = {.HW = is.h * is.w, .C = is.c, .total = c->plan->batch * is.c};
    int spec[1] = {c->step->op == KVK_OP_GLOBAL_MAXPOOL};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return kvk_vk_dispatch1d(c, "global_pool", spec, 1, b, 2, &p, sizeof p, p.total);
}
const kvk_vk_op kvk_vk_global_pool_op = {
    .record = global_pool_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

/* eltwise.comp's modes */
enum {
    ELTWISE_ADD = 0,
    ELTWISE_ACTIVATION = 1,
    ELTWISE_AFFINE = 2,
    ELTWISE_MULTIPLY = 3,
    ELTWISE_MULTIPLY_CHANNELS = 4
};

/* Linear as far as the kernel goes: no activation, or softmax (its own step). */
static int linear(const kvk_node *n) {
    return !n || n->act == KVK_ACT_LINEAR || n->act == KVK_ACT_SOFTMAX;
}

int kvk_vk_fused_act(const kvk_node *n) {
    return linear(n) ? KVK_ACT_RELU : (int)n->act;
}

float kvk_vk_act_slope(const kvk_node *n) {
    return linear(n) ? 1.0f : n->act_slope;
}

float kvk_vk_act_max(const kvk_node *n) {
    return linear(n) ? INFINITY : n->act_max;
}

float kvk_vk_act_threshold(const kvk_node *n) {
    return linear(n) ? 0.0f : n->act_threshold;
}

static kvk_status eltwise(const kvk_vk_step_ctx *c, int mode, kvk_vk_binding second) {
    const kvk_node *n = c->node;
    kvk_eltwise_params p = {.total = c->plan->batch * (int)kvk_shape_size(n->shape),
                            .C = n->shape.c,
                            .HW = n->shape.h * n->shape.w};
    KVK_VK_ACT_PARAMS(p, n);
    /* four channels per invocation where they are whole vec4s: Xception's 15 standalone
     * ReLUs and Adds 16.4 -> 11.4 ms on lavapipe, 116 -> 102 ms on SwiftShader */
    int vec4s = p.C % 4 == 0;
    if (vec4s) p.total /= 4;
    int spec[3] = {mode, kvk_vk_fused_act(n), vec4s};
    kvk_vk_binding b[3] = {c->inputs[0], second, c->output};
    return kvk_vk_dispatch1d(c, "eltwise", spec, 3, b, 3, &p, sizeof p, p.total);
}

static kvk_status add_record(const kvk_vk_step_ctx *c) {
    return eltwise(c, ELTWISE_ADD, c->inputs[1]);
}
const kvk_vk_op kvk_vk_add_op = {
    .record = add_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

static kvk_status multiply_record(const kvk_vk_step_ctx *c) {
    kvk_shape a = c->plan->tensors[c->step->inputs[0]].shape;
    kvk_shape b = c->plan->tensors[c->step->inputs[1]].shape;
    int per_channel = b.h * b.w == 1 && a.h * a.w > 1;
    return eltwise(c, per_channel ? ELTWISE_MULTIPLY_CHANNELS : ELTWISE_MULTIPLY, c->inputs[1]);
}
const kvk_vk_op kvk_vk_multiply_op = {
    .record = multiply_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

/* scale then shift per channel: BatchNormalization, Rescaling, Normalization */
static int affine_pieces(const kvk_vk_step_ctx *c, size_t *floats, int max_pieces) {
    (void)max_pieces;
    floats[0] = 2 * (size_t)c->node->shape.c;
    return floats[0] * sizeof(float) <= c->max_binding ? 1 : -1;
}

/* Rescaling and Normalization: the node's scale and shift, as BN's inference form. */
static void affine_pack(const kvk_vk_step_ctx *c, int index, float *dst) {
    (void)index;
    const kvk_node *n = c->node;
    memcpy(dst, n->scale, sizeof(float) * (size_t)n->shape.c);
    memcpy(dst + n->shape.c, n->shift, sizeof(float) * (size_t)n->shape.c);
}

static kvk_status affine_record(const kvk_vk_step_ctx *c) {
    return eltwise(c, ELTWISE_AFFINE, c->weights[0]);
}
const kvk_vk_op kvk_vk_affine_op = {.weight_pieces = affine_pieces,
                                    .weight_pack = affine_pack,
                                    .record = affine_record,
                                    .dtypes = F32_ONLY,
                                    .weight_dtypes = F32_ONLY};

/* BatchNormalization kept as its own op becomes y = x * scale + shift per channel. */
static void batchnorm_pack(const kvk_vk_step_ctx *c, int index, float *dst) {
    (void)index;
    const kvk_node *n = c->node;
    int ch = n->shape.c;
    for (int i = 0; i < ch; i++) {
        double s = (n->gamma ? n->gamma[i] : 1.0) / sqrt((double)n->variance[i] + n->epsilon);
        dst[i] = (float)s;
        dst[ch + i] = (float)((n->beta ? n->beta[i] : 0.0) - n->mean[i] * s);
    }
}

static kvk_status batchnorm_record(const kvk_vk_step_ctx *c) {
    return eltwise(c, ELTWISE_AFFINE, c->weights[0]);
}
const kvk_vk_op kvk_vk_batchnorm_op = {.weight_pieces = affine_pieces,
                                       .weight_pack = batchnorm_pack,
                                       .record = batchnorm_record,
                                       .dtypes = F32_ONLY,
                                       .weight_dtypes = F32_ONLY};

static kvk_status zeropad_record(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    kvk_zeropad_params p = {.H = is.h,
                            .W = is.w,
                            .C = is.c,
                            .OH = os.h,
                            .OW = os.w,
                            .top = n->pad_top,
                            .left = n->pad_left,
                            .total = c->plan->batch * (int)kvk_shape_size(os)};
    kvk_vk_binding b[2] = {c->inputs[0], c->output};
    return kvk_vk_dispatch1d(c, "zeropad", NULL, 0, b, 2, &p, sizeof p, p.total);
}
const kvk_vk_op kvk_vk_zeropad_op = {
    .record = zeropad_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

/* The softmax tail of a Dense (in place), or a softmax Activation: out of place, a linear
 * Activation copies first, then softmax runs in place. */
static kvk_status softmax_record(const kvk_vk_step_ctx *c) {
    kvk_shape s = c->plan->tensors[c->step->output].shape;
    if (c->step->inputs[0] != c->step->output) {
        kvk_status st = eltwise(c, ELTWISE_ACTIVATION, c->inputs[0]);
        if (st != KVK_OK) return st;
    }
    kvk_softmax_params p = {.rows = c->plan->batch * s.h * s.w, .C = s.c};
    kvk_vk_binding b[1] = {c->output};
    if (c->chosen) *c->chosen = "softmax";
    kvk_status st =
        kvk_vk_dispatch(c->rec, "softmax", NULL, 0, b, 1, &p, sizeof p, (uint32_t)p.rows, 1, 1);
    return st == KVK_OK ? st : kvk_fail_context(st, "layer '%s': ", c->node->name);
}
const kvk_vk_op kvk_vk_softmax_op = {
    .record = softmax_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};

static kvk_status activation_record(const kvk_vk_step_ctx *c) {
    if (c->node->act == KVK_ACT_SOFTMAX) return softmax_record(c);
    return eltwise(c, ELTWISE_ACTIVATION, c->inputs[0]);
}
const kvk_vk_op kvk_vk_activation_op = {
    .record = activation_record, .dtypes = F32_ONLY, .weight_dtypes = F32_ONLY};
