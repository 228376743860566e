/* Kernel variants and their choice. A variant is one embedded shader (a line of
 * KVK_SHADER_VARIANTS in CMakeLists.txt) with what the device needs to run it; an op lists the
 * variants that fit a step in its order of preference for the device's capabilities, and
 * kvk_vk_choose takes the first, unless an override forces another: KVK_KERNELS=name,... or
 * kvk_context_options.kernels, so tests run every variant on every device that can. */
#ifndef KVK_VK_KERNELS_H
#define KVK_VK_KERNELS_H

#include "core/plan.h"
#include "kvk/status.h"
#include "vk/caps.h"

/* How a variant lays out its work, which decides the weights' packing and the dispatch; ops
 * read it from the table rather than from the name. */
typedef enum kvk_vk_kernel_form {
    KVK_VK_FORM_PLAIN,    /* one invocation per output element (or its own scheme) */
    KVK_VK_FORM_BLOCKED,  /* conv2d.comp: register-blocked, `lanes` sharing inputs by broadcast */
    KVK_VK_FORM_TILED,    /* conv2d_tiled.comp: shared-memory tiles */
    KVK_VK_FORM_GEMV,     /* dense_gemv.comp: weights in blocks of 4 * `lanes` channels */
    KVK_VK_FORM_WINOGRAD, /* transforms around a batched GEMM, `tile` x `tile` outputs per tile */
    /* WINOGRAD with the weights kept as 3x3 kernels, transformed into scratch on every run */
    KVK_VK_FORM_WINOGRAD_LEAN,
    KVK_VK_FORM_IM2COL, /* receptive fields copied into aligned rows, then a 1x1 GEMM */
    KVK_VK_FORM_VEC4,   /* a channel vec4 and `tile` pixels per invocation */
} kvk_vk_kernel_form;

typedef struct kvk_vk_kernel {
    const char *name;   /* the embedded shader variant, or the name of several shaders' work */
    const char *family; /* variants of one family compute the same thing */
    /* whether the device can run it at all (NULL: every device) */
    int (*usable)(const kvk_vk_caps *caps);
    const char *needs; /* what `usable` asks for, for messages */
    /* KVK_DTYPE_BIT()s of the weight types it reads (0: any; a name for several shaders'
     * work, like Winograd, whose shaders are chosen by the step's type) */
    unsigned weights;
    kvk_vk_kernel_form form;
    int lanes; /* BLOCKED, GEMV: subgroup lanes sharing each broadcast input */
    /* WINOGRAD(_LEAN): output tile side (2, 4); VEC4: pixels per invocation; BLOCKED: pixels per
     * workgroup where the variant's defines fix them (0: a specialization constant) */
    int tile;
    /* BLOCKED with a tile: channel vec4s per invocation, fixed likewise; WINOGRAD(_LEAN): channels
     * per invocation of its transforms (1, or 4 where they are whole vec4s) */
    int groups;
    /* BLOCKED, GEMV: reads its weights as a uniform texel buffer (TEXW), which the binding's
     * format then says how to see */
    int texels;
} kvk_vk_kernel;

/* Forced variants, parsed from a comma-separated list. */
#define KVK_VK_MAX_FORCED 16
typedef struct kvk_vk_kernel_override {
    const kvk_vk_kernel *forced[KVK_VK_MAX_FORCED];
    int count;
} kvk_vk_kernel_override;

/* Every variant, and one by name (NULL if unknown). */
int kvk_vk_kernel_count(void);
const kvk_vk_kernel *kvk_vk_kernel_at(int index);
const kvk_vk_kernel *kvk_vk_kernel_find(const char *name);

/* Parses "name,name,...". Unknown names, or names the device cannot run, are errors that list
 * the variants. */
kvk_status kvk_vk_kernel_override_parse(const char *list, const kvk_vk_caps *caps,
                                        kvk_vk_kernel_override *out);

/* The variant to record: among `candidates` (variant names that fit the step, in the op's
 * order of preference) that read the step's weight type, the first one forced, else the first
 * the device can run. NULL when the device can run none of them. */
const kvk_vk_kernel *kvk_vk_choose(const kvk_vk_caps *caps, const kvk_vk_kernel_override *o,
                                   kvk_dtype weights, const char *const *candidates, int count);

#endif
