/* kvk: the command-line tool. predict, inspect, devices, bench. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/internal.h"
#include "keras/apps/apps.h"
#include "keras/weights.h"
#include "kvk.h"

static const char *const USAGE =
    "usage:\n"
    "  kvk predict IMAGE... --model NAME [--weights FILE] [--top K] [--device D] [--json]\n"
    "              [--resize nearest|bilinear] [--jpeg libjpeg|stb] [--preprocess MODE]\n"
    "              [--batch N] [--verbose]\n"
    "  kvk inspect FILE\n"
    "  kvk devices\n"
    "  kvk bench --model NAME [--batch N] [--size H[xW]] [--runs R] [--device D] [--no-top]\n"
    "            [--no-reference]\n"
    "\n"
    "models: vgg16, vgg19, resnet50. Without --weights, predict looks for Keras' own file in\n"
    "~/.keras/models/ (e.g. resnet50_weights_tf_dim_ordering_tf_kernels.h5). Weight files:\n"
    "Keras .h5 (save_weights or model.save, Keras 1 or 2, th or tf ordering) or a TensorFlow.js\n"
    "model.json. --device takes an index or a name substring from `kvk devices`, or\n"
    "cpu-reference; KVK_DEVICE sets the default.\n";

static int fail(const char *what) {
    fprintf(stderr, "kvk: %s%s%s\n", what, *kvk_last_error() ? ": " : "", kvk_last_error());
    return 1;
}

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "kvk: %s%s\n\n%s", msg, arg ? arg : "", USAGE);
    return 2;
}

typedef struct args {
    const char *model, *weights, *device, *resize, *jpeg, *preprocess, *size;
    int top, json, verbose, batch, runs, no_top, no_reference;
    const char **files;
    int file_count;
} args;

static int parse_int(const char *s, int min, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > 1 << 20) return 0;
    *out = (int)v;
    return 1;
}

static int parse_args(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    a->top = 5;
    a->runs = 5;
    a->files = calloc((size_t)argc, sizeof *a->files);
    if (!a->files) return usage_error("out of memory", NULL);
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE()                                                                                    \
    do {                                                                                           \
        if (!next) return usage_error("missing value after ", o);                                  \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(o, "--model")) {
            VALUE();
            a->model = next;
        } else if (!strcmp(o, "--weights")) {
            VALUE();
            a->weights = next;
        } else if (!strcmp(o, "--device")) {
            VALUE();
            a->device = next;
        } else if (!strcmp(o, "--resize")) {
            VALUE();
            a->resize = next;
        } else if (!strcmp(o, "--jpeg")) {
            VALUE();
            a->jpeg = next;
        } else if (!strcmp(o, "--preprocess")) {
            VALUE();
            a->preprocess = next;
        } else if (!strcmp(o, "--size")) {
            VALUE();
            a->size = next;
        } else if (!strcmp(o, "--top")) {
            VALUE();
            if (!parse_int(next, 1, &a->top))
                return usage_error("--top needs a positive number, got ", next);
        } else if (!strcmp(o, "--batch")) {
            VALUE();
            if (!parse_int(next, 1, &a->batch))
                return usage_error("--batch needs a positive number, got ", next);
        } else if (!strcmp(o, "--runs")) {
            VALUE();
            if (!parse_int(next, 1, &a->runs))
                return usage_error("--runs needs a positive number, got ", next);
        } else if (!strcmp(o, "--json"))
            a->json = 1;
        else if (!strcmp(o, "--verbose") || !strcmp(o, "-v"))
            a->verbose = 1;
        else if (!strcmp(o, "--no-top"))
            a->no_top = 1;
        else if (!strcmp(o, "--no-reference"))
            a->no_reference = 1;
        else if (o[0] == '-' && o[1])
            return usage_error("unknown option ", o);
        else
            a->files[a->file_count++] = o;
#undef VALUE
    }
    return 0;
}

static int open_context(const args *a, const char *device, kvk_context **ctx) {
    kvk_context_options co = {.device = device, .verbose = a->verbose};
    if (kvk_context_create(&co, ctx) != KVK_OK) return fail("cannot open the device");
    return 0;
}

/* Keras' own file under ~/.keras/models/, or NULL with a message. */
static const char *default_weights(const kvk_application *app, char *buf, size_t size) {
    const char *home = getenv("HOME");
    snprintf(buf, size, "%s/.keras/models/%s", home ? home : "", app->weights_file);
    FILE *f = fopen(buf, "rb");
    if (f) {
        fclose(f);
        return buf;
    }
    fprintf(stderr,
            "kvk: no --weights given and %s does not exist.\n"
            "     Pass --weights FILE: a Keras .h5 file or a TensorFlow.js model.json.\n",
            buf);
    return NULL;
}

