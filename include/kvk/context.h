/* A kvk context owns one compute device: a Vulkan physical device, or the CPU reference. */
#ifndef KVK_CONTEXT_H
#define KVK_CONTEXT_H

#include <stdint.h>

#include "kvk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvk_context kvk_context;

typedef struct kvk_context_options {
    /* NULL or "": the KVK_DEVICE environment variable, else the best device (discrete, then
     * integrated, then virtual, then CPU). A number picks by index in kvk_list_devices()
     * order, other text by case-insensitive substring of the device name. "cpu-reference"
     * selects the CPU reference backend (plain C, double accumulation: slow, exact). */
    const char *device;
    /* Enable the Khronos validation layer and count every message it reports (see
     * kvk_context_validation_messages). Also on when KVK_VALIDATION=1. */
    int validation;
    /* 0: the device's maxStorageBufferRange. Otherwise a smaller cap on one buffer binding,
     * which tests use to prove that weights too large for one binding are split. */
    uint64_t max_binding_bytes;
    /* Print device choice, plan sizes and timings to stderr. */
    int verbose;
    /* NULL: the KVK_KERNELS environment variable, else kvk's own choice. Otherwise kernel
     * variants to prefer wherever they fit a layer, comma-separated (e.g. "conv2d_rb1,
     * depthwise_conv2d"): tests use it to run every variant on every device that can. An
     * unknown name, or one the device cannot run, fails context creation. */
    const char *kernels;
    /* Models created on this context write a GPU timestamp after every layer (where the
     * device's queue has timestamps), read with kvk_model_layer_time (kvk/bench.h). Off,
     * nothing is recorded. */
    int time_layers;
} kvk_context_options;

kvk_status kvk_context_create(const kvk_context_options *options, kvk_context **out);
void kvk_context_destroy(kvk_context *ctx);

/* A one-line description: "llvmpipe (LLVM 15.0.6, 256 bits) [cpu, Vulkan 1.3, Mesa 22.3.6]". */
const char *kvk_context_device_name(const kvk_context *ctx);

/* Number of validation-layer messages (warnings and errors) seen so far; each was also
 * printed to stderr. Always 0 when validation is off. */
int kvk_context_validation_messages(const kvk_context *ctx);

/* Prints the Vulkan devices with the limits kvk cares about, in selection-index order. */
kvk_status kvk_list_devices(void *file /* FILE* */);
/* The same; with `verbose`, also each device's capabilities as kvk reads them to choose its
 * kernels: subgroup size and operations, 16-bit and 8-bit storage, fp16 and int8 arithmetic,
 * shared memory, cooperative-matrix shapes. */
kvk_status kvk_describe_devices(void *file /* FILE* */, int verbose);

#ifdef __cplusplus
}
#endif
#endif
