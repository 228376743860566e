#include "keras/bind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void format_dims(char *buf, size_t size, const int64_t *dims, int ndim) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size) snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
}

/* The Keras class of the layer a node stands for. */
static const char *layer_class(const kvk_node *n) {
    return n->separable_of >= 0 ? "SeparableConv2D" : kvk_op_name(n->op);
}

/* What one node expects from its layer in the file: up to 4 shapes, in Keras 2 order. */
typedef struct expected {
    int count;
    int ndim[4];
    int64_t dims[4][4];
    float **slot[4]; /* where each weight goes */
    const char *what[4];
} expected;

static void expect(expected *e, float **slot, const char *what, int ndim, int64_t d0, int64_t d1,
                   int64_t d2, int64_t d3) {
    int i = e->count++;
    e->slot[i] = slot;
    e->what[i] = what;
    e->ndim[i] = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    memcpy(e->dims[i], d, sizeof d);
}

/* Fills `e` for node n; returns 0 for layers without weights. */
static int expected_weights(const kvk_graph *g, kvk_node *n, expected *e) {
    memset(e, 0, sizeof *e);
    int cin = n->input_count ? g->nodes[n->inputs[0]].shape.c : 0;
    if (n->removed) return 0;
    switch (n->op) {
    case KVK_OP_CONV2D:
        if (n->separable_of >= 0) { /* SeparableConv2D: the layer's weights fill both nodes */
            kvk_node *dw = &g->nodes[n->separable_of];
            int dcin = g->nodes[dw->inputs[0]].shape.c;
            expect(e, &dw->kernel, "depthwise_kernel", 4, dw->kh, dw->kw, dcin,
                   dw->depth_multiplier);
            expect(e, &n->kernel, "pointwise_kernel", 4, 1, 1, cin, n->shape.c);
        } else {
            expect(e, &n->kernel, "kernel", 4, n->kh, n->kw, cin, n->shape.c);
        }
        if (n->use_bias) expect(e, &n->bias, "bias", 1, n->shape.c, 0, 0, 0);
        break;
    case KVK_OP_DEPTHWISE_CONV2D:
        if (n->separable_of >= 0) break; /* bound with its pointwise half */
        expect(e, &n->kernel, "depthwise_kernel", 4, n->kh, n->kw, cin, n->depth_multiplier);
        if (n->use_bias) expect(e, &n->bias, "bias", 1, n->shape.c, 0, 0, 0);
        break;
    case KVK_OP_DENSE:
        expect(e, &n->kernel, "kernel", 2, cin, n->shape.c, 0, 0);
        expect(e, &n->bias, "bias", 1, n->shape.c, 0, 0, 0);
        break;
    case KVK_OP_AFFINE: /* a Normalization layer's adapt() state; count is checked, not kept */
        if (!n->affine_stats) break;
        expect(e, &n->mean, "mean", 1, n->shape.c, 0, 0, 0);
        expect(e, &n->variance, "variance", 1, n->shape.c, 0, 0, 0);
        expect(e, NULL, "count", 0, 0, 0, 0, 0);
        break;
    case KVK_OP_BATCHNORM:
        if (n->bn_scale) expect(e, &n->gamma, "gamma", 1, n->shape.c, 0, 0, 0);
        if (n->bn_center) expect(e, &n->beta, "beta", 1, n->shape.c, 0, 0, 0);
        expect(e, &n->mean, "moving_mean", 1, n->shape.c, 0, 0, 0);
        expect(e, &n->variance, "moving_variance", 1, n->shape.c, 0, 0, 0);
        break;
    default:
        break;
    }
    return e->count;
}

int kvk_bind_node_has_weights(kvk_graph *g, int node) {
    expected e;
    return expected_weights(g, &g->nodes[node], &e) > 0;
}

static long element_count(const expected *e, int i) {
    long count = 1;
    for (int d = 0; d < e->ndim[i]; d++) count *= (long)e->dims[i][d];
    return count;
}

/* The first Dense after a Flatten of a channels_first file has its rows in (c, h, w) order;
 * kvk flattens (h, w, c). This is Keras' convert_dense_weights_data_format. */
static void reorder_dense_rows(float *kernel, kvk_shape s, int units, const float *src) {
    for (int c = 0; c < s.c; c++)
        for (int y = 0; y < s.h; y++)
            for (int x = 0; x < s.w; x++) {
                long from = ((long)c * s.h + y) * s.w + x;
                long to = ((long)y * s.w + x) * s.c + c;
                memcpy(kernel + to * units, src + from * units, sizeof(float) * units);
            }
}

