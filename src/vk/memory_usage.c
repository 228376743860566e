/* Device memory in use: what kvk itself holds (counted in buffer.c), and, where the device has
 * VK_EXT_memory_budget, what the driver says the process uses of its device-local heaps. The
 * soak benchmark watches both for growth. */
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

static int has_memory_budget(const kvk_vk_device *dev) {
    VkPhysicalDevice physical = dev->physical;
    uint32_t count = 0;
    if (dev->vki.vkEnumerateDeviceExtensionProperties(physical, NULL, &count, NULL) != VK_SUCCESS)
        return 0;
    VkExtensionProperties *ext = calloc(count ? count : 1, sizeof *ext);
    if (!ext) return 0;
    int found = 0;
    if (dev->vki.vkEnumerateDeviceExtensionProperties(physical, NULL, &count, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < count; i++)
            found |= !strcmp(ext[i].extensionName, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    free(ext);
    return found;
}

void kvk_vk_memory_query(const kvk_vk_device *dev, kvk_vk_memory *out) {
    memset(out, 0, sizeof *out);
    out->allocated_bytes = dev->allocated_bytes;
    out->peak_allocated_bytes = dev->peak_allocated_bytes;
    out->allocations = dev->allocations;
    /* a physical-device query: the extension needs to be supported, not enabled */
    if (dev->props.apiVersion < VK_API_VERSION_1_1 ||
        !dev->vki.vkGetPhysicalDeviceMemoryProperties2 || !has_memory_budget(dev))
        return;
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 props = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2, .pNext = &budget};
    dev->vki.vkGetPhysicalDeviceMemoryProperties2(dev->physical, &props);
    for (uint32_t h = 0; h < props.memoryProperties.memoryHeapCount; h++)
        if (props.memoryProperties.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) {
            out->budget_usage_bytes += budget.heapUsage[h];
            out->budget_bytes += budget.heapBudget[h];
        }
    out->has_budget = 1;
}

void kvk_vk_memory_reset_peak(kvk_vk_device *dev) {
    dev->peak_allocated_bytes = dev->allocated_bytes;
}
