/* Instance, device choice and queue (the pipeline cache is in pipeline_cache.c). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "vk/vk.h"

static const char *const VALIDATION_LAYER = "VK_LAYER_KHRONOS_validation";

kvk_status kvk_vk_check(VkResult r, const char *what) {
    if (r == VK_SUCCESS) return KVK_OK;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of %s memory (VkResult %d)", what,
                        r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host", (int)r);
    return kvk_fail(KVK_ERROR_VULKAN, "%s failed (VkResult %d)", what, (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)type;
    kvk_vk_device *dev = user;
    if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        __atomic_add_fetch(&dev->validation_messages, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "kvk: Vulkan validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static int has_layer(const char *name) {
    uint32_t count = 0;
    vkEnumerateInstanceLayerProperties(&count, NULL);
    VkLayerProperties *layers = calloc(count ? count : 1, sizeof *layers);
    if (!layers) return 0;
    vkEnumerateInstanceLayerProperties(&count, layers);
    int found = 0;
    for (uint32_t i = 0; i < count; i++) found |= strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static int layer_has_extension(const char *layer, const char *name) {
    uint32_t count = 0;
    vkEnumerateInstanceExtensionProperties(layer, &count, NULL);
    VkExtensionProperties *exts = calloc(count ? count : 1, sizeof *exts);
    if (!exts) return 0;
    vkEnumerateInstanceExtensionProperties(layer, &count, exts);
    int found = 0;
    for (uint32_t i = 0; i < count; i++) found |= strcmp(exts[i].extensionName, name) == 0;
    free(exts);
    return found;
}

/* The newest Vulkan version kvk asks for: 1.2 features (fp16, 8-bit storage) are enabled
 * through their core structures only where instance and device both have 1.2. */
static uint32_t instance_version(void) {
    uint32_t v = VK_API_VERSION_1_1;
    if (vkEnumerateInstanceVersion && vkEnumerateInstanceVersion(&v) != VK_SUCCESS)
        v = VK_API_VERSION_1_1;
    return v > VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : v;
}

static kvk_status create_instance(kvk_vk_device *dev) {
    kvk_status st = kvk_vk_loader_init();
    if (st != KVK_OK) return st;
    if (dev->validation && !has_layer(VALIDATION_LAYER))
        return kvk_fail(KVK_ERROR_VULKAN,
                        "validation was requested but %s is not installed (Debian: "
                        "vulkan-validationlayers)",
                        VALIDATION_LAYER);
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "kvk",
                             .pEngineName = "kvk",
                             .apiVersion = instance_version()};
    const char *exts[2] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME,
                           VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
    VkDebugUtilsMessengerCreateInfoEXT messenger = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_validation_message,
        .pUserData = dev};
    VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                 .pApplicationInfo = &app};
    /* Synchronization validation on request (validation 2): the recorder leaves barriers out
     * between independent dispatches, and this is what reports one it should have kept. */
    VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                        .pNext = &messenger,
                                        .enabledValidationFeatureCount = 1,
                                        .pEnabledValidationFeatures = &sync};
    if (dev->validation) {
        info.enabledLayerCount = 1;
        info.ppEnabledLayerNames = &VALIDATION_LAYER;
        info.enabledExtensionCount = 1;
        info.ppEnabledExtensionNames = exts;
        info.pNext = &messenger; /* also covers instance creation itself */
        if (dev->validation > 1) {
            if (!layer_has_extension(VALIDATION_LAYER, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME))
                return kvk_fail(KVK_ERROR_VULKAN,
                                "synchronization validation was requested but %s has no %s",
                                VALIDATION_LAYER, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
            info.enabledExtensionCount = 2;
            info.pNext = &features;
        }
    }
    st = kvk_vk_check(vkCreateInstance(&info, NULL, &dev->instance), "vkCreateInstance");
    if (st == KVK_OK) st = kvk_vk_instance_table_load(dev->instance, &dev->vki);
    if (st != KVK_OK) return st;
    if (dev->validation) {
        if (!dev->vki.vkCreateDebugUtilsMessengerEXT)
            return kvk_fail(KVK_ERROR_VULKAN, "validation: the loader has no %s",
                            "vkCreateDebugUtilsMessengerEXT");
        return kvk_vk_check(dev->vki.vkCreateDebugUtilsMessengerEXT(dev->instance, &messenger, NULL,
                                                                    &dev->messenger),
                            "vkCreateDebugUtilsMessengerEXT");
    }
    return KVK_OK;
}

static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return 3;
    default:
        return 4;
    }
}

