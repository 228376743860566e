/* `kvk bench`: per model and batch, the load time, the first inference, min/median/max of the
 * timed runs, throughput and GFLOP/s (from the model's own FLOP count), peak host RSS and the
 * device memory kvk holds; the CPU reference in the same process; optionally the device's own
 * ceilings (--peak), per-layer GPU times (--layers), JSON (--json), and the soak run (--soak N:
 * N inferences with host and device memory sampled, which must stay flat). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli_json.h"
#include "core/json.h"
#include "kvk.h"

#define MIB 1048576.0

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int fail(const char *what) {
    fprintf(stderr, "kvk: %s%s%s\n", what, *kvk_last_error() ? ": " : "", kvk_last_error());
    return 1;
}

/* The process's resident set and its peak (VmRSS, VmHWM in /proc/self/status), in MiB; -1
 * where the system has no /proc. */
typedef struct host_memory {
    double rss_mib, peak_mib;
} host_memory;

static host_memory read_host_memory(void) {
    host_memory m = {-1, -1};
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return m;
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) m.rss_mib = kb / 1024.0;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) m.peak_mib = kb / 1024.0;
    }
    fclose(f);
    return m;
}

/* Lets VmHWM restart from the current RSS (Linux 4.0+), so that each batch's peak is its own.
 * Returns 0 where the kernel refuses: the peak is then the whole process's. */
static int reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Fresh random input in the range of caffe-preprocessed pixels. */
static float *random_input(long floats) {
    float *x = malloc(sizeof(float) * (size_t)floats);
    if (!x) return NULL;
    uint64_t s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)x;
    for (long i = 0; i < floats; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 40) / (double)(1 << 24) * 255.0 - 127.5);
    }
    return x;
}

/* One built model on a context, with an input and an output buffer. */
typedef struct bench_model {
    kvk_context *ctx; /* borrowed */
    kvk_model *model;
    int batch;
    float *input, *output;
    double load_s;
} bench_model;

static void bench_model_free(bench_model *b) {
    free(b->input);
    free(b->output);
    kvk_model_destroy(b->model);
    memset(b, 0, sizeof *b);
}

static int open_context(const kvk_bench_options *o, const char *device, int time_layers,
                        kvk_context **ctx) {
    kvk_context_options co = {.device = device, .verbose = o->verbose, .time_layers = time_layers};
    return kvk_context_create(&co, ctx) == KVK_OK ? 0 : fail("cannot open the device");
}

/* `reference`: the CPU reference's model, float32 whatever --precision says */
static int bench_model_open(const kvk_bench_options *o, kvk_context *ctx, int batch, int reference,
                            bench_model *b) {
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    kvk_model_options mo = {.architecture = o->model,
                            .include_top = !o->no_top,
                            .pooling = o->no_top ? KVK_POOLING_AVG : KVK_POOLING_NONE,
                            .alpha = o->alpha,
                            .depth_multiplier = o->depth_multiplier,
                            .height = o->height,
                            .width = o->width,
                            .batch = batch,
                            .random_seed = (unsigned)time(NULL),
                            .precision = reference ? KVK_PRECISION_FP32 : o->precision};
    double t0 = now_seconds();
    if (kvk_model_create(b->ctx, &mo, &b->model) != KVK_OK) {
        bench_model_free(b);
        return fail("cannot build the model");
    }
    b->load_s = now_seconds() - t0;
    b->batch = batch;
    int h, w, c;
    kvk_model_input_shape(b->model, &h, &w, &c);
    b->input = random_input((long)batch * h * w * c);
    b->output = malloc(sizeof(float) * (size_t)batch * (size_t)kvk_model_output_size(b->model));
    if (!b->input || !b->output) {
        bench_model_free(b);
        fprintf(stderr, "kvk: out of memory for the benchmark's input and output\n");
        return 1;
    }
    return 0;
}

static int bench_model_run(bench_model *b, double *seconds) {
    double t0 = now_seconds();
    if (kvk_model_run(b->model, b->input, b->batch, b->output) != KVK_OK)
        return fail("inference failed");
    *seconds = now_seconds() - t0;
    return 0;
}

static int check_validation(kvk_context *ctx) {
    int n = kvk_context_validation_messages(ctx);
    if (n <= 0) return 0;
    fprintf(stderr, "kvk: the Vulkan validation layer reported %d message(s)\n", n);
    return 1;
}

