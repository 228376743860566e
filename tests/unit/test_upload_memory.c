/* How much memory a model's weights take while they are uploaded and after (issue 7).
 *
 * 1. A large Dense kernel is not held twice while it is uploaded. Where device memory is host
 *    memory (both CPU drivers), dense_gemv's weight pieces are runs of the kernel's rows, and
 *    the upload hands each run's pages back to the system once it is packed: the process's
 *    peak RSS while the model is made grows by about one 32 MiB piece and the driver's own
 *    memory, where it grew by the whole kernel (its device copy beside the host one) before.
 *    A 16384 -> 4096 Dense (256 MiB of weights) must grow it by less than half its size. The
 *    model then runs against the product computed here in double (relative error 1e-5), so
 *    that nothing handed back was still needed. Skipped where /proc/self/clear_refs cannot
 *    restart the peak.
 * 2. A 3x3 convolution whose lean Winograd kernels (transformed into scratch on every run)
 *    would pass the 256 MiB bound on that scratch (KVK_LEAN_MAX_BYTES in src/vk/ops/conv.c:
 *    1366 channels in and out, F(4,3)'s 36 x 1367 x 1368 floats) keeps them transformed in its
 *    weight pieces instead: a resident Winograd variant runs it, on SwiftShader too, where the
 *    lean ones come first, and 300 sampled outputs match a double reference at 3e-5.
 * Skipped on a GPU (its memory is its own, and it chooses other kernels). */
#include "testutil.h"

#include "api/internal.h"

enum { INPUTS = 16384, UNITS = 4096 };

/* VmRSS or VmHWM (`field`) of this process in MiB, -1 if unreadable. */
static double status_mib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mib = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (strncmp(line, field, n) == 0 && sscanf(line + n, ": %ld kB", &kb) == 1)
            mib = kb / 1024.0;
    }
    fclose(f);
    return mib;
}

