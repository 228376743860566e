/* Keras model configs into kvk graphs. See config.h.
 *
 * The three dialects:
 *  - Keras 2 / tf-keras (model.save .h5) and TensorFlow.js (modelTopology.model_config):
 *    {"class_name": "Functional"|"Model"|"Sequential", "config": {"name", "layers": [...],
 *    "input_layers": [["input_1", 0, 0]], "output_layers": [...]}}, each functional layer
 *    {"class_name", "name", "config", "inbound_nodes": [[["name", node, tensor, {kwargs}],
 *    ...], ...]} (one list per call); InputLayer config "batch_input_shape". Early Keras 2
 *    Sequential configs are the layer list itself.
 *  - Keras 3: the same outline with "module"/"registered_name"; inbound_nodes are
 *    [{"args": [...], "kwargs": {...}}] whose args hold {"class_name": "__keras_tensor__",
 *    "config": {"keras_history": [name, node, tensor]}} (lists of them for Add, Concatenate);
 *    InputLayer config "batch_shape"; input_layers/output_layers may be one [name, 0, 0].
 * A reference's node index counts the layer's calls; a nested functional model counts its own
 * construction as call 0 in tf-keras (so the first call in the outer model is 1), not in
 * Keras 3: an index one past the calls listed is read as that offset.
 *
 * Every call of every layer becomes graph nodes, inputs before users (a depth-first walk
 * from each call, which also finds cycles). A layer called more than once (shared) gets
 * nodes "name" (first call), "name/call1", ...: the binder gives them the same weights.
 * A nested model's layers keep their own names, so features of inner layers work. */
#include "keras/config.h"

#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "keras/apps/apps.h"
#include "keras/bind.h"
#include "keras/weights_internal.h"

#define NAME_SIZE 96

const char *kvk_config_supported_layers(void) {
    return "InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization, "
           "Activation, ReLU, LeakyReLU, ELU, Softmax, Add, Multiply, Concatenate (channel "
           "axis), ZeroPadding2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, "
           "GlobalMaxPooling2D, Flatten, Reshape, Rescaling, Normalization (channel axis), Dense, "
           "Dropout, SpatialDropout2D, "
           "GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization, and nested "
           "Sequential/Functional models; activations linear, relu, relu6, softmax, sigmoid, "
           "tanh, swish/silu, hard_sigmoid, hard_swish/hard_silu, elu, softplus";
}

kvk_status kvk_config_activation(const char *activation, int keras_major, const char *layer,
                                 const char *cls, kvk_act *out) {
    const char *name = activation ? activation : "linear";
    kvk_activation kind;
    if (!strcmp(name, "relu6")) {
        *out = (kvk_act){KVK_ACT_RELU, 0.0f, 6.0f, 0.0f};
        return KVK_OK;
    }
    if (kvk_activation_from_keras(name, keras_major, &kind)) {
        *out = kvk_act_default(kind);
        return KVK_OK;
    }
    return kvk_fail(KVK_ERROR_UNSUPPORTED,
                    "layer '%s' (%s): activation '%s' is not supported (supported: linear, "
                    "relu, relu6, softmax, sigmoid, tanh, swish, silu, hard_sigmoid, hard_swish, "
                    "hard_silu, elu, softplus)",
                    layer, cls, name);
}

/* --- small JSON helpers -------------------------------------------------------------------- */

/* Integers of a config (sizes, strides, paddings, units, indices) beyond this are refused:
 * no real layer has them, and the graph's int arithmetic on shapes then cannot overflow. */
#define MAX_CONFIG_INT (1 << 24)

static int json_int(const kvk_json *v, int *out) {
    if (!kvk_json_is(v, KVK_JSON_NUMBER) || v->number != floor(v->number) ||
        fabs(v->number) > MAX_CONFIG_INT)
        return 0;
    *out = (int)v->number;
    return 1;
}

/* An int, or a list of `n` ints (kernel_size 3 or [3, 3]); 0 if neither. */
static int json_ints(const kvk_json *v, int n, int *out) {
    if (json_int(v, &out[0])) {
        for (int i = 1; i < n; i++) out[i] = out[0];
        return 1;
    }
    if (!kvk_json_is(v, KVK_JSON_ARRAY) || (int)v->length != n) return 0;
    for (int i = 0; i < n; i++)
        if (!json_int(&v->items[i], &out[i])) return 0;
    return 1;
}

static int json_bool(const kvk_json *v, int fallback) {
    if (kvk_json_is(v, KVK_JSON_TRUE)) return 1;
    if (kvk_json_is(v, KVK_JSON_FALSE)) return 0;
    return fallback;
}

static const char *layer_name(const kvk_json *layer) {
    const char *name = kvk_json_get_string(layer, "name");
    return name ? name : kvk_json_get_string(kvk_json_get(layer, "config"), "name");
}

/* A model config's layer list: config.layers, or config itself (early Keras 2 Sequential). */
static const kvk_json *model_layers(const kvk_json *model) {
    const kvk_json *config = kvk_json_get(model, "config");
    if (kvk_json_is(config, KVK_JSON_ARRAY)) return config;
    const kvk_json *layers = kvk_json_get(config, "layers");
    return kvk_json_is(layers, KVK_JSON_ARRAY) ? layers : NULL;
}

static int is_model_class(const char *cls) {
    return cls &&
           (!strcmp(cls, "Functional") || !strcmp(cls, "Model") || !strcmp(cls, "Sequential"));
}

/* --- the builder's state ------------------------------------------------------------------- */

typedef struct tensor {
    int node; /* graph node */
    int rank; /* Keras rank without the batch axis: 1 or 3 */
} tensor;

typedef struct ref {
    const char *layer;
    int node, tensor;
} ref;

typedef struct slayer {
    const kvk_json *obj, *cfg;
    const char *name, *cls;
    int is_input, is_model;
    int calls;     /* inbound nodes (1 for an InputLayer) */
    int offset;    /* references count calls from this (see the header comment) */
    int input_pos; /* an InputLayer: its position in input_layers, -1 if not listed */
    tensor *out;
    unsigned char *state; /* per call: 0 to do, 1 in progress, 2 done */
} slayer;

typedef struct scope {
    const char *name; /* the model's */
    slayer *layers;
    int count;
    const tensor *inputs; /* a nested model's inputs; NULL for the outermost model */
    int input_count;
    int depth;
} scope;

typedef struct ctx {
    kvk_graph *g;
    kvk_config_model *info;
    const char *what;
    int height, width;  /* requested input size, 0 = the config's */
    int channels_first; /* the model's data format */
    int inputs_made;    /* graph inputs created (one allowed) */
    long long params;   /* running count, for the summary rows */
    int keras_major;    /* 3 if Keras 3 wrote the config, else 2 */
    kvk_status status;
} ctx;

static kvk_status fail_layer(ctx *c, const char *name, const char *cls, const char *fmt, ...)
    KVK_PRINTF(4, 5);

static kvk_status fail_layer(ctx *c, const char *name, const char *cls, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->status = kvk_fail(KVK_ERROR_UNSUPPORTED, "%s: layer '%s' (%s): %s", c->what,
                         name ? name : "?", cls ? cls : "?", msg);
    return c->status;
}

static int append(void **items, int *count, size_t size) {
    void *p = realloc(*items, (size_t)(*count + 1) * size);
    if (!p) return 0;
    *items = p;
    memset((char *)p + (size_t)*count * size, 0, size);
    (*count)++;
    return 1;
}

static kvk_status oom(ctx *c) {
    c->status =
        kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory reading the model config", c->what);
    return c->status;
}

static int record_rank(ctx *c, int node, int rank) {
    kvk_config_model *info = c->info;
    if (node < 0) return 1;
    while (info->rank_count <= node) {
        if (!append((void **)&info->rank, &info->rank_count, sizeof *info->rank)) return 0;
    }
    info->rank[node] = rank;
    return 1;
}

/* After a builder call: its node, or the graph's error restated with the file. */
/* Sets a built layer's activation with its parameters (the builders take only the kind). */
static int with_act(kvk_graph *g, int node, kvk_act act) {
    if (node >= 0) kvk_graph_set_activation(g, node, act);
    return node;
}

static tensor built(ctx *c, int node, int rank) {
    if (node < 0) {
        if (c->status == KVK_OK) {
            c->status = c->g->status != KVK_OK ? c->g->status : KVK_ERROR_SHAPE;
            kvk_fail_context(c->status, "%s: ", c->what);
        }
        return (tensor){-1, 0};
    }
    if (!record_rank(c, node, rank)) oom(c);
    return (tensor){node, rank};
}

/* --- layer parameters ---------------------------------------------------------------------- */

/* data_format of a layer: must be the model's. */
static int check_format(ctx *c, const char *name, const char *cls, const kvk_json *cfg) {
    const char *df = kvk_json_get_string(cfg, "data_format");
    if (!df) return 1;
    int first = !strcmp(df, "channels_first");
    if (!first && strcmp(df, "channels_last")) {
        fail_layer(c, name, cls, "data_format '%s' is unknown", df);
        return 0;
    }
    if (first != c->channels_first) {
        fail_layer(c, name, cls,
                   "data_format '%s' differs from the rest of the model (mixed channels_first "
                   "and channels_last layers are not supported)",
                   df);
        return 0;
    }
    return 1;
}

