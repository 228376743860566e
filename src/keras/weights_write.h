/* Writing weights in Keras 2's save_weights HDF5 layout, the layout of Keras' own application
 * files (~/.keras/models/NAME_weights_tf_dim_ordering_tf_kernels.h5): root attrs layer_names,
 * backend, keras_version; one group per layer with weights, attr weight_names
 * ("<layer>/<name>:0"), float32 datasets in Keras 2's channels_last order. tf-keras'
 * Model.load_weights(path) reads it, by layer order (the file's order, which for a file Keras
 * wrote is its model.layers order). */
#ifndef KVK_KERAS_WEIGHTS_WRITE_H
#define KVK_KERAS_WEIGHTS_WRITE_H

#include "keras/weights.h"

/* Writes `file` (read with its data, normalised) to `path`, atomically (a temporary file
 * renamed over it). converted_from: a note stored in attr converted_by. A channels_first file
 * with a Dense layer is refused (its rows after a Flatten need the architecture). */
kvk_status kvk_weights_write_keras_h5(const kvk_weight_file *file, const char *path,
                                      const char *converted_from);

#endif
