/* Keras 3's own weight layout (`model.save_weights("m.weights.h5")`, and the model.weights.h5
 * inside a .keras archive; tf.keras 2.13+ writes the same layout for .keras files).
 *
 * The file is a tree of "saveables": every layer (and every model) is an HDF5 group holding a
 * group `vars` with its variables as datasets "0", "1", ... in the order the layer created
 * them; a model's layers sit below it in a group `layers`, one group per layer named after its
 * class and position, not after the layer: `layers/conv2d`, `layers/conv2d_1`, ... in
 * `model.layers` order, restarting inside every nested model:
 *     vars                                       the outer model (name attribute only)
 *     layers/functional/vars                     a nested functional model, e.g. resnet50
 *     layers/functional/layers/conv2d/vars/0     its first Conv2D's kernel
 *     layers/dense/vars/{0,1}                    the outer model's Dense
 *     optimizer/vars/...                         optimizer state (ignored)
 * The layer's own name is the attribute `name` of its `vars` group (Keras 3.6 and later).
 * Files without it (Keras 3.0-3.5, tf.keras) get the names from the model config
 * (config.json of a .keras archive) by redoing Keras' group naming; a bare .weights.h5
 * without names is refused, since only the model could tell which `conv2d_N` is which layer.
 *
 * Keras 3 creates the variables of every layer kvk supports in Keras 2's order (Conv2D
 * kernel, bias; BatchNormalization gamma, beta, moving_mean, moving_variance, without the
 * ones scale/center turn off; SeparableConv2D depthwise, pointwise, bias; Dense kernel,
 * bias) and in the same layout, so they are read as they are. bfloat16 variables (stored
 * as 2-byte opaque data with attribute dtype="bfloat16") and integer ones are converted to
 * float32.
 *
 * Layers of nested models (and layers inside layers) are exposed by their own Keras names,
 * flattened into the one list of kvk_weight_file: `conv1_conv`, not `resnet50/conv1_conv`.
 * Only where two layers with weights share a name (Keras allows that in different nested
 * models) are both exposed qualified by the names of the models around them, joined with
 * "/" and without the outermost model: `encoder/dense`, `decoder/dense`. Layers without
 * weights are counted (listed_layers) but not listed. Weight names are the datasets' paths in
 * the file, e.g. "layers/functional/layers/conv2d/vars/0".
 *
 * Hostile files: links must be plain (no soft or external links), nesting, group and entry
 * counts and name lengths are capped, a dataset may not claim more values than its storage
 * can hold, and the datasets read may not add up to more bytes than the file (one dataset
 * linked as many variables). What remains is HDF5's own robustness: the `name` attributes are
 * variable-length strings, read from the file's global heap, and fuzzing showed HDF5 1.10.8
 * crashing or looping inside H5HG_read on a corrupted heap (h5py and every HDF5 reader share
 * this). Inside a .keras archive the CRC-32 catches accidental damage, not a crafted file. */
#ifndef KVK_KERAS_WEIGHTS_KERAS3_H
#define KVK_KERAS_WEIGHTS_KERAS3_H

#include <stddef.h>

#include "keras/weights.h"

/* 1 if the HDF5 file at path has Keras 3's layout (a root group `vars` or `layers`, and
 * neither Keras 2's `layer_names` attribute nor its `model_weights` group), else 0. */
int kvk_weights_h5_is_keras3(const char *path);

/* Reads a Keras 3 layout HDF5 file from disk. With `with_data` 0 only shapes are read. */
kvk_status kvk_weights_read_keras3(const char *path, int with_data, kvk_weight_file **out,
                                   int *listed_layers);

/* The same for an unzipped archive: `dir` (file->path) holds model.weights.h5, whose names
 * may come from `config_json`. Sets format KVK_FORMAT_KERAS_ARCHIVE. */
kvk_status kvk_weights_read_keras3_dir(const char *dir, const char *config_json, int with_data,
                                       kvk_weight_file **out, int *listed_layers);

/* The same from an HDF5 file image in memory (`size` bytes, not copied; kept alive by the
 * caller until this returns). `path` is the archive (file->path), `member` the member's name
 * for messages, `config_json` (or NULL) the model config used for names when the file has
 * none. Sets format KVK_FORMAT_KERAS_ARCHIVE. */
kvk_status kvk_weights_read_keras3_image(const char *path, const char *member, const void *image,
                                         size_t size, const char *config_json, int with_data,
                                         kvk_weight_file **out, int *listed_layers);

#endif
