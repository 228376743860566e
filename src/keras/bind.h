/* Matching a weight file to a graph: by Keras layer name, every shape checked. */
#ifndef KVK_KERAS_BIND_H
#define KVK_KERAS_BIND_H

#include "core/graph.h"
#include "keras/weights.h"

/* Copies each layer's weights from the file into the graph's nodes. Fails naming the file,
 * the layer, and the expected and found shape when anything does not fit. Layers in the file
 * that the graph lacks are ignored (a full file can feed a model without its top). */
/* Moves the file's data into the nodes (each weight's data becomes NULL): no second copy of
 * the weights exists while a model is built. */
kvk_status kvk_bind_weights(kvk_graph *g, kvk_weight_file *file);
/* The same checks, moving nothing: for a file read with kvk_weight_file_read_shapes, so that
 * every layer's shapes are checked before any data is read. */
kvk_status kvk_bind_check_shapes(kvk_graph *g, kvk_weight_file *file);

/* Whether a node owns a Keras layer's weights in files (a SeparableConv2D's pointwise node
 * does, its depthwise half does not). */
int kvk_bind_node_has_weights(kvk_graph *g, int node);

/* Deterministic random weights of a sensible scale (He-like kernels, BatchNormalization
 * statistics near identity), for benchmarks and tests without a file. */
kvk_status kvk_random_weights(kvk_graph *g, unsigned seed);

#endif
