/* Small helpers every kvk test program shares: counting checks, fresh random inputs,
 * poisoned outputs, relative errors, and the device the environment selects. */
#ifndef KVK_TESTUTIL_H
#define KVK_TESTUTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvk.h"

static int tu_passed, tu_failed, tu_skipped;

/* CHECK(cond, fmt, ...): records one check, printing the failing file and line. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            tu_passed++;                                                                           \
        } else {                                                                                   \
            tu_failed++;                                                                           \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* Records one check; prints failures always and passes when KVK_TEST_VERBOSE is set. */
static inline int tu_check(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!ok || getenv("KVK_TEST_VERBOSE")) {
        printf(ok ? "ok:   " : "FAIL: ");
        vprintf(fmt, ap);
        printf("\n");
        fflush(stdout);
    }
    va_end(ap);
    if (ok)
        tu_passed++;
    else
        tu_failed++;
    return ok;
}

static inline void tu_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    tu_skipped++;
}

static inline int tu_finish(void) {
    if (tu_skipped)
        printf("%d passed, %d failed, %d skipped\n", tu_passed, tu_failed, tu_skipped);
    else
        printf("%d passed, %d failed\n", tu_passed, tu_failed);
    return tu_failed ? 1 : 0;
}

/* A fresh seed per run (time and pid), printed so that a failure can be replayed with
 * KVK_TEST_SEED. */
static inline unsigned tu_seed(void) {
    const char *env = getenv("KVK_TEST_SEED");
    unsigned seed =
        env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    if (!seed) seed = 1;
    printf("seed %u (replay with KVK_TEST_SEED=%u)\n", seed, seed);
    srand(seed);
    return seed;
}

static inline float tu_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
}

static inline int tu_randint(int lo, int hi) { /* inclusive */
    return lo + rand() % (hi - lo + 1);
}

static inline float *tu_random_array(long n, float lo, float hi) {
    float *a = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!a) abort();
    for (long i = 0; i < n; i++) a[i] = tu_uniform(lo, hi);
    return a;
}

/* Fills with NaN, so that anything a kernel forgot to write shows up as an error. */
static inline void tu_poison(float *a, long n) {
    for (long i = 0; i < n; i++) a[i] = NAN;
}

/* ||a - b|| / ||b|| over n values, in double; infinite if a holds any NaN or inf. */
static inline double tu_rel_error(const float *a, const float *b, long n) {
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The device under test: KVK_DEVICE (default: the best one VK_ICD_FILENAMES offers), with
 * validation on when KVK_VALIDATION=1 (or sync). Exits the test on failure. */
static inline kvk_context *tu_context(uint64_t max_binding_bytes) {
    kvk_context_options o = {.max_binding_bytes = max_binding_bytes};
    kvk_context *ctx;
    if (kvk_context_create(&o, &ctx) != KVK_OK) {
        printf("FAIL: cannot open the device: %s\n", kvk_last_error());
        exit(1);
    }
    return ctx;
}

static inline kvk_context *tu_reference_context(void) {
    kvk_context_options o = {.device = "cpu-reference"};
    kvk_context *ctx;
    if (kvk_context_create(&o, &ctx) != KVK_OK) abort();
    return ctx;
}

/* Checks that the validation layer stayed silent. */
static inline void tu_check_validation(const kvk_context *ctx) {
    int n = kvk_context_validation_messages(ctx);
    tu_check(n == 0, "validation layer messages: %d", n);
}

#endif
