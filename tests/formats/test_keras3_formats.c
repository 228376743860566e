/* Keras 3 files written at test time: .weights.h5 files in Keras 3's layout (HDF5 C API) and
 * .keras archives around them (a small zip writer below: stored, deflated, zip64). The good
 * ones must read back exactly, with the layer names from the vars attributes or, without
 * them, from config.json; the broken ones (truncated archives, bad offsets, oversized or
 * bomb-like members, missing members, damaged data; missing variables, wrong shapes, foreign
 * links) must be refused with a message naming the file and the member, layer or shape. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/graph.h"
#include "keras/archive.h"
#include "keras/bind.h"
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

/* --- the test model ------------------------------------------------------------------------ *
 * outer (Functional): input_layer, c1 (Conv2D 3x3, 2 -> 4, bias), bn (BatchNormalization),
 * inner (Functional: input_layer_1, sep (SeparableConv2D 3x3, 4 -> 6, bias), gap, head
 * (Dense 6 -> 3)), head (Dense 3 -> 2). Two layers named "head": the inner one is exposed as
 * "inner/head". Plus optimizer state, which must be skipped. */
typedef struct tvar {
    const char *group; /* saveable group */
    const char *layer; /* its name attribute; NULL: a layer without weights */
    int index;
    int ndim;
    hsize_t dims[4];
    float *values;
} tvar;

static tvar vars[] = {
    {"layers/conv2d", "c1", 0, 4, {3, 3, 2, 4}, NULL},
    {"layers/conv2d", "c1", 1, 1, {4}, NULL},
    {"layers/batch_normalization", "bn", 0, 1, {4}, NULL},
    {"layers/batch_normalization", "bn", 1, 1, {4}, NULL},
    {"layers/batch_normalization", "bn", 2, 1, {4}, NULL},
    {"layers/batch_normalization", "bn", 3, 1, {4}, NULL},
    {"layers/functional/layers/separable_conv2d", "sep", 0, 4, {3, 3, 4, 1}, NULL},
    {"layers/functional/layers/separable_conv2d", "sep", 1, 4, {1, 1, 4, 6}, NULL},
    {"layers/functional/layers/separable_conv2d", "sep", 2, 1, {6}, NULL},
    {"layers/functional/layers/dense", "head", 0, 2, {6, 3}, NULL},
    {"layers/functional/layers/dense", "head", 1, 1, {3}, NULL},
    {"layers/dense", "head", 0, 2, {3, 2}, NULL},
    {"layers/dense", "head", 1, 1, {2}, NULL},
};
enum { NVARS = sizeof vars / sizeof vars[0] };

static const struct {
    const char *group, *name;
} weightless[] = {
    {"", "outer"},
    {"layers/input_layer", "input_layer"},
    {"layers/functional", "inner"},
    {"layers/functional/layers/input_layer", "input_layer_1"},
    {"layers/functional/layers/global_average_pooling2d", "gap"},
};

static const char *CONFIG =
    "{\"module\": \"keras.src.models.functional\", \"class_name\": \"Functional\", \"config\": "
    "{\"name\": \"outer\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"input_layer\"}, \"name\": "
    "\"input_layer\"},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\"}, \"name\": \"c1\"},"
    "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\"}, \"name\": \"bn\"},"
    "{\"class_name\": \"Functional\", \"name\": \"inner\", \"config\": {\"name\": \"inner\", "
    "\"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"input_layer_1\"}},"
    "{\"class_name\": \"SeparableConv2D\", \"config\": {\"name\": \"sep\"}},"
    "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"head\"}}]}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"head\"}, \"name\": \"head\"}]}}";
static const char *METADATA = "{\"keras_version\": \"3.15.1\", \"date_saved\": \"2026-11-30\"}";

/* exposed layer name of each var's layer */
static const char *exposed(const tvar *v) {
    if (!strcmp(v->group, "layers/functional/layers/dense")) return "inner/head";
    return v->layer;
}

static long nvalues(const tvar *v) {
    long n = 1;
    for (int d = 0; d < v->ndim; d++) n *= (long)v->dims[d];
    return n;
}

/* --- writing Keras 3 HDF5 files ------------------------------------------------------------- */

