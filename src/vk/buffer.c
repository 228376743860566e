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

int kvk_vk_memory_type(const kvk_vk_device *dev, uint32_t allowed, int device_local) {
    VkMemoryPropertyFlags host =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (device_local == KVK_VK_DEVICE_MAPPED)
        return find_memory_type(dev, allowed, host | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    int type = device_local
                   ? find_memory_type(dev, allowed, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
                   : find_memory_type(dev, allowed, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    return type >= 0 ? type : find_memory_type(dev, allowed, device_local ? 0 : host);
}

kvk_status kvk_vk_buffer_create(kvk_vk_device *dev, VkDeviceSize size, int device_local,
                                const char *what, kvk_vk_buffer *out) {
    memset(out, 0, sizeof *out);
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size ? size : 4,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    kvk_status st = kvk_vk_check(dev->vkd.vkCreateBuffer(dev->device, &info, NULL, &out->buffer),
                                 "vkCreateBuffer");
    if (st != KVK_OK) return kvk_fail_context(st, "%s (%.1f MiB): ", what, size / 1048576.0);
    VkMemoryRequirements req;
    dev->vkd.vkGetBufferMemoryRequirements(dev->device, out->buffer, &req);
    int type = kvk_vk_memory_type(dev, req.memoryTypeBits, device_local);
    if (type < 0) {
        kvk_vk_buffer_destroy(dev, out);
        return kvk_fail(KVK_ERROR_VULKAN, "%s: no suitable memory type for a %llu-byte buffer",
                        what, (unsigned long long)size);
    }
    VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                  .allocationSize = req.size,
                                  .memoryTypeIndex = (uint32_t)type};
    st = kvk_vk_check(dev->vkd.vkAllocateMemory(dev->device, &alloc, NULL, &out->memory),
                      "vkAllocateMemory");
    if (st == KVK_OK)
        st = kvk_vk_check(dev->vkd.vkBindBufferMemory(dev->device, out->buffer, out->memory, 0),
                          "vkBindBufferMemory");
    if (st == KVK_OK && device_local != KVK_VK_DEVICE_MEMORY)
        st = kvk_vk_check(
            dev->vkd.vkMapMemory(dev->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->mapped),
            "vkMapMemory");
    if (st != KVK_OK) {
        kvk_vk_buffer_destroy(dev, out);
        /* the driver's heap was smaller than it said, or other processes hold it */
        uint32_t heap = dev->memory.memoryTypes[type].heapIndex;
        return kvk_fail_context(st, "allocating %s, %llu bytes (%.1f MiB) of heap %u (%.1f MiB): ",
                                what, (unsigned long long)size, size / 1048576.0, heap,
                                dev->memory.memoryHeaps[heap].size / 1048576.0);
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
    if (buf->buffer) dev->vkd.vkDestroyBuffer(dev->device, buf->buffer, NULL);
    if (buf->memory) dev->vkd.vkFreeMemory(dev->device, buf->memory, NULL);
    if (buf->allocation) { /* counted only once allocated and bound */
        dev->allocated_bytes -= buf->allocation;
        dev->allocations--;
    }
    memset(buf, 0, sizeof *buf);
}
