/* VGG16 and VGG19, as keras.applications.vgg16 / vgg19 define them. */
#include <stdio.h>

#include "keras/apps/apps.h"

/* One block: `convs` 3x3 'same' ReLU convolutions, then 2x2 max pooling. */
static int vgg_block(kvk_graph *g, int x, int block, int convs, int filters) {
    char name[64];
    for (int i = 1; i <= convs; i++) {
        snprintf(name, sizeof name, "block%d_conv%d", block, i);
        x = kvk_graph_conv2d(g, x, name, filters, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
    }
    snprintf(name, sizeof name, "block%d_pool", block);
    return kvk_graph_maxpool(g, x, name, 2, 2, 2, 2, KVK_PAD_VALID);
}

static kvk_status build_vgg(kvk_graph *g, const kvk_app_args *args, const int convs[5]) {
    static const int filters[5] = {64, 128, 256, 512, 512};
    int x = kvk_graph_input(g, "input_1", args->height, args->width, 3);
    for (int b = 0; b < 5; b++) x = vgg_block(g, x, b + 1, convs[b], filters[b]);
    if (args->include_top) {
        x = kvk_graph_flatten(g, x, "flatten");
        x = kvk_graph_dense(g, x, "fc1", 4096, KVK_ACT_RELU);
        x = kvk_graph_dense(g, x, "fc2", 4096, KVK_ACT_RELU);
        x = kvk_graph_dense(g, x, "predictions", args->classes, KVK_ACT_SOFTMAX);
    } else {
        x = kvk_app_head_pooling(g, x, args->pooling, "global_average_pooling2d",
                                 "global_max_pooling2d");
    }
    return g->status;
}

kvk_status kvk_build_vgg16(kvk_graph *g, const kvk_app_args *args) {
    static const int convs[5] = {2, 2, 3, 3, 3};
    return build_vgg(g, args, convs);
}

kvk_status kvk_build_vgg19(kvk_graph *g, const kvk_app_args *args) {
    static const int convs[5] = {2, 2, 4, 4, 4};
    return build_vgg(g, args, convs);
}