/* What one batch size measured. */
typedef struct batch_result {
    int batch;
    int height, width; /* of the input */
    double load_s, first_s, min_s, median_s, max_s;
    kvk_model_info info;
    kvk_model_recording recording;
    kvk_memory_usage device;
    host_memory host;
    int host_peak_own; /* the peak was reset before this batch */
    kvk_layer_time *layers;
    int layer_count;
} batch_result;

/* Builds the model for `batch` images on ctx (created with time_layers for --layers) and
 * times it. */
static int bench_batch(const kvk_bench_options *o, kvk_context *ctx, int batch, batch_result *r) {
    memset(r, 0, sizeof *r);
    r->batch = batch;
    r->host_peak_own = reset_peak_rss();
    kvk_context_reset_peak_memory(ctx);
    bench_model b;
    if (bench_model_open(o, ctx, batch, 0, &b)) return 1;
    r->load_s = b.load_s;
    double *times = calloc((size_t)o->runs, sizeof *times);
    int rc = times ? 0 : fail("out of memory");
    if (!rc) rc = bench_model_run(&b, &r->first_s);
    kvk_model_layer_times_reset(b.model); /* the first run compiles pipelines: not a layer time */
    for (int i = 0; !rc && i < o->runs; i++) rc = bench_model_run(&b, &times[i]);
    if (!rc) rc = check_validation(b.ctx);
    if (!rc) {
        qsort(times, (size_t)o->runs, sizeof *times, cmp_double);
        int n = o->runs;
        r->min_s = times[0];
        r->max_s = times[n - 1];
        r->median_s = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
        kvk_model_get_info(b.model, &r->info);
        kvk_model_get_recording(b.model, &r->recording);
        int channels;
        kvk_model_input_shape(b.model, &r->height, &r->width, &channels);
        kvk_context_memory_usage(b.ctx, &r->device);
        r->host = read_host_memory();
    }
    if (!rc && o->layers) {
        r->layer_count = kvk_model_timed_layer_count(b.model);
        r->layers = calloc((size_t)(r->layer_count ? r->layer_count : 1), sizeof *r->layers);
        if (!r->layers) rc = fail("out of memory");
        for (int i = 0; !rc && i < r->layer_count; i++) {
            kvk_layer_time *l = &r->layers[i];
            kvk_model_layer_time(b.model, i, l);
            /* the names live in the model: keep copies */
            const char *kernel = l->kernel;
            l->name = strdup(l->name ? l->name : "");
            l->kernel = kernel ? strdup(kernel) : NULL;
            if (!l->name || (kernel && !l->kernel)) rc = fail("out of memory");
        }
    }
    free(times);
    bench_model_free(&b);
    return rc;
}

static void batch_result_free(batch_result *r) {
    for (int i = 0; r->layers && i < r->layer_count; i++) {
        free((char *)r->layers[i].name);
        free((char *)r->layers[i].kernel);
    }
    free(r->layers);
}

/* The CPU reference: one inference of one image (it has no warm-up to skip). */
typedef struct reference_result {
    char name[320];
    double seconds;
} reference_result;

static int bench_reference(const kvk_bench_options *o, reference_result *r) {
    kvk_context *ctx;
    if (open_context(o, "cpu-reference", 0, &ctx)) return 1;
    snprintf(r->name, sizeof r->name, "%s", kvk_context_device_name(ctx));
    bench_model b;
    int rc = bench_model_open(o, ctx, 1, 1, &b);
    if (!rc) rc = bench_model_run(&b, &r->seconds);
    bench_model_free(&b);
    kvk_context_destroy(ctx);
    return rc;
}

static double gflops(const batch_result *r) {
    return r->info.flops * r->batch / r->median_s / 1e9;
}

/* A layer that is a matrix product (Conv2D, Dense; not DepthwiseConv2D, which is bound by
 * memory): these are what the GEMM probe is a ceiling for. */
static int is_product_layer(const kvk_layer_time *l) {
    return l->flops > 0 && (!strcmp(l->op, "Conv2D") || !strcmp(l->op, "Dense"));
}

