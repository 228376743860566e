/* The public model API: build the architecture, load weights, optimise, plan, and hand the
 * plan to the context's backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/internal.h"
#include "keras/apps/apps.h"
#include "keras/bind.h"
#include "keras/weights.h"

static long max_tensor_floats(const kvk_graph *g) {
    long max = 0;
    for (int i = 0; i < g->count; i++)
        if (!g->nodes[i].removed && kvk_shape_size(g->nodes[i].shape) > max)
            max = kvk_shape_size(g->nodes[i].shape);
    return max;
}

static double weight_bytes(const kvk_graph *g) {
    double bytes = 0;
    for (int i = 0; i < g->count; i++) {
        const kvk_node *n = &g->nodes[i];
        if (n->removed) continue;
        if (n->kernel) {
            kvk_shape in = g->nodes[n->inputs[0]].shape;
            bytes += 4.0 * n->kh * n->kw * in.c * n->shape.c;
        }
        if (n->bias) bytes += 4.0 * n->shape.c;
        if (n->op == KVK_OP_BATCHNORM) bytes += 4.0 * 2 * n->shape.c;
    }
    return bytes;
}

kvk_status kvk_model_from_graph(kvk_context *ctx, kvk_graph *graph, int batch, int optimize,
                                kvk_model **out) {
    *out = NULL;
    kvk_model *m = calloc(1, sizeof *m);
    if (!m) {
        kvk_graph_free(graph);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    m->ctx = ctx;
    m->graph = *graph;
    kvk_graph_init(graph);
    m->max_batch = batch > 0 ? batch : 1;
    m->preprocess = "none";
    m->flops = kvk_graph_flops(&m->graph);
    if (optimize && !ctx->cpu_reference)
        kvk_graph_optimize(&m->graph);
    else
        kvk_graph_resolve_identities(&m->graph);
    m->weight_bytes = weight_bytes(&m->graph);
    const kvk_node *in = &m->graph.nodes[0];
    m->height = in->shape.h;
    m->width = in->shape.w;

    /* Every activation tensor must fit one buffer binding: run large batches in chunks. */
    uint64_t per_image = (uint64_t)max_tensor_floats(&m->graph) * sizeof(float);
    if (per_image > ctx->max_binding_bytes) {
        kvk_model_destroy(m);
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "one image's largest activation needs %llu bytes, more than one buffer "
                        "binding of this device allows (%llu): use a smaller input size",
                        (unsigned long long)per_image, (unsigned long long)ctx->max_binding_bytes);
    }
    uint64_t fit = ctx->max_binding_bytes / per_image;
    m->chunk = fit < (uint64_t)m->max_batch ? (int)fit : m->max_batch;

    kvk_status st = kvk_plan_build(&m->graph, m->chunk, ctx->alignment, &m->plan);
    if (st == KVK_OK) st = ctx->cpu_reference ? kvk_cpu_model_prepare(m) : kvk_vk_model_prepare(m);
    if (st != KVK_OK) {
        kvk_model_destroy(m);
        return st;
    }
    if (ctx->verbose)
        fprintf(stderr,
                "kvk: %d steps, %.2f GFLOP/image, weights %.1f MiB, activation pool %.1f MiB "
                "(%.1f MiB without planning), %d image(s) per submission\n",
                m->plan.step_count, m->flops / 1e9, m->weight_bytes / 1048576.0,
                m->plan.arena_bytes / 1048576.0, m->plan.sum_bytes / 1048576.0, m->chunk);
    *out = m;
    return KVK_OK;
}

kvk_status kvk_model_create(kvk_context *ctx, const kvk_model_options *options, kvk_model **out) {
    *out = NULL;
    if (!ctx || !options) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "NULL context or options");
    if (options->batch < 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "batch must be positive, got %d",
                        options->batch);
    const kvk_application *app = kvk_application_find(options->architecture);
    if (!app) return KVK_ERROR_INVALID_ARGUMENT;
    kvk_app_args args;
    kvk_status st = kvk_application_check_args(app, options, &args);
    if (st != KVK_OK) return st;

    kvk_weight_file *file = NULL;
    if (options->weights) {
        st = kvk_weight_file_read(options->weights, &file);
        if (st != KVK_OK) return st;
        args.weights = file;
    }
    kvk_graph g;
    kvk_graph_init(&g);
    st = app->build(&g, &args);
    if (st == KVK_OK)
        st = file ? kvk_bind_weights(&g, file) : kvk_random_weights(&g, options->random_seed);
    kvk_weight_file_free(file);
    if (st != KVK_OK) {
        kvk_graph_free(&g);
        return st;
    }
    st = kvk_model_from_graph(ctx, &g, options->batch, 1, out);
    if (st == KVK_OK) (*out)->preprocess = app->preprocess;
    return st;
}

void kvk_model_destroy(kvk_model *model) {
    if (!model) return;
    if (model->backend) {
        if (model->ctx->cpu_reference)
            kvk_cpu_model_release(model);
        else
            kvk_vk_model_release(model);
    }
    kvk_plan_free(&model->plan);
    kvk_graph_free(&model->graph);
    free(model);
}

void kvk_model_input_shape(const kvk_model *model, int *height, int *width, int *channels) {
    kvk_shape s = model->graph.nodes[0].shape;
    if (height) *height = s.h;
    if (width) *width = s.w;
    if (channels) *channels = s.c;
}

int kvk_model_output_shape(const kvk_model *model, int dims[3]) {
    /* the node's own shape: a Flatten alias shares a tensor planned as (h, w, c) */
    int o = model->graph.output;
    kvk_shape s = model->graph.nodes[o].shape;
    while (model->graph.nodes[o].op == KVK_OP_DROPOUT) o = model->graph.nodes[o].inputs[0];
    kvk_op op = model->graph.nodes[o].op;
    int flat = op == KVK_OP_DENSE || op == KVK_OP_FLATTEN || op == KVK_OP_GLOBAL_AVGPOOL ||
               op == KVK_OP_GLOBAL_MAXPOOL;
    if (flat) {
        dims[0] = s.c;
        return 1;
    }
    dims[0] = s.h, dims[1] = s.w, dims[2] = s.c;
    return 3;
}

long kvk_model_output_size(const kvk_model *model) {
    return kvk_shape_size(model->plan.tensors[model->plan.output_tensor].shape);
}

const char *kvk_model_preprocess_mode(const kvk_model *model) {
    return model->preprocess;
}

kvk_status kvk_model_run(kvk_model *model, const float *input, int batch, float *output) {
    if (!model || !input || !output)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "NULL model, input or output");
    if (batch < 1 || batch > model->max_batch)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "batch %d is outside 1..%d (the batch size the model was built for)", batch,
                        model->max_batch);
    return model->ctx->cpu_reference ? kvk_cpu_model_run(model, input, batch, output)
                                     : kvk_vk_model_run(model, input, batch, output);
}

void kvk_model_get_info(const kvk_model *model, kvk_model_info *info) {
    info->layers = model->plan.step_count;
    info->flops = model->flops;
    info->weight_bytes = model->weight_bytes;
    info->activation_bytes = (double)model->plan.arena_bytes;
    info->batch_chunk = model->chunk;
}
