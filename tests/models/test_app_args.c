/* The keras.applications constructor rules, as Keras states them: input sizes below the
 * architecture's minimum are refused, a classifier with loaded weights fixes the input size,
 * each architecture picks its own preprocess_input mode, and feature requests name real layers.
 * No device needed: models are built on the CPU reference (plans only, nothing runs). */
#include "testutil.h"

#include "keras/apps/apps.h"

typedef struct app_rule {
    const char *name;
    int default_size, min_size;
    const char *preprocess;
    const char *early_layer; /* a layer every size has, for the feature checks */
} app_rule;

static const app_rule RULES[] = {
    {"vgg16", 224, 32, "caffe", "block1_conv2"},
    {"vgg19", 224, 32, "caffe", "block2_pool"},
    {"resnet50", 224, 32, "caffe", "conv1_relu"},
    {"inception_v3", 299, 75, "tf", "mixed0"},
    {"xception", 299, 71, "tf", "block1_conv1_act"},
    {"mobilenet", 224, 32, "tf", "conv_pw_1_relu"},
    {"mobilenet_v2", 224, 32, "tf", "block_1_expand_relu"},
    {"densenet121", 224, 32, "torch", "conv1/relu"}, /* Keras' name, with its '/' */
    {"densenet169", 224, 32, "torch", "pool2_conv"},
    {"densenet201", 224, 32, "torch", "conv2_block1_concat"},
    {"resnet101", 224, 32, "caffe", "conv4_block23_out"},
    {"resnet152", 224, 32, "caffe", "conv3_block8_out"},
    {"resnet50_v2", 224, 32, "tf", "conv2_block1_preact_relu"},
    {"resnet101_v2", 224, 32, "tf", "max_pooling2d_1"}, /* conv3's strided shortcut */
    {"resnet152_v2", 224, 32, "tf", "conv4_block36_out"},
    {"inception_resnet_v2", 299, 75, "tf", "custom_scale_layer_1"}, /* block35_2's x + 0.17 up */
};

static kvk_status try_build(kvk_context *ctx, kvk_model_options o, kvk_model **m) {
    o.random_seed = 1;
    return kvk_model_create(ctx, &o, m);
}

