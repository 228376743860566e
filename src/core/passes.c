/* Graph passes. Each one rewrites nodes in place and leaves the graph executable: a folded
 * node is marked removed and, where others read its output, becomes an alias of the node
 * that now produces that output. */
#include <math.h>
#include <stdlib.h>

#include "core/graph.h"

static void count_consumers(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) g->nodes[i].consumers = 0;
    for (int i = 0; i < g->count; i++) {
        kvk_node *n = &g->nodes[i];
        if (n->removed) continue;
        for (int k = 0; k < n->input_count; k++)
            g->nodes[kvk_graph_resolve(g, n->inputs[k])].consumers++;
        if (n->residual >= 0) g->nodes[kvk_graph_resolve(g, n->residual)].consumers++;
    }
    /* the model's outputs are read by the caller */
    for (int k = 0; k < kvk_graph_output_count(g); k++)
        g->nodes[kvk_graph_resolve(g, kvk_graph_output_node(g, k))].consumers++;
}

/* Node `from` now stands for `to`'s output: a requested output stays requested. */
static void alias(kvk_graph *g, kvk_node *from, kvk_node *to) {
    from->removed = 1;
    from->alias_of = (int)(to - g->nodes);
    to->keep |= from->keep;
}

void kvk_graph_resolve_identities(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) {
        kvk_node *n = &g->nodes[i];
        if ((n->op == KVK_OP_FLATTEN || n->op == KVK_OP_DROPOUT || n->op == KVK_OP_RESHAPE) &&
            !n->removed) {
            /* channels_last flattening and reshaping are the identity on memory */
            alias(g, n, &g->nodes[kvk_graph_resolve(g, n->inputs[0])]);
        }
    }
}

/* The producer of node n's first input, if n is its only reader and it may be changed. */
static kvk_node *sole_producer(kvk_graph *g, kvk_node *n) {
    int p = kvk_graph_resolve(g, n->inputs[0]);
    kvk_node *prod = &g->nodes[p];
    if (prod->consumers != 1 || prod->keep || prod->removed) return NULL;
    return prod;
}

/* conv -> BatchNormalization becomes one conv: w' = w * s, b' = (b - mean) * s + beta with
 * s = gamma / sqrt(var + eps), computed in double. A DepthwiseConv2D's kernel has the same
 * layout for this purpose: kh * kw rows of output channels. */
static void fold_batchnorm(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) {
        kvk_node *bn = &g->nodes[i];
        if (bn->op != KVK_OP_BATCHNORM || bn->removed || !bn->mean) continue;
        kvk_node *conv = sole_producer(g, bn);
        if (!conv || (conv->op != KVK_OP_CONV2D && conv->op != KVK_OP_DEPTHWISE_CONV2D) ||
            conv->act != KVK_ACT_LINEAR || !conv->kernel || conv->residual >= 0)
            continue;
        int cout = conv->shape.c;
        long per_out = (long)conv->kh * conv->kw;
        if (conv->op == KVK_OP_CONV2D) per_out *= g->nodes[conv->inputs[0]].shape.c;
        float *bias = conv->bias ? conv->bias : calloc((size_t)cout, sizeof *bias);
        if (!bias) continue; /* left unfolded: still correct */
        for (int c = 0; c < cout; c++) {
            double s =
                (bn->gamma ? bn->gamma[c] : 1.0) / sqrt((double)bn->variance[c] + bn->epsilon);
            for (long k = 0; k < per_out; k++)
                conv->kernel[k * cout + c] = (float)(conv->kernel[k * cout + c] * s);
            bias[c] = (float)(((double)bias[c] - bn->mean[c]) * s + (bn->beta ? bn->beta[c] : 0.0));
        }
        conv->bias = bias;
        conv->use_bias = 1;
        alias(g, bn, conv);
        count_consumers(g);
    }
}

/* An element-wise Activation after a conv, dense, add or standalone BN is applied by that op
 * (softmax needs whole rows: it stays a step of its own). */
static void fuse_activations(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) {
        kvk_node *a = &g->nodes[i];
        if (a->op != KVK_OP_ACTIVATION || a->removed || a->act == KVK_ACT_SOFTMAX) continue;
        kvk_node *p = sole_producer(g, a);
        if (!p || p->act != KVK_ACT_LINEAR) continue;
        if (p->op != KVK_OP_CONV2D && p->op != KVK_OP_DENSE && p->op != KVK_OP_ADD &&
            p->op != KVK_OP_BATCHNORM && p->op != KVK_OP_DEPTHWISE_CONV2D &&
            p->op != KVK_OP_MULTIPLY && p->op != KVK_OP_AFFINE)
            continue;
        p->act = a->act;
        p->act_slope = a->act_slope;
        p->act_max = a->act_max;
        p->act_threshold = a->act_threshold;
        alias(g, a, p);
        count_consumers(g);
    }
}

/* A standalone ReLU read only by a DepthwiseConv2D is applied by the depthwise kernel to its
 * inputs as it reads them, one pass over memory fewer: Xception's blockN_sepconv1_act, whose
 * input the residual Add reads too, so that it cannot fuse into its producer. Keras' plain
 * relu only (no slope, maximum or threshold), which keeps the padding's zeros zero. */