static void print_layers(const batch_result *r, const kvk_device_peak *peak) {
    double total = 0, product_ms = 0, product_flops = 0;
    int runs = 0;
    for (int i = 0; i < r->layer_count; i++) {
        const kvk_layer_time *l = &r->layers[i];
        total += l->ms;
        if (l->runs > runs) runs = l->runs;
        if (is_product_layer(l)) {
            product_ms += l->ms;
            product_flops += l->flops * r->batch;
        }
    }
    if (!runs) {
        printf("  layers       not timed: the device's compute queue has no timestamps (or the "
               "CPU reference)\n");
        return;
    }
    int has_peak = peak && peak->gemm_gflops > 0;
    printf("  layers       %d, GPU time by timestamps, mean of %d submission(s): %.2f ms in all "
           "(the median run: %.2f ms); GFLOP/s as a direct convolution counts them%s\n",
           r->layer_count, runs, total, r->median_s * 1e3,
           has_peak ? ", and their share of the GEMM peak" : "");
    for (int i = 0; i < r->layer_count; i++) {
        const kvk_layer_time *l = &r->layers[i];
        char rate[48] = "";
        if (l->flops > 0 && l->ms > 0) {
            double layer_gflops = l->flops * r->batch / l->ms / 1e6;
            int n = snprintf(rate, sizeof rate, "%8.2f GFLOP/s", layer_gflops);
            if (has_peak && n > 0)
                snprintf(rate + n, sizeof rate - (size_t)n, " %4.0f%%",
                         100 * layer_gflops / peak->gemm_gflops);
        }
        printf("    %10.3f ms %5.1f%%  %-36s %-20s %-*s%s\n", l->ms,
               total > 0 ? 100 * l->ms / total : 0.0, l->name, l->op, rate[0] ? 30 : 0,
               l->kernel ? l->kernel : "-", rate);
    }
    if (product_ms > 0) {
        double product_gflops = product_flops / product_ms / 1e6;
        printf("  products     Conv2D and Dense layers: %.2f ms of %.2f ms, %.2f GFLOP/s",
               product_ms, total, product_gflops);
        if (has_peak) printf(", %.1f%% of the GEMM peak", 100 * product_gflops / peak->gemm_gflops);
        printf("\n");
    }
}

static void print_text(const kvk_bench_options *o, const char *device, const kvk_device_peak *peak,
                       const reference_result *ref, const batch_result *results, int count) {
    printf("model        %s, %s, %dx%d input%s\n", o->model,
           o->no_top ? "no top (average pooling)" : "with top", results[0].height, results[0].width,
           o->precision == KVK_PRECISION_FP16 ? ", float16 weights on the device" : "");
    printf("device       %s\n", device);
    if (peak)
        printf("peak         GEMM %.2f GFLOP/s (fp32, %dx%dx%d probe), copy %.2f GB/s (%.0f MiB "
               "buffer, read + write)\n",
               peak->gemm_gflops, peak->gemm_size, peak->gemm_size, peak->gemm_size,
               peak->bandwidth_gbs, peak->copy_bytes / MIB);
    double ref_ips = 0;
    if (ref) {
        ref_ips = 1 / ref->seconds;
        printf("reference    %s: %.2f ms per image (one run, batch 1), %.2f GFLOP/s\n", ref->name,
               ref->seconds * 1e3, results[0].info.flops / ref->seconds / 1e9);
    }
    for (int k = 0; k < count; k++) {
        const batch_result *r = &results[k];
        double ips = r->batch / r->median_s;
        printf("batch %d\n", r->batch);
        printf("  load         build %.2f s (architecture, weights, upload, recording)\n",
               r->load_s);
        printf("  first        first inference %.2f ms (pipelines compiled on first use)\n",
               r->first_s * 1e3);
        if (r->recording.dispatches)
            printf("  recorded     %d dispatches, %d barriers%s, %d pipelines\n",
                   r->recording.dispatches, r->recording.barriers,
                   o->layers ? " (one per step: timed per layer)" : "", r->recording.pipelines);
        printf("  latency      %.2f ms per batch (median of %d), min %.2f ms, max %.2f ms; "
               "%.2f ms per image\n",
               r->median_s * 1e3, o->runs, r->min_s * 1e3, r->max_s * 1e3,
               r->median_s * 1e3 / r->batch);
        printf("  throughput   %.2f images/s, %.2f GFLOP/s (%.2f GFLOP per image)", ips, gflops(r),
               r->info.flops / 1e9);
        if (peak && peak->gemm_gflops > 0)
            printf(", %.1f%% of the GEMM peak", 100 * gflops(r) / peak->gemm_gflops);
        printf("\n");
        printf("  memory       weights %.1f MiB, activation pool %.1f MiB; device %.1f MiB held "
               "by kvk (peak %.1f MiB)",
               r->info.weight_bytes / MIB, r->info.activation_bytes / MIB,
               r->device.allocated_bytes / MIB, r->device.peak_allocated_bytes / MIB);
        if (r->device.has_budget)
            printf(", driver usage %.1f MiB of %.1f MiB", r->device.budget_usage_bytes / MIB,
                   r->device.budget_bytes / MIB);
        printf("; host peak RSS %.1f MiB%s\n", r->host.peak_mib,
               r->host_peak_own ? "" : " (whole process)");
        if (ref) printf("  reference    device speed-up x%.2f (images/s)\n", ips / ref_ips);
        if (o->layers) print_layers(r, peak);
    }
}

