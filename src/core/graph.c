#include "core/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void kvk_graph_init(kvk_graph *g) {
    memset(g, 0, sizeof *g);
    g->output = -1;
    g->output_count = 0;
}

void kvk_graph_free_weights(kvk_node *n) {
    float **arrays[] = {&n->kernel, &n->bias,     &n->gamma, &n->beta,
                        &n->mean,   &n->variance, &n->scale, &n->shift};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        free(*arrays[i]);
        *arrays[i] = NULL;
    }
}

void kvk_graph_free(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) kvk_graph_free_weights(&g->nodes[i]);
    free(g->nodes);
    kvk_graph_init(g);
}

const char *kvk_op_name(kvk_op op) {
    static const char *const names[KVK_OP_COUNT] = {"InputLayer",
                                                    "Conv2D",
                                                    "Dense",
                                                    "BatchNormalization",
                                                    "Activation",
                                                    "Add",
                                                    "ZeroPadding2D",
                                                    "MaxPooling2D",
                                                    "AveragePooling2D",
                                                    "GlobalAveragePooling2D",
                                                    "GlobalMaxPooling2D",
                                                    "Flatten",
                                                    "Dropout",
                                                    "DepthwiseConv2D",
                                                    "Concatenate",
                                                    "Softmax",
                                                    "Multiply",
                                                    "Rescaling/Normalization",
                                                    "Reshape"};
    return op < KVK_OP_COUNT ? names[op] : "?";
}

static void set_act(kvk_node *n, kvk_act act) {
    n->act = act.kind;
    n->act_slope = act.negative_slope;
    n->act_max = act.max_value;
    n->act_threshold = act.threshold;
}

/* Appends a node consuming `x` (or nothing for x < 0 with input_count 0). */
static int add_node(kvk_graph *g, kvk_op op, const char *name, int x, int y, int input_count) {
    if (g->status != KVK_OK) return -1;
    for (int i = 0; i < input_count; i++) {
        int in = i == 0 ? x : y;
        if (in < 0 || in >= g->count) {
            g->status =
                kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "layer '%s': invalid input node %d", name, in);
            return -1;
        }
    }
    if (kvk_graph_find(g, name) >= 0) {
        g->status = kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "duplicate layer name '%s'", name);
        return -1;
    }
    if (g->count == g->capacity) {
        int cap = g->capacity ? g->capacity * 2 : 64;
        kvk_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            g->status = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory building the graph");
            return -1;
        }
        g->nodes = nodes;
        g->capacity = cap;
    }
    kvk_node *n = &g->nodes[g->count];
    memset(n, 0, sizeof *n);
    n->op = op;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->inputs[0] = x;
    n->inputs[1] = y;
    n->input_count = input_count;
    n->act_max = INFINITY; /* relu without a maximum, until an activation says otherwise */
    n->rank = input_count > 0 ? g->nodes[x].rank : 3;
    n->alias_of = -1;
    n->residual = -1;
    n->separable_of = -1;
    n->concat_into = -1;
    n->kh = n->kw = n->sh = n->sw = 1;
    if (input_count > 0) n->shape = g->nodes[x].shape;
    g->output = g->count;
    return g->count++;
}

static int fail_shape(kvk_graph *g, const char *name, const char *what, kvk_shape s) {
    g->status =
        kvk_fail(KVK_ERROR_SHAPE, "layer '%s': %s (input %dx%dx%d)", name, what, s.h, s.w, s.c);
    return -1;
}

/* Output size and padding of one spatial axis, TensorFlow's rule: 'same' gives ceil(in/s)
 * and puts the odd padding pixel at the end (bottom/right). */
static int window_axis(int in, int k, int s, kvk_padding padding, int *pad_lo, int *pad_hi) {
    if (padding == KVK_PAD_VALID) {
        *pad_lo = *pad_hi = 0;
        return in >= k ? (in - k) / s + 1 : 0;
    }
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *pad_lo = total / 2;
    *pad_hi = total - total / 2;
    return out;
}

static int windowed(kvk_graph *g, kvk_op op, int x, const char *name, int kh, int kw, int sh,
                    int sw, kvk_padding padding) {
    int id = add_node(g, op, name, x, -1, 1);
    if (id < 0) return -1;
    kvk_node *n = &g->nodes[id];
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1)
        return fail_shape(g, name, "window and strides must be positive", n->shape);
    n->kh = kh, n->kw = kw, n->sh = sh, n->sw = sw, n->padding = padding;
    kvk_shape in = g->nodes[x].shape;
    n->shape.h = window_axis(in.h, kh, sh, padding, &n->pad_top, &n->pad_bottom);
    n->shape.w = window_axis(in.w, kw, sw, padding, &n->pad_left, &n->pad_right);
    if (n->shape.h < 1 || n->shape.w < 1) {
        char what[128];
        snprintf(what, sizeof what, "input too small for a %dx%d window with 'valid' padding", kh,
                 kw);
        return fail_shape(g, name, what, in);
    }
    return id;
}

