/* What all weight formats share: format detection, lookup, freeing, and the normalisation of
 * Keras 1 and theano-ordered convolution kernels to the Keras 2 channels_last layout. */
#include "keras/weights.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "core/error.h"
#include "keras/archive.h"
#include "keras/weights_internal.h"
#include "keras/weights_keras3.h"

static const unsigned char hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

kvk_status kvk_weights_detect(const char *path, kvk_weight_source *source, char **resolved) {
    *resolved = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return kvk_fail(KVK_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + sizeof "/model.json";
        char *json = malloc(n);
        if (!json) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        snprintf(json, n, "%s/model.json", path);
        if (stat(json, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(json);
            /* Keras 3's model.save(..., zipped=False): the .keras archive's members as files */
            if (kvk_archive_directory(path)) {
                *source = KVK_SOURCE_ARCHIVE;
                *resolved = strdup(path);
                return *resolved ? KVK_OK
                                 : kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            }
            return kvk_fail(KVK_ERROR_IO,
                            "%s: is a directory without a model.json (a TensorFlow.js "
                            "model directory was expected) or a model.weights.h5 (an unzipped "
                            "Keras 3 .keras archive)",
                            path);
        }
        *source = KVK_SOURCE_TFJS;
        *resolved = json;
        return KVK_OK;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return kvk_fail(KVK_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[512];
    size_t n = fread(head, 1, sizeof head, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) return kvk_fail(KVK_ERROR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (n == 0) return kvk_fail(KVK_ERROR_FORMAT, "%s: empty file, " KVK_NOT_WEIGHT_FILE, path);
    /* HDF5 files may start with a user block of 512 bytes or more; then the signature sits
     * at 512, 1024, ... and the HDF5 library finds it. */
    int is_hdf5 = n >= 8 && memcmp(head, hdf5_signature, 8) == 0;
    if (!is_hdf5 && (uint64_t)st.st_size >= 520) {
        f = fopen(path, "rb");
        if (f) {
            for (long off = 512; off + 8 <= st.st_size && !is_hdf5; off *= 2) {
                unsigned char sig[8];
                if (fseek(f, off, SEEK_SET) != 0 || fread(sig, 1, 8, f) != 8) break;
                is_hdf5 = memcmp(sig, hdf5_signature, 8) == 0;
            }
            fclose(f);
        }
    }
    if (is_hdf5) {
        /* Keras 1/2 or Keras 3 layout: told apart with libhdf5, so in the reader's child
         * process (h5_isolate.c), never here: a damaged file can crash libhdf5 */
        *source = KVK_SOURCE_HDF5;
    } else if (kvk_archive_signature(head, n)) {
        *source = KVK_SOURCE_ARCHIVE;
    } else {
        size_t i = 0;
        if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0) i = 3;
        while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r'))
            i++;
        if (i >= n || head[i] != '{')
            return kvk_fail(KVK_ERROR_FORMAT, "%s: " KVK_NOT_WEIGHT_FILE, path);
        *source = KVK_SOURCE_TFJS;
    }
    *resolved = strdup(path);
    if (!*resolved) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    return KVK_OK;
}

kvk_status kvk_weights_read_source(kvk_weight_source source, const char *path, int with_data,
                                   kvk_weight_file **out, int *listed_layers) {
    switch (source) {
    case KVK_SOURCE_HDF5:
        return kvk_weights_read_h5(path, with_data, out, listed_layers);
    case KVK_SOURCE_TFJS:
        return kvk_weights_read_tfjs(path, with_data, out, listed_layers);
    case KVK_SOURCE_KERAS3: /* libhdf5 in a child process too (h5_isolate.c) */
    case KVK_SOURCE_ARCHIVE:
        return kvk_weights_read_isolated(source, path, with_data, out, listed_layers);
    }
    return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: unknown weight file source", path);
}

static kvk_status read_file(const char *path, int with_data, kvk_weight_file **out) {
    *out = NULL;
    if (!path) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "weight file path is NULL");
    kvk_weight_source source;
    char *resolved;
    kvk_status st = kvk_weights_detect(path, &source, &resolved);
    if (st != KVK_OK) return st;
    kvk_weight_file *file = NULL;
    int listed;
    st = kvk_weights_read_source(source, resolved, with_data, &file, &listed);
    free(resolved);
    if (st != KVK_OK) return st;
    kvk_json *config = NULL;
    st = kvk_weights_analyse(file, &config);
    if (st != KVK_OK) {
        kvk_weight_file_free(file);
        return st;
    }
    st = kvk_weights_normalise(file, config);
    kvk_json_free(config);
    if (st != KVK_OK) {
        kvk_weight_file_free(file);
        return st;
    }
    *out = file;
    return KVK_OK;
}

kvk_status kvk_weight_file_read(const char *path, kvk_weight_file **out) {
    return read_file(path, 1, out);
}

kvk_status kvk_weight_file_read_shapes(const char *path, kvk_weight_file **out) {
    return read_file(path, 0, out);
}

void kvk_weight_file_free(kvk_weight_file *file) {
    if (!file) return;
    for (int i = 0; i < file->layer_count; i++) {
        kvk_weight_layer *layer = &file->layers[i];
        for (int j = 0; j < layer->count; j++) {
            free(layer->weights[j].name);
            free(layer->weights[j].data);
        }
        free(layer->weights);
        free(layer->name);
    }
    free(file->layers);
    free(file->path);
    free(file->keras_version);
    free(file->backend);
    free(file->model_config);
    free(file);
}

const kvk_weight_layer *kvk_weight_file_layer(const kvk_weight_file *file, const char *name) {
    if (!file || !name) return NULL;
    for (int i = 0; i < file->layer_count; i++)
        if (strcmp(file->layers[i].name, name) == 0) return &file->layers[i];
    return NULL;
}

kvk_weight_file *kvk_weights_new(const char *path, kvk_weight_format format) {
    kvk_weight_file *file = calloc(1, sizeof *file);
    if (!file) return NULL;
    file->path = strdup(path);
    if (!file->path) {
        free(file);
        return NULL;
    }
    file->format = format;
    file->keras_major = 2;
    return file;
}

kvk_weight_layer *kvk_weights_layer_add(kvk_weight_file *file, const char *name) {
    for (int i = 0; i < file->layer_count; i++)
        if (strcmp(file->layers[i].name, name) == 0) return &file->layers[i];
    kvk_weight_layer *layers =
        realloc(file->layers, (size_t)(file->layer_count + 1) * sizeof *layers);
    if (!layers) return NULL;
    file->layers = layers;
    kvk_weight_layer *layer = &layers[file->layer_count];
    memset(layer, 0, sizeof *layer);
    layer->name = strdup(name);
    if (!layer->name) return NULL;
    file->layer_count++;
    return layer;
}

kvk_weight *kvk_weights_weight_add(kvk_weight_layer *layer, const char *name) {
    kvk_weight *weights = realloc(layer->weights, (size_t)(layer->count + 1) * sizeof *weights);
    if (!weights) return NULL;
    layer->weights = weights;
    kvk_weight *w = &weights[layer->count];
    memset(w, 0, sizeof *w);
    w->name = strdup(name);
    if (!w->name) return NULL;
    layer->count++;
    return w;
}

int64_t kvk_weight_elements(const kvk_weight *w) {
    int64_t n;
    return kvk_product_i64(w->dims, w->ndim, &n) ? n : -1;
}

const char *kvk_weight_format_name(kvk_weight_format format) {
    switch (format) {
    case KVK_FORMAT_H5_WEIGHTS:
        return "save_weights (HDF5)";
    case KVK_FORMAT_H5_MODEL:
        return "model.save (HDF5)";
    case KVK_FORMAT_TFJS_LAYERS:
        return "TensorFlow.js layers (model.json)";
    case KVK_FORMAT_KERAS3_H5:
        return "Keras 3 .weights.h5 (HDF5, layers/<layer>/vars)";
    case KVK_FORMAT_KERAS_ARCHIVE:
        return ".keras archive (config.json, metadata.json, model.weights.h5)";
    case KVK_FORMAT_H5_LEGACY:
        return "Keras 0.x/1.0 weights (HDF5, nb_layers, layer_<i>/param_<j>)";
    }
    return "?";
}

/* --- normalisation ------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Calls `fn` for every layer object ({"class_name", "config": {...}}) in a Keras model
 * config, descending into nested models and wrappers. Sequential configs are a list
 * (Keras 1, early Keras 2) or {"layers": [...]}. */
typedef int (*layer_fn)(const kvk_json *layer, void *ctx);

static int walk_layers(const kvk_json *node, layer_fn fn, void *ctx, int depth) {
    if (!node || depth > 32) return 0;
    const kvk_json *config = kvk_json_get(node, "config");
    const kvk_json *list =
        kvk_json_is(config, KVK_JSON_ARRAY) ? config : kvk_json_get(config, "layers");
    if (kvk_json_get_string(node, "class_name") && fn(node, ctx)) return 1;
    if (kvk_json_is(list, KVK_JSON_ARRAY))
        for (size_t i = 0; i < list->length; i++)
            if (walk_layers(&list->items[i], fn, ctx, depth + 1)) return 1;
    /* Wrappers (TimeDistributed, Bidirectional) hold their layer in config.layer. */
    const kvk_json *inner = kvk_json_get(config, "layer");
    if (inner && walk_layers(inner, fn, ctx, depth + 1)) return 1;
    return 0;
}

static const char *layer_name_of(const kvk_json *layer) {
    const char *name = kvk_json_get_string(layer, "name");
    return name ? name : kvk_json_get_string(kvk_json_get(layer, "config"), "name");
}

typedef struct find_ctx {
    const char *name;
    const kvk_json *found;
} find_ctx;

static int find_fn(const kvk_json *layer, void *ctx) {
    find_ctx *c = ctx;
    const char *name = layer_name_of(layer);
    if (name && strcmp(name, c->name) == 0) {
        c->found = layer;
        return 1;
    }
    return 0;
}

static const kvk_json *config_layer(const kvk_json *config, const char *name) {
    find_ctx c = {name, NULL};
    walk_layers(config, find_fn, &c, 0);
    return c.found;
}

/* The data format of the last layer that declares one (1 channels_first, 0 channels_last,
 * -1 none): the layers just before a Flatten decide the row order of the Dense after it. */
static int layer_order_fn(const kvk_json *layer, void *ctx) {
    int *order = ctx;
    const kvk_json *config = kvk_json_get(layer, "config");
    const char *df = kvk_json_get_string(config, "data_format");
    const char *dim = kvk_json_get_string(config, "dim_ordering");
    if ((df && strcmp(df, "channels_first") == 0) || (dim && strcmp(dim, "th") == 0)) *order = 1;
    if ((df && strcmp(df, "channels_last") == 0) || (dim && strcmp(dim, "tf") == 0)) *order = 0;
    return 0;
}

kvk_status kvk_weights_analyse(kvk_weight_file *file, kvk_json **config) {
    *config = NULL;
    if (file->model_config) {
        /* A config that is not JSON only loses the layer-type hints; the weights still load. */
        if (kvk_json_parse(file->model_config, strlen(file->model_config), file->path, config) !=
            KVK_OK)
            *config = NULL;
    }
    int any_weight = 0, any_slash = 0, any_tf_suffix = 0;
    for (int i = 0; i < file->layer_count; i++) {
        for (int j = 0; j < file->layers[i].count; j++) {
            const char *name = file->layers[i].weights[j].name;
            any_weight = 1;
            any_slash |= strchr(name, '/') != NULL;
            any_tf_suffix |= ends_with(name, ":0");
        }
    }
    if (file->keras_version) {
        file->keras_major = atoi(file->keras_version);
        if (file->keras_major < 1) file->keras_major = 2;
    } else if (file->format == KVK_FORMAT_KERAS3_H5 || file->format == KVK_FORMAT_KERAS_ARCHIVE) {
        file->keras_major = 3; /* Keras 3 records its version only in a .keras archive */
    } else if (file->format != KVK_FORMAT_TFJS_LAYERS && any_weight && !any_slash) {
        /* Keras 1 wrote no version attribute (Keras 2 likewise loads such files as Keras 1);
         * its weight names have no "layer/" prefix. */
        file->keras_major = 1;
    } else {
        file->keras_major = 2;
    }
    int th_name = strstr(base_name(file->path), "_th_dim_ordering_th_kernels") != NULL;
    int theano_backend = file->backend && strcmp(file->backend, "theano") == 0;
    /* Keras 1 did not record the backend, but TensorFlow variable names end in ":0" and
     * theano ones never do. */
    int keras1_theano = file->keras_major == 1 && file->format != KVK_FORMAT_TFJS_LAYERS &&
                        any_weight && !any_tf_suffix;
    file->theano_kernels = th_name || theano_backend || keras1_theano;
    int order = -1;
    if (*config) walk_layers(*config, layer_order_fn, &order, 0);
    file->channels_first = order >= 0 ? order : (th_name || file->theano_kernels);
    return KVK_OK;
}

static int is_conv_class(const char *cls) {
    static const char *const names[] = {
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv2DTranspose",
        "Convolution1D",
        "Convolution2D",
        "Convolution3D",
        "AtrousConvolution1D",
        "AtrousConvolution2D",
        "Deconvolution2D",
        "Conv3DTranspose",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(cls, names[i]) == 0) return 1;
    return 0;
}

int kvk_weights_conversion(const kvk_weight_file *file, const kvk_json *config, int layer_index,
                           int weight_index) {
    const kvk_weight_layer *layer = &file->layers[layer_index];
    const kvk_weight *w = &layer->weights[weight_index];
    /* Only a convolution's kernel (its first weight) is affected; a bias never is. */
    if (weight_index != 0 || w->ndim < 3) return 0;
    const kvk_json *lc = config ? config_layer(config, layer->name) : NULL;
    const char *cls = kvk_json_get_string(lc, "class_name");
    int conv;
    if (cls)
        conv = is_conv_class(cls);
    else
        conv = w->ndim == 4 && !strstr(w->name, "depthwise") && !strstr(w->name, "pointwise");
    if (!conv) return 0;
    int flags = 0;
    if (file->keras_major == 1 && w->ndim == 4 &&
        (!cls || strcmp(cls, "Convolution2D") == 0 || strcmp(cls, "AtrousConvolution2D") == 0)) {
        const char *dim = kvk_json_get_string(kvk_json_get(lc, "config"), "dim_ordering");
        int th = dim ? strcmp(dim, "th") == 0 : file->channels_first;
        if (th) flags |= KVK_CONVERT_TRANSPOSE;
    }
    if (file->theano_kernels) flags |= KVK_CONVERT_FLIP;
    return flags;
}

/* (out, in, kh, kw) -> (kh, kw, in, out), as np.transpose(w, (2, 3, 1, 0)). */
static int transpose_th(kvk_weight *w) {
    int64_t o = w->dims[0], c = w->dims[1], h = w->dims[2], k = w->dims[3];
    if (w->data) {
        float *dst = malloc((size_t)(o * c * h * k) * sizeof *dst);
        if (!dst) return 0;
        for (int64_t a = 0; a < o; a++)
            for (int64_t b = 0; b < c; b++)
                for (int64_t y = 0; y < h; y++)
                    for (int64_t x = 0; x < k; x++)
                        dst[((y * k + x) * c + b) * o + a] = w->data[((a * c + b) * h + y) * k + x];
        free(w->data);
        w->data = dst;
    }
    w->dims[0] = h;
    w->dims[1] = k;
    w->dims[2] = c;
    w->dims[3] = o;
    return 1;
}

/* Reverses every axis but the last two (kernel[::-1, ::-1, :, :] for a 2-D kernel), in place:
 * element i swaps with its mirror, whose flat index is found per spatial axis. */
static void flip_spatial(kvk_weight *w) {
    if (!w->data) return;
    int spatial = w->ndim - 2;
    int64_t inner = w->dims[w->ndim - 2] * w->dims[w->ndim - 1];
    int64_t outer = 1;
    for (int i = 0; i < spatial; i++) outer *= w->dims[i];
    for (int64_t s = 0; s < outer; s++) {
        int64_t rest = s, mirror = 0, stride = 1;
        for (int i = spatial - 1; i >= 0; i--) {
            int64_t d = w->dims[i], idx = rest % d;
            rest /= d;
            mirror += (d - 1 - idx) * stride;
            stride *= d;
        }
        if (mirror <= s) continue; /* each pair once; the centre stays */
        float *a = w->data + s * inner, *b = w->data + mirror * inner;
        for (int64_t j = 0; j < inner; j++) {
            float t = a[j];
            a[j] = b[j];
            b[j] = t;
        }
    }
}

kvk_status kvk_weights_normalise(kvk_weight_file *file, const kvk_json *config) {
    for (int i = 0; i < file->layer_count; i++) {
        for (int j = 0; j < file->layers[i].count; j++) {
            int flags = kvk_weights_conversion(file, config, i, j);
            kvk_weight *w = &file->layers[i].weights[j];
            if ((flags & KVK_CONVERT_TRANSPOSE) && !transpose_th(w))
                return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: layer '%s': out of memory for '%s'",
                                file->path, file->layers[i].name, w->name);
            if (flags & KVK_CONVERT_FLIP) flip_spatial(w);
        }
    }
    return KVK_OK;
}
