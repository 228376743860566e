/* .keras archives, as Keras 3's `model.save("m.keras")` (and tf.keras 2.13+) writes them: a
 * zip holding
 *     metadata.json      {"keras_version": "3.15.1", "date_saved": ...}
 *     config.json        the model's architecture (Keras' serialized config)
 *     model.weights.h5   the weights, in Keras 3's layout (weights_keras3.h)
 * and possibly assets/ (or the same as files in a directory: zipped=False). kvk reads the zip's
 * central directory itself; members may be stored or deflated (zlib), zip64 included. Everything is
 * checked against the file before use: offsets and sizes must lie inside it and before the central
 * directory, local headers must agree with the directory, names must be unique, CRC-32s must match,
 * and a deflated member must inflate to exactly its declared size. Declared sizes are capped before
 * anything is allocated: a deflated member at KVK_ARCHIVE_MAX_RATIO times its compressed size
 * (deflate cannot do better), config.json at KVK_ARCHIVE_MAX_CONFIG bytes, metadata.json at
 * KVK_ARCHIVE_MAX_METADATA, model.weights.h5 at KVK_ARCHIVE_MAX_WEIGHTS. Encrypted members,
 * other compression methods and split archives are refused.
 *
 * model.weights.h5 is opened from memory with HDF5's core driver and a file image (no
 * temporary file, and no copy: see weights_keras3.c). */
#ifndef KVK_KERAS_ARCHIVE_H
#define KVK_KERAS_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "keras/weights.h"

#define KVK_ARCHIVE_MAX_RATIO 1032u                  /* inflated / deflated bytes */
#define KVK_ARCHIVE_MAX_CONFIG ((uint64_t)64 << 20)  /* config.json: 64 MiB */
#define KVK_ARCHIVE_MAX_METADATA ((uint64_t)1 << 20) /* metadata.json: 1 MiB */
#define KVK_ARCHIVE_MAX_WEIGHTS ((uint64_t)16 << 30) /* model.weights.h5: 16 GiB */

/* Reads a .keras archive. `config_json` (if not NULL) receives config.json's text,
 * NUL-terminated, malloc'ed (free it). `weights` (if not NULL) receives the weights, read and
 * normalised as kvk_weight_file_read does, with format KVK_FORMAT_KERAS_ARCHIVE, keras_version
 * from metadata.json (keras_major 3 for Keras 3, 2 for a tf.keras archive) and model_config
 * set to config.json's text. Pass NULL for what is not needed: the weights are only read
 * when asked for. Errors name the archive and the member at fault. */
kvk_status kvk_keras_archive_read(const char *path, char **config_json, kvk_weight_file **weights);

/* 1 if path is a directory holding model.weights.h5: an unzipped archive, as Keras 3's
 * model.save(..., zipped=False) writes it; kvk_keras_archive_read reads those too. */
int kvk_archive_directory(const char *path);

/* 1 if the first bytes of a file (n of them) are a zip signature. */
int kvk_archive_signature(const unsigned char *head, size_t n);

/* For weights.c and inspect: the archive's weights as stored (not analysed or normalised),
 * shapes only when with_data is 0. */
kvk_status kvk_weights_read_archive(const char *path, int with_data, kvk_weight_file **out,
                                    int *listed_layers);

#endif