int kvk_graph_input(kvk_graph *g, const char *name, int h, int w, int c) {
    int id = add_node(g, KVK_OP_INPUT, name, -1, -1, 0);
    if (id < 0) return -1;
    if (h < 1 || w < 1 || c < 1) {
        g->status = kvk_fail(KVK_ERROR_SHAPE, "input shape %dx%dx%d is not positive", h, w, c);
        return -1;
    }
    g->nodes[id].shape = (kvk_shape){h, w, c};
    return id;
}

int kvk_graph_conv2d(kvk_graph *g, int x, const char *name, int filters, int kh, int kw, int sh,
                     int sw, kvk_padding padding, int use_bias, kvk_activation act) {
    int id = windowed(g, KVK_OP_CONV2D, x, name, kh, kw, sh, sw, padding);
    if (id < 0) return -1;
    if (filters < 1) return fail_shape(g, name, "filters must be positive", g->nodes[x].shape);
    g->nodes[id].shape.c = filters;
    g->nodes[id].use_bias = use_bias;
    set_act(&g->nodes[id], kvk_act_default(act));
    return id;
}

int kvk_graph_dense(kvk_graph *g, int x, const char *name, int units, kvk_activation act) {
    int id = add_node(g, KVK_OP_DENSE, name, x, -1, 1);
    if (id < 0) return -1;
    kvk_node *n = &g->nodes[id];
    /* Keras' Dense acts on the last axis; kvk's architectures only apply it to vectors. */
    if (n->shape.h != 1 || n->shape.w != 1)
        return fail_shape(g, name, "Dense needs a flat input (add Flatten or pooling)", n->shape);
    if (units < 1) return fail_shape(g, name, "units must be positive", n->shape);
    n->shape.c = units;
    n->use_bias = 1;
    set_act(n, kvk_act_default(act));
    return id;
}

int kvk_graph_batchnorm(kvk_graph *g, int x, const char *name, float epsilon, int center,
                        int scale) {
    int id = add_node(g, KVK_OP_BATCHNORM, name, x, -1, 1);
    if (id < 0) return -1;
    g->nodes[id].epsilon = epsilon;
    g->nodes[id].bn_center = center;
    g->nodes[id].bn_scale = scale;
    return id;
}

int kvk_graph_activation(kvk_graph *g, int x, const char *name, kvk_activation act) {
    return kvk_graph_activation_ex(g, x, name, kvk_act_default(act));
}

int kvk_graph_activation_ex(kvk_graph *g, int x, const char *name, kvk_act act) {
    if (g->status == KVK_OK && ((unsigned)act.kind >= KVK_ACT_COUNT ||
                                (act.kind == KVK_ACT_RELU && !(act.max_value >= 0)))) {
        g->status = kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                             "layer '%s': activation %d with max_value %g is not valid", name,
                             (int)act.kind, act.max_value);
        return -1;
    }
    int id = add_node(g, KVK_OP_ACTIVATION, name, x, -1, 1);
    if (id < 0) return -1;
    set_act(&g->nodes[id], act);
    return id;
}

void kvk_graph_set_activation(kvk_graph *g, int node, kvk_act act) {
    if (node >= 0 && node < g->count) set_act(&g->nodes[node], act);
}

kvk_act kvk_act_default(kvk_activation kind) {
    return (kvk_act){kind, kind == KVK_ACT_ELU ? 1.0f : 0.0f, INFINITY, 0.0f};
}

kvk_act kvk_node_act(const kvk_node *n) {
    return (kvk_act){n->act, n->act_slope, n->act_max, n->act_threshold};
}

