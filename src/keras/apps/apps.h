/* keras.applications architectures, built as kvk graphs with Keras' own layer names. */
#ifndef KVK_KERAS_APPS_H
#define KVK_KERAS_APPS_H

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
} kvk_app_args;

typedef struct kvk_application {
    const char *name;       /* "resnet50" */
    const char *keras_name; /* "ResNet50" */
    int default_size, min_size;
    const char *preprocess; /* preprocess_input mode */
    /* Keras' file names under ~/.keras/models/ (with top, without top) */
    const char *weights_file, *weights_file_notop;
    kvk_status (*build)(kvk_graph *g, const kvk_app_args *args);
} kvk_application;

/* NULL if unknown; the error lists the known names. */
const kvk_application *kvk_application_find(const char *name);
/* The known names separated by ", " (for messages and --help). */
const char *kvk_application_names(void);

/* Checks the input size as Keras' obtain_input_shape does, and fills defaults. */
kvk_status kvk_application_check_args(const kvk_application *app, const kvk_model_options *opts,
                                      kvk_app_args *args);

/* The classifier or pooling head every application shares. */
int kvk_app_head_pooling(kvk_graph *g, int x, kvk_pooling pooling, const char *avg_name,
                         const char *max_name);

kvk_status kvk_build_vgg16(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_vgg19(kvk_graph *g, const kvk_app_args *args);
kvk_status kvk_build_resnet50(kvk_graph *g, const kvk_app_args *args);

#endif
