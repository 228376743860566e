/* The per-instance and per-device function tables (see dispatch.h). */
#include "vk/dispatch.h"

#include <pthread.h>

#include "core/error.h"

static pthread_once_t loader_once = PTHREAD_ONCE_INIT;
static VkResult loader_result;

static void load_loader(void) {
    loader_result = volkInitialize();
}

kvk_status kvk_vk_loader_init(void) {
    pthread_once(&loader_once, load_loader);
    if (loader_result != VK_SUCCESS)
        return kvk_fail(KVK_ERROR_VULKAN, "no Vulkan loader found (libvulkan.so.1); on Debian "
                                          "install libvulkan1 and a driver such as "
                                          "mesa-vulkan-drivers");
    return KVK_OK;
}

#define LOAD(name) table->name = (PFN_##name)vkGetInstanceProcAddr(instance, #name)

kvk_status kvk_vk_instance_table_load(VkInstance instance, kvk_vk_instance_table *table) {
    LOAD(vkDestroyInstance);
    LOAD(vkEnumeratePhysicalDevices);
    LOAD(vkGetPhysicalDeviceProperties);
    LOAD(vkGetPhysicalDeviceProperties2);
    LOAD(vkGetPhysicalDeviceFeatures2);
    LOAD(vkGetPhysicalDeviceFormatProperties);
    LOAD(vkGetPhysicalDeviceMemoryProperties);
    LOAD(vkGetPhysicalDeviceMemoryProperties2);
    LOAD(vkGetPhysicalDeviceQueueFamilyProperties);
    LOAD(vkEnumerateDeviceExtensionProperties);
    LOAD(vkCreateDevice);
    LOAD(vkGetDeviceProcAddr);
    LOAD(vkCreateDebugUtilsMessengerEXT);
    LOAD(vkDestroyDebugUtilsMessengerEXT);
    const struct {
        const char *name;
        int present;
    } required[] = {
        {"vkDestroyInstance", table->vkDestroyInstance != NULL},
        {"vkEnumeratePhysicalDevices", table->vkEnumeratePhysicalDevices != NULL},
        {"vkGetPhysicalDeviceProperties", table->vkGetPhysicalDeviceProperties != NULL},
        {"vkGetPhysicalDeviceProperties2 (Vulkan 1.1)",
         table->vkGetPhysicalDeviceProperties2 != NULL},
        {"vkGetPhysicalDeviceFeatures2 (Vulkan 1.1)", table->vkGetPhysicalDeviceFeatures2 != NULL},
        {"vkGetPhysicalDeviceFormatProperties", table->vkGetPhysicalDeviceFormatProperties != NULL},
        {"vkGetPhysicalDeviceMemoryProperties", table->vkGetPhysicalDeviceMemoryProperties != NULL},
        {"vkGetPhysicalDeviceQueueFamilyProperties",
         table->vkGetPhysicalDeviceQueueFamilyProperties != NULL},
        {"vkEnumerateDeviceExtensionProperties",
         table->vkEnumerateDeviceExtensionProperties != NULL},
        {"vkCreateDevice", table->vkCreateDevice != NULL},
        {"vkGetDeviceProcAddr", table->vkGetDeviceProcAddr != NULL},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!required[i].present)
            return kvk_fail(KVK_ERROR_VULKAN, "the Vulkan loader has no %s", required[i].name);
    return KVK_OK;
}

/* volkLoadDeviceTable reads volk's one global vkGetDeviceProcAddr: it is set and used under
 * this lock, so two contexts made at once each get their own instance's. */
static pthread_mutex_t device_table_lock = PTHREAD_MUTEX_INITIALIZER;

kvk_status kvk_vk_device_table_load(const kvk_vk_instance_table *instance_table, VkDevice device,
                                    struct VolkDeviceTable *table) {
    pthread_mutex_lock(&device_table_lock);
    vkGetDeviceProcAddr = instance_table->vkGetDeviceProcAddr;
    volkLoadDeviceTable(table, device);
    vkGetDeviceProcAddr = NULL;
    pthread_mutex_unlock(&device_table_lock);
    if (!table->vkQueueSubmit || !table->vkCreateComputePipelines || !table->vkCmdDispatch)
        return kvk_fail(KVK_ERROR_VULKAN, "the Vulkan driver returned no device functions");
    return KVK_OK;
}