/* kernel_size / pool_size, strides, padding, dilation_rate, groups */
typedef struct window {
    int kh, kw, sh, sw;
    kvk_padding padding;
} window;

static int read_window(ctx *c, const char *name, const char *cls, const kvk_json *cfg,
                       const char *size_key, window *w) {
    int k[2], s[2], d[2] = {1, 1}, groups = 1;
    if (!json_ints(kvk_json_get(cfg, size_key), 2, k)) {
        fail_layer(c, name, cls, "'%s' is missing or not 1 or 2 integers", size_key);
        return 0;
    }
    const kvk_json *strides = kvk_json_get(cfg, "strides");
    if (!strides || kvk_json_is(strides, KVK_JSON_NULL)) { /* pooling: strides = pool_size */
        s[0] = k[0], s[1] = k[1];
    } else if (!json_ints(strides, 2, s)) {
        fail_layer(c, name, cls, "'strides' is not 1 or 2 integers");
        return 0;
    }
    const kvk_json *dil = kvk_json_get(cfg, "dilation_rate");
    if (dil && !json_ints(dil, 2, d)) {
        fail_layer(c, name, cls, "'dilation_rate' is not 1 or 2 integers");
        return 0;
    }
    if (d[0] != 1 || d[1] != 1) {
        fail_layer(c, name, cls, "dilation_rate (%d, %d) is not supported (only 1)", d[0], d[1]);
        return 0;
    }
    const kvk_json *gr = kvk_json_get(cfg, "groups");
    if (gr && (!json_int(gr, &groups) || groups != 1)) {
        fail_layer(c, name, cls, "groups other than 1 are not supported");
        return 0;
    }
    const char *padding = kvk_json_get_string(cfg, "padding");
    if (!padding || (strcmp(padding, "valid") && strcmp(padding, "same"))) {
        fail_layer(c, name, cls, "padding '%s' is not supported (valid or same)",
                   padding ? padding : "(missing)");
        return 0;
    }
    if (!check_format(c, name, cls, cfg)) return 0;
    w->kh = k[0], w->kw = k[1], w->sh = s[0], w->sw = s[1];
    w->padding = !strcmp(padding, "same") ? KVK_PAD_SAME : KVK_PAD_VALID;
    return 1;
}

static int read_activation(ctx *c, const char *name, const char *cls, const kvk_json *cfg,
                           kvk_act *act) {
    const kvk_json *a = kvk_json_get(cfg, "activation");
    const char *s = kvk_json_string(a);
    if (a && !s && !kvk_json_is(a, KVK_JSON_NULL)) {
        /* Keras 3 may serialise a function as an object; a custom one has no name we know */
        const char *inner = kvk_json_get_string(kvk_json_get(a, "config"), "name");
        s = inner ? inner : kvk_json_get_string(a, "class_name");
        if (!s) {
            fail_layer(c, name, cls, "'activation' is neither a name nor a known object");
            return 0;
        }
    }
    if (kvk_config_activation(s, c->keras_major, name, cls, act) != KVK_OK) {
        c->status = kvk_fail_context(KVK_ERROR_UNSUPPORTED, "%s: ", c->what);
        return 0;
    }
    return 1;
}

/* The channel axis (BatchNormalization, Concatenate) for a tensor of this rank. */
static int is_channel_axis(const ctx *c, int axis, int rank) {
    if (rank == 1) return axis == -1 || axis == 1;
    return c->channels_first ? axis == 1 : axis == -1 || axis == 3;
}

/* Keras names the nodes of later calls of a shared layer "name/callK". */
static int call_name(ctx *c, const char *name, int call, char *buf) {
    int n = call == 0 ? snprintf(buf, NAME_SIZE, "%s", name)
                      : snprintf(buf, NAME_SIZE, "%s/call%d", name, call);
    if (n < 0 || n >= NAME_SIZE) {
        fail_layer(c, name, "?", "the name is longer than %d characters", NAME_SIZE - 12);
        return 0;
    }
    return 1;
}

static int note_shared(ctx *c, const char *node, const char *layer) {
    kvk_config_model *info = c->info;
    if (!append((void **)&info->shared, &info->shared_count, sizeof *info->shared)) return 0;
    snprintf(info->shared[info->shared_count - 1][0], NAME_SIZE, "%s", node);
    snprintf(info->shared[info->shared_count - 1][1], NAME_SIZE, "%s", layer);
    return 1;
}

/* --- inputs -------------------------------------------------------------------------------- */

/* The (h, w, c) of an input shape list [null, h, w, c] (or [null, c, h, w]); -1 for None. */
static int image_shape(ctx *c, const kvk_json *shape, int *h, int *w, int *ch) {
    if (!kvk_json_is(shape, KVK_JSON_ARRAY) || shape->length != 4) return 0;
    int d[3];
    for (int i = 0; i < 3; i++) {
        const kvk_json *v = &shape->items[i + 1];
        if (kvk_json_is(v, KVK_JSON_NULL))
            d[i] = -1;
        else if (!json_int(v, &d[i]) || d[i] < 1)
            return 0;
    }
    if (c->channels_first)
        *ch = d[0], *h = d[1], *w = d[2];
    else
        *h = d[0], *w = d[1], *ch = d[2];
    return 1;
}

static const kvk_json *input_shape_of(const kvk_json *cfg) {
    const kvk_json *s = kvk_json_get(cfg, "batch_input_shape");
    if (!s) s = kvk_json_get(cfg, "batch_shape");
    return s;
}

static void shape_text(char *buf, size_t size, const kvk_json *shape) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (size_t i = 0; kvk_json_is(shape, KVK_JSON_ARRAY) && i < shape->length && used < size;
         i++) {
        const kvk_json *v = &shape->items[i];
        if (kvk_json_is(v, KVK_JSON_NUMBER))
            used += (size_t)snprintf(buf + used, size - used, "%s%g", i ? ", " : "", v->number);
        else
            used += (size_t)snprintf(buf + used, size - used, "%sNone", i ? ", " : "");
    }
    if (used < size) snprintf(buf + used, size - used, ")");
}

/* The model's one image input, from an InputLayer's (or a first layer's) shape. */
static tensor make_input(ctx *c, const char *name, const char *cls, const kvk_json *shape) {
    int h, w, ch;
    if (!image_shape(c, shape, &h, &w, &ch) || ch < 1) {
        char text[128];
        shape_text(text, sizeof text, shape);
        fail_layer(c, name, cls,
                   "input shape %s: kvk runs image models, with one (height, width, channels) "
                   "input",
                   text);
        return (tensor){-1, 0};
    }
    if (c->inputs_made++) {
        fail_layer(c, name, cls,
                   "a second model input: multi-input models are not supported (one image "
                   "input only)");
        return (tensor){-1, 0};
    }
    c->info->input_height = h > 0 ? h : 0;
    c->info->input_width = w > 0 ? w : 0;
    if ((c->height && h > 0 && c->height != h) || (c->width && w > 0 && c->width != w)) {
        fail_layer(c, name, cls, "the model's input is %dx%d, not the %dx%d asked for", h, w,
                   c->height ? c->height : h, c->width ? c->width : w);
        return (tensor){-1, 0};
    }
    if (h < 0) h = c->height;
    if (w < 0) w = c->width;
    if (h < 1 || w < 1) {
        fail_layer(c, name, cls,
                   "the input's height or width is None in the config: give the input size "
                   "(options height and width, --size HxW)");
        return (tensor){-1, 0};
    }
    return built(c, kvk_graph_input(c->g, name, h, w, ch), 3);
}

/* --- layers -------------------------------------------------------------------------------- */

static kvk_status build_model(ctx *c, const kvk_json *model, const tensor *inputs, int count,
                              int depth, tensor *outputs, int *output_count, int max_outputs);

