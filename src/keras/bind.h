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

/* Deterministic random weights of a sensible scale (He-like kernels, BatchNormalization
 * statistics near identity), for benchmarks and tests without a file. */
kvk_status kvk_random_weights(kvk_graph *g, unsigned seed);

#endif
