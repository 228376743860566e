/* The model's Keras layers as model.layers and model.summary() list them: the graph's nodes
 * the outputs need, as they were before fusion (fused nodes keep their name and shape), in
 * Keras' model.layers order (taken when the model was made, keras/keras_order.h). */
#include <stddef.h>

#include "api/internal.h"

/* A node that stands for a Keras layer: needed by an output (kvk_graph_prune marked it before
 * the passes ran, so nodes the passes add are not) and not an internal half. */
static int is_keras_layer(const kvk_node *n) {
    if (n->op == KVK_OP_INPUT) return 1;
    if (!n->needed || n->op == KVK_OP_SOFTMAX) return 0;
    return !(n->op == KVK_OP_DEPTHWISE_CONV2D && n->separable_of >= 0);
}

/* The node of layer `index`, or NULL. */
static const kvk_node *layer_node(const kvk_model *model, int index) {
    if (!model || index < 0) return NULL;
    for (int i = 0; i < model->layer_order_count; i++) {
        const kvk_node *n = &model->graph.nodes[model->layer_order[i]];
        if (is_keras_layer(n) && index-- == 0) return n;
    }
    return NULL;
}

int kvk_model_layer_count(const kvk_model *model) {
    int count = 0;
    for (int i = 0; model && i < model->layer_order_count; i++)
        count += is_keras_layer(&model->graph.nodes[model->layer_order[i]]);
    return count;
}

const char *kvk_model_layer_name(const kvk_model *model, int index) {
    const kvk_node *n = layer_node(model, index);
    return n ? n->name : NULL;
}

const char *kvk_model_layer_class(const kvk_model *model, int index) {
    const kvk_node *n = layer_node(model, index);
    if (!n) return NULL;
    return n->separable_of >= 0 ? "SeparableConv2D" : kvk_op_name(n->op);
}

int kvk_model_layer_dims(const kvk_model *model, int index, int dims[3]) {
    const kvk_node *n = layer_node(model, index);
    if (!n) return 0;
    if (n->rank == 1) {
        dims[0] = n->shape.c;
        return 1;
    }
    dims[0] = n->shape.h, dims[1] = n->shape.w, dims[2] = n->shape.c;
    return 3;
}