static const char *const NOOP_CLASSES[] = {
    "Dropout",      "SpatialDropout2D",       "GaussianNoise",   "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "SpatialDropout1D"};

static int is_noop(const char *cls) {
    for (size_t i = 0; i < sizeof NOOP_CLASSES / sizeof NOOP_CLASSES[0]; i++)
        if (!strcmp(cls, NOOP_CLASSES[i])) return 1;
    return 0;
}

static tensor fail_t(void) {
    return (tensor){-1, 0};
}

static int need_image(ctx *c, const char *name, const char *cls, tensor x) {
    if (x.rank == 3) return 1;
    fail_layer(c, name, cls,
               "needs a (height, width, channels) input, got a flat one of %d values (shapes "
               "are inconsistent)",
               c->g->nodes[x.node].shape.c);
    return 0;
}

/* Add or Multiply of n >= 2 inputs as a chain of two-input nodes; the last one takes the
 * layer's name, the others "name/add1", "name/multiply2", ... */
static tensor pairwise(ctx *c, const char *lname, const char *cls, const char *name,
                       const tensor *in, int n) {
    int multiply = !strcmp(cls, "Multiply");
    if (n < 2) {
        fail_layer(c, lname, cls, "needs at least 2 inputs, the config gives %d", n);
        return fail_t();
    }
    tensor out = in[0];
    for (int i = 1; i < n; i++) {
        if (!multiply && in[i].rank != in[0].rank) {
            fail_layer(c, lname, cls, "inputs of different ranks");
            return fail_t();
        }
        char part[NAME_SIZE + 24];
        snprintf(part, sizeof part, "%s/%s%d", name, multiply ? "multiply" : "add", i);
        const char *nm = i == n - 1 ? name : part;
        if (strlen(nm) >= NAME_SIZE) {
            fail_layer(c, lname, cls, "the name is too long");
            return fail_t();
        }
        int node = multiply ? kvk_graph_multiply(c->g, out.node, in[i].node, nm)
                            : kvk_graph_add(c->g, out.node, in[i].node, nm);
        out = built(c, node, in[0].rank);
        if (out.node < 0) return fail_t();
    }
    return out;
}

/* One call of a (non-model) layer on its inputs. */
static tensor apply_layer(ctx *c, const char *lname, const char *cls, const kvk_json *cfg,
                          const tensor *in, int n, int call) {
    kvk_graph *g = c->g;
    char name[NAME_SIZE];
    if (!call_name(c, lname, call, name)) return fail_t();
    if (strcmp(cls, "Add") && strcmp(cls, "Multiply") && strcmp(cls, "Concatenate") && n != 1) {
        fail_layer(c, lname, cls, "takes one input, the config gives %d", n);
        return fail_t();
    }
    if (n < 1) {
        fail_layer(c, lname, cls, "has no input");
        return fail_t();
    }
    tensor x = in[0];
    kvk_shape s = g->nodes[x.node].shape;
    int weighted = 0;
    long long params_before = c->params;
    tensor out = fail_t();
    if (!strcmp(cls, "Conv2D")) {
        window w;
        int filters;
        kvk_act act;
        if (!need_image(c, lname, cls, x) || !read_window(c, lname, cls, cfg, "kernel_size", &w) ||
            !read_activation(c, lname, cls, cfg, &act))
            return fail_t();
        if (!json_int(kvk_json_get(cfg, "filters"), &filters)) {
            fail_layer(c, lname, cls, "'filters' is missing");
            return fail_t();
        }
        int bias = json_bool(kvk_json_get(cfg, "use_bias"), 1);
        out = built(c,
                    with_act(g,
                             kvk_graph_conv2d(g, x.node, name, filters, w.kh, w.kw, w.sh, w.sw,
                                              w.padding, bias, act.kind),
                             act),
                    3);
        c->params += (long long)w.kh * w.kw * s.c * filters + (bias ? filters : 0);
        weighted = 1;
    } else if (!strcmp(cls, "DepthwiseConv2D")) {
        window w;
        int dm = 1;
        kvk_act act;
        if (!need_image(c, lname, cls, x) || !read_window(c, lname, cls, cfg, "kernel_size", &w) ||
            !read_activation(c, lname, cls, cfg, &act))
            return fail_t();
        const kvk_json *dmj = kvk_json_get(cfg, "depth_multiplier");
        if (dmj && !json_int(dmj, &dm)) {
            fail_layer(c, lname, cls, "'depth_multiplier' is not an integer");
            return fail_t();
        }
        if (act.kind == KVK_ACT_SOFTMAX) {
            fail_layer(c, lname, cls, "activation 'softmax' is supported on Conv2D and Dense only");
            return fail_t();
        }
        int bias = json_bool(kvk_json_get(cfg, "use_bias"), 1);
        out = built(c,
                    with_act(g,
                             kvk_graph_depthwise_conv2d(g, x.node, name, w.kh, w.kw, w.sh, w.sw,
                                                        w.padding, dm, bias, act.kind),
                             act),
                    3);
        c->params += (long long)w.kh * w.kw * s.c * dm + (bias ? (long long)s.c * dm : 0);
        weighted = 1;
    } else if (!strcmp(cls, "SeparableConv2D")) {
        window w;
        int dm = 1, filters;
        kvk_act act;
        if (!need_image(c, lname, cls, x) || !read_window(c, lname, cls, cfg, "kernel_size", &w) ||
            !read_activation(c, lname, cls, cfg, &act))
            return fail_t();
        const kvk_json *dmj = kvk_json_get(cfg, "depth_multiplier");
        if ((dmj && !json_int(dmj, &dm)) || !json_int(kvk_json_get(cfg, "filters"), &filters)) {
            fail_layer(c, lname, cls, "'filters' or 'depth_multiplier' is missing or invalid");
            return fail_t();
        }
        int bias = json_bool(kvk_json_get(cfg, "use_bias"), 1);
        char dw_name[NAME_SIZE + 16];
        snprintf(dw_name, sizeof dw_name, "%s/depthwise", name);
        if (strlen(dw_name) >= NAME_SIZE) {
            fail_layer(c, lname, cls, "the name is too long");
            return fail_t();
        }
        int dw = kvk_graph_depthwise_conv2d(g, x.node, dw_name, w.kh, w.kw, w.sh, w.sw, w.padding,
                                            dm, 0, KVK_ACT_LINEAR);
        tensor d = built(c, dw, 3);
        if (d.node < 0) return fail_t();
        int pw = with_act(
            g, kvk_graph_conv2d(g, dw, name, filters, 1, 1, 1, 1, KVK_PAD_VALID, bias, act.kind),
            act);
        out = built(c, pw, 3);
        if (out.node < 0) return fail_t();
        g->nodes[dw].separable_of = pw;
        g->nodes[pw].separable_of = dw;
        c->params += (long long)w.kh * w.kw * s.c * dm + (long long)s.c * dm * filters +
                     (bias ? filters : 0);
        weighted = 1;
    } else if (!strcmp(cls, "BatchNormalization")) {
        const kvk_json *axis = kvk_json_get(cfg, "axis");
        int ax = -1;
        if (kvk_json_is(axis, KVK_JSON_ARRAY) && axis->length == 1) axis = &axis->items[0];
        if (axis && !json_int(axis, &ax)) {
            fail_layer(c, lname, cls, "'axis' is not one integer");
            return fail_t();
        }
        if (!is_channel_axis(c, ax, x.rank)) {
            fail_layer(c, lname, cls, "axis %d is not the channel axis (only that is supported)",
                       ax);
            return fail_t();
        }
        const kvk_json *eps = kvk_json_get(cfg, "epsilon");
        float epsilon = kvk_json_is(eps, KVK_JSON_NUMBER) ? (float)eps->number : 1e-3f;
        int center = json_bool(kvk_json_get(cfg, "center"), 1);
        int scale = json_bool(kvk_json_get(cfg, "scale"), 1);
        out = built(c, kvk_graph_batchnorm(g, x.node, name, epsilon, center, scale), x.rank);
        c->params += (long long)s.c * (2 + center + scale);
        weighted = 1;
    } else if (!strcmp(cls, "Activation")) {
        kvk_act act;
        if (!read_activation(c, lname, cls, cfg, &act)) return fail_t();
        out = built(c, kvk_graph_activation_ex(g, x.node, name, act), x.rank);
    } else if (!strcmp(cls, "Softmax")) {
        const kvk_json *axis = kvk_json_get(cfg, "axis");
        int ax = -1;
        if (kvk_json_is(axis, KVK_JSON_ARRAY) && axis->length == 1) axis = &axis->items[0];
        if ((axis && !json_int(axis, &ax)) || ax != -1) {
            fail_layer(c, lname, cls, "only axis -1 is supported");
            return fail_t();
        }
        out = built(c, kvk_graph_activation(g, x.node, name, KVK_ACT_SOFTMAX), x.rank);
    } else if (!strcmp(cls, "ReLU") || !strcmp(cls, "LeakyReLU") || !strcmp(cls, "ELU")) {
        /* ReLU(max_value, negative_slope, threshold); LeakyReLU(alpha) (Keras 3:
         * negative_slope), default 0.3; ELU(alpha), default 1 */
        kvk_act act = kvk_act_default(!strcmp(cls, "ELU") ? KVK_ACT_ELU : KVK_ACT_RELU);
        if (!strcmp(cls, "LeakyReLU")) act.negative_slope = 0.3f;
        const char *keys[] = {"max_value", "negative_slope", "threshold", "alpha"};
        float *slots[] = {&act.max_value, &act.negative_slope, &act.threshold, &act.negative_slope};
        for (int i = 0; i < 4; i++) {
            const kvk_json *v = kvk_json_get(cfg, keys[i]);
            if (!v || kvk_json_is(v, KVK_JSON_NULL)) continue;
            if (!kvk_json_is(v, KVK_JSON_NUMBER) || (i == 0 && v->number < 0) ||
                (i == 1 && !strcmp(cls, "ReLU") && v->number < 0)) {
                fail_layer(c, lname, cls, "'%s' must be a number%s", keys[i], i < 2 ? " >= 0" : "");
                return fail_t();
            }
            *slots[i] = (float)v->number;
        }
        out = built(c, kvk_graph_activation_ex(g, x.node, name, act), x.rank);
    } else if (!strcmp(cls, "Rescaling")) {
        /* y = x * scale + offset, each a number or one per channel */
        float *sc = malloc(sizeof(float) * (size_t)s.c), *sh = malloc(sizeof(float) * (size_t)s.c);
        const char *keys[] = {"scale", "offset"};
        float *dst[] = {sc, sh};
        for (int k = 0; sc && sh && k < 2; k++) {
            const kvk_json *v = kvk_json_get(cfg, keys[k]);
            for (int ch = 0; ch < s.c; ch++) {
                const kvk_json *e =
                    kvk_json_is(v, KVK_JSON_ARRAY) && (int)v->length == s.c ? &v->items[ch] : v;
                if (!v && k == 1) {
                    dst[k][ch] = 0.0f;
                } else if (kvk_json_is(e, KVK_JSON_NUMBER)) {
                    dst[k][ch] = (float)e->number;
                } else {
                    free(sc);
                    free(sh);
                    fail_layer(c, lname, cls, "'%s' must be a number or %d numbers", keys[k], s.c);
                    return fail_t();
                }
            }
        }
        out = built(c, kvk_graph_affine(g, x.node, name, sc, sh), x.rank);
    } else if (!strcmp(cls, "Normalization")) {
        const kvk_json *axis = kvk_json_get(cfg, "axis");
        int ax = 0;
        if (kvk_json_is(axis, KVK_JSON_ARRAY) && axis->length == 1) axis = &axis->items[0];
        if (!json_int(axis, &ax) || !is_channel_axis(c, ax, x.rank)) {
            fail_layer(c, lname, cls,
                       "only the channel axis is supported (one mean and "
                       "variance per channel), not this 'axis'");
            return fail_t();
        }
        int invert = json_bool(kvk_json_get(cfg, "invert"), 0);
        const kvk_json *mv[2] = {kvk_json_get(cfg, "mean"), kvk_json_get(cfg, "variance")};
        int given = mv[0] && !kvk_json_is(mv[0], KVK_JSON_NULL);
        if (given != (mv[1] && !kvk_json_is(mv[1], KVK_JSON_NULL))) {
            fail_layer(c, lname, cls, "'mean' and 'variance' must be given together");
            return fail_t();
        }
        if (!given) { /* adapt()ed: the statistics are the layer's weights */
            out = built(c, kvk_graph_normalization(g, x.node, name, invert), x.rank);
            c->params += 2LL * s.c + 1;
            weighted = 1;
        } else {
            /* a number, or one per channel in any nesting Keras broadcasts ([[[[m0, m1]]]]) */
            float *stats[2] = {malloc(sizeof(float) * (size_t)s.c),
                               malloc(sizeof(float) * (size_t)s.c)};
            for (int k = 0; k < 2 && stats[0] && stats[1]; k++) {
                const kvk_json *v = mv[k];
                while (kvk_json_is(v, KVK_JSON_ARRAY) && v->length == 1 &&
                       kvk_json_is(&v->items[0], KVK_JSON_ARRAY))
                    v = &v->items[0];
                int ok = 1;
                for (int ch = 0; ok && ch < s.c; ch++) {
                    const kvk_json *e =
                        kvk_json_is(v, KVK_JSON_ARRAY) && (int)v->length == s.c ? &v->items[ch]
                        : kvk_json_is(v, KVK_JSON_ARRAY) && v->length == 1      ? &v->items[0]
                                                                                : v;
                    ok = kvk_json_is(e, KVK_JSON_NUMBER) && (k == 0 || e->number >= 0);
                    if (ok) stats[k][ch] = (float)e->number;
                }
                if (!ok) {
                    free(stats[0]);
                    free(stats[1]);
                    fail_layer(c, lname, cls, "'%s' must be a number%s or %d of them",
                               k ? "variance" : "mean", k ? " >= 0" : "", s.c);
                    return fail_t();
                }
            }
            /* y = (x - mean) / max(sqrt(variance), 1e-7); inverted: mean + x * that */
            for (int ch = 0; stats[0] && stats[1] && ch < s.c; ch++) {
                double d = fmax(sqrt((double)stats[1][ch]), 1e-7), m = stats[0][ch];
                stats[1][ch] = (float)(invert ? d : 1.0 / d);
                stats[0][ch] = (float)(invert ? m : -m / d);
            }
            out = built(c, kvk_graph_affine(g, x.node, name, stats[1], stats[0]), x.rank);
        }
    } else if (!strcmp(cls, "Reshape")) {
        const kvk_json *ts = kvk_json_get(cfg, "target_shape");
        int dims[3] = {0, 0, 0};
        int rank = kvk_json_is(ts, KVK_JSON_ARRAY) ? (int)ts->length : 0;
        if ((rank != 1 && rank != 3) || !json_ints(ts, rank, dims) || c->channels_first) {
            fail_layer(c, lname, cls,
                       "target_shape must be (c) or (h, w, c) of known sizes, channels_last");
            return fail_t();
        }
        kvk_shape target =
            rank == 1 ? (kvk_shape){1, 1, dims[0]} : (kvk_shape){dims[0], dims[1], dims[2]};
        out = built(c, kvk_graph_reshape(g, x.node, name, rank, target), rank);
    } else if (!strcmp(cls, "Add") || !strcmp(cls, "Multiply")) {
        out = pairwise(c, lname, cls, name, in, n);
        if (out.node < 0) return fail_t();
    } else if (!strcmp(cls, "Concatenate")) {
        const kvk_json *axis = kvk_json_get(cfg, "axis");
        int ax = -1, nodes[KVK_MAX_INPUTS];
        if (axis && !json_int(axis, &ax)) {
            fail_layer(c, lname, cls, "'axis' is not an integer");
            return fail_t();
        }
        if (n > KVK_MAX_INPUTS) {
            fail_layer(c, lname, cls, "%d inputs, at most %d are supported", n, KVK_MAX_INPUTS);
            return fail_t();
        }
        for (int i = 0; i < n; i++) {
            if (in[i].rank != x.rank) {
                fail_layer(c, lname, cls, "inputs of different ranks (inconsistent shapes)");
                return fail_t();
            }
            nodes[i] = in[i].node;
        }
        if (!is_channel_axis(c, ax, x.rank)) {
            fail_layer(c, lname, cls, "axis %d is not the channel axis (only that is supported)",
                       ax);
            return fail_t();
        }
        out = built(c, kvk_graph_concat(g, nodes, n, name), x.rank);
    } else if (!strcmp(cls, "ZeroPadding2D")) {
        const kvk_json *p = kvk_json_get(cfg, "padding");
        int t, b, l, r, two[2];
        if (!need_image(c, lname, cls, x) || !check_format(c, lname, cls, cfg)) return fail_t();
        if (json_ints(p, 2, two)) {
            t = b = two[0];
            l = r = two[1];
        } else if (kvk_json_is(p, KVK_JSON_ARRAY) && p->length == 2 &&
                   json_ints(&p->items[0], 2, two)) {
            t = two[0], b = two[1];
            if (!json_ints(&p->items[1], 2, two)) {
                fail_layer(c, lname, cls, "'padding' is not understood");
                return fail_t();
            }
            l = two[0], r = two[1];
        } else {
            fail_layer(c, lname, cls, "'padding' is not understood");
            return fail_t();
        }
        out = built(c, kvk_graph_zeropad(g, x.node, name, t, b, l, r), 3);
    } else if (!strcmp(cls, "MaxPooling2D") || !strcmp(cls, "AveragePooling2D") ||
               !strcmp(cls, "MaxPool2D") || !strcmp(cls, "AvgPool2D")) {
        window w;
        if (!need_image(c, lname, cls, x) || !read_window(c, lname, cls, cfg, "pool_size", &w))
            return fail_t();
        int max = cls[1] == 'a'; /* Max... */
        out = built(c,
                    max ? kvk_graph_maxpool(g, x.node, name, w.kh, w.kw, w.sh, w.sw, w.padding)
                        : kvk_graph_avgpool(g, x.node, name, w.kh, w.kw, w.sh, w.sw, w.padding),
                    3);
    } else if (!strcmp(cls, "GlobalAveragePooling2D") || !strcmp(cls, "GlobalMaxPooling2D") ||
               !strcmp(cls, "GlobalAvgPool2D") || !strcmp(cls, "GlobalMaxPool2D")) {
        if (!need_image(c, lname, cls, x) || !check_format(c, lname, cls, cfg)) return fail_t();
        int keep = json_bool(kvk_json_get(cfg, "keepdims"), 0);
        int max = strstr(cls, "Max") != NULL;
        out = built(c,
                    max ? kvk_graph_global_maxpool(g, x.node, name)
                        : kvk_graph_global_avgpool(g, x.node, name),
                    keep ? 3 : 1);
        if (keep) kvk_graph_keepdims(g, out.node);
    } else if (!strcmp(cls, "Flatten")) {
        if (!check_format(c, lname, cls, cfg)) return fail_t();
        if (kvk_shape_size(s) > MAX_CONFIG_INT * 64L) {
            fail_layer(c, lname, cls, "flattens %dx%dx%d values: too many", s.h, s.w, s.c);
            return fail_t();
        }
        out = built(c, kvk_graph_flatten(g, x.node, name), 1);
    } else if (!strcmp(cls, "Dense")) {
        int units;
        kvk_act act;
        if (!read_activation(c, lname, cls, cfg, &act)) return fail_t();
        if (!json_int(kvk_json_get(cfg, "units"), &units)) {
            fail_layer(c, lname, cls, "'units' is missing");
            return fail_t();
        }
        if (x.rank == 3 && (s.h != 1 || s.w != 1)) {
            fail_layer(c, lname, cls,
                       "Dense on a %dx%dx%d input (kvk applies Dense to flat inputs: add Flatten "
                       "or global pooling)",
                       s.h, s.w, s.c);
            return fail_t();
        }
        int bias = json_bool(kvk_json_get(cfg, "use_bias"), 1);
        out = built(c, with_act(g, kvk_graph_dense(g, x.node, name, units, act.kind), act), x.rank);
        c->params += (long long)s.c * units + (bias ? units : 0);
        if (out.node >= 0 && !bias) {
            kvk_config_model *info = c->info;
            if (!append((void **)&info->no_bias, &info->no_bias_count, sizeof *info->no_bias))
                return oom(c), fail_t();
            snprintf(info->no_bias[info->no_bias_count - 1], NAME_SIZE, "%s", name);
        }
        weighted = 1;
    } else if (is_noop(cls)) {
        out = built(c, kvk_graph_dropout(g, x.node, name), x.rank);
    } else {
        const char *why = !strcmp(cls, "Lambda")
                              ? "Lambda layers hold Python code, which kvk cannot run"
                              : "this layer class is not supported";
        fail_layer(c, lname, cls, "%s; supported: %s", why, kvk_config_supported_layers());
        return fail_t();
    }
    if (call > 0) c->params = params_before; /* a shared layer's weights count once */
    if (out.node >= 0 && call > 0 && weighted && !note_shared(c, name, lname))
        return oom(c), fail_t();
    return out;
}

/* --- functional models --------------------------------------------------------------------- */

/* Calls `fn` on every [name, node, tensor] reference in a call's inbound description. */
typedef int (*ref_fn)(void *arg, ref r);

static int refs_keras2(const kvk_json *node, ref_fn fn, void *arg) {
    /* [["name", node, tensor, {kwargs}], ...] */
    for (size_t i = 0; kvk_json_is(node, KVK_JSON_ARRAY) && i < node->length; i++) {
        const kvk_json *e = &node->items[i];
        ref r = {kvk_json_string(kvk_json_at(e, 0)), -1, -1};
        if (!r.layer || !json_int(kvk_json_at(e, 1), &r.node) ||
            !json_int(kvk_json_at(e, 2), &r.tensor))
            return 0;
        if (!fn(arg, r)) return 0;
    }
    return 1;
}

/* Keras 3: keras tensors anywhere inside args, in order. */
static int refs_keras3(const kvk_json *v, ref_fn fn, void *arg, int depth) {
    if (!v || depth > 16) return 1;
    if (kvk_json_is(v, KVK_JSON_ARRAY)) {
        for (size_t i = 0; i < v->length; i++)
            if (!refs_keras3(&v->items[i], fn, arg, depth + 1)) return 0;
        return 1;
    }
    if (!kvk_json_is(v, KVK_JSON_OBJECT)) return 1;
    const char *cls = kvk_json_get_string(v, "class_name");
    if (cls && !strcmp(cls, "__keras_tensor__")) {
        const kvk_json *h = kvk_json_get(kvk_json_get(v, "config"), "keras_history");
        ref r = {kvk_json_string(kvk_json_at(h, 0)), -1, -1};
        if (!r.layer || !json_int(kvk_json_at(h, 1), &r.node) ||
            !json_int(kvk_json_at(h, 2), &r.tensor))
            return 0;
        return fn(arg, r);
    }
    return 1;
}

static int for_each_ref(const kvk_json *call, ref_fn fn, void *arg) {
    if (kvk_json_is(call, KVK_JSON_OBJECT))
        return refs_keras3(kvk_json_get(call, "args"), fn, arg, 0);
    return refs_keras2(call, fn, arg);
}

/* input_layers / output_layers: [["name", node, tensor], ...] or one ["name", node, tensor]. */
static int for_each_io(const kvk_json *list, ref_fn fn, void *arg) {
    if (!kvk_json_is(list, KVK_JSON_ARRAY)) return 0;
    if (list->length && kvk_json_is(&list->items[0], KVK_JSON_STRING)) {
        ref r = {list->items[0].string, -1, -1};
        if (!json_int(kvk_json_at(list, 1), &r.node) || !json_int(kvk_json_at(list, 2), &r.tensor))
            return 0;
        return fn(arg, r);
    }
    for (size_t i = 0; i < list->length; i++) {
        const kvk_json *e = &list->items[i];
        ref r = {kvk_json_string(kvk_json_at(e, 0)), -1, -1};
        if (!r.layer || !json_int(kvk_json_at(e, 1), &r.node) ||
            !json_int(kvk_json_at(e, 2), &r.tensor))
            return 0;
        if (!fn(arg, r)) return 0;
    }
    return 1;
}

static slayer *find_layer(scope *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (!strcmp(s->layers[i].name, name)) return &s->layers[i];
    return NULL;
}

/* pre-scan: the highest node index referenced per layer, to find nested-model offsets */
typedef struct scan_arg {
    scope *s;
    int *max_ref;
} scan_arg;

static int scan_ref(void *arg, ref r) {
    scan_arg *a = arg;
    slayer *l = find_layer(a->s, r.layer);
    if (l && r.node > a->max_ref[l - a->s->layers]) a->max_ref[l - a->s->layers] = r.node;
    return 1;
}

static tensor eval_call(ctx *c, scope *s, slayer *l, int call);
static void nested_output(ctx *c, const char *name, tensor t);

typedef struct collect_arg {
    ctx *c;
    scope *s;
    slayer *user; /* the layer whose inputs these are (for messages) */
    tensor in[KVK_MAX_INPUTS * 2];
    int n;
} collect_arg;

static tensor resolve(ctx *c, scope *s, ref r, const char *user, const char *user_cls) {
    slayer *l = find_layer(s, r.layer);
    if (!l) {
        fail_layer(c, user, user_cls, "its input layer '%s' is not in model '%s'", r.layer,
                   s->name);
        return fail_t();
    }
    int call = r.node - l->offset;
    if (call < 0 || call >= l->calls) {
        fail_layer(c, user, user_cls, "refers to call %d of layer '%s', which has %d", r.node,
                   r.layer, l->calls);
        return fail_t();
    }
    if (r.tensor != 0) {
        fail_layer(c, user, user_cls,
                   "uses output %d of layer '%s': only single-output layers are supported",
                   r.tensor, r.layer);
        return fail_t();
    }
    return eval_call(c, s, l, call);
}

static int collect_ref(void *arg, ref r) {
    collect_arg *a = arg;
    if (a->n >= (int)(sizeof a->in / sizeof a->in[0])) {
        fail_layer(a->c, a->user->name, a->user->cls, "too many inputs");
        return 0;
    }
    tensor t = resolve(a->c, a->s, r, a->user->name, a->user->cls);
    if (t.node < 0) return 0;
    a->in[a->n++] = t;
    return 1;
}

static void add_row(ctx *c, int depth, const char *name, const char *cls, tensor t,
                    long long params) {
    if (depth != 0 || t.node < 0) return;
    kvk_config_model *info = c->info;
    if (!append((void **)&info->rows, &info->row_count, sizeof *info->rows)) {
        oom(c);
        return;
    }
    kvk_config_row *row = &info->rows[info->row_count - 1];
    snprintf(row->name, sizeof row->name, "%s", name);
    snprintf(row->cls, sizeof row->cls, "%s", cls);
    row->rank = t.rank;
    row->shape = c->g->nodes[t.node].shape;
    row->params = params;
    row->channels_first = c->channels_first;
}

static tensor eval_call(ctx *c, scope *s, slayer *l, int call) {
    if (c->status != KVK_OK) return fail_t();
    if (l->state[call] == 2) return l->out[call];
    if (l->state[call] == 1) {
        fail_layer(c, l->name, l->cls,
                   "is part of a cycle: its inputs depend on its own output (model '%s')", s->name);
        return fail_t();
    }
    l->state[call] = 1;
    tensor out = fail_t();
    long long before = c->params;
    if (l->is_input) {
        if (s->inputs) { /* a nested model: its inputs are the caller's tensors */
            int pos = l->input_pos;
            if (pos < 0 || pos >= s->input_count) {
                fail_layer(c, l->name, l->cls, "is not one of nested model '%s''s inputs", s->name);
                return fail_t();
            }
            out = s->inputs[pos];
            int h, w, ch;
            kvk_shape is = c->g->nodes[out.node].shape;
            if (image_shape(c, input_shape_of(l->cfg), &h, &w, &ch) &&
                (ch != is.c || (h > 0 && h != is.h) || (w > 0 && w != is.w) || out.rank != 3)) {
                fail_layer(c, l->name, l->cls,
                           "nested model '%s' expects %dx%dx%d, is given %dx%dx%d (inconsistent "
                           "shapes)",
                           s->name, h, w, ch, is.h, is.w, is.c);
                return fail_t();
            }
        } else {
            out = make_input(c, l->name, l->cls, input_shape_of(l->cfg));
        }
    } else {
        const kvk_json *nodes = kvk_json_get(l->obj, "inbound_nodes");
        collect_arg a = {.c = c, .s = s, .user = l};
        if (!for_each_ref(kvk_json_at(nodes, (size_t)call), collect_ref, &a)) {
            if (c->status == KVK_OK)
                fail_layer(c, l->name, l->cls, "inbound node %d is not understood", call);
            return fail_t();
        }
        if (l->is_model) {
            if (l->calls > 1) {
                fail_layer(c, l->name, l->cls,
                           "the nested model is called %d times: kvk runs a nested model once",
                           l->calls);
                return fail_t();
            }
            int count = 0;
            tensor outs[1];
            if (build_model(c, l->obj, a.in, a.n, s->depth + 1, outs, &count, 1) != KVK_OK)
                return fail_t();
            out = outs[0];
            nested_output(c, l->name, out);
        } else {
            out = apply_layer(c, l->name, l->cls, l->cfg, a.in, a.n, call);
        }
    }
    if (out.node < 0) {
        if (c->status == KVK_OK) fail_layer(c, l->name, l->cls, "could not be built");
        return fail_t();
    }
    if (call == 0) add_row(c, s->depth, l->name, l->cls, out, c->params - before);
    l->out[call] = out;
    l->state[call] = 2;
    return out;
}

typedef struct io_arg {
    ctx *c;
    scope *s;
    tensor *out;
    int n, max;
    int inputs; /* 1: mark input positions instead of evaluating */
} io_arg;

static int io_ref(void *arg, ref r) {
    io_arg *a = arg;
    if (a->inputs) {
        slayer *l = find_layer(a->s, r.layer);
        if (!l || !l->is_input) {
            fail_layer(a->c, r.layer, l ? l->cls : "?",
                       "is listed as an input of model '%s' but %s", a->s->name,
                       l ? "is not an InputLayer" : "is not among its layers");
            return 0;
        }
        l->input_pos = a->n++;
        return 1;
    }
    if (a->n >= a->max) {
        fail_layer(a->c, r.layer, "?", "model '%s' has more than %d outputs", a->s->name, a->max);
        return 0;
    }
    tensor t = resolve(a->c, a->s, r, a->s->name, "output");
    if (t.node < 0) return 0;
    a->out[a->n++] = t;
    return 1;
}

static void free_scope(scope *s) {
    for (int i = 0; i < s->count; i++) {
        free(s->layers[i].out);
        free(s->layers[i].state);
    }
    free(s->layers);
}

static kvk_status note_nested(ctx *c, const char *name) {
    kvk_config_model *info = c->info;
    int count = info->nested_count;
    if (!append((void **)&info->nested_node, &count, sizeof *info->nested_node)) return oom(c);
    info->nested_node[count - 1] = -1;
    if (!append((void **)&info->nested, &info->nested_count, sizeof *info->nested)) return oom(c);
    snprintf(info->nested[info->nested_count - 1], NAME_SIZE, "%s", name);
    return KVK_OK;
}

static void nested_output(ctx *c, const char *name, tensor t) {
    for (int i = 0; i < c->info->nested_count; i++)
        if (!strcmp(c->info->nested[i], name)) c->info->nested_node[i] = t.node;
}

static kvk_status build_functional(ctx *c, const kvk_json *model, const tensor *inputs, int count,
                                   int depth, tensor *outputs, int *output_count, int max_outputs) {
    const kvk_json *config = kvk_json_get(model, "config");
    const kvk_json *layers = model_layers(model);
    const char *mname = layer_name(model);
    scope s = {
        .name = mname ? mname : "model", .inputs = inputs, .input_count = count, .depth = depth};
    if (!layers || !layers->length)
        return fail_layer(c, s.name, kvk_json_get_string(model, "class_name"), "has no layers");
    s.layers = calloc(layers->length, sizeof *s.layers);
    if (!s.layers) return oom(c);
    s.count = (int)layers->length;
    int *max_ref = calloc(layers->length, sizeof *max_ref);
    if (!max_ref) {
        free_scope(&s);
        return oom(c);
    }
    for (int i = 0; i < s.count && c->status == KVK_OK; i++) {
        slayer *l = &s.layers[i];
        l->obj = &layers->items[i];
        l->cfg = kvk_json_get(l->obj, "config");
        l->name = layer_name(l->obj);
        l->cls = kvk_json_get_string(l->obj, "class_name");
        max_ref[i] = -1;
        if (!l->name || !l->cls) {
            fail_layer(c, l->name, l->cls, "layer %d of model '%s' has no name or class_name", i,
                       s.name);
            break;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(s.layers[j].name, l->name)) {
                fail_layer(c, l->name, l->cls, "two layers of model '%s' have this name", s.name);
                break;
            }
        l->is_input = !strcmp(l->cls, "InputLayer");
        l->is_model = is_model_class(l->cls) && model_layers(l->obj);
        const kvk_json *nodes = kvk_json_get(l->obj, "inbound_nodes");
        l->calls = l->is_input ? 1 : kvk_json_is(nodes, KVK_JSON_ARRAY) ? (int)nodes->length : 0;
        l->input_pos = -1;
        l->out = calloc((size_t)(l->calls ? l->calls : 1), sizeof *l->out);
        l->state = calloc((size_t)(l->calls ? l->calls : 1), 1);
        if (!l->out || !l->state) oom(c);
        if (l->is_model && c->status == KVK_OK) note_nested(c, l->name);
    }
    scan_arg sa = {&s, max_ref};
    for (int i = 0; i < s.count && c->status == KVK_OK; i++) {
        const kvk_json *nodes = kvk_json_get(s.layers[i].obj, "inbound_nodes");
        for (size_t k = 0; kvk_json_is(nodes, KVK_JSON_ARRAY) && k < nodes->length; k++)
            for_each_ref(&nodes->items[k], scan_ref, &sa);
    }
    if (c->status == KVK_OK) for_each_io(kvk_json_get(config, "output_layers"), scan_ref, &sa);
    for (int i = 0; i < s.count; i++)
        if (s.layers[i].is_model && max_ref[i] >= s.layers[i].calls) s.layers[i].offset = 1;
    free(max_ref);

    /* the inputs: the outermost model has one image input; a nested one takes the caller's */
    io_arg ia = {.c = c, .s = &s, .inputs = 1};
    if (c->status == KVK_OK && !for_each_io(kvk_json_get(config, "input_layers"), io_ref, &ia) &&
        c->status == KVK_OK)
        fail_layer(c, s.name, kvk_json_get_string(model, "class_name"),
                   "'input_layers' is missing or not understood");
    if (c->status == KVK_OK && !inputs && ia.n != 1)
        fail_layer(c, s.name, kvk_json_get_string(model, "class_name"),
                   "has %d inputs: multi-input models are not supported (one image input only)",
                   ia.n);
    if (c->status == KVK_OK && inputs && ia.n != count)
        fail_layer(c, s.name, kvk_json_get_string(model, "class_name"),
                   "has %d inputs, is called with %d", ia.n, count);
    /* every call of every layer, in config order (inputs first, depth-first) */
    for (int i = 0; i < s.count && c->status == KVK_OK; i++)
        for (int k = 0; k < s.layers[i].calls && c->status == KVK_OK; k++)
            eval_call(c, &s, &s.layers[i], k);
    io_arg oa = {.c = c, .s = &s, .out = outputs, .max = max_outputs};
    if (c->status == KVK_OK && !for_each_io(kvk_json_get(config, "output_layers"), io_ref, &oa) &&
        c->status == KVK_OK)
        fail_layer(c, s.name, kvk_json_get_string(model, "class_name"),
                   "'output_layers' is missing or not understood");
    *output_count = oa.n;
    if (c->status == KVK_OK && oa.n < 1)
        fail_layer(c, s.name, kvk_json_get_string(model, "class_name"), "has no outputs");
    free_scope(&s);
    return c->status;
}

static kvk_status build_sequential(ctx *c, const kvk_json *model, const tensor *inputs, int count,
                                   int depth, tensor *outputs, int *output_count) {
    const kvk_json *layers = model_layers(model);
    const char *mname = layer_name(model);
    if (!mname) mname = "sequential";
    if (!layers || !layers->length) return fail_layer(c, mname, "Sequential", "has no layers");
    if (inputs && count != 1)
        return fail_layer(c, mname, "Sequential", "is called with %d inputs", count);
    tensor x = inputs ? inputs[0] : fail_t();
    for (size_t i = 0; i < layers->length && c->status == KVK_OK; i++) {
        const kvk_json *obj = &layers->items[i];
        const kvk_json *cfg = kvk_json_get(obj, "config");
        const char *name = layer_name(obj);
        const char *cls = kvk_json_get_string(obj, "class_name");
        if (!name || !cls)
            return fail_layer(c, name, cls, "layer %zu of '%s' has no name or class_name", i,
                              mname);
        long long before = c->params;
        if (!strcmp(cls, "InputLayer")) {
            if (i != 0) return fail_layer(c, name, cls, "an InputLayer after the first layer");
            if (!inputs) {
                x = make_input(c, name, cls, input_shape_of(cfg)); /* no row: as summary() */
            }
            continue;
        }
        if (x.node < 0) { /* no InputLayer: the first layer's batch_input_shape, or build shape */
            const kvk_json *shape = input_shape_of(cfg);
            if (!shape) shape = kvk_json_get(kvk_json_get(obj, "build_config"), "input_shape");
            if (!shape) shape = kvk_json_get(kvk_json_get(model, "config"), "build_input_shape");
            char in_name[NAME_SIZE];
            snprintf(in_name, sizeof in_name, "%.80s_input", name);
            x = make_input(c, in_name, "InputLayer", shape);
            if (x.node < 0) return c->status;
        }
        tensor y;
        if (is_model_class(cls) && model_layers(obj)) {
            if (note_nested(c, name) != KVK_OK) return c->status;
            int n = 0;
            if (build_model(c, obj, &x, 1, depth + 1, &y, &n, 1) != KVK_OK) return c->status;
            nested_output(c, name, y);
        } else {
            y = apply_layer(c, name, cls, cfg, &x, 1, 0);
        }
        if (y.node < 0) return c->status != KVK_OK ? c->status : fail_layer(c, name, cls, "failed");
        add_row(c, depth, name, cls, y, c->params - before);
        x = y;
    }
    outputs[0] = x;
    *output_count = 1;
    return c->status;
}

static kvk_status build_model(ctx *c, const kvk_json *model, const tensor *inputs, int count,
                              int depth, tensor *outputs, int *output_count, int max_outputs) {
    const char *cls = kvk_json_get_string(model, "class_name");
    if (depth > 16) return fail_layer(c, layer_name(model), cls, "models nested more than 16 deep");
    if (!cls || !is_model_class(cls))
        return fail_layer(c, layer_name(model), cls,
                          "the config's outer class is not Sequential, Functional or Model");
    if (!strcmp(cls, "Sequential"))
        return build_sequential(c, model, inputs, count, depth, outputs, output_count);
    return build_functional(c, model, inputs, count, depth, outputs, output_count, max_outputs);
}

/* --- the whole model ----------------------------------------------------------------------- */

typedef struct scan_format {
    int first, last, depth;
    const kvk_application *app; /* a keras.applications model found by its name */
} scan_format;

static void scan_config(const kvk_json *v, scan_format *f, int depth) {
    if (!v || depth > 64) return;
    if (kvk_json_is(v, KVK_JSON_ARRAY)) {
        for (size_t i = 0; i < v->length; i++) scan_config(&v->items[i], f, depth + 1);
        return;
    }
    if (!kvk_json_is(v, KVK_JSON_OBJECT)) return;
    const char *df = kvk_json_get_string(v, "data_format");
    if (df && !strcmp(df, "channels_first")) f->first = 1;
    if (df && !strcmp(df, "channels_last")) f->last = 1;
    const char *cls = kvk_json_get_string(v, "class_name");
    if (is_model_class(cls) && !f->app) { /* a keras.applications model, by its name */
        const kvk_application *app = kvk_application_for_model_name(layer_name(v));
        if (app) f->app = app;
    }
    for (size_t i = 0; i < v->length; i++)
        if (v->items[i].type == KVK_JSON_ARRAY || v->items[i].type == KVK_JSON_OBJECT)
            scan_config(&v->items[i], f, depth + 1);
}

static int find_model_name(const kvk_json *v, const char *name, int depth) {
    if (!v || depth > 64 || (v->type != KVK_JSON_ARRAY && v->type != KVK_JSON_OBJECT)) return 0;
    if (v->type == KVK_JSON_OBJECT && is_model_class(kvk_json_get_string(v, "class_name"))) {
        const char *n = layer_name(v);
        if (n && !strcmp(n, name)) return 1;
    }
    for (size_t i = 0; i < v->length; i++)
        if (find_model_name(&v->items[i], name, depth + 1)) return 1;
    return 0;
}

int kvk_config_has_model(const char *json, size_t length, const char *name) {
    kvk_json *root = NULL;
    if (!name || kvk_json_parse(json, length, "model config", &root) != KVK_OK) return 0;
    int found = find_model_name(root, name, 0);
    kvk_json_free(root);
    return found;
}

/* Keras 3 itself wrote this config: only it writes keras_history and batch_shape (tf-keras
 * 2.13+ writes registered_name too). Decides what "hard_sigmoid" means. */
static int written_by_keras3(const kvk_json *v, int depth) {
    if (!v || depth > 64) return 0;
    if (kvk_json_is(v, KVK_JSON_OBJECT) &&
        (kvk_json_get(v, "keras_history") || kvk_json_get(v, "batch_shape")))
        return 1;
    if (v->type == KVK_JSON_ARRAY || v->type == KVK_JSON_OBJECT)
        for (size_t i = 0; i < v->length; i++)
            if (written_by_keras3(&v->items[i], depth + 1)) return 1;
    return 0;
}

static int has_keras3_marks(const kvk_json *v, int depth) {
    if (!v || depth > 64) return 0;
    if (kvk_json_is(v, KVK_JSON_OBJECT)) {
        if (kvk_json_get(v, "keras_history") || kvk_json_get(v, "registered_name") ||
            kvk_json_get(v, "batch_shape"))
            return 1;
    }
    if (v->type == KVK_JSON_ARRAY || v->type == KVK_JSON_OBJECT)
        for (size_t i = 0; i < v->length; i++)
            if (has_keras3_marks(&v->items[i], depth + 1)) return 1;
    return 0;
}

void kvk_config_model_free(kvk_config_model *info) {
    if (!info) return;
    free(info->nested);
    free(info->nested_node);
    free(info->shared);
    free(info->no_bias);
    free(info->rows);
    free(info->rank);
    memset(info, 0, sizeof *info);
}

kvk_status kvk_config_build_json(const kvk_json *config, const char *what, int height, int width,
                                 kvk_graph *g, kvk_config_model *info) {
    memset(info, 0, sizeof *info);
    kvk_graph_init(g);
    if (!what) what = "model config";
    /* accept the wrappers: model.json's root or modelTopology, {"model_config": ...} */
    for (int i = 0; i < 3 && config && !kvk_json_get_string(config, "class_name"); i++) {
        const kvk_json *inner = kvk_json_get(config, "modelTopology");
        if (!inner) inner = kvk_json_get(config, "model_config");
        config = inner;
    }
    if (!config)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: no model config (an object with class_name)", what);
    scan_format f = {0};
    scan_config(config, &f, 0);
    if (f.first && f.last)
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "%s: the model mixes channels_first and channels_last layers", what);
    ctx c = {.g = g,
             .info = info,
             .what = what,
             .height = height,
             .width = width,
             .channels_first = f.first};
    info->channels_first = f.first;
    info->keras3 = has_keras3_marks(config, 0);
    c.keras_major = written_by_keras3(config, 0) ? 3 : 2;
    info->preprocess = f.app ? f.app->preprocess : "none";
    const char *name = layer_name(config);
    snprintf(info->name, sizeof info->name, "%s", name ? name : "model");
    tensor outs[KVK_MAX_OUTPUTS];
    int n = 0;
    kvk_status st = build_model(&c, config, NULL, 0, 0, outs, &n, KVK_MAX_OUTPUTS);
    if (st == KVK_OK && c.inputs_made != 1)
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: the model has no input layer", what);
    if (st == KVK_OK) {
        int nodes[KVK_MAX_OUTPUTS];
        for (int i = 0; i < n; i++) nodes[i] = outs[i].node;
        st = kvk_graph_set_outputs(g, nodes, n);
    }
    if (st != KVK_OK) {
        kvk_graph_free(g);
        kvk_config_model_free(info);
        return st;
    }
    info->total_params = c.params;
    return KVK_OK;
}

