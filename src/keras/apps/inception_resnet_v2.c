/* InceptionResNetV2, as tf_keras.applications.inception_resnet_v2 defines it (keras-applications
 * 1.0.8 builds the same layers in the same order, with a Lambda for the scaling).
 *
 * conv2d_bn() without a name creates Conv2D, BatchNormalization(scale=False) and Activation
 * layers that Keras names automatically: they are built with a fresh tf.keras session's names
 * (conv2d, batch_normalization, activation, ...; the pooling layers too) and matched to the
 * weight file's numbering by kvk_app_match_auto_names, as for InceptionV3. Named ones get
 * "<name>_bn" and "<name>_ac" (conv_7b). Each residual block ends in
 *     up = Conv2D(channels, 1, use_bias=True, name=block + "_conv")(mixed)
 *     x = CustomScaleLayer(scale)([x, up])         # x + up * scale, "custom_scale_layer_N"
 *     x = Activation("relu", name=block + "_ac")(x)  # not after block8_10
 * which kvk builds as an Affine "custom_scale_layer_N/scale" (up * scale) and an Add named
 * after the Keras layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "keras/apps/apps.h"

typedef struct irv2 {
    kvk_graph *g;
    int conv, bn, act, maxpool, avgpool, scale; /* Keras' per-class name counters */
} irv2;

static const float EPS = 1e-3f; /* BatchNormalization's default */

/* conv2d_bn(x, filters, kernel, strides, padding, activation="relu", use_bias=False, name) */
static int conv2d_bn(irv2 *m, int x, int filters, int kh, int kw, int stride, kvk_padding padding,
                     const char *name) {
    char n[96];
    if (name) snprintf(n, sizeof n, "%s", name);
    x = kvk_graph_conv2d(m->g, x, name ? n : kvk_app_auto_name(n, "conv2d", &m->conv), filters, kh,
                         kw, stride, stride, padding, 0, KVK_ACT_LINEAR);
    if (name) snprintf(n, sizeof n, "%s_bn", name);
    x = kvk_graph_batchnorm(m->g, x, name ? n : kvk_app_auto_name(n, "batch_normalization", &m->bn),
                            EPS, 1, 0);
    if (name) snprintf(n, sizeof n, "%s_ac", name);
    return kvk_graph_activation(m->g, x, name ? n : kvk_app_auto_name(n, "activation", &m->act),
                                KVK_ACT_RELU);
}

/* conv2d_bn with a square kernel, strides 1, padding 'same', no name */
static int cbn(irv2 *m, int x, int filters, int kh, int kw) {
    return conv2d_bn(m, x, filters, kh, kw, 1, KVK_PAD_SAME, NULL);
}

/* MaxPooling2D(3, strides=2) ('valid'), unnamed */
static int max_pool(irv2 *m, int x) {
    char n[96];
    return kvk_graph_maxpool(m->g, x, kvk_app_auto_name(n, "max_pooling2d", &m->maxpool), 3, 3, 2,
                             2, KVK_PAD_VALID);
}

/* inception_resnet_block(x, scale, block_type, block_idx, activation) */
static int resnet_block(irv2 *m, int x, float scale, const char *type, int idx, int relu) {
    kvk_graph *g = m->g;
    char block[32], n[128];
    int b[3], count;
    snprintf(block, sizeof block, "%s_%d", type, idx);
    if (!strcmp(type, "block35")) {
        b[0] = cbn(m, x, 32, 1, 1);
        b[1] = cbn(m, x, 32, 1, 1);
        b[1] = cbn(m, b[1], 32, 3, 3);
        b[2] = cbn(m, x, 32, 1, 1);
        b[2] = cbn(m, b[2], 48, 3, 3);
        b[2] = cbn(m, b[2], 64, 3, 3);
        count = 3;
    } else if (!strcmp(type, "block17")) {
        b[0] = cbn(m, x, 192, 1, 1);
        b[1] = cbn(m, x, 128, 1, 1);
        b[1] = cbn(m, b[1], 160, 1, 7);
        b[1] = cbn(m, b[1], 192, 7, 1);
        count = 2;
    } else { /* block8 */
        b[0] = cbn(m, x, 192, 1, 1);
        b[1] = cbn(m, x, 192, 1, 1);
        b[1] = cbn(m, b[1], 224, 1, 3);
        b[1] = cbn(m, b[1], 256, 3, 1);
        count = 2;
    }
    snprintf(n, sizeof n, "%s_mixed", block);
    int mixed = kvk_graph_concat(g, b, count, n);
    if (x < 0 || mixed < 0) return -1;
    int channels = g->nodes[x].shape.c;
    snprintf(n, sizeof n, "%s_conv", block);
    int up = kvk_graph_conv2d(g, mixed, n, channels, 1, 1, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);

    char layer[96];
    kvk_app_auto_name(layer, "custom_scale_layer", &m->scale);
    float *scales = malloc(sizeof(float) * (size_t)channels);
    float *shifts = calloc((size_t)channels, sizeof(float));
    if (!scales || !shifts) {
        free(scales);
        free(shifts);
        if (g->status == KVK_OK)
            g->status = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory for layer '%s'", layer);
        return -1;
    }
    for (int c = 0; c < channels; c++) scales[c] = scale; /* Keras: up * float32(scale) */
    snprintf(n, sizeof n, "%s/scale", layer);
    up = kvk_graph_affine(g, up, n, scales, shifts);
    x = kvk_graph_add(g, x, up, layer);
    if (!relu) return x;
    snprintf(n, sizeof n, "%s_ac", block);
    return kvk_graph_activation(g, x, n, KVK_ACT_RELU);
}

