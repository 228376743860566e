/* What a Vulkan device can do, read once when kvk creates the device. Kernel choice reads only
 * this record (vk/kernels.c), so every decision that depends on the device is made from data
 * that `kvk devices --verbose` prints and tests can fake. */
#ifndef KVK_VK_CAPS_H
#define KVK_VK_CAPS_H

#include <stdint.h>
#include <stdio.h>

#include <volk.h>

#include "vk/dispatch.h"

#define KVK_VK_MAX_COOPMAT 32
#define KVK_VK_MAX_EXTENSIONS 8

/* One matrix shape VK_KHR_cooperative_matrix or VK_NV_cooperative_matrix offers (component
 * types are VkComponentTypeKHR values, which the NV extension shares: 0 fp16, 1 fp32, 3 int8,
 * ...; scope 3 is a subgroup); nv: offered through the NV extension, whose shaders Debian 12's
 * glslang compiles (GL_NV_cooperative_matrix; it has no GL_KHR_cooperative_matrix). */
typedef struct kvk_vk_coopmat_shape {
    uint32_t m, n, k;
    int a_type, b_type, c_type, result_type, scope, nv;
} kvk_vk_coopmat_shape;

typedef struct kvk_vk_caps {
    uint32_t vendor_id, device_id, api_version;
    VkPhysicalDeviceType type;
    /* subgroups in compute shaders: size 0 and ops 0 when the stage has none */
    uint32_t subgroup_size;
    VkSubgroupFeatureFlags subgroup_ops;
    /* optional features, each enabled on the VkDevice when the device has it */
    int storage_16bit;         /* storageBuffer16BitAccess: fp16 tensors and weights in buffers */
    int float16;               /* shaderFloat16: fp16 arithmetic */
    int storage_8bit;          /* storageBuffer8BitAccess */
    int int8;                  /* shaderInt8 */
    int int64;                 /* shaderInt64: 64-bit loads (dense_gemv_rb8) */
    int memory_model;          /* vulkanMemoryModel: glslang declares it for cooperative matrices */
    int cooperative_matrix;    /* VK_KHR_cooperative_matrix */
    int cooperative_matrix_nv; /* VK_NV_cooperative_matrix (conv2d_coopmat_f16's) */
    int coopmat_count;
    kvk_vk_coopmat_shape coopmat[KVK_VK_MAX_COOPMAT];
    uint32_t shared_memory_bytes;
    uint32_t max_invocations; /* per workgroup */
    uint64_t max_binding_bytes;
    /* uniform texel buffers of vec4s (conv2d_rb8_tex's weights): whether fp32 and fp16
     * vec4 formats may be read so, how many texels a view may have, and its offsets' alignment */
    int texel_f32, texel_f16;
    uint32_t texel_elements;
    uint64_t texel_alignment;
} kvk_vk_caps;

/* The feature structures and extensions to hand to vkCreateDevice for what caps enables.
 * Filled by kvk_vk_caps_query; `features` heads the pNext chain. */
typedef struct kvk_vk_enable {
    VkPhysicalDeviceFeatures2 features;
    VkPhysicalDevice16BitStorageFeatures storage16;
    VkPhysicalDevice8BitStorageFeatures storage8;
    VkPhysicalDeviceShaderFloat16Int8Features float16_int8;
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model;
    struct {
        VkStructureType sType;
        void *pNext;
        VkBool32 cooperativeMatrix, cooperativeMatrixRobustBufferAccess;
    } coopmat; /* VkPhysicalDeviceCooperativeMatrixFeaturesKHR */
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat_nv;
    const char *extensions[KVK_VK_MAX_EXTENSIONS];
    uint32_t extension_count;
} kvk_vk_enable;

/* Reads the device's properties and optional features; `enable` receives what to enable. */
void kvk_vk_caps_query(const kvk_vk_instance_table *vki, VkInstance instance,
                       VkPhysicalDevice physical, kvk_vk_caps *caps, kvk_vk_enable *enable);

/* Whether the device offers the subgroup-scope shape m x n x k of A, B, C and result component
 * types (VkComponentTypeKHR values) through the NV extension (nv) or the KHR one. */
int kvk_vk_caps_has_coopmat(const kvk_vk_caps *caps, kvk_vk_coopmat_shape want);

/* Human-readable lines, as `kvk devices --verbose` prints them, each starting with `indent`. */
void kvk_vk_caps_print(const kvk_vk_caps *caps, const char *indent, FILE *out);

#endif
