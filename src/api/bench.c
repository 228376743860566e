/* The public measuring API (kvk/bench.h): the backend's probes, timestamps and counters. */
#include <string.h>

#include "api/internal.h"
#include "core/error.h"
#include "kvk/bench.h"
#include "vk/peak.h"

kvk_status kvk_context_measure_peak(kvk_context *ctx, kvk_device_peak *out) {
    memset(out, 0, sizeof *out);
    if (!ctx || !ctx->vk)
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "the device's peak is measured with Vulkan probe shaders: not on the CPU "
                        "reference");
    kvk_vk_peak p;
    kvk_status st = kvk_vk_measure_peak(ctx->vk, &p);
    if (st != KVK_OK) return st;
    *out = (kvk_device_peak){p.gemm_gflops, p.gemm_size, p.copy_gbs, p.copy_bytes};
    return KVK_OK;
}

void kvk_context_memory_usage(const kvk_context *ctx, kvk_memory_usage *out) {
    memset(out, 0, sizeof *out);
    if (!ctx || !ctx->vk) return;
    kvk_vk_memory m;
    kvk_vk_memory_query(ctx->vk, &m);
    *out = (kvk_memory_usage){
        (double)m.allocated_bytes,    (double)m.peak_allocated_bytes, m.allocations, m.has_budget,
        (double)m.budget_usage_bytes, (double)m.budget_bytes};
}

void kvk_context_reset_peak_memory(kvk_context *ctx) {
    if (ctx && ctx->vk) kvk_vk_memory_reset_peak(ctx->vk);
}

int kvk_model_timed_layer_count(const kvk_model *model) {
    return model ? model->plan.step_count : 0;
}

kvk_status kvk_model_layer_time(const kvk_model *model, int index, kvk_layer_time *out) {
    memset(out, 0, sizeof *out);
    if (!model || index < 0 || index >= model->plan.step_count)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "layer index %d is out of range: %d layers",
                        index, model ? model->plan.step_count : 0);
    const kvk_step *step = &model->plan.steps[index];
    out->name = model->graph.nodes[step->node].name;
    out->op = kvk_op_name(step->op);
    /* a Dense's softmax tail is its own step under the Dense's node: no product of its own */
    if (step->op == model->graph.nodes[step->node].op)
        out->flops = kvk_node_flops(&model->graph, step->node);
    if (model->vk) {
        out->kernel = kvk_vk_model_step_kernel(model->vk, index);
        out->runs = kvk_vk_model_layer_ms(model->vk, index, &out->ms);
    }
    return KVK_OK;
}

void kvk_model_layer_times_reset(kvk_model *model) {
    if (model && model->vk) kvk_vk_model_layer_times_reset(model->vk);
}

void kvk_model_get_recording(const kvk_model *model, kvk_model_recording *out) {
    memset(out, 0, sizeof *out);
    if (model && model->vk)
        kvk_vk_model_recording(model->vk, &out->dispatches, &out->barriers, &out->pipelines);
}
