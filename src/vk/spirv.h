/* What kvk reads from its SPIR-V modules (spirv_freeze.c, spirv_bindings.c).
 *
 * Specialization constants are frozen into plain constants before a module reaches the
 * driver. Why: SwiftShader sets a specialization's values but optimizes the module with them
 * still specialization constants, so a branch on one (a fused activation's switch, a shader's
 * FLAGS) is not folded and every arm of it runs, masked: its depthwise layers ran 2.5x slower
 * with the activation as a specialization constant than as a constant. A frozen module lets
 * any driver fold them.
 *
 * The bindings a module writes tell the recorder which dispatches depend on which; those it
 * reads as texel buffers, which descriptors its pipeline layout has. */
#ifndef KVK_VK_SPIRV_H
#define KVK_VK_SPIRV_H

#include <stddef.h>
#include <stdint.h>

/* The opcodes and decorations the passes read (the SPIR-V specification's numbers; their
 * test reads modules with them too). */
enum {
    KVK_SPV_MAGIC = 0x07230203,
    KVK_SPV_OP_DECORATE = 71,
    KVK_SPV_OP_MEMBER_DECORATE = 72,
    KVK_SPV_DECORATION_SPEC_ID = 1,
    KVK_SPV_DECORATION_NON_WRITABLE = 24,
    KVK_SPV_DECORATION_BINDING = 33,
    KVK_SPV_OP_TYPE_IMAGE = 25,
    KVK_SPV_OP_TYPE_SAMPLED_IMAGE = 27,
    KVK_SPV_DIM_BUFFER = 5,
    KVK_SPV_OP_TYPE_STRUCT = 30,
    KVK_SPV_OP_TYPE_POINTER = 32,
    KVK_SPV_OP_VARIABLE = 59,
    KVK_SPV_OP_TYPE_BOOL = 20,
    KVK_SPV_OP_TYPE_INT = 21,
    KVK_SPV_OP_TYPE_FLOAT = 22,
    KVK_SPV_OP_CONSTANT_TRUE = 41,
    KVK_SPV_OP_CONSTANT_FALSE = 42,
    KVK_SPV_OP_CONSTANT = 43,
    KVK_SPV_OP_CONSTANT_COMPOSITE = 44,
    KVK_SPV_OP_SPEC_CONSTANT_TRUE = 48,
    KVK_SPV_OP_SPEC_CONSTANT_FALSE = 49,
    KVK_SPV_OP_SPEC_CONSTANT = 50,
    KVK_SPV_OP_SPEC_CONSTANT_COMPOSITE = 51,
    KVK_SPV_OP_SPEC_CONSTANT_OP = 52,
    KVK_SPV_OP_COMPOSITE_EXTRACT = 81,
    KVK_SPV_OP_SNEGATE = 126,
    KVK_SPV_OP_IADD = 128,
    KVK_SPV_OP_ISUB = 130,
    KVK_SPV_OP_IMUL = 132,
    KVK_SPV_OP_UDIV = 134,
    KVK_SPV_OP_SDIV = 135,
    KVK_SPV_OP_UMOD = 137,
    KVK_SPV_OP_SREM = 138,
    KVK_SPV_OP_LOGICAL_EQUAL = 164,
    KVK_SPV_OP_LOGICAL_NOT_EQUAL = 165,
    KVK_SPV_OP_LOGICAL_OR = 166,
    KVK_SPV_OP_LOGICAL_AND = 167,
    KVK_SPV_OP_LOGICAL_NOT = 168,
    KVK_SPV_OP_SELECT = 169,
    KVK_SPV_OP_IEQUAL = 170,
    KVK_SPV_OP_INOT_EQUAL = 171,
    KVK_SPV_OP_UGREATER_THAN = 172,
    KVK_SPV_OP_SGREATER_THAN = 173,
    KVK_SPV_OP_UGREATER_THAN_EQUAL = 174,
    KVK_SPV_OP_SGREATER_THAN_EQUAL = 175,
    KVK_SPV_OP_ULESS_THAN = 176,
    KVK_SPV_OP_SLESS_THAN = 177,
    KVK_SPV_OP_ULESS_THAN_EQUAL = 178,
    KVK_SPV_OP_SLESS_THAN_EQUAL = 179,
    KVK_SPV_OP_SHIFT_RIGHT_LOGICAL = 194,
    KVK_SPV_OP_SHIFT_RIGHT_ARITHMETIC = 195,
    KVK_SPV_OP_SHIFT_LEFT_LOGICAL = 196,
    KVK_SPV_OP_BITWISE_OR = 197,
    KVK_SPV_OP_BITWISE_XOR = 198,
    KVK_SPV_OP_BITWISE_AND = 199,
    KVK_SPV_OP_NOT = 200,
};

/* Writes into *out (malloc'd, *out_words words) `code` (`words` words of SPIR-V) with its
 * specialization constants made constants: SpecId i takes values[i] (32-bit integers and
 * booleans; i >= count keeps its default), and every OpSpecConstantOp (on integers and booleans,
 * or choosing a float) and
 * OpSpecConstantComposite whose operands are then known is evaluated; one it cannot evaluate
 * stays as it is (still valid: its operands are constants). Returns 0, or -1 (nothing
 * allocated) for a module it cannot read or out of memory. */
int kvk_spirv_freeze(const uint32_t *code, size_t words, const int *values, int count,
                     uint32_t **out, size_t *out_words);

/* The descriptor bindings `code` may write: bit b set for binding b unless the shader
 * declared it readonly (every member of its block NonWritable, or the variable itself). A
 * module it cannot read: every bit (a dispatch is then ordered after everything before it,
 * which is always correct). spirv_bindings.c. */
uint32_t kvk_spirv_written_bindings(const uint32_t *code, size_t words);

/* The bindings `code` reads as uniform texel buffers (`uniform samplerBuffer`): bit b for
 * binding b. They take a buffer view, not a buffer range. 0 for a module it cannot read (its
 * pipeline layout then fails to match, and the driver or the validation layers say so). */
uint32_t kvk_spirv_texel_bindings(const uint32_t *code, size_t words);

/* Both of the above from one pass over `code`. */
void kvk_spirv_binding_masks(const uint32_t *code, size_t words, uint32_t *written,
                             uint32_t *texel);

#endif