kvk_status kvk_config_build(const char *json, size_t length, const char *what, int height,
                            int width, kvk_graph *g, kvk_config_model *info) {
    memset(info, 0, sizeof *info);
    kvk_graph_init(g);
    kvk_json *root = NULL;
    kvk_status st = kvk_json_parse(json, length, what ? what : "model config", &root);
    if (st != KVK_OK) return st;
    st = kvk_config_build_json(root, what, height, width, g, info);
    kvk_json_free(root);
    return st;
}

/* --- binding ------------------------------------------------------------------------------- */

static int is_nested(const kvk_config_model *info, const char *name) {
    for (int i = 0; i < info->nested_count; i++)
        if (!strcmp(info->nested[i], name)) return 1;
    return 0;
}

/* The inner layer a nested model's weight belongs to: "conv1_conv/kernel:0" -> conv1_conv
 * (the path component before the last). NULL when the name has no '/'. */
static int owner_of(const char *weight, char *buf) {
    const char *last = strrchr(weight, '/');
    if (!last) return 0;
    const char *start = last;
    while (start > weight && start[-1] != '/') start--;
    size_t n = (size_t)(last - start);
    if (n == 0 || n >= NAME_SIZE) return 0;
    memcpy(buf, start, n);
    buf[n] = '\0';
    return 1;
}

