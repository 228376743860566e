/* InceptionV3, as keras.applications.inception_v3 defines it (tf-keras 2.x and
 * keras-applications 1.0.8 build the same layers in the same order).
 *
 * conv2d_bn() creates its Conv2D, BatchNormalization and Activation without names, so Keras
 * names them from its per-session counters. They are built here with the names a fresh
 * tf.keras session gives (conv2d, conv2d_1, ..., batch_normalization, ..., activation, ...,
 * average_pooling2d, max_pooling2d, concatenate), then matched to whatever numbering the
 * weight file carries (see kvk_app_match_auto_names). */
#include <stdio.h>

#include "keras/apps/apps.h"

typedef struct iv3 {
    kvk_graph *g;
    int conv, bn, act, avgpool, maxpool, concat; /* Keras' per-class name counters */
} iv3;

/* conv2d_bn(): Conv2D(use_bias=False) + BatchNormalization(scale=False) + ReLU */
static int conv2d_bn(iv3 *m, int x, int filters, int rows, int cols, int stride,
                     kvk_padding padding) {
    char n[96];
    x = kvk_graph_conv2d(m->g, x, kvk_app_auto_name(n, "conv2d", &m->conv), filters, rows, cols,
                         stride, stride, padding, 0, KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(m->g, x, kvk_app_auto_name(n, "batch_normalization", &m->bn), 1e-3f, 1,
                            0);
    return kvk_graph_activation(m->g, x, kvk_app_auto_name(n, "activation", &m->act), KVK_ACT_RELU);
}

/* conv2d_bn with the defaults: padding 'same', strides (1, 1) */
static int cbn(iv3 *m, int x, int filters, int rows, int cols) {
    return conv2d_bn(m, x, filters, rows, cols, 1, KVK_PAD_SAME);
}

/* AveragePooling2D((3, 3), strides=(1, 1), padding='same') */
static int avg_pool_3x3(iv3 *m, int x) {
    char n[96];
    return kvk_graph_avgpool(m->g, x, kvk_app_auto_name(n, "average_pooling2d", &m->avgpool), 3, 3,
                             1, 1, KVK_PAD_SAME);
}

/* MaxPooling2D((3, 3), strides=(2, 2)) (padding 'valid') */
static int max_pool_3x3_s2(iv3 *m, int x) {
    char n[96];
    return kvk_graph_maxpool(m->g, x, kvk_app_auto_name(n, "max_pooling2d", &m->maxpool), 3, 3, 2,
                             2, KVK_PAD_VALID);
}

static int concat(iv3 *m, const int *xs, int count, const char *name) {
    char n[96];
    if (!name) name = kvk_app_auto_name(n, "concatenate", &m->concat);
    return kvk_graph_concat(m->g, xs, count, name);
}

/* mixed0..mixed2: 35x35 blocks */
static int block_35(iv3 *m, int x, int pool_filters, const char *name) {
    int b[4];
    b[0] = cbn(m, x, 64, 1, 1);
    b[1] = cbn(m, x, 48, 1, 1);
    b[1] = cbn(m, b[1], 64, 5, 5);
    b[2] = cbn(m, x, 64, 1, 1);
    b[2] = cbn(m, b[2], 96, 3, 3);
    b[2] = cbn(m, b[2], 96, 3, 3);
    b[3] = avg_pool_3x3(m, x);
    b[3] = cbn(m, b[3], pool_filters, 1, 1);
    return concat(m, b, 4, name);
}

/* mixed4..mixed7: 17x17 blocks with factorised 7x7 convolutions */
static int block_17(iv3 *m, int x, int f7, const char *name) {
    int b[4];
    b[0] = cbn(m, x, 192, 1, 1);
    b[1] = cbn(m, x, f7, 1, 1);
    b[1] = cbn(m, b[1], f7, 1, 7);
    b[1] = cbn(m, b[1], 192, 7, 1);
    b[2] = cbn(m, x, f7, 1, 1);
    b[2] = cbn(m, b[2], f7, 7, 1);
    b[2] = cbn(m, b[2], f7, 1, 7);
    b[2] = cbn(m, b[2], f7, 7, 1);
    b[2] = cbn(m, b[2], 192, 1, 7);
    b[3] = avg_pool_3x3(m, x);
    b[3] = cbn(m, b[3], 192, 1, 1);
    return concat(m, b, 4, name);
}

/* mixed9, mixed10: 8x8 blocks with expanded filter banks */
static int block_8(iv3 *m, int x, int i) {
    char n[32];
    int b[4], pair[2];
    b[0] = cbn(m, x, 320, 1, 1);

    int b3 = cbn(m, x, 384, 1, 1);
    pair[0] = cbn(m, b3, 384, 1, 3);
    pair[1] = cbn(m, b3, 384, 3, 1);
    snprintf(n, sizeof n, "mixed9_%d", i);
    b[1] = concat(m, pair, 2, n);

    int b3dbl = cbn(m, x, 448, 1, 1);
    b3dbl = cbn(m, b3dbl, 384, 3, 3);
    pair[0] = cbn(m, b3dbl, 384, 1, 3);
    pair[1] = cbn(m, b3dbl, 384, 3, 1);
    b[2] = concat(m, pair, 2, NULL); /* unnamed in Keras: concatenate, concatenate_1 */

    b[3] = avg_pool_3x3(m, x);
    b[3] = cbn(m, b[3], 192, 1, 1);
    snprintf(n, sizeof n, "mixed%d", 9 + i);
    return concat(m, b, 4, n);
}

kvk_status kvk_build_inception_v3(kvk_graph *g, const kvk_app_args *args) {
    iv3 m = {.g = g};
    int b[3];
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);

    x = conv2d_bn(&m, x, 32, 3, 3, 2, KVK_PAD_VALID);
    x = conv2d_bn(&m, x, 32, 3, 3, 1, KVK_PAD_VALID);
    x = cbn(&m, x, 64, 3, 3);
    x = max_pool_3x3_s2(&m, x);

    x = conv2d_bn(&m, x, 80, 1, 1, 1, KVK_PAD_VALID);
    x = conv2d_bn(&m, x, 192, 3, 3, 1, KVK_PAD_VALID);
    x = max_pool_3x3_s2(&m, x);

    x = block_35(&m, x, 32, "mixed0");
    x = block_35(&m, x, 64, "mixed1");
    x = block_35(&m, x, 64, "mixed2");

    /* mixed3: reduction to 17x17 */
    b[0] = conv2d_bn(&m, x, 384, 3, 3, 2, KVK_PAD_VALID);
    b[1] = cbn(&m, x, 64, 1, 1);
    b[1] = cbn(&m, b[1], 96, 3, 3);
    b[1] = conv2d_bn(&m, b[1], 96, 3, 3, 2, KVK_PAD_VALID);
    b[2] = max_pool_3x3_s2(&m, x);
    x = concat(&m, b, 3, "mixed3");

    x = block_17(&m, x, 128, "mixed4");
    x = block_17(&m, x, 160, "mixed5");
    x = block_17(&m, x, 160, "mixed6");
    x = block_17(&m, x, 192, "mixed7");

    /* mixed8: reduction to 8x8 */
    b[0] = cbn(&m, x, 192, 1, 1);
    b[0] = conv2d_bn(&m, b[0], 320, 3, 3, 2, KVK_PAD_VALID);
    b[1] = cbn(&m, x, 192, 1, 1);
    b[1] = cbn(&m, b[1], 192, 1, 7);
    b[1] = cbn(&m, b[1], 192, 7, 1);
    b[1] = conv2d_bn(&m, b[1], 192, 3, 3, 2, KVK_PAD_VALID);
    b[2] = max_pool_3x3_s2(&m, x);
    x = concat(&m, b, 3, "mixed8");

    x = block_8(&m, x, 0);
    x = block_8(&m, x, 1);

    kvk_app_head(g, x, args, "global_average_pooling2d", "global_max_pooling2d");
    if (g->status == KVK_OK && args->weights)
        return kvk_app_match_auto_names(g, args->weights, "InceptionV3");
    return g->status;
}