enum variant {
    V_OK,
    V_NO_NAMES,    /* as Keras 3.0-3.5 and tf.keras: no name attributes */
    V_MISSING_VAR, /* c1's vars hold "0" and "2" */
    V_WRONG_SHAPE, /* c1's kernel (3, 3, 2, 5) */
    V_STRING_VAR,  /* bn's moving_mean a string */
    V_EXTERNAL,    /* c1's bias an external link */
    V_DUP_NAME,    /* bn named c1 */
    V_HUGE,        /* bn's gamma claims 2^40 values, stores none */
    V_SHARED,      /* one 64 KiB dataset linked as 200 variables of another layer */
};

static void attr_string(hid_t obj, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, &value);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

static hid_t make_group(hid_t file, const char *path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Lexists(file, path, H5P_DEFAULT) > 0
                  ? H5Gopen2(file, path, H5P_DEFAULT)
                  : H5Gcreate2(file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

static void vars_group_path(char *buf, size_t size, const char *group) {
    snprintf(buf, size, "%s%svars", group, *group ? "/" : "");
}

static void write_k3(const char *path, enum variant variant) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    char gp[256];
    for (size_t i = 0; i < sizeof weightless / sizeof weightless[0]; i++) {
        vars_group_path(gp, sizeof gp, weightless[i].group);
        hid_t g = make_group(f, gp);
        if (variant != V_NO_NAMES) attr_string(g, "name", weightless[i].name);
        H5Gclose(g);
    }
    for (int i = 0; i < NVARS; i++) {
        const tvar *v = &vars[i];
        vars_group_path(gp, sizeof gp, v->group);
        int fresh = H5Lexists(f, v->group, H5P_DEFAULT) <= 0 || H5Lexists(f, gp, H5P_DEFAULT) <= 0;
        hid_t g = make_group(f, gp);
        if (fresh && variant != V_NO_NAMES) {
            const char *name = v->layer;
            if (variant == V_DUP_NAME && !strcmp(v->layer, "bn")) name = "c1";
            attr_string(g, "name", name);
        }
        char link[16];
        int index = v->index;
        if (variant == V_MISSING_VAR && !strcmp(v->layer, "c1") && index == 1) index = 2;
        snprintf(link, sizeof link, "%d", index);
        int is_c1 = !strcmp(v->group, "layers/conv2d"), is_bn = !strcmp(v->layer, "bn");
        if (variant == V_EXTERNAL && is_c1 && v->index == 1) {
            H5Lcreate_external("/etc/hostname", "/x", g, link, H5P_DEFAULT, H5P_DEFAULT);
        } else if (variant == V_STRING_VAR && is_bn && v->index == 2) {
            hid_t type = H5Tcopy(H5T_C_S1);
            H5Tset_size(type, 8);
            hid_t space = H5Screate(H5S_SCALAR);
            hid_t ds = H5Dcreate2(g, link, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, "mean!!!");
            H5Dclose(ds);
            H5Sclose(space);
            H5Tclose(type);
        } else if (variant == V_HUGE && is_bn && v->index == 0) {
            hsize_t dims[2] = {(hsize_t)1 << 20, (hsize_t)1 << 20}, chunk[2] = {64, 64};
            hid_t space = H5Screate_simple(2, dims, NULL);
            hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
            H5Pset_chunk(dcpl, 2, chunk);
            hid_t ds = H5Dcreate2(g, link, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            H5Dclose(ds);
            H5Pclose(dcpl);
            H5Sclose(space);
        } else {
            hsize_t dims[4];
            memcpy(dims, v->dims, sizeof dims);
            float *values = v->values, *wrong = NULL;
            if (variant == V_WRONG_SHAPE && is_c1 && v->index == 0) {
                dims[3] = 5;
                wrong = calloc(3 * 3 * 2 * 5, sizeof *wrong);
                values = wrong;
            }
            hid_t space = H5Screate_simple(v->ndim, dims, NULL);
            hid_t ds =
                H5Dcreate2(g, link, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
            H5Dclose(ds);
            H5Sclose(space);
            free(wrong);
        }
        H5Gclose(g);
    }
    if (variant == V_SHARED) {
        hid_t g = make_group(f, "layers/dense_9/vars");
        attr_string(g, "name", "shared");
        hsize_t dims[2] = {128, 128};
        float *zeros = calloc(128 * 128, sizeof *zeros);
        hid_t space = H5Screate_simple(2, dims, NULL);
        hid_t ds = H5Dcreate2(g, "0", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros);
        for (int i = 1; i < 200; i++) {
            char link[16];
            snprintf(link, sizeof link, "%d", i);
            H5Lcreate_hard(g, "0", g, link, H5P_DEFAULT, H5P_DEFAULT);
        }
        H5Dclose(ds);
        H5Sclose(space);
        H5Gclose(g);
        free(zeros);
    }
    /* optimizer state: an iteration counter and a slot, to be skipped */
    hid_t g = make_group(f, "optimizer/vars");
    if (variant != V_NO_NAMES) attr_string(g, "name", "adam");
    hsize_t one = 1;
    hid_t space = H5Screate_simple(1, &one, NULL);
    hid_t ds = H5Dcreate2(g, "0", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    long long it = 7;
    H5Dwrite(ds, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &it);
    H5Dclose(ds);
    H5Sclose(space);
    H5Gclose(g);
    H5Fclose(f);
}

static unsigned char *read_all(const char *path, size_t *size) {
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_all(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

/* --- a small zip writer --------------------------------------------------------------------- */

typedef struct zmember {
    const char *name;
    const unsigned char *data;
    size_t size;
    int deflate;
} zmember;

typedef struct zbuf {
    unsigned char *p;
    size_t n, cap;
} zbuf;

typedef struct zlayout {
    size_t local[8], central[8], data[8], csize[8];
    size_t cd, eocd;
} zlayout;

static void zput(zbuf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void zput16(zbuf *b, unsigned v) {
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    zput(b, x, 2);
}

static void zput32(zbuf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    zput(b, x, 4);
}

static void zput64(zbuf *b, uint64_t v) {
    zput32(b, (uint32_t)v);
    zput32(b, (uint32_t)(v >> 32));
}

static void patch32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

static unsigned char *raw_deflate(const unsigned char *data, size_t size, size_t *out_size) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&s, (uLong)size);
    unsigned char *out = malloc(cap);
    s.next_in = (unsigned char *)data;
    s.avail_in = (uInt)size;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    if (deflate(&s, Z_FINISH) != Z_STREAM_END) abort();
    *out_size = cap - s.avail_out;
    deflateEnd(&s);
    return out;
}

static zbuf make_zip(const zmember *m, int count, int zip64, zlayout *lay) {
    zbuf b = {0};
    unsigned char *comp[8];
    uint32_t crc[8];
    for (int i = 0; i < count; i++) {
        size_t csize = m[i].size;
        comp[i] = m[i].deflate ? raw_deflate(m[i].data, m[i].size, &csize) : NULL;
        crc[i] = (uint32_t)crc32(crc32(0, Z_NULL, 0), m[i].data, (uInt)m[i].size);
        lay->local[i] = b.n;
        lay->csize[i] = csize;
        size_t nlen = strlen(m[i].name);
        zput32(&b, 0x04034b50);
        zput16(&b, zip64 ? 45 : 20);
        zput16(&b, 0);
        zput16(&b, m[i].deflate ? 8 : 0);
        zput16(&b, 0);
        zput16(&b, 0x21);
        zput32(&b, crc[i]);
        zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)csize);
        zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)m[i].size);
        zput16(&b, (unsigned)nlen);
        zput16(&b, zip64 ? 20 : 0);
        zput(&b, m[i].name, nlen);
        if (zip64) {
            zput16(&b, 1);
            zput16(&b, 16);
            zput64(&b, m[i].size);
            zput64(&b, csize);
        }
        lay->data[i] = b.n;
        zput(&b, comp[i] ? comp[i] : m[i].data, csize);
    }
    lay->cd = b.n;
    for (int i = 0; i < count; i++) {
        lay->central[i] = b.n;
        size_t nlen = strlen(m[i].name);
        zput32(&b, 0x02014b50);
        zput16(&b, zip64 ? 45 : 20);
        zput16(&b, zip64 ? 45 : 20);
        zput16(&b, 0);
        zput16(&b, m[i].deflate ? 8 : 0);
        zput16(&b, 0);
        zput16(&b, 0x21);
        zput32(&b, crc[i]);
        zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)lay->csize[i]);
        zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)m[i].size);
        zput16(&b, (unsigned)nlen);
        zput16(&b, zip64 ? 28 : 0);
        zput16(&b, 0);
        zput16(&b, 0);
        zput16(&b, 0);
        zput32(&b, 0);
        zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)lay->local[i]);
        zput(&b, m[i].name, nlen);
        if (zip64) {
            zput16(&b, 1);
            zput16(&b, 24);
            zput64(&b, m[i].size);
            zput64(&b, lay->csize[i]);
            zput64(&b, lay->local[i]);
        }
        free(comp[i]);
    }
    size_t cd_size = b.n - lay->cd;
    if (zip64) {
        size_t rec = b.n;
        zput32(&b, 0x06064b50);
        zput64(&b, 44);
        zput16(&b, 45);
        zput16(&b, 45);
        zput32(&b, 0);
        zput32(&b, 0);
        zput64(&b, (uint64_t)count);
        zput64(&b, (uint64_t)count);
        zput64(&b, cd_size);
        zput64(&b, lay->cd);
        zput32(&b, 0x07064b50);
        zput32(&b, 0);
        zput64(&b, rec);
        zput32(&b, 1);
    }
    lay->eocd = b.n;
    zput32(&b, 0x06054b50);
    zput16(&b, 0);
    zput16(&b, 0);
    zput16(&b, zip64 ? 0xFFFF : (unsigned)count);
    zput16(&b, zip64 ? 0xFFFF : (unsigned)count);
    zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)cd_size);
    zput32(&b, zip64 ? 0xFFFFFFFFu : (uint32_t)lay->cd);
    zput16(&b, 0);
    return b;
}