const char *kvk_activation_name(kvk_activation kind) {
    static const char *const names[KVK_ACT_COUNT] = {[KVK_ACT_LINEAR] = "linear",
                                                     [KVK_ACT_RELU] = "relu",
                                                     [KVK_ACT_SOFTMAX] = "softmax",
                                                     [KVK_ACT_SIGMOID] = "sigmoid",
                                                     [KVK_ACT_TANH] = "tanh",
                                                     [KVK_ACT_SWISH] = "swish",
                                                     [KVK_ACT_HARD_SIGMOID] = "hard_sigmoid",
                                                     [KVK_ACT_HARD_SIGMOID3] = "hard_sigmoid",
                                                     [KVK_ACT_HARD_SWISH] = "hard_swish",
                                                     [KVK_ACT_ELU] = "elu",
                                                     [KVK_ACT_SOFTPLUS] = "softplus"};
    return (unsigned)kind < KVK_ACT_COUNT && names[kind] ? names[kind] : "?";
}

int kvk_activation_from_keras(const char *name, int keras_major, kvk_activation *out) {
    static const struct {
        const char *name;
        kvk_activation kind;
    } table[] = {{"linear", KVK_ACT_LINEAR},
                 {"relu", KVK_ACT_RELU},
                 {"softmax", KVK_ACT_SOFTMAX},
                 {"sigmoid", KVK_ACT_SIGMOID},
                 {"tanh", KVK_ACT_TANH},
                 {"swish", KVK_ACT_SWISH},
                 {"silu", KVK_ACT_SWISH},
                 {"hard_swish", KVK_ACT_HARD_SWISH},
                 {"hard_silu", KVK_ACT_HARD_SWISH},
                 {"elu", KVK_ACT_ELU},
                 {"softplus", KVK_ACT_SOFTPLUS}};
    if (!name) return 0;
    if (!strcmp(name, "hard_sigmoid")) {
        *out = keras_major >= 3 ? KVK_ACT_HARD_SIGMOID3 : KVK_ACT_HARD_SIGMOID;
        return 1;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(name, table[i].name)) {
            *out = table[i].kind;
            return 1;
        }
    return 0;
}

int kvk_graph_add(kvk_graph *g, int a, int b, const char *name) {
    int id = add_node(g, KVK_OP_ADD, name, a, b, 2);
    if (id < 0) return -1;
    kvk_shape sa = g->nodes[a].shape, sb = g->nodes[b].shape;
    if (sa.h != sb.h || sa.w != sb.w || sa.c != sb.c) {
        g->status = kvk_fail(KVK_ERROR_SHAPE,
                             "layer '%s': Add inputs differ in shape: %dx%dx%d vs %dx%dx%d", name,
                             sa.h, sa.w, sa.c, sb.h, sb.w, sb.c);
        return -1;
    }
    return id;
}

int kvk_graph_zeropad(kvk_graph *g, int x, const char *name, int top, int bottom, int left,
                      int right) {
    int id = add_node(g, KVK_OP_ZEROPAD, name, x, -1, 1);
    if (id < 0) return -1;
    kvk_node *n = &g->nodes[id];
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return fail_shape(g, name, "padding must not be negative", n->shape);
    n->pad_top = top, n->pad_bottom = bottom, n->pad_left = left, n->pad_right = right;
    n->shape.h += top + bottom;
    n->shape.w += left + right;
    return id;
}

int kvk_graph_maxpool(kvk_graph *g, int x, const char *name, int kh, int kw, int sh, int sw,
                      kvk_padding padding) {
    return windowed(g, KVK_OP_MAXPOOL, x, name, kh, kw, sh, sw, padding);
}

int kvk_graph_avgpool(kvk_graph *g, int x, const char *name, int kh, int kw, int sh, int sw,
                      kvk_padding padding) {
    return windowed(g, KVK_OP_AVGPOOL, x, name, kh, kw, sh, sw, padding);
}

static int global_pool(kvk_graph *g, kvk_op op, int x, const char *name) {
    int id = add_node(g, op, name, x, -1, 1);
    if (id < 0) return -1;
    g->nodes[id].shape.h = g->nodes[id].shape.w = 1;
    g->nodes[id].rank = 1; /* keepdims=False, Keras' default */
    return id;
}

int kvk_graph_global_avgpool(kvk_graph *g, int x, const char *name) {
    return global_pool(g, KVK_OP_GLOBAL_AVGPOOL, x, name);
}

int kvk_graph_global_maxpool(kvk_graph *g, int x, const char *name) {
    return global_pool(g, KVK_OP_GLOBAL_MAXPOOL, x, name);
}

int kvk_graph_flatten(kvk_graph *g, int x, const char *name) {
    int id = add_node(g, KVK_OP_FLATTEN, name, x, -1, 1);
    if (id < 0) return -1;
    kvk_shape s = g->nodes[id].shape;
    g->nodes[id].shape = (kvk_shape){1, 1, s.h * s.w * s.c};
    g->nodes[id].rank = 1;
    return id;
}

