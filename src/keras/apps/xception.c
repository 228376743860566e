/* Xception, as keras.applications.xception defines it (tf-keras 2.x and keras-applications
 * 1.0.8 build the same layers in the same order).
 *
 * The four strided 1x1 residual convolutions, their BatchNormalizations and the residual
 * `layers.add` calls have no names in Keras: they are built with a fresh tf.keras session's
 * names (conv2d, conv2d_1, ..., batch_normalization, ..., add, add_1, ...) and matched to the
 * weight file's numbering by kvk_app_match_auto_names. */
#include <stdio.h>

#include "keras/apps/apps.h"

typedef struct xc {
    kvk_graph *g;
    int conv, bn, add; /* Keras' per-class name counters */
} xc;

static const float EPS = 1e-3f; /* BatchNormalization's default */

static int bn(xc *m, int x, const char *name) {
    char n[96];
    if (!name) name = kvk_app_auto_name(n, "batch_normalization", &m->bn);
    return kvk_graph_batchnorm(m->g, x, name, EPS, 1, 1);
}

static int relu(xc *m, int x, const char *name) {
    return kvk_graph_activation(m->g, x, name, KVK_ACT_RELU);
}

/* SeparableConv2D(filters, (3, 3), padding='same', use_bias=False, name=name) */
static int sepconv(xc *m, int x, const char *name, int filters) {
    return kvk_graph_separable_conv2d(m->g, x, name, filters, 3, 3, 1, 1, KVK_PAD_SAME, 0,
                                      KVK_ACT_LINEAR);
}

/* residual = Conv2D(filters, (1, 1), strides=(2, 2), padding='same', use_bias=False)(x)
 * residual = BatchNormalization()(residual) */
static int residual_conv(xc *m, int x, int filters) {
    char n[96];
    x = kvk_graph_conv2d(m->g, x, kvk_app_auto_name(n, "conv2d", &m->conv), filters, 1, 1, 2, 2,
                         KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
    return bn(m, x, NULL);
}

static int add(xc *m, int a, int b) {
    char n[96];
    return kvk_graph_add(m->g, a, b, kvk_app_auto_name(n, "add", &m->add));
}

/* blocks 2, 3, 4 and 13: two separable convolutions, a strided max pool, a 1x1 residual.
 * Block 2 starts straight from block1_conv2_act; the others with a ReLU of their own. */
static int entry_block(xc *m, int x, int block, int filters1, int filters2) {
    char n[96];
#define NAME(fmt) (snprintf(n, sizeof n, "block%d" fmt, block), n)
    int residual = residual_conv(m, x, filters2);
    if (block != 2) x = relu(m, x, NAME("_sepconv1_act"));
    x = sepconv(m, x, NAME("_sepconv1"), filters1);
    x = bn(m, x, NAME("_sepconv1_bn"));
    x = relu(m, x, NAME("_sepconv2_act"));
    x = sepconv(m, x, NAME("_sepconv2"), filters2);
    x = bn(m, x, NAME("_sepconv2_bn"));
    x = kvk_graph_maxpool(m->g, x, NAME("_pool"), 3, 3, 2, 2, KVK_PAD_SAME);
    return add(m, x, residual);
#undef NAME
}

/* blocks 5..12: three ReLU-separable-BN units around an identity shortcut */
static int middle_block(xc *m, int x, int block) {
    char n[96];
    int residual = x;
    for (int i = 1; i <= 3; i++) {
        snprintf(n, sizeof n, "block%d_sepconv%d_act", block, i);
        x = relu(m, x, n);
        snprintf(n, sizeof n, "block%d_sepconv%d", block, i);
        x = sepconv(m, x, n, 728);
        snprintf(n, sizeof n, "block%d_sepconv%d_bn", block, i);
        x = bn(m, x, n);
    }
    return add(m, x, residual);
}

kvk_status kvk_build_xception(kvk_graph *g, const kvk_app_args *args) {
    xc m = {.g = g};
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);

    x = kvk_graph_conv2d(g, x, "block1_conv1", 32, 3, 3, 2, 2, KVK_PAD_VALID, 0, KVK_ACT_LINEAR);
    x = bn(&m, x, "block1_conv1_bn");
    x = relu(&m, x, "block1_conv1_act");
    x = kvk_graph_conv2d(g, x, "block1_conv2", 64, 3, 3, 1, 1, KVK_PAD_VALID, 0, KVK_ACT_LINEAR);
    x = bn(&m, x, "block1_conv2_bn");
    x = relu(&m, x, "block1_conv2_act");

    x = entry_block(&m, x, 2, 128, 128);
    x = entry_block(&m, x, 3, 256, 256);
    x = entry_block(&m, x, 4, 728, 728);
    for (int i = 0; i < 8; i++) x = middle_block(&m, x, 5 + i);
    x = entry_block(&m, x, 13, 728, 1024);

    x = sepconv(&m, x, "block14_sepconv1", 1536);
    x = bn(&m, x, "block14_sepconv1_bn");
    x = relu(&m, x, "block14_sepconv1_act");
    x = sepconv(&m, x, "block14_sepconv2", 2048);
    x = bn(&m, x, "block14_sepconv2_bn");
    x = relu(&m, x, "block14_sepconv2_act");

    kvk_app_head(g, x, args, "global_average_pooling2d", "global_max_pooling2d");
    if (g->status == KVK_OK && args->weights)
        return kvk_app_match_auto_names(g, args->weights, "Xception");
    return g->status;
}
