/* Checked size arithmetic for sizes that come from files: every product or sum of declared
 * dimensions, element counts and byte counts goes through these, so that a file declaring
 * huge shapes gives an error rather than a wrapped size (and a small allocation written past)
 * or undefined behaviour on signed overflow. Each returns 1 and stores the result when it
 * fits, 0 (leaving *out alone) when it does not. */
#ifndef KVK_CORE_CHECKED_H
#define KVK_CORE_CHECKED_H

#include <stddef.h>
#include <stdint.h>

static inline int kvk_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

static inline int kvk_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (b > UINT64_MAX - a) return 0;
    *out = a + b;
    return 1;
}

static inline int kvk_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

static inline int kvk_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* Non-negative int64 values only (sizes and counts): a negative operand fails too. */
static inline int kvk_mul_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0 || (a != 0 && b > INT64_MAX / a)) return 0;
    *out = a * b;
    return 1;
}

static inline int kvk_add_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0 || b > INT64_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* The product of n non-negative dims into *out; 0 when a dim is negative or it overflows. */
static inline int kvk_product_i64(const int64_t *dims, int n, int64_t *out) {
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        if (!kvk_mul_i64(p, dims[i], &p)) return 0;
    *out = p;
    return 1;
}

#endif
