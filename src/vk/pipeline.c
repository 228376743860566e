/* Compute pipelines from the embedded SPIR-V, made once per (shader, specialisation). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "vk/vk.h"

kvk_status kvk_vk_pipeline_get(kvk_vk_device *dev, const char *shader, const int *spec,
                               int spec_count, int bindings, const kvk_vk_pipeline **out) {
    int key[KVK_VK_MAX_SPEC] = {0};
    for (int i = 0; i < spec_count && i < KVK_VK_MAX_SPEC; i++) key[i] = spec[i];
    for (int i = 0; i < dev->pipeline_count; i++) {
        kvk_vk_pipeline *p = &dev->pipelines[i];
        if (!strcmp(p->shader, shader) && !memcmp(p->spec, key, sizeof key) &&
            p->bindings == bindings) {
            *out = p;
            return KVK_OK;
        }
    }
    size_t size;
    const unsigned char *code = kvk_shader_lookup(shader, &size);
    if (!code) return kvk_fail(KVK_ERROR_UNSUPPORTED, "no embedded shader '%s'", shader);
    if (dev->pipeline_count == dev->pipeline_capacity) {
        int cap = dev->pipeline_capacity ? 2 * dev->pipeline_capacity : 16;
        kvk_vk_pipeline *grown = realloc(dev->pipelines, (size_t)cap * sizeof *grown);
        if (!grown) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
        dev->pipelines = grown;
        dev->pipeline_capacity = cap;
    }
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = size,
                                   .pCode = (const uint32_t *)code};
    VkShaderModule module;
    kvk_status st =
        kvk_vk_check(vkCreateShaderModule(dev->device, &mi, NULL, &module), "vkCreateShaderModule");
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
                  .pSpecializationInfo = spec_count ? &si : NULL},
        .layout = dev->pipeline_layouts[bindings]};
    kvk_vk_pipeline *p = &dev->pipelines[dev->pipeline_count];
    memset(p, 0, sizeof *p);
    st = kvk_vk_check(
        vkCreateComputePipelines(dev->device, dev->pipeline_cache, 1, &ci, NULL, &p->pipeline),
        "vkCreateComputePipelines");
    vkDestroyShaderModule(dev->device, module, NULL);
    if (st != KVK_OK) return kvk_fail_context(st, "shader %s: ", shader);
    snprintf(p->shader, sizeof p->shader, "%s", shader);
    memcpy(p->spec, key, sizeof key);
    p->bindings = bindings;
    dev->pipeline_count++;
    *out = p;
    return KVK_OK;
}
