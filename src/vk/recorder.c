/* Records dispatches into one command buffer. Every dispatch gets its own descriptor set
 * (allocated from pools of 256), written once: the command buffer is recorded once per
 * model and re-submitted for every inference. Barriers go only between dependent dispatches:
 * the ranges touched since the last barrier are kept, with whether they were written (which
 * bindings a shader writes comes from its SPIR-V), and a dispatch that reads a written range,
 * or writes a touched one, gets a barrier first. The validation layer's synchronization
 * checks (KVK_VALIDATION=sync, on in the model tests) report any hazard this would miss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "vk/vk.h"

enum { SETS_PER_POOL = 256 };

kvk_status kvk_vk_recorder_begin(kvk_vk_device *dev, kvk_vk_recorder *rec) {
    memset(rec, 0, sizeof *rec);
    rec->dev = dev;
    kvk_status st = kvk_vk_commands_create(dev, &rec->commands);
    if (st != KVK_OK) return st;
    rec->cmd = rec->commands.cmd;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    return kvk_vk_check(dev->vkd.vkBeginCommandBuffer(rec->cmd, &bi), "vkBeginCommandBuffer");
}

void kvk_vk_recorder_collect(kvk_vk_device *dev, kvk_vk_recorder *rec) {
    memset(rec, 0, sizeof *rec);
    rec->dev = dev;
    rec->collecting = 1;
}

/* Lists the pipeline a dispatch needs, once. */
static kvk_status want(kvk_vk_recorder *rec, const char *shader, const int *spec, int spec_count,
                       int bindings) {
    kvk_vk_pipeline_key key;
    memset(&key, 0, sizeof key);
    snprintf(key.shader, sizeof key.shader, "%s", shader);
    for (int i = 0; i < spec_count && i < KVK_VK_MAX_SPEC; i++) key.spec[i] = spec[i];
    key.spec_count = spec_count;
    key.bindings = bindings;
    for (int i = 0; i < rec->wanted_count; i++)
        if (!memcmp(&rec->wanted[i], &key, sizeof key)) return KVK_OK;
    if (rec->wanted_count == rec->wanted_capacity) {
        int cap = rec->wanted_capacity ? 2 * rec->wanted_capacity : 32;
        kvk_vk_pipeline_key *grown = realloc(rec->wanted, (size_t)cap * sizeof *grown);
        if (!grown) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
        rec->wanted = grown;
        rec->wanted_capacity = cap;
    }
    rec->wanted[rec->wanted_count++] = key;
    return KVK_OK;
}

static kvk_status new_pool(kvk_vk_recorder *rec) {
    VkDescriptorPool *grown = realloc(rec->pools, (size_t)(rec->pool_count + 1) * sizeof *grown);
    if (!grown) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    rec->pools = grown;
    VkDescriptorPoolSize sizes[2] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * KVK_VK_MAX_BINDINGS},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, SETS_PER_POOL * KVK_VK_MAX_BINDINGS}};
    VkDescriptorPoolCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = SETS_PER_POOL,
                                       .poolSizeCount = 2,
                                       .pPoolSizes = sizes};
    kvk_status st = kvk_vk_check(rec->dev->vkd.vkCreateDescriptorPool(rec->dev->device, &info, NULL,
                                                                      &rec->pools[rec->pool_count]),
                                 "vkCreateDescriptorPool");
    if (st != KVK_OK) return st;
    rec->pool_count++;
    rec->sets_left = SETS_PER_POOL;
    return KVK_OK;
}

/* Bytes per texel of the formats ops give texel-buffer bindings; 0 for any other. */
static VkDeviceSize texel_bytes(VkFormat format) {
    return format == VK_FORMAT_R32G32B32A32_SFLOAT   ? 16
           : format == VK_FORMAT_R16G16B16A16_SFLOAT ? 8
                                                     : 0;
}

/* The view through which `shader` reads binding `index` (`b`) as a uniform texel buffer,
 * kept until the recorder is freed (its descriptor set refers to it). */
static kvk_status texel_view(kvk_vk_recorder *rec, const char *shader, int index,
                             const kvk_vk_binding *b, VkBufferView *out) {
    const kvk_vk_caps *caps = &rec->dev->caps;
    VkDeviceSize bytes = texel_bytes(b->format);
    if (!bytes)
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "shader %s reads binding %d as a texel buffer, but it was given no vec4 "
                        "texel format (%d)",
                        shader, index, (int)b->format);
    if (b->offset % caps->texel_alignment || b->range % bytes ||
        b->range / bytes > caps->texel_elements)
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "shader %s: binding %d (%llu bytes at offset %llu) cannot be a texel "
                        "buffer on this device (%u texels of %llu bytes at most, offsets aligned "
                        "to %llu bytes)",
                        shader, index, (unsigned long long)b->range, (unsigned long long)b->offset,
                        caps->texel_elements, (unsigned long long)bytes,
                        (unsigned long long)caps->texel_alignment);
    if (rec->view_count == rec->view_capacity) {
        int cap = rec->view_capacity ? 2 * rec->view_capacity : 64;
        VkBufferView *grown = realloc(rec->views, (size_t)cap * sizeof *grown);
        if (!grown) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
        rec->views = grown;
        rec->view_capacity = cap;
    }
    VkBufferViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                 .buffer = b->buffer,
                                 .format = b->format,
                                 .offset = b->offset,
                                 .range = b->range};
    kvk_status st = kvk_vk_check(rec->dev->vkd.vkCreateBufferView(rec->dev->device, &vi, NULL, out),
                                 "vkCreateBufferView");
    if (st == KVK_OK) rec->views[rec->view_count++] = *out;
    return st;
}

