#include "keras/apps/apps.h"

#include <string.h>
#include <strings.h>

#include "core/error.h"

static const kvk_application applications[] = {
    {"vgg16", "VGG16", 224, 32, "caffe", "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
     "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", kvk_build_vgg16},
    {"vgg19", "VGG19", 224, 32, "caffe", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
     "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", kvk_build_vgg19},
    {"resnet50", "ResNet50", 224, 32, "caffe", "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
     "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", kvk_build_resnet50},
};

const char *kvk_application_names(void) {
    return "vgg16, vgg19, resnet50";
}

const kvk_application *kvk_application_find(const char *name) {
    for (size_t i = 0; i < sizeof applications / sizeof applications[0]; i++)
        if (name && (strcasecmp(name, applications[i].name) == 0 ||
                     strcasecmp(name, applications[i].keras_name) == 0))
            return &applications[i];
    kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "unknown model '%s' (known: %s)", name ? name : "(none)",
             kvk_application_names());
    return NULL;
}

kvk_status kvk_application_check_args(const kvk_application *app, const kvk_model_options *opts,
                                      kvk_app_args *args) {
    memset(args, 0, sizeof *args);
    args->include_top = opts->include_top;
    args->pooling = opts->pooling;
    args->classes = opts->classes ? opts->classes : 1000;
    int h = opts->height ? opts->height : app->default_size;
    int w = opts->width ? opts->width : app->default_size;
    if (opts->classes < 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: classes must be positive, got %d",
                        app->keras_name, opts->classes);
    if (opts->height < 0 || opts->width < 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: input size %dx%d is negative",
                        app->keras_name, opts->height, opts->width);
    /* keras' obtain_input_shape: ImageNet weights with the top fix the input size... */
    if (opts->include_top && opts->weights && (h != app->default_size || w != app->default_size))
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: with include_top and loaded weights the input shape must be "
                        "(%d, %d, 3), got (%d, %d, 3) (Keras' rule: the classifier's weights "
                        "fix the input size; use include_top=false for other sizes)",
                        app->keras_name, app->default_size, app->default_size, h, w);
    /* ...and every input must be at least min_size on both sides. */
    if (h < app->min_size || w < app->min_size)
        return kvk_fail(KVK_ERROR_SHAPE,
                        "%s: input size must be at least %dx%d; got `input_shape=(%d, %d, 3)`",
                        app->keras_name, app->min_size, app->min_size, h, w);
    args->height = h;
    args->width = w;
    return KVK_OK;
}

int kvk_app_head_pooling(kvk_graph *g, int x, kvk_pooling pooling, const char *avg_name,
                         const char *max_name) {
    if (pooling == KVK_POOLING_AVG) return kvk_graph_global_avgpool(g, x, avg_name);
    if (pooling == KVK_POOLING_MAX) return kvk_graph_global_maxpool(g, x, max_name);
    return x;
}