static void check_rules(kvk_context *ctx, const app_rule *r) {
    kvk_model *m = NULL;
    char want[64];
    /* below the minimum, on either side */
    for (int side = 0; side < 2; side++) {
        kvk_model_options o = {.architecture = r->name,
                               .height = side ? r->min_size : r->min_size - 1,
                               .width = side ? r->min_size - 1 : r->min_size};
        kvk_status st = try_build(ctx, o, &m);
        snprintf(want, sizeof want, "at least %dx%d", r->min_size, r->min_size);
        tu_check(st == KVK_ERROR_SHAPE && m == NULL && strstr(kvk_last_error(), want),
                 "%s %dx%d refused, stating the minimum: %s", r->name, o.height, o.width,
                 kvk_last_error());
        kvk_model_destroy(m);
        m = NULL;
    }
    /* the smallest allowed size builds, and picks Keras' preprocess mode */
    kvk_model_options o = {.architecture = r->name, .height = r->min_size, .width = r->min_size};
    if (tu_check(try_build(ctx, o, &m) == KVK_OK, "%s at %dx%d builds: %s", r->name, r->min_size,
                 r->min_size, kvk_last_error()))
        tu_check(!strcmp(kvk_model_preprocess_mode(m), r->preprocess),
                 "%s preprocesses in '%s' mode (got '%s')", r->name, r->preprocess,
                 kvk_model_preprocess_mode(m));
    kvk_model_destroy(m);
    m = NULL;

    /* the classifier with loaded weights: only at the default size (the file is never
     * opened: the rule is checked first) */
    o = (kvk_model_options){.architecture = r->name,
                            .include_top = 1,
                            .weights = "/nonexistent/weights.h5",
                            .height = r->default_size + 1,
                            .width = r->default_size};
    kvk_status st = try_build(ctx, o, &m);
    snprintf(want, sizeof want, "(%d, %d, 3)", r->default_size, r->default_size);
    tu_check(st == KVK_ERROR_SHAPE && m == NULL && strstr(kvk_last_error(), want) &&
                 strstr(kvk_last_error(), "include_top"),
             "%s with top at %dx%d refused, stating the rule: %s", r->name, o.height, o.width,
             kvk_last_error());
    kvk_model_destroy(m);
    m = NULL;

    /* features: an unknown layer is named in the error */
    const char *unknown[1] = {"no_such_layer"};
    o = (kvk_model_options){.architecture = r->name,
                            .height = r->min_size,
                            .width = r->min_size,
                            .output_layers = unknown,
                            .output_layer_count = 1};
    st = try_build(ctx, o, &m);
    tu_check(st != KVK_OK && m == NULL && strstr(kvk_last_error(), "no_such_layer"),
             "%s: unknown feature layer named: %s", r->name, kvk_last_error());
    kvk_model_destroy(m);
    m = NULL;

    /* features: two layers, one of them pooled shape checks */
    const char *layers[2] = {r->early_layer, r->early_layer};
    o.output_layers = layers;
    o.output_layer_count = 2;
    o.output_pooling = KVK_POOLING_AVG;
    if (tu_check(try_build(ctx, o, &m) == KVK_OK, "%s: features of %s: %s", r->name, r->early_layer,
                 kvk_last_error())) {
        int dims[3];
        tu_check(kvk_model_output_count(m) == 2 && kvk_model_output_dims(m, 1, dims) == 1 &&
                     !strcmp(kvk_model_output_name(m, 1), r->early_layer),
                 "%s: two pooled outputs named %s", r->name, r->early_layer);
    }
    kvk_model_destroy(m);
    m = NULL;

    /* kvk's own nodes are no layers: a SeparableConv2D's depthwise half, the pooling that a
     * pooled feature adds (asked for by its name) */
    const char *internal[2] = {"block2_sepconv1/depthwise", "block1_conv1_act/global_avg_pool"};
    for (int k = 0; k < 2 && !strcmp(r->name, "xception"); k++) {
        const char *two[2] = {"block1_conv1_act", internal[k]};
        o.output_layers = two;
        st = try_build(ctx, o, &m);
        tu_check(st != KVK_OK && m == NULL && strstr(kvk_last_error(), internal[k]),
                 "%s: internal node %s refused: %s", r->name, internal[k], kvk_last_error());
        kvk_model_destroy(m);
        m = NULL;
    }

    /* pooling a layer that is already flat is refused, naming the layer */
    const char *flat[1] = {"avg_pool"};
    if (!strcmp(r->name, "resnet50")) {
        o = (kvk_model_options){.architecture = r->name,
                                .include_top = 1,
                                .output_layers = flat,
                                .output_layer_count = 1,
                                .output_pooling = KVK_POOLING_MAX};
        st = try_build(ctx, o, &m);
        tu_check(st != KVK_OK && m == NULL && strstr(kvk_last_error(), "avg_pool"),
                 "%s: pooling a flat layer refused: %s", r->name, kvk_last_error());
        kvk_model_destroy(m);
    }
}

