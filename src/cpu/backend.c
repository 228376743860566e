/* The reference backend: executes the plan's steps with the reference kernels, over one
 * host arena laid out exactly as the Vulkan backend lays out its buffer, so the plan itself
 * is exercised by the reference too. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/internal.h"
#include "cpu/reference.h"

typedef struct cpu_state {
    float *arena; /* offsets in the plan are multiples of its alignment, so of a float */
} cpu_state;

kvk_status kvk_cpu_model_prepare(kvk_model *model) {
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    s->arena = malloc(model->plan.arena_bytes ? model->plan.arena_bytes : 1);
    if (!s->arena) {
        free(s);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes of activations",
                        model->plan.arena_bytes);
    }
    model->backend = s;
    return KVK_OK;
}

void kvk_cpu_model_release(kvk_model *model) {
    cpu_state *s = model->backend;
    if (!s) return;
    free(s->arena);
    free(s);
    model->backend = NULL;
}

static float *tensor(cpu_state *s, const kvk_plan *p, int t) {
    return s->arena + p->tensors[t].offset / sizeof(float);
}

static kvk_window window_of(const kvk_node *n) {
    return (kvk_window){n->kh, n->kw, n->sh, n->sw, n->pad_top, n->pad_left};
}

static void run_step(const kvk_graph *g, const kvk_plan *p, cpu_state *s, const kvk_step *st,
                     int batch) {
    const kvk_node *n = &g->nodes[st->node];
    kvk_shape is = p->tensors[st->inputs[0]].shape, os = p->tensors[st->output].shape;
    const float *in = tensor(s, p, st->inputs[0]);
    float *out = tensor(s, p, st->output);
    kvk_activation act = n->act == KVK_ACT_SOFTMAX ? KVK_ACT_LINEAR : n->act;
    long pixels = (long)batch * os.h * os.w;
    switch (st->op) {
    case KVK_OP_CONV2D:
        if (st->input_count > 1) { /* fused Add: conv, then add the residual and activate */
            kvk_ref_conv2d(in, batch, is, n->kernel, n->bias, window_of(n), os, KVK_ACT_LINEAR,
                           out);
            kvk_ref_add(out, tensor(s, p, st->inputs[1]), pixels * os.c, act, out);
        } else {
            kvk_ref_conv2d(in, batch, is, n->kernel, n->bias, window_of(n), os, act, out);
        }
        break;
    case KVK_OP_DENSE:
        kvk_ref_dense(in, batch, (int)kvk_shape_size(is), n->kernel, n->bias, os.c, act, out);
        break;
    case KVK_OP_BATCHNORM:
        kvk_ref_batchnorm(in, pixels, os.c, n->gamma, n->beta, n->mean, n->variance, n->epsilon,
                          act, out);
        break;
    case KVK_OP_ACTIVATION:
        kvk_ref_activation(in, pixels, os.c, n->act, out);
        break;
    case KVK_OP_SOFTMAX:
        kvk_ref_activation(in, pixels, os.c, KVK_ACT_SOFTMAX, out);
        break;
    case KVK_OP_ADD:
        kvk_ref_add(in, tensor(s, p, st->inputs[1]), pixels * os.c, act, out);
        break;
    case KVK_OP_ZEROPAD:
        kvk_ref_zeropad(in, batch, is, n->pad_top, n->pad_left, os, out);
        break;
    case KVK_OP_MAXPOOL:
    case KVK_OP_AVGPOOL:
        kvk_ref_pool(in, batch, is, st->op == KVK_OP_MAXPOOL, window_of(n), os, out);
        break;
    case KVK_OP_GLOBAL_AVGPOOL:
    case KVK_OP_GLOBAL_MAXPOOL:
        kvk_ref_global_pool(in, batch, is, st->op == KVK_OP_GLOBAL_MAXPOOL, out);
        break;
    case KVK_OP_DEPTHWISE_CONV2D:
        kvk_ref_depthwise_conv2d(in, batch, is, n->kernel, n->bias, n->depth_multiplier,
                                 window_of(n), n->shape, act, out);
        break;
    case KVK_OP_CONCAT: /* one input into its channel slice */
        kvk_ref_channel_slice(in, (long)batch * is.h * is.w, is.c, os.c, st->out_channel_offset,
                              out);
        break;
    case KVK_OP_FLATTEN:
    case KVK_OP_DROPOUT:
        if (out != in) memmove(out, in, sizeof(float) * (size_t)pixels * os.c);
        break;
    default:
        break;
    }
}

kvk_status kvk_cpu_model_run(kvk_model *model, const float *input, int batch,
                             float *const *outputs) {
    cpu_state *s = model->backend;
    const kvk_plan *p = &model->plan;
    long in_size = kvk_shape_size(p->tensors[p->input_tensor].shape);
    for (int done = 0; done < batch; done += model->chunk) {
        int n = batch - done < model->chunk ? batch - done : model->chunk;
        memcpy(tensor(s, p, p->input_tensor), input + done * in_size,
               sizeof(float) * (size_t)(n * in_size));
        for (int i = 0; i < p->step_count; i++) run_step(&model->graph, p, s, &p->steps[i], n);
        for (int k = 0; k < p->output_count; k++) {
            long out_size = kvk_shape_size(p->tensors[p->output_tensors[k]].shape);
            memcpy(outputs[k] + done * out_size, tensor(s, p, p->output_tensors[k]),
                   sizeof(float) * (size_t)(n * out_size));
        }
    }
    return KVK_OK;
}
