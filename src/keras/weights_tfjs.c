/* The TensorFlow.js layers format: model.json holds the Keras config (modelTopology) and a
 * weightsManifest of groups; each group's shard files, concatenated in order, hold its
 * weights back to back as little-endian float32. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "core/error.h"
#include "keras/weights_internal.h"

/* model.json is text; anything this large is not one. */
#define MAX_JSON_BYTES (256u << 20)

static kvk_status read_text(const char *path, char **text, size_t *length) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return kvk_fail(KVK_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return kvk_fail(KVK_ERROR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    if ((unsigned long)size > MAX_JSON_BYTES) {
        fclose(f);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %ld bytes is too large for a model.json", path,
                        size);
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (n != (size_t)size) {
        free(buf);
        return kvk_fail(KVK_ERROR_IO, "%s: short read", path);
    }
    buf[n] = '\0';
    *text = buf;
    *length = n;
    return KVK_OK;
}

static char *dup_span(const char *text, size_t begin, size_t end) {
    char *s = malloc(end - begin + 1);
    if (!s) return NULL;
    memcpy(s, text + begin, end - begin);
    s[end - begin] = '\0';
    return s;
}

/* The real path of shard `p` of the manifest into *out, which must stay inside the model's
 * folder `real_dir` (itself a real path): `p` is relative, has no ".." component, and
 * resolves (after symbolic links) to a regular file under real_dir. Errors name the path as
 * the manifest gives it, never anything about a file outside the folder. */
static kvk_status shard_path(const char *json_path, int gi, size_t i, const char *real_dir,
                             const char *p, char **out) {
    *out = NULL;
    int dotdot = 0;
    for (const char *c = p; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.') dotdot = 1;
        c += len;
        if (*c == '/') c++;
    }
    if (p[0] == '/' || dotdot || strchr(p, '\\'))
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: weightsManifest[%d].paths[%zu] '%s' is not a file name inside the "
                        "model's folder (absolute paths and '..' are refused)",
                        json_path, gi, i, p);
    /* real_dir "/" joins as "/name" */
    const char *base = strcmp(real_dir, "/") ? real_dir : "";
    size_t n = strlen(base) + strlen(p) + 2, dl = strlen(base);
    char *joined = malloc(n);
    if (!joined) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", json_path);
    snprintf(joined, n, "%s/%s", base, p);
    char *real = realpath(joined, NULL);
    free(joined);
    struct stat sb;
    kvk_status st;
    if (!real || stat(real, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = kvk_fail(KVK_ERROR_IO, "%s: weight group %d: shard '%s' is missing or not a file",
                      json_path, gi, p);
    else if (strncmp(real, base, dl) != 0 || real[dl] != '/')
        st = kvk_fail(KVK_ERROR_FORMAT,
                      "%s: weight group %d: shard '%s' is a link that leads out of the model's "
                      "folder (refused)",
                      json_path, gi, p);
    else {
        *out = real;
        return KVK_OK;
    }
    free(real);
    return st;
}

/* Reads bytes from a group's shards as if they were one file. */
typedef struct shard_reader {
    const char *json_path;
    int group;
    char **paths; /* full paths */
    int count, current;
    FILE *f;
} shard_reader;

static kvk_status shard_read(shard_reader *r, unsigned char *dst, uint64_t n, const char *weight) {
    while (n > 0) {
        if (!r->f) {
            if (r->current >= r->count)
                return kvk_fail(KVK_ERROR_FORMAT, "%s: weight '%s': group %d's shards end early",
                                r->json_path, weight, r->group);
            r->f = fopen(r->paths[r->current], "rb");
            if (!r->f)
                return kvk_fail(KVK_ERROR_IO, "%s: weight '%s': cannot open shard %s: %s",
                                r->json_path, weight, r->paths[r->current], strerror(errno));
        }
        size_t got = fread(dst, 1, n > (1u << 30) ? (1u << 30) : (size_t)n, r->f);
        if (got == 0) {
            int err = ferror(r->f);
            fclose(r->f);
            r->f = NULL;
            if (err)
                return kvk_fail(KVK_ERROR_IO, "%s: weight '%s': cannot read shard %s", r->json_path,
                                weight, r->paths[r->current]);
            r->current++;
            continue;
        }
        dst += got;
        n -= got;
    }
    return KVK_OK;
}

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* One manifest group: checks every entry and the shard sizes, then reads the data. */
static kvk_status read_group(kvk_weight_file *file, const kvk_json *group, int gi, const char *dir,
                             int with_data) {
    const char *path = file->path;
    const kvk_json *paths = kvk_json_get(group, "paths");
    const kvk_json *weights = kvk_json_get(group, "weights");
    if (!kvk_json_is(paths, KVK_JSON_ARRAY) || !kvk_json_is(weights, KVK_JSON_ARRAY))
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: weightsManifest[%d] needs arrays \"paths\" and \"weights\"", path, gi);
    kvk_status st = KVK_OK;
    shard_reader r = {path, gi, NULL, 0, 0, NULL};
    uint64_t total = 0, needed = 0;
    /* Where each manifest entry landed (pointers would not survive the layers' realloc). */
    struct {
        int layer, weight;
    } *slots = calloc(weights->length + 1, sizeof *slots);
    r.paths = calloc(paths->length + 1, sizeof *r.paths);
    if (!r.paths || !slots) {
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < paths->length; i++) {
        const char *p = kvk_json_string(&paths->items[i]);
        if (!p || !*p) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: weightsManifest[%d].paths[%zu] is not a file name",
                          path, gi, i);
            goto done;
        }
        if ((st = shard_path(path, gi, i, dir, p, &r.paths[i])) != KVK_OK) goto done;
        r.count++;
        struct stat sb;
        if (stat(r.paths[i], &sb) != 0) {
            st = kvk_fail(KVK_ERROR_IO, "%s: weight group %d: shard '%s' is missing", path, gi, p);
            goto done;
        }
        if (!kvk_add_u64(total, (uint64_t)sb.st_size, &total)) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: weight group %d: the shards' sizes overflow", path,
                          gi);
            goto done;
        }
    }
    /* First pass: metadata and the byte range of each weight, so that a size mismatch is
     * reported before any data is read, naming the weight at fault. */
    for (size_t i = 0; i < weights->length; i++) {
        const kvk_json *e = &weights->items[i];
        const char *name = kvk_json_get_string(e, "name");
        const kvk_json *shape = kvk_json_get(e, "shape");
        const char *dtype = kvk_json_get_string(e, "dtype");
        if (!name || !*name) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: weightsManifest[%d].weights[%zu] has no name",
                          path, gi, i);
            goto done;
        }
        if (kvk_json_get(e, "quantization")) {
            st = kvk_fail(KVK_ERROR_UNSUPPORTED,
                          "%s: weight '%s' is quantized; only unquantized float32 weights are "
                          "supported",
                          path, name);
            goto done;
        }
        if (!dtype || strcmp(dtype, "float32") != 0) {
            st = kvk_fail(KVK_ERROR_UNSUPPORTED,
                          "%s: weight '%s' has dtype '%s'; only float32 is supported", path, name,
                          dtype ? dtype : "(missing)");
            goto done;
        }
        if (!kvk_json_is(shape, KVK_JSON_ARRAY) || shape->length > KVK_MAX_DIMS) {
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: weight '%s': \"shape\" must be an array of at most %d sizes", path,
                          name, KVK_MAX_DIMS);
            goto done;
        }
        /* The layer is the name up to its last '/': "res2a_branch2a/kernel". */
        const char *slash = strrchr(name, '/');
        char *layer_name = slash ? dup_span(name, 0, (size_t)(slash - name)) : strdup(name);
        kvk_weight_layer *layer = layer_name ? kvk_weights_layer_add(file, layer_name) : NULL;
        free(layer_name);
        for (int k = 0; layer && k < layer->count; k++)
            if (strcmp(layer->weights[k].name, name) == 0) {
                st = kvk_fail(KVK_ERROR_FORMAT,
                              "%s: weightsManifest[%d].weights[%zu]: weight '%s' is listed twice "
                              "in the manifest",
                              path, gi, i, name);
                goto done;
            }
        kvk_weight *w = layer ? kvk_weights_weight_add(layer, name) : NULL;
        if (!w) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            goto done;
        }
        slots[i].layer = (int)(layer - file->layers);
        slots[i].weight = layer->count - 1;
        w->dtype = "float32";
        w->ndim = (int)shape->length;
        uint64_t count = 1, bytes = 0, end = 0;
        for (size_t d = 0; d < shape->length; d++) {
            double v = kvk_json_is(&shape->items[d], KVK_JSON_NUMBER) ? shape->items[d].number : -1;
            if (!(v >= 0 && v <= (double)(1ull << 40) && v == (double)(int64_t)v)) {
                st = kvk_fail(KVK_ERROR_FORMAT, "%s: weight '%s': shape[%zu] is not a size", path,
                              name, d);
                goto done;
            }
            w->dims[d] = (int64_t)v;
            if (!kvk_mul_u64(count, (uint64_t)v, &count) || count > (1ull << 40)) {
                st = kvk_fail(KVK_ERROR_FORMAT,
                              "%s: weight '%s': shape[%zu] = %.0f makes it more than 2^40 values",
                              path, name, d, v);
                goto done;
            }
        }
        /* count <= 2^40, so bytes and end fit; checked all the same */
        if (!kvk_mul_u64(count, 4, &bytes) || !kvk_add_u64(needed, bytes, &end) || end > total) {
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: weight group %d: weight '%s' needs bytes %llu to %llu but the "
                          "group's %d shard(s) hold only %llu bytes (shard truncated, or a shape "
                          "that does not match?)",
                          path, gi, name, (unsigned long long)needed, (unsigned long long)end,
                          r.count, (unsigned long long)total);
            goto done;
        }
        needed = end;
    }
    if (needed != total) {
        st = kvk_fail(KVK_ERROR_FORMAT,
                      "%s: weight group %d: the manifest's weights take %llu bytes but the shards "
                      "hold %llu",
                      path, gi, (unsigned long long)needed, (unsigned long long)total);
        goto done;
    }
    if (with_data) {
        for (size_t i = 0; i < weights->length; i++) {
            kvk_weight *w = &file->layers[slots[i].layer].weights[slots[i].weight];
            uint64_t count = (uint64_t)kvk_weight_elements(w);
            w->data = malloc(count ? count * sizeof(float) : 1);
            if (!w->data) {
                st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory for weight '%s'", path,
                              w->name);
                goto done;
            }
            st = shard_read(&r, (unsigned char *)w->data, count * 4, w->name);
            if (st != KVK_OK) goto done;
            if (!host_is_little_endian()) {
                unsigned char *b = (unsigned char *)w->data;
                for (uint64_t k = 0; k < count; k++, b += 4) {
                    unsigned char t0 = b[0], t1 = b[1];
                    b[0] = b[3];
                    b[1] = b[2];
                    b[2] = t1;
                    b[3] = t0;
                }
            }
        }
    }
