/* kvk: the command-line tool. predict, features, inspect, convert, devices, bench. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/internal.h"
#include "cli_json.h"
#include "core/json.h"
#include "core/npy.h"
#include "keras/config.h"
#include "keras/apps/apps.h"
#include "keras/weights.h"
#include "kvk.h"
#include "bench.h"

#ifndef KVK_VERSION_STRING
#define KVK_VERSION_STRING "unknown"
#endif

/* The commands, their synopses and the options each takes (below). */
enum {
    C_PREDICT = 1,
    C_FEATURES = 2,
    C_INSPECT = 4,
    C_DEVICES = 8,
    C_BENCH = 16,
    C_CONVERT = 32,
    C_ALL = 63
};

static const struct command {
    const char *name;
    int bit;
    const char *synopsis;
} COMMANDS[] = {
    {"predict", C_PREDICT,
     "  kvk predict IMAGE... --model NAME [--weights FILE] [--top K] [--device D] [--json]\n"
     "              [--resize nearest|bilinear] [--jpeg libjpeg|stb] [--preprocess MODE]\n"
     "              [--batch N] [--max-pixels N] [--alpha A] [--depth-multiplier N]\n"
     "              [--precision fp32|fp16] [--verbose]\n"
     "  kvk predict IMAGE... --model-file FILE [--labels FILE] [--size H[xW]] [options as "
     "above]\n"},
    {"features", C_FEATURES,
     "  kvk features IMAGE... --model NAME --layer LAYER [--layer LAYER2...] [--weights FILE]\n"
     "              [--pooling avg|max] [--out FILE.npy] [--json] [--size H[xW]] [--include-top]\n"
     "              [--device D] [--batch N] [--resize nearest|bilinear] [--jpeg libjpeg|stb]\n"
     "              [--preprocess MODE] [--max-pixels N] [--alpha A] [--depth-multiplier N]\n"
     "              [--precision fp32|fp16] [--verbose]\n"
     "  kvk features IMAGE... --model-file FILE --layer LAYER... [options as above]\n"},
    {"inspect", C_INSPECT, "  kvk inspect FILE\n"},
    {"convert", C_CONVERT, "  kvk convert FILE OUT.h5 [--model NAME]\n"},
    {"devices", C_DEVICES, "  kvk devices [--verbose]\n"},
    {"bench", C_BENCH,
     "  kvk bench --model NAME [--batch N[,N...]] [--size H[xW]] [--runs R] [--device D]\n"
     "            [--no-top] [--no-reference] [--peak] [--layers] [--json] [--alpha A]\n"
     "            [--depth-multiplier N] [--precision fp32|fp16] [--verbose]\n"
     "  kvk bench --model NAME --soak N [--batch N] [--size H[xW]] [--device D] [--no-top] "
     "[--json]\n"},
};
#define COMMAND_COUNT ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

static const struct option {
    const char *name;
    int commands; /* C_* bits */
    int value;    /* takes a value */
} OPTIONS[] = {
    {"--model", C_PREDICT | C_FEATURES | C_BENCH | C_CONVERT, 1},
    {"--model-file", C_PREDICT | C_FEATURES, 1},
    {"--labels", C_PREDICT, 1},
    {"--weights", C_PREDICT | C_FEATURES, 1},
    {"--device", C_PREDICT | C_FEATURES | C_BENCH, 1},
    {"--resize", C_PREDICT | C_FEATURES, 1},
    {"--jpeg", C_PREDICT | C_FEATURES, 1},
    {"--preprocess", C_PREDICT | C_FEATURES, 1},
    {"--max-pixels", C_PREDICT | C_FEATURES, 1},
    {"--batch", C_PREDICT | C_FEATURES | C_BENCH, 1},
    {"--json", C_PREDICT | C_FEATURES | C_BENCH, 0},
    {"--top", C_PREDICT, 1},
    {"--layer", C_FEATURES, 1},
    {"--pooling", C_FEATURES, 1},
    {"--out", C_FEATURES, 1},
    {"--include-top", C_FEATURES, 0},
    {"--size", C_PREDICT | C_FEATURES | C_BENCH, 1}, /* predict: with --model-file only */
    {"--runs", C_BENCH, 1},
    {"--alpha", C_PREDICT | C_FEATURES | C_BENCH, 1},
    {"--depth-multiplier", C_PREDICT | C_FEATURES | C_BENCH, 1},
    {"--precision", C_PREDICT | C_FEATURES | C_BENCH, 1},
    {"--no-top", C_BENCH, 0},
    {"--no-reference", C_BENCH, 0},
    {"--peak", C_BENCH, 0},
    {"--layers", C_BENCH, 0},
    {"--soak", C_BENCH, 1},
    {"--verbose", C_ALL, 0},
    {"-v", C_ALL, 0},
};