int kvk_graph_reshape(kvk_graph *g, int x, const char *name, int rank, kvk_shape target) {
    int id = add_node(g, KVK_OP_RESHAPE, name, x, -1, 1);
    if (id < 0) return -1;
    kvk_node *n = &g->nodes[id];
    if (rank == 1) target = (kvk_shape){1, 1, target.c};
    if ((rank != 1 && rank != 3) || target.h < 1 || target.w < 1 || target.c < 1 ||
        kvk_shape_size(target) != kvk_shape_size(n->shape)) {
        g->status =
            kvk_fail(KVK_ERROR_SHAPE,
                     "layer '%s': cannot reshape (%d, %d, %d) to rank %d (%d, %d, %d): "
                     "kvk reshapes to (c) or (h, w, c) of the same size",
                     name, n->shape.h, n->shape.w, n->shape.c, rank, target.h, target.w, target.c);
        return -1;
    }
    n->shape = target;
    n->rank = rank;
    return id;
}

int kvk_graph_multiply(kvk_graph *g, int a, int b, const char *name) {
    int id = add_node(g, KVK_OP_MULTIPLY, name, a, b, 2);
    if (id < 0) return -1;
    kvk_shape sa = g->nodes[a].shape, sb = g->nodes[b].shape;
    int same = sa.h == sb.h && sa.w == sb.w && sa.c == sb.c;
    int per_channel = sb.h == 1 && sb.w == 1 && sb.c == sa.c;
    if (!same && !per_channel) {
        g->status = kvk_fail(KVK_ERROR_SHAPE,
                             "layer '%s': Multiply of (%d, %d, %d) by (%d, %d, %d): kvk multiplies "
                             "equal shapes, or by one value per channel (1, 1, %d)",
                             name, sa.h, sa.w, sa.c, sb.h, sb.w, sb.c, sa.c);
        return -1;
    }
    return id;
}

int kvk_graph_affine(kvk_graph *g, int x, const char *name, float *scale, float *shift) {
    int id = add_node(g, KVK_OP_AFFINE, name, x, -1, 1);
    if (id < 0 || !scale || !shift) {
        free(scale);
        free(shift);
        if (id >= 0)
            g->status = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "layer '%s': out of memory", name);
        return -1;
    }
    g->nodes[id].scale = scale;
    g->nodes[id].shift = shift;
    return id;
}

int kvk_graph_normalization(kvk_graph *g, int x, const char *name, int invert) {
    int id = add_node(g, KVK_OP_AFFINE, name, x, -1, 1);
    if (id >= 0) g->nodes[id].affine_stats = invert ? 2 : 1;
    return id;
}

void kvk_graph_keepdims(kvk_graph *g, int pool) {
    if (pool >= 0 && pool < g->count) g->nodes[pool].rank = 3;
}

int kvk_graph_dropout(kvk_graph *g, int x, const char *name) {
    return add_node(g, KVK_OP_DROPOUT, name, x, -1, 1);
}

int kvk_graph_depthwise_conv2d(kvk_graph *g, int x, const char *name, int kh, int kw, int sh,
                               int sw, kvk_padding padding, int depth_multiplier, int use_bias,
                               kvk_activation act) {
    int id = windowed(g, KVK_OP_DEPTHWISE_CONV2D, x, name, kh, kw, sh, sw, padding);
    if (id < 0) return -1;
    if (depth_multiplier < 1)
        return fail_shape(g, name, "depth_multiplier must be positive", g->nodes[x].shape);
    kvk_node *n = &g->nodes[id];
    n->depth_multiplier = depth_multiplier;
    n->shape.c = g->nodes[x].shape.c * depth_multiplier;
    n->use_bias = use_bias;
    set_act(n, kvk_act_default(act));
    return id;
}

int kvk_graph_separable_conv2d(kvk_graph *g, int x, const char *name, int filters, int kh, int kw,
                               int sh, int sw, kvk_padding padding, int use_bias,
                               kvk_activation act) {
    char dw_name[sizeof g->nodes[0].name];
    snprintf(dw_name, sizeof dw_name, "%s/depthwise", name);
    int dw =
        kvk_graph_depthwise_conv2d(g, x, dw_name, kh, kw, sh, sw, padding, 1, 0, KVK_ACT_LINEAR);
    int pw = kvk_graph_conv2d(g, dw, name, filters, 1, 1, 1, 1, KVK_PAD_VALID, use_bias, act);
    if (pw < 0) return -1;
    g->nodes[dw].separable_of = pw;
    g->nodes[pw].separable_of = dw;
    return pw;
}

