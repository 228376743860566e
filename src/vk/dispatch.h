/* Vulkan function tables, one per instance and one per device.
 *
 * volk's global function pointers are one set per process: volkLoadInstance / volkLoadDevice
 * rewrite them for the newest instance or device, which breaks the moment two contexts exist
 * (and races when they are created on two threads). kvk never loads them: every instance-level
 * call goes through the kvk_vk_instance_table of its kvk_vk_device, every device-level call
 * through its struct VolkDeviceTable. Only the loader-level entry points volkInitialize sets
 * (vkCreateInstance, vkEnumerateInstance*, vkGetInstanceProcAddr) are global, set once. */
#ifndef KVK_VK_DISPATCH_H
#define KVK_VK_DISPATCH_H

#include <volk.h>

#include "kvk/status.h"

/* The instance-level functions kvk calls. */
typedef struct kvk_vk_instance_table {
    PFN_vkDestroyInstance vkDestroyInstance;
    PFN_vkEnumeratePhysicalDevices vkEnumeratePhysicalDevices;
    PFN_vkGetPhysicalDeviceProperties vkGetPhysicalDeviceProperties;
    PFN_vkGetPhysicalDeviceProperties2 vkGetPhysicalDeviceProperties2;
    PFN_vkGetPhysicalDeviceFeatures2 vkGetPhysicalDeviceFeatures2;
    PFN_vkGetPhysicalDeviceFormatProperties vkGetPhysicalDeviceFormatProperties;
    PFN_vkGetPhysicalDeviceMemoryProperties vkGetPhysicalDeviceMemoryProperties;
    /* NULL before Vulkan 1.1 (kvk_vk_memory_query's VK_EXT_memory_budget figures) */
    PFN_vkGetPhysicalDeviceMemoryProperties2 vkGetPhysicalDeviceMemoryProperties2;
    PFN_vkGetPhysicalDeviceQueueFamilyProperties vkGetPhysicalDeviceQueueFamilyProperties;
    PFN_vkEnumerateDeviceExtensionProperties vkEnumerateDeviceExtensionProperties;
    PFN_vkCreateDevice vkCreateDevice;
    PFN_vkGetDeviceProcAddr vkGetDeviceProcAddr;
    /* NULL unless the instance enabled VK_EXT_debug_utils (validation) */
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
} kvk_vk_instance_table;

/* Finds the Vulkan loader, once per process whatever the number of threads asking. */
kvk_status kvk_vk_loader_init(void);
/* Fills `table` for `instance`; fails naming the first core function the loader lacks. */
kvk_status kvk_vk_instance_table_load(VkInstance instance, kvk_vk_instance_table *table);
/* Fills `table` for `device`, created from an instance whose table is `instance_table`. */
kvk_status kvk_vk_device_table_load(const kvk_vk_instance_table *instance_table, VkDevice device,
                                    struct VolkDeviceTable *table);

#endif