/* A format: %s is the list of models. */
static const char *const NOTES =
    "models: %s.\n"
    "Without --weights, predict and features look for Keras' own file in ~/.keras/models/\n"
    "(e.g. resnet50_weights_tf_dim_ordering_tf_kernels.h5, or the _notop.h5 file for features\n"
    "without --include-top). Weight files: Keras .h5 (save_weights or model.save, Keras 1 or\n"
    "2, th or tf ordering) or a TensorFlow.js model.json. --device takes an index or a name\n"
    "substring from `kvk devices`, or cpu-reference; KVK_DEVICE sets the default.\n"
    "\n"
    "Your own model: --model-file FILE (or --weights FILE without --model) runs the model\n"
    "saved in FILE with its architecture (Keras model.save .h5, TensorFlow.js model.json):\n"
    "any Sequential or functional model of the supported layers, e.g. a fine-tuned\n"
    "application base with a new head; its input size is the saved one (--size where that\n"
    "is None). --labels FILE names its classes (one per line, or a JSON list); without it a\n"
    "1000-class output is decoded as ImageNet, others print class indices. Preprocessing:\n"
    "the application's when the model is or contains one by name (e.g. a nested 'resnet50':\n"
    "caffe), else none: a custom model's preprocessing is its author's choice, pass\n"
    "--preprocess. With --model NAME and a file saved by model.save, the saved architecture\n"
    "is used when it is or contains NAME (--verbose says which). `inspect` prints the saved\n"
    "architecture's layer table (like model.summary()).\n"
    "convert: any weight file kvk reads, written as OUT.h5 in Keras 2's save_weights layout\n"
    "(that of Keras' own files in ~/.keras/models/, which tf-keras' load_weights and\n"
    "keras.applications' weights=OUT.h5 read): layers in the input file's order, or with\n"
    "--model NAME in the order and under the names of that application in today's Keras.\n"
    "MODE is caffe, tf, torch or none: by default the model's own preprocess_input (caffe for\n"
    "vgg16/19 and resnet50/101/152, torch for densenet*, tf for the others). --alpha A and\n"
    "--depth-multiplier N (MobileNet, MobileNetV2: alpha only) are keras.applications' width\n"
    "arguments: by default the weight file's (told from its layer widths), 1.0 and 1 with\n"
    "random weights; Keras' default file name follows --alpha. --precision fp16 stores the\n"
    "convolution and Dense weights as float16 on the device (half their memory; activations\n"
    "and arithmetic stay float32; about 1e-3 from Keras). Images are read as Keras' load_img\n"
    "(target_size=...) reads them; --batch N runs N images at a time (default: up to 8).\n"
    "Images over --max-pixels N pixels (default: KVK_MAX_IMAGE_PIXELS, else 178956970 as in\n"
    "Pillow; 0: no limit) are refused from their header; over half of it, a warning.\n"
    "\n"
    "features: the outputs of the named Keras layers for all the images, as\n"
    "Model(base.input, [base.get_layer(LAYER).output, ...]) gives them in Keras, one row per\n"
    "image: (N, h, w, c), or (N, c) for flat layers and with --pooling (global average or max\n"
    "pooling of each (h, w, c) output). The base model has no classifier unless --include-top\n"
    "is given (its layers, e.g. fc1 or predictions, need it; default input size only); --size\n"
    "sets the input size without it (default: the model's). --out FILE.npy writes the float32\n"
    "array to FILE.npy, or with several layers one FILE.LAYER.npy per layer, and prints a line\n"
    "'LAYER (shape) -> FILE' for each file. Without --out it prints each layer's shape and, per\n"
    "image, min, max, mean and the first values. --json prints a JSON array with one object per\n"
    "layer: {\"layer\", \"shape\", \"file\"} with --out, else {\"layer\", \"shape\", \"images\",\n"
    "\"values\"}, values being every number as nested lists of that shape (large for early\n"
    "layers: prefer --out).\n"
    "\n"
    "bench: random weights and inputs; per batch (--batch 1,8,32) the load time, the first\n"
    "inference, min/median/max of --runs timed runs (10), images/s, GFLOP/s, memory; the CPU\n"
    "reference in the same run (unless --no-reference). --peak measures the device's GEMM and\n"
    "copy ceilings with probe shaders; --layers times each layer with GPU timestamps; --json\n"
    "writes one JSON object. --soak N runs N inferences and samples host and device memory:\n"
    "exit status 3 when they did not stay flat.\n"
    "\n"
    "kvk help COMMAND or kvk COMMAND --help: one command's usage; kvk --version: the version.\n";

/* All commands' usage, or one's (`only`), then the notes. */
static void print_usage_of(FILE *f, const struct command *only) {
    fprintf(f, "usage:\n");
    for (int i = 0; i < COMMAND_COUNT; i++)
        if (!only || only == &COMMANDS[i]) fputs(COMMANDS[i].synopsis, f);
    fputc('\n', f);
    fprintf(f, NOTES, kvk_application_names());
}

static void print_usage(FILE *f) {
    print_usage_of(f, NULL);
}

static const struct command *find_command(const char *name) {
    for (int i = 0; i < COMMAND_COUNT; i++)
        if (!strcmp(COMMANDS[i].name, name)) return &COMMANDS[i];
    return NULL;
}

static const struct option *find_option(const char *name) {
    for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++)
        if (!strcmp(OPTIONS[i].name, name)) return &OPTIONS[i];
    return NULL;
}

static int fail(const char *what) {
    fprintf(stderr, "kvk: %s%s%s\n", what, *kvk_last_error() ? ": " : "", kvk_last_error());
    return 1;
}

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "kvk: %s%s\n\n", msg, arg ? arg : "");
    print_usage(stderr);
    return 2;
}

typedef struct args {
    const char *model, *weights, *device, *resize, *jpeg, *preprocess, *size, *pooling, *out;
    const char *model_file, *labels;
    int top, with_top, json, verbose, batch, runs, no_top, no_reference, peak, time_layers;
    const char *batch_list; /* bench: --batch N[,N...] */
    long soak;              /* bench: --soak N */
    int runs_given;
    double alpha;            /* --alpha; 0: not given */
    int depth_multiplier;    /* --depth-multiplier; 0: not given */
    kvk_precision precision; /* --precision */
    long long max_pixels;    /* --max-pixels; 0: not given */
    const char **files, **layers;
    int file_count, layer_count;
} args;

static int parse_int(const char *s, int min, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > 1 << 20) return 0;
    *out = (int)v;
    return 1;
}

