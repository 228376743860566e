#include "keras/apps/apps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

/* MobileNet: mobilenet_<alpha>_<rows>_tf[_no_top].h5, alpha written 1_0, 7_5, 5_0 or 2_5 and
 * rows the input size where Keras has ImageNet weights for it, else 224 (mobilenet.py). */
static void mobilenet_weights_name(double alpha, int rows, int include_top, char *buf,
                                   size_t size) {
    const char *text = alpha == 1.0 ? "1_0" : alpha == 0.75 ? "7_5" : alpha == 0.5 ? "5_0" : "2_5";
    snprintf(buf, size, "mobilenet_%s_%d_tf%s.h5", text, rows, include_top ? "" : "_no_top");
}

/* Python's str(float(x)): the shortest decimal that reads back as x, with a ".0" if whole. */
static void python_float(double x, char *buf, size_t size) {
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) break;
    }
    if (!strpbrk(buf, ".en")) snprintf(buf + strlen(buf), size - strlen(buf), ".0");
}

/* MobileNetV2: mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<str(float(alpha))>_<rows>
 * [_no_top].h5 (mobilenet_v2.py) */
static void mobilenet_v2_weights_name(double alpha, int rows, int include_top, char *buf,
                                      size_t size) {
    char a[32];
    python_float(alpha, a, sizeof a);
    snprintf(buf, size, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_%s_%d%s.h5", a, rows,
             include_top ? "" : "_no_top");
}

/* The square input sizes Keras has ImageNet MobileNet weights for (besides 224). */
static const int MOBILENET_SIZES[] = {128, 160, 192, 0};
static const int MOBILENET_V2_SIZES[] = {96, 128, 160, 192, 0};

#define TF_KERNELS(name)                                                                           \
    name "_weights_tf_dim_ordering_tf_kernels.h5",                                                 \
        name "_weights_tf_dim_ordering_tf_kernels_notop.h5"

static const kvk_application applications[] = {
    {"vgg16", "VGG16", 224, 32, "caffe", TF_KERNELS("vgg16"), kvk_build_vgg16, 0, NULL, NULL},
    {"vgg19", "VGG19", 224, 32, "caffe", TF_KERNELS("vgg19"), kvk_build_vgg19, 0, NULL, NULL},
    {"resnet50", "ResNet50", 224, 32, "caffe", TF_KERNELS("resnet50"), kvk_build_resnet50, 0, NULL,
     NULL},
    /* "inceptionv3" matches keras_name below, case-insensitively */
    {"inception_v3", "InceptionV3", 299, 75, "tf", TF_KERNELS("inception_v3"),
     kvk_build_inception_v3, 0, NULL, NULL},
    {"xception", "Xception", 299, 71, "tf", TF_KERNELS("xception"), kvk_build_xception, 0, NULL,
     NULL},
    {"mobilenet", "MobileNet", 224, 32, "tf", NULL, NULL, kvk_build_mobilenet,
     KVK_APP_ALPHA | KVK_APP_DEPTH_MULTIPLIER, MOBILENET_SIZES, mobilenet_weights_name},
    {"mobilenet_v2", "MobileNetV2", 224, 32, "tf", NULL, NULL, kvk_build_mobilenet_v2,
     KVK_APP_ALPHA, MOBILENET_V2_SIZES, mobilenet_v2_weights_name},
    {"densenet121", "DenseNet121", 224, 32, "torch", TF_KERNELS("densenet121"),
     kvk_build_densenet121, 0, NULL, NULL},
    {"densenet169", "DenseNet169", 224, 32, "torch", TF_KERNELS("densenet169"),
     kvk_build_densenet169, 0, NULL, NULL},
    {"densenet201", "DenseNet201", 224, 32, "torch", TF_KERNELS("densenet201"),
     kvk_build_densenet201, 0, NULL, NULL},
    {"resnet101", "ResNet101", 224, 32, "caffe", TF_KERNELS("resnet101"), kvk_build_resnet101, 0,
     NULL, NULL},
    {"resnet152", "ResNet152", 224, 32, "caffe", TF_KERNELS("resnet152"), kvk_build_resnet152, 0,
     NULL, NULL},
    /* "resnet50v2" matches keras_name, case-insensitively; Keras' files are resnet50v2_... */
    {"resnet50_v2", "ResNet50V2", 224, 32, "tf", TF_KERNELS("resnet50v2"), kvk_build_resnet50_v2, 0,
     NULL, NULL},
    {"resnet101_v2", "ResNet101V2", 224, 32, "tf", TF_KERNELS("resnet101v2"),
     kvk_build_resnet101_v2, 0, NULL, NULL},
    {"resnet152_v2", "ResNet152V2", 224, 32, "tf", TF_KERNELS("resnet152v2"),
     kvk_build_resnet152_v2, 0, NULL, NULL},
    {"inception_resnet_v2", "InceptionResNetV2", 299, 75, "tf", TF_KERNELS("inception_resnet_v2"),
     kvk_build_inception_resnet_v2, 0, NULL, NULL},
};

