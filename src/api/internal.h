/* The structures behind the public handles. The API sits above the backends: it builds and
 * plans the graph, then hands graph and plan to the context's backend. */
#ifndef KVK_API_INTERNAL_H
#define KVK_API_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "core/graph.h"
#include "core/plan.h"
#include "cpu/backend.h"
#include "kvk/context.h"
#include "kvk/model.h"
#include "vk/model_vk.h"

struct kvk_context {
    int cpu_reference;        /* 1: the C reference backend, no Vulkan */
    struct kvk_vk_device *vk; /* the Vulkan device otherwise */
    char name[320];
    int verbose;
    uint64_t max_binding_bytes;     /* the cap on one storage buffer binding */
    size_t alignment;               /* of tensor offsets inside buffers */
    kvk_vk_kernel_override kernels; /* forced kernel variants (options.kernels, KVK_KERNELS) */
    int time_layers;                /* options.time_layers */
    int staging_upload;             /* KVK_WEIGHT_UPLOAD=staging */
};

struct kvk_model {
    kvk_context *ctx;
    kvk_graph graph;
    kvk_plan plan; /* for `chunk` images */
    int height, width;
    int max_batch; /* what kvk_model_run accepts */
    int chunk;     /* images per recorded submission: every tensor must fit one binding */
    const char *preprocess;
    const char *source; /* "config" (the architecture saved in the file) or "builder" */
    char name[96];      /* the Keras model name: the config's, or the application's */
    /* per output, the Keras rank without the batch axis (1 or 3); 0: derived from the op */
    int output_rank[KVK_MAX_OUTPUTS];
    char output_names[KVK_MAX_OUTPUTS][96]; /* the requested layer names, or the last layer */
    double flops;
    double weight_bytes;
    /* Keras' model.layers order of the graph's nodes, taken before the passes rewire it
     * (keras/keras_order.h); kvk_model_layer_* list the Keras layers in it */
    int *layer_order;
    int layer_order_count;
    kvk_cpu_model *cpu; /* the backend's model: one of the two */
    kvk_vk_model *vk;
    /* One run at a time: a run fills the model's input buffer, submits its one recorded
     * command buffer and reads its output buffers (include/kvk/model.h, "Threads"). */
    pthread_mutex_t run_lock;
};

/* Builds a model from a graph someone else made (tests build single-op graphs this way). The
 * model takes ownership of the graph. `optimize` runs the fusion passes; the reference
 * backend ignores it and executes every layer as Keras does. `precision`: as
 * kvk_model_options.precision (the environment is not read here). */
kvk_status kvk_model_from_graph(kvk_context *ctx, kvk_graph *graph, int batch, int optimize,
                                kvk_precision precision, kvk_model **out);
/* options->precision, or KVK_PRECISION from the environment where that is 0. */
kvk_precision kvk_model_precision(const kvk_model_options *options);

#endif
