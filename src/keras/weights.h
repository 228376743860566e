/* A Keras weight file, read into memory and normalised to one layout.
 *
 * Every format kvk reads (Keras 2 save_weights, Keras 2 model.save, Keras 1 files, the
 * TensorFlow.js layers format) ends up here as: layers by Keras layer name, each with its
 * weights in the order Keras 2 creates them, as float32, in Keras 2 channels_last layout:
 *   Conv2D          kernel (kh, kw, cin, cout), bias (cout)
 *   Dense           kernel (in, out), bias (out)
 *   BatchNorm       gamma, beta, moving_mean, moving_variance (whichever of gamma/beta exist)
 *   DepthwiseConv2D depthwise_kernel (kh, kw, cin, mult), bias
 *   SeparableConv2D depthwise_kernel, pointwise_kernel (1, 1, cin*mult, cout), bias
 * Theano-ordered files have their convolution kernels flipped back and Keras 1 theano kernels
 * transposed here. What cannot be undone without the architecture (the row order of the first
 * Dense after a Flatten in a channels_first file) is left to the binder, which reads
 * `channels_first` below. */
#ifndef KVK_KERAS_WEIGHTS_H
#define KVK_KERAS_WEIGHTS_H

#include <stdint.h>
#include <stdio.h>

#include "kvk/status.h"

#define KVK_MAX_DIMS 8

typedef enum kvk_weight_format {
    KVK_FORMAT_H5_WEIGHTS,    /* save_weights(): layer_names at the root */
    KVK_FORMAT_H5_MODEL,      /* model.save(): group model_weights, attr model_config */
    KVK_FORMAT_TFJS_LAYERS,   /* model.json with weightsManifest + binary shards */
    KVK_FORMAT_KERAS3_H5,     /* Keras 3 .weights.h5: layers/<layer>/vars/<i> (weights_keras3.h) */
    KVK_FORMAT_KERAS_ARCHIVE, /* .keras zip: config.json, metadata.json, model.weights.h5 */
    KVK_FORMAT_H5_LEGACY,     /* Keras 0.x/1.0: attr nb_layers, groups layer_<i>/param_<j>; no
                                 layer names: bound to the model's layers by order */
} kvk_weight_format;

typedef struct kvk_weight {
    char *name; /* as stored, e.g. "block1_conv1/kernel:0", "convolution2d_1_W" */
    int ndim;
    int64_t dims[KVK_MAX_DIMS]; /* after normalisation (see above) */
    float *data;                /* ndim-product floats, owned; NULL once moved into a model */
    const float *moved_to;      /* where kvk_bind_weights moved `data` (a layer bound twice) */
    const char *dtype;          /* stored type (static): "float32", "float64", "float16"; Keras 3
                                   files also "bfloat16" and integer types ("int64", ...) */
} kvk_weight;

typedef struct kvk_weight_layer {
    char *name; /* the Keras layer name */
    int count;
    kvk_weight *weights; /* in Keras 2 order */
} kvk_weight_layer;

typedef struct kvk_weight_file {
    char *path;
    kvk_weight_format format;
    char *keras_version; /* attr keras_version, or NULL if absent */
    char *backend;       /* attr backend ("tensorflow", "theano"), or NULL */
    int keras_major;     /* 1, 2 or 3, from keras_version; without one (Keras 1 wrote none)
                            1 if no weight name has a "layer/" prefix, else 2; a Keras 3
                            .weights.h5 records no version: 3 */
    int theano_kernels;  /* kernels were stored flipped (and converted on load) */
    int channels_first;  /* written with channels_first data format: see header comment */
    char *model_config;  /* the JSON architecture, if the file has one, else NULL */
    int layer_count;     /* layers that have weights (weightless layers are omitted) */
    kvk_weight_layer *layers;
} kvk_weight_file;

/* Reads any supported weight file (format detected from the contents: HDF5 signature, Keras
 * 1/2 or Keras 3 layout told by the groups inside; a zip signature for a .keras archive; or
 * a JSON model.json whose shards sit beside it). Errors name the file and, where it applies,
 * the layer and dataset at fault. */
kvk_status kvk_weight_file_read(const char *path, kvk_weight_file **out);
/* The same without the data (every `data` NULL): names, normalised shapes and dtypes, read
 * from metadata only, so that shapes can be checked against the model before any weight is
 * read (a file can declare gigabytes for a layer that needs kilobytes). */
kvk_status kvk_weight_file_read_shapes(const char *path, kvk_weight_file **out);
void kvk_weight_file_free(kvk_weight_file *file);

/* The layer of that name, or NULL. */
const kvk_weight_layer *kvk_weight_file_layer(const kvk_weight_file *file, const char *name);

/* Prints the layout found, as `kvk inspect` shows it: format, Keras version and backend
 * attributes, then each layer with its weight names, shapes and stored dtypes. Reads
 * metadata only where the format allows, so it is quick on large files. */
kvk_status kvk_weight_file_inspect(const char *path, FILE *out);

#endif