kvk_status kvk_build_inception_resnet_v2(kvk_graph *g, const kvk_app_args *args) {
    irv2 m = {.g = g};
    char n[96];
    int b[4];
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = conv2d_bn(&m, x, 32, 3, 3, 2, KVK_PAD_VALID, NULL);
    x = conv2d_bn(&m, x, 32, 3, 3, 1, KVK_PAD_VALID, NULL);
    x = cbn(&m, x, 64, 3, 3);
    x = max_pool(&m, x);
    x = conv2d_bn(&m, x, 80, 1, 1, 1, KVK_PAD_VALID, NULL);
    x = conv2d_bn(&m, x, 192, 3, 3, 1, KVK_PAD_VALID, NULL);
    x = max_pool(&m, x);

    /* mixed_5b (Inception-A) */
    b[0] = cbn(&m, x, 96, 1, 1);
    b[1] = cbn(&m, x, 48, 1, 1);
    b[1] = cbn(&m, b[1], 64, 5, 5);
    b[2] = cbn(&m, x, 64, 1, 1);
    b[2] = cbn(&m, b[2], 96, 3, 3);
    b[2] = cbn(&m, b[2], 96, 3, 3);
    b[3] = kvk_graph_avgpool(g, x, kvk_app_auto_name(n, "average_pooling2d", &m.avgpool), 3, 3, 1,
                             1, KVK_PAD_SAME);
    b[3] = cbn(&m, b[3], 64, 1, 1);
    x = kvk_graph_concat(g, b, 4, "mixed_5b");
    for (int i = 1; i <= 10; i++) x = resnet_block(&m, x, 0.17f, "block35", i, 1);

    /* mixed_6a (Reduction-A) */
    b[0] = conv2d_bn(&m, x, 384, 3, 3, 2, KVK_PAD_VALID, NULL);
    b[1] = cbn(&m, x, 256, 1, 1);
    b[1] = cbn(&m, b[1], 256, 3, 3);
    b[1] = conv2d_bn(&m, b[1], 384, 3, 3, 2, KVK_PAD_VALID, NULL);
    b[2] = max_pool(&m, x);
    x = kvk_graph_concat(g, b, 3, "mixed_6a");
    for (int i = 1; i <= 20; i++) x = resnet_block(&m, x, 0.1f, "block17", i, 1);

    /* mixed_7a (Reduction-B) */
    b[0] = cbn(&m, x, 256, 1, 1);
    b[0] = conv2d_bn(&m, b[0], 384, 3, 3, 2, KVK_PAD_VALID, NULL);
    b[1] = cbn(&m, x, 256, 1, 1);
    b[1] = conv2d_bn(&m, b[1], 288, 3, 3, 2, KVK_PAD_VALID, NULL);
    b[2] = cbn(&m, x, 256, 1, 1);
    b[2] = cbn(&m, b[2], 288, 3, 3);
    b[2] = conv2d_bn(&m, b[2], 320, 3, 3, 2, KVK_PAD_VALID, NULL);
    b[3] = max_pool(&m, x);
    x = kvk_graph_concat(g, b, 4, "mixed_7a");
    for (int i = 1; i <= 9; i++) x = resnet_block(&m, x, 0.2f, "block8", i, 1);
    x = resnet_block(&m, x, 1.0f, "block8", 10, 0);

    x = conv2d_bn(&m, x, 1536, 1, 1, 1, KVK_PAD_SAME, "conv_7b");
    kvk_app_head(g, x, args, "global_average_pooling2d", "global_max_pooling2d");
    if (g->status == KVK_OK && args->weights)
        return kvk_app_match_auto_names(g, args->weights, "InceptionResNetV2");
    return g->status;
}
