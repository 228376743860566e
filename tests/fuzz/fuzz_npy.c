/* .npy files through kvk_npy_read (header dict, dtype, shape, data size); an accepted array's
 * every element is read, so that a buffer shorter than its shape shows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/npy.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("array.npy", data, size);
    kvk_npy npy;
    if (kvk_npy_read(path, &npy) != KVK_OK) return 0;
    int64_t n = 1;
    for (int i = 0; i < npy.ndim; i++) {
        if (npy.dims[i] < 0) {
            fprintf(stderr, "fuzz: accepted .npy with dimension %lld\n", (long long)npy.dims[i]);
            abort();
        }
        n *= npy.dims[i];
    }
    volatile float sink = 0;
    for (int64_t k = 0; k < n; k++) sink += npy.data[k];
    (void)sink;
    kvk_npy_free(&npy);
    return 0;
}
