/* How weight files are read. */
#ifndef KVK_WEIGHTS_PUBLIC_H
#define KVK_WEIGHTS_PUBLIC_H

#include "kvk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HDF5 weight files (Keras 1/2 .h5, Keras 3 .weights.h5, the weights inside a .keras archive)
 * are read by libhdf5, which can crash (SIGSEGV) or loop forever on a
 * damaged or hostile file. By default kvk therefore reads them in a short-lived child process
 * (fork): with an address-space limit and a time limit, the weights come back through a pipe
 * and are checked again on arrival, and a crash, a hang or a memory blow-up in libhdf5 ends
 * in an error naming the file instead of taking the calling process down. The cost is one
 * fork and one copy of the weights per file. See docs/hostile-inputs.md.
 *
 * KVK_HDF5_ISOLATED: the default. The environment variable KVK_HDF5_ISOLATION=0 switches to
 * KVK_HDF5_IN_PROCESS when nothing was set through this call.
 * KVK_HDF5_IN_PROCESS: libhdf5 runs in the calling process (only for trusted files, or where
 * fork is not wanted).
 * timeout_seconds: the reader's time limit; 0 for the default (KVK_HDF5_TIMEOUT seconds from
 * the environment, else 120). Process-wide; thread-safe. */
typedef enum kvk_hdf5_mode {
    KVK_HDF5_DEFAULT = 0,
    KVK_HDF5_ISOLATED = 1,
    KVK_HDF5_IN_PROCESS = 2
} kvk_hdf5_mode;

void kvk_set_hdf5_mode(kvk_hdf5_mode mode, int timeout_seconds);

/* Converts any weight file kvk reads (Keras 0.x to 3 HDF5, .keras, TensorFlow.js model.json)
 * into Keras 2's save_weights .h5 layout, the layout of Keras' own application files, which
 * tf-keras' Model.load_weights reads by position. architecture NULL: the layers in the input
 * file's order (Keras' model.layers order for an .h5 Keras wrote; TF.js manifests may be
 * sorted by name). An application name ("resnet50"): the layers in the order and under the
 * names of that application in today's Keras (tf-keras' layer order, computed from kvk's
 * graph), so that keras.applications' weights=OUT.h5 loads it; the file must be a weight
 * file of that application, with or without its top. Weights as kvk normalises them: float32,
 * channels_last, theano kernels flipped back; a channels_first file with a Dense layer is
 * refused (its rows after a Flatten need the architecture). The output is written whole or not
 * at all (a temporary file renamed over it); it records what it was converted from in attr
 * converted_by. */
kvk_status kvk_convert_weights(const char *input_path, const char *output_path,
                               const char *architecture);

#ifdef __cplusplus
}
#endif
#endif
