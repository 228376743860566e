#include "core/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static size_t align_up(size_t x, size_t a) {
    return (x + a - 1) / a * a;
}

/* Sorts tensor indices by size, largest first, ties by index. An insertion sort: a network has
 * a few hundred tensors, and unlike qsort it needs no file-level state, so models can be
 * planned on several threads at once. */
static void sort_by_size_desc(const kvk_tensor *t, int *order, int n) {
    for (int i = 1; i < n; i++) {
        int v = order[i], k = i;
        while (k > 0 && (t[order[k - 1]].bytes < t[v].bytes ||
                         (t[order[k - 1]].bytes == t[v].bytes && order[k - 1] > v))) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = v;
    }
}

/* Greedy placement by decreasing size: each tensor goes at the lowest offset that overlaps no
 * already-placed tensor whose lifetime overlaps its own. Close to the two largest live
 * tensors for chain-like CNNs, which is the lower bound. */
static void assign_offsets(kvk_plan *p, size_t alignment) {
    int n = p->tensor_count;
    int *order = malloc((size_t)n * sizeof *order);
    int *placed = malloc((size_t)n * sizeof *placed);
    if (!order || !placed) {
        /* fall back to one region per tensor: correct, just larger */
        size_t off = 0;
        for (int i = 0; i < n; i++) p->tensors[i].offset = off, off += p->tensors[i].bytes;
        p->arena_bytes = off;
        free(order);
        free(placed);
        return;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    sort_by_size_desc(p->tensors, order, n);
    int placed_count = 0;
    p->arena_bytes = 0;
    for (int oi = 0; oi < n; oi++) {
        kvk_tensor *t = &p->tensors[order[oi]];
        size_t offset = 0;
        for (int again = 1; again;) {
            again = 0;
            for (int k = 0; k < placed_count; k++) {
                const kvk_tensor *o = &p->tensors[placed[k]];
                int live_together = t->first_step <= o->last_step && o->first_step <= t->last_step;
                int overlap = offset < o->offset + o->bytes && o->offset < offset + t->bytes;
                if (live_together && overlap) {
                    offset = align_up(o->offset + o->bytes, alignment);
                    again = 1;
                }
            }
        }
        t->offset = offset;
        placed[placed_count++] = order[oi];
        if (offset + t->bytes > p->arena_bytes) p->arena_bytes = offset + t->bytes;
    }
    free(order);
    free(placed);
}

/* The Concatenate whose tensor node n writes into (through nested in-place concats), and the
 * channel offset there; n itself if it is not placed. */
static int placement_root(const kvk_graph *g, int n, int *offset) {
    *offset = 0;
    while (g->nodes[n].concat_into >= 0) {
        *offset += g->nodes[n].concat_offset;
        n = g->nodes[n].concat_into;
    }
    return n;
}

typedef struct builder {
    const kvk_graph *g;
    kvk_plan *p;
    int *tensor_of; /* per node: its tensor, -1 if none yet */
    int batch;
    size_t alignment;
} builder;

/* The tensor holding node n's output, created at the current step if it does not exist, and
 * the channel at which n's output starts in it. */
static int tensor_for(builder *b, int n, int *offset) {
    int root = placement_root(b->g, n, offset);
    if (b->tensor_of[root] < 0) {
        kvk_plan *p = b->p;
        int t = p->tensor_count++;
        const kvk_node *r = &b->g->nodes[root];
        p->tensors[t].node = root;
        p->tensors[t].shape = r->shape;
        p->tensors[t].dtype = KVK_DTYPE_F32; /* the only activation type planned so far */
        p->tensors[t].bytes = align_up((size_t)b->batch * kvk_shape_size(r->shape) *
                                           kvk_dtype_size(p->tensors[t].dtype),
                                       b->alignment);
        p->tensors[t].first_step = r->op == KVK_OP_INPUT ? -1 : p->step_count;
        p->tensors[t].last_step = p->step_count;
        b->tensor_of[root] = t;
    }
    b->tensor_of[n] = b->tensor_of[root];
    return b->tensor_of[root];
}

static kvk_step *add_step(builder *b, kvk_op op, int node, int output, int offset) {
    kvk_plan *p = b->p;
    kvk_step *s = &p->steps[p->step_count++];
    s->op = op;
    s->weights = KVK_DTYPE_F32;
    s->node = node;
    s->output = output;
    s->out_channel_offset = offset;
    if (p->tensors[output].last_step < p->step_count - 1)
        p->tensors[output].last_step = p->step_count - 1;
    return s;
}

/* Marks tensor t read by the step being added. */
static int read_tensor(builder *b, int node) {
    int t = b->tensor_of[kvk_graph_resolve(b->g, node)];
    if (t >= 0) b->p->tensors[t].last_step = b->p->step_count;
    return t;
}

kvk_status kvk_plan_build(const kvk_graph *g, int batch, size_t alignment, kvk_plan *out) {
    memset(out, 0, sizeof *out);
    out->batch = batch;
    int *tensor_of = malloc((size_t)g->count * sizeof *tensor_of);
    out->tensors = calloc((size_t)g->count, sizeof *out->tensors);
    /* at most: one step per node, a softmax tail each, one copy per concat input */
    size_t max_steps = (size_t)g->count * (2 + KVK_MAX_INPUTS);
    out->steps = calloc(max_steps, sizeof *out->steps);
    if (!tensor_of || !out->tensors || !out->steps) {
        free(tensor_of);
        kvk_plan_free(out);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory planning the network");
    }
    for (int i = 0; i < g->count; i++) tensor_of[i] = -1;
    builder b = {g, out, tensor_of, batch, alignment};
    out->input_tensor = -1;
    for (int i = 0; i < g->count; i++) {
        const kvk_node *n = &g->nodes[i];
        if (n->removed) continue;
        /* every input must exist before the step that reads it */
        for (int k = 0; k < n->input_count; k++)
            if (tensor_of[kvk_graph_resolve(g, n->inputs[k])] < 0) {
                kvk_plan_free(out);
                free(tensor_of);
                return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "layer '%s' reads a removed layer",
                                n->name);
            }
        int offset;
        int t = tensor_for(&b, i, &offset);
        if (n->op == KVK_OP_INPUT) {
            out->input_tensor = t;
            continue;
        }
        if (n->op == KVK_OP_CONCAT) {
            /* inputs written in place cost nothing; the others are copied into their slice */
            int at = offset;
            for (int k = 0; k < n->input_count; k++) {
                int src = kvk_graph_resolve(g, n->inputs[k]);
                if (g->nodes[src].concat_into != i) {
                    int in = read_tensor(&b, src);
                    kvk_step *s = add_step(&b, KVK_OP_CONCAT, i, t, at);
                    s->inputs[0] = in;
                    s->input_count = 1;
                }
                at += g->nodes[n->inputs[k]].shape.c;
            }
            continue;
        }
        kvk_step s0 = {0};
        for (int k = 0; k < n->input_count; k++) s0.inputs[k] = read_tensor(&b, n->inputs[k]);
        s0.input_count = n->input_count;
        if (n->residual >= 0) /* a fused Add: the conv's or pool's second input */
            s0.inputs[s0.input_count++] = read_tensor(&b, n->residual);
        kvk_step *s = add_step(&b, n->op, i, t, offset);
        memcpy(s->inputs, s0.inputs, sizeof s->inputs);
        s->input_count = s0.input_count;
        if ((n->op == KVK_OP_DENSE || n->op == KVK_OP_CONV2D) && n->act == KVK_ACT_SOFTMAX) {
            /* softmax needs the whole row: a second step, in place */
            kvk_step *sm = add_step(&b, KVK_OP_SOFTMAX, i, t, 0);
            sm->inputs[0] = t;
            sm->input_count = 1;
        }
    }
    out->output_count = kvk_graph_output_count(g);
    for (int k = 0; k < out->output_count; k++) {
        int node = kvk_graph_resolve(g, kvk_graph_output_node(g, k));
        out->output_tensors[k] = node >= 0 ? tensor_of[node] : -1;
        if (out->output_tensors[k] < 0) out->input_tensor = -1; /* reported below */
    }
    out->output_tensor = out->output_count ? out->output_tensors[0] : -1;
    free(tensor_of);
    if (out->input_tensor < 0 || out->output_tensor < 0) {
        kvk_plan_free(out);
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "the network has no input or no output");
    }
    /* the input is written before step 0 and the outputs read after the last step */
    for (int k = 0; k < out->output_count; k++)
        out->tensors[out->output_tensors[k]].last_step = out->step_count;
    for (int t = 0; t < out->tensor_count; t++) out->sum_bytes += out->tensors[t].bytes;
    assign_offsets(out, alignment);
    return KVK_OK;
}

const char *kvk_dtype_name(kvk_dtype t) {
    return t == KVK_DTYPE_F16 ? "float16" : t == KVK_DTYPE_F32 ? "float32" : "?";
}

void kvk_plan_free(kvk_plan *plan) {
    free(plan->steps);
    free(plan->tensors);
    memset(plan, 0, sizeof *plan);
}