/* Lets VmHWM restart from the current RSS (Linux 4.0+). */
static int restart_peak(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static void large_dense(kvk_context *ctx) {
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", 1, 1, INPUTS);
    int d = kvk_graph_dense(&g, x, "fc", UNITS, KVK_ACT_RELU);
    if (!tu_check(g.status == KVK_OK && d >= 0, "building the graph: %s", kvk_last_error())) {
        kvk_graph_free(&g);
        return;
    }
    float s = 1.0f / sqrtf((float)INPUTS);
    g.nodes[d].kernel = tu_random_array((long)INPUTS * UNITS, -s, s);
    g.nodes[d].bias = tu_random_array(UNITS, -0.3f, 0.3f);
    /* the model takes the graph and hands the kernel's pages back: the reference first */
    float *in = tu_random_array(INPUTS, -1, 1);
    float *ref = malloc(sizeof(float) * UNITS);
    double *acc = calloc(UNITS, sizeof *acc);
    for (long r = 0; r < INPUTS; r++) {
        const float *row = g.nodes[d].kernel + r * UNITS;
        for (int o = 0; o < UNITS; o++) acc[o] += (double)in[r] * row[o];
    }
    for (int o = 0; o < UNITS; o++) {
        double v = acc[o] + g.nodes[d].bias[o];
        ref[o] = (float)(v > 0 ? v : 0);
    }
    free(acc);

    double kernel_mib = (double)INPUTS * UNITS * sizeof(float) / 1048576.0;
    double before = status_mib("VmRSS");
    if (before < 0 || !restart_peak()) {
        tu_skip("/proc/self/status or clear_refs unavailable: no peak to measure");
        kvk_graph_free(&g);
    } else {
        kvk_model *m = NULL;
        kvk_status st = kvk_model_from_graph(ctx, &g, 1, 1, KVK_PRECISION_FP32, &m);
        double peak = status_mib("VmHWM");
        printf("peak RSS while the model was made: %.0f -> %.0f MiB\n", before, peak);
        if (tu_check(st == KVK_OK, "kvk_model_from_graph: %s", kvk_last_error())) {
            tu_check(peak - before < kernel_mib / 2,
                     "peak RSS while the model was made grew by %.0f MiB (from %.0f MiB), less "
                     "than half the kernel's %.0f MiB",
                     peak - before, before, kernel_mib);
            float *out = malloc(sizeof(float) * UNITS);
            tu_poison(out, UNITS);
            st = kvk_model_run(m, in, 1, out);
            if (tu_check(st == KVK_OK, "running: %s", kvk_last_error())) {
                double err = tu_rel_error(out, ref, UNITS);
                tu_check(err <= 1e-5, "Dense 16384 -> 4096 against double: rel. error %.2e", err);
            }
            free(out);
        }
        kvk_model_destroy(m);
    }
    free(in);
    free(ref);
}

enum { SIDE = 16, WIDE = 1366, SAMPLES = 300 };

static void lean_bound(void) {
    kvk_context_options o = {.time_layers = 1}; /* for each step's kernel variant */
    kvk_context *ctx;
    if (!tu_check(kvk_context_create(&o, &ctx) == KVK_OK, "opening the device: %s",
                  kvk_last_error()))
        return;
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", SIDE, SIDE, WIDE);
    int cv = kvk_graph_conv2d(&g, x, "wide_conv", WIDE, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
    if (!tu_check(g.status == KVK_OK && cv >= 0, "building the graph: %s", kvk_last_error())) {
        kvk_graph_free(&g);
        kvk_context_destroy(ctx);
        return;
    }
    long taps = 9L * WIDE;
    float s = 1.0f / sqrtf((float)taps);
    float *kernel = tu_random_array(taps * WIDE, -s, s); /* (kh, kw, cin, cout) */
    float *bias = tu_random_array(WIDE, -0.3f, 0.3f);
    g.nodes[cv].kernel = malloc(sizeof(float) * (size_t)(taps * WIDE));
    g.nodes[cv].bias = malloc(sizeof(float) * WIDE);
    memcpy(g.nodes[cv].kernel, kernel, sizeof(float) * (size_t)(taps * WIDE));
    memcpy(g.nodes[cv].bias, bias, sizeof(float) * WIDE);
    long n = (long)SIDE * SIDE * WIDE;
    float *in = tu_random_array(n, -1, 1), *out = malloc(sizeof(float) * (size_t)n);
    kvk_model *m = NULL;
    kvk_status st = kvk_model_from_graph(ctx, &g, 1, 1, KVK_PRECISION_FP32, &m);
    if (tu_check(st == KVK_OK, "Conv2D 3x3 %d -> %d: %s", WIDE, WIDE, kvk_last_error())) {
        tu_poison(out, n);
        st = kvk_model_run(m, in, 1, out);
        tu_check(st == KVK_OK, "running: %s", kvk_last_error());
        kvk_layer_time t = {0};
        const char *kernel_name = "?";
        for (int i = 0; i < kvk_model_timed_layer_count(m); i++)
            if (kvk_model_layer_time(m, i, &t) == KVK_OK && !strcmp(t.name, "wide_conv"))
                kernel_name = t.kernel ? t.kernel : "?";
        tu_check(!strncmp(kernel_name, "conv2d_winograd", 15) && !strstr(kernel_name, "_lean"),
                 "Conv2D 3x3 %d -> %d runs a resident Winograd variant: %s", WIDE, WIDE,
                 kernel_name);
        float got[SAMPLES], want[SAMPLES];
        for (int k = 0; k < SAMPLES; k++) {
            int y = tu_randint(0, SIDE - 1), xx = tu_randint(0, SIDE - 1),
                o = tu_randint(0, WIDE - 1);
            double v = bias[o];
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int iy = y + dy, ix = xx + dx;
                    if (iy < 0 || iy >= SIDE || ix < 0 || ix >= SIDE) continue;
                    const float *px = in + ((long)iy * SIDE + ix) * WIDE;
                    const float *w = kernel + ((long)(dy + 1) * 3 + (dx + 1)) * WIDE * WIDE + o;
                    for (int c = 0; c < WIDE; c++) v += (double)px[c] * w[(long)c * WIDE];
                }
            want[k] = (float)(v > 0 ? v : 0);
            got[k] = out[((long)y * SIDE + xx) * WIDE + o];
        }
        double err = tu_rel_error(got, want, SAMPLES);
        printf("Conv2D 3x3 %d -> %d on %s: relative error %.2e\n", WIDE, WIDE, kernel_name, err);
        /* F(4,3) in float32 over 9 x 1366 products per output: 4.0e-6 to 1.02e-5 over 25 seeds
         * (a bound of 1e-5 failed seed 1687389855); a wrong kernel or layout errs by O(1) */
        tu_check(err <= 3e-5, "Conv2D 3x3 %d -> %d, %d sampled outputs: rel. error %.2e", WIDE,
                 WIDE, SAMPLES, err);
    }
    kvk_model_destroy(m);
    free(kernel);
    free(bias);
    free(in);
    free(out);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
}

int main(void) {
    tu_seed();
    kvk_context *ctx = tu_context(0);
    if (!strstr(kvk_context_device_name(ctx), "[cpu")) {
        tu_skip("%s is not a CPU driver: its device memory is not the process's",
                kvk_context_device_name(ctx));
        kvk_context_destroy(ctx);
        return tu_finish();
    }
    large_dense(ctx);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
    lean_bound();
    return tu_finish();
}
