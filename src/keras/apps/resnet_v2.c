/* ResNet50V2, ResNet101V2 and ResNet152V2, as tf_keras.applications.resnet_v2 defines them
 * (resnet.ResNet with preact=True and stack2/block2): pre-activation bottleneck blocks
 * ("conv2_block1_preact_bn", "_preact_relu", "_0_conv" shortcut in the first block of a stage,
 * "_1_conv" ... "_3_conv", "_out" the Add) with the stride on the last block of a stage, a
 * stem without BatchNormalization, and "post_bn", "post_relu" at the end. The strided blocks'
 * shortcut is an unnamed MaxPooling2D(1, strides=2): "max_pooling2d", "max_pooling2d_1", ... */
#include <stdio.h>

#include "keras/apps/apps.h"

static const float EPS = 1.001e-5f;

/* resnet.py block2 */
static int block2(kvk_graph *g, int x, int filters, int stride, int conv_shortcut, const char *name,
                  int *maxpools) {
    char n[96], m[96];
#define NAME(buf, suffix) (snprintf(buf, sizeof buf, "%s" suffix, name), buf)
    int preact = kvk_graph_batchnorm(g, x, NAME(n, "_preact_bn"), EPS, 1, 1);
    preact = kvk_graph_activation(g, preact, NAME(n, "_preact_relu"), KVK_ACT_RELU);
    int shortcut = x;
    if (conv_shortcut)
        shortcut = kvk_graph_conv2d(g, preact, NAME(n, "_0_conv"), 4 * filters, 1, 1, stride,
                                    stride, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
    else if (stride > 1)
        shortcut = kvk_graph_maxpool(g, x, kvk_app_auto_name(m, "max_pooling2d", maxpools), 1, 1,
                                     stride, stride, KVK_PAD_VALID);
    x = kvk_graph_conv2d(g, preact, NAME(n, "_1_conv"), filters, 1, 1, 1, 1, KVK_PAD_VALID, 0,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME(n, "_1_bn"), EPS, 1, 1);
    x = kvk_graph_activation(g, x, NAME(n, "_1_relu"), KVK_ACT_RELU);
    x = kvk_graph_zeropad(g, x, NAME(n, "_2_pad"), 1, 1, 1, 1);
    x = kvk_graph_conv2d(g, x, NAME(n, "_2_conv"), filters, 3, 3, stride, stride, KVK_PAD_VALID, 0,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME(n, "_2_bn"), EPS, 1, 1);
    x = kvk_graph_activation(g, x, NAME(n, "_2_relu"), KVK_ACT_RELU);
    x = kvk_graph_conv2d(g, x, NAME(n, "_3_conv"), 4 * filters, 1, 1, 1, 1, KVK_PAD_VALID, 1,
                         KVK_ACT_LINEAR);
    return kvk_graph_add(g, shortcut, x, NAME(n, "_out"));
#undef NAME
}

/* resnet.py stack2: the first block projects, the last one strides */
static int stack2(kvk_graph *g, int x, int filters, int blocks, int stride1, const char *name,
                  int *maxpools) {
    char n[64];
    snprintf(n, sizeof n, "%s_block1", name);
    x = block2(g, x, filters, 1, 1, n, maxpools);
    for (int i = 2; i < blocks; i++) {
        snprintf(n, sizeof n, "%s_block%d", name, i);
        x = block2(g, x, filters, 1, 0, n, maxpools);
    }
    snprintf(n, sizeof n, "%s_block%d", name, blocks);
    return block2(g, x, filters, stride1, 0, n, maxpools);
}

static kvk_status build_resnet_v2(kvk_graph *g, const kvk_app_args *args, const int blocks[4]) {
    int maxpools = 0;
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = kvk_graph_zeropad(g, x, "conv1_pad", 3, 3, 3, 3);
    x = kvk_graph_conv2d(g, x, "conv1_conv", 64, 7, 7, 2, 2, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
    x = kvk_graph_zeropad(g, x, "pool1_pad", 1, 1, 1, 1);
    x = kvk_graph_maxpool(g, x, "pool1_pool", 3, 3, 2, 2, KVK_PAD_VALID);
    x = stack2(g, x, 64, blocks[0], 2, "conv2", &maxpools);
    x = stack2(g, x, 128, blocks[1], 2, "conv3", &maxpools);
    x = stack2(g, x, 256, blocks[2], 2, "conv4", &maxpools);
    x = stack2(g, x, 512, blocks[3], 1, "conv5", &maxpools);
    x = kvk_graph_batchnorm(g, x, "post_bn", EPS, 1, 1);
    x = kvk_graph_activation(g, x, "post_relu", KVK_ACT_RELU);
    kvk_app_head(g, x, args, "avg_pool", "max_pool");
    return g->status;
}

kvk_status kvk_build_resnet50_v2(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {3, 4, 6, 3};
    return build_resnet_v2(g, args, blocks);
}

kvk_status kvk_build_resnet101_v2(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {3, 4, 23, 3};
    return build_resnet_v2(g, args, blocks);
}

kvk_status kvk_build_resnet152_v2(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {3, 8, 36, 3};
    return build_resnet_v2(g, args, blocks);
}