static int weight_rank(const char *name) {
    static const char *const order[] = {
        "depthwise_kernel", "pointwise_kernel", "kernel", "bias", "gamma", "beta",
        "moving_mean",      "moving_variance"};
    const char *leaf = strrchr(name, '/');
    leaf = leaf ? leaf + 1 : name;
    size_t n = strcspn(leaf, ":");
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
        if (strlen(order[i]) == n && !strncmp(leaf, order[i], n)) return i;
    return -1;
}

/* A view of the file for binding: layers renamed/split, weights borrowed (data not owned). */
typedef struct view {
    kvk_weight_file file;
    float **owned; /* zero biases made here */
    int owned_count;
} view;

static void view_free(view *v) {
    for (int i = 0; i < v->file.layer_count; i++) {
        free(v->file.layers[i].name);
        free(v->file.layers[i].weights);
    }
    free(v->file.layers);
    for (int i = 0; i < v->owned_count; i++) free(v->owned[i]);
    free(v->owned);
}

static kvk_weight_layer *view_layer(view *v, const char *name) {
    for (int i = 0; i < v->file.layer_count; i++)
        if (!strcmp(v->file.layers[i].name, name)) return &v->file.layers[i];
    if (!append((void **)&v->file.layers, &v->file.layer_count, sizeof *v->file.layers))
        return NULL;
    kvk_weight_layer *l = &v->file.layers[v->file.layer_count - 1];
    l->name = strdup(name);
    if (!l->name) {
        v->file.layer_count--;
        return NULL;
    }
    return l;
}

