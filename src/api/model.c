/* The public model API: build the architecture, load weights, optimise, plan, and hand the
 * plan to the context's backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "api/internal.h"
#include "keras/apps/apps.h"
#include "keras/bind.h"
#include "keras/keras_order.h"
#include "api/model_config.h"
#include "keras/weights.h"
#include "vk/ops/ops.h"

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
            double rows = n->op == KVK_OP_DEPTHWISE_CONV2D ? 1
                          : n->op == KVK_OP_DENSE          ? kvk_shape_size(in)
                                                           : in.c;
            bytes += 4.0 * n->kh * n->kw * rows * n->shape.c;
        }
        if (n->bias) bytes += 4.0 * n->shape.c;
        if (n->op == KVK_OP_BATCHNORM) bytes += 4.0 * 2 * n->shape.c;
    }
    return bytes;
}

kvk_precision kvk_model_precision(const kvk_model_options *options) {
    const char *env = getenv("KVK_PRECISION");
    if (options->precision != KVK_PRECISION_FP32) return options->precision;
    return env && !strcmp(env, "fp16") ? KVK_PRECISION_FP16 : KVK_PRECISION_FP32;
}

/* The plan's weight types: float16 where asked and the device backend stores the op's weights
 * so (run again on every re-planned chunk). */
static void plan_weight_types(kvk_plan *plan, kvk_precision precision) {
    for (int i = 0; i < plan->step_count; i++) {
        kvk_step *st = &plan->steps[i];
        if (precision == KVK_PRECISION_FP16 && kvk_vk_op_reads_weights(st->op, KVK_DTYPE_F16))
            st->weights = KVK_DTYPE_F16;
    }
}

kvk_status kvk_model_from_graph(kvk_context *ctx, kvk_graph *graph, int batch, int optimize,
                                kvk_precision precision, kvk_model **out) {
    *out = NULL;
    if (precision != KVK_PRECISION_FP32 && precision != KVK_PRECISION_FP16) {
        kvk_graph_free(graph);
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "precision %d is not KVK_PRECISION_FP32 (0) or KVK_PRECISION_FP16 (1)",
                        (int)precision);
    }
    if (precision == KVK_PRECISION_FP16 && ctx->cpu_reference) {
        kvk_graph_free(graph);
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "precision fp16 stores weights as float16 on a Vulkan device; the CPU "
                        "reference computes in float32 only");
    }
    kvk_model *m = calloc(1, sizeof *m);
    if (!m) {
        kvk_graph_free(graph);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    pthread_mutex_init(&m->run_lock, NULL);
    m->ctx = ctx;
    m->graph = *graph;
    kvk_graph_init(graph);
    m->max_batch = batch > 0 ? batch : 1;
    m->preprocess = "none";
    m->source = "builder";
    kvk_graph_prune(&m->graph);
    m->flops = kvk_graph_flops(&m->graph);
    m->layer_order = malloc(sizeof(int) * (size_t)(m->graph.count ? m->graph.count : 1));
    m->layer_order_count = m->layer_order ? kvk_keras_layer_order(&m->graph, m->layer_order) : -1;
    if (m->layer_order_count < 0) {
        kvk_model_destroy(m);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    if (optimize && !ctx->cpu_reference) {
        kvk_graph_optimize(&m->graph);
        kvk_graph_place_concats(&m->graph);
    } else {
        kvk_graph_resolve_identities(&m->graph);
    }
    for (int k = 0; k < kvk_graph_output_count(&m->graph); k++)
        snprintf(m->output_names[k], sizeof m->output_names[k], "%s",
                 m->graph.nodes[kvk_graph_output_node(&m->graph, k)].name);
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
    if (st == KVK_OK) plan_weight_types(&m->plan, precision);
    if (st == KVK_OK && ctx->cpu_reference) st = kvk_cpu_model_create(&m->graph, &m->plan, &m->cpu);
    while (st == KVK_OK && !ctx->cpu_reference) {
        int too_large = 0;
        kvk_vk_model_options vo = {.max_binding = ctx->max_binding_bytes,
                                   .alignment = ctx->alignment,
                                   .kernels = &ctx->kernels,
                                   .release_host_weights = 1,
                                   .label = "the model",
                                   .too_large = &too_large,
                                   .time_layers = ctx->time_layers,
                                   .staging_upload = ctx->staging_upload};
        st = kvk_vk_model_create(ctx->vk, &m->graph, &m->plan, &vo, &m->vk);
        /* ... and the device's memory: a chunk whose buffers do not fit by themselves
         * (SwiftShader's 1 GiB allocations and 2 GiB heap against VGG16's 83 images a binding
         * allows) is halved and planned again; nothing was allocated yet */
        if (st != KVK_ERROR_OUT_OF_MEMORY || !too_large || m->chunk == 1) break;
        m->chunk = (m->chunk + 1) / 2;
        kvk_plan_free(&m->plan);
        st = kvk_plan_build(&m->graph, m->chunk, ctx->alignment, &m->plan);
        if (st != KVK_OK) break;
        plan_weight_types(&m->plan, precision);
    }
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

/* Keras gives a 1-D output per image for this layer (kvk holds it as 1x1xC). */
static int node_is_flat(const kvk_graph *g, int node) {
    return g->nodes[node].rank == 1;
}

/* Features: the requested layers become the outputs, pooled if asked. */
static kvk_status select_outputs(kvk_graph *g, const kvk_application *app, const kvk_app_args *args,
                                 const kvk_model_options *o) {
    if (o->output_layer_count < 1 || o->output_layer_count > KVK_MAX_OUTPUTS)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: between 1 and %d output layers, got %d",
                        app->keras_name, KVK_MAX_OUTPUTS, o->output_layer_count);
    int nodes[KVK_MAX_OUTPUTS], layers = g->count;
    for (int k = 0; k < o->output_layer_count; k++) {
        const char *name = o->output_layers[k];
        int n = name ? kvk_graph_find(g, name) : -1;
        /* internal nodes (a SeparableConv2D's depthwise half, the pooling added here) are not
         * Keras layers; Keras' own names may have a '/' (DenseNet's "conv1/conv") */
        if (n < 0 || n >= layers ||
            (g->nodes[n].op == KVK_OP_DEPTHWISE_CONV2D && g->nodes[n].separable_of >= 0))
            return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                            "%s%s has no layer named '%s' (the names are Keras' own, as in "
                            "model.summary()%s)",
                            app->keras_name, args->include_top ? "" : " without the top",
                            name ? name : "(null)",
                            args->include_top ? "" : "; the classifier's layers need include_top");
        if (o->output_pooling != KVK_POOLING_NONE) {
            kvk_shape s = g->nodes[n].shape;
            if (node_is_flat(g, n) || g->nodes[n].op == KVK_OP_INPUT)
                return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                                "%s: layer '%s' has output shape (%d,): global pooling needs a "
                                "(height, width, channels) output",
                                app->keras_name, name, s.c);
            char pooled[128];
            snprintf(pooled, sizeof pooled, "%s/global_%s_pool", g->nodes[n].name,
                     o->output_pooling == KVK_POOLING_AVG ? "avg" : "max");
            int again = kvk_graph_find(g, pooled); /* the same layer asked for twice */
            n = again >= 0                             ? again
                : o->output_pooling == KVK_POOLING_AVG ? kvk_graph_global_avgpool(g, n, pooled)
                                                       : kvk_graph_global_maxpool(g, n, pooled);
            if (n < 0) return g->status;
        }
        nodes[k] = n;
    }
    return kvk_graph_set_outputs(g, nodes, o->output_layer_count);
}

