/* Shared between the weight-file readers (weights_h5.c, weights_tfjs.c), the common
 * normalisation (weights.c) and `inspect` (weights_inspect.c). */
#ifndef KVK_KERAS_WEIGHTS_INTERNAL_H
#define KVK_KERAS_WEIGHTS_INTERNAL_H

#include "core/json.h"
#include "keras/weights.h"

#define KVK_NOT_WEIGHT_FILE "not a Keras weight file (expected HDF5 or TensorFlow.js model.json)"

typedef enum kvk_weight_source {
    KVK_SOURCE_HDF5,
    KVK_SOURCE_TFJS,
    KVK_SOURCE_KERAS3,  /* HDF5 in Keras 3's layout (weights_keras3.h) */
    KVK_SOURCE_ARCHIVE, /* a .keras zip (archive.h) */
} kvk_weight_source;

/* Decides the reader from the contents; `resolved` is the file to open (a directory's
 * model.json), malloc'ed. */
kvk_status kvk_weights_detect(const char *path, kvk_weight_source *source, char **resolved);

/* The readers fill path, format, keras_version, backend, model_config and the layers as
 * stored (no normalisation). With `with_data` 0 only metadata is read and data stays NULL.
 * `listed_layers` receives the number of layers the file lists, with or without weights. */
kvk_status kvk_weights_read_h5(const char *path, int with_data, kvk_weight_file **out,
                               int *listed_layers);
/* The reader for `source` (kvk_weights_read_h5, _tfjs, _keras3 or _archive). */
kvk_status kvk_weights_read_source(kvk_weight_source source, const char *path, int with_data,
                                   kvk_weight_file **out, int *listed_layers);
kvk_status kvk_weights_read_tfjs(const char *path, int with_data, kvk_weight_file **out,
                                 int *listed_layers);

/* Sets keras_major, theano_kernels and channels_first from what the reader found, and
 * parses model_config into *config (NULL when absent or not JSON). */
kvk_status kvk_weights_analyse(kvk_weight_file *file, kvk_json **config);

enum {
    KVK_CONVERT_TRANSPOSE = 1, /* Keras 1 channels_first kernel (out,in,kh,kw) -> (kh,kw,in,out) */
    KVK_CONVERT_FLIP = 2,      /* theano kernel: reverse every spatial axis */
};
/* The conversions kvk_weights_normalise applies to one weight (0 for most). */
int kvk_weights_conversion(const kvk_weight_file *file, const kvk_json *config, int layer,
                           int weight);
/* Applies the conversions to the dims, and to the data where it was read. */
kvk_status kvk_weights_normalise(kvk_weight_file *file, const kvk_json *config);

/* Helpers for the readers. */
kvk_weight_file *kvk_weights_new(const char *path, kvk_weight_format format);
/* Returns the layer of that name, appending an empty one if absent; NULL when out of memory. */
kvk_weight_layer *kvk_weights_layer_add(kvk_weight_file *file, const char *name);
/* Appends a zeroed weight named `name`; NULL when out of memory. */
kvk_weight *kvk_weights_weight_add(kvk_weight_layer *layer, const char *name);
int64_t kvk_weight_elements(const kvk_weight *w);
const char *kvk_weight_format_name(kvk_weight_format format);

#endif
