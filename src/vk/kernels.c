/* The table of kernel variants (see kernels.h). */
#include "vk/kernels.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* subgroupBroadcast across `lanes` lanes of a compute subgroup */
static int subgroups_of(const kvk_vk_caps *c, uint32_t lanes) {
    VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_BALLOT_BIT;
    return c->subgroup_size >= lanes && (c->subgroup_ops & need) == need &&
           c->max_invocations >= c->subgroup_size;
}
static int subgroups_of_8(const kvk_vk_caps *c) {
    return subgroups_of(c, 8);
}
static int subgroups_of_4(const kvk_vk_caps *c) {
    return subgroups_of(c, 4);
}

static int subgroups_of_8_int64(const kvk_vk_caps *c) {
    return subgroups_of(c, 8) && c->int64;
}

/* conv2d_rb8_tex: rb8_i64's needs, and any weights binding the device allows readable as a
 * uniform texel buffer of fp32 or fp16 vec4s (offsets are aligned for it: context.c) */
#define TEXEL_NEEDS                                                                                \
    "subgroups of 8+ lanes, shaderInt64, vec4 uniform texel buffers as large as its storage "      \
    "buffers"
static int subgroups_of_8_texel(const kvk_vk_caps *c) {
    return subgroups_of_8_int64(c) && c->texel_f32 && c->texel_f16 &&
           (uint64_t)c->texel_elements * 8 >= c->max_binding_bytes;
}

/* conv2d_tiled: 16x16 invocations and 8 KiB of shared memory */
static int tiled_workgroups(const kvk_vk_caps *c) {
    return c->max_invocations >= 256 && c->shared_memory_bytes >= 8192;
}

/* conv2d_coopmat_emulated_f16: conv2d_tiled's workgroups with 24 KiB of shared memory (its
 * staged tiles and the block's sums) */
static int coopmat_workgroups(const kvk_vk_caps *c) {
    return tiled_workgroups(c) && c->shared_memory_bytes >= 24576;
}

/* conv2d_coopmat_f16: VK_NV_cooperative_matrix's 16x16x16 fp16 x fp16 + fp32 shape in
 * subgroups of 32 lanes (8 to a workgroup), fp16 arithmetic and the Vulkan memory model (glslang
 * declares it for GL_NV_cooperative_matrix) */
#define COOPMAT_NEEDS                                                                              \
    "VK_NV_cooperative_matrix with 16x16x16 f16 x f16 + f32 in subgroups of 32 lanes, "            \
    "shaderFloat16, the Vulkan memory model, 256-invocation workgroups with 20 KiB of shared "     \
    "memory"
static int coopmat_nv_f16(const kvk_vk_caps *c) {
    kvk_vk_coopmat_shape f16_f32 = {16, 16, 16, 0, 0, 1, 1, 3, 1}; /* f16 f16 f32 -> f32 */
    return c->cooperative_matrix_nv && kvk_vk_caps_has_coopmat(c, f16_f32) && c->float16 &&
           c->memory_model && c->subgroup_size == 32 && tiled_workgroups(c) &&
           c->shared_memory_bytes >= 20480;
}