kvk_status kvk_model_create(kvk_context *ctx, const kvk_model_options *options, kvk_model **out) {
    *out = NULL;
    if (!ctx || !options) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "NULL context or options");
    if (options->batch < 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "batch must be positive, got %d",
                        options->batch);
    /* the architecture saved in the file (keras/config.c) */
    if (options->model_file || !options->architecture || !strcmp(options->architecture, "auto"))
        return kvk_config_model_create(ctx, options, NULL, out);
    const kvk_application *app = kvk_application_find(options->architecture);
    if (!app) return KVK_ERROR_INVALID_ARGUMENT;
    kvk_app_args args;
    kvk_status st = kvk_application_check_args(app, options, &args);
    if (st != KVK_OK) return st;

    /* The file's shapes first (metadata only): every layer is checked against the model
     * before any weight is read, so a file declaring gigabytes for a layer that takes
     * kilobytes is refused without reading them. */
    kvk_weight_file *file = NULL;
    if (options->weights) {
        st = kvk_weight_file_read_shapes(options->weights, &file);
        if (st != KVK_OK) return st;
        args.weights = file;
        if (kvk_config_wins(options, file)) { /* the config wins: it reads the whole file */
            kvk_weight_file_free(file);
            return kvk_config_model_create(ctx, options, NULL, out);
        }
    }
    kvk_graph g;
    kvk_graph_init(&g);
    st = app->build(&g, &args);
    if (st == KVK_OK && options->output_layers) st = select_outputs(&g, app, &args, options);
    /* only what the outputs need is bound (a no-top model reads a file with the top) */
    if (st == KVK_OK) kvk_graph_prune(&g);
    if (st == KVK_OK && file) {
        st = kvk_bind_check_shapes(&g, file);
        kvk_weight_file_free(file);
        file = NULL;
        if (st == KVK_OK) st = kvk_weight_file_read(options->weights, &file);
    }
    if (st == KVK_OK)
        st = file ? kvk_bind_weights(&g, file) : kvk_random_weights(&g, options->random_seed);
    kvk_weight_file_free(file);
    if (st != KVK_OK) {
        kvk_graph_free(&g);
        return st;
    }
    st = kvk_model_from_graph(ctx, &g, options->batch, 1, kvk_model_precision(options), out);
    if (st == KVK_ERROR_OUT_OF_MEMORY) /* name what did not fit */
        return kvk_fail_context(st, "%s at %dx%d, batch %d: ", app->name, args.height, args.width,
                                options->batch > 0 ? options->batch : 1);
    if (st != KVK_OK) return st;
    (*out)->preprocess = app->preprocess;
    snprintf((*out)->name, sizeof(*out)->name, "%s", app->name);
    for (int k = 0; k < options->output_layer_count; k++) /* the names asked for */
        snprintf((*out)->output_names[k], sizeof(*out)->output_names[k], "%s",
                 options->output_layers[k]);
    return KVK_OK;
}

