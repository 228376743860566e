/* MobileNetV2, as tf_keras.applications.mobilenet_v2 defines it: Conv1, then 17 inverted
 * residual blocks (1x1 expansion "block_N_expand", 3x3 DepthwiseConv2D "block_N_depthwise",
 * 1x1 linear projection "block_N_project", each with BN; ReLU6 after the first two; an Add
 * "block_N_add" where shapes allow), the first named "expanded_conv_*" and without expansion,
 * then Conv_1, Conv_1_bn, out_relu. Strided blocks pad with imagenet_utils.correct_pad and
 * convolve 'valid'. The classifier: GlobalAveragePooling2D, Dense "predictions" ("Logits" in
 * keras-applications and its weight files).
 *
 * alpha scales the filters through _make_divisible(..., 8); it is told from the weight file
 * when not given (Keras' ImageNet files: 0.35, 0.5, 0.75, 1.0, 1.3, 1.4). */
#include <stdio.h>

#include "core/error.h"
#include "keras/apps/apps.h"

static const float EPS = 1e-3f;

/* mobilenet_v2._make_divisible(v, divisor) with min_value = divisor */
static int make_divisible(double v, int divisor) {
    int new_v = (int)(v + divisor / 2.0) / divisor * divisor;
    if (new_v < divisor) new_v = divisor;
    if (new_v < 0.9 * v) new_v += divisor;
    return new_v;
}

/* _inverted_res_block */
static int inverted_res_block(kvk_graph *g, int inputs, int expansion, int stride, double alpha,
                              int filters, int block) {
    char prefix[32], n[96];
#define NAME(suffix) (snprintf(n, sizeof n, "%s" suffix, prefix), n)
    if (inputs < 0) return -1;
    int in_channels = g->nodes[inputs].shape.c;
    int pointwise_filters = make_divisible((int)(filters * alpha), 8);
    int x = inputs;
    snprintf(prefix, sizeof prefix, "block_%d_", block);
    if (block) {
        x = kvk_graph_conv2d(g, x, NAME("expand"), expansion * in_channels, 1, 1, 1, 1,
                             KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
        x = kvk_graph_batchnorm(g, x, NAME("expand_BN"), EPS, 1, 1);
        x = kvk_app_relu6(g, x, NAME("expand_relu"));
    } else {
        snprintf(prefix, sizeof prefix, "expanded_conv_");
    }
    if (stride == 2 && x >= 0) {
        /* imagenet_utils.correct_pad(x, 3): ((1 - adjust_h, 1), (1 - adjust_w, 1)), adjust 1
         * on an even side */
        kvk_shape s = g->nodes[x].shape;
        x = kvk_graph_zeropad(g, x, NAME("pad"), s.h % 2, 1, s.w % 2, 1);
    }
    x = kvk_graph_depthwise_conv2d(g, x, NAME("depthwise"), 3, 3, stride, stride,
                                   stride == 1 ? KVK_PAD_SAME : KVK_PAD_VALID, 1, 0,
                                   KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("depthwise_BN"), EPS, 1, 1);
    x = kvk_app_relu6(g, x, NAME("depthwise_relu"));
    x = kvk_graph_conv2d(g, x, NAME("project"), pointwise_filters, 1, 1, 1, 1, KVK_PAD_SAME, 0,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, NAME("project_BN"), EPS, 1, 1);
    if (in_channels == pointwise_filters && stride == 1)
        return kvk_graph_add(g, inputs, x, NAME("add"));
    return x;
#undef NAME
}

static int last_block_filters(double alpha) {
    return alpha > 1.0 ? make_divisible(1280 * alpha, 8) : 1280;
}

/* alpha as given, else the one of Keras' files whose Conv1, block_16_project and Conv_1 have
 * the file's widths, else 1.0 without a file. */
static kvk_status resolve_alpha(const kvk_app_args *args, double *alpha) {
    const kvk_weight_file *wf = args->weights;
    *alpha = args->alpha;
    if (*alpha != 0) return KVK_OK;
    int first = kvk_app_weight_dim(wf, "Conv1"),
        project = kvk_app_weight_dim(wf, "block_16_project"),
        last = kvk_app_weight_dim(wf, "Conv_1");
    if (!wf || (!first && !project && !last)) {
        *alpha = 1.0;
        return KVK_OK;
    }
    static const double known[] = {0.35, 0.5, 0.75, 1.0, 1.3, 1.4};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (make_divisible(32 * known[i], 8) == first &&
            make_divisible((int)(320 * known[i]), 8) == project &&
            last_block_filters(known[i]) == last) {
            *alpha = known[i];
            return KVK_OK;
        }
    return kvk_fail(KVK_ERROR_SHAPE,
                    "MobileNetV2: weight file %s has Conv1 with %d filters, block_16_project with "
                    "%d and Conv_1 with %d, which no alpha of Keras' files (0.35, 0.5, 0.75, 1.0, "
                    "1.3, 1.4) gives: pass alpha",
                    wf->path, first, project, last);
}

kvk_status kvk_build_mobilenet_v2(kvk_graph *g, const kvk_app_args *args) {
    static const struct {
        int filters, stride, expansion;
    } blocks[17] = {{16, 1, 1}, {24, 2, 6},  {24, 1, 6},  {32, 2, 6},  {32, 1, 6}, {32, 1, 6},
                    {64, 2, 6}, {64, 1, 6},  {64, 1, 6},  {64, 1, 6},  {96, 1, 6}, {96, 1, 6},
                    {96, 1, 6}, {160, 2, 6}, {160, 1, 6}, {160, 1, 6}, {320, 1, 6}};
    double alpha;
    kvk_status st = resolve_alpha(args, &alpha);
    if (st != KVK_OK) return g->status = st;
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    x = kvk_graph_conv2d(g, x, "Conv1", make_divisible(32 * alpha, 8), 3, 3, 2, 2, KVK_PAD_SAME, 0,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, "bn_Conv1", EPS, 1, 1);
    x = kvk_app_relu6(g, x, "Conv1_relu");
    for (int b = 0; b < 17; b++)
        x = inverted_res_block(g, x, blocks[b].expansion, blocks[b].stride, alpha,
                               blocks[b].filters, b);
    x = kvk_graph_conv2d(g, x, "Conv_1", last_block_filters(alpha), 1, 1, 1, 1, KVK_PAD_VALID, 0,
                         KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, "Conv_1_bn", EPS, 1, 1);
    x = kvk_app_relu6(g, x, "out_relu");
    if (args->include_top) {
        /* keras-applications (<= 1.0.8, whose files Keras' ImageNet ones are) named the
         * classifier "Logits"; tf-keras "predictions". The file decides. */
        const kvk_weight_file *wf = args->weights;
        int logits =
            wf && !kvk_weight_file_layer(wf, "predictions") && kvk_weight_file_layer(wf, "Logits");
        x = kvk_graph_global_avgpool(g, x, "global_average_pooling2d");
        kvk_graph_dense(g, x, logits ? "Logits" : "predictions", args->classes, KVK_ACT_SOFTMAX);
    } else {
        kvk_app_head_pooling(g, x, args->pooling, "global_average_pooling2d",
                             "global_max_pooling2d");
    }
    return g->status;
}