static void json_key(kvk_json_writer *w, const char *sep, const char *key) {
    kvk_json_write_raw(w, sep);
    kvk_json_write_string(w, key);
    kvk_json_write_raw(w, ": ");
}

static void json_number(kvk_json_writer *w, const char *sep, const char *key, double v) {
    json_key(w, sep, key);
    kvk_json_write_number(w, v); /* NaN and Inf: null */
}

static void json_int(kvk_json_writer *w, const char *sep, const char *key, long long v) {
    json_key(w, sep, key);
    kvk_json_write_int(w, v);
}

static void json_string(kvk_json_writer *w, const char *sep, const char *key, const char *v) {
    json_key(w, sep, key);
    if (v)
        kvk_json_write_string(w, v);
    else
        kvk_json_write_raw(w, "null");
}

static void json_head(kvk_json_writer *w, const kvk_bench_options *o, const char *device) {
    json_string(w, "{", "model", o->model);
    json_key(w, ", ", "top");
    kvk_json_write_raw(w, o->no_top ? "false" : "true");
    json_string(w, ", ", "precision", o->precision == KVK_PRECISION_FP16 ? "fp16" : "fp32");
    json_string(w, ", ", "device", device);
}

static int write_json(const kvk_bench_options *o, const char *device, const kvk_device_peak *peak,
                      const reference_result *ref, const batch_result *results, int count) {
    kvk_json_writer w = {0};
    json_head(&w, o, device);
    json_int(&w, ", ", "height", results[0].height);
    json_int(&w, ", ", "width", results[0].width);
    json_key(&w, ", ", "peak");
    if (peak) {
        json_number(&w, "{", "gemm_gflops", peak->gemm_gflops);
        json_int(&w, ", ", "gemm_size", peak->gemm_size);
        json_number(&w, ", ", "bandwidth_gbs", peak->bandwidth_gbs);
        json_number(&w, ", ", "copy_bytes", peak->copy_bytes);
        kvk_json_write_raw(&w, "}");
    } else
        kvk_json_write_raw(&w, "null");
    json_key(&w, ", ", "reference");
    if (ref) {
        json_string(&w, "{", "device", ref->name);
        json_int(&w, ", ", "batch", 1);
        json_number(&w, ", ", "seconds", ref->seconds);
        json_number(&w, ", ", "images_per_s", 1 / ref->seconds);
        json_number(&w, ", ", "gflops", results[0].info.flops / ref->seconds / 1e9);
        kvk_json_write_raw(&w, "}");
    } else
        kvk_json_write_raw(&w, "null");
    json_key(&w, ", ", "batches");
    kvk_json_write_raw(&w, "[");
    for (int k = 0; k < count; k++) {
        const batch_result *r = &results[k];
        double ips = r->batch / r->median_s;
        json_int(&w, k ? ", {" : "{", "batch", r->batch);
        json_int(&w, ", ", "runs", o->runs);
        json_number(&w, ", ", "load_s", r->load_s);
        json_number(&w, ", ", "first_s", r->first_s);
        json_number(&w, ", ", "min_s", r->min_s);
        json_number(&w, ", ", "median_s", r->median_s);
        json_number(&w, ", ", "max_s", r->max_s);
        json_number(&w, ", ", "images_per_s", ips);
        json_number(&w, ", ", "gflop_per_image", r->info.flops / 1e9);
        json_number(&w, ", ", "gflops", gflops(r));
        json_number(&w, ", ", "fraction_of_gemm_peak",
                    peak && peak->gemm_gflops > 0 ? gflops(r) / peak->gemm_gflops : NAN);
        json_number(&w, ", ", "speedup_vs_reference", ref ? ips * ref->seconds : NAN);
        json_number(&w, ", ", "dispatches", r->recording.dispatches);
        json_number(&w, ", ", "barriers", r->recording.barriers);
        json_number(&w, ", ", "pipelines", r->recording.pipelines);
        json_number(&w, ", ", "weight_bytes", r->info.weight_bytes);
        json_number(&w, ", ", "activation_bytes", r->info.activation_bytes);
        json_number(&w, ", ", "device_bytes", r->device.allocated_bytes);
        json_number(&w, ", ", "device_peak_bytes", r->device.peak_allocated_bytes);
        json_number(&w, ", ", "device_budget_usage_bytes",
                    r->device.has_budget ? r->device.budget_usage_bytes : NAN);
        json_number(&w, ", ", "host_peak_rss_mib", r->host.peak_mib >= 0 ? r->host.peak_mib : NAN);
        json_key(&w, ", ", "host_peak_whole_process");
        kvk_json_write_raw(&w, r->host_peak_own ? "false" : "true");
        json_key(&w, ", ", "layers");
        if (o->layers) {
            kvk_json_write_raw(&w, "[");
            for (int i = 0; i < r->layer_count; i++) {
                const kvk_layer_time *l = &r->layers[i];
                json_string(&w, i ? ", {" : "{", "name", l->name);
                json_string(&w, ", ", "op", l->op);
                json_string(&w, ", ", "kernel", l->kernel);
                json_number(&w, ", ", "ms", l->runs ? l->ms : NAN);
                json_int(&w, ", ", "runs", l->runs);
                json_number(&w, ", ", "flops_per_image", l->flops);
                kvk_json_write_raw(&w, "}");
            }
            kvk_json_write_raw(&w, "]");
        } else
            kvk_json_write_raw(&w, "null");
        kvk_json_write_raw(&w, "}");
    }
    kvk_json_write_raw(&w, "]}\n");
    int rc = cli_print_json(&w);
    kvk_json_writer_free(&w);
    return rc;
}