void kvk_model_destroy(kvk_model *model) {
    if (!model) return;
    kvk_cpu_model_destroy(model->cpu);
    kvk_vk_model_destroy(model->vk);
    kvk_plan_free(&model->plan);
    kvk_graph_free(&model->graph);
    pthread_mutex_destroy(&model->run_lock);
    free(model->layer_order);
    free(model);
}

void kvk_model_input_shape(const kvk_model *model, int *height, int *width, int *channels) {
    kvk_shape s = model->graph.nodes[0].shape;
    if (height) *height = s.h;
    if (width) *width = s.w;
    if (channels) *channels = s.c;
}

int kvk_model_output_count(const kvk_model *model) {
    return model->plan.output_count;
}

const char *kvk_model_output_name(const kvk_model *model, int index) {
    if (index < 0 || index >= model->plan.output_count) return NULL;
    return model->output_names[index];
}

int kvk_model_output_dims(const kvk_model *model, int index, int dims[3]) {
    if (index < 0 || index >= model->plan.output_count) return 0;
    /* the node's own shape: a Flatten alias shares a tensor planned as (h, w, c) */
    int o = kvk_graph_output_node(&model->graph, index);
    kvk_shape s = model->graph.nodes[o].shape;
    int rank = model->output_rank[index];
    if (rank == 1 || (rank == 0 && node_is_flat(&model->graph, o))) {
        dims[0] = s.c;
        return 1;
    }
    dims[0] = s.h, dims[1] = s.w, dims[2] = s.c;
    return 3;
}

long kvk_model_output_floats(const kvk_model *model, int index) {
    if (index < 0 || index >= model->plan.output_count) return 0;
    return kvk_shape_size(model->plan.tensors[model->plan.output_tensors[index]].shape);
}

int kvk_model_output_shape(const kvk_model *model, int dims[3]) {
    return kvk_model_output_dims(model, 0, dims);
}

long kvk_model_output_size(const kvk_model *model) {
    return kvk_model_output_floats(model, 0);
}

const char *kvk_model_preprocess_mode(const kvk_model *model) {
    return model->preprocess;
}

const char *kvk_model_source(const kvk_model *model) {
    return model->source;
}

const char *kvk_model_name(const kvk_model *model) {
    return model->name;
}

kvk_status kvk_model_run_outputs(kvk_model *model, const float *input, int batch,
                                 float *const *outputs) {
    if (!model || !input || !outputs)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "NULL model, input or outputs");
    for (int k = 0; k < model->plan.output_count; k++)
        if (!outputs[k])
            return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "NULL buffer for output %d ('%s')", k,
                            model->output_names[k]);
    if (batch < 1 || batch > model->max_batch)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "batch %d is outside 1..%d (the batch size the model was built for)", batch,
                        model->max_batch);
    pthread_mutex_lock(&model->run_lock);
    kvk_status st = model->cpu ? kvk_cpu_model_run(model->cpu, input, batch, outputs)
                               : kvk_vk_model_run(model->vk, input, batch, outputs);
    pthread_mutex_unlock(&model->run_lock);
    return st;
}

kvk_status kvk_model_run(kvk_model *model, const float *input, int batch, float *output) {
    if (!model || !output)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "NULL model, input or output");
    if (model->plan.output_count != 1)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                        "the model has %d outputs: use kvk_model_run_outputs",
                        model->plan.output_count);
    float *outputs[1] = {output};
    return kvk_model_run_outputs(model, input, batch, outputs);
}

void kvk_model_get_info(const kvk_model *model, kvk_model_info *info) {
    info->layers = model->plan.step_count;
    info->flops = model->flops;
    info->weight_bytes = model->weight_bytes;
    info->activation_bytes = (double)model->plan.arena_bytes;
    info->batch_chunk = model->chunk;
}