/* --- checks --------------------------------------------------------------------------------- */

static void verify(const char *what, const kvk_weight_file *file, kvk_weight_format format,
                   const char *version) {
    CHECK(file->format == format, "%s: format %d, expected %d", what, file->format, format);
    CHECK(file->keras_major == 3, "%s: keras_major %d", what, file->keras_major);
    CHECK(version ? file->keras_version && !strcmp(file->keras_version, version)
                  : !file->keras_version,
          "%s: keras_version %s", what, file->keras_version ? file->keras_version : "(none)");
    CHECK(file->layer_count == 5, "%s: %d layers with weights, expected 5", what,
          file->layer_count);
    for (int i = 0; i < NVARS; i++) {
        const tvar *v = &vars[i];
        const kvk_weight_layer *layer = kvk_weight_file_layer(file, exposed(v));
        if (!tu_check(layer != NULL, "%s: layer '%s' found", what, exposed(v))) continue;
        if (!tu_check(layer->count > v->index, "%s: '%s' has %d weights", what, exposed(v),
                      layer->count))
            continue;
        const kvk_weight *w = &layer->weights[v->index];
        char name[256];
        snprintf(name, sizeof name, "%s/vars/%d", v->group, v->index);
        CHECK(!strcmp(w->name, name), "%s: weight name %s, expected %s", what, w->name, name);
        int same = w->ndim == v->ndim;
        for (int d = 0; same && d < v->ndim; d++) same = w->dims[d] == (int64_t)v->dims[d];
        CHECK(same, "%s: %s: shape", what, name);
        CHECK(same && w->data && !memcmp(w->data, v->values, sizeof(float) * (size_t)nvalues(v)),
              "%s: %s: values", what, name);
    }
    CHECK(!kvk_weight_file_layer(file, "adam"), "%s: optimizer state skipped", what);
}