static const char *const NAMES =
    "vgg16, vgg19, resnet50, resnet101, resnet152, resnet50_v2, resnet101_v2, resnet152_v2, "
    "inception_v3, inception_resnet_v2, xception, mobilenet, mobilenet_v2, densenet121, "
    "densenet169, densenet201";

const char *kvk_application_names(void) {
    return NAMES;
}

const kvk_application *kvk_application_for_model_name(const char *model_name) {
    if (!model_name) return NULL;
    for (size_t i = 0; i < sizeof applications / sizeof applications[0]; i++) {
        const kvk_application *app = &applications[i];
        char joined[64]; /* "resnet50_v2" -> "resnet50v2", Keras' model name */
        size_t n = 0;
        for (const char *p = app->name; *p && n + 1 < sizeof joined; p++)
            if (*p != '_' || strncmp(p, "_v2", 3) != 0) joined[n++] = *p;
        joined[n] = '\0';
        if (!strcmp(model_name, app->name) || !strcmp(model_name, joined)) return app;
        /* MobileNet: "mobilenet_<alpha>_<rows>", MobileNetV2: "mobilenetv2_<alpha>_<rows>" */
        if (app->options & KVK_APP_ALPHA) {
            size_t len = strlen(joined);
            if (!strncmp(model_name, joined, len) && model_name[len] == '_' &&
                model_name[len + 1] >= '0' && model_name[len + 1] <= '9')
                return app;
        }
    }
    return NULL;
}

const char *kvk_application_weights_file(const kvk_application *app, double alpha, int height,
                                         int width, int include_top, char *buf, size_t size) {
    if (alpha == 0) alpha = 1.0;
    int h = height ? height : app->default_size, w = width ? width : app->default_size;
    int rows = app->default_size;
    for (const int *s = app->top_sizes; s && *s; s++)
        if (h == w && h == *s) rows = h;
    if (app->weights_name)
        app->weights_name(alpha, rows, include_top, buf, size);
    else
        snprintf(buf, size, "%s", include_top ? app->weights_file : app->weights_file_notop);
    return buf;
}

const kvk_application *kvk_application_find(const char *name) {
    for (size_t i = 0; i < sizeof applications / sizeof applications[0]; i++)
        if (name && (strcasecmp(name, applications[i].name) == 0 ||
                     strcasecmp(name, applications[i].keras_name) == 0))
            return &applications[i];
    kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "unknown model '%s' (known: %s)", name ? name : "(none)",
             kvk_application_names());
    return NULL;
}

kvk_status kvk_application_check_args(const kvk_application *app, const kvk_model_options *opts,
                                      kvk_app_args *args) {
    memset(args, 0, sizeof *args);
    args->include_top = opts->include_top;
    args->pooling = opts->pooling;
    args->classes = opts->classes ? opts->classes : 1000;
    int h = opts->height ? opts->height : app->default_size;
    int w = opts->width ? opts->width : app->default_size;
    if (opts->classes < 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: classes must be positive, got %d",
                        app->keras_name, opts->classes);
    if (opts->height < 0 || opts->width < 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: input size %dx%d is negative",
                        app->keras_name, opts->height, opts->width);
    if (!(app->options & KVK_APP_ALPHA) && opts->alpha != 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "%s has no alpha (got %g; MobileNet and MobileNetV2 have one)",
                        app->keras_name, opts->alpha);
    if (!(opts->alpha >= 0) || opts->alpha > 1e3) /* NaN too */
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: alpha must be positive, got %g",
                        app->keras_name, opts->alpha);
    if (!(app->options & KVK_APP_DEPTH_MULTIPLIER) && opts->depth_multiplier != 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "%s has no depth_multiplier (got %d; MobileNet has one)", app->keras_name,
                        opts->depth_multiplier);
    if (opts->depth_multiplier < 0 || opts->depth_multiplier > 1024)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "%s: depth_multiplier must be between 1 and 1024, got %d", app->keras_name,
                        opts->depth_multiplier);
    args->alpha = opts->alpha;
    args->depth_multiplier = opts->depth_multiplier;
    /* keras' obtain_input_shape: ImageNet weights with the top fix the input size (MobileNet's
     * to one of several square sizes)... */
    int top_size_ok = h == app->default_size && w == app->default_size;
    char sizes[128] = "";
    for (const int *s = app->top_sizes; s && *s; s++) {
        if (h == *s && w == *s) top_size_ok = 1;
        snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), ", (%d, %d, 3)", *s, *s);
    }
    if (opts->include_top && opts->weights && !top_size_ok)
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: with include_top and loaded weights the input shape must be "
                        "%s(%d, %d, 3)%s, got (%d, %d, 3) (Keras' rule: the classifier's weights "
                        "fix the input size; use include_top=false for other sizes)",
                        app->keras_name, *sizes ? "one of " : "", app->default_size,
                        app->default_size, sizes, h, w);
    /* ...and every input must be at least min_size on both sides. */
    if (h < app->min_size || w < app->min_size)
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: Input size must be at least %dx%d; Received: input_shape=(%d, %d, 3)",
                        app->keras_name, app->min_size, app->min_size, h, w);
    args->height = h;
    args->width = w;
    return KVK_OK;
}