#define F32 KVK_DTYPE_BIT(KVK_DTYPE_F32)
#define F16 KVK_DTYPE_BIT(KVK_DTYPE_F16)
/* One variant (the form's letters: KVK_VK_FORM_...); TEXELS: its weights read as texels */
#define KERNEL_TEXELS(name, family, usable, needs, weights, form, lanes, tile, groups, texels)     \
    { name, family, usable, needs, weights, KVK_VK_FORM_##form, lanes, tile, groups, texels }
#define KERNEL(name, family, usable, needs, weights, form, lanes, tile, groups)                    \
    KERNEL_TEXELS(name, family, usable, needs, weights, form, lanes, tile, groups, 0)
/* A variant and its fp16 twin (name_f16: the same source with WF16=1, weights stored as
 * float16, arithmetic in float32); CMakeLists.txt lists both shaders. */
#define TWINS_TEXELS(name, usable, needs, form, lanes, tile, groups, texels)                       \
    KERNEL_TEXELS(name, "conv2d", usable, needs, F32, form, lanes, tile, groups, texels),          \
        KERNEL_TEXELS(name "_f16", "conv2d", usable, needs, F16, form, lanes, tile, groups,        \
                      texels)
#define TWINS(name, usable, needs, form, lanes, tile, groups)                                      \
    TWINS_TEXELS(name, usable, needs, form, lanes, tile, groups, 0)

static const kvk_vk_kernel KERNELS[] = {
    TWINS("conv2d_tiled", tiled_workgroups, "256-invocation workgroups, 8 KiB shared memory", TILED,
          1, 0, 0),
    /* conv2d_tiled's block through cooperative matrices (MMA=1), and the same data flow with
     * plain arithmetic (MMA=2) to prove it where they are missing; fp16 weights only */
    KERNEL("conv2d_coopmat_f16", "conv2d", coopmat_nv_f16, COOPMAT_NEEDS, F16, TILED, 1, 0, 0),
    KERNEL("conv2d_coopmat_emulated_f16", "conv2d", coopmat_workgroups,
           "256-invocation workgroups, 24 KiB shared memory", F16, TILED, 1, 0, 0),
    /* lavapipe's: rb8_i64 with the weights fetched as texels (weights.glsl: TEXW); tex4 and
     * tex3 with 16 pixels x 4 or 3 channel vec4s per invocation (defines) */
    TWINS_TEXELS("conv2d_rb8_tex4", subgroups_of_8_texel, TEXEL_NEEDS, BLOCKED, 8, 16, 4, 1),
    TWINS_TEXELS("conv2d_rb8_tex3", subgroups_of_8_texel, TEXEL_NEEDS, BLOCKED, 8, 16, 3, 1),
    TWINS_TEXELS("conv2d_rb8_tex", subgroups_of_8_texel, TEXEL_NEEDS, BLOCKED, 8, 0, 0, 1),
    TWINS("conv2d_rb8_i64", subgroups_of_8_int64, "subgroups of 8+ lanes, shaderInt64", BLOCKED, 8,
          0, 0),
    TWINS("conv2d_rb8", subgroups_of_8, "subgroups of 8+ lanes with broadcast", BLOCKED, 8, 0, 0),
    /* SwiftShader's: 16 pixels x 2 channel vec4s as defines (FIXED_RP, FIXED_NG), which its
     * compiler turns into straight code where specialization constants left it slow */
    TWINS("conv2d_rb4", subgroups_of_4, "subgroups of 4+ lanes with broadcast", BLOCKED, 4, 16, 2),
    TWINS("conv2d_rb1", NULL, NULL, BLOCKED, 1, 0, 0),
    /* 3x3 stride 1: winograd_input, conv2d (16 products), winograd_output (_f16 with fp16
     * weights, for the bias); _x4: the transforms on channel vec4s where aligned (groups 4) */
    KERNEL("conv2d_winograd", "conv2d", NULL, NULL, 0, WINOGRAD, 0, 2, 1),
    KERNEL("conv2d_winograd_x4", "conv2d", NULL, NULL, 0, WINOGRAD, 0, 2, 4),
    /* F(4,3): winograd_input43, conv2d (36 products), winograd_output43 */
    KERNEL("conv2d_winograd43", "conv2d", NULL, NULL, 0, WINOGRAD, 0, 4, 1),
    KERNEL("conv2d_winograd43_x4", "conv2d", NULL, NULL, 0, WINOGRAD, 0, 4, 4),
    /* the same with the 3x3 kernels transformed on the device on every run (winograd_kernel,
     * winograd_kernel43) into scratch instead of kept transformed: 16/9 and 4x less weight
     * memory for a pass over the kernels per run; fp32 weights only */
    KERNEL("conv2d_winograd_lean", "conv2d", NULL, NULL, F32, WINOGRAD_LEAN, 0, 2, 4),
    KERNEL("conv2d_winograd43_lean", "conv2d", NULL, NULL, F32, WINOGRAD_LEAN, 0, 4, 4),
    /* few input channels: im2col, then conv2d (a 1x1 product of aligned rows) */
    KERNEL("conv2d_im2col", "conv2d", NULL, NULL, 0, IM2COL, 0, 0, 0),
    /* Dense of 1 to 8 images: inputs shared by broadcast, weights as texels (rb8_tex) or
     * 64-bit words (rb8) */
    TWINS_TEXELS("dense_gemv_rb8_tex", subgroups_of_8_texel, TEXEL_NEEDS, GEMV, 8, 0, 0, 1),
    TWINS("dense_gemv_rb8", subgroups_of_8_int64, "subgroups of 8+ lanes, shaderInt64", GEMV, 8, 0,
          0),
    TWINS("dense_gemv_rb4", subgroups_of_4, "subgroups of 4+ lanes with broadcast", GEMV, 4, 0, 0),
    KERNEL("depthwise_conv2d", "depthwise_conv2d", NULL, NULL, F32, PLAIN, 0, 0, 0),
    /* tile: the shader's PX */
    KERNEL("depthwise_conv2d_x4", "depthwise_conv2d", NULL, NULL, F32, VEC4, 0, 8, 0),
    /* 3x3 stride 1: a row's neighbouring outputs share their input loads */
    KERNEL("depthwise_conv2d_x4_k3s1", "depthwise_conv2d", NULL, NULL, F32, VEC4, 0, 8, 0),
    KERNEL("pool2d", "pool2d", NULL, NULL, 0, PLAIN, 0, 0, 0),
    /* stride 1 across on channel vec4s: tile outputs of a row share their input loads */
    KERNEL("pool2d_row", "pool2d", NULL, NULL, 0, VEC4, 0, 8, 0),
};
enum { KERNEL_COUNT = sizeof KERNELS / sizeof KERNELS[0] };

int kvk_vk_kernel_count(void) {
    return KERNEL_COUNT;
}

const kvk_vk_kernel *kvk_vk_kernel_at(int index) {
    return index >= 0 && index < KERNEL_COUNT ? &KERNELS[index] : NULL;
}

const kvk_vk_kernel *kvk_vk_kernel_find(const char *name) {
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (!strcmp(KERNELS[i].name, name)) return &KERNELS[i];
    return NULL;
}

static int usable(const kvk_vk_caps *caps, const kvk_vk_kernel *k) {
    return !k->usable || k->usable(caps);
}

static void list_names(char *buf, size_t size) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < KERNEL_COUNT && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? ", " : "", KERNELS[i].name);
}

