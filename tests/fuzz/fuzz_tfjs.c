/* TensorFlow.js layers-format folders: model.json and one weight shard. The input up to its
 * first NUL byte (which JSON text cannot hold) is model.json, the rest, if there is a NUL, is
 * the shard group1-shard1of1.bin, the name the seed corpus's manifests use; the folder is read
 * with kvk_weight_file_read (manifest, shard paths and sizes, model config analysis,
 * normalisation). */
#include <stdint.h>
#include <string.h>

#include "fuzz_files.h"
#include "fuzz_weights.h"

#define SHARD "group1-shard1of1.bin"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_size = nul ? (size_t)(nul - data) : size;
    fuzz_write_file("model.json", data, json_size);
    if (nul)
        fuzz_write_file(SHARD, nul + 1, size - json_size - 1);
    else
        fuzz_remove_file(SHARD);
    kvk_weight_file *file = NULL;
    if (kvk_weight_file_read(fuzz_dir(), &file) == KVK_OK) {
        fuzz_check_weight_file(file);
        kvk_weight_file_free(file);
    }
    return 0;
}