static int view_add(kvk_weight_layer *l, const kvk_weight *w) {
    kvk_weight *ws = realloc(l->weights, (size_t)(l->count + 1) * sizeof *ws);
    if (!ws) return 0;
    l->weights = ws;
    ws[l->count++] = *w;
    return 1;
}

/* Whether a node of the graph owns this array (the binder moved it there). */
static int graph_holds(const kvk_graph *g, const float *data) {
    for (int i = 0; data && i < g->count; i++) {
        const kvk_node *n = &g->nodes[i];
        const float *arrays[] = {n->kernel, n->bias,     n->gamma, n->beta,
                                 n->mean,   n->variance, n->scale, n->shift};
        for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++)
            if (arrays[k] == data) return 1;
    }
    return 0;
}

/* The binder moved data into the graph: the file (or the view's own zero biases) must no
 * longer free it. */
static void view_settle_moves(view *v, const kvk_graph *g, kvk_weight_file *file) {
    for (int o = 0; o < v->owned_count; o++)
        if (graph_holds(g, v->owned[o])) v->owned[o] = NULL;
    for (int l = 0; l < file->layer_count; l++)
        for (int j = 0; j < file->layers[l].count; j++) {
            kvk_weight *w = &file->layers[l].weights[j];
            if (graph_holds(g, w->data)) {
                w->moved_to = w->data;
                w->data = NULL;
            }
        }
}

