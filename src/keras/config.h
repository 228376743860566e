/* A model from the architecture Keras saves with it: the model config JSON of a Keras 2
 * model.save .h5 (attr model_config), of a TensorFlow.js model.json (modelTopology
 * .model_config) and of a Keras 3 .keras archive (config.json). Sequential and functional
 * models, models nested in models, layers called several times (shared), built into a
 * kvk_graph with the kvk_graph_* builders under Keras' own layer names. */
#ifndef KVK_KERAS_CONFIG_H
#define KVK_KERAS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "core/graph.h"
#include "core/json.h"
#include "keras/weights.h"

/* One row of the layer table (model.summary()): the outermost model's layers. */
typedef struct kvk_config_row {
    char name[96];
    char cls[48];
    int rank;           /* of the output, without the batch axis: 1 (c) or 3 (h, w, c) */
    kvk_shape shape;    /* channels_last */
    long long params;   /* weights, trainable or not (a nested model: all of its layers') */
    int channels_first; /* the model is channels_first: Keras shows (c, h, w) */
} kvk_config_row;

/* What the config says beyond the graph: for binding, for the model and for the summary. */
typedef struct kvk_config_model {
    char name[96];                 /* the outermost model's name */
    const char *preprocess;        /* the preprocess_input mode of a known application the model is
                                      or contains (e.g. a nested 'resnet50': caffe), else "none" */
    int keras3;                    /* the Keras 3 format (keras_history, batch_shape) */
    int channels_first;            /* converted to channels_last as the th path does */
    int input_height, input_width; /* the config's input size; 0 where it is None */
    /* nested models: a Keras 2 .h5 stores each as one layer_names entry whose weights carry
     * their inner layer's name ("conv1_conv/kernel:0") */
    char (*nested)[96];
    int *nested_node; /* the graph node of each nested model's output (-1 if not called) */
    int nested_count;
    /* layers called more than once: graph node `node` ("conv/call1") shares `layer`'s weights */
    char (*shared)[2][96];
    int shared_count;
    /* Dense layers with use_bias=False (the graph's Dense always has a bias: zeros) */
    char (*no_bias)[96];
    int no_bias_count;
    kvk_config_row *rows;
    int row_count;
    long long total_params;
    /* per graph node (index): the Keras rank of its output without the batch axis (1 or 3) */
    int *rank;
    int rank_count;
} kvk_config_model;

/* Builds the graph of the model config `json` (`length` bytes; `what` names its source in
 * messages: a file path). The input size comes from the config; `height`/`width` (0: the
 * config's) must match it, and are required where the config leaves it None. On failure
 * the message names the layer and class at fault; g and info are left empty. */
kvk_status kvk_config_build(const char *json, size_t length, const char *what, int height,
                            int width, kvk_graph *g, kvk_config_model *info);
/* The same from an already parsed config (the object with class_name and config, or a
 * model.json's modelTopology / {"model_config": ...} wrapper). */
kvk_status kvk_config_build_json(const kvk_json *config, const char *what, int height, int width,
                                 kvk_graph *g, kvk_config_model *info);
void kvk_config_model_free(kvk_config_model *info);

/* Binds the weights of `file` to a graph built from a config: by layer name, every shape
 * checked (keras/bind.c), finding the inner layers of nested models and giving shared
 * layers' extra calls the same weights. Moves the data out of the file, as kvk_bind_weights. */
kvk_status kvk_config_bind(kvk_graph *g, const kvk_config_model *info, kvk_weight_file *file);

/* THE mapping of a Keras activation name to kvk's; fails naming the layer, its class and
 * what is supported. */
kvk_status kvk_config_activation(const char *activation, int keras_major, const char *layer,
                                 const char *cls, kvk_act *out);

/* The layer table, like model.summary(): name (class), output shape, parameters. */
void kvk_config_print_summary(const kvk_config_model *info, FILE *out);

/* `kvk inspect`: the table of the config in a weight file, if it has one (prints nothing and
 * returns KVK_OK otherwise). Needs no weights: only the file's metadata is read. */
kvk_status kvk_config_inspect_file(const char *path, FILE *out);

/* Whether the config (`length` bytes of JSON) is, or nests, a model named `name`. */
int kvk_config_has_model(const char *json, size_t length, const char *name);

/* The supported layer classes, for messages and docs. */
const char *kvk_config_supported_layers(void);

#endif
