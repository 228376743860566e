/* kvk_convert_weights: any weight file kvk reads, written in Keras 2's save_weights layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "keras/apps/apps.h"
#include "keras/bind.h"
#include "keras/keras_order.h"
#include "keras/weights.h"
#include "keras/weights_internal.h"
#include "keras/weights_write.h"
#include "kvk/weights.h"

/* The application's graph for the file: with the classifier if the file's weights fit it,
 * else without (the builder takes the file's naming). Shapes are checked, nothing moved. */
static kvk_status build_for_file(const kvk_application *app, kvk_weight_file *file, kvk_graph *g,
                                 int *with_top) {
    kvk_status st = KVK_ERROR_SHAPE;
    for (int top = 1; top >= 0; top--) {
        kvk_model_options o = {.architecture = app->name, .include_top = top};
        kvk_app_args args;
        kvk_graph_init(g);
        st = kvk_application_check_args(app, &o, &args);
        args.weights = file;
        if (st == KVK_OK) st = app->build(g, &args);
        if (st == KVK_OK) st = kvk_bind_check_shapes(g, file);
        if (st == KVK_OK) {
            *with_top = top;
            return KVK_OK;
        }
        kvk_graph_free(g);
    }
    return st;
}

static int same_node(const kvk_node *a, const kvk_node *b) {
    return a->op == b->op && a->shape.h == b->shape.h && a->shape.w == b->shape.w &&
           a->shape.c == b->shape.c && a->kh == b->kh && a->kw == b->kw && a->sh == b->sh &&
           a->sw == b->sw;
}

/* The longest path from the input to each node (nodes come after their inputs). */
static void input_depths(const kvk_graph *g, int *depth) {
    for (int i = 0; i < g->count; i++) {
        depth[i] = 0;
        for (int k = 0; k < g->nodes[i].input_count; k++)
            if (depth[g->nodes[i].inputs[k]] + 1 > depth[i])
                depth[i] = depth[g->nodes[i].inputs[k]] + 1;
    }
}

/* match[i]: the node of gf (the builder under the file's naming) that is node i of gk (under
 * today's Keras names). The same graph node for node (most applications, and renumbered auto
 * names); else (ResNet50's keras-applications naming, whose blocks create the shortcut last
 * and add it second) the one weighted node of gf with the same op, shapes, window, stride and
 * distance from the input: a node with none or several such is refused, never guessed. */
static kvk_status match_layers(kvk_graph *gk, kvk_graph *gf, int *match, const char *input,
                               const kvk_application *app) {
    int same = gk->count == gf->count;
    for (int i = 0; same && i < gk->count; i++) {
        const kvk_node *a = &gk->nodes[i], *b = &gf->nodes[i];
        same = same_node(a, b) && a->input_count == b->input_count;
        for (int k = 0; same && k < a->input_count; k++) same = a->inputs[k] == b->inputs[k];
    }
    if (same) {
        for (int i = 0; i < gk->count; i++) match[i] = i;
        return KVK_OK;
    }
    int *dk = malloc(sizeof(int) * (size_t)gk->count),
        *df = malloc(sizeof(int) * (size_t)gf->count);
    kvk_status st = dk && df ? KVK_OK : kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    if (st == KVK_OK) {
        input_depths(gk, dk);
        input_depths(gf, df);
    }
    for (int i = 0; st == KVK_OK && i < gk->count; i++) {
        match[i] = -1;
        if (!kvk_bind_node_has_weights(gk, i)) continue;
        int found = 0;
        for (int j = 0; j < gf->count; j++)
            if (kvk_bind_node_has_weights(gf, j) && dk[i] == df[j] &&
                same_node(&gk->nodes[i], &gf->nodes[j]) && found++ == 0)
                match[i] = j;
        if (found != 1)
            st = kvk_fail(KVK_ERROR_UNSUPPORTED,
                          "%s: cannot tell which of its layers is %s's '%s' (%d candidates)", input,
                          app->keras_name, gk->nodes[i].name, found);
    }
    free(dk);
    free(df);
    return st;
}

