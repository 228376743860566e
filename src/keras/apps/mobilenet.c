/* MobileNet (v1), as tf_keras.applications.mobilenet defines it: a 3x3 convolution, then 13
 * depthwise-separable blocks (DepthwiseConv2D, BN, ReLU6, 1x1 Conv2D, BN, ReLU6), every layer
 * named (conv1, conv_dw_1, conv_pw_1, ..., conv_pw_13_relu). The classifier is a 1x1
 * convolution: GlobalAveragePooling2D(keepdims=True), Dropout "dropout", Conv2D "conv_preds",
 * Reshape "reshape_2", Activation "predictions".
 *
 * alpha scales every layer's filters to int(filters * alpha); depth_multiplier is the
 * depthwise convolutions' (the "resolution multiplier" of the paper). Both are told from the
 * weight file when not given: Keras' ImageNet files come with alpha 0.25, 0.5, 0.75 and 1.0. */
#include <stdio.h>

#include "core/error.h"
#include "keras/apps/apps.h"

static const float EPS = 1e-3f; /* BatchNormalization's default */

/* _conv_block: Conv2D(int(filters * alpha), 3x3, 'same', strides 2, no bias) "conv1" */
static int conv_block(kvk_graph *g, int x, int filters) {
    x = kvk_graph_conv2d(g, x, "conv1", filters, 3, 3, 2, 2, KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, "conv1_bn", EPS, 1, 1);
    return kvk_app_relu6(g, x, "conv1_relu");
}

/* _depthwise_conv_block: strided blocks pad ((0, 1), (0, 1)) and convolve 'valid' */
static int depthwise_conv_block(kvk_graph *g, int x, int pointwise_filters, int depth_multiplier,
                                int stride, int block) {
    char n[96];
#define NAME(fmt) (snprintf(n, sizeof n, fmt, block), n)
    if (stride != 1) x = kvk_graph_zeropad(g, x, NAME("conv_pad_%d"), 0, 1, 0, 1);
    x = kvk_graph_depthwise_conv2d(g, x, NAME("conv_dw_%d"), 3, 3, stride, stride,
                                   stride == 1 ? KVK_PAD_SAME : KVK_PAD_VALID, depth_multiplier, 0,
                                   KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("conv_dw_%d_bn"), EPS, 1, 1);
    x = kvk_app_relu6(g, x, NAME("conv_dw_%d_relu"));
    x = kvk_graph_conv2d(g, x, NAME("conv_pw_%d"), pointwise_filters, 1, 1, 1, 1, KVK_PAD_SAME, 0,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("conv_pw_%d_bn"), EPS, 1, 1);
    return kvk_app_relu6(g, x, NAME("conv_pw_%d_relu"));
#undef NAME
}

/* alpha and depth_multiplier as given, else from the file (conv1's and conv_pw_13's filters,
 * conv_dw_1's multiplier), else 1. */
static kvk_status resolve_args(const kvk_app_args *args, double *alpha, int *depth_multiplier) {
    const kvk_weight_file *wf = args->weights;
    *depth_multiplier = args->depth_multiplier;
    if (!*depth_multiplier) *depth_multiplier = kvk_app_weight_dim(wf, "conv_dw_1");
    if (!*depth_multiplier) *depth_multiplier = 1;
    *alpha = args->alpha;
    if (*alpha != 0) return KVK_OK;
    int first = kvk_app_weight_dim(wf, "conv1"), last = kvk_app_weight_dim(wf, "conv_pw_13");
    if (!wf || (!first && !last)) { /* no file, or not a MobileNet: the binder will say */
        *alpha = 1.0;
        return KVK_OK;
    }
    static const double known[] = {0.25, 0.5, 0.75, 1.0};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if ((int)(32 * known[i]) == first && (int)(1024 * known[i]) == last) {
            *alpha = known[i];
            return KVK_OK;
        }
    return kvk_fail(KVK_ERROR_SHAPE,
                    "MobileNet: weight file %s has conv1 with %d filters and conv_pw_13 with %d, "
                    "which no alpha of Keras' files (0.25, 0.5, 0.75, 1.0) gives: pass alpha",
                    wf->path, first, last);
}

kvk_status kvk_build_mobilenet(kvk_graph *g, const kvk_app_args *args) {
    static const struct {
        int filters, stride;
    } blocks[13] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
                    {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
    double alpha;
    int dm;
    kvk_status st = resolve_args(args, &alpha, &dm);
    if (st != KVK_OK) return g->status = st;
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = conv_block(g, x, (int)(32 * alpha));
    for (int b = 0; b < 13; b++)
        x = depthwise_conv_block(g, x, (int)(blocks[b].filters * alpha), dm, blocks[b].stride,
                                 b + 1);
    if (args->include_top) {
        x = kvk_graph_global_avgpool(g, x, "global_average_pooling2d");
        kvk_graph_keepdims(g, x);
        x = kvk_graph_dropout(g, x, "dropout");
        x = kvk_graph_conv2d(g, x, "conv_preds", args->classes, 1, 1, 1, 1, KVK_PAD_SAME, 1,
                             KVK_ACT_LINEAR);
        x = kvk_graph_reshape(g, x, "reshape_2", 1, (kvk_shape){1, 1, args->classes});
        kvk_graph_activation(g, x, "predictions", KVK_ACT_SOFTMAX);
    } else {
        kvk_app_head_pooling(g, x, args->pooling, "global_average_pooling2d",
                             "global_max_pooling2d");
    }
    return g->status;
}
