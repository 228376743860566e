/* The Vulkan side of each op: one table entry per op kind (ops.c) with how its weights are laid
 * out on the device and how its step is recorded. model_vk.c calls only the table and knows
 * nothing of any op's details; a kind without an entry fails model creation by name. */
#ifndef KVK_VK_OPS_H
#define KVK_VK_OPS_H

#include "core/plan.h"
#include "vk/kernels.h"
#include "vk/ops/params.h"
#include "vk/vk.h"

/* Everything an op needs about one step: to choose its kernel, lay out its weights, size its
 * scratch memory (rec NULL, bindings empty) and record it. */
typedef struct kvk_vk_step_ctx {
    kvk_vk_recorder *rec;
    const kvk_vk_caps *caps;
    const kvk_vk_kernel_override *kernels; /* forced variants (tests, KVK_KERNELS) */
    const kvk_graph *graph;
    const kvk_plan *plan;
    const kvk_step *step;
    const kvk_node *node;
    const kvk_vk_kernel *kernel; /* what the op's choose() picked, or NULL */
    uint64_t max_binding;
    size_t alignment;                 /* of buffer offsets */
    kvk_vk_binding inputs[3], output; /* a fused residual is the last input */
    const kvk_vk_binding *weights;    /* the step's weight pieces, in the op's order */
    int weight_count;
    kvk_vk_binding scratch; /* scratch_bytes() of memory only this step uses */
    const char **chosen;    /* receives the kernel variant the op recorded */
} kvk_vk_step_ctx;

/* One op kind on the device. Weightless ops leave the weight functions NULL. */
typedef struct kvk_vk_op {
    /* The kernel variant for the step when it decides the weights' layout, before they are
     * placed (NULL: the op chooses while recording). */
    const kvk_vk_kernel *(*choose)(const kvk_vk_step_ctx *c);
    /* Weights as pieces, each small enough for one binding in the step's weight type:
     * sizes in values into piece_floats; returns the count, or -1 when they cannot be split to
     * fit. */
    int (*weight_pieces)(const kvk_vk_step_ctx *c, size_t *piece_floats, int max_pieces);
    /* Writes piece `index` in the device layout, as floats (model_vk.c converts them to the
     * step's weight type). */
    void (*weight_pack)(const kvk_vk_step_ctx *c, int index, float *dst);
    /* Bytes of scratch memory the step needs while it runs (NULL: none). */
    uint64_t (*scratch_bytes)(const kvk_vk_step_ctx *c);
    kvk_status (*record)(const kvk_vk_step_ctx *c);
    unsigned dtypes;        /* KVK_DTYPE_BIT()s of the tensor types its kernels read and write */
    unsigned weight_dtypes; /* ... and of the weight types they read */
    /* Floats at the start of the node's kernel that weight_pack of pieces 0..index has read
     * and of later pieces will not (NULL or 0: none): the upload gives them back to the system
     * before the next piece is made, so that a large kernel is not held twice. */
    size_t (*kernel_packed)(const kvk_vk_step_ctx *c, int index);
} kvk_vk_op;

/* Whether the device backend stores op kind `op`'s weights as `weights` (the planner asks). */
int kvk_vk_op_reads_weights(kvk_op op, kvk_dtype weights);

/* The entry for a step's op kind, or NULL if the device backend has none. */
const kvk_vk_op *kvk_vk_op_for(kvk_op op);

/* The entries, one per op family file. */
extern const kvk_vk_op kvk_vk_conv_op;      /* conv.c: Conv2D and Dense */
extern const kvk_vk_op kvk_vk_depthwise_op; /* depthwise.c */
extern const kvk_vk_op kvk_vk_pool_op;      /* simple.c: the memory-bound ops */
extern const kvk_vk_op kvk_vk_global_pool_op;
extern const kvk_vk_op kvk_vk_add_op;
extern const kvk_vk_op kvk_vk_multiply_op;
extern const kvk_vk_op kvk_vk_affine_op;
extern const kvk_vk_op kvk_vk_batchnorm_op;
extern const kvk_vk_op kvk_vk_activation_op; /* Activation, softmax included */
extern const kvk_vk_op kvk_vk_softmax_op;
extern const kvk_vk_op kvk_vk_zeropad_op;
extern const kvk_vk_op kvk_vk_channel_slice_op; /* one input of a Concatenate */

/* The activation a step's kernel applies (a specialisation constant; softmax, which needs
 * whole rows, is its own step) and its parameters into the push constants; n NULL: none.
 * Linear runs as ReLU's form with slope 1 and no maximum, which gives x for every x (NaN and
 * -0 included): one pipeline then serves a kernel's linear and ReLU layers, and each pipeline
 * is a compile at a cold start (3-4 s on lavapipe). */
int kvk_vk_fused_act(const kvk_node *n);
float kvk_vk_act_slope(const kvk_node *n);
float kvk_vk_act_max(const kvk_node *n);
float kvk_vk_act_threshold(const kvk_node *n);
#define KVK_VK_ACT_PARAMS(p, n)                                                                    \
    ((p).act_slope = kvk_vk_act_slope(n), (p).act_max = kvk_vk_act_max(n),                         \
     (p).act_threshold = kvk_vk_act_threshold(n))

/* The invocations of a VEC4-form kernel (kvk_vk_kernel.form) over output os: one per 4
 * channels and `tile` neighbouring pixels of a row (depthwise_conv2d_x4, pool2d_row). */
#define KVK_VK_ROW_BLOCKS(c, os, tile)                                                             \
    ((c)->plan->batch * (os).h * (((os).w + (tile)-1) / (tile)) * ((os).c / 4))

/* The sliding window's geometry, common to the convolution, depthwise, pooling and im2col
 * parameter lists: input is, output os, kernel, strides and padding of node n. */
#define KVK_VK_WINDOW_PARAMS(p, is, os, n)                                                         \
    ((p).H = (is).h, (p).W = (is).w, (p).C = (is).c, (p).OH = (os).h, (p).OW = (os).w,             \
     (p).KH = (n)->kh, (p).KW = (n)->kw, (p).SH = (n)->sh, (p).SW = (n)->sw,                       \
     (p).pad_top = (n)->pad_top, (p).pad_left = (n)->pad_left)

/* 64-invocation groups for `items`, spread over x and y (shaders/common/index.glsl), one
 * dispatch; errors name the step's layer. */
kvk_status kvk_vk_dispatch1d(const kvk_vk_step_ctx *c, const char *shader, const int *spec,
                             int spec_count, const kvk_vk_binding *b, int nb, const void *push,
                             size_t push_size, long items);

#endif