kvk_status kvk_vk_kernel_override_parse(const char *list, const kvk_vk_caps *caps,
                                        kvk_vk_kernel_override *out) {
    memset(out, 0, sizeof *out);
    if (!list) return KVK_OK;
    char names[1024];
    list_names(names, sizeof names);
    const char *at = list;
    while (*at) {
        size_t len = strcspn(at, ", ");
        if (len > 0) {
            char name[64];
            if (len >= sizeof name) len = sizeof name - 1;
            memcpy(name, at, len);
            name[len] = '\0';
            const kvk_vk_kernel *k = kvk_vk_kernel_find(name);
            if (!k)
                return kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                                "kernel override names '%s', which is not a kernel variant "
                                "(variants: %s)",
                                name, names);
            if (!usable(caps, k))
                return kvk_fail(KVK_ERROR_UNSUPPORTED,
                                "kernel override names '%s', which needs %s: this device has "
                                "subgroups of %u lanes, %u invocations per workgroup, %u bytes "
                                "of shared memory",
                                name, k->needs, caps->subgroup_size, caps->max_invocations,
                                caps->shared_memory_bytes);
            if (out->count == KVK_VK_MAX_FORCED)
                return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "kernel override: at most %d variants",
                                KVK_VK_MAX_FORCED);
            out->forced[out->count++] = k;
        }
        at += len;
        at += strspn(at, ", ");
    }
    return KVK_OK;
}

const kvk_vk_kernel *kvk_vk_choose(const kvk_vk_caps *caps, const kvk_vk_kernel_override *o,
                                   kvk_dtype weights, const char *const *candidates, int count) {
    const kvk_vk_kernel *first = NULL;
    for (int i = 0; i < count; i++) {
        const kvk_vk_kernel *k = kvk_vk_kernel_find(candidates[i]);
        if (!k || !usable(caps, k) || (k->weights && !(k->weights & KVK_DTYPE_BIT(weights))))
            continue;
        if (!first) first = k;
        for (int f = 0; o && f < o->count; f++)
            if (o->forced[f] == k) return k;
    }
    return first;
}
