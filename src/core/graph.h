/* The network as kvk holds it: one node per Keras layer, named as Keras names it, in the
 * order Keras creates them (which is a topological order). Architectures build it with the
 * kvk_graph_* functions below, which read like the keras.layers calls they mirror; passes
 * then fuse nodes, and a plan turns the survivors into steps that both backends execute. */
#ifndef KVK_CORE_GRAPH_H
#define KVK_CORE_GRAPH_H

#include "kvk/status.h"
#include "kvk_activations.h" /* shaders/common: the codes the shaders use too */

typedef enum kvk_op {
    KVK_OP_INPUT,
    KVK_OP_CONV2D,
    KVK_OP_DENSE,
    KVK_OP_BATCHNORM,
    KVK_OP_ACTIVATION,
    KVK_OP_ADD,
    KVK_OP_ZEROPAD,
    KVK_OP_MAXPOOL,
    KVK_OP_AVGPOOL,
    KVK_OP_GLOBAL_AVGPOOL,
    KVK_OP_GLOBAL_MAXPOOL,
    KVK_OP_FLATTEN,
    KVK_OP_DROPOUT,
    KVK_OP_DEPTHWISE_CONV2D, /* also the first half of a SeparableConv2D */
    KVK_OP_CONCAT,           /* Concatenate on the channel axis */
    KVK_OP_SOFTMAX,          /* internal: split off a Dense(activation='softmax') */
    KVK_OP_MULTIPLY,         /* Multiply of two tensors, or of one by a (1, 1, C) one */
    KVK_OP_AFFINE,           /* y = x * scale[c] + shift[c]: Rescaling, Normalization */
    KVK_OP_RESHAPE,          /* Reshape: the identity on NHWC memory */
    KVK_OP_COUNT
} kvk_op;

#define KVK_ACT_ENUM(name, value) KVK_ACT_##name = value,
typedef enum kvk_activation { KVK_ACTIVATIONS(KVK_ACT_ENUM) KVK_ACT_COUNT } kvk_activation;
#undef KVK_ACT_ENUM

/* An activation with its parameters (kvk_activations.h says which use them). */
typedef struct kvk_act {
    kvk_activation kind;
    float negative_slope, max_value, threshold; /* relu; ELU's alpha is negative_slope */
} kvk_act;

/* The activation with Keras' default parameters (relu: 0, no maximum, 0; ELU: alpha 1). */
kvk_act kvk_act_default(kvk_activation kind);
/* Keras' name of an activation ("relu", "hard_sigmoid", ...). */
const char *kvk_activation_name(kvk_activation kind);
/* The activation Keras calls `name` in a model config (activation=...), for Keras 2 or 3
 * (hard_sigmoid differs). Returns 0 if kvk has none by that name. */
int kvk_activation_from_keras(const char *name, int keras_major, kvk_activation *out);
typedef enum kvk_padding { KVK_PAD_VALID, KVK_PAD_SAME } kvk_padding;

/* Per-image tensor shape, channels_last. Dense outputs are (1, 1, units). */
typedef struct kvk_shape {
    int h, w, c;
} kvk_shape;

enum {
    KVK_MAX_INPUTS = 8,  /* Concatenate's inputs; every other op has at most 2 */
    KVK_MAX_OUTPUTS = 16 /* requested outputs of one model */
};

static inline long kvk_shape_size(kvk_shape s) {
    return (long)s.h * s.w * s.c;
}