kvk_status kvk_config_bind(kvk_graph *g, const kvk_config_model *info, kvk_weight_file *file) {
    view v;
    memset(&v, 0, sizeof v);
    v.file = *file;
    v.file.layers = NULL;
    v.file.layer_count = 0;
    kvk_status st = KVK_OK;
    for (int i = 0; i < file->layer_count && st == KVK_OK; i++) {
        const kvk_weight_layer *fl = &file->layers[i];
        char owner[NAME_SIZE];
        const char *target = fl->name;
        /* TF.js names a nested model's weights "resnet50/conv1_conv/kernel": the reader's layer
         * is "resnet50/conv1_conv" */
        const char *slash = strchr(fl->name, '/');
        if (slash) {
            char head[NAME_SIZE];
            size_t n = (size_t)(slash - fl->name);
            if (n < NAME_SIZE) {
                memcpy(head, fl->name, n);
                head[n] = '\0';
                if (is_nested(info, head)) target = strrchr(fl->name, '/') + 1;
            }
        }
        int split = is_nested(info, fl->name);
        int start = v.file.layer_count;
        for (int j = 0; j < fl->count && st == KVK_OK; j++) {
            const kvk_weight *w = &fl->weights[j];
            const char *dest = target;
            if (split) {
                if (!owner_of(w->name, owner)) {
                    st = kvk_fail(KVK_ERROR_FORMAT,
                                  "%s: nested model '%s': weight '%s' does not name its layer",
                                  file->path, fl->name, w->name);
                    break;
                }
                dest = owner;
            }
            kvk_weight_layer *vl = view_layer(&v, dest);
            if (!vl || !view_add(vl, w))
                st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", file->path);
        }
        /* a nested model lists its layers' weights trainable first, then the rest (moving
         * statistics, frozen layers): restore each layer's Keras order */
        for (int k = start; split && k < v.file.layer_count; k++) {
            kvk_weight_layer *vl = &v.file.layers[k];
            int known = 1;
            for (int j = 0; j < vl->count; j++) known &= weight_rank(vl->weights[j].name) >= 0;
            for (int a = 1; known && a < vl->count; a++)
                for (int b = a; b > 0 && weight_rank(vl->weights[b - 1].name) >
                                             weight_rank(vl->weights[b].name);
                     b--) {
                    kvk_weight t = vl->weights[b];
                    vl->weights[b] = vl->weights[b - 1];
                    vl->weights[b - 1] = t;
                }
        }
    }
    /* Dense(use_bias=False): a zero bias */
    for (int i = 0; i < info->no_bias_count && st == KVK_OK; i++) {
        int node = kvk_graph_find(g, info->no_bias[i]);
        kvk_weight_layer *vl = NULL;
        for (int k = 0; k < v.file.layer_count; k++)
            if (!strcmp(v.file.layers[k].name, info->no_bias[i])) vl = &v.file.layers[k];
        if (node < 0 || !vl || vl->count != 1) continue; /* the binder reports what is wrong */
        float *zeros = calloc((size_t)g->nodes[node].shape.c, sizeof *zeros);
        if (!zeros || !append((void **)&v.owned, &v.owned_count, sizeof *v.owned)) {
            free(zeros);
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", file->path);
            break;
        }
        v.owned[v.owned_count - 1] = zeros;
        static char zero_bias_name[] = "bias (use_bias=False: zeros)";
        kvk_weight b = {.name = zero_bias_name,
                        .ndim = 1,
                        .dims = {g->nodes[node].shape.c},
                        .data = zeros,
                        .dtype = "float32"};
        if (!view_add(vl, &b))
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", file->path);
    }
    /* shared layers: every later call takes the first call's weights */
    for (int i = 0; i < info->shared_count && st == KVK_OK; i++) {
        const kvk_weight_layer *src = NULL;
        for (int k = 0; k < v.file.layer_count; k++)
            if (!strcmp(v.file.layers[k].name, info->shared[i][1])) src = &v.file.layers[k];
        if (!src) continue; /* reported by the binder for the first call */
        int idx = (int)(src - v.file.layers);
        kvk_weight_layer *dst = view_layer(&v, info->shared[i][0]);
        if (!dst) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", file->path);
            break;
        }
        src = &v.file.layers[idx]; /* view_layer may have moved the array */
        for (int j = 0; j < src->count && st == KVK_OK; j++)
            if (!view_add(dst, &src->weights[j]))
                st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", file->path);
    }
    if (st == KVK_OK) st = kvk_bind_weights(g, &v.file);
    view_settle_moves(&v, g, file);
    view_free(&v);
    return st;
}

