/* A NaN weight through a whole model against Keras (keras_nan_case.py): VGG16 without its top
 * at 32x32 with a NaN in block5_conv3's bias. Keras gives NaN in that channel of block5_conv3
 * (ReLU keeps NaN), -3.4e38 in block5_pool (MaxPool2D skips NaN) and NaN in its global max and
 * average; every other value finite. kvk must give the same, on the device KVK_DEVICE or
 * VK_ICD_FILENAMES selects: NaN exactly where Keras has NaN, equal infinities and extremes,
 * and the finite values within 1e-4.
 * usage: test_keras_nan CASE_DIR */
#include <float.h>
#include <math.h>

#include "core/npy.h"

#include "testutil.h"

static kvk_npy load(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    kvk_npy n = {0};
    if (kvk_npy_read(path, &n) != KVK_OK) {
        printf("FAIL: %s\n", kvk_last_error());
        exit(1);
    }
    return n;
}

static long count_of(const kvk_npy *n) {
    long c = 1;
    for (int i = 0; i < n->ndim; i++) c *= (long)n->dims[i];
    return c;
}

static void compare(const char *what, const float *y, const kvk_npy *ref) {
    long n = count_of(ref), nan_ref = 0, mismatch = -1;
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        float r = ref->data[i];
        if (isnan(r)) nan_ref++;
        if (!isfinite(r) || !isfinite(y[i]) || fabsf(r) == FLT_MAX) {
            int same = isnan(r) ? isnan(y[i]) : y[i] == r;
            if (!same && mismatch < 0) mismatch = i;
            continue;
        }
        num += ((double)y[i] - r) * ((double)y[i] - r);
        den += (double)r * r;
    }
    double err = den > 0 ? sqrt(num / den) : sqrt(num);
    if (mismatch >= 0)
        tu_check(0, "%s: at %ld of %ld kvk gives %.9g where Keras gives %.9g", what, mismatch, n,
                 y[mismatch], ref->data[mismatch]);
    else
        tu_check(err <= 1e-4, "%s: %ld NaN where Keras has them, relative error %.3g", what,
                 nan_ref, err);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        printf("usage: test_keras_nan CASE_DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char weights[1024];
    snprintf(weights, sizeof weights, "%s/weights.h5", dir);
    kvk_npy x = load(dir, "input"), conv = load(dir, "conv"), pool = load(dir, "pool"),
            gmax = load(dir, "gmax"), gavg = load(dir, "gavg");
    int batch = (int)x.dims[0];
    kvk_context *ctx = tu_context(0);
    printf("device: %s\n", kvk_context_device_name(ctx));
    const char *layers[] = {"block5_conv3", "block5_pool"};
    for (int pooled = 0; pooled < 3; pooled++) {
        kvk_model_options o = {.architecture = "vgg16",
                               .weights = weights,
                               .height = 32,
                               .width = 32,
                               .batch = batch,
                               .output_layers = layers,
                               .output_layer_count = pooled ? 1 : 2,
                               .output_pooling = pooled == 1   ? KVK_POOLING_MAX
                                                 : pooled == 2 ? KVK_POOLING_AVG
                                                               : KVK_POOLING_NONE};
        kvk_model *m;
        if (!tu_check(kvk_model_create(ctx, &o, &m) == KVK_OK, "model: %s", kvk_last_error()))
            break;
        float *out[2];
        for (int k = 0; k < 2; k++) {
            out[k] = malloc(sizeof(float) * (size_t)count_of(k ? &pool : &conv));
            tu_poison(out[k], count_of(k ? &pool : &conv));
        }
        if (tu_check(kvk_model_run_outputs(m, x.data, batch, out) == KVK_OK, "run: %s",
                     kvk_last_error())) {
            if (pooled == 0) {
                compare("block5_conv3 (NaN bias, relu)", out[0], &conv);
                compare("block5_pool (MaxPool2D of a NaN channel)", out[1], &pool);
            } else {
                compare(pooled == 1 ? "global max of block5_conv3" : "global avg of block5_conv3",
                        out[0], pooled == 1 ? &gmax : &gavg);
            }
        }
        free(out[0]);
        free(out[1]);
        kvk_model_destroy(m);
    }
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
    kvk_npy_free(&x);
    kvk_npy_free(&conv);
    kvk_npy_free(&pool);
    kvk_npy_free(&gmax);
    kvk_npy_free(&gavg);
    return tu_finish();
}