static const char *type_name(VkPhysicalDeviceType t) {
    static const char *const names[] = {"other", "integrated", "discrete", "virtual", "cpu"};
    return (unsigned)t < 5 ? names[t] : "other";
}

static int compute_family(const kvk_vk_instance_table *vki, VkPhysicalDevice pd, uint32_t *family) {
    uint32_t count = 0;
    vki->vkGetPhysicalDeviceQueueFamilyProperties(pd, &count, NULL);
    VkQueueFamilyProperties props[16];
    if (count > 16) count = 16;
    vki->vkGetPhysicalDeviceQueueFamilyProperties(pd, &count, props);
    for (uint32_t i = 0; i < count; i++)
        if (props[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            return 1;
        }
    return 0;
}

/* Physical devices with a compute queue, in kvk's preference order (stable within a rank). */
static int sorted_devices(const kvk_vk_instance_table *vki, VkInstance instance,
                          VkPhysicalDevice *out, int max) {
    uint32_t count = 0;
    vki->vkEnumeratePhysicalDevices(instance, &count, NULL);
    VkPhysicalDevice all[32];
    if (count > 32) count = 32;
    vki->vkEnumeratePhysicalDevices(instance, &count, all);
    int n = 0;
    for (int rank = 0; rank <= 4; rank++)
        for (uint32_t i = 0; i < count && n < max; i++) {
            VkPhysicalDeviceProperties p;
            uint32_t family;
            vki->vkGetPhysicalDeviceProperties(all[i], &p);
            if (type_rank(p.deviceType) == rank && compute_family(vki, all[i], &family))
                out[n++] = all[i];
        }
    return n;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return 0;
}

static kvk_status pick_device(kvk_vk_device *dev, const char *selector) {
    VkPhysicalDevice list[32];
    const kvk_vk_instance_table *vki = &dev->vki;
    int n = sorted_devices(vki, dev->instance, list, 32);
    if (n == 0)
        return kvk_fail(KVK_ERROR_VULKAN, "no Vulkan device with a compute queue was found; "
                                          "install a driver (for a CPU driver on Debian: "
                                          "mesa-vulkan-drivers)");
    if (!selector || !*selector) {
        dev->physical = list[0];
        return KVK_OK;
    }
    char *end;
    long index = strtol(selector, &end, 10);
    if (*end == '\0') {
        if (index < 0 || index >= n)
            return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                            "device index %ld is out of range: %d device(s) (see `kvk devices`)",
                            index, n);
        dev->physical = list[index];
        return KVK_OK;
    }
    for (int i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vki->vkGetPhysicalDeviceProperties(list[i], &p);
        if (contains_nocase(p.deviceName, selector)) {
            dev->physical = list[i];
            return KVK_OK;
        }
    }
    return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                    "no Vulkan device name contains '%s' (see `kvk devices`)", selector);
}

/* Every layout a shader can have, made up front (pipelines are compiled on several threads):
 * n bindings, those in `texel` uniform texel buffers, the others storage buffers. */
static kvk_status create_layouts(kvk_vk_device *dev) {
    for (int n = 1; n <= KVK_VK_MAX_BINDINGS; n++) {
        for (uint32_t texel = 0; texel < (1u << n); texel++) {
            VkDescriptorSetLayoutBinding b[KVK_VK_MAX_BINDINGS];
            for (int i = 0; i < n; i++)
                b[i] = (VkDescriptorSetLayoutBinding){
                    .binding = (uint32_t)i,
                    .descriptorType = (texel & (1u << i)) ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                          : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                    .descriptorCount = 1,
                    .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
            VkDescriptorSetLayoutCreateInfo sl = {
                .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                .bindingCount = (uint32_t)n,
                .pBindings = b};
            VkDescriptorSetLayout *set = &dev->set_layouts[n][texel];
            kvk_status st =
                kvk_vk_check(dev->vkd.vkCreateDescriptorSetLayout(dev->device, &sl, NULL, set),
                             "vkCreateDescriptorSetLayout");
            if (st != KVK_OK) return st;
            VkPushConstantRange push = {VK_SHADER_STAGE_COMPUTE_BIT, 0, 128};
            VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                             .setLayoutCount = 1,
                                             .pSetLayouts = set,
                                             .pushConstantRangeCount = 1,
                                             .pPushConstantRanges = &push};
            st = kvk_vk_check(dev->vkd.vkCreatePipelineLayout(dev->device, &pl, NULL,
                                                              &dev->pipeline_layouts[n][texel]),
                              "vkCreatePipelineLayout");
            if (st != KVK_OK) return st;
        }
    }
    return KVK_OK;
}