/* --- the summary --------------------------------------------------------------------------- */

static void shape_string(const kvk_config_row *r, char *buf, size_t size) {
    if (r->rank == 1)
        snprintf(buf, size, "(None, %d)", r->shape.c);
    else if (r->channels_first)
        snprintf(buf, size, "(None, %d, %d, %d)", r->shape.c, r->shape.h, r->shape.w);
    else
        snprintf(buf, size, "(None, %d, %d, %d)", r->shape.h, r->shape.w, r->shape.c);
}

void kvk_config_print_summary(const kvk_config_model *info, FILE *out) {
    fprintf(out, "Model: \"%s\"%s\n", info->name,
            info->channels_first ? " (channels_first in the config; kvk runs it channels_last)"
                                 : "");
    fprintf(out, "%-48s %-24s %12s\n", "Layer (type)", "Output Shape", "Param #");
    for (int i = 0; i < 86; i++) fputc('=', out);
    fputc('\n', out);
    for (int i = 0; i < info->row_count; i++) {
        const kvk_config_row *r = &info->rows[i];
        char left[160], shape[64];
        snprintf(left, sizeof left, "%s (%s)", r->name, r->cls);
        shape_string(r, shape, sizeof shape);
        fprintf(out, "%-48s %-24s %12lld\n", left, shape, r->params);
    }
    for (int i = 0; i < 86; i++) fputc('=', out);
    fputc('\n', out);
    fprintf(out, "Total params: %lld\n", info->total_params);
}

kvk_status kvk_config_inspect_file(const char *path, FILE *out) {
    kvk_weight_source source;
    char *resolved;
    kvk_status st = kvk_weights_detect(path, &source, &resolved);
    if (st != KVK_OK) return st;
    kvk_weight_file *file = NULL;
    int listed = 0;
    st = kvk_weights_read_source(source, resolved, 0, &file, &listed);
    free(resolved);
    if (st != KVK_OK) return st;
    if (!file->model_config) {
        fprintf(out, "architecture: none in the file (kvk needs --model NAME for it)\n");
        kvk_weight_file_free(file);
        return KVK_OK;
    }
    kvk_graph g;
    kvk_config_model info;
    st = kvk_config_build(file->model_config, strlen(file->model_config), path, 0, 0, &g, &info);
    if (st != KVK_OK) {
        /* a None input size: show the table at an arbitrary size? No: say so. */
        fprintf(out, "architecture: the file's model config, which kvk cannot build: %s\n",
                kvk_last_error());
        kvk_weight_file_free(file);
        return KVK_OK;
    }
    fprintf(
        out,
        "architecture: the file's model config (--model-file, or --weights without --model)%s\n",
        info.keras3 ? ", Keras 3 format" : "");
    kvk_config_print_summary(&info, out);
    kvk_graph_free(&g);
    kvk_config_model_free(&info);
    kvk_weight_file_free(file);
    return ferror(out) ? kvk_fail(KVK_ERROR_IO, "inspect: cannot write the output") : KVK_OK;
}