/* The file's layers in Keras' model.layers order for the application (what tf-keras'
 * load_weights follows by position), named as Keras names them now: a view of `file`'s
 * layers (no data copied). */
static kvk_status keras_order_view(const char *input, const kvk_application *app,
                                   kvk_weight_file *file, kvk_weight_layer **view, int *count) {
    kvk_graph gf, gk;
    int top = 0;
    kvk_status st = build_for_file(app, file, &gf, &top);
    if (st != KVK_OK)
        return kvk_fail_context(st, "%s is not a weight file for %s: ", input, app->keras_name);
    /* the same architecture under today's Keras names (the builder's own without a file) */
    kvk_model_options o = {.architecture = app->name, .include_top = top};
    kvk_app_args args;
    kvk_graph_init(&gk);
    st = kvk_application_check_args(app, &o, &args);
    if (st == KVK_OK) st = app->build(&gk, &args);
    int *order = st == KVK_OK ? malloc(sizeof(int) * (size_t)gk.count) : NULL;
    *view = calloc((size_t)file->layer_count + 1, sizeof **view);
    if (st == KVK_OK && (!order || !*view)) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    int *match = st == KVK_OK ? malloc(sizeof(int) * (size_t)gk.count) : NULL;
    if (st == KVK_OK && !match) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    if (st == KVK_OK) st = match_layers(&gk, &gf, match, input, app);
    int n = st == KVK_OK ? kvk_keras_layer_order(&gk, order) : 0;
    *count = 0;
    for (int i = 0; st == KVK_OK && i < n; i++) {
        int node = order[i];
        if (!kvk_bind_node_has_weights(&gk, node)) continue;
        const kvk_weight_layer *l = kvk_weight_file_layer(file, gf.nodes[match[node]].name);
        if (!l || l->count == 0) continue;
        if (*count == file->layer_count) break;
        kvk_weight_layer *v = &(*view)[(*count)++];
        *v = *l;
        v->name = gk.nodes[node].name; /* valid while gk lives: copied below */
        v->name = strdup(v->name);
        if (!v->name) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    if (st == KVK_OK && *count != file->layer_count)
        st = kvk_fail(KVK_ERROR_SHAPE,
                      "%s: %d of its %d layers with weights are %s's; the others would be lost",
                      input, *count, file->layer_count, app->keras_name);
    free(order);
    free(match);
    kvk_graph_free(&gf);
    kvk_graph_free(&gk);
    return st;
}

kvk_status kvk_convert_weights(const char *input_path, const char *output_path,
                               const char *architecture) {
    if (!input_path || !output_path)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "kvk_convert_weights: a path is NULL");
    const kvk_application *app = NULL;
    if (architecture && !(app = kvk_application_find(architecture)))
        return KVK_ERROR_INVALID_ARGUMENT; /* the message lists the names */
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(input_path, &file);
    if (st != KVK_OK) return st;
    kvk_weight_layer *view = NULL, *own = file->layers;
    int count = 0, own_count = file->layer_count;
    /* a Keras 0.x file's layers are a Sequential's, already in order and unnamed */
    if (app && file->format != KVK_FORMAT_H5_LEGACY) {
        st = keras_order_view(input_path, app, file, &view, &count);
        if (st == KVK_OK) {
            file->layers = view;
            file->layer_count = count;
        }
    }
    if (st == KVK_OK) {
        char note[1024];
        const char *slash = strrchr(input_path, '/');
        snprintf(note, sizeof note, "kvk %s from %s (%s)%s%s", KVK_VERSION_STRING,
                 slash ? slash + 1 : input_path, kvk_weight_format_name(file->format),
                 app ? ", in the layer order of Keras' " : "", app ? app->keras_name : "");
        st = kvk_weights_write_keras_h5(file, output_path, note);
    }
    file->layers = own;
    file->layer_count = own_count;
    for (int i = 0; view && i < count; i++) free(view[i].name);
    free(view);
    kvk_weight_file_free(file);
    return st;
}
