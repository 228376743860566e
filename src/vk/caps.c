/* Device capabilities, read once (see caps.h). Optional features are asked for only through
 * the paths the device's Vulkan version or extensions allow, so the validation layer stays
 * quiet on every device. */
#include "vk/caps.h"

#include <stdlib.h>
#include <string.h>

/* VK_KHR_cooperative_matrix is newer than Debian 12's Vulkan headers: its enum values from the
 * registry (extension number 507). */
#define KVK_COOPMAT_EXTENSION "VK_KHR_cooperative_matrix"
#define KVK_STYPE_COOPMAT_FEATURES ((VkStructureType)1000506000)
#define KVK_STYPE_COOPMAT_PROPERTIES ((VkStructureType)1000506001)
typedef struct coopmat_properties { /* VkCooperativeMatrixPropertiesKHR */
    VkStructureType sType;
    void *pNext;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    int32_t scope;
} coopmat_properties;
typedef VkResult(VKAPI_PTR *coopmat_query_fn)(VkPhysicalDevice, uint32_t *, coopmat_properties *);
/* VK_NV_cooperative_matrix: in Debian 12's headers */
#define KVK_COOPMAT_NV_EXTENSION VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME

static int has_extension(const VkExtensionProperties *ext, uint32_t count, const char *name) {
    for (uint32_t i = 0; i < count; i++)
        if (!strcmp(ext[i].extensionName, name)) return 1;
    return 0;
}

static void add_extension(kvk_vk_enable *e, const char *name) {
    if (e->extension_count < KVK_VK_MAX_EXTENSIONS) e->extensions[e->extension_count++] = name;
}

