/* kvk's thin Vulkan layer: one device, buffers, pipelines and a recorder of dispatches that
 * every op uses the same way. Nothing here knows about layers or models. */
#ifndef KVK_VK_H
#define KVK_VK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <volk.h>

#include "kvk/status.h"
#include "vk/caps.h"
#include "vk/dispatch.h"

#define KVK_VK_MAX_BINDINGS 4
#define KVK_VK_MAX_SPEC 4

typedef struct kvk_vk_pipeline {
    char shader[32];
    int spec[KVK_VK_MAX_SPEC];
    int bindings;
    uint32_t written; /* the bindings the shader writes (kvk_spirv_written_bindings) */
    uint32_t texel;   /* those it reads as uniform texel buffers (kvk_spirv_texel_bindings) */
    VkPipeline pipeline;
} kvk_vk_pipeline;

/* One context's instance and device. Each context has its own VkInstance and VkDevice, so two
 * contexts share nothing in Vulkan. Within one device, what Vulkan wants externally
 * synchronised is guarded here: the queue (submission, wait-idle) and the pipeline table
 * (lookup and creation); command pools and descriptor pools belong to one model each. So
 * models of one context can be created, run and destroyed on different threads at once. */
typedef struct kvk_vk_device {
    kvk_vk_instance_table vki;  /* instance-level functions: dev->vki.vkCreateDevice(...) */
    struct VolkDeviceTable vkd; /* device-level functions: dev->vkd.vkCreateBuffer(...) */
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    int validation;
    int validation_messages;
    VkPhysicalDevice physical;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memory;
    kvk_vk_caps caps; /* read once at creation; kernel choice uses nothing else */
    int chosen_as;    /* caps.type set by kvk_vk_device_choose_as, not the device's own */
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    pthread_mutex_t queue_lock;     /* vkQueueSubmit and vkDeviceWaitIdle */
    VkPipelineCache pipeline_cache; /* internally synchronised (Vulkan) */
    char cache_path[1024];
    /* by binding count and which of them are uniform texel buffers (a bit per binding) */
    VkDescriptorSetLayout set_layouts[KVK_VK_MAX_BINDINGS + 1][1u << KVK_VK_MAX_BINDINGS];
    VkPipelineLayout pipeline_layouts[KVK_VK_MAX_BINDINGS + 1][1u << KVK_VK_MAX_BINDINGS];
    pthread_mutex_t pipeline_lock; /* the table below, and making a pipeline */
    kvk_vk_pipeline **pipelines;   /* each allocated once: pointers handed out stay valid */
    int pipeline_count, pipeline_capacity;
    /* Device memory: the largest allocation and buffer the device allows, and what this
     * context's models have reserved of each heap (memory.c), under memory_lock. */
    VkDeviceSize max_allocation, max_buffer;
    VkDeviceSize memory_cap; /* kvk_context_options.max_memory_bytes; 0: the heap sizes */
    pthread_mutex_t memory_lock;
    VkDeviceSize heap_reserved[VK_MAX_MEMORY_HEAPS];
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

/* A range of a buffer bound to one shader binding. `format`: the texel format a shader that
 * reads the binding as a uniform texel buffer sees (a vec4 of the weights' type); unused for
 * a storage buffer, and 0 where no op means the range to be read that way. */
typedef struct kvk_vk_binding {
    VkBuffer buffer;
    VkDeviceSize offset, range;
    VkFormat format;
} kvk_vk_binding;

/* A binding of `range` bytes of `buffer` at `offset`, read as a storage buffer */
static inline kvk_vk_binding kvk_vk_range(VkBuffer buffer, VkDeviceSize offset,
                                          VkDeviceSize range) {
    return (kvk_vk_binding){buffer, offset, range, VK_FORMAT_UNDEFINED};
}

/* Device selection and lifetime (device.c). `selector` as kvk_context_options.device. */
kvk_status kvk_vk_device_create(const char *selector, int validation, int verbose,
                                kvk_vk_device **out);
void kvk_vk_device_destroy(kvk_vk_device *dev);
/* Makes kernel choices, weight upload and workgroup widths those of another device type
 * ("discrete", "integrated" or "cpu", as kvk_vk_describe names them): a CPU driver run as a
 * discrete GPU would be, so that a GPU's choices are proven on the CPU drivers. The device's
 * real capabilities (subgroups, shared memory, features) stay as they are. */
kvk_status kvk_vk_device_choose_as(kvk_vk_device *dev, const char *type);
/* One entry per device; `verbose` adds the capabilities record (kvk_vk_caps_print). */
kvk_status kvk_vk_list_devices(FILE *out, int verbose);
/* "name [type, Vulkan x.y, driver]" */
void kvk_vk_describe(const kvk_vk_device *dev, char *buf, size_t size);

/* Buffers (buffer.c). device_local: KVK_VK_DEVICE_MEMORY prefers fast device memory;
 * KVK_VK_HOST_MEMORY is host-visible, coherent and mapped; KVK_VK_DEVICE_MAPPED is device-local
 * *and* host-visible, coherent, mapped (where the device shares the host's memory, weights are
 * written there directly). `what` names the buffer in errors ("the activation pool"). */
enum { KVK_VK_HOST_MEMORY = 0, KVK_VK_DEVICE_MEMORY = 1, KVK_VK_DEVICE_MAPPED = 2 };
kvk_status kvk_vk_buffer_create(kvk_vk_device *dev, VkDeviceSize size, int device_local,
                                const char *what, kvk_vk_buffer *out);
/* The memory type a buffer allowed `allowed` types gets, or -1 (always -1 for
 * KVK_VK_DEVICE_MAPPED where no device-local type is host-visible). */
int kvk_vk_memory_type(const kvk_vk_device *dev, uint32_t allowed, int device_local);

/* Device memory planning (memory.c): a model lists its buffers before allocating any; the
 * list is checked against the device's allocation limits and the free part of each heap (its
 * size, or the context's cap, less what the context's other models reserved) and reserved at
 * once, so that a model too large fails before anything is made, with a message naming the
 * buffer, the bytes asked and what the device has. */
#define KVK_VK_MAX_PLANNED 64
typedef struct kvk_vk_planned_buffer {
    char what[64];
    VkDeviceSize bytes;   /* in all */
    VkDeviceSize largest; /* of one buffer */
    int count;            /* buffers of this kind */
    int device_local;
    int heap; /* filled by kvk_vk_memory_reserve */
} kvk_vk_planned_buffer;
typedef struct kvk_vk_memory_plan {
    int count;
    kvk_vk_planned_buffer buffers[KVK_VK_MAX_PLANNED];
    int reserved; /* 1 once kvk_vk_memory_reserve succeeded, until released */
} kvk_vk_memory_plan;
/* Adds a buffer; buffers of one `what` (weight blocks) share an entry. */
void kvk_vk_memory_plan_add(kvk_vk_memory_plan *plan, const char *what, VkDeviceSize bytes,
                            int device_local);
/* Checks the plan and reserves its bytes; `owner` starts the messages ("the model").
 * *too_large_alone (may be NULL) says whether the plan failed by itself (a buffer over a
 * limit, more than a whole heap) rather than for what the context's other models hold. */
kvk_status kvk_vk_memory_reserve(kvk_vk_device *dev, kvk_vk_memory_plan *plan, const char *owner,
                                 int *too_large_alone);
/* Gives back what the plan reserved: every entry, or the one named `what`. */
void kvk_vk_memory_release(kvk_vk_device *dev, kvk_vk_memory_plan *plan);
void kvk_vk_memory_release_one(kvk_vk_device *dev, kvk_vk_memory_plan *plan, const char *what);
void kvk_vk_buffer_destroy(kvk_vk_device *dev, kvk_vk_buffer *buf);
/* Device memory in use (memory_usage.c): what kvk holds, and the driver's own figures where it has
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
/* Submits a command buffer to the device's queue (under its lock) and waits for it. */
kvk_status kvk_vk_submit_wait(kvk_vk_device *dev, VkCommandBuffer cmd);
/* vkDeviceWaitIdle under the queue lock. */
void kvk_vk_wait_idle(kvk_vk_device *dev);

/* A primary command buffer with a command pool of its own: a pool must not be used by two
 * threads at once, and recording takes it for the whole recording (commands.c). */
typedef struct kvk_vk_commands {
    VkCommandPool pool;
    VkCommandBuffer cmd;
} kvk_vk_commands;
kvk_status kvk_vk_commands_create(kvk_vk_device *dev, kvk_vk_commands *out);
void kvk_vk_commands_destroy(kvk_vk_device *dev, kvk_vk_commands *c);
kvk_status kvk_vk_check(VkResult r, const char *what);

/* Pipelines (pipeline.c): one compute pipeline per shader and specialisation values, made on
 * first use, with `bindings` storage buffers and 128 bytes of push constants. */
kvk_status kvk_vk_pipeline_get(kvk_vk_device *dev, const char *shader, const int *spec,
                               int spec_count, int bindings, const kvk_vk_pipeline **out);
/* What one dispatch needs (the key of kvk_vk_pipeline_get). */
typedef struct kvk_vk_pipeline_key {
    char shader[32];
    int spec[KVK_VK_MAX_SPEC];
    int spec_count, bindings;
} kvk_vk_pipeline_key;
/* Makes the pipelines of `keys` that the device does not have yet, on up to one thread per CPU
 * (vkCreateComputePipelines compiles; drivers allow it on several threads at once), so that
 * recording then finds them all. */
kvk_status kvk_vk_pipelines_prepare(kvk_vk_device *dev, const kvk_vk_pipeline_key *keys, int count);
/* The pipeline cache file (pipeline_cache.c): created from the file when it is valid, saved
 * atomically. */
kvk_status kvk_vk_pipeline_cache_create(kvk_vk_device *dev);
void kvk_vk_pipeline_cache_save(kvk_vk_device *dev);

/* A buffer range a recorded dispatch read or wrote since the last barrier. */
typedef struct kvk_vk_access {
    VkBuffer buffer;
    VkDeviceSize begin, end;
    int written;
} kvk_vk_access;
#define KVK_VK_MAX_PENDING 64
/* Whether a dispatch with these bindings (bit i of `written`: it writes binding i) must wait
 * behind the accesses since the last barrier: it reads bytes of a buffer one of them wrote, or
 * writes bytes one read or wrote; or the list would overflow (hazards.c). */
int kvk_vk_hazard(const kvk_vk_access *pending, int pending_count, const kvk_vk_binding *bindings,
                  int count, uint32_t written);
/* Appends the dispatch's accesses; returns the new count (at most KVK_VK_MAX_PENDING, which a
 * barrier first, as kvk_vk_hazard asks, keeps from being reached). */
int kvk_vk_accesses_add(kvk_vk_access *pending, int pending_count, const kvk_vk_binding *bindings,
                        int count, uint32_t written);

/* Recording (recorder.c): a command buffer of dispatches, with a barrier before a dispatch
 * only where it reads what an earlier one since the last barrier wrote, or writes what one
 * read or wrote (so InceptionV3's branches, or a block's shortcut and first conv, may run at
 * once on a GPU). */
typedef struct kvk_vk_recorder {
    kvk_vk_device *dev;
    kvk_vk_commands commands;
    VkCommandBuffer cmd; /* commands.cmd */
    VkDescriptorPool *pools;
    int pool_count;
    int sets_left;       /* in the newest pool */
    VkBufferView *views; /* of the texel-buffer bindings, which the descriptor sets refer to */
    int view_count, view_capacity;
    int dispatches, barriers;
    kvk_vk_access pending[KVK_VK_MAX_PENDING]; /* since the last barrier */
    int pending_count;
    int serial; /* a barrier after every dispatch: per-step timestamps time one step each */
    /* A collecting recorder (kvk_vk_recorder_collect) records nothing: its dispatches only
     * list the pipelines they need, distinct, for kvk_vk_pipelines_prepare. */
    int collecting;
    kvk_vk_pipeline_key *wanted;
    int wanted_count, wanted_capacity;
} kvk_vk_recorder;

kvk_status kvk_vk_recorder_begin(kvk_vk_device *dev, kvk_vk_recorder *rec);
void kvk_vk_recorder_collect(kvk_vk_device *dev, kvk_vk_recorder *rec);
kvk_status kvk_vk_dispatch(kvk_vk_recorder *rec, const char *shader, const int *spec,
                           int spec_count, const kvk_vk_binding *bindings, int binding_count,
                           const void *push, size_t push_size, uint32_t groups_x, uint32_t groups_y,
                           uint32_t groups_z);
/* Makes earlier writes (shader or transfer) visible to later reads (shader or transfer), and
 * orders everything after it; needed before a transfer reads or writes what dispatches
 * touched (dispatches order themselves). */
void kvk_vk_barrier(kvk_vk_recorder *rec);
kvk_status kvk_vk_recorder_end(kvk_vk_recorder *rec);
/* Frees the descriptor pools, the texel-buffer views and the command buffer with its pool. */
void kvk_vk_recorder_free(kvk_vk_recorder *rec);

/* The embedded SPIR-V (generated at build time). */
const unsigned char *kvk_shader_lookup(const char *name, size_t *size);
/* The name of embedded shader `index` (0, 1, ...), NULL past the last. */
const char *kvk_shader_name(size_t index);

#endif
