/* A large Dense kernel is not held twice while it is uploaded (issue 7, host memory). Where
 * device memory is host memory (both CPU drivers), dense_gemv's weight pieces are runs of the
 * kernel's rows, and the upload hands each run's pages back to the system once it is packed:
 * the process's peak RSS while the model is made grows by about one 32 MiB piece and the
 * driver's own memory, where it grew by the whole kernel (its device copy beside the host one)
 * before. A 16384 -> 4096 Dense (256 MiB of weights) must grow it by less than half its size.
 * The model then runs against the product computed here in double (relative error 1e-5), so
 * that nothing handed back was still needed. Skipped on a GPU (its memory is its own) and where
 * /proc/self/clear_refs cannot restart the peak. */
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

int main(void) {
    tu_seed();
    kvk_context *ctx = tu_context(0);
    if (!strstr(kvk_context_device_name(ctx), "[cpu")) {
        tu_skip("%s is not a CPU driver: its device memory is not the process's",
                kvk_context_device_name(ctx));
        kvk_context_destroy(ctx);
        return tu_finish();
    }
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", 1, 1, INPUTS);
    int d = kvk_graph_dense(&g, x, "fc", UNITS, KVK_ACT_RELU);
    if (!tu_check(g.status == KVK_OK && d >= 0, "building the graph: %s", kvk_last_error()))
        return tu_finish();
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
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
    return tu_finish();
}
