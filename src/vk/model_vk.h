/* The Vulkan backend for one planned model (model_vk.c). */
#ifndef KVK_VK_MODEL_VK_H
#define KVK_VK_MODEL_VK_H

#include "core/plan.h"
#include "vk/kernels.h"
#include "vk/vk.h"

typedef struct kvk_vk_model kvk_vk_model;

typedef struct kvk_vk_model_options {
    uint64_t max_binding; /* the cap on one storage buffer binding (tests lower it) */
    size_t alignment;     /* of offsets inside buffers, as the plan was built with */
    const kvk_vk_kernel_override *kernels; /* forced kernel variants, or NULL */
    /* Free each node's host weights once they are on the device: on a CPU driver the device
     * copy is host memory too, so keeping both would double the model's footprint. */
    int release_host_weights;
    /* Starts memory errors ("vgg16, batch 64"); NULL: "the model". */
    const char *label;
    /* Set (when not NULL) to 1 when creation failed because the model's memory plan does not
     * fit the device by itself (one buffer over a limit, more than a heap), before anything
     * was allocated or any host weight freed: fewer images per submission may fit. */
    int *too_large;
    /* Write a timestamp after every step (where the queue has timestamps): each run then
     * adds up its steps' times (kvk_vk_model_layer_ms). Off, nothing is recorded. */
    int time_layers;
    /* Upload through a staging buffer even where the weights could be written in place (the
     * CPU drivers, integrated GPUs): tests of the path discrete GPUs take. */
    int staging_upload;
} kvk_vk_model_options;

/* Uploads the weights, allocates the activation arena and records the network. The graph and
 * plan must outlive the model; the graph's weights are freed with release_host_weights. Fails
 * naming the layer whose op or tensor type the device backend does not run. */
kvk_status kvk_vk_model_create(kvk_vk_device *dev, kvk_graph *graph, const kvk_plan *plan,
                               const kvk_vk_model_options *options, kvk_vk_model **out);
/* Runs `batch` images in chunks of the plan's batch. */
kvk_status kvk_vk_model_run(kvk_vk_model *m, const float *input, int batch, float *const *outputs);
void kvk_vk_model_destroy(kvk_vk_model *m);

/* Step `index`'s mean GPU milliseconds over the runs since creation or the last reset;
 * returns that number of runs, 0 when the model is not timed or the queue has no timestamps. */
int kvk_vk_model_layer_ms(const kvk_vk_model *m, int index, double *ms);
void kvk_vk_model_layer_times_reset(kvk_vk_model *m);

/* The dispatches and barriers of the recorded command buffer, and its distinct pipelines. */
void kvk_vk_model_recording(const kvk_vk_model *m, int *dispatches, int *barriers, int *pipelines);

/* The kernel variant (embedded shader) step `index` was recorded with. */
const char *kvk_vk_model_step_kernel(const kvk_vk_model *m, int index);

#endif
