/* keras.applications architectures, built as kvk graphs with Keras' own layer names. */
#ifndef KVK_KERAS_APPS_H
#define KVK_KERAS_APPS_H

#include <stddef.h>

#include "core/graph.h"
#include "keras/weights.h"
#include "kvk/model.h"

/* The resolved constructor arguments (defaults filled in, validated). */
typedef struct kvk_app_args {
    int include_top;
    kvk_pooling pooling;
    int classes;
    int height, width;
    const kvk_weight_file *weights; /* NULL for random weights; lets a builder pick a naming */
    double alpha;                   /* MobileNet(V2) width multiplier; 0: the file's, else 1.0 */
    int depth_multiplier;           /* MobileNet; 0: the file's, else 1 */
} kvk_app_args;

/* The constructor arguments an application takes besides the common ones. */
enum { KVK_APP_ALPHA = 1, KVK_APP_DEPTH_MULTIPLIER = 2 };

typedef struct kvk_application {
    const char *name;       /* "resnet50" */
    const char *keras_name; /* "ResNet50" */
    int default_size, min_size;
    const char *preprocess; /* preprocess_input mode */
    /* Keras' file names under ~/.keras/models/ (with top, without top) */
    const char *weights_file, *weights_file_notop;
    kvk_status (*build)(kvk_graph *g, const kvk_app_args *args);
    unsigned options; /* KVK_APP_ALPHA, KVK_APP_DEPTH_MULTIPLIER */
    /* Square sizes besides default_size that the classifier accepts with loaded weights
     * (Keras' ImageNet files for MobileNet come in several); 0-terminated, or NULL. */
    const int *top_sizes;
    /* Keras' file names when they depend on alpha and the input size (MobileNet, V2):
     * writes the name into buf; NULL when weights_file/_notop are the names. */
    void (*weights_name)(double alpha, int rows, int include_top, char *buf, size_t size);
} kvk_application;

/* NULL if unknown; the error lists the known names. */
const kvk_application *kvk_application_find(const char *name);
/* The known names separated by ", " (for messages and --help). */
const char *kvk_application_names(void);

/* The application whose keras.applications constructor names its Model `model_name`
 * ("resnet50v2", "mobilenet_0.25_128", "densenet121", ...), or NULL. */
const kvk_application *kvk_application_for_model_name(const char *model_name);

/* Keras' own weight file name for this application under ~/.keras/models/ (alpha 0: 1.0;
 * height/width 0: the default size), in buf; returns buf. */
const char *kvk_application_weights_file(const kvk_application *app, double alpha, int height,
                                         int width, int include_top, char *buf, size_t size);

/* Checks the input size as Keras' obtain_input_shape does, and fills defaults. */
kvk_status kvk_application_check_args(const kvk_application *app, const kvk_model_options *opts,
                                      kvk_app_args *args);

/* The classifier or pooling head every application shares. */
int kvk_app_head_pooling(kvk_graph *g, int x, kvk_pooling pooling, const char *avg_name,
                         const char *max_name);

/* Keras' automatic layer name for the next layer of a class: "conv2d" for the first,
 * "conv2d_1", "conv2d_2", ... after it (a fresh tf.keras session's naming). Writes into buf
 * (at least 96 bytes), increments *counter and returns buf. */
/* The head of tf.keras' ResNet50, InceptionV3 and Xception: with the top, GlobalAveragePooling2D
 * "avg_pool" and Dense "predictions" (softmax); without it, the pooling named as given. */
int kvk_app_head(kvk_graph *g, int x, const kvk_app_args *args, const char *avg_name,
                 const char *max_name);

const char *kvk_app_auto_name(char *buf, const char *prefix, int *counter);

/* Renames a graph built with fresh-session automatic names (conv2d, batch_normalization,
 * activation, add, ...) to the numbering the weight file uses: Keras 2.0-2.2 numbered from 1
 * (the official ImageNet files), and a session that built other models first has offset
 * numbers. Fails, naming file and prefix, if the file's count of a weighted auto-named
 * class differs from the graph's. */
kvk_status kvk_app_match_auto_names(kvk_graph *g, const kvk_weight_file *file,
                                    const char *keras_name);

kvk_status kvk_build_vgg16(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_vgg19(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet50(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_inception_v3(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_xception(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_mobilenet(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_mobilenet_v2(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_densenet121(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_densenet169(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_densenet201(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet101(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet152(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet50_v2(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet101_v2(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet152_v2(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_inception_resnet_v2(kvk_graph *g, const kvk_app_args *args);

/* The last dimension of the first weight of a layer in the file (a kernel's filters, a
 * depthwise kernel's multiplier), or 0 without file, layer or weights. */
int kvk_app_weight_dim(const kvk_weight_file *file, const char *layer);

/* ReLU(6.0): MobileNet's and MobileNetV2's activation. */
int kvk_app_relu6(kvk_graph *g, int x, const char *name);

#endif