/* Keras' file names under ~/.keras/models/, which depend on alpha and size for MobileNet */
static void check_weight_names(void) {
    static const struct {
        const char *model;
        double alpha;
        int height, width, include_top;
        const char *file;
    } names[] = {
        {"vgg16", 0, 0, 0, 1, "vgg16_weights_tf_dim_ordering_tf_kernels.h5"},
        {"xception", 0, 100, 100, 0, "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"},
        {"mobilenet", 0, 0, 0, 1, "mobilenet_1_0_224_tf.h5"},
        {"mobilenet", 0.25, 128, 128, 1, "mobilenet_2_5_128_tf.h5"},
        {"mobilenet", 0.75, 160, 160, 0, "mobilenet_7_5_160_tf_no_top.h5"},
        {"mobilenet", 0.5, 160, 128, 0, "mobilenet_5_0_224_tf_no_top.h5"}, /* not square */
        {"mobilenet_v2", 0, 0, 0, 1, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"},
        {"mobilenet_v2", 0.35, 96, 96, 0,
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"},
        {"mobilenet_v2", 1.3, 100, 100, 1,
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.3_224.h5"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const kvk_application *app = kvk_application_find(names[i].model);
        char buf[256] = "";
        if (tu_check(app != NULL, "%s is known", names[i].model))
            kvk_application_weights_file(app, names[i].alpha, names[i].height, names[i].width,
                                         names[i].include_top, buf, sizeof buf);
        tu_check(!strcmp(buf, names[i].file), "%s alpha %g %dx%d top %d: file %s (got %s)",
                 names[i].model, names[i].alpha, names[i].height, names[i].width,
                 names[i].include_top, names[i].file, buf);
    }
}

/* the application a saved config's Model name is (its preprocess_input mode for config
 * models): keras.applications' own model names */
static void check_model_names(void) {
    static const char *const names[][2] = {
        {"resnet50", "resnet50"},
        {"resnet50v2", "resnet50_v2"},
        {"resnet152v2", "resnet152_v2"},
        {"densenet169", "densenet169"},
        {"mobilenet_0.25_128", "mobilenet"},
        {"mobilenetv2_1.00_224", "mobilenet_v2"},
        {"inception_resnet_v2", "inception_resnet_v2"},
        {"inception_v3", "inception_v3"},
        {"model", NULL},
        {"mobilenet_x", NULL},
        {"sequential", NULL},
        {"resnet50v3", NULL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const kvk_application *app = kvk_application_for_model_name(names[i][0]);
        tu_check(names[i][1] ? app && !strcmp(app->name, names[i][1]) : !app,
                 "Keras model name %s is application %s (got %s)", names[i][0],
                 names[i][1] ? names[i][1] : "(none)", app ? app->name : "(none)");
    }
}

/* alpha and depth_multiplier: only where Keras has them, positive; MobileNet's classifier
 * takes the sizes Keras has ImageNet weights for */
static void check_alpha(kvk_context *ctx) {
    static const struct {
        kvk_model_options o;
        const char *error; /* NULL: builds */
    } cases[] = {
        {{.architecture = "resnet50", .alpha = 0.5, .height = 32, .width = 32}, "has no alpha"},
        {{.architecture = "mobilenet_v2", .depth_multiplier = 2, .height = 32, .width = 32},
         "has no depth_multiplier"},
        {{.architecture = "mobilenet", .alpha = -1, .height = 32, .width = 32},
         "alpha must be positive, got -1"},
        {{.architecture = "mobilenet", .depth_multiplier = -2, .height = 32, .width = 32},
         "depth_multiplier must be between 1 and 1024, got -2"},
        {{.architecture = "mobilenet", .alpha = 0.01, .height = 32, .width = 32},
         "'conv1'"}, /* int(32 * 0.01) = 0 filters */
        {{.architecture = "mobilenet",
          .include_top = 1,
          .weights = "/nonexistent/weights.h5",
          .height = 100,
          .width = 100},
         "one of (224, 224, 3), (128, 128, 3), (160, 160, 3), (192, 192, 3), got (100, 100, 3)"},
        {{.architecture = "mobilenet_v2",
          .include_top = 1,
          .weights = "/nonexistent/weights.h5",
          .height = 96,
          .width = 128},
         "(96, 96, 3)"},
        /* a size Keras has weights for passes the rule: the file is what fails */
        {{.architecture = "mobilenet",
          .include_top = 1,
          .weights = "/nonexistent/weights.h5",
          .height = 128,
          .width = 128},
         "/nonexistent/weights.h5"},
        {{.architecture = "mobilenet_v2",
          .include_top = 1,
          .weights = "/nonexistent/weights.h5",
          .height = 96,
          .width = 96},
         "/nonexistent/weights.h5"},
        {{.architecture = "mobilenet",
          .alpha = 0.3,
          .depth_multiplier = 3,
          .include_top = 1,
          .classes = 5,
          .height = 40,
          .width = 36},
         NULL},
        {{.architecture = "mobilenet_v2", .alpha = 0.1, .height = 33, .width = 35}, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvk_model *m = NULL;
        kvk_status st = try_build(ctx, cases[i].o, &m);
        const char *name = cases[i].o.architecture;
        if (cases[i].error)
            tu_check(st != KVK_OK && m == NULL && strstr(kvk_last_error(), cases[i].error),
                     "%s alpha %g depth_multiplier %d %dx%d: refused with \"%s\": %s", name,
                     cases[i].o.alpha, cases[i].o.depth_multiplier, cases[i].o.height,
                     cases[i].o.width, cases[i].error, st == KVK_OK ? "built" : kvk_last_error());
        else
            tu_check(st == KVK_OK, "%s alpha %g depth_multiplier %d: builds: %s", name,
                     cases[i].o.alpha, cases[i].o.depth_multiplier, kvk_last_error());
        kvk_model_destroy(m);
    }
}

/* alpha and depth_multiplier told from a weight file's layer widths (a stand-in file: the
 * builders read only the shapes) */
static void check_inferred_alpha(void) {
    static const struct {
        const char *model;
        const char *layers[3];
        int dims[3];  /* each layer's weight's last dimension */
        double alpha; /* 0: refused */
        int depth_multiplier;
        const char *probe; /* a layer whose filters show alpha */
        int probe_filters;
    } cases[] = {
        {"mobilenet", {"conv1", "conv_dw_1", "conv_pw_13"}, {8, 1, 256}, 0.25, 1, "conv_pw_7", 128},
        {"mobilenet",
         {"conv1", "conv_dw_1", "conv_pw_13"},
         {24, 2, 768},
         0.75,
         2,
         "conv_dw_2",
         2 * 48},
        {"mobilenet", {"conv1", "conv_dw_1", "conv_pw_13"}, {12, 1, 384}, 0, 0, NULL, 0},
        {"mobilenet_v2",
         {"Conv1", "block_16_project", "Conv_1"},
         {16, 112, 1280},
         0.35,
         0,
         "block_5_project",
         16},
        {"mobilenet_v2",
         {"Conv1", "block_16_project", "Conv_1"},
         {40, 416, 1664},
         1.3,
         0,
         "block_5_project",
         40},
        {"mobilenet_v2",
         {"Conv1", "block_16_project", "Conv_1"},
         {16, 160, 1280},
         0.5,
         0,
         "block_15_expand",
         6 * 80},
        {"mobilenet_v2", {"Conv1", "block_16_project", "Conv_1"}, {32, 320, 1000}, 0, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvk_weight weights[3] = {{0}};
        kvk_weight_layer layers[3];
        for (int k = 0; k < 3; k++) {
            weights[k].ndim = 4;
            weights[k].dims[0] = weights[k].dims[1] = weights[k].dims[2] = 1;
            weights[k].dims[3] = cases[i].dims[k];
            layers[k] = (kvk_weight_layer){(char *)cases[i].layers[k], 1, &weights[k]};
        }
        kvk_weight_file file = {.path = "(stand-in)", .layer_count = 3, .layers = layers};
        const kvk_application *app = kvk_application_find(cases[i].model);
        kvk_model_options o = {.architecture = cases[i].model};
        kvk_app_args args;
        if (!tu_check(app && kvk_application_check_args(app, &o, &args) == KVK_OK, "%s args",
                      cases[i].model))
            continue;
        args.weights = &file;
        kvk_graph g;
        kvk_graph_init(&g);
        kvk_status st = app->build(&g, &args);
        if (cases[i].alpha == 0) {
            char want[64];
            snprintf(want, sizeof want, "with %d filters", cases[i].dims[0]);
            tu_check(st != KVK_OK && strstr(kvk_last_error(), "(stand-in)") &&
                         strstr(kvk_last_error(), want) && strstr(kvk_last_error(), "pass alpha"),
                     "%s: widths %d, %d, %d match no alpha: %s", cases[i].model, cases[i].dims[0],
                     cases[i].dims[1], cases[i].dims[2], st == KVK_OK ? "built" : kvk_last_error());
        } else if (tu_check(st == KVK_OK, "%s: build: %s", cases[i].model, kvk_last_error())) {
            int n = kvk_graph_find(&g, cases[i].probe);
            tu_check(n >= 0 && g.nodes[n].shape.c == cases[i].probe_filters,
                     "%s: widths %d, %d, %d: alpha %g, depth_multiplier %d: %s has %d filters "
                     "(got %d)",
                     cases[i].model, cases[i].dims[0], cases[i].dims[1], cases[i].dims[2],
                     cases[i].alpha, cases[i].depth_multiplier, cases[i].probe,
                     cases[i].probe_filters, n >= 0 ? g.nodes[n].shape.c : -1);
        }
        kvk_graph_free(&g);
    }
}

int main(void) {
    kvk_context *ctx = tu_reference_context();
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) check_rules(ctx, &RULES[i]);
    check_weight_names();
    check_alpha(ctx);
    check_inferred_alpha();
    check_model_names();
    kvk_context_destroy(ctx);
    return tu_finish();
}