done:
    if (r.f) fclose(r.f);
    for (int i = 0; i < r.count; i++) free(r.paths[i]);
    free(r.paths);
    free(slots);
    return st;
}

/* Where a weight goes in its layer's Keras 2 order, from the last part of its name. */
static int weight_rank(const char *name) {
    static const char *const order[] = {
        "kernel", "depthwise_kernel", "pointwise_kernel", "bias", "gamma",
        "beta",   "moving_mean",      "moving_variance"};
    static const int rank[] = {0, 0, 1, 2, 3, 4, 5, 6};
    const char *slash = strrchr(name, '/');
    const char *last = slash ? slash + 1 : name;
    size_t len = strcspn(last, ":"); /* "kernel:0" */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (strlen(order[i]) == len && strncmp(last, order[i], len) == 0) return rank[i];
    return 100; /* unknown: after the known ones, in manifest order */
}

/* TF.js binds weights by name, whatever their order in the manifest; kvk's binder takes each
 * layer's weights in Keras 2 order (keras/weights.h), so they are put in that order here:
 * a manifest listing moving_variance before gamma still loads each where it belongs. */
static void order_by_name(kvk_weight_file *file) {
    for (int l = 0; l < file->layer_count; l++) {
        kvk_weight_layer *layer = &file->layers[l];
        for (int i = 1; i < layer->count; i++) { /* insertion sort: stable, a handful */
            kvk_weight w = layer->weights[i];
            int r = weight_rank(w.name), j = i;
            for (; j > 0 && weight_rank(layer->weights[j - 1].name) > r; j--)
                layer->weights[j] = layer->weights[j - 1];
            layer->weights[j] = w;
        }
    }
}

