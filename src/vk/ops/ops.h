/* One file per op family: how its weights are laid out on the device, and how its step is
 * recorded. model_vk.c calls these and knows nothing of any op's details. */
#ifndef KVK_VK_OPS_H
#define KVK_VK_OPS_H

#include "core/plan.h"
#include "vk/vk.h"

/* Everything an op needs to record one step. */
typedef struct kvk_vk_step_ctx {
    kvk_vk_recorder *rec;
    const kvk_graph *graph;
    const kvk_plan *plan;
    const kvk_step *step;
    const kvk_node *node;
    kvk_vk_binding inputs[3], output; /* a fused residual is the last input */
    const kvk_vk_binding *weights;    /* the step's weight pieces, in the op's order */
    int weight_count;
} kvk_vk_step_ctx;

/* Weights of a step as pieces, each small enough for one binding. `piece_floats` receives
 * each piece's size; returns the count (0 for weightless steps). */
int kvk_vk_weight_pieces(const kvk_graph *g, const kvk_step *s, uint64_t max_binding,
                         size_t *piece_floats, int max_pieces);
/* Writes piece `index` in the device layout. */
void kvk_vk_weight_pack(const kvk_graph *g, const kvk_step *s, uint64_t max_binding, int index,
                        float *dst);

/* conv.c: Conv2D and Dense */
int kvk_vk_conv_channels_per_piece(const kvk_graph *g, const kvk_node *n, uint64_t max_binding);
size_t kvk_vk_conv_piece_floats(const kvk_graph *g, const kvk_node *n, int channels);
void kvk_vk_conv_pack(const kvk_graph *g, const kvk_node *n, int oc0, int channels, float *dst);
kvk_status kvk_vk_record_conv(const kvk_vk_step_ctx *c, uint64_t max_binding);

/* simple.c: pooling, element-wise, padding, softmax, concatenation, depthwise conv */
kvk_status kvk_vk_record_pool(const kvk_vk_step_ctx *c);
kvk_status kvk_vk_record_global_pool(const kvk_vk_step_ctx *c);
kvk_status kvk_vk_record_eltwise(const kvk_vk_step_ctx *c);
kvk_status kvk_vk_record_zeropad(const kvk_vk_step_ctx *c);
kvk_status kvk_vk_record_softmax(const kvk_vk_step_ctx *c);
void kvk_vk_batchnorm_pack(const kvk_node *n, float *dst);
kvk_status kvk_vk_record_channel_slice(const kvk_vk_step_ctx *c);
size_t kvk_vk_depthwise_floats(const kvk_node *n);
void kvk_vk_depthwise_pack(const kvk_node *n, float *dst);
kvk_status kvk_vk_record_depthwise(const kvk_vk_step_ctx *c);

#endif
