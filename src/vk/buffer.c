/* Buffers, each with its own allocation: kvk makes few and large ones (weight blocks, the
 * activation arena, staging), so a sub-allocator would add nothing. */
#include <string.h>

#include "core/error.h"
#include "vk/vk.h"

static int find_memory_type(const kvk_vk_device *dev, uint32_t allowed,
                            VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < dev->memory.memoryTypeCount; i++)
        if ((allowed & (1u << i)) && (dev->memory.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

kvk_status kvk_vk_buffer_create(kvk_vk_device *dev, VkDeviceSize size, int device_local,
                                kvk_vk_buffer *out) {
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                               .size = size ? size : 4,
                               .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                               .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    kvk_status st =
        kvk_vk_check(vkCreateBuffer(dev->device, &info, NULL, &out->buffer), "vkCreateBuffer");
    if (st != KVK_OK) return st;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev->device, out->buffer, &req);
    VkMemoryPropertyFlags host =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type =
        device_local
            ? find_memory_type(dev, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
            : find_memory_type(dev, req.memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0) type = find_memory_type(dev, req.memoryTypeBits, device_local ? 0 : host);
    if (type < 0) {
        kvk_vk_buffer_destroy(dev, out);
        return kvk_fail(KVK_ERROR_VULKAN, "no suitable memory type for a %llu-byte buffer",
                        (unsigned long long)size);
    }
    VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                  .allocationSize = req.size,
                                  .memoryTypeIndex = (uint32_t)type};
    st =
        kvk_vk_check(vkAllocateMemory(dev->device, &alloc, NULL, &out->memory), "vkAllocateMemory");
    if (st == KVK_OK)
        st = kvk_vk_check(vkBindBufferMemory(dev->device, out->buffer, out->memory, 0),
                          "vkBindBufferMemory");
    if (st == KVK_OK && !device_local)
        st = kvk_vk_check(vkMapMemory(dev->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped),
                          "vkMapMemory");
    if (st != KVK_OK) {
        kvk_vk_buffer_destroy(dev, out);
        return kvk_fail_context(st, "allocating %.1f MiB: ", size / 1048576.0);
    }
    out->size = size;
    out->allocation = req.size;
    dev->allocated_bytes += req.size;
    dev->allocations++;
    if (dev->allocated_bytes > dev->peak_allocated_bytes)
        dev->peak_allocated_bytes = dev->allocated_bytes;
    return KVK_OK;
}

void kvk_vk_buffer_destroy(kvk_vk_device *dev, kvk_vk_buffer *buf) {
    if (buf->buffer) vkDestroyBuffer(dev->device, buf->buffer, NULL);
    if (buf->memory) vkFreeMemory(dev->device, buf->memory, NULL);
    if (buf->allocation) { /* counted only once allocated and bound */
        dev->allocated_bytes -= buf->allocation;
        dev->allocations--;
    }
    memset(buf, 0, sizeof *buf);
}

kvk_status kvk_vk_submit_wait(kvk_vk_device *dev, VkCommandBuffer cmd) {
    VkFence fence;
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    kvk_status st = kvk_vk_check(vkCreateFence(dev->device, &fi, NULL, &fence), "vkCreateFence");
    if (st != KVK_OK) return st;
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    st = kvk_vk_check(vkQueueSubmit(dev->queue, 1, &submit, fence), "vkQueueSubmit");
    if (st == KVK_OK)
        st = kvk_vk_check(vkWaitForFences(dev->device, 1, &fence, VK_TRUE, UINT64_MAX),
                          "vkWaitForFences");
    vkDestroyFence(dev->device, fence, NULL);
    return st;
}
