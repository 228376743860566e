/* A kvk context owns one compute device: a Vulkan physical device, or the CPU reference.
 *
 * Threads. Every function of kvk may be called from any thread, and from several at once,
 * with these rules:
 *   - Contexts are independent: each has its own VkInstance and VkDevice (and its own Vulkan
 *     function tables), so contexts on different threads share nothing but the process-wide
 *     pieces kvk guards itself (the Vulkan loader, read once; libhdf5, entered by one thread
 *     at a time; the pipeline cache file, replaced atomically).
 *   - One context may be shared: kvk_model_create, kvk_model_run and kvk_model_destroy may
 *     run at the same time on different models of one context. The device's queue, its
 *     pipeline table and its count of reserved memory are taken under locks (for a
 *     submission, for finding or making a pipeline, for a model's memory plan); each model has
 *     its own command and descriptor pools and buffers, so their inferences overlap on the
 *     device (kvk_model_destroy waits for the device to be idle, other models' work too).
 *   - One model may be shared: see kvk_model_run (model.h). Its runs take turns.
 *   - Destroying is the caller's to order: kvk_context_destroy after every model of the
 *     context is destroyed, and kvk_model_destroy when no other call on that model is under
 *     way. Calls that read a model's description (shapes, names, info) need no lock.
 *   - kvk_last_error() is per thread: it is the message of the calling thread's last failure.
 *   - kvk_set_hdf5_mode and kvk_image_set_max_pixels are process-wide settings (atomic): set
 *     them before starting threads that read files.
 * Results do not depend on the threads: a model gives, bit for bit, what it gives alone
 * (tests/unit/test_threads.c checks this on both CPU drivers with validation on). */
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
     * kvk_context_validation_messages). Also on when KVK_VALIDATION=1. 2 (or
     * KVK_VALIDATION=sync) adds synchronization validation, which reports a barrier kvk left
     * out that it needed; it makes small dispatches several times slower. */
    int validation;
    /* 0: the device's maxStorageBufferRange. Otherwise a smaller cap on one buffer binding,
     * which tests use to prove that weights too large for one binding are split. */
    uint64_t max_binding_bytes;
    /* 0: each device memory heap's size as the device reports it. Otherwise a smaller cap on
     * what this context's models may hold of each heap together (weights, activation pools,
     * staging, input and output buffers). A model whose buffers do not fit by themselves is
     * planned with fewer images per submission (down to one); one that still does not fit,
     * or does not fit beside the context's other models, fails kvk_model_create with
     * KVK_ERROR_OUT_OF_MEMORY before it allocates any device memory, naming the bytes it
     * needs, of what, and what the heap has. The device's maxMemoryAllocationSize and
     * maxBufferSize are applied to each buffer the same way. */
    uint64_t max_memory_bytes;
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