static void query_coopmat(VkInstance instance, VkPhysicalDevice physical, kvk_vk_caps *caps) {
    coopmat_query_fn query = (coopmat_query_fn)vkGetInstanceProcAddr(
        instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    uint32_t count = 0;
    if (!query || query(physical, &count, NULL) != VK_SUCCESS || count == 0) return;
    coopmat_properties *p = calloc(count, sizeof *p);
    if (!p) return;
    for (uint32_t i = 0; i < count; i++) p[i].sType = KVK_STYPE_COOPMAT_PROPERTIES;
    if (query(physical, &count, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && caps->coopmat_count < KVK_VK_MAX_COOPMAT; i++)
            caps->coopmat[caps->coopmat_count++] = (kvk_vk_coopmat_shape){
                p[i].MSize, p[i].NSize,      p[i].KSize, p[i].AType, p[i].BType,
                p[i].CType, p[i].ResultType, p[i].scope, 0};
    free(p);
}

static void query_coopmat_nv(VkInstance instance, VkPhysicalDevice physical, kvk_vk_caps *caps) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV query =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    uint32_t count = 0;
    if (!query || query(physical, &count, NULL) != VK_SUCCESS || count == 0) return;
    VkCooperativeMatrixPropertiesNV *p = calloc(count, sizeof *p);
    if (!p) return;
    for (uint32_t i = 0; i < count; i++)
        p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    if (query(physical, &count, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < count && caps->coopmat_count < KVK_VK_MAX_COOPMAT; i++)
            caps->coopmat[caps->coopmat_count++] =
                (kvk_vk_coopmat_shape){p[i].MSize,      p[i].NSize,      p[i].KSize,
                                       (int)p[i].AType, (int)p[i].BType, (int)p[i].CType,
                                       (int)p[i].DType, (int)p[i].scope, 1};
    free(p);
}

int kvk_vk_caps_has_coopmat(const kvk_vk_caps *caps, kvk_vk_coopmat_shape want) {
    for (int i = 0; i < caps->coopmat_count; i++) {
        const kvk_vk_coopmat_shape *s = &caps->coopmat[i];
        if (s->m == want.m && s->n == want.n && s->k == want.k && s->a_type == want.a_type &&
            s->b_type == want.b_type && s->c_type == want.c_type &&
            s->result_type == want.result_type && s->scope == want.scope && s->nv == want.nv)
            return 1;
    }
    return 0;
}

void kvk_vk_caps_query(const kvk_vk_instance_table *vki, VkInstance instance,
                       VkPhysicalDevice physical, kvk_vk_caps *caps, kvk_vk_enable *enable) {
    memset(caps, 0, sizeof *caps);
    memset(enable, 0, sizeof *enable);
    VkPhysicalDeviceProperties props;
    vki->vkGetPhysicalDeviceProperties(physical, &props);
    caps->vendor_id = props.vendorID;
    caps->device_id = props.deviceID;
    caps->api_version = props.apiVersion;
    caps->type = props.deviceType;
    caps->shared_memory_bytes = props.limits.maxComputeSharedMemorySize;
    caps->max_invocations = props.limits.maxComputeWorkGroupInvocations;
    caps->max_binding_bytes = props.limits.maxStorageBufferRange;
    caps->texel_elements = props.limits.maxTexelBufferElements;
    caps->texel_alignment = props.limits.minTexelBufferOffsetAlignment;
    VkFormatProperties fp;
    vki->vkGetPhysicalDeviceFormatProperties(physical, VK_FORMAT_R32G32B32A32_SFLOAT, &fp);
    caps->texel_f32 = (fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;
    vki->vkGetPhysicalDeviceFormatProperties(physical, VK_FORMAT_R16G16B16A16_SFLOAT, &fp);
    caps->texel_f16 = (fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;

    uint32_t ext_count = 0;
    vki->vkEnumerateDeviceExtensionProperties(physical, NULL, &ext_count, NULL);
    VkExtensionProperties *ext = calloc(ext_count ? ext_count : 1, sizeof *ext);
    if (ext)
        vki->vkEnumerateDeviceExtensionProperties(physical, NULL, &ext_count, ext);
    else
        ext_count = 0;
    int v12 = props.apiVersion >= VK_API_VERSION_1_2;
    int v11 = props.apiVersion >= VK_API_VERSION_1_1;
    if (!v11) { /* no features2, no subgroups: the plain kernels only */
        free(ext);
        return;
    }

    VkPhysicalDeviceSubgroupProperties sub = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 props2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &sub};
    vki->vkGetPhysicalDeviceProperties2(physical, &props2);
    if (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
        caps->subgroup_size = sub.subgroupSize;
        caps->subgroup_ops = sub.supportedOperations;
    }

    /* the supported features, through structures this device's version or extensions allow */
    enable->features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    enable->storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
    void **tail = &enable->features.pNext;
    *tail = &enable->storage16;
    tail = &enable->storage16.pNext;
    int with_8bit = v12 || has_extension(ext, ext_count, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    int with_f16 = v12 || has_extension(ext, ext_count, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    int with_memory_model =
        v12 || has_extension(ext, ext_count, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    int with_coopmat = has_extension(ext, ext_count, KVK_COOPMAT_EXTENSION);
    int with_coopmat_nv = has_extension(ext, ext_count, KVK_COOPMAT_NV_EXTENSION);
    if (with_8bit) {
        enable->storage8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
        *tail = &enable->storage8;
        tail = &enable->storage8.pNext;
    }
    if (with_f16) {
        enable->float16_int8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
        *tail = &enable->float16_int8;
        tail = &enable->float16_int8.pNext;
    }
    if (with_memory_model) {
        enable->memory_model.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES;
        *tail = &enable->memory_model;
        tail = &enable->memory_model.pNext;
    }
    if (with_coopmat) {
        enable->coopmat.sType = KVK_STYPE_COOPMAT_FEATURES;
        *tail = &enable->coopmat;
        tail = &enable->coopmat.pNext;
    }
    if (with_coopmat_nv) {
        enable->coopmat_nv.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV;
        *tail = &enable->coopmat_nv;
    }
    vki->vkGetPhysicalDeviceFeatures2(physical, &enable->features);

    /* keep only what kvk uses: the rest of each structure is switched off */
    caps->int64 = enable->features.features.shaderInt64;
    memset(&enable->features.features, 0, sizeof enable->features.features);
    enable->features.features.shaderInt64 = caps->int64 ? VK_TRUE : VK_FALSE;
    caps->storage_16bit = enable->storage16.storageBuffer16BitAccess;
    enable->storage16 = (VkPhysicalDevice16BitStorageFeatures){
        .sType = enable->storage16.sType,
        .pNext = enable->storage16.pNext,
        .storageBuffer16BitAccess = enable->storage16.storageBuffer16BitAccess};
    if (with_8bit) {
        caps->storage_8bit = enable->storage8.storageBuffer8BitAccess;
        enable->storage8 = (VkPhysicalDevice8BitStorageFeatures){
            .sType = enable->storage8.sType,
            .pNext = enable->storage8.pNext,
            .storageBuffer8BitAccess = enable->storage8.storageBuffer8BitAccess};
        if (!v12 && caps->storage_8bit) add_extension(enable, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    }
    if (with_f16) {
        caps->float16 = enable->float16_int8.shaderFloat16;
        caps->int8 = enable->float16_int8.shaderInt8;
        if (!v12 && (caps->float16 || caps->int8))
            add_extension(enable, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    }
    if (with_memory_model) {
        caps->memory_model = enable->memory_model.vulkanMemoryModel;
        enable->memory_model = (VkPhysicalDeviceVulkanMemoryModelFeatures){
            .sType = enable->memory_model.sType,
            .vulkanMemoryModel = enable->memory_model.vulkanMemoryModel};
        if (!v12 && caps->memory_model)
            add_extension(enable, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    }
    if (with_coopmat && enable->coopmat.cooperativeMatrix) {
        caps->cooperative_matrix = 1;
        enable->coopmat.cooperativeMatrixRobustBufferAccess = VK_FALSE;
        add_extension(enable, KVK_COOPMAT_EXTENSION);
        query_coopmat(instance, physical, caps);
    }
    if (with_coopmat_nv && enable->coopmat_nv.cooperativeMatrix) {
        caps->cooperative_matrix_nv = 1;
        enable->coopmat_nv.cooperativeMatrixRobustBufferAccess = VK_FALSE;
        add_extension(enable, KVK_COOPMAT_NV_EXTENSION);
        query_coopmat_nv(instance, physical, caps);
    }
    /* vkCreateDevice sees only the structures of what it enables (each of an extension only
     * with its extension): the chain again, without the rest */
    void **link = &enable->features.pNext;
    *link = &enable->storage16;
    link = &enable->storage16.pNext;
    if (with_8bit && (v12 || caps->storage_8bit))
        *link = &enable->storage8, link = &enable->storage8.pNext;
    if (with_f16 && (v12 || caps->float16 || caps->int8))
        *link = &enable->float16_int8, link = &enable->float16_int8.pNext;
    if (with_memory_model && (v12 || caps->memory_model))
        *link = &enable->memory_model, link = &enable->memory_model.pNext;
    if (caps->cooperative_matrix) *link = &enable->coopmat, link = &enable->coopmat.pNext;
    if (caps->cooperative_matrix_nv) *link = &enable->coopmat_nv, link = &enable->coopmat_nv.pNext;
    *link = NULL;
    free(ext);
}

static const char *component_name(int t) {
    static const char *const names[] = {"f16", "f32", "f64", "s8",  "s16", "s32",
                                        "s64", "u8",  "u16", "u32", "u64"};
    return t >= 0 && t < 11 ? names[t] : "?";
}

void kvk_vk_caps_print(const kvk_vk_caps *c, const char *indent, FILE *out) {
    static const struct {
        VkSubgroupFeatureFlags bit;
        const char *name;
    } ops[] = {{VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
               {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
               {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
               {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
               {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
               {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
               {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
               {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"}};
    fprintf(out, "%ssubgroup size %u, operations in compute:", indent, c->subgroup_size);
    int any = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (c->subgroup_ops & ops[i].bit) fprintf(out, " %s", ops[i].name), any = 1;
    fprintf(out, "%s\n", any ? "" : " none");
    fprintf(out,
            "%s16-bit storage %s, fp16 arithmetic %s, 8-bit storage %s, int8 arithmetic %s, "
            "int64 %s, Vulkan memory model %s (enabled when present)\n",
            indent, c->storage_16bit ? "yes" : "no", c->float16 ? "yes" : "no",
            c->storage_8bit ? "yes" : "no", c->int8 ? "yes" : "no", c->int64 ? "yes" : "no",
            c->memory_model ? "yes" : "no");
    fprintf(out, "%sshared memory %u KiB per workgroup, %u invocations per workgroup\n", indent,
            c->shared_memory_bytes / 1024, c->max_invocations);
    fprintf(out,
            "%suniform texel buffers: vec4 fp32 %s, vec4 fp16 %s, %u texels, offsets aligned to "
            "%llu bytes\n",
            indent, c->texel_f32 ? "yes" : "no", c->texel_f16 ? "yes" : "no", c->texel_elements,
            (unsigned long long)c->texel_alignment);
    if (!c->cooperative_matrix && !c->cooperative_matrix_nv) {
        fprintf(out, "%scooperative matrix: no\n", indent);
        return;
    }
    fprintf(out, "%scooperative matrix (%s%s%s; M x N x K, A B C -> result):", indent,
            c->cooperative_matrix ? "KHR" : "",
            c->cooperative_matrix && c->cooperative_matrix_nv ? ", " : "",
            c->cooperative_matrix_nv ? "NV" : "");
    for (int i = 0; i < c->coopmat_count; i++) {
        const kvk_vk_coopmat_shape *s = &c->coopmat[i];
        fprintf(out, "%s %ux%ux%u %s %s %s->%s%s%s", i ? "," : "", s->m, s->n, s->k,
                component_name(s->a_type), component_name(s->b_type), component_name(s->c_type),
                component_name(s->result_type), s->scope == 3 ? "" : " (not subgroup scope)",
                s->nv ? " (NV)" : "");
    }
    fprintf(out, "\n");
}
