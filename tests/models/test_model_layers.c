/* kvk_model_layer_*: the Keras layers of a model, as Keras' model.layers lists them (names,
 * classes, output shapes), kvk's internal nodes left out, only the layers the outputs need.
 * Keras' own lists are compared in python/tests (python_examples); this checks the C API on
 * its own, on the CPU reference (plans only, nothing runs). */
#include <string.h>

#include "testutil.h"

static kvk_model *build(kvk_context *ctx, const char *arch, int size, int top,
                        const char *const *outputs, int output_count) {
    kvk_model_options o = {.architecture = arch,
                           .include_top = top,
                           .height = size,
                           .width = size,
                           .random_seed = 1,
                           .output_layers = outputs,
                           .output_layer_count = output_count};
    kvk_model *m = NULL;
    tu_check(kvk_model_create(ctx, &o, &m) == KVK_OK, "%s: %s", arch, kvk_last_error());
    return m;
}

/* Layer `index` is `name`, of class `cls`, with output shape dims[0..rank). */
static void check_layer(const kvk_model *m, int index, const char *name, const char *cls, int rank,
                        int h, int w, int c) {
    int dims[3] = {-1, -1, -1};
    const char *got = kvk_model_layer_name(m, index), *got_cls = kvk_model_layer_class(m, index);
    int got_rank = kvk_model_layer_dims(m, index, dims);
    int same = got && got_cls && !strcmp(got, name) && !strcmp(got_cls, cls) && got_rank == rank;
    if (same) same = rank == 1 ? dims[0] == c : dims[0] == h && dims[1] == w && dims[2] == c;
    tu_check(same, "layer %d: want %s (%s) rank %d (%d, %d, %d), got %s (%s) rank %d (%d, %d, %d)",
             index, name, cls, rank, h, w, c, got ? got : "NULL", got_cls ? got_cls : "NULL",
             got_rank, dims[0], dims[1], dims[2]);
}

static int find(const kvk_model *m, const char *name) {
    for (int i = 0; i < kvk_model_layer_count(m); i++)
        if (!strcmp(kvk_model_layer_name(m, i), name)) return i;
    return -1;
}

int main(void) {
    kvk_context *ctx = tu_reference_context();

    /* VGG16 without the top: Keras' 19 layers, input first */
    kvk_model *m = build(ctx, "vgg16", 64, 0, NULL, 0);
    if (m) {
        tu_check(kvk_model_layer_count(m) == 19, "vgg16: %d layers, Keras has 19",
                 kvk_model_layer_count(m));
        check_layer(m, 0, kvk_model_layer_name(m, 0), "InputLayer", 3, 64, 64, 3);
        check_layer(m, 1, "block1_conv1", "Conv2D", 3, 64, 64, 64);
        check_layer(m, 3, "block1_pool", "MaxPooling2D", 3, 32, 32, 64);
        check_layer(m, 18, "block5_pool", "MaxPooling2D", 3, 2, 2, 512);
        int dims[3];
        tu_check(!kvk_model_layer_name(m, 19) && !kvk_model_layer_name(m, -1) &&
                     !kvk_model_layer_class(m, 19) && kvk_model_layer_dims(m, 19, dims) == 0,
                 "vgg16: indices out of range give NULL and 0");
        kvk_model_destroy(m);
    }

    /* Features: only the layers up to the requested one */
    const char *block2[] = {"block2_pool"};
    m = build(ctx, "vgg16", 64, 0, block2, 1);
    if (m) {
        tu_check(kvk_model_layer_count(m) == 7, "vgg16 to block2_pool: %d layers, want 7",
                 kvk_model_layer_count(m));
        check_layer(m, 6, "block2_pool", "MaxPooling2D", 3, 16, 16, 128);
        kvk_model_destroy(m);
    }

    /* ResNet50 with the top: the Dense classifier listed once (its softmax is kvk's own node),
     * flat shapes of rank 1, fused BatchNormalization layers still listed */
    m = build(ctx, "resnet50", 224, 1, NULL, 0);
    if (m) {
        int n = kvk_model_layer_count(m);
        tu_check(n == 177, "resnet50: %d layers, Keras has 177", n);
        check_layer(m, n - 1, "predictions", "Dense", 1, 0, 0, 1000);
        check_layer(m, n - 2, "avg_pool", "GlobalAveragePooling2D", 1, 0, 0, 2048);
        int bn = find(m, "conv1_bn");
        if (tu_check(bn > 0, "resnet50: conv1_bn listed"))
            check_layer(m, bn, "conv1_bn", "BatchNormalization", 3, 112, 112, 64);
        for (int i = 0; i < n; i++)
            tu_check(strcmp(kvk_model_layer_class(m, i), "Softmax") != 0,
                     "resnet50: internal softmax listed as layer %d", i);
        kvk_model_destroy(m);
    }

    /* Xception: a SeparableConv2D is one layer, its depthwise half is not listed */
    m = build(ctx, "xception", 71, 0, NULL, 0);
    if (m) {
        int i = find(m, "block2_sepconv1");
        if (tu_check(i > 0, "xception: block2_sepconv1 listed"))
            tu_check(!strcmp(kvk_model_layer_class(m, i), "SeparableConv2D"),
                     "xception: block2_sepconv1 is a %s", kvk_model_layer_class(m, i));
        tu_check(find(m, "block2_sepconv1/depthwise") < 0,
                 "xception: the depthwise half is not a Keras layer");
        tu_check(kvk_model_layer_count(m) == 132, "xception: %d layers, Keras has 132",
                 kvk_model_layer_count(m));
        kvk_model_destroy(m);
    }
    kvk_context_destroy(ctx);
    return tu_finish();
}