/* ---- the soak run ---- */

typedef struct soak_sample {
    long run; /* inferences done */
    host_memory host;
    kvk_memory_usage device;
} soak_sample;

enum { SOAK_SAMPLES = 10 };
/* Host growth allowed after the warm-up tenth: the C library's and the driver's allocators keep
 * small, bounded amounts; a leak of even a few bytes per inference over 10,000 runs is more. */
#define SOAK_HOST_SLACK_MIB 2.0

static soak_sample take_sample(const bench_model *b, long run) {
    soak_sample s = {.run = run, .host = read_host_memory()};
    kvk_context_memory_usage(b->ctx, &s.device);
    return s;
}

static void print_sample(const soak_sample *s) {
    printf("soak  %7ld runs: host RSS %.1f MiB (peak %.1f MiB), device %.1f MiB in %d "
           "allocations held by kvk",
           s->run, s->host.rss_mib, s->host.peak_mib, s->device.allocated_bytes / MIB,
           s->device.allocations);
    if (s->device.has_budget) printf(", driver usage %.1f MiB", s->device.budget_usage_bytes / MIB);
    printf("\n");
    fflush(stdout);
}

static int soak(const kvk_bench_options *o, kvk_context *ctx) {
    bench_model b;
    int batch = o->batches[0];
    if (bench_model_open(o, ctx, batch, 0, &b)) return 1;
    soak_sample samples[SOAK_SAMPLES + 2];
    int count = 0, rc = 0;
    double first, t, start = now_seconds();
    rc = bench_model_run(&b, &first);
    if (!rc) samples[count++] = take_sample(&b, 1);
    if (!rc && !o->json) {
        printf("soak         %s, batch %d, %ld inferences on %s\n", o->model, batch, o->soak,
               kvk_context_device_name(b.ctx));
        print_sample(&samples[0]);
    }
    long every = o->soak / SOAK_SAMPLES > 0 ? o->soak / SOAK_SAMPLES : 1;
    for (long run = 2; !rc && run <= o->soak; run++) {
        rc = bench_model_run(&b, &t);
        if (!rc && (run % every == 0 || run == o->soak) && count < SOAK_SAMPLES + 2) {
            samples[count++] = take_sample(&b, run);
            if (!o->json) print_sample(&samples[count - 1]);
        }
    }
    double elapsed = now_seconds() - start;
    if (!rc) rc = check_validation(b.ctx);
    char device[320];
    snprintf(device, sizeof device, "%s", kvk_context_device_name(b.ctx));
    bench_model_free(&b);
    if (rc) return rc;
    /* the baseline: the sample after the first tenth (allocators and driver caches settle) */
    const soak_sample *base = &samples[count > 2 ? 1 : 0], *last = &samples[count - 1];
    double host_growth = last->host.rss_mib - base->host.rss_mib;
    double device_growth = 0;
    for (int i = 1; i < count; i++) {
        double d = samples[i].device.allocated_bytes - samples[0].device.allocated_bytes;
        if (fabs(d) > fabs(device_growth)) device_growth = d;
    }
    int flat = device_growth == 0 && host_growth <= SOAK_HOST_SLACK_MIB;
    if (o->json) {
        kvk_json_writer w = {0};
        json_head(&w, o, device);
        json_key(&w, ", ", "soak");
        json_int(&w, "{", "batch", batch);
        json_int(&w, ", ", "inferences", o->soak);
        json_number(&w, ", ", "seconds", elapsed);
        json_key(&w, ", ", "samples");
        kvk_json_write_raw(&w, "[");
        for (int i = 0; i < count; i++) {
            const soak_sample *s = &samples[i];
            json_int(&w, i ? ", {" : "{", "runs", s->run);
            json_number(&w, ", ", "host_rss_mib", s->host.rss_mib);
            json_number(&w, ", ", "host_peak_mib", s->host.peak_mib);
            json_number(&w, ", ", "device_bytes", s->device.allocated_bytes);
            json_int(&w, ", ", "device_allocations", s->device.allocations);
            json_number(&w, ", ", "device_budget_usage_bytes",
                        s->device.has_budget ? s->device.budget_usage_bytes : NAN);
            kvk_json_write_raw(&w, "}");
        }
        kvk_json_write_raw(&w, "]");
        json_number(&w, ", ", "host_growth_mib", host_growth);
        json_number(&w, ", ", "host_growth_from_first_mib",
                    last->host.rss_mib - samples[0].host.rss_mib);
        json_number(&w, ", ", "device_growth_bytes", device_growth);
        json_key(&w, ", ", "flat");
        kvk_json_write_raw(&w, flat ? "true" : "false");
        kvk_json_write_raw(&w, "}}\n");
        rc = cli_print_json(&w);
        kvk_json_writer_free(&w);
    } else {
        printf("soak         %ld inferences in %.1f s (%.2f ms each, first %.2f ms)\n", o->soak,
               elapsed, elapsed * 1e3 / o->soak, first * 1e3);
        printf("soak         host RSS %+.2f MiB after the first tenth (%+.2f MiB after the first "
               "inference; allowed %.1f MiB), device memory held by kvk %+.0f bytes: %s\n",
               host_growth, last->host.rss_mib - samples[0].host.rss_mib, SOAK_HOST_SLACK_MIB,
               device_growth, flat ? "flat" : "NOT flat");
    }
    if (!flat) {
        fprintf(stderr,
                "kvk: memory grew during the soak run: host RSS %+.2f MiB, device %+.0f "
                "bytes\n",
                host_growth, device_growth);
        return rc ? rc : 3;
    }
    return rc;
}

