/* Specialization constants frozen into plain constants before a module reaches the driver.
 * Why: SwiftShader sets a specialization's values but optimizes the module with them still
 * specialization constants, so a branch on one (a fused activation's switch, a shader's FLAGS)
 * is not folded and every arm of it runs, masked: its depthwise layers ran 2.5x slower with the
 * activation as a specialization constant than as a constant. A frozen module lets any driver
 * fold them. */
#ifndef KVK_VK_SPIRV_FREEZE_H
#define KVK_VK_SPIRV_FREEZE_H

#include <stddef.h>
#include <stdint.h>

/* Writes into *out (malloc'd, *out_words words) `code` (`words` words of SPIR-V) with its
 * specialization constants made constants: SpecId i takes values[i] (32-bit integers and
 * booleans; i >= count keeps its default), and every OpSpecConstantOp (on integers and booleans,
 * or choosing a float) and
 * OpSpecConstantComposite whose operands are then known is evaluated; one it cannot evaluate
 * stays as it is (still valid: its operands are constants). Returns 0, or -1 (nothing
 * allocated) for a module it cannot read or out of memory. */
int kvk_spirv_freeze(const uint32_t *code, size_t words, const int *values, int count,
                     uint32_t **out, size_t *out_words);

#endif
