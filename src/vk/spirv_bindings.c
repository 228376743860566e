/* Which descriptor bindings a module writes, and which it reads as uniform texel buffers (see
 * spirv.h). GLSL's `readonly buffer` becomes a NonWritable decoration on every member of the
 * block (glslang) or on the variable; a binding several variables share (conv2d's float and
 * vec4 views) is written if any of them is. A `uniform samplerBuffer` is a variable of a
 * sampled image whose image has Dim Buffer: read only. */
#include <stdlib.h>

#include "vk/spirv.h"

/* What the pass knows of an id. */
typedef struct binding_id {
    int32_t binding; /* Binding decoration, or -1 */
    uint8_t non_writable;
    uint32_t members;   /* OpTypeStruct: its member count */
    uint32_t read_only; /* OpTypeStruct: members decorated NonWritable */
    uint32_t pointee;   /* OpTypePointer: the type pointed to */
    uint32_t type;      /* OpVariable: its pointer type */
    uint32_t image;     /* OpTypeSampledImage: its image type */
    uint8_t is_variable;
    uint8_t is_sampled_image;
    uint8_t buffer_dim; /* OpTypeImage with Dim Buffer */
} binding_id;

/* Both masks of `code`; -1 for a module it cannot read. */
static int scan(const uint32_t *code, size_t words, uint32_t *written, uint32_t *texel) {
    if (words < 5 || code[0] != KVK_SPV_MAGIC || code[3] == 0 || code[3] > (1u << 22)) return -1;
    uint32_t bound = code[3];
    binding_id *ids = calloc(bound, sizeof *ids);
    if (!ids) return -1;
    for (uint32_t i = 0; i < bound; i++) ids[i].binding = -1;
    for (size_t at = 5; at < words;) {
        const uint32_t *ins = code + at;
        uint32_t n = ins[0] >> 16, op = ins[0] & 0xffff;
        if (n == 0 || at + n > words) goto unreadable;
        at += n;
        if (op == KVK_SPV_OP_DECORATE && n >= 3 && ins[1] < bound) {
            if (ins[2] == KVK_SPV_DECORATION_BINDING && n == 4)
                ids[ins[1]].binding = (int32_t)ins[3];
            if (ins[2] == KVK_SPV_DECORATION_NON_WRITABLE) ids[ins[1]].non_writable = 1;
        } else if (op == KVK_SPV_OP_MEMBER_DECORATE && n >= 4 && ins[1] < bound &&
                   ins[3] == KVK_SPV_DECORATION_NON_WRITABLE) {
            ids[ins[1]].read_only++;
        } else if (op == KVK_SPV_OP_TYPE_STRUCT && n >= 2 && ins[1] < bound) {
            ids[ins[1]].members = n - 2;
        } else if (op == KVK_SPV_OP_TYPE_IMAGE && n >= 9 && ins[1] < bound) {
            ids[ins[1]].buffer_dim = ins[3] == KVK_SPV_DIM_BUFFER;
        } else if (op == KVK_SPV_OP_TYPE_SAMPLED_IMAGE && n == 3 && ins[1] < bound) {
            ids[ins[1]].is_sampled_image = 1;
            ids[ins[1]].image = ins[2];
        } else if (op == KVK_SPV_OP_TYPE_POINTER && n == 4 && ins[1] < bound) {
            ids[ins[1]].pointee = ins[3];
        } else if (op == KVK_SPV_OP_VARIABLE && n >= 4 && ins[2] < bound) {
            ids[ins[2]].type = ins[1];
            ids[ins[2]].is_variable = 1;
        }
    }
    *written = *texel = 0;
    for (uint32_t v = 0; v < bound; v++) {
        const binding_id *var = &ids[v];
        if (!var->is_variable || var->binding < 0) continue;
        if (var->binding >= 32 || var->type >= bound || ids[var->type].pointee >= bound)
            goto unreadable;
        const binding_id *type = &ids[ids[var->type].pointee];
        if (type->is_sampled_image) {
            if (type->image >= bound || !ids[type->image].buffer_dim) goto unreadable;
            *texel |= 1u << var->binding;
            continue;
        }
        int read_only = var->non_writable || (type->members && type->read_only >= type->members);
        if (!read_only) *written |= 1u << var->binding;
    }
    free(ids);
    return 0;
unreadable:
    free(ids);
    return -1;
}

void kvk_spirv_binding_masks(const uint32_t *code, size_t words, uint32_t *written,
                             uint32_t *texel) {
    if (scan(code, words, written, texel) != 0) *written = UINT32_MAX, *texel = 0;
}

uint32_t kvk_spirv_written_bindings(const uint32_t *code, size_t words) {
    uint32_t written, texel;
    kvk_spirv_binding_masks(code, words, &written, &texel);
    return written;
}

uint32_t kvk_spirv_texel_bindings(const uint32_t *code, size_t words) {
    uint32_t written, texel;
    kvk_spirv_binding_masks(code, words, &written, &texel);
    return texel;
}
