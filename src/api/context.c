/* The public context API: the device a model runs on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "api/internal.h"
#include "vk/vk.h"

kvk_status kvk_context_create(const kvk_context_options *options, kvk_context **out) {
    *out = NULL;
    kvk_context_options defaults = {0};
    if (!options) options = &defaults;
    kvk_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    ctx->verbose = options->verbose;
    ctx->time_layers = options->time_layers;
    const char *selector = options->device;
    if (!selector || !*selector) selector = getenv("KVK_DEVICE");
    const char *validation_env = getenv("KVK_VALIDATION");
    int validation = options->validation;
    if (validation_env && !strcmp(validation_env, "1") && validation < 1) validation = 1;
    if (validation_env && !strcmp(validation_env, "sync")) validation = 2;

    if (selector && (!strcmp(selector, "cpu-reference") || !strcmp(selector, "reference"))) {
        ctx->cpu_reference = 1;
        ctx->max_binding_bytes =
            options->max_binding_bytes ? options->max_binding_bytes : UINT64_MAX;
        ctx->alignment = 64;
        snprintf(ctx->name, sizeof ctx->name, "cpu-reference [C, double accumulation]");
    } else {
        kvk_status st = kvk_vk_device_create(selector, validation, options->verbose, &ctx->vk);
        if (st != KVK_OK) {
            free(ctx);
            return st;
        }
        ctx->vk->memory_cap = options->max_memory_bytes;
        const VkPhysicalDeviceLimits *lim = &ctx->vk->props.limits;
        ctx->max_binding_bytes = lim->maxStorageBufferRange;
        if (options->max_binding_bytes && options->max_binding_bytes < ctx->max_binding_bytes)
            ctx->max_binding_bytes = options->max_binding_bytes;
        /* buffer offsets fit storage buffers and texel views (conv2d_rb8_tex's weights) */
        VkDeviceSize align = lim->minStorageBufferOffsetAlignment;
        if (lim->minTexelBufferOffsetAlignment > align) align = lim->minTexelBufferOffsetAlignment;
        ctx->alignment = align > 16 ? (size_t)align : 16;
        /* a GPU's choices on a CPU driver, for tests (kvk_vk_device_choose_as) */
        const char *choose_as = getenv("KVK_CHOOSE_AS");
        if (choose_as && *choose_as) {
            st = kvk_vk_device_choose_as(ctx->vk, choose_as);
            if (st != KVK_OK) {
                kvk_vk_device_destroy(ctx->vk);
                free(ctx);
                return st;
            }
        }
        kvk_vk_describe(ctx->vk, ctx->name, sizeof ctx->name);
        /* the discrete-GPU upload path, for tests on the CPU drivers (which write in place) */
        const char *upload = getenv("KVK_WEIGHT_UPLOAD");
        ctx->staging_upload = upload && !strcmp(upload, "staging");
        const char *kernels = options->kernels ? options->kernels : getenv("KVK_KERNELS");
        st = kvk_vk_kernel_override_parse(kernels, &ctx->vk->caps, &ctx->kernels);
        if (st != KVK_OK) {
            kvk_vk_device_destroy(ctx->vk);
            free(ctx);
            return st;
        }
    }
    if (ctx->verbose) fprintf(stderr, "kvk: device %s\n", ctx->name);
    *out = ctx;
    return KVK_OK;
}

void kvk_context_destroy(kvk_context *ctx) {
    if (!ctx) return;
    kvk_vk_device_destroy(ctx->vk);
    free(ctx);
}

const char *kvk_context_device_name(const kvk_context *ctx) {
    return ctx->name;
}

int kvk_context_validation_messages(const kvk_context *ctx) {
    return ctx->vk ? __atomic_load_n(&ctx->vk->validation_messages, __ATOMIC_RELAXED) : 0;
}

kvk_status kvk_list_devices(void *file) {
    return kvk_vk_list_devices(file ? (FILE *)file : stdout, 0);
}

kvk_status kvk_describe_devices(void *file, int verbose) {
    return kvk_vk_list_devices(file ? (FILE *)file : stdout, verbose);
}