static int parse_mode(const char *s, kvk_preprocess *mode) {
    static const char *const names[] = {"caffe", "tf", "torch", "none"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *mode = (kvk_preprocess)i;
            return 1;
        }
    return 0;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static int cmd_predict(const args *a) {
    if (!a->model) return usage_error("predict needs --model NAME", NULL);
    if (a->file_count == 0) return usage_error("predict needs at least one image", NULL);
    const kvk_application *app = kvk_application_find(a->model);
    if (!app) return fail("cannot predict");
    char path[1024];
    const char *weights = a->weights ? a->weights : default_weights(app, path, sizeof path);
    if (!weights) return 1;
    kvk_resize resize = KVK_RESIZE_NEAREST;
    if (a->resize && !strcmp(a->resize, "bilinear"))
        resize = KVK_RESIZE_BILINEAR;
    else if (a->resize && strcmp(a->resize, "nearest"))
        return usage_error("--resize takes nearest or bilinear, got ", a->resize);
    kvk_jpeg_decoder jpeg = KVK_JPEG_DEFAULT;
    if (a->jpeg && !strcmp(a->jpeg, "stb"))
        jpeg = KVK_JPEG_STB;
    else if (a->jpeg && !strcmp(a->jpeg, "libjpeg"))
        jpeg = KVK_JPEG_LIBJPEG;
    else if (a->jpeg)
        return usage_error("--jpeg takes libjpeg or stb, got ", a->jpeg);
    kvk_preprocess mode;
    if (!parse_mode(a->preprocess ? a->preprocess : app->preprocess, &mode))
        return usage_error("--preprocess takes caffe, tf, torch or none, got ", a->preprocess);

    kvk_context *ctx;
    if (open_context(a, a->device, &ctx)) return 1;
    int batch = a->batch ? a->batch : (a->file_count < 8 ? a->file_count : 8);
    kvk_model_options mo = {
        .architecture = app->name, .weights = weights, .include_top = 1, .batch = batch};
    kvk_model *model;
    if (kvk_model_create(ctx, &mo, &model) != KVK_OK) {
        kvk_context_destroy(ctx);
        return fail("cannot build the model");
    }
    int h, w, c;
    kvk_model_input_shape(model, &h, &w, &c);
    long classes = kvk_model_output_size(model);
    float *input = malloc(sizeof(float) * (size_t)batch * h * w * c);
    float *output = malloc(sizeof(float) * (size_t)batch * classes);
    kvk_prediction *top = calloc((size_t)a->top, sizeof *top);
    int rc = input && output && top ? 0 : fail("out of memory");
    if (a->json) printf("[");
    for (int first = 0; !rc && first < a->file_count; first += batch) {
        int n = a->file_count - first < batch ? a->file_count - first : batch;
        for (int i = 0; i < n && !rc; i++)
            if (kvk_image_load_input(a->files[first + i], w, h, resize, jpeg, mode,
                                     input + (long)i * h * w * c) != KVK_OK)
                rc = fail("cannot read the image");
        if (!rc && kvk_model_run(model, input, n, output) != KVK_OK) rc = fail("inference failed");
        for (int i = 0; i < n && !rc; i++) {
            int k = kvk_decode_predictions(output + (long)i * classes, (int)classes, a->top, top);
            if (a->json) {
                printf("%s{\"image\": ", first + i ? ", " : "");
                print_json_string(a->files[first + i]);
                printf(", \"predictions\": [");
                for (int j = 0; j < k; j++) {
                    printf("%s{\"index\": %d, \"wnid\": ", j ? ", " : "", top[j].index);
                    print_json_string(top[j].wnid ? top[j].wnid : "");
                    printf(", \"label\": ");
                    print_json_string(top[j].label ? top[j].label : "");
                    printf(", \"probability\": %.9g}", top[j].probability);
                }
                printf("]}");
            } else {
                printf("%s:\n", a->files[first + i]);
                for (int j = 0; j < k; j++)
                    printf("  %d. %-10s %-28s %.6f\n", j + 1, top[j].wnid ? top[j].wnid : "-",
                           top[j].label ? top[j].label : "-", top[j].probability);
            }
        }
    }
    if (a->json && !rc) printf("]\n");
    if (!rc && kvk_context_validation_messages(ctx) > 0) {
        fprintf(stderr, "kvk: the Vulkan validation layer reported %d message(s)\n",
                kvk_context_validation_messages(ctx));
        rc = 1;
    }
    free(input);
    free(output);
    free(top);
    kvk_model_destroy(model);
    kvk_context_destroy(ctx);
    return rc;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Times `runs` inferences after one warm-up; prints and returns the median seconds. */
static int bench_one(const args *a, const char *device, int runs, double *median,
                     kvk_model_info *info, char *device_name, size_t name_size) {
    kvk_context *ctx;
    if (open_context(a, device, &ctx)) return 1;
    snprintf(device_name, name_size, "%s", kvk_context_device_name(ctx));
    int h = 0, w = 0;
    if (a->size && sscanf(a->size, "%dx%d", &h, &w) < 2) w = h;
    kvk_model_options mo = {.architecture = a->model,
                            .include_top = !a->no_top,
                            .pooling = a->no_top ? KVK_POOLING_AVG : KVK_POOLING_NONE,
                            .height = h,
                            .width = w,
                            .batch = a->batch ? a->batch : 1,
                            .random_seed = 1};
    kvk_model *model;
    double t0 = now_seconds();
    if (kvk_model_create(ctx, &mo, &model) != KVK_OK) {
        kvk_context_destroy(ctx);
        return fail("cannot build the model");
    }
    double build = now_seconds() - t0;
    int ih, iw, ic;
    kvk_model_input_shape(model, &ih, &iw, &ic);
    long in_size = (long)mo.batch * ih * iw * ic;
    float *input = malloc(sizeof(float) * (size_t)in_size);
    float *output = malloc(sizeof(float) * (size_t)mo.batch * kvk_model_output_size(model));
    double *times = calloc((size_t)runs, sizeof *times);
    int rc = input && output && times ? 0 : fail("out of memory");
    for (long i = 0; !rc && i < in_size; i++) input[i] = (float)((i * 7919) % 255) - 120.0f;
    for (int r = -1; !rc && r < runs; r++) {
        double t = now_seconds();
        if (kvk_model_run(model, input, mo.batch, output) != KVK_OK) rc = fail("inference failed");
        if (r >= 0) times[r] = now_seconds() - t;
    }
    if (!rc) {
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
        *median = times[runs / 2];
        kvk_model_get_info(model, info);
        fprintf(stderr, "  %-48s build %.2f s, first run included in warm-up\n", device_name,
                build);
    }
    free(input);
    free(output);
    free(times);
    kvk_model_destroy(model);
    kvk_context_destroy(ctx);
    return rc;
}

static int cmd_bench(const args *a) {
    if (!a->model) return usage_error("bench needs --model NAME", NULL);
    int batch = a->batch ? a->batch : 1;
    double t_dev, t_ref = 0;
    kvk_model_info info, ref_info;
    char name[320], ref_name[320];
    if (bench_one(a, a->device, a->runs, &t_dev, &info, name, sizeof name)) return 1;
    if (!a->no_reference &&
        bench_one(a, "cpu-reference", 1, &t_ref, &ref_info, ref_name, sizeof ref_name))
        return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double gflop = info.flops * batch / 1e9;
    printf("model        %s, batch %d, %s\n", a->model, batch, a->no_top ? "no top" : "with top");
    printf("device       %s\n", name);
    printf("latency      %.2f ms per batch (median of %d), %.2f ms per image\n", t_dev * 1e3,
           a->runs, t_dev * 1e3 / batch);
    printf("throughput   %.2f images/s, %.2f GFLOP/s (%.2f GFLOP per image)\n", batch / t_dev,
           gflop / t_dev, info.flops / 1e9);
    printf("memory       weights %.1f MiB resident, activation pool %.1f MiB, host peak RSS %.1f "
           "MiB\n",
           info.weight_bytes / 1048576.0, info.activation_bytes / 1048576.0, ru.ru_maxrss / 1024.0);
    if (!a->no_reference)
        printf("reference    %s: %.2f ms per batch, %.2f GFLOP/s; device speed-up x%.1f\n",
               ref_name, t_ref * 1e3, gflop / t_ref, t_ref / t_dev);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "predict"))
        rc = cmd_predict(&a);
    else if (!strcmp(cmd, "bench"))
        rc = cmd_bench(&a);
    else if (!strcmp(cmd, "devices"))
        rc = kvk_list_devices(stdout) == KVK_OK ? 0 : fail("cannot list devices");
    else if (!strcmp(cmd, "inspect")) {
        if (a.file_count != 1)
            rc = usage_error("inspect takes one FILE", NULL);
        else
            rc = kvk_weight_file_inspect(a.files[0], stdout) == KVK_OK ? 0 : fail("cannot inspect");
    } else
        rc = usage_error("unknown command ", cmd);
    free(a.files);
    return rc;
}