/* "H" or "HxW", positive. */
static int parse_size(const char *s, int *h, int *w) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *x = strchr(buf, 'x');
    if (x) *x = 0;
    return parse_int(buf, 1, h) && parse_int(x ? x + 1 : buf, 1, w);
}

/* "--out is an option of features" */
static int wrong_command(const char *option, const struct command *cmd) {
    const struct option *opt = find_option(option);
    char owners[128] = "";
    size_t n = 0;
    for (int i = 0; i < COMMAND_COUNT && n < sizeof owners; i++)
        if (opt->commands & COMMANDS[i].bit)
            n += (size_t)snprintf(owners + n, sizeof owners - n, "%s%s", n ? ", " : "",
                                  COMMANDS[i].name);
    fprintf(stderr, "kvk: %s does not take %s (an option of %s)\n\n", cmd->name, option, owners);
    print_usage_of(stderr, cmd);
    return 2;
}

static int parse_args(int argc, char **argv, const struct command *cmd, args *a) {
    memset(a, 0, sizeof *a);
    a->top = 5;
    a->runs = 10;
    a->files = calloc((size_t)argc, sizeof *a->files);
    a->layers = calloc((size_t)argc, sizeof *a->layers);
    if (!a->files || !a->layers) return usage_error("out of memory", NULL);
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] == '-' && o[1]) {
            const struct option *opt = find_option(o);
            if (!opt) return usage_error("unknown option ", o);
            if (!(opt->commands & cmd->bit)) return wrong_command(o, cmd);
        }
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
        } else if (!strcmp(o, "--model-file")) {
            VALUE();
            a->model_file = next;
        } else if (!strcmp(o, "--labels")) {
            VALUE();
            a->labels = next;
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
        } else if (!strcmp(o, "--layer")) {
            VALUE();
            if (!*next) return usage_error("--layer needs a layer name", NULL);
            a->layers[a->layer_count++] = next;
        } else if (!strcmp(o, "--pooling")) {
            VALUE();
            a->pooling = next;
        } else if (!strcmp(o, "--out")) {
            VALUE();
            if (!*next) return usage_error("--out needs a file name", NULL);
            a->out = next;
        } else if (!strcmp(o, "--include-top"))
            a->with_top = 1;
        else if (!strcmp(o, "--top")) {
            VALUE();
            if (!parse_int(next, 1, &a->top))
                return usage_error("--top needs a positive number, got ", next);
        } else if (!strcmp(o, "--batch") && cmd->bit == C_BENCH) {
            VALUE();
            a->batch_list = next; /* a list: checked by cmd_bench */
        } else if (!strcmp(o, "--batch")) {
            VALUE();
            if (!parse_int(next, 1, &a->batch))
                return usage_error("--batch needs a positive number, got ", next);
        } else if (!strcmp(o, "--max-pixels")) {
            VALUE();
            char *end;
            errno = 0;
            a->max_pixels = strtoll(next, &end, 10);
            if (errno || *end || !*next || a->max_pixels < 0)
                return usage_error("--max-pixels needs a number of pixels (0: no limit), got ",
                                   next);
            if (a->max_pixels == 0) a->max_pixels = -1;
        } else if (!strcmp(o, "--alpha")) {
            VALUE();
            char *end;
            errno = 0;
            a->alpha = strtod(next, &end);
            if (errno || *end || !*next || !(a->alpha > 0 && a->alpha <= 10))
                return usage_error("--alpha needs a width multiplier above 0 (e.g. 0.35), got ",
                                   next);
        } else if (!strcmp(o, "--precision")) {
            VALUE();
            if (strcmp(next, "fp32") && strcmp(next, "fp16"))
                return usage_error("--precision is fp32 or fp16, got ", next);
            a->precision = strcmp(next, "fp16") ? KVK_PRECISION_FP32 : KVK_PRECISION_FP16;
        } else if (!strcmp(o, "--depth-multiplier")) {
            VALUE();
            if (!parse_int(next, 1, &a->depth_multiplier))
                return usage_error("--depth-multiplier needs a positive number, got ", next);
        } else if (!strcmp(o, "--runs")) {
            VALUE();
            if (!parse_int(next, 1, &a->runs))
                return usage_error("--runs needs a positive number, got ", next);
            a->runs_given = 1;
        } else if (!strcmp(o, "--soak")) {
            VALUE();
            int n;
            if (!parse_int(next, 1, &n))
                return usage_error("--soak needs a positive number of inferences, got ", next);
            a->soak = n;
        } else if (!strcmp(o, "--json"))
            a->json = 1;
        else if (!strcmp(o, "--verbose") || !strcmp(o, "-v"))
            a->verbose = 1;
        else if (!strcmp(o, "--no-top"))
            a->no_top = 1;
        else if (!strcmp(o, "--no-reference"))
            a->no_reference = 1;
        else if (!strcmp(o, "--peak"))
            a->peak = 1;
        else if (!strcmp(o, "--layers"))
            a->time_layers = 1;
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

/* --weights, or Keras' own file under ~/.keras/models/ (the _notop file for a model without
 * its classifier); NULL with a message. */
