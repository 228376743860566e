/* Which descriptor bindings a module writes (see spirv.h). GLSL's `readonly buffer` becomes a
 * NonWritable decoration on every member of the block (glslang) or on the variable; a binding
 * several variables share (conv2d's float and vec4 views) is written if any of them is. */
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
    uint8_t is_variable;
} binding_id;

uint32_t kvk_spirv_written_bindings(const uint32_t *code, size_t words) {
    const uint32_t every = UINT32_MAX;
    if (words < 5 || code[0] != KVK_SPV_MAGIC || code[3] == 0 || code[3] > (1u << 22)) return every;
    uint32_t bound = code[3];
    binding_id *ids = calloc(bound, sizeof *ids);
    if (!ids) return every;
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
        } else if (op == KVK_SPV_OP_TYPE_POINTER && n == 4 && ins[1] < bound) {
            ids[ins[1]].pointee = ins[3];
        } else if (op == KVK_SPV_OP_VARIABLE && n >= 4 && ins[2] < bound) {
            ids[ins[2]].type = ins[1];
            ids[ins[2]].is_variable = 1;
        }
    }
    uint32_t written = 0;
    for (uint32_t v = 0; v < bound; v++) {
        const binding_id *var = &ids[v];
        if (!var->is_variable || var->binding < 0) continue;
        if (var->binding >= 32 || var->type >= bound || ids[var->type].pointee >= bound)
            goto unreadable;
        const binding_id *block = &ids[ids[var->type].pointee];
        int read_only = var->non_writable || (block->members && block->read_only >= block->members);
        if (!read_only) written |= 1u << var->binding;
    }
    free(ids);
    return written;
unreadable:
    free(ids);
    return every;
}