int kvk_app_head_pooling(kvk_graph *g, int x, kvk_pooling pooling, const char *avg_name,
                         const char *max_name) {
    if (pooling == KVK_POOLING_AVG) return kvk_graph_global_avgpool(g, x, avg_name);
    if (pooling == KVK_POOLING_MAX) return kvk_graph_global_maxpool(g, x, max_name);
    return x;
}

static void format_auto_name(char *buf, size_t size, const char *prefix, int number) {
    if (number == 0)
        snprintf(buf, size, "%s", prefix);
    else
        snprintf(buf, size, "%s_%d", prefix, number);
}

int kvk_app_head(kvk_graph *g, int x, const kvk_app_args *args, const char *avg_name,
                 const char *max_name) {
    if (!args->include_top) return kvk_app_head_pooling(g, x, args->pooling, avg_name, max_name);
    x = kvk_graph_global_avgpool(g, x, "avg_pool");
    return kvk_graph_dense(g, x, "predictions", args->classes, KVK_ACT_SOFTMAX);
}

int kvk_app_weight_dim(const kvk_weight_file *file, const char *layer) {
    const kvk_weight_layer *l = file ? kvk_weight_file_layer(file, layer) : NULL;
    if (!l || l->count < 1 || l->weights[0].ndim < 1) return 0;
    return (int)l->weights[0].dims[l->weights[0].ndim - 1];
}

int kvk_app_relu6(kvk_graph *g, int x, const char *name) {
    kvk_act relu6 = kvk_act_default(KVK_ACT_RELU);
    relu6.max_value = 6.0f;
    return kvk_graph_activation_ex(g, x, name, relu6);
}

const char *kvk_app_auto_name(char *buf, const char *prefix, int *counter) {
    format_auto_name(buf, 96, prefix, (*counter)++);
    return buf;
}

/* ---- automatic layer names -------------------------------------------------------------
 * Keras names an unnamed layer after its class plus a per-session counter: tf.keras counts
 * from 0 ("conv2d", "conv2d_1", ...), Keras 2.0-2.2 counted from 1 ("conv2d_1", ...; the
 * official ImageNet files), and any session that built other models first continues where
 * they stopped ("conv2d_94", ...). Keras loads such files by layer order, not by name, so
 * they all load into one architecture; kvk binds by name, so it renames its fresh-session
 * names to the file's. Weighted classes are matched one to one, in creation order (the
 * file's numbers sorted, not its storage order). Weightless layers leave no trace in a
 * weight file, so their numbers are inferred from the first conv2d number F: Activation is
 * created in lockstep with Conv2D by the architectures that use auto-named ones
 * (InceptionV3's conv2d_bn), so counts from F too; the other classes count from 0 in a
 * fresh tf.keras session (F == 0) and from 1 otherwise, as Keras 2.0-2.2 did, shifted when
 * F shows that the same architecture was built before in that session. Separable
 * convolutions' "<name>/depthwise" halves are kvk's own nodes and never auto-named. */

/* Whether name is "prefix" (number 0) or "prefix_N" (N >= 1, no leading zero). */
static int parse_auto_name(const char *name, const char *prefix, int *number) {
    size_t len = strlen(prefix);
    if (strncmp(name, prefix, len) != 0) return 0;
    const char *p = name + len;
    if (*p == '\0') {
        *number = 0;
        return 1;
    }
    if (*p != '_' || p[1] < '1' || p[1] > '9') return 0;
    long n = 0;
    for (p++; *p; p++) {
        if (*p < '0' || *p > '9' || n > 100000000) return 0;
        n = n * 10 + (*p - '0');
    }
    *number = (int)n;
    return 1;
}

