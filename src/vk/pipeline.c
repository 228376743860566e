/* Compute pipelines from the embedded SPIR-V, made once per (shader, specialisation). Models
 * of one context may record on several threads: the table is read and grown under the
 * device's pipeline lock, and each entry is allocated once, so a pointer handed out stays
 * valid while the table grows. A model compiles the pipelines it will need on several threads
 * first (kvk_vk_pipelines_prepare), outside the lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "vk/spirv.h"
#include "vk/vk.h"

static kvk_vk_pipeline *find(const kvk_vk_device *dev, const char *shader, const int *key,
                             int bindings) {
    for (int i = 0; i < dev->pipeline_count; i++) {
        kvk_vk_pipeline *p = dev->pipelines[i];
        if (!strcmp(p->shader, shader) && !memcmp(p->spec, key, sizeof p->spec) &&
            p->bindings == bindings)
            return p;
    }
    return NULL;
}

/* The bindings of `bindings` that `code` reads as uniform texel buffers: its layout's */
static uint32_t texel_mask(const unsigned char *code, size_t size, int bindings) {
    return kvk_spirv_texel_bindings((const uint32_t *)code, size / 4) & ((1u << bindings) - 1);
}

/* Compiles one pipeline; touches no table, so several threads may run it at once. */
static kvk_status compile(kvk_vk_device *dev, const char *shader, const int *key, int spec_count,
                          int bindings, VkPipeline *out) {
    size_t size;
    const unsigned char *code = kvk_shader_lookup(shader, &size);
    if (!code) return kvk_fail(KVK_ERROR_UNSUPPORTED, "no embedded shader '%s'", shader);
    /* the specialization frozen into the module (spirv.h: SwiftShader folds nothing
     * else); the embedded module (4-byte aligned: shaders.c) with its specialization if that
     * cannot be done */
    uint32_t *frozen = NULL;
    size_t frozen_words = 0;
    int freeze = kvk_spirv_freeze((const uint32_t *)code, size / 4, key, spec_count, &frozen,
                                  &frozen_words) == 0;
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = freeze ? frozen_words * 4 : size,
                                   .pCode = freeze ? frozen : (const uint32_t *)code};
    VkShaderModule module;
    kvk_status st = kvk_vk_check(dev->vkd.vkCreateShaderModule(dev->device, &mi, NULL, &module),
                                 "vkCreateShaderModule");
    free(frozen);
    if (st != KVK_OK) return st;
    VkSpecializationMapEntry entries[KVK_VK_MAX_SPEC];
    for (int i = 0; i < KVK_VK_MAX_SPEC; i++)
        entries[i] =
            (VkSpecializationMapEntry){(uint32_t)i, (uint32_t)(i * sizeof(int)), sizeof(int)};
    VkSpecializationInfo si = {.mapEntryCount = (uint32_t)spec_count,
                               .pMapEntries = entries,
                               .dataSize = (size_t)spec_count * sizeof(int),
                               .pData = key};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main",
                  .pSpecializationInfo = spec_count && !freeze ? &si : NULL},
        .layout = dev->pipeline_layouts[bindings][texel_mask(code, size, bindings)]};
    st = kvk_vk_check(
        dev->vkd.vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &ci, NULL, out),
        "vkCreateComputePipelines");
    dev->vkd.vkDestroyShaderModule(dev->device, module, NULL);
    return st == KVK_OK ? st : kvk_fail_context(st, "shader %s: ", shader);
}

/* Adds a compiled pipeline to the table (the caller holds the lock). */
static kvk_status insert(kvk_vk_device *dev, const char *shader, const int *key, int bindings,
                         VkPipeline pipeline, kvk_vk_pipeline **out) {
    if (dev->pipeline_count == dev->pipeline_capacity) {
        int cap = dev->pipeline_capacity ? 2 * dev->pipeline_capacity : 16;
        kvk_vk_pipeline **grown = realloc(dev->pipelines, (size_t)cap * sizeof *grown);
        if (!grown) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
        dev->pipelines = grown;
        dev->pipeline_capacity = cap;
    }
    kvk_vk_pipeline *p = calloc(1, sizeof *p);
    if (!p) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    snprintf(p->shader, sizeof p->shader, "%s", shader);
    memcpy(p->spec, key, sizeof p->spec);
    p->bindings = bindings;
    size_t size;
    const unsigned char *code = kvk_shader_lookup(shader, &size);
    p->written = UINT32_MAX, p->texel = 0;
    if (code) kvk_spirv_binding_masks((const uint32_t *)code, size / 4, &p->written, &p->texel);
    p->texel &= (1u << bindings) - 1; /* as its layout (texel_mask) */
    p->pipeline = pipeline;
    dev->pipelines[dev->pipeline_count++] = p;
    if (out) *out = p;
    return KVK_OK;
}