static int contains_all(const char *msg, const char *const *needles) {
    for (int i = 0; needles[i]; i++)
        if (!strstr(msg, needles[i])) return 0;
    return 1;
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_failure(const char *what, const char *path, const char *const *needles) {
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(path, &file);
    const char *msg = kvk_last_error();
    tu_check(st != KVK_OK && !file && strstr(msg, path) && contains_all(msg, needles),
             "%s: refused naming the file and %s: got '%s'", what, needles[0],
             st == KVK_OK ? "(accepted)" : msg);
    kvk_weight_file_free(file);
}

/* The test graph: c1 -> bn -> sep -> gap -> inner/head -> head. */
static void build_graph(kvk_graph *g) {
    kvk_graph_init(g);
    int x = kvk_graph_input(g, "input_layer", 8, 8, 2);
    x = kvk_graph_conv2d(g, x, "c1", 4, 3, 3, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
    x = kvk_graph_batchnorm(g, x, "bn", 1e-3f, 1, 1);
    x = kvk_graph_separable_conv2d(g, x, "sep", 6, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
    x = kvk_graph_global_avgpool(g, x, "gap");
    x = kvk_graph_dense(g, x, "inner/head", 3, KVK_ACT_RELU);
    kvk_graph_dense(g, x, "head", 2, KVK_ACT_SOFTMAX);
}

static void test_weights_h5(void) {
    const char *path = tmp_path("good.weights.h5");
    write_k3(path, V_OK);
    kvk_weight_file *file = NULL;
    if (tu_check(kvk_weight_file_read(path, &file) == KVK_OK, "read %s: %s", path,
                 kvk_last_error()))
        verify("weights.h5", file, KVK_FORMAT_KERAS3_H5, NULL);
    /* it binds to the architecture by the exposed names */
    kvk_graph g;
    build_graph(&g);
    CHECK(g.status == KVK_OK, "test graph builds");
    if (file) tu_check(kvk_bind_weights(&g, file) == KVK_OK, "bind %s: %s", path, kvk_last_error());
    kvk_graph_free(&g);
    kvk_weight_file_free(file);

    FILE *out = tmpfile();
    CHECK(kvk_weight_file_inspect(path, out) == KVK_OK, "inspect: %s", kvk_last_error());
    char text[8192] = "";
    rewind(out);
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    fclose(out);
    CHECK(strstr(text, "Keras 3 .weights.h5") && strstr(text, "inner/head") &&
              strstr(text, "layers/functional/layers/separable_conv2d/vars/1") &&
              strstr(text, "(1, 1, 4, 6)"),
          "inspect shows format, layers and shapes:\n%s", text);

    write_k3(tmp_path("nonames.weights.h5"), V_NO_NAMES);
    expect_failure("bare file without names", tmp_path("nonames.weights.h5"),
                   NEEDLES("layers/", "names no layer", ".keras archive"));
    write_k3(tmp_path("missing.weights.h5"), V_MISSING_VAR);
    expect_failure("missing variable", tmp_path("missing.weights.h5"),
                   NEEDLES("layer 'c1'", "'layers/conv2d/vars/1' is missing"));
    write_k3(tmp_path("string.weights.h5"), V_STRING_VAR);
    expect_failure("string variable", tmp_path("string.weights.h5"),
                   NEEDLES("layer 'bn'", "layers/batch_normalization/vars/2", "string"));
    write_k3(tmp_path("external.weights.h5"), V_EXTERNAL);
    expect_failure("external link", tmp_path("external.weights.h5"),
                   NEEDLES("layers/conv2d/vars/1", "external link"));
    write_k3(tmp_path("dup.weights.h5"), V_DUP_NAME);
    expect_failure("two layers of one name", tmp_path("dup.weights.h5"),
                   NEEDLES("layers/conv2d", "layers/batch_normalization", "layer 'c1'"));
    write_k3(tmp_path("huge.weights.h5"), V_HUGE);
    expect_failure("claimed shape without data", tmp_path("huge.weights.h5"),
                   NEEDLES("layer 'bn'", "layers/batch_normalization/vars/0", "claims"));

    write_k3(tmp_path("shared.weights.h5"), V_SHARED);
    expect_failure("one dataset linked many times", tmp_path("shared.weights.h5"),
                   NEEDLES("layer 'shared'", "linked twice"));

    /* a wrong shape reads, and the binder names file, layer, member and both shapes */
    path = tmp_path("shape.weights.h5");
    write_k3(path, V_WRONG_SHAPE);
    file = NULL;
    if (tu_check(kvk_weight_file_read(path, &file) == KVK_OK, "read %s: %s", path,
                 kvk_last_error())) {
        build_graph(&g);
        kvk_status st = kvk_bind_weights(&g, file);
        const char *msg = kvk_last_error();
        tu_check(st != KVK_OK && strstr(msg, path) && strstr(msg, "layer 'c1'") &&
                     strstr(msg, "layers/conv2d/vars/0") && strstr(msg, "(3, 3, 2, 5)") &&
                     strstr(msg, "(3, 3, 2, 4)"),
                 "wrong shape refused by the binder: %s", st == KVK_OK ? "(accepted)" : msg);
        kvk_graph_free(&g);
    }
    kvk_weight_file_free(file);
}

/* Archives around the good HDF5 file (or the name-less one with config.json). */
static zbuf good_zip(int deflate, int zip64, int names, zlayout *lay, int *weights_index) {
    const char *h5 = tmp_path(names ? "good.weights.h5" : "nonames.weights.h5");
    write_k3(h5, names ? V_OK : V_NO_NAMES);
    size_t size;
    unsigned char *data = read_all(h5, &size);
    zmember m[3] = {
        {"metadata.json", (const unsigned char *)METADATA, strlen(METADATA), deflate},
        {"config.json", (const unsigned char *)CONFIG, strlen(CONFIG), deflate},
        {"model.weights.h5", data, size, deflate},
    };
    zbuf b = make_zip(m, 3, zip64, lay);
    free(data);
    *weights_index = 2;
    return b;
}

static void test_archives(void) {
    static const struct {
        const char *what;
        int deflate, zip64, names;
    } good[] = {
        {"stored", 0, 0, 1},
        {"deflated", 1, 0, 1},
        {"zip64", 0, 1, 1},
        {"names from config.json (Keras < 3.6), deflated", 1, 0, 0},
        {"names from config.json, zip64 deflated", 1, 1, 0},
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        zlayout lay;
        int wi;
        zbuf b = good_zip(good[k].deflate, good[k].zip64, good[k].names, &lay, &wi);
        const char *path = tmp_path("good.keras");
        write_all(path, b.p, b.n);
        free(b.p);
        kvk_weight_file *file = NULL;
        if (tu_check(kvk_weight_file_read(path, &file) == KVK_OK, "%s: read %s: %s", good[k].what,
                     path, kvk_last_error())) {
            verify(good[k].what, file, KVK_FORMAT_KERAS_ARCHIVE, "3.15.1");
            CHECK(file->model_config && !strcmp(file->model_config, CONFIG),
                  "%s: model_config is config.json", good[k].what);
        }
        kvk_weight_file_free(file);
        char *config = NULL;
        file = NULL;
        CHECK(kvk_keras_archive_read(path, &config, NULL) == KVK_OK && config &&
                  !strcmp(config, CONFIG),
              "%s: config.json alone: %s", good[k].what, kvk_last_error());
        free(config);
        config = NULL;
        if (tu_check(kvk_keras_archive_read(path, &config, &file) == KVK_OK,
                     "%s: kvk_keras_archive_read: %s", good[k].what, kvk_last_error()))
            verify(good[k].what, file, KVK_FORMAT_KERAS_ARCHIVE, "3.15.1");
        free(config);
        kvk_weight_file_free(file);
    }

    /* detected by content: an archive and a Keras 3 HDF5 file under misleading names */
    {
        zlayout lay;
        int wi;
        zbuf b = good_zip(1, 0, 1, &lay, &wi);
        const char *path = tmp_path("archive.h5");
        write_all(path, b.p, b.n);
        free(b.p);
        kvk_weight_file *file = NULL;
        if (tu_check(kvk_weight_file_read(path, &file) == KVK_OK, "read %s: %s", path,
                     kvk_last_error()))
            verify("archive named .h5", file, KVK_FORMAT_KERAS_ARCHIVE, "3.15.1");
        kvk_weight_file_free(file);
        path = tmp_path("weights.bin");
        write_k3(path, V_OK);
        file = NULL;
        if (tu_check(kvk_weight_file_read(path, &file) == KVK_OK, "read %s: %s", path,
                     kvk_last_error()))
            verify("Keras 3 HDF5 named .bin", file, KVK_FORMAT_KERAS3_H5, NULL);
        kvk_weight_file_free(file);
    }

    /* unzipped archives (model.save(..., zipped=False)): a directory of the members */
    for (int names = 1; names >= 0; names--) {
        const char *dir = tmp_path(names ? "unzipped" : "unzipped_nonames");
        char sub[600];
        if (mkdir(dir, 0700) != 0) abort();
        snprintf(sub, sizeof sub, "%s/config.json", dir);
        write_all(sub, CONFIG, strlen(CONFIG));
        snprintf(sub, sizeof sub, "%s/metadata.json", dir);
        write_all(sub, METADATA, strlen(METADATA));
        snprintf(sub, sizeof sub, "%s/model.weights.h5", dir);
        write_k3(sub, names ? V_OK : V_NO_NAMES);
        kvk_weight_file *file = NULL;
        if (tu_check(kvk_weight_file_read(dir, &file) == KVK_OK, "read %s: %s", dir,
                     kvk_last_error())) {
            verify(names ? "unzipped archive" : "unzipped archive without names", file,
                   KVK_FORMAT_KERAS_ARCHIVE, "3.15.1");
            CHECK(file->model_config && !strcmp(file->model_config, CONFIG),
                  "unzipped: model_config is config.json");
        }
        kvk_weight_file_free(file);
        if (!names) { /* without config.json the names are missing: refused */
            snprintf(sub, sizeof sub, "%s/config.json", dir);
            unlink(sub);
            expect_failure("unzipped archive without config.json", dir, NEEDLES("config.json"));
        }
    }

    /* inspect an archive */
    {
        zlayout lay;
        int wi;
        zbuf b = good_zip(1, 0, 1, &lay, &wi);
        const char *path = tmp_path("inspect.keras");
        write_all(path, b.p, b.n);
        free(b.p);
        FILE *out = tmpfile();
        CHECK(kvk_weight_file_inspect(path, out) == KVK_OK, "inspect archive: %s",
              kvk_last_error());
        char text[8192] = "";
        rewind(out);
        size_t n = fread(text, 1, sizeof text - 1, out);
        text[n] = '\0';
        fclose(out);
        CHECK(strstr(text, ".keras archive") && strstr(text, "3.15.1") &&
                  strstr(text, "config    yes") && strstr(text, "sep"),
              "inspect shows the archive's format, version and layers:\n%s", text);
    }

    /* broken archives: each made from a good one */
    enum {
        B_TRUNCATED,
        B_TRUNCATED_DATA,
        B_LOCAL_OFFSET,
        B_CD_OFFSET,
        B_ENTRIES,
        B_TOO_LARGE,
        B_BOMB,
        B_OVERLONG,
        B_CRC,
        B_DEFLATE_DATA,
        B_ENCRYPTED,
        B_METHOD,
        B_DUPLICATE,
        B_NO_WEIGHTS,
        B_NOT_HDF5,
        B_COUNT
    };
    for (int k = 0; k < B_COUNT; k++) {
        zlayout lay;
        int wi = 2;
        int deflate = k == B_BOMB || k == B_OVERLONG || k == B_DEFLATE_DATA;
        zbuf b = {0};
        if (k == B_DUPLICATE || k == B_NO_WEIGHTS || k == B_NOT_HDF5) {
            zmember m[3] = {
                {"metadata.json", (const unsigned char *)METADATA, strlen(METADATA), 0},
                {"config.json", (const unsigned char *)CONFIG, strlen(CONFIG), 0},
                {k == B_NOT_HDF5 ? "model.weights.h5" : "config.json",
                 (const unsigned char *)"not hdf5 at all", 15, 0},
            };
            b = make_zip(m, k == B_NO_WEIGHTS ? 2 : 3, 0, &lay);
        } else {
            b = good_zip(deflate, 0, 1, &lay, &wi);
        }
        unsigned char *central = b.p + lay.central[wi];
        const char *what = "?", *n1 = NULL, *n2 = NULL;
        switch (k) {
        case B_TRUNCATED:
            what = "truncated archive";
            b.n = lay.data[wi] + 100;
            n1 = "end-of-central-directory";
            break;
        case B_TRUNCATED_DATA: /* the end kept, the middle of the weights gone */
            what = "archive with data cut out";
            memmove(b.p + lay.data[wi] + 64, b.p + lay.data[wi] + 4096, b.n - lay.data[wi] - 4096);
            b.n -= 4096 - 64;
            n1 = "central directory";
            break;
        case B_LOCAL_OFFSET:
            what = "bad local header offset";
            patch32(central + 42, (uint32_t)lay.cd + 7);
            n1 = "'model.weights.h5'";
            n2 = "offset";
            break;
        case B_CD_OFFSET:
            what = "central directory outside the file";
            patch32(b.p + lay.eocd + 16, 0x7FFFFFF0u);
            n1 = "central directory";
            break;
        case B_ENTRIES:
            what = "more entries than the directory holds";
            b.p[lay.eocd + 8] = b.p[lay.eocd + 10] = 200;
            n1 = "central directory";
            break;
        case B_TOO_LARGE: /* config.json declares 100 MiB (stored: both sizes) */
            what = "member too large";
            central = b.p + lay.central[1];
            patch32(central + 20, 100u << 20);
            patch32(central + 24, 100u << 20);
            n1 = "'config.json'";
            n2 = "declares";
            break;
        case B_BOMB:
            what = "zip bomb";
            patch32(central + 24, (uint32_t)lay.csize[wi] * 2000u);
            n1 = "'model.weights.h5'";
            n2 = "zip bomb";
            break;
        case B_OVERLONG:
            what = "member longer than declared";
            patch32(central + 24, 1000u);
            n1 = "'model.weights.h5'";
            n2 = "more than its declared";
            break;
        case B_CRC:
            what = "damaged stored data";
            b.p[lay.data[wi] + 3000] ^= 0x55;
            n1 = "'model.weights.h5'";
            n2 = "CRC-32";
            break;
        case B_DEFLATE_DATA:
            what = "damaged deflate data";
            memset(b.p + lay.data[wi] + lay.csize[wi] / 2, 0xFF, 64);
            n1 = "'model.weights.h5'"; /* bad data, or a CRC or size mismatch */
            break;
        case B_ENCRYPTED:
            what = "encrypted member";
            central[8] |= 1;
            n1 = "'model.weights.h5'";
            n2 = "encrypted";
            break;
        case B_METHOD:
            what = "bzip2 member";
            central[10] = 12;
            b.p[lay.local[wi] + 8] = 12;
            n1 = "'model.weights.h5'";
            n2 = "method 12";
            break;
        case B_DUPLICATE:
            what = "duplicate member";
            n1 = "'config.json'";
            n2 = "twice";
            break;
        case B_NO_WEIGHTS:
            what = "no model.weights.h5";
            n1 = "no member 'model.weights.h5'";
            n2 = "'config.json'";
            break;
        case B_NOT_HDF5:
            what = "model.weights.h5 not HDF5";
            n1 = "model.weights.h5";
            n2 = "HDF5";
            break;
        }
        const char *path = tmp_path("broken.keras");
        write_all(path, b.p, b.n);
        free(b.p);
        expect_failure(what, path, (const char *const[]){n1, n2, NULL});
        if (k == B_NO_WEIGHTS) { /* config.json alone is still there to read */
            char *config = NULL;
            CHECK(kvk_keras_archive_read(path, &config, NULL) == KVK_OK && config &&
                      !strcmp(config, CONFIG),
                  "config.json of an archive without weights: %s", kvk_last_error());
            free(config);
        }
    }
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kvk-keras3-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    unsigned seed = tu_seed();
    (void)seed;
    for (int i = 0; i < NVARS; i++) vars[i].values = tu_random_array(nvalues(&vars[i]), -2, 2);
    test_weights_h5();
    test_archives();
    for (int i = 0; i < NVARS; i++) free(vars[i].values);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("cannot remove %s\n", tmpdir);
    return tu_finish();
}