static int compare_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The graph's nodes named prefix[_N], in graph order; returns the count (nodes may be NULL). */
static int graph_auto_nodes(const kvk_graph *g, const char *prefix, int *nodes) {
    int count = 0, n;
    for (int i = 0; i < g->count; i++)
        if (parse_auto_name(g->nodes[i].name, prefix, &n)) {
            if (nodes) nodes[count] = i;
            count++;
        }
    return count;
}

/* Renames the graph's prefix[_N] nodes to the file's, matched in creation order. Sets *first
 * to the file's lowest number (-1 if the file has none). */
static kvk_status match_weighted(kvk_graph *g, const kvk_weight_file *file, const char *keras_name,
                                 const char *prefix, int *first) {
    *first = -1;
    int file_count = 0, n;
    for (int k = 0; k < file->layer_count; k++)
        if (parse_auto_name(file->layers[k].name, prefix, &n)) file_count++;
    if (file_count == 0) return KVK_OK; /* the binder reports the first missing layer */
    int graph_count = graph_auto_nodes(g, prefix, NULL);
    if (graph_count != file_count)
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: weight file %s has %d layers named %s or %s_<N>, but the "
                        "architecture has %d (unnamed in Keras, which numbers them in creation "
                        "order); is the file of another model?",
                        keras_name, file->path, file_count, prefix, prefix, graph_count);
    int *numbers = malloc((size_t)file_count * sizeof *numbers);
    int *nodes = malloc((size_t)graph_count * sizeof *nodes);
    if (!numbers || !nodes) {
        free(numbers);
        free(nodes);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory matching layer names");
    }
    int c = 0;
    for (int k = 0; k < file->layer_count; k++)
        if (parse_auto_name(file->layers[k].name, prefix, &n)) numbers[c++] = n;
    qsort(numbers, (size_t)file_count, sizeof *numbers, compare_int);
    graph_auto_nodes(g, prefix, nodes);
    for (int i = 0; i < graph_count; i++)
        format_auto_name(g->nodes[nodes[i]].name, sizeof g->nodes[0].name, prefix, numbers[i]);
    *first = numbers[0];
    free(numbers);
    free(nodes);
    return KVK_OK;
}

/* Numbers the graph's prefix[_N] nodes start, start + 1, ... in graph order. */
static void renumber_weightless(kvk_graph *g, const char *prefix, int start) {
    int n, next = start;
    for (int i = 0; i < g->count; i++)
        if (parse_auto_name(g->nodes[i].name, prefix, &n))
            format_auto_name(g->nodes[i].name, sizeof g->nodes[0].name, prefix, next++);
}

kvk_status kvk_app_match_auto_names(kvk_graph *g, const kvk_weight_file *file,
                                    const char *keras_name) {
    static const char *const weighted[] = {"conv2d", "batch_normalization"};
    static const char *const weightless[] = {
        "average_pooling2d",        "max_pooling2d",       "concatenate", "add",
        "global_average_pooling2d", "global_max_pooling2d"};
    if (g->status != KVK_OK || !file) return g->status;
    int first_conv = 0;
    for (size_t p = 0; p < sizeof weighted / sizeof weighted[0]; p++) {
        int first;
        kvk_status st = match_weighted(g, file, keras_name, weighted[p], &first);
        if (st != KVK_OK) return g->status = st;
        if (p == 0 && first >= 0) first_conv = first;
    }
    /* The file's first conv2d is base + models * convs: `models` copies of this architecture
     * were built before it in a session counting from `base` (0: tf.keras, 1: Keras 2.0-2.2).
     * Other histories cannot be told apart; they get base 1 and no earlier models. */
    int convs = graph_auto_nodes(g, "conv2d", NULL), base = first_conv == 0 ? 0 : 1, models = 0;
    if (convs > 0 && first_conv > 1) {
        if (first_conv % convs == 0) {
            base = 0;
            models = first_conv / convs;
        } else if ((first_conv - 1) % convs == 0) {
            models = (first_conv - 1) / convs;
        }
    }
    renumber_weightless(g, "activation", first_conv);
    for (size_t p = 0; p < sizeof weightless / sizeof weightless[0]; p++)
        renumber_weightless(g, weightless[p],
                            base + models * graph_auto_nodes(g, weightless[p], NULL));
    /* the new names come from one prefix each and are distinct within it; check anyway */
    for (int i = 0; i < g->count; i++)
        if (kvk_graph_find(g, g->nodes[i].name) != i)
            return g->status = kvk_fail(KVK_ERROR_SHAPE,
                                        "%s: renaming to %s's layer names made '%s' ambiguous",
                                        keras_name, file->path, g->nodes[i].name);
    return KVK_OK;
}
