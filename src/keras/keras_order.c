/* Keras' model.layers order (see keras_order.h). */
#include "keras/keras_order.h"

#include <stdlib.h>
#include <string.h>

/* The Keras-level inputs of node n: a SeparableConv2D's pointwise node takes its depthwise
 * half's inputs (the half is not a layer of its own). */
static int layer_inputs(const kvk_graph *g, int n, const int **inputs) {
    const kvk_node *node = &g->nodes[n];
    if (node->op == KVK_OP_CONV2D && node->separable_of >= 0) node = &g->nodes[node->separable_of];
    *inputs = node->inputs;
    return node->input_count;
}

static int is_separable_half(const kvk_graph *g, int n) {
    return g->nodes[n].op == KVK_OP_DEPTHWISE_CONV2D && g->nodes[n].separable_of >= 0;
}

typedef struct walk {
    const kvk_graph *g;
    int *visit; /* first-visit index per node, -1 before */
    int *done;  /* finished (post-order) */
    int *post;  /* nodes in post-order */
    int post_count, visits;
} walk;

/* _build_map_helper: the layer's index is taken on entry, its inputs walked in order, the
 * node appended when finished. Iterative, with an explicit stack of (node, next input). */
static int walk_from(walk *w, int start) {
    int cap = w->g->count + 1;
    int *stack = malloc(sizeof(int) * 2 * (size_t)cap);
    if (!stack) return 0;
    int top = 0;
    if (!w->done[start]) {
        if (w->visit[start] < 0) w->visit[start] = w->visits++;
        stack[0] = start;
        stack[1] = 0;
        top = 1;
    }
    while (top > 0) {
        int n = stack[2 * (top - 1)], *next = &stack[2 * (top - 1) + 1];
        const int *inputs;
        int count = layer_inputs(w->g, n, &inputs);
        if (*next < count) {
            int in = inputs[(*next)++];
            if (w->done[in] || top >= cap) continue; /* (a cycle cannot occur in a built graph) */
            if (w->visit[in] < 0) w->visit[in] = w->visits++;
            stack[2 * top] = in;
            stack[2 * top + 1] = 0;
            top++;
        } else {
            w->done[n] = 1;
            w->post[w->post_count++] = n;
            top--;
        }
    }
    free(stack);
    return 1;
}

int kvk_keras_layer_order(const kvk_graph *g, int *order) {
    int n = g->count;
    int *visit = malloc(sizeof(int) * (size_t)n), *done = calloc((size_t)n, sizeof(int));
    int *post = malloc(sizeof(int) * (size_t)n), *depth = calloc((size_t)n, sizeof(int));
    int count = -1;
    if (!visit || !done || !post || !depth) goto out;
    for (int i = 0; i < n; i++) visit[i] = -1;
    walk w = {g, visit, done, post, 0, 0};
    int outputs = kvk_graph_output_count(g);
    for (int k = 0; k < outputs; k++)
        if (!walk_from(&w, kvk_graph_output_node(g, k))) goto out;
    /* depth: the longest path to an output, over the reversed post-order */
    for (int i = w.post_count - 1; i >= 0; i--) {
        int node = post[i];
        const int *inputs;
        int ni = layer_inputs(g, node, &inputs);
        for (int k = 0; k < ni; k++)
            if (depth[inputs[k]] < depth[node] + 1) depth[inputs[k]] = depth[node] + 1;
    }
    count = 0;
    for (int i = 0; i < w.post_count; i++)
        if (!is_separable_half(g, post[i])) order[count++] = post[i];
    /* deepest first, then by first visit: an insertion sort (stable, n is small) */
    for (int a = 1; a < count; a++) {
        int x = order[a], b = a;
        while (b > 0 && (depth[order[b - 1]] < depth[x] ||
                         (depth[order[b - 1]] == depth[x] && visit[order[b - 1]] > visit[x]))) {
            order[b] = order[b - 1];
            b--;
        }
        order[b] = x;
    }
out:
    free(visit);
    free(done);
    free(post);
    free(depth);
    return count;
}