typedef struct kvk_node {
    kvk_op op;
    char name[96];              /* Keras layer name */
    int inputs[KVK_MAX_INPUTS]; /* node indices */
    int input_count;
    kvk_shape shape;    /* output shape per image */
    int rank;           /* Keras' rank of that shape per image: 3 (h, w, c) or 1 (c) */
    kvk_activation act; /* fused activation applied after the op */
    float act_slope, act_max, act_threshold; /* its parameters (see kvk_act) */

    /* convolution and pooling windows */
    int kh, kw, sh, sw;
    kvk_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* resolved from padding (TF's rule) */
    int pad_zero; /* pools: window positions outside the input are zeros (a ZeroPadding2D folded
                   * in), counted by max and by average's divisor */
    int use_bias;
    int depth_multiplier; /* DepthwiseConv2D */
    int in_relu; /* DepthwiseConv2D: its input read through ReLU (a fused pre-activation) */
    /* SeparableConv2D is two nodes: a DepthwiseConv2D named "<name>/depthwise" with
     * separable_of = the pointwise node, and the 1x1 Conv2D "<name>" (the Keras layer, which
     * owns the weights in files) with separable_of = the depthwise node. -1 otherwise. */
    int separable_of;

    /* batch normalization */
    float epsilon;
    int bn_scale, bn_center;

    /* Weights, host-side, owned. Conv: kernel (kh, kw, cin, cout); Dense: kernel (in, out);
     * DepthwiseConv2D: kernel (kh, kw, cin, depth_multiplier);
     * BatchNorm: gamma, beta, mean, variance (absent gamma/beta stay NULL). */
    float *kernel, *bias;
    float *gamma, *beta, *mean, *variance;
    float *scale, *shift; /* Affine: per output channel */
    /* Affine from a Normalization layer's weights (mean, variance, count): 1 normalises, 2
     * inverts; the binder turns them into scale and shift. 0 otherwise. */
    int affine_stats;

    /* set by passes */
    int removed;  /* folded into another node */
    int alias_of; /* >= 0: this node's output is that node's output (Flatten, folded BN) */
    int consumers;
    int keep;     /* its output must survive fusion (a requested output) */
    int residual; /* >= 0: a Conv2D or pool that also adds this node's output (a fused Add) */
    /* >= 0: this node writes its output straight into that Concatenate's tensor, from
     * channel concat_offset on (set by the plan pass kvk_graph_place_concats) */
    int concat_into, concat_offset;
    int needed; /* scratch for kvk_graph_prune */
} kvk_node;

typedef struct kvk_graph {
    kvk_node *nodes;
    int count, capacity;
    int output; /* the node added last: the model's output unless outputs are set */
    int outputs[KVK_MAX_OUTPUTS]; /* set by kvk_graph_set_outputs: the model's outputs */
    int output_count;
    kvk_status status; /* first build error, KVK_OK if none */
} kvk_graph;

void kvk_graph_init(kvk_graph *g);
void kvk_graph_free(kvk_graph *g);
/* Frees a node's weights (a backend that holds its own copy no longer needs them). */
void kvk_graph_free_weights(kvk_node *n);

/* Builders. Each returns the new node's index, or -1 after recording an error in g->status
 * (later calls then return -1 too, so an architecture can check once at the end). */
int kvk_graph_input(kvk_graph *g, const char *name, int h, int w, int c);
int kvk_graph_conv2d(kvk_graph *g, int x, const char *name, int filters, int kh, int kw, int sh,
                     int sw, kvk_padding padding, int use_bias, kvk_activation act);
int kvk_graph_dense(kvk_graph *g, int x, const char *name, int units, kvk_activation act);
int kvk_graph_batchnorm(kvk_graph *g, int x, const char *name, float epsilon, int center,
                        int scale);
int kvk_graph_activation(kvk_graph *g, int x, const char *name, kvk_activation act);
/* An Activation layer with parameters: ReLU(max_value, negative_slope, threshold),
 * LeakyReLU(alpha) (negative_slope), ELU(alpha) (negative_slope). */
int kvk_graph_activation_ex(kvk_graph *g, int x, const char *name, kvk_act act);
/* Sets a node's fused activation with its parameters. */
void kvk_graph_set_activation(kvk_graph *g, int node, kvk_act act);
/* The node's fused activation with its parameters. */
kvk_act kvk_node_act(const kvk_node *n);
int kvk_graph_add(kvk_graph *g, int a, int b, const char *name);
int kvk_graph_zeropad(kvk_graph *g, int x, const char *name, int top, int bottom, int left,
                      int right);
int kvk_graph_maxpool(kvk_graph *g, int x, const char *name, int kh, int kw, int sh, int sw,
                      kvk_padding padding);
int kvk_graph_avgpool(kvk_graph *g, int x, const char *name, int kh, int kw, int sh, int sw,
                      kvk_padding padding);
int kvk_graph_global_avgpool(kvk_graph *g, int x, const char *name);
int kvk_graph_global_maxpool(kvk_graph *g, int x, const char *name);
/* GlobalAveragePooling2D / GlobalMaxPooling2D(keepdims=True): the same values, rank 3. */
void kvk_graph_keepdims(kvk_graph *g, int pool);
int kvk_graph_flatten(kvk_graph *g, int x, const char *name);
/* Reshape to (c) (rank 1) or (h, w, c) (rank 3); the element count must not change. */
int kvk_graph_reshape(kvk_graph *g, int x, const char *name, int rank, kvk_shape target);
/* Multiply(a, b): b has a's shape, or is (1, 1, C) and scales each channel of a. */
int kvk_graph_multiply(kvk_graph *g, int a, int b, const char *name);
/* y = x * scale[c] + shift[c]. The node takes ownership of the two arrays of x's channel count
 * (Rescaling: the scale and offset repeated; Normalization: 1 / sqrt(variance), -mean / ...). */
int kvk_graph_affine(kvk_graph *g, int x, const char *name, float *scale, float *shift);
/* Normalization whose mean and variance are weights (adapt()ed, not in the config): scale and
 * shift come when the weights are bound. invert: Keras 3's invert=True. */
int kvk_graph_normalization(kvk_graph *g, int x, const char *name, int invert);
int kvk_graph_dropout(kvk_graph *g, int x, const char *name);
int kvk_graph_depthwise_conv2d(kvk_graph *g, int x, const char *name, int kh, int kw, int sh,
                               int sw, kvk_padding padding, int depth_multiplier, int use_bias,
                               kvk_activation act);
/* Adds the two nodes described at separable_of; returns the pointwise one. */
int kvk_graph_separable_conv2d(kvk_graph *g, int x, const char *name, int filters, int kh, int kw,
                               int sh, int sw, kvk_padding padding, int use_bias,
                               kvk_activation act);
int kvk_graph_concat(kvk_graph *g, const int *xs, int count, const char *name);

/* Makes the listed nodes the model's outputs (in that order); without a call the last node
 * added is the output. Marks them `keep` so no pass fuses them away. */
kvk_status kvk_graph_set_outputs(kvk_graph *g, const int *nodes, int count);
/* Removes every node that no output depends on. */
void kvk_graph_prune(kvk_graph *g);

/* The model's outputs: `outputs` if set, else the last node added. */
int kvk_graph_output_count(const kvk_graph *g);
int kvk_graph_output_node(const kvk_graph *g, int index);

/* Index of the node with that Keras name, or -1. */
int kvk_graph_find(const kvk_graph *g, const char *name);

/* Follows alias_of links to the node that owns the tensor. */
int kvk_graph_resolve(const kvk_graph *g, int node);

/* Multiply-adds x 2 per image: of one node (as a direct convolution counts them, so that a
 * Winograd layer's rate is its effective rate; 0 for ops without a product), and of the
 * whole graph. */
double kvk_node_flops(const kvk_graph *g, int node);
double kvk_graph_flops(const kvk_graph *g);

const char *kvk_op_name(kvk_op op);

/* Optimisation passes: fold BatchNormalization into the convolution before it, fuse
 * activations into their producer, fold ZeroPadding2D into a following 'valid' convolution,
 * turn Flatten and Dropout into aliases. The graph stays executable at every stage. */
void kvk_graph_optimize(kvk_graph *g);

/* Marks Flatten/Dropout as aliases without any fusion: the reference backend's view. */
void kvk_graph_resolve_identities(kvk_graph *g);

/* Lets producers write into the Concatenate that alone reads them (sets concat_into), where
 * their op can write with a channel stride: then the concat itself costs nothing. Run after
 * kvk_graph_optimize. */
void kvk_graph_place_concats(kvk_graph *g);
/* Whether an op's Vulkan and reference kernels can write into a channel slice. */
int kvk_op_writes_strided(kvk_op op);

#endif
