/* The order of Keras' model.layers for a graph built as Keras builds the model: what
 * tf-keras' load_weights(path) follows when it loads a file by position. */
#ifndef KVK_KERAS_ORDER_H
#define KVK_KERAS_ORDER_H

#include "core/graph.h"

/* Fills order[] (g->count entries at most) with the node indices of the graph's Keras layers
 * in model.layers order and returns their count (-1 when out of memory). tf-keras
 * (functional.py, _map_graph_network) orders layers by depth, the longest path to an output,
 * deepest first, and within one depth by first visit in a depth-first walk from the outputs
 * through each layer's inputs in order. A SeparableConv2D's two nodes are one layer (its
 * pointwise node stands for it). */
int kvk_keras_layer_order(const kvk_graph *g, int *order);

#endif