kvk_status kvk_weights_read_tfjs(const char *path, int with_data, kvk_weight_file **out,
                                 int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    char *text;
    size_t length = 0;
    kvk_status st = read_text(path, &text, &length);
    if (st != KVK_OK) return st;
    kvk_json *root = NULL;
    kvk_weight_file *file = NULL;
    char *dir = NULL;
    if ((st = kvk_json_parse(text, length, path, &root)) != KVK_OK) goto done;
    const kvk_json *manifest = kvk_json_get(root, "weightsManifest");
    const kvk_json *topology = kvk_json_get(root, "modelTopology");
    const char *fmt = kvk_json_get_string(root, "format");
    if (fmt && strcmp(fmt, "graph-model") == 0) {
        st = kvk_fail(KVK_ERROR_UNSUPPORTED,
                      "%s: a TensorFlow.js graph model; only layers models (Keras) are supported",
                      path);
        goto done;
    }
    if (!manifest) {
        st = kvk_fail(KVK_ERROR_FORMAT,
                      "%s: JSON without \"weightsManifest\": not a TensorFlow.js layers "
                      "model.json, so not a Keras weight file",
                      path);
        goto done;
    }
    if (!kvk_json_is(manifest, KVK_JSON_ARRAY)) {
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: \"weightsManifest\" is a %s, expected an array", path,
                      kvk_json_type_name(manifest->type));
        goto done;
    }
    file = kvk_weights_new(path, KVK_FORMAT_TFJS_LAYERS);
    if (!file) {
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    const char *kv = kvk_json_get_string(topology, "keras_version");
    const char *backend = kvk_json_get_string(topology, "backend");
    const kvk_json *config = kvk_json_get(topology, "model_config");
    if (!config && kvk_json_is(topology, KVK_JSON_OBJECT)) config = topology;
    if ((kv && !(file->keras_version = strdup(kv))) ||
        (backend && !(file->backend = strdup(backend))) ||
        (config && !(file->model_config = dup_span(text, config->begin, config->end)))) {
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    /* the model's folder, as a real path: shards must resolve inside it */
    const char *slash = strrchr(path, '/');
    char *given = slash == path ? strdup("/") /* "/model.json" */
                  : slash       ? dup_span(path, 0, (size_t)(slash - path))
                                : strdup(".");
    dir = given ? realpath(given, NULL) : NULL;
    if (!dir) {
        st = kvk_fail(given ? KVK_ERROR_IO : KVK_ERROR_OUT_OF_MEMORY,
                      "%s: cannot resolve the model's folder '%s': %s", path, given ? given : "?",
                      strerror(errno));
        free(given);
        goto done;
    }
    free(given);
    for (size_t g = 0; g < manifest->length && st == KVK_OK; g++)
        st = read_group(file, &manifest->items[g], (int)g, dir, with_data);
    if (st == KVK_OK) order_by_name(file);
    *listed_layers = file->layer_count;
done:
    free(dir);
    kvk_json_free(root);
    free(text);
    if (st != KVK_OK) {
        kvk_weight_file_free(file);
        return st;
    }
    *out = file;
    return KVK_OK;
}