static const char *model_weights(const args *a, const kvk_application *app, int include_top,
                                 char *buf, size_t size) {
    if (a->weights) return a->weights;
    const char *home = getenv("HOME");
    char name[256]; /* MobileNet's depend on alpha and size: --alpha (else 1.0) and 224 here */
    snprintf(buf, size, "%s/.keras/models/%s", home ? home : "",
             kvk_application_weights_file(app, a->alpha, 0, 0, include_top, name, sizeof name));
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

/* How images are read, shared by predict and features: the model's input size, and --resize,
 * --jpeg and --preprocess (default: the model's own preprocess_input). */
typedef struct image_reader {
    kvk_resize resize;
    kvk_jpeg_decoder jpeg;
    kvk_preprocess mode;
    int height, width, channels;
} image_reader;

/* Checks the options before anything is built; 0 or a usage error's exit status. */
static int image_options(const args *a, image_reader *r) {
    memset(r, 0, sizeof *r);
    r->resize = KVK_RESIZE_NEAREST;
    if (a->resize && !strcmp(a->resize, "bilinear"))
        r->resize = KVK_RESIZE_BILINEAR;
    else if (a->resize && strcmp(a->resize, "nearest"))
        return usage_error("--resize takes nearest or bilinear, got ", a->resize);
    r->jpeg = KVK_JPEG_DEFAULT;
    if (a->jpeg && !strcmp(a->jpeg, "stb"))
        r->jpeg = KVK_JPEG_STB;
    else if (a->jpeg && !strcmp(a->jpeg, "libjpeg"))
        r->jpeg = KVK_JPEG_LIBJPEG;
    else if (a->jpeg)
        return usage_error("--jpeg takes libjpeg or stb, got ", a->jpeg);
    if (a->preprocess && !parse_mode(a->preprocess, &r->mode))
        return usage_error("--preprocess takes caffe, tf, torch or none, got ", a->preprocess);
    if (a->max_pixels) kvk_image_set_max_pixels(a->max_pixels);
    return 0;
}

/* Completes the reader from the built model. */
static int image_reader_for(const args *a, const kvk_model *model, image_reader *r) {
    kvk_model_input_shape(model, &r->height, &r->width, &r->channels);
    const char *mode = a->preprocess ? a->preprocess : kvk_model_preprocess_mode(model);
    if (!mode || !parse_mode(mode, &r->mode)) {
        fprintf(stderr, "kvk: the model's preprocess mode '%s' is unknown: pass --preprocess\n",
                mode ? mode : "(null)");
        return 1;
    }
    if (a->verbose)
        fprintf(stderr, "kvk: input %dx%dx%d, preprocess %s\n", r->height, r->width, r->channels,
                mode);
    return 0;
}

/* Reads files[0..n) into consecutive input images; 0 or 1 with a message. */
static int read_images(const image_reader *r, const char *const *files, int n, float *input) {
    long per_image = (long)r->height * r->width * r->channels;
    for (int i = 0; i < n; i++)
        if (kvk_image_load_input(files[i], r->width, r->height, r->resize, r->jpeg, r->mode,
                                 input + i * per_image) != KVK_OK)
            return fail("cannot read the image");
    return 0;
}

static int check_validation(kvk_context *ctx) {
    if (kvk_context_validation_messages(ctx) <= 0) return 0;
    fprintf(stderr, "kvk: the Vulkan validation layer reported %d message(s)\n",
            kvk_context_validation_messages(ctx));
    return 1;
}

int cli_print_json(kvk_json_writer *w) {
    if (w->failed) {
        fprintf(stderr, "kvk: out of memory for the JSON output\n");
        return 1;
    }
    if (w->length && fwrite(w->text, 1, w->length, stdout) != w->length) {
        fprintf(stderr, "kvk: cannot write the JSON output\n");
        return 1;
    }
    return 0;
}

/* --labels FILE: one label per line, or a JSON list of strings. */
typedef struct labels {
    char **items;
    int count;
} labels;

static void labels_free(labels *l) {
    for (int i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int labels_add(labels *l, const char *s, size_t n) {
    char **items = realloc(l->items, (size_t)(l->count + 1) * sizeof *items);
    if (!items) return 0;
    l->items = items;
    if (!(items[l->count] = malloc(n + 1))) return 0;
    memcpy(items[l->count], s, n);
    items[l->count++][n] = '\0';
    return 1;
}

static int read_labels(const char *path, labels *l) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "kvk: cannot open the labels %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t size = 0, cap = 4096;
    char *text = malloc(cap);
    for (size_t n; text && (n = fread(text + size, 1, cap - size, f)) > 0;) {
        size += n;
        if (size == cap) {
            char *bigger = cap < (64u << 20) ? realloc(text, cap *= 2) : NULL;
            if (!bigger) free(text);
            text = bigger;
        }
    }
    fclose(f);
    if (!text) {
        fprintf(stderr, "kvk: %s: out of memory or larger than 64 MiB\n", path);
        return 1;
    }
    size_t i = 0;
    while (i < size && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    int rc = 0;
    if (i < size && text[i] == '[') {
        kvk_json *list = NULL;
        if (kvk_json_parse(text, size, path, &list) != KVK_OK) {
            rc = fail("cannot read the labels");
        } else {
            for (size_t k = 0; !rc && k < list->length; k++) {
                const char *label = kvk_json_string(&list->items[k]);
                if (!label) {
                    fprintf(stderr, "kvk: %s: item %zu of the JSON list is not a string\n", path,
                            k);
                    rc = 1;
                } else if (!labels_add(l, label, strlen(label))) {
                    rc = fail("out of memory");
                }
            }
        }
        kvk_json_free(list);
    } else {
        for (size_t p = 0; !rc && p < size;) {
            size_t e = p;
            while (e < size && text[e] != '\n') e++;
            size_t n = e - p;
            if (n && text[p + n - 1] == '\r') n--;
            if (!(e == size && n == 0) && !labels_add(l, text + p, n)) rc = fail("out of memory");
            p = e + 1;
        }
    }
    free(text);
    if (!rc && l->count == 0) {
        fprintf(stderr, "kvk: %s holds no labels\n", path);
        rc = 1;
    }
    if (rc) labels_free(l);
    return rc;
}

/* Whether the model comes from a file's saved architecture: --model-file, or --weights
 * without --model. */
static int from_saved_model(const args *a) {
    return a->model_file || (!a->model && a->weights);
}

static int cmd_predict(const args *a) {
    int saved = from_saved_model(a);
    if (!a->model && !saved)
        return usage_error("predict needs --model NAME, or --model-file FILE (a model saved "
                           "with its architecture)",
                           NULL);
    if (a->model && a->model_file)
        return usage_error("--model and --model-file contradict: --model-file runs the "
                           "architecture saved in the file",
                           NULL);
    if (a->file_count == 0) return usage_error("predict needs at least one image", NULL);
    if (a->size && !saved)
        return usage_error("predict takes --size only with --model-file (a keras.applications "
                           "classifier runs at its default size), got --size ",
                           a->size);
    const kvk_application *app = NULL;
    char path[1024];
    const char *weights = a->weights;
    if (!saved) {
        if (!(app = kvk_application_find(a->model))) return fail("cannot predict");
        if (!(weights = model_weights(a, app, 1, path, sizeof path))) return 1;
    }
    image_reader reader;
    int rc = image_options(a, &reader);
    if (rc) return rc;
    labels names = {0};
    if (a->labels && read_labels(a->labels, &names)) return 1;

    kvk_context *ctx;
    if (open_context(a, a->device, &ctx)) {
        labels_free(&names);
        return 1;
    }
    /* never more images per run than there are images: --batch 1000000 with one image would
     * otherwise size the model (and its memory) for a million */
    int batch = a->batch ? a->batch : 8;
    if (batch > a->file_count) batch = a->file_count;
    int height = 0, width = 0;
    if (saved && a->size && !parse_size(a->size, &height, &width)) {
        kvk_context_destroy(ctx);
        labels_free(&names);
        return usage_error("--size takes H or HxW (positive numbers), got ", a->size);
    }
    kvk_model_options mo = {.architecture = app ? app->name : NULL,
                            .model_file = a->model_file,
                            .weights = weights,
                            .include_top = 1,
                            .height = height,
                            .width = width,
                            .batch = batch,
                            .alpha = a->alpha,
                            .depth_multiplier = a->depth_multiplier,
                            .precision = a->precision};
    kvk_model *model;
    if (kvk_model_create(ctx, &mo, &model) != KVK_OK) {
        kvk_context_destroy(ctx);
        labels_free(&names);
        return fail("cannot build the model");
    }
    if (a->verbose)
        fprintf(stderr, "kvk: model '%s' from %s\n", kvk_model_name(model),
                !strcmp(kvk_model_source(model), "config") ? "the architecture saved in the file"
                                                           : "kvk's keras.applications builder");
    rc = image_reader_for(a, model, &reader);
    long classes = kvk_model_output_size(model);
    if (!rc && names.count && names.count != classes) {
        fprintf(stderr, "kvk: %s has %d labels, the model has %ld outputs\n", a->labels,
                names.count, classes);
        rc = 1;
    }
    int imagenet = classes == 1000 && !names.count;
    int k_max = a->top < classes ? a->top : (int)classes;
    float *input =
        malloc(sizeof(float) * (size_t)batch * reader.height * reader.width * reader.channels);
    float *output = malloc(sizeof(float) * (size_t)batch * classes);
    kvk_prediction *top = calloc((size_t)(k_max > 0 ? k_max : 1), sizeof *top);
    if (!rc && !(input && output && top)) rc = fail("out of memory");
    /* --json: the document is built in memory and printed only when every image succeeded,
     * so that an error leaves nothing half-written on stdout */
    kvk_json_writer json = {0};
    kvk_json_write_raw(&json, "[");
    for (int first = 0; !rc && first < a->file_count; first += batch) {
        int n = a->file_count - first < batch ? a->file_count - first : batch;
        rc = read_images(&reader, a->files + first, n, input);
        if (!rc && kvk_model_run(model, input, n, output) != KVK_OK) rc = fail("inference failed");
        for (int i = 0; i < n && !rc; i++) {
            int k = kvk_decode_predictions(output + (long)i * classes, (int)classes, k_max, top);
            for (int j = 0; j < k && names.count; j++) top[j].label = names.items[top[j].index];
            if (a->json) {
                kvk_json_write_raw(&json, first + i ? ", {\"image\": " : "{\"image\": ");
                kvk_json_write_string(&json, a->files[first + i]);
                kvk_json_write_raw(&json, ", \"predictions\": [");
                for (int j = 0; j < k; j++) {
                    kvk_json_write_raw(&json, j ? ", {\"index\": " : "{\"index\": ");
                    kvk_json_write_int(&json, top[j].index);
                    if (imagenet) {
                        kvk_json_write_raw(&json, ", \"wnid\": ");
                        kvk_json_write_string(&json, top[j].wnid ? top[j].wnid : "");
                    }
                    kvk_json_write_raw(&json, ", \"label\": ");
                    if (top[j].label)
                        kvk_json_write_string(&json, top[j].label);
                    else
                        kvk_json_write_raw(&json, "null");
                    kvk_json_write_raw(&json, imagenet ? ", \"probability\": " : ", \"score\": ");
                    kvk_json_write_number(&json, top[j].probability); /* NaN: null */
                    kvk_json_write_raw(&json, "}");
                }
                kvk_json_write_raw(&json, "]}");
            } else {
                printf("%s:\n", a->files[first + i]);
                for (int j = 0; j < k; j++) {
                    if (imagenet) {
                        printf("  %d. %-10s %-28s %.6f\n", j + 1, top[j].wnid ? top[j].wnid : "-",
                               top[j].label ? top[j].label : "-", top[j].probability);
                    } else if (top[j].label) {
                        printf("  %d. %-28s %.6f\n", j + 1, top[j].label, top[j].probability);
                    } else {
                        char idx[32];
                        snprintf(idx, sizeof idx, "class %d", top[j].index);
                        printf("  %d. %-28s %.6f\n", j + 1, idx, top[j].probability);
                    }
                }
            }
        }
    }
    kvk_json_write_raw(&json, "]\n");
    if (!rc) rc = check_validation(ctx);
    if (a->json && !rc) rc = cli_print_json(&json);
    kvk_json_writer_free(&json);
    free(input);
    free(output);
    free(top);
    labels_free(&names);
    kvk_model_destroy(model);
    kvk_context_destroy(ctx);
    return rc;
}

/* features ---------------------------------------------------------------------------------- */

/* One requested layer: its output, and where --out puts it. */
typedef struct feature {
    const char *name;
    int ndim;         /* with the batch dimension: 2 or 4 */
    int64_t dims[4];  /* (N, c) or (N, h, w, c) */
    long per_image;   /* floats */
    float *values;    /* N * per_image */
    char *path, *tmp; /* --out: the final name, and the temporary file written first */
} feature;

/* FILE.npy -> FILE.LAYER.npy (FILE -> FILE.LAYER.npy without the suffix); '/' and other
 * characters a file name should not hold become '_'. */
static char *layer_path(const char *out, const char *layer) {
    size_t n = strlen(out), base = n;
    if (n > 4 && !strcmp(out + n - 4, ".npy")) base = n - 4;
    char *p = malloc(n + strlen(layer) + 6);
    if (!p) return NULL;
    memcpy(p, out, base);
    char *q = p + base;
    *q++ = '.';
    for (const char *s = layer; *s; s++)
        *q++ = *s == '/' || *s == '\\' || (unsigned char)*s < 0x20 ? '_' : *s;
    strcpy(q, ".npy");
    return p;
}

/* A temporary file next to `path`, created now (so that an unwritable place fails before any
 * work), with the permissions a new file gets. */
static char *temp_beside(const char *path) {
    size_t size = strlen(path) + 16;
    char *t = malloc(size);
    if (!t) {
        fprintf(stderr, "kvk: out of memory\n");
        return NULL;
    }
    snprintf(t, size, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(t);
    if (fd < 0) {
        fprintf(stderr, "kvk: cannot write %s: %s\n", path, strerror(errno));
        free(t);
        return NULL;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp's 0600 otherwise; a failure only leaves that */
    close(fd);
    return t;
}

static void free_features(feature *f, int count) {
    for (int k = 0; k < count; k++) {
        if (f[k].tmp) unlink(f[k].tmp);
        free(f[k].tmp);
        free(f[k].path);
        free(f[k].values);
    }
    free(f);
}

static void print_shape(const feature *f) {
    printf("(");
    for (int d = 0; d < f->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)f->dims[d]);
    printf(")");
}

/* values as nested lists of shape dims[0..ndim) */
static const float *json_array(kvk_json_writer *w, const float *v, const int64_t *dims, int ndim) {
    kvk_json_write_raw(w, "[");
    for (int64_t i = 0; i < dims[0] && !w->failed; i++) {
        if (i) kvk_json_write_raw(w, ", ");
        if (ndim == 1)
            kvk_json_write_number(w, *v++); /* NaN and Inf: null */
        else
            v = json_array(w, v, dims + 1, ndim - 1);
    }
    kvk_json_write_raw(w, "]");
    return v;
}

/* 0, or 1 with a message */
static int print_features(const args *a, const feature *f, int count) {
    if (a->json) { /* built whole, then printed */
        kvk_json_writer w = {0};
        kvk_json_write_raw(&w, "[");
        for (int k = 0; k < count; k++) {
            kvk_json_write_raw(&w, k ? ", {\"layer\": " : "{\"layer\": ");
            kvk_json_write_string(&w, f[k].name);
            kvk_json_write_raw(&w, ", \"shape\": [");
            for (int d = 0; d < f[k].ndim; d++) {
                if (d) kvk_json_write_raw(&w, ", ");
                kvk_json_write_int(&w, f[k].dims[d]);
            }
            kvk_json_write_raw(&w, "]");
            if (a->out) {
                kvk_json_write_raw(&w, ", \"file\": ");
                kvk_json_write_string(&w, f[k].path);
            } else {
                kvk_json_write_raw(&w, ", \"images\": [");
                for (int i = 0; i < a->file_count; i++) {
                    if (i) kvk_json_write_raw(&w, ", ");
                    kvk_json_write_string(&w, a->files[i]);
                }
                kvk_json_write_raw(&w, "], \"values\": ");
                json_array(&w, f[k].values, f[k].dims, f[k].ndim);
            }
            kvk_json_write_raw(&w, "}");
        }
        kvk_json_write_raw(&w, "]\n");
        int rc = cli_print_json(&w);
        kvk_json_writer_free(&w);
        return rc;
    }
    for (int k = 0; k < count; k++) {
        if (a->out) {
            printf("%s ", f[k].name);
            print_shape(&f[k]);
            printf(" -> %s\n", f[k].path);
        } else {
            printf("%s ", f[k].name);
            print_shape(&f[k]);
            printf(":\n");
            for (int i = 0; i < a->file_count; i++) {
                const float *v = f[k].values + (long)i * f[k].per_image;
                double lo = v[0], hi = v[0], sum = 0;
                for (long j = 0; j < f[k].per_image; j++) {
                    lo = v[j] < lo ? v[j] : lo;
                    hi = v[j] > hi ? v[j] : hi;
                    sum += v[j];
                }
                printf("  %s: min %.6g max %.6g mean %.6g first", a->files[i], lo, hi,
                       sum / (double)f[k].per_image);
                for (long j = 0; j < f[k].per_image && j < 8; j++) printf(" %.6g", (double)v[j]);
                printf("%s\n", f[k].per_image > 8 ? " ..." : "");
            }
        }
    }
    return 0;
}

/* The library's message; for a layer the model without its classifier lacks, a hint. */
static int model_error(const args *a) {
    int layer =
        !a->with_top && !from_saved_model(a) && strstr(kvk_last_error(), "has no layer named");
    fail("cannot build the model");
    if (layer) fprintf(stderr, "kvk: (layers of the classifier need --include-top)\n");
    if (a->with_top && a->size)
        fprintf(stderr,
                "kvk: (--include-top builds the classifier: at the model's default size only)\n");
    return 1;
}

static int cmd_features(const args *a) {
    int saved = from_saved_model(a);
    if (!a->model && !saved)
        return usage_error("features needs --model NAME, or --model-file FILE (a model saved "
                           "with its architecture)",
                           NULL);
    if (a->model && a->model_file)
        return usage_error("--model and --model-file contradict: --model-file runs the "
                           "architecture saved in the file",
                           NULL);
    if (a->layer_count == 0)
        return usage_error("features needs --layer LAYER (a Keras layer name, e.g. block4_pool)",
                           NULL);
    if (a->file_count == 0) return usage_error("features needs at least one image", NULL);
    kvk_pooling pooling = KVK_POOLING_NONE;
    if (a->pooling && !strcmp(a->pooling, "avg"))
        pooling = KVK_POOLING_AVG;
    else if (a->pooling && !strcmp(a->pooling, "max"))
        pooling = KVK_POOLING_MAX;
    else if (a->pooling && strcmp(a->pooling, "none"))
        return usage_error("--pooling takes avg or max, got ", a->pooling);
    int height = 0, width = 0;
    if (a->size && !parse_size(a->size, &height, &width))
        return usage_error("--size takes H or HxW (positive numbers), got ", a->size);
    image_reader reader;
    int rc = image_options(a, &reader);
    if (rc) return rc;
    const kvk_application *app = NULL;
    char wpath[1024];
    const char *weights = a->weights;
    if (!saved) {
        if (!(app = kvk_application_find(a->model))) return fail("cannot extract features");
        if (!(weights = model_weights(a, app, a->with_top, wpath, sizeof wpath))) return 1;
    }

    int count = a->layer_count;
    feature *f = calloc((size_t)count, sizeof *f);
    if (!f) return fail("out of memory");
    for (int k = 0; k < count && !rc; k++) {
        f[k].name = a->layers[k];
        if (!a->out) continue;
        f[k].path = count == 1 ? strdup(a->out) : layer_path(a->out, a->layers[k]);
        if (!f[k].path) rc = fail("out of memory");
        for (int j = 0; j < k && !rc; j++)
            if (!strcmp(f[j].path, f[k].path)) {
                fprintf(stderr, "kvk: --layer %s and --layer %s would both be written to %s\n",
                        f[j].name, f[k].name, f[k].path);
                rc = 1;
            }
        if (!rc && !(f[k].tmp = temp_beside(f[k].path))) rc = 1;
    }
    if (rc) {
        free_features(f, count);
        return rc;
    }

    kvk_context *ctx;
    if (open_context(a, a->device, &ctx)) {
        free_features(f, count);
        return 1;
    }
    int batch = a->batch ? a->batch : 8;
    if (batch > a->file_count) batch = a->file_count;
    kvk_model_options mo = {.architecture = app ? app->name : NULL,
                            .model_file = a->model_file,
                            .weights = weights,
                            .include_top = a->with_top,
                            .height = height,
                            .width = width,
                            .batch = batch,
                            .output_layers = a->layers,
                            .output_layer_count = count,
                            .output_pooling = pooling,
                            .alpha = a->alpha,
                            .depth_multiplier = a->depth_multiplier,
                            .precision = a->precision};
    if (a->verbose && app)
        fprintf(stderr, "kvk: %s %s, weights %s, %d image(s) per run\n", app->name,
                a->with_top ? "with its classifier" : "without its classifier", weights, batch);
    if (a->verbose && !app)
        fprintf(stderr, "kvk: the model saved in %s, %d image(s) per run\n",
                a->model_file ? a->model_file : weights, batch);
    kvk_model *model = NULL;
    if (kvk_model_create(ctx, &mo, &model) != KVK_OK) rc = model_error(a);
    if (!rc) rc = image_reader_for(a, model, &reader);
    if (!rc && kvk_model_output_count(model) != count) {
        fprintf(stderr, "kvk: the model has %d outputs for %d layers\n",
                kvk_model_output_count(model), count);
        rc = 1;
    }
    float **outputs = calloc((size_t)count, sizeof *outputs);
    if (!rc && !outputs) rc = fail("out of memory");
    for (int k = 0; k < count && !rc; k++) {
        const char *name = kvk_model_output_name(model, k);
        if (name) f[k].name = name;
        int dims[3];
        int nd = kvk_model_output_dims(model, k, dims);
        f[k].ndim = nd + 1;
        f[k].dims[0] = a->file_count;
        for (int d = 0; d < nd; d++) f[k].dims[d + 1] = dims[d];
        f[k].per_image = kvk_model_output_floats(model, k);
        f[k].values = malloc(sizeof(float) * (size_t)a->file_count * (size_t)f[k].per_image);
        if (!f[k].values) rc = fail("out of memory for the features");
        if (a->verbose)
            fprintf(stderr, "kvk: %s: %ld floats per image\n", f[k].name, f[k].per_image);
    }
    float *input = NULL;
    if (!rc) {
        input =
            malloc(sizeof(float) * (size_t)batch * reader.height * reader.width * reader.channels);
        if (!input) rc = fail("out of memory");
    }
    for (int first = 0; !rc && first < a->file_count; first += batch) {
        int n = a->file_count - first < batch ? a->file_count - first : batch;
        rc = read_images(&reader, a->files + first, n, input);
        for (int k = 0; k < count; k++) outputs[k] = f[k].values + (long)first * f[k].per_image;
        if (!rc && kvk_model_run_outputs(model, input, n, outputs) != KVK_OK)
            rc = fail("inference failed");
    }
    if (!rc) rc = check_validation(ctx);
    /* Every file complete before any is renamed into place. */
    for (int k = 0; k < count && !rc && a->out; k++)
        if (kvk_npy_write(f[k].tmp, f[k].values, f[k].ndim, f[k].dims) != KVK_OK)
            rc = fail("cannot write the features");
    for (int k = 0; k < count && !rc && a->out; k++) {
        if (rename(f[k].tmp, f[k].path)) {
            fprintf(stderr, "kvk: cannot write %s: %s\n", f[k].path, strerror(errno));
            rc = 1;
        } else {
            free(f[k].tmp);
            f[k].tmp = NULL;
        }
    }
    if (!rc) rc = print_features(a, f, count);
    free(input);
    free(outputs);
    free_features(f, count);
    kvk_model_destroy(model);
    kvk_context_destroy(ctx);
    return rc;
}

/* --batch 1,8,32: positive numbers, each once, no empty item. */
static int parse_batches(const char *list, kvk_bench_options *o) {
    o->batch_count = 0;
    for (const char *item = list;; item++) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        char buf[16];
        int n;
        if (len == 0 || len >= sizeof buf || o->batch_count == KVK_BENCH_MAX_BATCHES) return 0;
        memcpy(buf, item, len);
        buf[len] = 0;
        if (!parse_int(buf, 1, &n)) return 0;
        for (int k = 0; k < o->batch_count; k++)
            if (o->batches[k] == n) return 0;
        o->batches[o->batch_count++] = n;
        if (!comma) return 1;
        item = comma;
    }
}

static int cmd_bench(const args *a) {
    if (!a->model) return usage_error("bench needs --model NAME", NULL);
    kvk_bench_options o = {.model = a->model,
                           .device = a->device,
                           .no_top = a->no_top,
                           .alpha = a->alpha,
                           .depth_multiplier = a->depth_multiplier,
                           .precision = a->precision,
                           .runs = a->runs,
                           .no_reference = a->no_reference,
                           .peak = a->peak,
                           .layers = a->time_layers,
                           .soak = a->soak,
                           .json = a->json,
                           .verbose = a->verbose,
                           .batches = {1},
                           .batch_count = 1};
    if (!kvk_application_find(a->model)) return fail("cannot benchmark");
    if (a->size && !parse_size(a->size, &o.height, &o.width))
        return usage_error("--size takes H or HxW (positive numbers), got ", a->size);
    if (a->batch_list && !parse_batches(a->batch_list, &o))
        return usage_error("--batch takes positive numbers separated by commas, each once (at "
                           "most 16), got ",
                           a->batch_list);
    if (a->soak &&
        (a->peak || a->time_layers || a->runs_given || a->no_reference || o.batch_count > 1))
        return usage_error("--soak runs alone: with --model, --size, --device, --no-top, --json "
                           "and one --batch",
                           NULL);
    return kvk_bench_run(&o);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *first = argv[1];
    if (!strcmp(first, "--version") || !strcmp(first, "-V") || !strcmp(first, "version")) {
        printf("kvk %s\n", KVK_VERSION_STRING);
        return 0;
    }
    if (!strcmp(first, "--help") || !strcmp(first, "-h") || !strcmp(first, "help")) {
        const struct command *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (argc > 2 && !c) return usage_error("help: unknown command ", argv[2]);
        print_usage_of(stdout, c);
        return 0;
    }
    const struct command *command = find_command(first);
    if (!command) return usage_error("unknown command ", first);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_usage_of(stdout, command);
            return 0;
        }
        const struct option *opt = find_option(argv[i]);
        if (opt && opt->value) i++; /* "--layer -h" names a layer */
    }
    args a;
    int rc = parse_args(argc, argv, command, &a);
    if (rc) return rc;
    const char *cmd = command->name;
    if ((command->bit & (C_DEVICES | C_BENCH)) && a.file_count)
        rc = usage_error("unexpected argument ", a.files[0]);
    else if (!strcmp(cmd, "predict"))
        rc = cmd_predict(&a);
    else if (!strcmp(cmd, "features"))
        rc = cmd_features(&a);
    else if (!strcmp(cmd, "bench"))
        rc = cmd_bench(&a);
    else if (!strcmp(cmd, "devices"))
        rc = kvk_describe_devices(stdout, a.verbose) == KVK_OK ? 0 : fail("cannot list devices");
    else if (!strcmp(cmd, "convert")) {
        if (a.file_count != 2)
            rc = usage_error("convert takes FILE and OUT.h5", NULL);
        else if (kvk_convert_weights(a.files[0], a.files[1], a.model) != KVK_OK)
            rc = fail("cannot convert");
        else
            printf("%s -> %s\n", a.files[0], a.files[1]);
    } else {
        if (a.file_count != 1)
            rc = usage_error("inspect takes one FILE", NULL);
        else
            rc = kvk_weight_file_inspect(a.files[0], stdout) == KVK_OK &&
                         kvk_config_inspect_file(a.files[0], stdout) == KVK_OK
                     ? 0
                     : fail("cannot inspect");
    }
    free(a.files);
    free(a.layers);
    return rc;
}