/* maxMemoryAllocationSize (Vulkan 1.1) and maxBufferSize (1.3); 0 where the device does not
 * say. */
static void read_memory_limits(kvk_vk_device *dev) {
    if (dev->props.apiVersion < VK_API_VERSION_1_1) return;
    VkPhysicalDeviceMaintenance4Properties m4 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    if (dev->props.apiVersion >= VK_API_VERSION_1_3) m3.pNext = &m4;
    VkPhysicalDeviceProperties2 props2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &m3};
    dev->vki.vkGetPhysicalDeviceProperties2(dev->physical, &props2);
    dev->max_allocation = m3.maxMemoryAllocationSize;
    dev->max_buffer = m4.maxBufferSize;
}

kvk_status kvk_vk_device_create(const char *selector, int validation, int verbose,
                                kvk_vk_device **out) {
    *out = NULL;
    kvk_vk_device *dev = calloc(1, sizeof *dev);
    if (!dev) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    dev->validation = validation;
    dev->verbose = verbose;
    pthread_mutex_init(&dev->queue_lock, NULL);
    pthread_mutex_init(&dev->pipeline_lock, NULL);
    pthread_mutex_init(&dev->memory_lock, NULL);
    kvk_status st = create_instance(dev);
    if (st == KVK_OK) st = pick_device(dev, selector);
    if (st != KVK_OK) {
        kvk_vk_device_destroy(dev);
        return st;
    }
    dev->vki.vkGetPhysicalDeviceProperties(dev->physical, &dev->props);
    dev->vki.vkGetPhysicalDeviceMemoryProperties(dev->physical, &dev->memory);
    compute_family(&dev->vki, dev->physical, &dev->queue_family);
    read_memory_limits(dev);
    kvk_vk_enable enable;
    kvk_vk_caps_query(&dev->vki, dev->instance, dev->physical, &dev->caps, &enable);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo q = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                 .queueFamilyIndex = dev->queue_family,
                                 .queueCount = 1,
                                 .pQueuePriorities = &priority};
    VkDeviceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                               .queueCreateInfoCount = 1,
                               .pQueueCreateInfos = &q,
                               .enabledExtensionCount = enable.extension_count,
                               .ppEnabledExtensionNames = enable.extensions};
    if (dev->props.apiVersion >= VK_API_VERSION_1_1) info.pNext = &enable.features;
    st = kvk_vk_check(dev->vki.vkCreateDevice(dev->physical, &info, NULL, &dev->device),
                      "vkCreateDevice");
    if (st == KVK_OK) {
        st = kvk_vk_device_table_load(&dev->vki, dev->device, &dev->vkd);
        if (st != KVK_OK) { /* no table: destroy the device through the instance's loader */
            PFN_vkDestroyDevice destroy =
                (PFN_vkDestroyDevice)dev->vki.vkGetDeviceProcAddr(dev->device, "vkDestroyDevice");
            if (destroy) destroy(dev->device, NULL);
            dev->device = VK_NULL_HANDLE;
        }
    }
    if (st == KVK_OK) dev->vkd.vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);
    if (st == KVK_OK) st = kvk_vk_pipeline_cache_create(dev);
    if (st == KVK_OK) st = create_layouts(dev);
    if (st != KVK_OK) {
        kvk_vk_device_destroy(dev);
        return st;
    }
    *out = dev;
    return KVK_OK;
}

void kvk_vk_device_destroy(kvk_vk_device *dev) {
    if (!dev) return;
    if (dev->device) {
        const struct VolkDeviceTable *vkd = &dev->vkd;
        vkd->vkDeviceWaitIdle(dev->device);
        for (int i = 0; i < dev->pipeline_count; i++) {
            vkd->vkDestroyPipeline(dev->device, dev->pipelines[i]->pipeline, NULL);
            free(dev->pipelines[i]);
        }
        for (int n = 1; n <= KVK_VK_MAX_BINDINGS; n++) {
            for (uint32_t texel = 0; texel < (1u << n); texel++) {
                if (dev->pipeline_layouts[n][texel])
                    vkd->vkDestroyPipelineLayout(dev->device, dev->pipeline_layouts[n][texel],
                                                 NULL);
                if (dev->set_layouts[n][texel])
                    vkd->vkDestroyDescriptorSetLayout(dev->device, dev->set_layouts[n][texel],
                                                      NULL);
            }
        }
        if (dev->pipeline_cache) {
            kvk_vk_pipeline_cache_save(dev);
            vkd->vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
        }
        vkd->vkDestroyDevice(dev->device, NULL);
    }
    free(dev->pipelines);
    if (dev->messenger)
        dev->vki.vkDestroyDebugUtilsMessengerEXT(dev->instance, dev->messenger, NULL);
    if (dev->instance && dev->vki.vkDestroyInstance)
        dev->vki.vkDestroyInstance(dev->instance, NULL);
    pthread_mutex_destroy(&dev->queue_lock);
    pthread_mutex_destroy(&dev->pipeline_lock);
    pthread_mutex_destroy(&dev->memory_lock);
    free(dev);
}

