/* The reference backend (see backend.h): one table entry per op kind, each calling the
 * reference kernels of reference.c. */
#include "cpu/backend.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/reference.h"

struct kvk_cpu_model {
    const kvk_graph *graph;
    const kvk_plan *plan;
    float *arena; /* offsets in the plan are multiples of its alignment, so of a float */
};

/* What one step's kernel gets. */
typedef struct cpu_step {
    const kvk_node *n;
    const kvk_step *st;
    kvk_shape is, is2, os; /* the inputs' shapes (is2: the second, if any) and the output's */
    const float *in;
    const float *in2; /* the second input (Add, a fused residual), else NULL */
    float *out;
    int batch;
    long pixels; /* batch * output pixels */
    kvk_act act; /* the fused activation (softmax runs as its own step) */
} cpu_step;

static kvk_window window_of(const kvk_node *n) {
    return (kvk_window){n->kh, n->kw, n->sh, n->sw, n->pad_top, n->pad_left, n->pad_zero};
}

static void run_conv2d(const cpu_step *s) {
    if (s->in2) { /* fused Add: conv, then add the residual and activate */
        kvk_ref_conv2d(s->in, s->batch, s->is, s->n->kernel, s->n->bias, window_of(s->n), s->os,
                       kvk_act_default(KVK_ACT_LINEAR), s->out);
        kvk_ref_add(s->out, s->in2, s->pixels * s->os.c, s->act, s->out);
    } else {
        kvk_ref_conv2d(s->in, s->batch, s->is, s->n->kernel, s->n->bias, window_of(s->n), s->os,
                       s->act, s->out);
    }
}

static void run_dense(const cpu_step *s) {
    kvk_ref_dense(s->in, s->batch, (int)kvk_shape_size(s->is), s->n->kernel, s->n->bias, s->os.c,
                  s->act, s->out);
}

static void run_batchnorm(const cpu_step *s) {
    const kvk_node *n = s->n;
    kvk_ref_batchnorm(s->in, s->pixels, s->os.c, n->gamma, n->beta, n->mean, n->variance,
                      n->epsilon, s->act, s->out);
}

static void run_activation(const cpu_step *s) {
    kvk_ref_activation(s->in, s->pixels, s->os.c, kvk_node_act(s->n), s->out);
}

static void run_softmax(const cpu_step *s) {
    kvk_ref_activation(s->in, s->pixels, s->os.c, kvk_act_default(KVK_ACT_SOFTMAX), s->out);
}

static void run_add(const cpu_step *s) {
    kvk_ref_add(s->in, s->in2, s->pixels * s->os.c, s->act, s->out);
}

static void run_multiply(const cpu_step *s) {
    long pixels = (long)s->os.h * s->os.w;
    kvk_ref_multiply(s->in, s->in2, s->batch, pixels, s->os.c,
                     s->is2.h * s->is2.w == 1 && pixels > 1, s->act, s->out);
}

static void run_affine(const cpu_step *s) {
    kvk_ref_affine(s->in, s->pixels, s->os.c, s->n->scale, s->n->shift, s->act, s->out);
}

static void run_zeropad(const cpu_step *s) {
    kvk_ref_zeropad(s->in, s->batch, s->is, s->n->pad_top, s->n->pad_left, s->os, s->out);
}

static void run_pool(const cpu_step *s) {
    kvk_ref_pool(s->in, s->batch, s->is, s->st->op == KVK_OP_MAXPOOL, window_of(s->n), s->os,
                 s->out);
    if (s->in2) /* fused Add */
        kvk_ref_add(s->out, s->in2, s->pixels * s->os.c, kvk_act_default(KVK_ACT_LINEAR), s->out);
}

static void run_global_pool(const cpu_step *s) {
    kvk_ref_global_pool(s->in, s->batch, s->is, s->st->op == KVK_OP_GLOBAL_MAXPOOL, s->out);
}

static void run_depthwise(const cpu_step *s) {
    const kvk_node *n = s->n;
    kvk_ref_depthwise_conv2d(s->in, s->batch, s->is, n->kernel, n->bias, n->depth_multiplier,
                             window_of(n), n->in_relu, n->shape, s->act, s->out);
}

static void run_concat(const cpu_step *s) { /* one input into its channel slice */
    kvk_ref_channel_slice(s->in, (long)s->batch * s->is.h * s->is.w, s->is.c, s->os.c,
                          s->st->out_channel_offset, s->out);
}

typedef void (*cpu_op)(const cpu_step *s);

