/* HDF5 weight files (Keras 1/2 .h5, Keras 3 .weights.h5) and .keras archives (a zip whose
 * model.weights.h5 is opened from memory), through kvk_weight_file_read: format detection,
 * the readers, the model_config analysis and the kernel normalisation.
 *
 * libhdf5 runs in this process here (KVK_HDF5_IN_PROCESS), not in kvk's reader child process
 * (src/keras/h5_isolate.c): coverage counters and AddressSanitizer only see the process they
 * run in, so through the child the fuzzer would be blind to kvk's own reader code, and a
 * memory error there would reach it only as "the child crashed", which kvk reports as a clean
 * error. The price: inputs that crash libhdf5 itself (which the child exists for) stop the
 * fuzzer; scripts/fuzz.sh keeps going past them (-fork, -ignore_crashes) and they are replayed
 * through the child process instead (tests/fuzz/libhdf5/, KVK_HDF5_ISOLATION=1). Setting
 * KVK_HDF5_ISOLATION in the environment chooses the path. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "fuzz_weights.h"
#include "kvk/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int configured;
    if (!configured) {
        if (!getenv("KVK_HDF5_ISOLATION")) kvk_set_hdf5_mode(KVK_HDF5_IN_PROCESS, 0);
        configured = 1;
    }
    const char *path = fuzz_write_file("weights", data, size);
    kvk_weight_file *file = NULL;
    if (kvk_weight_file_read(path, &file) == KVK_OK) {
        fuzz_check_weight_file(file);
        kvk_weight_file_free(file);
    }
    return 0;
}
