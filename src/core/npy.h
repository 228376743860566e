/* NumPy .npy files (version 1.0/2.0, little-endian float32 C-order), so that Python users can
 * np.load() what kvk writes, and tests can read what Keras wrote. */
#ifndef KVK_CORE_NPY_H
#define KVK_CORE_NPY_H

#include <stdint.h>

#include "kvk/status.h"

typedef struct kvk_npy {
    int ndim;
    int64_t dims[8];
    float *data; /* owned; float64 and float32 files are both read into float32 */
} kvk_npy;

kvk_status kvk_npy_read(const char *path, kvk_npy *out);
kvk_status kvk_npy_write(const char *path, const float *data, int ndim, const int64_t *dims);
void kvk_npy_free(kvk_npy *npy);

#endif