/* Normalization: y = (x - mean) / max(sqrt(variance), epsilon), or with invert
 * y = mean + x * max(sqrt(variance), epsilon) (Keras' epsilon, 1e-7), as the affine op's
 * scale and shift, computed in place in the node's own copies of the statistics. */
static void normalization_from_stats(kvk_node *n) {
    for (int c = 0; c < n->shape.c; c++) {
        double d = fmax(sqrt((double)n->variance[c]), 1e-7), m = n->mean[c];
        n->variance[c] = (float)(n->affine_stats == 2 ? d : 1.0 / d);
        n->mean[c] = (float)(n->affine_stats == 2 ? m : -m / d);
    }
    free(n->scale);
    free(n->shift);
    n->scale = n->variance;
    n->shift = n->mean;
    n->mean = n->variance = NULL;
}

/* Checks the shapes; with `copy` also moves (or copies) the data into the node. */
static kvk_status bind_node(kvk_graph *g, kvk_node *n, const kvk_weight_file *file,
                            kvk_weight_layer *layer, const expected *e, int copy) {
    char want[96], got[96], cls[160];
    /* "Conv2D", or "Conv2D; the file's layer_3" where the file's layer is matched by order */
    if (strcmp(layer->name, n->name))
        snprintf(cls, sizeof cls, "%s; the file's %s", layer_class(n), layer->name);
    else
        snprintf(cls, sizeof cls, "%s", layer_class(n));
    if (layer->count != e->count)
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: layer '%s' (%s) has %d weights in the file, expected %d (%s%s%s%s)",
                        file->path, n->name, cls, layer->count, e->count, e->what[0],
                        e->count > 1 ? ", " : "", e->count > 1 ? e->what[1] : "",
                        e->count > 2 ? ", ..." : "");
    for (int i = 0; i < e->count; i++) {
        kvk_weight *w = &layer->weights[i];
        int same = w->ndim == e->ndim[i];
        for (int d = 0; same && d < w->ndim; d++) same = w->dims[d] == e->dims[i][d];
        if (!same) {
            format_dims(want, sizeof want, e->dims[i], e->ndim[i]);
            format_dims(got, sizeof got, w->dims, w->ndim);
            return kvk_fail(KVK_ERROR_SHAPE,
                            "%s: layer '%s' (%s): weight '%s' (%s) has shape %s, expected %s",
                            file->path, n->name, cls, w->name, e->what[i], got, want);
        }
        if (!copy || !e->slot[i]) continue;
        long count = element_count(e, i);
        const kvk_node *src = n->input_count ? &g->nodes[n->inputs[0]] : NULL;
        int reorder = n->op == KVK_OP_DENSE && i == 0 && file->channels_first && src &&
                      src->op == KVK_OP_FLATTEN;
        float *data;
        /* moved, not copied (the file's copy is freed soon anyway), unless changed below */
        if (w->data && !reorder && !n->affine_stats) {
            data = w->data;
            w->data = NULL;
            w->moved_to = data;
        } else {
            const float *from = w->data ? w->data : w->moved_to;
            data = malloc(sizeof(float) * (size_t)count);
            if (!data || !from) {
                free(data);
                return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory loading '%s'", n->name);
            }
            if (reorder)
                reorder_dense_rows(data, g->nodes[src->inputs[0]].shape, n->shape.c, from);
            else
                memcpy(data, from, sizeof(float) * (size_t)count);
        }
        free(*e->slot[i]);
        *e->slot[i] = data;
    }
    if (copy && n->affine_stats) normalization_from_stats(n);
    return KVK_OK;
}

/* A weight listed twice with the same data (a shared layer's extra calls, as a config view
 * lists them): the later entries copy from the first instead of moving it again. */
static void alias_shared_data(kvk_weight_file *file) {
    for (int l = 0; l < file->layer_count; l++)
        for (int j = 0; j < file->layers[l].count; j++) {
            kvk_weight *w = &file->layers[l].weights[j];
            for (int m = 0; w->data && m <= l; m++)
                for (int k = 0; k < (m == l ? j : file->layers[m].count); k++)
                    if (file->layers[m].weights[k].data == w->data) {
                        w->moved_to = w->data;
                        w->data = NULL;
                        break;
                    }
        }
}