static kvk_status create(kvk_vk_device *dev, const char *shader, const int *key, int spec_count,
                         int bindings, kvk_vk_pipeline **out) {
    VkPipeline pipeline = VK_NULL_HANDLE;
    kvk_status st = compile(dev, shader, key, spec_count, bindings, &pipeline);
    if (st != KVK_OK) return st;
    st = insert(dev, shader, key, bindings, pipeline, out);
    if (st != KVK_OK) dev->vkd.vkDestroyPipeline(dev->device, pipeline, NULL);
    return st;
}

kvk_status kvk_vk_pipeline_get(kvk_vk_device *dev, const char *shader, const int *spec,
                               int spec_count, int bindings, const kvk_vk_pipeline **out) {
    int key[KVK_VK_MAX_SPEC] = {0};
    for (int i = 0; i < spec_count && i < KVK_VK_MAX_SPEC; i++) key[i] = spec[i];
    pthread_mutex_lock(&dev->pipeline_lock);
    kvk_vk_pipeline *p = find(dev, shader, key, bindings);
    kvk_status st = p ? KVK_OK : create(dev, shader, key, spec_count, bindings, &p);
    pthread_mutex_unlock(&dev->pipeline_lock);
    *out = st == KVK_OK ? p : NULL;
    return st;
}

/* kvk_vk_pipelines_prepare's shared work list: each thread takes the next key. */
typedef struct prepare_work {
    kvk_vk_device *dev;
    const kvk_vk_pipeline_key *keys;
    VkPipeline *made; /* per key, VK_NULL_HANDLE when not compiled (yet, or it failed) */
    int count, next;
    pthread_mutex_t lock;
} prepare_work;

static void *prepare_thread(void *arg) {
    prepare_work *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int i = w->next++;
        pthread_mutex_unlock(&w->lock);
        if (i >= w->count) return NULL;
        const kvk_vk_pipeline_key *k = &w->keys[i];
        /* a failure leaves made[i] empty: get() compiles it again and reports it */
        if (compile(w->dev, k->shader, k->spec, k->spec_count, k->bindings, &w->made[i]) != KVK_OK)
            w->made[i] = VK_NULL_HANDLE;
    }
}

kvk_status kvk_vk_pipelines_prepare(kvk_vk_device *dev, const kvk_vk_pipeline_key *keys,
                                    int count) {
    /* only the missing ones */
    kvk_vk_pipeline_key *missing = malloc(sizeof *missing * (size_t)(count ? count : 1));
    VkPipeline *made = calloc((size_t)(count ? count : 1), sizeof *made);
    if (!missing || !made) {
        free(missing);
        free(made);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    }
    int n = 0;
    pthread_mutex_lock(&dev->pipeline_lock);
    for (int i = 0; i < count; i++)
        if (!find(dev, keys[i].shader, keys[i].spec, keys[i].bindings)) missing[n++] = keys[i];
    pthread_mutex_unlock(&dev->pipeline_lock);

    prepare_work w = {.dev = dev, .keys = missing, .made = made, .count = n};
    pthread_mutex_init(&w.lock, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = (int)(cpus < 1 ? 1 : cpus > 8 ? 8 : cpus);
    if (threads > n) threads = n;
    pthread_t tids[8];
    int started = 0;
    for (int t = 1; t < threads; t++) /* this thread is the first worker */
        if (pthread_create(&tids[started], NULL, prepare_thread, &w) == 0) started++;
    prepare_thread(&w);
    for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
    pthread_mutex_destroy(&w.lock);

    kvk_status st = KVK_OK;
    pthread_mutex_lock(&dev->pipeline_lock);
    for (int i = 0; i < n; i++) {
        if (!made[i]) continue;
        /* another model of the context may have made it meanwhile */
        if (st != KVK_OK || find(dev, missing[i].shader, missing[i].spec, missing[i].bindings)) {
            dev->vkd.vkDestroyPipeline(dev->device, made[i], NULL);
            continue;
        }
        st = insert(dev, missing[i].shader, missing[i].spec, missing[i].bindings, made[i], NULL);
        if (st != KVK_OK) dev->vkd.vkDestroyPipeline(dev->device, made[i], NULL);
    }
    pthread_mutex_unlock(&dev->pipeline_lock);
    free(missing);
    free(made);
    return st;
}