static void fuse_input_relu(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) {
        kvk_node *dw = &g->nodes[i];
        if (dw->op != KVK_OP_DEPTHWISE_CONV2D || dw->removed || dw->in_relu) continue;
        kvk_node *a = &g->nodes[kvk_graph_resolve(g, dw->inputs[0])];
        if (a->op != KVK_OP_ACTIVATION || a->removed || a->keep || a->consumers != 1 ||
            a->act != KVK_ACT_RELU || a->act_slope != 0.0f || a->act_threshold != 0.0f ||
            !isinf(a->act_max) || a->act_max < 0)
            continue;
        dw->inputs[0] = a->inputs[0];
        dw->in_relu = 1;
        a->removed = 1;
        count_consumers(g);
    }
}

/* ZeroPadding2D read only by a convolution becomes that convolution's padding: the conv
 * already reads zeros outside its input, so no copy is needed. Likewise before a 'valid' pool
 * (ResNet's pool1_pad), which then counts the positions outside its input as zeros. */
static void fold_zeropad(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) {
        kvk_node *n = &g->nodes[i];
        int pool = (n->op == KVK_OP_MAXPOOL || n->op == KVK_OP_AVGPOOL) && n->pad_top == 0 &&
                   n->pad_bottom == 0 && n->pad_left == 0 && n->pad_right == 0;
        if ((n->op != KVK_OP_CONV2D && !pool) || n->removed) continue;
        int p = kvk_graph_resolve(g, n->inputs[0]);
        kvk_node *pad = &g->nodes[p];
        if (pad->op != KVK_OP_ZEROPAD || pad->consumers != 1 || pad->keep) continue;
        n->pad_top += pad->pad_top;
        n->pad_bottom += pad->pad_bottom;
        n->pad_left += pad->pad_left;
        n->pad_right += pad->pad_right;
        if (pool) n->pad_zero = 1;
        n->inputs[0] = pad->inputs[0];
        pad->removed = 1;
        count_consumers(g);
    }
}

/* Add(conv, shortcut) becomes the conv with a residual input, when the shortcut is computed
 * before the conv: the sum is formed in the conv's registers instead of a separate pass over
 * memory. The Activation after the Add then fuses into the conv too. Likewise Add(pool,
 * shortcut), Xception's four strided blocks (a pool applies no activation, so one after the
 * Add stays a step of its own). */
static void fuse_residual_add(kvk_graph *g) {
    for (int i = 0; i < g->count; i++) {
        kvk_node *add = &g->nodes[i];
        if (add->op != KVK_OP_ADD || add->removed || add->act != KVK_ACT_LINEAR) continue;
        for (int k = 0; k < 2; k++) {
            int p = kvk_graph_resolve(g, add->inputs[k]);
            int q = kvk_graph_resolve(g, add->inputs[1 - k]);
            kvk_node *prod = &g->nodes[p];
            int adds = prod->op == KVK_OP_CONV2D || prod->op == KVK_OP_MAXPOOL ||
                       prod->op == KVK_OP_AVGPOOL;
            if (!adds || prod->consumers != 1 || prod->keep || prod->removed ||
                prod->act != KVK_ACT_LINEAR || prod->residual >= 0 || q >= p)
                continue;
            prod->residual = q;
            alias(g, add, prod);
            count_consumers(g);
            break;
        }
    }
}

int kvk_op_writes_strided(kvk_op op) {
    return op == KVK_OP_CONV2D || op == KVK_OP_DEPTHWISE_CONV2D || op == KVK_OP_MAXPOOL ||
           op == KVK_OP_AVGPOOL || op == KVK_OP_CONCAT;
}

/* Concatenate in place: a producer that only the concat reads writes its channels straight
 * into the concat's tensor. Outer concats first, so that an inner concat placed into an
 * outer one (InceptionV3's mixed9_0 inside mixed9) passes the placement on to its inputs. */
void kvk_graph_place_concats(kvk_graph *g) {
    count_consumers(g);
    for (int i = g->count - 1; i >= 0; i--) {
        kvk_node *c = &g->nodes[i];
        if (c->op != KVK_OP_CONCAT || c->removed) continue;
        int offset = 0;
        for (int k = 0; k < c->input_count; k++) {
            int p = kvk_graph_resolve(g, c->inputs[k]);
            kvk_node *prod = &g->nodes[p];
            int once = 1; /* the same tensor twice in one concat needs a copy */
            for (int j = 0; j < c->input_count; j++)
                if (j != k && kvk_graph_resolve(g, c->inputs[j]) == p) once = 0;
            /* a softmax tail or a residual read would see the slice's neighbours */
            if (once && kvk_op_writes_strided(prod->op) && prod->consumers == 1 && !prod->keep &&
                !prod->removed && prod->concat_into < 0 && prod->residual < 0 &&
                prod->act != KVK_ACT_SOFTMAX) {
                prod->concat_into = i;
                prod->concat_offset = offset;
            }
            offset += g->nodes[c->inputs[k]].shape.c;
        }
    }
}

void kvk_graph_optimize(kvk_graph *g) {
    kvk_graph_resolve_identities(g);
    count_consumers(g);
    fold_zeropad(g);
    fold_batchnorm(g);
    fuse_residual_add(g);
    fuse_activations(g);
    fuse_input_relu(g);
    count_consumers(g);
}
