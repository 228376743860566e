/* kvk_model_create for a model whose architecture comes from the config saved with it. */
#include "api/model_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "keras/bind.h"
#include "keras/config.h"

/* options.output_layers on a config graph: the named layers' outputs, globally pooled if
 * asked (what select_outputs in model.c does for the applications). */
static kvk_status select_outputs(kvk_graph *g, kvk_config_model *info, const kvk_model_options *o,
                                 int *ranks) {
    if (o->output_layer_count < 1 || o->output_layer_count > KVK_MAX_OUTPUTS)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: between 1 and %d output layers, got %d",
                        info->name, KVK_MAX_OUTPUTS, o->output_layer_count);
    int nodes[KVK_MAX_OUTPUTS];
    for (int k = 0; k < o->output_layer_count; k++) {
        const char *name = o->output_layers[k];
        int n = name ? kvk_graph_find(g, name) : -1;
        for (int i = 0; n < 0 && name && i < info->nested_count; i++)
            if (!strcmp(info->nested[i], name)) n = info->nested_node[i]; /* its output */
        if (n < 0 || strchr(name, '/'))
            return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                            "model '%s' has no layer named '%s' (the names are those of its "
                            "config, as in model.summary(); inner layers of nested models "
                            "included)",
                            info->name, name ? name : "(null)");
        ranks[k] = n < info->rank_count ? info->rank[n] : 3;
        if (o->output_pooling != KVK_POOLING_NONE) {
            kvk_shape s = g->nodes[n].shape;
            if (ranks[k] != 3)
                return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                                "model '%s': layer '%s' has output shape (%d,): global pooling "
                                "needs a (height, width, channels) output",
                                info->name, name, s.c);
            char pooled[128];
            snprintf(pooled, sizeof pooled, "%s/global_%s_pool", g->nodes[n].name,
                     o->output_pooling == KVK_POOLING_AVG ? "avg" : "max");
            int again = kvk_graph_find(g, pooled);
            n = again >= 0                             ? again
                : o->output_pooling == KVK_POOLING_AVG ? kvk_graph_global_avgpool(g, n, pooled)
                                                       : kvk_graph_global_maxpool(g, n, pooled);
            if (n < 0) return g->status;
            ranks[k] = 1;
        }
        nodes[k] = n;
    }
    g->output_count = 0; /* replace the config's outputs */
    for (int i = 0; i < g->count; i++) g->nodes[i].keep = 0;
    return kvk_graph_set_outputs(g, nodes, o->output_layer_count);
}

kvk_status kvk_config_model_create(kvk_context *ctx, const kvk_model_options *options,
                                   kvk_weight_file *file, kvk_model **out) {
    *out = NULL;
    const char *path = options->model_file ? options->model_file : options->weights;
    if (!path)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "no model: set options.architecture to one of the applications, or "
                        "model_file (or weights) to a file that carries its architecture (a "
                        "Keras model.save .h5 or a TensorFlow.js model.json)");
    kvk_weight_file *own = NULL, *own_weights = NULL;
    kvk_status st = KVK_OK;
    if (!file) {
        st = kvk_weight_file_read(path, &own);
        if (st != KVK_OK) return st;
        file = own;
    }
    if (!file->model_config) {
        kvk_weight_file_free(own);
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "%s carries no model architecture (a save_weights file?): name the "
                        "architecture (options.architecture, --model NAME), or use a file "
                        "written by model.save",
                        path);
    }
    /* weights from another file than the architecture */
    kvk_weight_file *weights = file;
    if (options->model_file && options->weights && strcmp(options->weights, options->model_file)) {
        st = kvk_weight_file_read(options->weights, &own_weights);
        if (st != KVK_OK) {
            kvk_weight_file_free(own);
            return st;
        }
        weights = own_weights;
    }
    kvk_graph g;
    kvk_config_model info;
    int ranks[KVK_MAX_OUTPUTS] = {0};
    st = kvk_config_build(file->model_config, strlen(file->model_config), file->path,
                          options->height, options->width, &g, &info);
    if (st == KVK_OK) {
        if (options->output_layers) {
            st = select_outputs(&g, &info, options, ranks);
        } else {
            for (int k = 0; k < kvk_graph_output_count(&g); k++) {
                int n = kvk_graph_output_node(&g, k);
                ranks[k] = n < info.rank_count ? info.rank[n] : 3;
            }
        }
    }
    if (st == KVK_OK && options->classes > 0 && !options->output_layers &&
        kvk_shape_size(g.nodes[kvk_graph_output_node(&g, 0)].shape) != options->classes)
        st = kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                      "%s: the model's output has %ld values, not the %d classes asked for",
                      file->path, kvk_shape_size(g.nodes[kvk_graph_output_node(&g, 0)].shape),
                      options->classes);
    if (st == KVK_OK) {
        kvk_graph_prune(&g);
        st = kvk_config_bind(&g, &info, weights);
    }
    kvk_weight_file_free(own);
    kvk_weight_file_free(own_weights);
    if (st != KVK_OK) {
        kvk_graph_free(&g);
        kvk_config_model_free(&info);
        return st;
    }
    st = kvk_model_from_graph(ctx, &g, options->batch, 1, kvk_model_precision(options), out);
    if (st == KVK_ERROR_OUT_OF_MEMORY) /* name what did not fit */
        kvk_fail_context(st, "%s, batch %d: ",
                         options->model_file ? options->model_file
                         : options->weights  ? options->weights
                                             : "the model",
                         options->batch > 0 ? options->batch : 1);
    if (st == KVK_OK) {
        kvk_model *m = *out;
        m->preprocess = info.preprocess;
        m->source = "config";
        snprintf(m->name, sizeof m->name, "%s", info.name);
        for (int k = 0; k < KVK_MAX_OUTPUTS; k++) m->output_rank[k] = ranks[k];
        for (int k = 0; k < options->output_layer_count && options->output_layers; k++)
            snprintf(m->output_names[k], sizeof m->output_names[k], "%s",
                     options->output_layers[k]);
    }
    kvk_config_model_free(&info);
    return st;
}

int kvk_config_wins(const kvk_model_options *options, const kvk_weight_file *file) {
    if (!file->model_config || !options->include_top || options->pooling != KVK_POOLING_NONE ||
        options->height || options->width || options->classes)
        return 0;
    return kvk_config_has_model(file->model_config, strlen(file->model_config),
                                options->architecture);
}
