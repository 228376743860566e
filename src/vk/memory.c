/* Device memory planning: a model's buffers checked against the device before any is made.
 *
 * Without it, a model too large for the device fails somewhere in the middle of its creation
 * (vkAllocateMemory's VK_ERROR_OUT_OF_DEVICE_MEMORY, or a buffer over maxBufferSize, which is
 * undefined behaviour the validation layer reports), after seconds of weight packing and
 * upload. The plan says which buffer is too large for one allocation, or how much the model
 * needs of a heap against what the heap has free. The heap's size is what the driver reports
 * (both CPU drivers say 2 GiB whatever the host has); the context's other models' reservations
 * are subtracted, so several models that do not fit together fail the same way. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "vk/vk.h"

static double mib(VkDeviceSize bytes) {
    return (double)bytes / 1048576.0;
}

void kvk_vk_memory_plan_add(kvk_vk_memory_plan *plan, const char *what, VkDeviceSize bytes,
                            int device_local) {
    kvk_vk_planned_buffer *b = NULL;
    for (int i = 0; i < plan->count && !b; i++)
        if (!strcmp(plan->buffers[i].what, what)) b = &plan->buffers[i];
    if (!b && plan->count < KVK_VK_MAX_PLANNED) {
        b = &plan->buffers[plan->count++];
        memset(b, 0, sizeof *b);
        snprintf(b->what, sizeof b->what, "%s", what);
        b->device_local = device_local;
    }
    if (!b) b = &plan->buffers[plan->count - 1]; /* more kinds than entries: merge the rest */
    b->bytes += bytes;
    b->count++;
    if (bytes > b->largest) b->largest = bytes;
}

/* The heap a buffer of this kind is allocated from. */
static int heap_of(const kvk_vk_device *dev, int device_local) {
    int type = kvk_vk_memory_type(dev, ~0u, device_local);
    return type < 0 ? -1 : (int)dev->memory.memoryTypes[type].heapIndex;
}

static VkDeviceSize heap_limit(const kvk_vk_device *dev, int heap) {
    VkDeviceSize size = dev->memory.memoryHeaps[heap].size;
    return dev->memory_cap && dev->memory_cap < size ? dev->memory_cap : size;
}

/* "weights 528.0 MiB, the activation pool 24.5 MiB, ..." for the entries on `heap` */
static void describe(const kvk_vk_memory_plan *plan, int heap, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < plan->count && used < size; i++) {
        const kvk_vk_planned_buffer *b = &plan->buffers[i];
        if (b->heap != heap || !b->bytes) continue;
        int n = snprintf(buf + used, size - used, "%s%s %.1f MiB", used ? ", " : "", b->what,
                         mib(b->bytes));
        if (n < 0) break;
        used += (size_t)n;
    }
}

kvk_status kvk_vk_memory_reserve(kvk_vk_device *dev, kvk_vk_memory_plan *plan, const char *owner,
                                 int *too_large_alone) {
    VkDeviceSize need[VK_MAX_MEMORY_HEAPS] = {0};
    if (too_large_alone) *too_large_alone = 0;
    for (int i = 0; i < plan->count; i++) {
        kvk_vk_planned_buffer *b = &plan->buffers[i];
        b->heap = heap_of(dev, b->device_local);
        if (b->heap < 0)
            return kvk_fail(KVK_ERROR_VULKAN, "%s: the device has no %s memory for %s", owner,
                            b->device_local ? "device-local" : "host-visible", b->what);
        const char *limit = NULL;
        VkDeviceSize max = 0;
        if (dev->max_allocation && b->largest > dev->max_allocation)
            limit = "maxMemoryAllocationSize", max = dev->max_allocation;
        else if (dev->max_buffer && b->largest > dev->max_buffer)
            limit = "maxBufferSize", max = dev->max_buffer;
        if (limit && too_large_alone) *too_large_alone = 1;
        if (limit)
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY,
                            "%s needs one buffer of %llu bytes (%.1f MiB), more than the device "
                            "allows (%s %llu bytes, %.1f MiB)%s",
                            b->what, (unsigned long long)b->largest, mib(b->largest), limit,
                            (unsigned long long)max, mib(max),
                            b->device_local ? ": a smaller batch or input needs less" : "");
        need[b->heap] += b->bytes;
    }
    pthread_mutex_lock(&dev->memory_lock);
    for (uint32_t h = 0; h < dev->memory.memoryHeapCount; h++) {
        VkDeviceSize limit = heap_limit(dev, (int)h), held = dev->heap_reserved[h];
        if (need[h] && (need[h] > limit || held > limit - need[h])) {
            pthread_mutex_unlock(&dev->memory_lock);
            if (need[h] > limit && too_large_alone) *too_large_alone = 1;
            char parts[512];
            describe(plan, (int)h, parts, sizeof parts);
            char others[160] = "";
            if (held)
                snprintf(others, sizeof others,
                         ", of which this context's other models hold %llu bytes (%.1f MiB)",
                         (unsigned long long)held, mib(held));
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY,
                            "%s needs %llu bytes (%.1f MiB) of device memory heap %u (%s), "
                            "more than it has: %llu bytes (%.1f MiB)%s%s",
                            owner, (unsigned long long)need[h], mib(need[h]), h, parts,
                            (unsigned long long)limit, mib(limit),
                            dev->memory_cap && dev->memory_cap < dev->memory.memoryHeaps[h].size
                                ? " under the context's max_memory_bytes"
                                : "",
                            others);
        }
    }
    for (uint32_t h = 0; h < dev->memory.memoryHeapCount; h++) dev->heap_reserved[h] += need[h];
    pthread_mutex_unlock(&dev->memory_lock);
    plan->reserved = 1;
    return KVK_OK;
}

static void release(kvk_vk_device *dev, kvk_vk_planned_buffer *b) {
    pthread_mutex_lock(&dev->memory_lock);
    dev->heap_reserved[b->heap] -= b->bytes;
    pthread_mutex_unlock(&dev->memory_lock);
    b->bytes = 0;
}

void kvk_vk_memory_release(kvk_vk_device *dev, kvk_vk_memory_plan *plan) {
    if (!plan->reserved) return;
    for (int i = 0; i < plan->count; i++) release(dev, &plan->buffers[i]);
    plan->reserved = 0;
}

void kvk_vk_memory_release_one(kvk_vk_device *dev, kvk_vk_memory_plan *plan, const char *what) {
    if (!plan->reserved) return;
    for (int i = 0; i < plan->count; i++)
        if (!strcmp(plan->buffers[i].what, what)) release(dev, &plan->buffers[i]);
}
