/* Models built from the architecture saved in a file (keras/config.h), for kvk_model_create. */
#ifndef KVK_API_MODEL_CONFIG_H
#define KVK_API_MODEL_CONFIG_H

#include "api/internal.h"
#include "keras/weights.h"

/* Builds the model described by the config in options->model_file (else options->weights),
 * with the weights of options->weights (else the same file). `file`, when not NULL, is that
 * file already read. Input size: the config's (options height/width where it is None);
 * include_top, pooling are the config's business; output_layers and output_pooling apply. */
kvk_status kvk_config_model_create(kvk_context *ctx, const kvk_model_options *options,
                                   kvk_weight_file *file, kvk_model **out);

/* With a named architecture and a weight file carrying a config, whether the config is used
 * ("the config wins"): when the options ask for the whole model at its own size (include_top,
 * no pooling, no size or classes) and the config is, or contains as a nested model, a model
 * of that name (a fine-tuned "resnet50" base). Otherwise the hand-written builder is used, with
 * Keras' rules for the options and a binder that reports weights of another model. */
int kvk_config_wins(const kvk_model_options *options, const kvk_weight_file *file);

#endif
