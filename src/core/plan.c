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

kvk_status kvk_plan_build(const kvk_graph *g, int batch, size_t alignment, kvk_plan *out) {
    memset(out, 0, sizeof *out);
    out->batch = batch;
    int *tensor_of = malloc((size_t)g->count * sizeof *tensor_of);
    out->tensors = calloc((size_t)g->count, sizeof *out->tensors);
    out->steps = calloc((size_t)g->count * 2, sizeof *out->steps);
    if (!tensor_of || !out->tensors || !out->steps) {
        free(tensor_of);
        kvk_plan_free(out);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory planning the network");
    }
    out->input_tensor = -1;
    for (int i = 0; i < g->count; i++) {
        const kvk_node *n = &g->nodes[i];
        tensor_of[i] = -1;
        if (n->removed) continue;
        int t = out->tensor_count++;
        tensor_of[i] = t;
        out->tensors[t].node = i;
        out->tensors[t].shape = n->shape;
        out->tensors[t].bytes =
            align_up((size_t)batch * kvk_shape_size(n->shape) * sizeof(float), alignment);
        out->tensors[t].first_step = out->step_count;
        out->tensors[t].last_step = out->step_count;
        if (n->op == KVK_OP_INPUT) {
            out->tensors[t].first_step = -1;
            out->input_tensor = t;
            continue;
        }
        kvk_step *s = &out->steps[out->step_count++];
        s->op = n->op;
        s->node = i;
        s->input_count = n->input_count;
        for (int k = 0; k < n->input_count; k++) {
            int src = tensor_of[kvk_graph_resolve(g, n->inputs[k])];
            if (src < 0) {
                kvk_plan_free(out);
                free(tensor_of);
                return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "layer '%s' reads a removed layer",
                                n->name);
            }
            s->inputs[k] = src;
            out->tensors[src].last_step = out->step_count - 1;
        }
        if (n->residual >= 0) { /* a fused Add: the conv's second input */
            int src = tensor_of[kvk_graph_resolve(g, n->residual)];
            s->inputs[s->input_count++] = src;
            out->tensors[src].last_step = out->step_count - 1;
        }
        s->output = t;
        if ((n->op == KVK_OP_DENSE || n->op == KVK_OP_CONV2D) && n->act == KVK_ACT_SOFTMAX) {
            /* softmax needs the whole row: a second step, in place */
            kvk_step *sm = &out->steps[out->step_count++];
            sm->op = KVK_OP_SOFTMAX;
            sm->node = i;
            sm->inputs[0] = t;
            sm->input_count = 1;
            sm->output = t;
            out->tensors[t].last_step = out->step_count - 1;
        }
    }
    int outnode = kvk_graph_resolve(g, g->output);
    out->output_tensor = outnode >= 0 ? tensor_of[outnode] : -1;
    free(tensor_of);
    if (out->input_tensor < 0 || out->output_tensor < 0) {
        kvk_plan_free(out);
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "the network has no input or no output");
    }
    /* the input is written before step 0 and the output read after the last step */
    out->tensors[out->output_tensor].last_step = out->step_count;
    for (int t = 0; t < out->tensor_count; t++) out->sum_bytes += out->tensors[t].bytes;
    assign_offsets(out, alignment);
    return KVK_OK;
}

void kvk_plan_free(kvk_plan *plan) {
    free(plan->steps);
    free(plan->tensors);
    memset(plan, 0, sizeof *plan);
}
