/* Device memory running out (issue 8): a model that does not fit the device fails
 * kvk_model_create with KVK_ERROR_OUT_OF_MEMORY before it allocates anything, with a message
 * naming the model, the bytes asked, what they are for and what the heap has; a context's
 * models are counted together; what one model held is given back when it is destroyed; and
 * the validation layer (which reports leaked objects when the device is destroyed) stays
 * silent.
 *   1. a context capped (max_memory_bytes) below one MobileNet's weights;
 *   2. a cap that holds one small model but not two: the second fails naming what the first
 *      holds, and fits once the first is destroyed;
 *   3. the device's own heap (2 GiB on both CPU drivers): VGG16 models (no top, batch 10) on
 *      one context until one does not fit;
 *   4. a batch over one allocation at the images a binding allows runs in fewer at a time. */
#include "testutil.h"

enum { MAX_MODELS = 16 };

static int contains(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

/* The N of "needs N bytes" in the message, or 0. */
static unsigned long long needed_bytes(const char *msg) {
    const char *p = strstr(msg, " needs ");
    unsigned long long n = 0;
    return p && sscanf(p, " needs %llu bytes", &n) == 1 ? n : 0;
}

static kvk_context *capped_context(uint64_t cap) {
    kvk_context_options o = {.max_memory_bytes = cap};
    kvk_context *ctx;
    if (kvk_context_create(&o, &ctx) != KVK_OK) {
        printf("FAIL: cannot open the device: %s\n", kvk_last_error());
        exit(1);
    }
    return ctx;
}

static void below_the_weights(unsigned seed) {
    const uint64_t cap = 8 << 20;
    kvk_context *ctx = capped_context(cap);
    kvk_model_options o = {.architecture = "mobilenet",
                           .height = 32,
                           .width = 32,
                           .batch = 2,
                           .pooling = KVK_POOLING_AVG,
                           .random_seed = seed};
    kvk_model *m = (kvk_model *)&m; /* poisoned: a failure must leave NULL */
    kvk_status st = kvk_model_create(ctx, &o, &m);
    const char *msg = kvk_last_error();
    tu_check(st == KVK_ERROR_OUT_OF_MEMORY && m == NULL,
             "MobileNet under an 8 MiB cap: KVK_ERROR_OUT_OF_MEMORY, no model (got %s)",
             kvk_status_name(st));
    unsigned long long need = needed_bytes(msg);
    tu_check(contains(msg, "mobilenet") && contains(msg, "of device memory heap") &&
                 contains(msg, "the weights") && contains(msg, "the activation pool") &&
                 contains(msg, "8388608 bytes") && contains(msg, "max_memory_bytes") &&
                 need > cap && need > 12ull << 20 /* MobileNet's 3.2 M weights */,
             "the message names the model, what it needs (%llu bytes) and for what, and the "
             "cap: %s",
             need, msg);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
}

static void two_models_one_cap(unsigned seed) {
    kvk_model_options o = {.architecture = "mobilenet",
                           .alpha = 0.25,
                           .height = 32,
                           .width = 32,
                           .batch = 2,
                           .pooling = KVK_POOLING_AVG,
                           .random_seed = seed};
    /* what one model needs, from the message of a context that has room for none */
    kvk_context *probe = capped_context(4096);
    kvk_model *m = NULL;
    kvk_status st = kvk_model_create(probe, &o, &m);
    unsigned long long need = needed_bytes(kvk_last_error());
    tu_check(st == KVK_ERROR_OUT_OF_MEMORY && need > 4096, "a 4 KiB cap: %s", kvk_last_error());
    kvk_model_destroy(m);
    kvk_context_destroy(probe);
    if (!need) return;

    kvk_context *ctx = capped_context(need + need / 2);
    kvk_model *first = NULL, *second = NULL;
    tu_check(kvk_model_create(ctx, &o, &first) == KVK_OK, "the first model fits: %s",
             kvk_last_error());
    st = kvk_model_create(ctx, &o, &second);
    const char *msg = kvk_last_error();
    /* the first holds what it asked for, under the cap, but its weight staging buffer (freed
     * after upload; the CPU drivers have none: their weights are written in place) */
    const char *held = strstr(msg, "other models hold ");
    unsigned long long held_bytes = 0;
    if (held) sscanf(held, "other models hold %llu bytes", &held_bytes);
    tu_check(st == KVK_ERROR_OUT_OF_MEMORY && !second && held_bytes > 0 &&
                 held_bytes <= need + need / 2,
             "the second does not, naming what the first holds (%llu of the cap's %llu bytes): %s",
             held_bytes, need + need / 2, msg);
    kvk_model_destroy(first);
    tu_check(kvk_model_create(ctx, &o, &second) == KVK_OK,
             "with the first destroyed, the second fits: %s", kvk_last_error());
    if (second) { /* and runs */
        int h, w, c;
        kvk_model_input_shape(second, &h, &w, &c);
        float *in = tu_random_array(2L * h * w * c, -1, 1);
        long n = 2 * kvk_model_output_size(second);
        float *out = malloc(sizeof(float) * (size_t)n);
        if (!out) abort();
        tu_poison(out, n);
        st = kvk_model_run(second, in, 2, out);
        int finite = 1;
        for (long i = 0; i < n; i++) finite &= isfinite(out[i]) != 0;
        tu_check(st == KVK_OK && finite, "it runs: %s", kvk_last_error());
        free(in);
        free(out);
    }
    kvk_model_destroy(second);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
}

static void the_device_heap(unsigned seed) {
    kvk_context *ctx = tu_context(0);
    kvk_model_options o = {
        .architecture = "vgg16", .batch = 10, .pooling = KVK_POOLING_AVG, .random_seed = seed};
    kvk_model *models[MAX_MODELS] = {0};
    int made = 0;
    kvk_status st = KVK_OK;
    while (made < MAX_MODELS && (st = kvk_model_create(ctx, &o, &models[made])) == KVK_OK) made++;
    const char *msg = kvk_last_error();
    tu_check(st == KVK_ERROR_OUT_OF_MEMORY && made >= 1 && made < MAX_MODELS,
             "VGG16 models (batch 10) until the heap is full: %d made, then %s: %s", made,
             kvk_status_name(st), msg);
    tu_check(contains(msg, "vgg16 at 224x224, batch 10") &&
                 contains(msg, "of device memory heap") && contains(msg, "other models hold") &&
                 needed_bytes(msg) > 0,
             "the message names the model, the bytes, the heap and the other models: %s", msg);
    for (int i = 0; i < made; i++) kvk_model_destroy(models[i]);
    tu_check(kvk_model_create(ctx, &o, &models[0]) == KVK_OK,
             "with the others destroyed, one fits again: %s", kvk_last_error());
    kvk_model_destroy(models[0]);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
}

/* A batch whose activation pool or Winograd scratch would be over one allocation at the images
 * per submission one binding allows (SwiftShader: 83 VGG16 images, a 2 GiB pool and 8 GiB of
 * scratch against its 1 GiB maxMemoryAllocationSize) is made with fewer images per
 * submission. */
static void large_batch_fits(unsigned seed) {
    kvk_context *ctx = tu_context(0);
    kvk_model_options o = {
        .architecture = "vgg16", .batch = 100, .pooling = KVK_POOLING_AVG, .random_seed = seed};
    kvk_model *m = NULL;
    tu_check(kvk_model_create(ctx, &o, &m) == KVK_OK, "VGG16 at batch 100: %s", kvk_last_error());
    if (m) {
        kvk_model_info info;
        kvk_model_get_info(m, &info);
        tu_check(info.batch_chunk >= 1 && info.batch_chunk < 100 &&
                     info.activation_bytes <= 1024.0 * 1048576.0,
                 "in submissions of %d images, an activation pool of %.1f MiB", info.batch_chunk,
                 info.activation_bytes / 1048576.0);
    }
    kvk_model_destroy(m);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
}

int main(void) {
    unsigned seed = tu_seed() | 1u;
    below_the_weights(seed);
    two_models_one_cap(seed);
    the_device_heap(seed);
    large_batch_fits(seed);
    return tu_finish();
}
