/* DenseNet121, DenseNet169 and DenseNet201, as tf_keras.applications.densenet defines them:
 * a 7x7 stem ("conv1/conv", "conv1/bn", "conv1/relu", "pool1"), four dense blocks of
 * conv_block()s (BN, ReLU, 1x1 Conv2D, BN, ReLU, 3x3 Conv2D, then Concatenate with the block's
 * input: "conv2_block1_0_bn" ... "conv2_block1_concat") with transition blocks between them
 * (BN, ReLU, 1x1 Conv2D halving the channels, 2x2 average pooling: "pool2_bn" ... "pool2_pool"),
 * then "bn" and "relu". BatchNormalization epsilon 1.001e-5 throughout, no convolution bias.
 * The two ZeroPadding2D layers are unnamed in Keras: "zero_padding2d", "zero_padding2d_1". */
#include <stdio.h>

#include "keras/apps/apps.h"

static const float EPS = 1.001e-5f;

static int bn_relu(kvk_graph *g, int x, const char *bn, const char *relu) {
    x = kvk_graph_batchnorm(g, x, bn, EPS, 1, 1);
    return kvk_graph_activation(g, x, relu, KVK_ACT_RELU);
}

/* conv_block(x, growth_rate=32, name) */
static int conv_block(kvk_graph *g, int x, const char *name) {
    char n[96], m[96];
#define NAME(buf, suffix) (snprintf(buf, sizeof buf, "%s" suffix, name), buf)
    int x1 = bn_relu(g, x, NAME(n, "_0_bn"), NAME(m, "_0_relu"));
    x1 = kvk_graph_conv2d(g, x1, NAME(n, "_1_conv"), 4 * 32, 1, 1, 1, 1, KVK_PAD_VALID, 0,
                          KVK_ACT_LINEAR);
    x1 = bn_relu(g, x1, NAME(n, "_1_bn"), NAME(m, "_1_relu"));
    x1 = kvk_graph_conv2d(g, x1, NAME(n, "_2_conv"), 32, 3, 3, 1, 1, KVK_PAD_SAME, 0,
                          KVK_ACT_LINEAR);
    int both[2] = {x, x1};
    return kvk_graph_concat(g, both, 2, NAME(n, "_concat"));
#undef NAME
}

static int dense_block(kvk_graph *g, int x, int blocks, const char *name) {
    char n[64];
    for (int i = 1; i <= blocks; i++) {
        snprintf(n, sizeof n, "%s_block%d", name, i);
        x = conv_block(g, x, n);
    }
    return x;
}

/* transition_block(x, 0.5, name) */
static int transition_block(kvk_graph *g, int x, const char *name) {
    char n[96], m[96];
#define NAME(buf, suffix) (snprintf(buf, sizeof buf, "%s" suffix, name), buf)
    x = bn_relu(g, x, NAME(n, "_bn"), NAME(m, "_relu"));
    if (x < 0) return -1;
    x = kvk_graph_conv2d(g, x, NAME(n, "_conv"), (int)(g->nodes[x].shape.c * 0.5), 1, 1, 1, 1,
                         KVK_PAD_VALID, 0, KVK_ACT_LINEAR);
    return kvk_graph_avgpool(g, x, NAME(n, "_pool"), 2, 2, 2, 2, KVK_PAD_VALID);
#undef NAME
}

static kvk_status build_densenet(kvk_graph *g, const kvk_app_args *args, const int blocks[4]) {
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = kvk_graph_zeropad(g, x, "zero_padding2d", 3, 3, 3, 3);
    x = kvk_graph_conv2d(g, x, "conv1/conv", 64, 7, 7, 2, 2, KVK_PAD_VALID, 0, KVK_ACT_LINEAR);
    x = bn_relu(g, x, "conv1/bn", "conv1/relu");
    x = kvk_graph_zeropad(g, x, "zero_padding2d_1", 1, 1, 1, 1);
    x = kvk_graph_maxpool(g, x, "pool1", 3, 3, 2, 2, KVK_PAD_VALID);

    x = dense_block(g, x, blocks[0], "conv2");
    x = transition_block(g, x, "pool2");
    x = dense_block(g, x, blocks[1], "conv3");
    x = transition_block(g, x, "pool3");
    x = dense_block(g, x, blocks[2], "conv4");
    x = transition_block(g, x, "pool4");
    x = dense_block(g, x, blocks[3], "conv5");
    x = bn_relu(g, x, "bn", "relu");

    kvk_app_head(g, x, args, "avg_pool", "max_pool");
    return g->status;
}

kvk_status kvk_build_densenet121(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {6, 12, 24, 16};
    return build_densenet(g, args, blocks);
}

kvk_status kvk_build_densenet169(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {6, 12, 32, 32};
    return build_densenet(g, args, blocks);
}

kvk_status kvk_build_densenet201(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {6, 12, 48, 32};
    return build_densenet(g, args, blocks);
}