/* A Keras 0.x/1.0 file names no layer: its layers with weights are the model's, in order. */
static kvk_status bind_by_order(kvk_graph *g, kvk_weight_file *file, int copy) {
    int used = 0;
    for (int i = 0; i < g->count; i++) {
        kvk_node *n = &g->nodes[i];
        expected e;
        if (!expected_weights(g, n, &e)) continue;
        if (used == file->layer_count)
            return kvk_fail(KVK_ERROR_SHAPE,
                            "%s: the file has %d layers with weights (matched by order, as Keras "
                            "0.x/1.0 files name none), but the model has more: layer '%s' (%s) "
                            "is left without weights",
                            file->path, file->layer_count, n->name, layer_class(n));
        kvk_status st = bind_node(g, n, file, &file->layers[used++], &e, copy);
        if (st != KVK_OK) return st;
    }
    if (used < file->layer_count)
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: the file has %d layers with weights (matched by order, as Keras "
                        "0.x/1.0 files name none) but the model only %d: the file's %s and after "
                        "are left over; is it a weight file for this model?",
                        file->path, file->layer_count, used, file->layers[used].name);
    return KVK_OK;
}

static kvk_status bind_all(kvk_graph *g, kvk_weight_file *file, int copy) {
    if (copy) alias_shared_data(file);
    if (file->format == KVK_FORMAT_H5_LEGACY) return bind_by_order(g, file, copy);
    for (int i = 0; i < g->count; i++) {
        kvk_node *n = &g->nodes[i];
        expected e;
        if (!expected_weights(g, n, &e)) continue;
        const kvk_weight_layer *layer = kvk_weight_file_layer(file, n->name);
        if (!layer) {
            char some[256] = "";
            size_t used = 0;
            for (int k = 0; k < file->layer_count && k < 4 && used < sizeof some; k++)
                used += (size_t)snprintf(some + used, sizeof some - used, "%s'%s'", k ? ", " : "",
                                         file->layers[k].name);
            return kvk_fail(KVK_ERROR_SHAPE,
                            "%s: no weights for layer '%s' (%s); the file's %d layers with "
                            "weights begin %s%s: is it a weight file for this model?",
                            file->path, n->name, layer_class(n), file->layer_count,
                            file->layer_count ? some : "(none)",
                            file->layer_count > 4 ? ", ..." : "");
        }
        kvk_status st = bind_node(g, n, file, &file->layers[layer - file->layers], &e, copy);
        if (st != KVK_OK) return st;
    }
    return KVK_OK;
}

kvk_status kvk_bind_weights(kvk_graph *g, kvk_weight_file *file) {
    return bind_all(g, file, 1);
}

kvk_status kvk_bind_check_shapes(kvk_graph *g, kvk_weight_file *file) {
    return bind_all(g, file, 0);
}

/* xorshift32 and Box-Muller: fast, deterministic across platforms */
static float next_uniform(unsigned *state) {
    unsigned x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return (float)((x >> 8) * (1.0 / 16777216.0));
}

static float next_normal(unsigned *state) {
    float u1 = next_uniform(state), u2 = next_uniform(state);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

kvk_status kvk_random_weights(kvk_graph *g, unsigned seed) {
    unsigned state = seed ? seed : 0x9e3779b9u;
    for (int i = 0; i < g->count; i++) {
        kvk_node *n = &g->nodes[i];
        expected e;
        if (!expected_weights(g, n, &e)) continue;
        for (int k = 0; k < e.count; k++) {
            if (!e.slot[k]) continue;
            long count = element_count(&e, k);
            float *w = malloc(sizeof(float) * (size_t)count);
            if (!w) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory for random weights");
            const char *what = e.what[k];
            double fan_in = e.ndim[k] == 4   ? (double)e.dims[k][0] * e.dims[k][1] * e.dims[k][2]
                            : e.ndim[k] == 2 ? (double)e.dims[k][0]
                                             : 1.0;
            if (!strcmp(what, "depthwise_kernel")) /* each output sees one input channel */
                fan_in = (double)e.dims[k][0] * e.dims[k][1];
            int kernel = strstr(what, "kernel") != NULL;
            for (long j = 0; j < count; j++) {
                if (kernel)
                    w[j] = (float)(next_normal(&state) * sqrt(2.0 / fan_in));
                else if (!strcmp(what, "gamma") || strstr(what, "variance"))
                    w[j] = 0.5f + next_uniform(&state);
                else
                    w[j] = 0.1f * next_normal(&state);
            }
            free(*e.slot[k]);
            *e.slot[k] = w;
        }
        if (n->affine_stats) normalization_from_stats(n);
    }
    return KVK_OK;
}
