/* The execution plan: the graph's surviving nodes as a list of steps over tensors, and where
 * each tensor lives in one activation arena. Both backends run exactly this. */
#ifndef KVK_CORE_PLAN_H
#define KVK_CORE_PLAN_H

#include <stddef.h>

#include "core/graph.h"

/* Element types of tensors and weights. Every backend op declares which it runs (its table
 * entry); the plan chooses, so reduced precision is a planning decision, not a rewrite. */
typedef enum kvk_dtype { KVK_DTYPE_F32, KVK_DTYPE_F16, KVK_DTYPE_COUNT } kvk_dtype;
#define KVK_DTYPE_BIT(t) (1u << (t))

static inline size_t kvk_dtype_size(kvk_dtype t) {
    return t == KVK_DTYPE_F16 ? 2 : 4;
}
const char *kvk_dtype_name(kvk_dtype t);

typedef struct kvk_step {
    kvk_op op;     /* the node's op, or KVK_OP_SOFTMAX for a Dense's softmax tail */
    int node;      /* the graph node whose attributes and weights the step uses */
    int inputs[2]; /* tensor indices */
    int input_count;
    int output; /* tensor index */
    /* The step writes channels out_channel_offset.. of its output tensor, whose channel count
     * is the row stride (a producer writing into a Concatenate in place, or one input of a
     * Concatenate copied into it); 0 and the node's own channel count otherwise. */
    int out_channel_offset;
    kvk_dtype weights; /* how the backend stores this step's weights */
} kvk_step;

typedef struct kvk_tensor {
    int node;        /* producing node */
    kvk_shape shape; /* per image */
    kvk_dtype dtype;
    size_t offset;  /* bytes into the arena */
    size_t bytes;   /* for the plan's batch */
    int first_step; /* -1 for the input */
    int last_step;  /* last reader; step_count for model outputs */
} kvk_tensor;

typedef struct kvk_plan {
    int batch;
    kvk_step *steps;
    int step_count;
    kvk_tensor *tensors;
    int tensor_count;
    int input_tensor;
    int output_tensors[KVK_MAX_OUTPUTS]; /* one per graph output */
    int output_count;
    int output_tensor;  /* output_tensors[0] */
    size_t arena_bytes; /* peak: what the offsets need */
    size_t sum_bytes;   /* what one buffer per tensor would need, for comparison */
} kvk_plan;

/* Plans the graph (after kvk_graph_optimize or kvk_graph_resolve_identities) for `batch`
 * images, with every tensor offset a multiple of `alignment`. */
kvk_status kvk_plan_build(const kvk_graph *g, int batch, size_t alignment, kvk_plan *out);
void kvk_plan_free(kvk_plan *plan);

#endif