/* One context for the probes and every batch: pipelines are compiled once per device, which
 * on SwiftShader takes seconds (the first batch's load time includes it). */
int kvk_bench_run(const kvk_bench_options *o) {
    kvk_context *ctx;
    if (open_context(o, o->device, o->layers, &ctx)) return 1;
    int rc = 0;
    if (o->soak > 0) {
        rc = soak(o, ctx);
        kvk_context_destroy(ctx);
        return rc;
    }
    char device[320];
    snprintf(device, sizeof device, "%s", kvk_context_device_name(ctx));
    kvk_device_peak peak_value, *peak = NULL;
    if (o->peak) {
        if (kvk_context_measure_peak(ctx, &peak_value) != KVK_OK) rc = fail("--peak");
        if (!rc) rc = check_validation(ctx);
        peak = &peak_value;
    }
    batch_result results[KVK_BENCH_MAX_BATCHES];
    int count = 0;
    for (int k = 0; k < o->batch_count && !rc; k++) {
        rc = bench_batch(o, ctx, o->batches[k], &results[k]);
        if (!rc) count++;
        if (rc) batch_result_free(&results[k]);
        if (!rc && o->verbose)
            fprintf(stderr, "kvk: batch %d: median %.2f ms\n", o->batches[k],
                    results[k].median_s * 1e3);
    }
    kvk_context_destroy(ctx);
    reference_result ref_value, *ref = NULL;
    if (!rc && !o->no_reference) {
        rc = bench_reference(o, &ref_value);
        ref = &ref_value;
    }
    if (!rc && o->json)
        rc = write_json(o, device, peak, ref, results, count);
    else if (!rc)
        print_text(o, device, peak, ref, results, count);
    for (int k = 0; k < count; k++) batch_result_free(&results[k]);
    return rc;
}