void kvk_vk_describe(const kvk_vk_device *dev, char *buf, size_t size) {
    uint32_t v = dev->props.apiVersion;
    char as[48] = "";
    if (dev->chosen_as) snprintf(as, sizeof as, ", choosing as %s", type_name(dev->caps.type));
    snprintf(buf, size, "%s [%s, Vulkan %u.%u%s]", dev->props.deviceName,
             type_name(dev->props.deviceType), VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
             as);
}

kvk_status kvk_vk_device_choose_as(kvk_vk_device *dev, const char *type) {
    static const VkPhysicalDeviceType types[] = {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU,
                                                 VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
                                                 VK_PHYSICAL_DEVICE_TYPE_CPU};
    enum { COUNT = sizeof types / sizeof types[0] };
    char names[64] = "";
    for (size_t i = 0; i < COUNT; i++) {
        if (!strcmp(type, type_name(types[i]))) {
            dev->caps.type = types[i];
            dev->chosen_as = 1;
            return KVK_OK;
        }
        size_t at = strlen(names);
        snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "", type_name(types[i]));
    }
    return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                    "KVK_CHOOSE_AS is '%s': the device types kvk chooses for are %s", type, names);
}

kvk_status kvk_vk_list_devices(FILE *out, int verbose) {
    kvk_vk_device probe = {0};
    kvk_status st = create_instance(&probe);
    if (st != KVK_OK) {
        if (probe.instance && probe.vki.vkDestroyInstance)
            probe.vki.vkDestroyInstance(probe.instance, NULL);
        return st;
    }
    const kvk_vk_instance_table *vki = &probe.vki;
    VkPhysicalDevice list[32];
    int n = sorted_devices(vki, probe.instance, list, 32);
    if (n == 0) fprintf(out, "no Vulkan device with a compute queue\n");
    for (int i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vki->vkGetPhysicalDeviceProperties(list[i], &p);
        VkPhysicalDeviceMemoryProperties m;
        vki->vkGetPhysicalDeviceMemoryProperties(list[i], &m);
        double heap = 0;
        for (uint32_t h = 0; h < m.memoryHeapCount; h++)
            if (m.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
                heap += (double)m.memoryHeaps[h].size;
        const VkPhysicalDeviceLimits *l = &p.limits;
        fprintf(out, "%d: %s\n", i, p.deviceName);
        fprintf(out, "   type %s, Vulkan %u.%u.%u, vendor 0x%04x device 0x%04x, driver 0x%08x\n",
                type_name(p.deviceType), VK_API_VERSION_MAJOR(p.apiVersion),
                VK_API_VERSION_MINOR(p.apiVersion), VK_API_VERSION_PATCH(p.apiVersion), p.vendorID,
                p.deviceID, p.driverVersion);
        fprintf(out,
                "   device-local memory %.0f MiB, maxStorageBufferRange %.0f MiB, "
                "minStorageBufferOffsetAlignment %llu\n",
                heap / 1048576.0, l->maxStorageBufferRange / 1048576.0,
                (unsigned long long)l->minStorageBufferOffsetAlignment);
        fprintf(out,
                "   workgroup: %u invocations, size %ux%ux%u, shared memory %u KiB; "
                "bound descriptor sets %u, push constants %u B\n",
                l->maxComputeWorkGroupInvocations, l->maxComputeWorkGroupSize[0],
                l->maxComputeWorkGroupSize[1], l->maxComputeWorkGroupSize[2],
                l->maxComputeSharedMemorySize / 1024, l->maxBoundDescriptorSets,
                l->maxPushConstantsSize);
        if (verbose) {
            kvk_vk_caps caps;
            kvk_vk_enable enable;
            kvk_vk_caps_query(vki, probe.instance, list[i], &caps, &enable);
            kvk_vk_caps_print(&caps, "   ", out);
        }
    }
    vki->vkDestroyInstance(probe.instance, NULL);
    return KVK_OK;
}