void kvk_vk_barrier(kvk_vk_recorder *rec) {
    if (rec->collecting) return;
    rec->pending_count = 0;
    rec->barriers++;
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    VkPipelineStageFlags stages =
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    rec->dev->vkd.vkCmdPipelineBarrier(rec->cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
}

kvk_status kvk_vk_dispatch(kvk_vk_recorder *rec, const char *shader, const int *spec,
                           int spec_count, const kvk_vk_binding *bindings, int binding_count,
                           const void *push, size_t push_size, uint32_t groups_x, uint32_t groups_y,
                           uint32_t groups_z) {
    kvk_vk_device *dev = rec->dev;
    const VkPhysicalDeviceLimits *lim = &dev->props.limits;
    if (groups_x > lim->maxComputeWorkGroupCount[0] ||
        groups_y > lim->maxComputeWorkGroupCount[1] || groups_z > lim->maxComputeWorkGroupCount[2])
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "shader %s: %ux%ux%u workgroups exceed the device's limit %ux%ux%u", shader,
                        groups_x, groups_y, groups_z, lim->maxComputeWorkGroupCount[0],
                        lim->maxComputeWorkGroupCount[1], lim->maxComputeWorkGroupCount[2]);
    if (rec->collecting) return want(rec, shader, spec, spec_count, binding_count);
    const kvk_vk_pipeline *pipe;
    kvk_status st = kvk_vk_pipeline_get(dev, shader, spec, spec_count, binding_count, &pipe);
    if (st != KVK_OK) return st;
    if (rec->sets_left == 0 && (st = new_pool(rec)) != KVK_OK) return st;
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = rec->pools[rec->pool_count - 1],
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &dev->set_layouts[binding_count][pipe->texel]};
    VkDescriptorSet set;
    st = kvk_vk_check(dev->vkd.vkAllocateDescriptorSets(dev->device, &ai, &set),
                      "vkAllocateDescriptorSets");
    if (st != KVK_OK) return st;
    rec->sets_left--;
    VkDescriptorBufferInfo infos[KVK_VK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[KVK_VK_MAX_BINDINGS];
    VkBufferView views[KVK_VK_MAX_BINDINGS];
    for (int i = 0; i < binding_count; i++) {
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = set,
                                           .dstBinding = (uint32_t)i,
                                           .descriptorCount = 1};
        if (pipe->texel & (1u << i)) {
            if ((st = texel_view(rec, shader, i, &bindings[i], &views[i])) != KVK_OK) return st;
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            writes[i].pTexelBufferView = &views[i];
        } else {
            infos[i] =
                (VkDescriptorBufferInfo){bindings[i].buffer, bindings[i].offset, bindings[i].range};
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &infos[i];
        }
    }
    dev->vkd.vkUpdateDescriptorSets(dev->device, (uint32_t)binding_count, writes, 0, NULL);
    if (kvk_vk_hazard(rec->pending, rec->pending_count, bindings, binding_count, pipe->written))
        kvk_vk_barrier(rec);
    rec->pending_count = kvk_vk_accesses_add(rec->pending, rec->pending_count, bindings,
                                             binding_count, pipe->written);
    dev->vkd.vkCmdBindPipeline(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe->pipeline);
    dev->vkd.vkCmdBindDescriptorSets(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                                     dev->pipeline_layouts[binding_count][pipe->texel], 0, 1, &set,
                                     0, NULL);
    if (push_size)
        dev->vkd.vkCmdPushConstants(rec->cmd, dev->pipeline_layouts[binding_count][pipe->texel],
                                    VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t)push_size, push);
    dev->vkd.vkCmdDispatch(rec->cmd, groups_x, groups_y, groups_z);
    if (rec->serial) kvk_vk_barrier(rec);
    rec->dispatches++;
    return KVK_OK;
}

kvk_status kvk_vk_recorder_end(kvk_vk_recorder *rec) {
    return kvk_vk_check(rec->dev->vkd.vkEndCommandBuffer(rec->cmd), "vkEndCommandBuffer");
}

void kvk_vk_recorder_free(kvk_vk_recorder *rec) {
    if (!rec->dev) return;
    free(rec->wanted);
    for (int i = 0; i < rec->view_count; i++)
        rec->dev->vkd.vkDestroyBufferView(rec->dev->device, rec->views[i], NULL);
    free(rec->views);
    for (int i = 0; i < rec->pool_count; i++)
        rec->dev->vkd.vkDestroyDescriptorPool(rec->dev->device, rec->pools[i], NULL);
    free(rec->pools);
    kvk_vk_commands_destroy(rec->dev, &rec->commands);
    memset(rec, 0, sizeof *rec);
}
