/* IEEE 754 binary16 ("half", Keras' float16) conversions, for weights stored in fp16. */
#ifndef KVK_CORE_HALF_H
#define KVK_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>

/* Round to nearest, ties to even, as numpy's astype(float16) and the GPU's conversions: values
 * past the largest half (65504) become infinities, NaN stays NaN (quiet), tiny values become
 * subnormals or signed zeros. */
uint16_t kvk_half_from_float(float f);
float kvk_half_to_float(uint16_t h);
void kvk_halves_from_floats(const float *src, uint16_t *dst, size_t n);

#endif
