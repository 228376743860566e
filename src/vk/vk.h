/* kvk's thin Vulkan layer: one device, buffers, pipelines and a recorder of dispatches that
 * every op uses the same way. Nothing here knows about layers or models. */
#ifndef KVK_VK_H
#define KVK_VK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <volk.h>

#include "kvk/status.h"
#include "vk/caps.h"

#define KVK_VK_MAX_BINDINGS 4
#define KVK_VK_MAX_SPEC 4

typedef struct kvk_vk_pipeline {
    char shader[32];
    int spec[KVK_VK_MAX_SPEC];
    int bindings;
    VkPipeline pipeline;
} kvk_vk_pipeline;

typedef struct kvk_vk_device {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    int validation;
    int validation_messages;
    VkPhysicalDevice physical;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory;
    kvk_vk_caps caps; /* read once at creation; kernel choice uses nothing else */
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool command_pool;
    VkPipelineCache pipeline_cache;
    char cache_path[1024];
    VkDescriptorSetLayout set_layouts[KVK_VK_MAX_BINDINGS + 1]; /* by binding count */
    VkPipelineLayout pipeline_layouts[KVK_VK_MAX_BINDINGS + 1];
    kvk_vk_pipeline *pipelines;
    int pipeline_count, pipeline_capacity;
    int verbose;
    /* device memory kvk holds (buffer.c counts every allocation): benchmarks and the soak
     * run report it */
    uint64_t allocated_bytes, peak_allocated_bytes;
    int allocations;
} kvk_vk_device;

/* A buffer with its own memory. */
typedef struct kvk_vk_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    VkDeviceSize allocation; /* the memory's size, as counted in kvk_vk_device */
    void *mapped;            /* host-visible buffers are mapped for their whole life */
} kvk_vk_buffer;

/* A range of a buffer bound to one shader binding. */
typedef struct kvk_vk_binding {
    VkBuffer buffer;
    VkDeviceSize offset, range;
} kvk_vk_binding;

/* Device selection and lifetime (device.c). `selector` as kvk_context_options.device. */
kvk_status kvk_vk_device_create(const char *selector, int validation, int verbose,
                                kvk_vk_device **out);
void kvk_vk_device_destroy(kvk_vk_device *dev);
/* One entry per device; `verbose` adds the capabilities record (kvk_vk_caps_print). */
kvk_status kvk_vk_list_devices(FILE *out, int verbose);
/* "name [type, Vulkan x.y, driver]" */
void kvk_vk_describe(const kvk_vk_device *dev, char *buf, size_t size);

/* Buffers (buffer.c). device_local: prefer fast device memory; else host-visible, coherent,
 * mapped. */
kvk_status kvk_vk_buffer_create(kvk_vk_device *dev, VkDeviceSize size, int device_local,
                                kvk_vk_buffer *out);
void kvk_vk_buffer_destroy(kvk_vk_device *dev, kvk_vk_buffer *buf);
/* Device memory (memory.c): what kvk holds, and the driver's own figures where it has
 * VK_EXT_memory_budget (has_budget 0 otherwise). */
typedef struct kvk_vk_memory {
    uint64_t allocated_bytes, peak_allocated_bytes;
    int allocations;
    int has_budget;
    uint64_t budget_usage_bytes, budget_bytes; /* summed over the device-local heaps */
} kvk_vk_memory;
void kvk_vk_memory_query(const kvk_vk_device *dev, kvk_vk_memory *out);
/* Lets the peak restart from what is held now (a benchmark's next model). */
void kvk_vk_memory_reset_peak(kvk_vk_device *dev);
/* Runs a one-off command buffer (copies) and waits for it. */
kvk_status kvk_vk_submit_wait(kvk_vk_device *dev, VkCommandBuffer cmd);
kvk_status kvk_vk_check(VkResult r, const char *what);

/* Pipelines (pipeline.c): one compute pipeline per shader and specialisation values, made on
 * first use, with `bindings` storage buffers and 128 bytes of push constants. */
kvk_status kvk_vk_pipeline_get(kvk_vk_device *dev, const char *shader, const int *spec,
                               int spec_count, int bindings, const kvk_vk_pipeline **out);
/* The pipeline cache file (pipeline_cache.c): created from the file when it is valid, saved
 * atomically. */
kvk_status kvk_vk_pipeline_cache_create(kvk_vk_device *dev);
void kvk_vk_pipeline_cache_save(kvk_vk_device *dev);

/* Recording (recorder.c): a command buffer of dispatches with a barrier after each. */
typedef struct kvk_vk_recorder {
    kvk_vk_device *dev;
    VkCommandBuffer cmd;
    VkDescriptorPool *pools;
    int pool_count;
    int sets_left; /* in the newest pool */
    int dispatches;
} kvk_vk_recorder;

kvk_status kvk_vk_recorder_begin(kvk_vk_device *dev, kvk_vk_recorder *rec);
kvk_status kvk_vk_dispatch(kvk_vk_recorder *rec, const char *shader, const int *spec,
                           int spec_count, const kvk_vk_binding *bindings, int binding_count,
                           const void *push, size_t push_size, uint32_t groups_x, uint32_t groups_y,
                           uint32_t groups_z);
/* Makes earlier writes (shader or transfer) visible to later reads (shader or transfer). */
void kvk_vk_barrier(kvk_vk_recorder *rec);
kvk_status kvk_vk_recorder_end(kvk_vk_recorder *rec);
/* Frees the descriptor pools and the command buffer. */
void kvk_vk_recorder_free(kvk_vk_recorder *rec);

/* The embedded SPIR-V (generated at build time). */
const unsigned char *kvk_shader_lookup(const char *name, size_t *size);

#endif
