/* ResNet50, ResNet101 and ResNet152 (V1; ResNet50 in the two namings Keras has shipped):
 *  - "keras2": tf.keras / Keras 3 (keras/applications/resnet.py): conv1_conv,
 *    conv2_block1_1_conv, ..., predictions; BatchNormalization epsilon 1.001e-5.
 *  - "legacy": keras-applications <= 1.0.8 / Keras 2.2.4 (resnet50.py): conv1, bn_conv1,
 *    res2a_branch2a, ..., fc1000; epsilon 1e-3 (the Keras default).
 * Both compute the same function; the naming is recognised from the weight file. */
#include <stdio.h>
#include <string.h>

#include "keras/apps/apps.h"

/* ---- tf.keras naming ------------------------------------------------------------------- */

static const float EPS_KERAS2 = 1.001e-5f;

/* resnet.py block1: a bottleneck residual block */
static int block1(kvk_graph *g, int x, int filters, int stride, int conv_shortcut,
                  const char *name) {
    char n[96];
#define NAME(suffix) (snprintf(n, sizeof n, "%s" suffix, name), n)
    int shortcut = x;
    if (conv_shortcut) {
        shortcut = kvk_graph_conv2d(g, x, NAME("_0_conv"), 4 * filters, 1, 1, stride, stride,
                                    KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
        shortcut = kvk_graph_batchnorm(g, shortcut, NAME("_0_bn"), EPS_KERAS2, 1, 1);
    }
    x = kvk_graph_conv2d(g, x, NAME("_1_conv"), filters, 1, 1, stride, stride, KVK_PAD_VALID, 1,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("_1_bn"), EPS_KERAS2, 1, 1);
    x = kvk_graph_activation(g, x, NAME("_1_relu"), KVK_ACT_RELU);
    x = kvk_graph_conv2d(g, x, NAME("_2_conv"), filters, 3, 3, 1, 1, KVK_PAD_SAME, 1,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("_2_bn"), EPS_KERAS2, 1, 1);
    x = kvk_graph_activation(g, x, NAME("_2_relu"), KVK_ACT_RELU);
    x = kvk_graph_conv2d(g, x, NAME("_3_conv"), 4 * filters, 1, 1, 1, 1, KVK_PAD_VALID, 1,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("_3_bn"), EPS_KERAS2, 1, 1);
    x = kvk_graph_add(g, shortcut, x, NAME("_add"));
    return kvk_graph_activation(g, x, NAME("_out"), KVK_ACT_RELU);
#undef NAME
}

/* resnet.py stack1: `blocks` blocks, the first with a projection shortcut */
static int stack1(kvk_graph *g, int x, int filters, int blocks, int stride1, const char *name) {
    char n[64];
    snprintf(n, sizeof n, "%s_block1", name);
    x = block1(g, x, filters, stride1, 1, n);
    for (int i = 2; i <= blocks; i++) {
        snprintf(n, sizeof n, "%s_block%d", name, i);
        x = block1(g, x, filters, 1, 0, n);
    }
    return x;
}

/* resnet.py ResNet(stack_fn, preact=False, use_bias=True): blocks per stage conv2..conv5 */
static kvk_status build_keras2(kvk_graph *g, const kvk_app_args *args, const int blocks[4]) {
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = kvk_graph_zeropad(g, x, "conv1_pad", 3, 3, 3, 3);
    x = kvk_graph_conv2d(g, x, "conv1_conv", 64, 7, 7, 2, 2, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, "conv1_bn", EPS_KERAS2, 1, 1);
    x = kvk_graph_activation(g, x, "conv1_relu", KVK_ACT_RELU);
    x = kvk_graph_zeropad(g, x, "pool1_pad", 1, 1, 1, 1);
    x = kvk_graph_maxpool(g, x, "pool1_pool", 3, 3, 2, 2, KVK_PAD_VALID);
    x = stack1(g, x, 64, blocks[0], 1, "conv2");
    x = stack1(g, x, 128, blocks[1], 2, "conv3");
    x = stack1(g, x, 256, blocks[2], 2, "conv4");
    x = stack1(g, x, 512, blocks[3], 2, "conv5");
    kvk_app_head(g, x, args, "avg_pool", "max_pool");
    return g->status;
}

/* ---- keras-applications (Keras 2.2.4) naming ------------------------------------------- */

/* Unnamed layers got Keras' automatic names: activation_1, add_1, ... in creation order. */
typedef struct legacy_names {
    int activation, add;
} legacy_names;

static int legacy_relu(kvk_graph *g, int x, legacy_names *auto_names) {
    char n[32];
    snprintf(n, sizeof n, "activation_%d", ++auto_names->activation);
    return kvk_graph_activation(g, x, n, KVK_ACT_RELU);
}

static int legacy_conv_bn(kvk_graph *g, int x, int filters, int k, int stride, kvk_padding pad,
                          int stage, char block, const char *branch) {
    char conv[48], bn[48];
    snprintf(conv, sizeof conv, "res%d%c_branch%s", stage, block, branch);
    snprintf(bn, sizeof bn, "bn%d%c_branch%s", stage, block, branch);
    x = kvk_graph_conv2d(g, x, conv, filters, k, k, stride, stride, pad, 1, KVK_ACT_LINEAR);
    return kvk_graph_batchnorm(g, x, bn, 1e-3f, 1, 1);
}

/* identity_block (shortcut = input) and conv_block (projection shortcut, branch1) */
static int legacy_block(kvk_graph *g, int input, const int filters[3], int stage, char block,
                        int stride, int projection, legacy_names *auto_names) {
    int x = legacy_conv_bn(g, input, filters[0], 1, stride, KVK_PAD_VALID, stage, block, "2a");
    x = legacy_relu(g, x, auto_names);
    x = legacy_conv_bn(g, x, filters[1], 3, 1, KVK_PAD_SAME, stage, block, "2b");
    x = legacy_relu(g, x, auto_names);
    x = legacy_conv_bn(g, x, filters[2], 1, 1, KVK_PAD_VALID, stage, block, "2c");
    int shortcut = input;
    if (projection)
        shortcut =
            legacy_conv_bn(g, input, filters[2], 1, stride, KVK_PAD_VALID, stage, block, "1");
    char n[32];
    snprintf(n, sizeof n, "add_%d", ++auto_names->add);
    x = kvk_graph_add(g, x, shortcut, n);
    return legacy_relu(g, x, auto_names);
}

static kvk_status build_legacy(kvk_graph *g, const kvk_app_args *args) {
    static const struct {
        int stage, blocks, stride, filters[3];
    } stages[4] = {{2, 3, 1, {64, 64, 256}},
                   {3, 4, 2, {128, 128, 512}},
                   {4, 6, 2, {256, 256, 1024}},
                   {5, 3, 2, {512, 512, 2048}}};
    legacy_names auto_names = {0, 0};
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = kvk_graph_zeropad(g, x, "conv1_pad", 3, 3, 3, 3);
    x = kvk_graph_conv2d(g, x, "conv1", 64, 7, 7, 2, 2, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, "bn_conv1", 1e-3f, 1, 1);
    x = legacy_relu(g, x, &auto_names);
    x = kvk_graph_zeropad(g, x, "pool1_pad", 1, 1, 1, 1);
    x = kvk_graph_maxpool(g, x, "max_pooling2d_1", 3, 3, 2, 2, KVK_PAD_VALID);
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < stages[s].blocks; b++)
            x = legacy_block(g, x, stages[s].filters, stages[s].stage, (char)('a' + b),
                             b == 0 ? stages[s].stride : 1, b == 0, &auto_names);
    if (args->include_top) {
        x = kvk_graph_global_avgpool(g, x, "avg_pool");
        x = kvk_graph_dense(g, x, "fc1000", args->classes, KVK_ACT_SOFTMAX);
    } else {
        x = kvk_app_head_pooling(g, x, args->pooling, "global_average_pooling2d_1",
                                 "global_max_pooling2d_1");
    }
    return g->status;
}

/* The file decides the naming; without weights, today's Keras naming. */
kvk_status kvk_build_resnet50(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {3, 4, 6, 3};
    const kvk_weight_file *wf = args->weights;
    if (wf && !kvk_weight_file_layer(wf, "conv1_conv") &&
        (kvk_weight_file_layer(wf, "conv1") || kvk_weight_file_layer(wf, "res2a_branch2a")))
        return build_legacy(g, args);
    return build_keras2(g, args, blocks);
}

/* ResNet101 and ResNet152 (keras.applications.resnet, tf-keras 2.x and keras-applications
 * 1.0.8 alike) exist only in the tf.keras naming. */
kvk_status kvk_build_resnet101(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {3, 4, 23, 3};
    return build_keras2(g, args, blocks);
}

kvk_status kvk_build_resnet152(kvk_graph *g, const kvk_app_args *args) {
    static const int blocks[4] = {3, 8, 36, 3};
    return build_keras2(g, args, blocks);
}
