/* Compute pipelines from the embedded SPIR-V, made once per (shader, specialisation). Models
 * of one context may record on several threads: the table is read and grown under the
 * device's pipeline lock, and each entry is allocated once, so a pointer handed out stays
 * valid while the table grows. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
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

static kvk_status create(kvk_vk_device *dev, const char *shader, const int *key, int spec_count,
                         int bindings, kvk_vk_pipeline **out) {
    size_t size;
    const unsigned char *code = kvk_shader_lookup(shader, &size);
    if (!code) return kvk_fail(KVK_ERROR_UNSUPPORTED, "no embedded shader '%s'", shader);
    if (dev->pipeline_count == dev->pipeline_capacity) {
        int cap = dev->pipeline_capacity ? 2 * dev->pipeline_capacity : 16;
        kvk_vk_pipeline **grown = realloc(dev->pipelines, (size_t)cap * sizeof *grown);
        if (!grown) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
        dev->pipelines = grown;
        dev->pipeline_capacity = cap;
    }
    kvk_vk_pipeline *p = calloc(1, sizeof *p);
    if (!p) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = size,
                                   .pCode = (const uint32_t *)code};
    VkShaderModule module;
    kvk_status st = kvk_vk_check(dev->vkd.vkCreateShaderModule(dev->device, &mi, NULL, &module),
                                 "vkCreateShaderModule");
    if (st != KVK_OK) {
        free(p);
        return st;
    }
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
                  .pSpecializationInfo = spec_count ? &si : NULL},
        .layout = dev->pipeline_layouts[bindings]};
    st = kvk_vk_check(dev->vkd.vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &ci,
                                                        NULL, &p->pipeline),
                      "vkCreateComputePipelines");
    dev->vkd.vkDestroyShaderModule(dev->device, module, NULL);
    if (st != KVK_OK) {
        free(p);
        return kvk_fail_context(st, "shader %s: ", shader);
    }
    snprintf(p->shader, sizeof p->shader, "%s", shader);
    memcpy(p->spec, key, sizeof p->spec);
    p->bindings = bindings;
    dev->pipelines[dev->pipeline_count++] = p;
    *out = p;
    return KVK_OK;
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