int kvk_graph_concat(kvk_graph *g, const int *xs, int count, const char *name) {
    if (g->status != KVK_OK) return -1;
    if (count < 1 || count > KVK_MAX_INPUTS) {
        g->status = kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                             "layer '%s': Concatenate takes 1 to %d inputs, got %d", name,
                             KVK_MAX_INPUTS, count);
        return -1;
    }
    int id = add_node(g, KVK_OP_CONCAT, name, xs[0], -1, 1);
    if (id < 0) return -1;
    kvk_node *n = &g->nodes[id];
    kvk_shape s0 = g->nodes[xs[0]].shape;
    for (int i = 1; i < count; i++) {
        if (xs[i] < 0 || xs[i] >= id) {
            g->status = kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "layer '%s': invalid input node %d",
                                 name, xs[i]);
            return -1;
        }
        kvk_shape si = g->nodes[xs[i]].shape;
        if (si.h != s0.h || si.w != s0.w) {
            g->status = kvk_fail(KVK_ERROR_SHAPE,
                                 "layer '%s': Concatenate inputs differ in height and width: "
                                 "%dx%dx%d vs %dx%dx%d",
                                 name, s0.h, s0.w, s0.c, si.h, si.w, si.c);
            return -1;
        }
        n->inputs[i] = xs[i];
        n->shape.c += si.c;
    }
    n->input_count = count;
    return id;
}

kvk_status kvk_graph_set_outputs(kvk_graph *g, const int *nodes, int count) {
    if (g->status != KVK_OK) return g->status;
    if (count < 1 || count > KVK_MAX_OUTPUTS)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "a model has 1 to %d outputs, got %d",
                        KVK_MAX_OUTPUTS, count);
    for (int i = 0; i < count; i++) {
        if (nodes[i] < 0 || nodes[i] >= g->count)
            return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "invalid output node %d", nodes[i]);
        g->outputs[i] = nodes[i];
        g->nodes[nodes[i]].keep = 1;
    }
    g->output_count = count;
    return KVK_OK;
}

int kvk_graph_output_count(const kvk_graph *g) {
    return g->output_count > 0 ? g->output_count : g->output >= 0 ? 1 : 0;
}

int kvk_graph_output_node(const kvk_graph *g, int index) {
    return g->output_count > 0 ? g->outputs[index] : g->output;
}

void kvk_graph_prune(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) g->nodes[i].needed = 0;
    for (int k = 0; k < kvk_graph_output_count(g); k++)
        g->nodes[kvk_graph_output_node(g, k)].needed = 1;
    /* nodes only read earlier nodes, so one backward sweep finds everything needed */
    for (int i = g->count - 1; i >= 0; i--) {
        kvk_node *n = &g->nodes[i];
        if (!n->needed) continue;
        for (int k = 0; k < n->input_count; k++) g->nodes[n->inputs[k]].needed = 1;
        if (n->residual >= 0) g->nodes[n->residual].needed = 1;
    }
    for (int i = 0; i < g->count; i++)
        if (!g->nodes[i].needed && g->nodes[i].op != KVK_OP_INPUT) g->nodes[i].removed = 1;
}

int kvk_graph_find(const kvk_graph *g, const char *name) {
    for (int i = 0; i < g->count; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

int kvk_graph_resolve(const kvk_graph *g, int node) {
    while (node >= 0 && g->nodes[node].alias_of >= 0) node = g->nodes[node].alias_of;
    return node;
}

double kvk_node_flops(const kvk_graph *g, int node) {
    const kvk_node *n = &g->nodes[node];
    if (n->removed) return 0;
    if (n->op == KVK_OP_CONV2D) {
        kvk_shape in = g->nodes[n->inputs[0]].shape;
        return 2.0 * kvk_shape_size(n->shape) * n->kh * n->kw * in.c;
    }
    if (n->op == KVK_OP_DEPTHWISE_CONV2D) return 2.0 * kvk_shape_size(n->shape) * n->kh * n->kw;
    if (n->op == KVK_OP_DENSE)
        return 2.0 * kvk_shape_size(g->nodes[n->inputs[0]].shape) * n->shape.c;
    return 0;
}

double kvk_graph_flops(const kvk_graph *g) {
    double flops = 0;
    for (int i = 0; i < g->count; i++) flops += kvk_node_flops(g, i);
    return flops;
}
