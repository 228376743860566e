/* Measuring a device and a model, for benchmarks (`kvk bench`): the device's own GEMM and
 * bandwidth ceilings, each layer's GPU time, and the device memory kvk holds. */
#ifndef KVK_BENCH_H
#define KVK_BENCH_H

#include "kvk/context.h"
#include "kvk/model.h"
#include "kvk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What kvk's probe shaders reach on the device: an fp32 GEMM (register-blocked, no shared
 * memory: a lower bound of the device's true ceiling on GPUs) and a buffer copy. */
typedef struct kvk_device_peak {
    double gemm_gflops;
    int gemm_size;        /* M = N = K of the GEMM */
    double bandwidth_gbs; /* bytes read plus bytes written per second, in 1e9 */
    double copy_bytes;    /* the size of the copied buffer */
} kvk_device_peak;

/* Runs both probes (each checked against the host first; about a second on a CPU driver).
 * KVK_ERROR_UNSUPPORTED on the CPU reference. */
kvk_status kvk_context_measure_peak(kvk_context *ctx, kvk_device_peak *out);

/* Device memory: what kvk's buffers hold now and at most since the context was created (or
 * the last kvk_context_reset_peak_memory), and,
 * where the device has VK_EXT_memory_budget, the driver's usage and budget of its
 * device-local heaps (has_budget 0 otherwise). All 0 on the CPU reference. */
typedef struct kvk_memory_usage {
    double allocated_bytes, peak_allocated_bytes;
    int allocations;
    int has_budget;
    double budget_usage_bytes, budget_bytes;
} kvk_memory_usage;
void kvk_context_memory_usage(const kvk_context *ctx, kvk_memory_usage *out);
void kvk_context_reset_peak_memory(kvk_context *ctx);

/* Per-layer GPU time of a model created on a context with time_layers set: the executed
 * layers (after fusion) in order, each with its mean time over the runs since the model was
 * created or the times were reset. runs is 0 when the model is not timed, on the CPU
 * reference, or when the device's queue has no timestamps. */
typedef struct kvk_layer_time {
    const char *name;   /* the Keras layer that the step runs (fused layers under its name) */
    const char *op;     /* "conv2d", "add", ... */
    const char *kernel; /* the shader variant, or NULL */
    double ms;
    int runs;
    /* multiply-adds x 2 per image, as a direct convolution counts them (a Winograd layer's
     * rate is then its effective rate); 0 for layers without a product (pools, adds) */
    double flops;
} kvk_layer_time;
int kvk_model_timed_layer_count(const kvk_model *model);
kvk_status kvk_model_layer_time(const kvk_model *model, int index, kvk_layer_time *out);
void kvk_model_layer_times_reset(kvk_model *model);

/* What a model's recorded command buffer holds: its dispatches, and the barriers that order
 * them (one only where a dispatch reads or overwrites what one since the last barrier wrote
 * or read; one after every dispatch in a model timed per layer), and the distinct pipelines
 * they use (each one the driver compiles: the cold start's main cost). All 0 on the CPU
 * reference. */
typedef struct kvk_model_recording {
    int dispatches, barriers, pipelines;
} kvk_model_recording;
void kvk_model_get_recording(const kvk_model *model, kvk_model_recording *out);

#ifdef __cplusplus
}
#endif
#endif