/* One entry per op kind; Input, Flatten, Dropout and Reshape are never steps (the plan aliases
 * them). */
static const cpu_op OPS[KVK_OP_COUNT] = {
    [KVK_OP_CONV2D] = run_conv2d,
    [KVK_OP_DENSE] = run_dense,
    [KVK_OP_DEPTHWISE_CONV2D] = run_depthwise,
    [KVK_OP_BATCHNORM] = run_batchnorm,
    [KVK_OP_ACTIVATION] = run_activation,
    [KVK_OP_SOFTMAX] = run_softmax,
    [KVK_OP_ADD] = run_add,
    [KVK_OP_ZEROPAD] = run_zeropad,
    [KVK_OP_MAXPOOL] = run_pool,
    [KVK_OP_AVGPOOL] = run_pool,
    [KVK_OP_GLOBAL_AVGPOOL] = run_global_pool,
    [KVK_OP_GLOBAL_MAXPOOL] = run_global_pool,
    [KVK_OP_CONCAT] = run_concat,
    [KVK_OP_MULTIPLY] = run_multiply,
    [KVK_OP_AFFINE] = run_affine,
};

int kvk_cpu_op_supported(kvk_op op) {
    return (unsigned)op < KVK_OP_COUNT && OPS[op] != NULL;
}

kvk_status kvk_cpu_model_create(const kvk_graph *g, const kvk_plan *p, kvk_cpu_model **out) {
    *out = NULL;
    for (int i = 0; i < p->step_count; i++) {
        const kvk_step *st = &p->steps[i];
        if (!kvk_cpu_op_supported(st->op))
            return kvk_fail(KVK_ERROR_UNSUPPORTED,
                            "layer '%s': %s has no CPU reference implementation",
                            g->nodes[st->node].name, kvk_op_name(st->op));
    }
    for (int t = 0; t < p->tensor_count; t++)
        if (p->tensors[t].dtype != KVK_DTYPE_F32)
            return kvk_fail(KVK_ERROR_UNSUPPORTED,
                            "layer '%s': the CPU reference runs float32 tensors only, not %s",
                            g->nodes[p->tensors[t].node].name, kvk_dtype_name(p->tensors[t].dtype));
    kvk_cpu_model *m = calloc(1, sizeof *m);
    if (!m) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    m->graph = g;
    m->plan = p;
    m->arena = malloc(p->arena_bytes ? p->arena_bytes : 1);
    if (!m->arena) {
        free(m);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes of activations",
                        p->arena_bytes);
    }
    *out = m;
    return KVK_OK;
}

void kvk_cpu_model_destroy(kvk_cpu_model *m) {
    if (!m) return;
    free(m->arena);
    free(m);
}

static float *tensor(kvk_cpu_model *m, int t) {
    return m->arena + m->plan->tensors[t].offset / sizeof(float);
}

kvk_status kvk_cpu_model_run(kvk_cpu_model *m, const float *input, int batch,
                             float *const *outputs) {
    const kvk_plan *p = m->plan;
    int chunk = p->batch;
    long in_size = kvk_shape_size(p->tensors[p->input_tensor].shape);
    for (int done = 0; done < batch; done += chunk) {
        int n = batch - done < chunk ? batch - done : chunk;
        memcpy(tensor(m, p->input_tensor), input + done * in_size,
               sizeof(float) * (size_t)(n * in_size));
        for (int i = 0; i < p->step_count; i++) {
            const kvk_step *st = &p->steps[i];
            const kvk_node *node = &m->graph->nodes[st->node];
            cpu_step s = {.n = node,
                          .st = st,
                          .is = p->tensors[st->inputs[0]].shape,
                          .is2 = p->tensors[st->inputs[st->input_count > 1]].shape,
                          .os = p->tensors[st->output].shape,
                          .in = tensor(m, st->inputs[0]),
                          .in2 = st->input_count > 1 ? tensor(m, st->inputs[1]) : NULL,
                          .out = tensor(m, st->output),
                          .batch = n,
                          .act = node->act == KVK_ACT_SOFTMAX ? kvk_act_default(KVK_ACT_LINEAR)
                                                              : kvk_node_act(node)};
            s.pixels = (long)n * s.os.h * s.os.w;
            OPS[st->op](&s);
        }
        for (int k = 0; k < p->output_count; k++) {
            long out_size = kvk_shape_size(p->tensors[p->output_tensors[k]].shape);
            memcpy(outputs[k] + done * out_size, tensor(m, p->output_tensors[k]),
                   sizeof(float) * (size_t)(n * out_size));
        }
    }
    return KVK_OK;
}
