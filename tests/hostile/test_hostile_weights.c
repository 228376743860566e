/* Hostile weight files (issue 8): small files that declare huge sizes, written here with the
 * HDF5 C API and as TF.js model.json + shards. Each must be refused with a message naming
 * the file, the dataset and the size at fault, before anything of that size is allocated:
 * the process runs under an address-space limit (RLIMIT_AS, 1 GiB above what it uses at the
 * start; not under AddressSanitizer, which reserves terabytes of address space). */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "keras/weights.h"
#include "kvk.h"

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void limit_memory(void) {
#ifndef UNDER_ASAN
    /* the address space in use now (from /proc/self/statm, in pages) plus 1 GiB */
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)1 << 30);
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS)");
    printf("address space limited to %.0f MiB\n", (double)rl.rlim_cur / 1048576.0);
#else
    printf("AddressSanitizer: no address-space limit; the messages are checked\n");
#endif
}

static void string_attr(hid_t obj, const char *name, const char *const *values, int n) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 64);
    hsize_t dim = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    char buf[8][64];
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < n; i++) snprintf(buf[i], 64, "%s", values[i]);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, buf);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

enum { CONTIGUOUS_UNWRITTEN, CONTIGUOUS_WRITTEN_SMALL, DEFLATE_ONE_CHUNK, CHUNKED_UNWRITTEN };

/* A save_weights file with one layer 'dense' whose 'kernel' dataset has the given shape, laid
 * out as `layout`. Returns 0 when HDF5 refuses to create such a dataset. */
static int write_h5(const char *path, int ndim, const hsize_t *dims, int layout) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const char *layers[] = {"dense"}, *weights[] = {"kernel"};
    string_attr(f, "layer_names", layers, 1);
    string_attr(f, "keras_version", (const char *const[]){"2.2.4"}, 1);
    hid_t g = H5Gcreate2(f, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    string_attr(g, "weight_names", weights, 1);
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (layout == DEFLATE_ONE_CHUNK || layout == CHUNKED_UNWRITTEN) {
        hsize_t chunk[8];
        for (int i = 0; i < ndim; i++) chunk[i] = dims[i] < 64 ? dims[i] : 64;
        H5Pset_chunk(dcpl, ndim, chunk);
        if (layout == DEFLATE_ONE_CHUNK) H5Pset_deflate(dcpl, 9);
    }
    hid_t ds = H5Dcreate2(g, "kernel", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int ok = ds >= 0;
    if (ok && layout == DEFLATE_ONE_CHUNK) { /* one 64x64 chunk of data */
        float block[64 * 64];
        for (int i = 0; i < 64 * 64; i++) block[i] = 1.0f;
        hsize_t start[2] = {0, 0}, count[2] = {64, 64};
        hid_t mem = H5Screate_simple(2, count, NULL);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
        H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, block);
        H5Sclose(mem);
    }
    if (ok && layout == CONTIGUOUS_WRITTEN_SMALL) { /* all its data, but the file is cut below */
        size_t n = 1;
        for (int i = 0; i < ndim; i++) n *= dims[i];
        float *v = calloc(n, sizeof *v);
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
    }
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Gclose(g);
    H5Fclose(f);
    return ok;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* kvk_weight_file_read must fail with FORMAT and a message holding every `needles` entry. */
static void expect_refused(const char *what, const char *path, const char *const *needles) {
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(path, &file);
    const char *msg = kvk_last_error();
    int ok = st == KVK_ERROR_FORMAT && file == NULL;
    for (int i = 0; ok && needles[i]; i++) ok = strstr(msg, needles[i]) != NULL;
    tu_check(ok, "%s: refused naming %s... (status %d: %s)", what, needles[0], (int)st, msg);
    kvk_weight_file_free(file);
}

static void test_h5_declared_sizes(void) {
    /* 1.6 GB of float32 declared by a file of a few KB: HDF5 would fill it with zeros */
    const char *p = tmp_path("unwritten.h5");
    hsize_t big[2] = {20000, 20000};
    write_h5(p, 2, big, CONTIGUOUS_UNWRITTEN);
    tu_check(file_size(p) < 16384, "unwritten.h5 is small (%ld bytes)", file_size(p));
    expect_refused("unwritten 20000x20000 dataset", p,
                   (const char *const[]){p, "'dense'", "'kernel'", "1600000000 bytes", NULL});

    /* the same, chunked: no chunk is ever written */
    p = tmp_path("chunked_unwritten.h5");
    write_h5(p, 2, big, CHUNKED_UNWRITTEN);
    expect_refused("unwritten chunked dataset", p,
                   (const char *const[]){p, "'kernel'", "1600000000 bytes", NULL});

    /* compressed: 6.4 GB declared, one chunk stored; over the per-dataset maximum */
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        p = tmp_path("deflate.h5");
        hsize_t huge[2] = {40000, 40000};
        write_h5(p, 2, huge, DEFLATE_ONE_CHUNK);
        tu_check(file_size(p) < 65536, "deflate.h5 is small (%ld bytes)", file_size(p));
        expect_refused("compressed 40000x40000 dataset", p,
                       (const char *const[]){p, "'kernel'", "1600000000 values", NULL});
    } else {
        tu_skip("HDF5 without deflate");
    }

    /* a real dataset in a file cut short: declared bytes past the end of the file */
    p = tmp_path("cut.h5");
    hsize_t mid[2] = {512, 512};
    write_h5(p, 2, mid, CONTIGUOUS_WRITTEN_SMALL);
    long full = file_size(p);
    CHECK(full > 1 << 20 && truncate(p, full - (1 << 19)) == 0, "cut.h5 truncated");
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(p, &file);
    tu_check(st != KVK_OK && strstr(kvk_last_error(), p), "truncated file refused: %s",
             kvk_last_error());
    kvk_weight_file_free(file);

    /* shapes whose size overflows 64 bits: chunked, so HDF5 creates them */
    p = tmp_path("overflow.h5");
    hsize_t over[3] = {(hsize_t)1 << 30, (hsize_t)1 << 30, (hsize_t)1 << 30};
    if (write_h5(p, 3, over, CHUNKED_UNWRITTEN))
        expect_refused("2^90-element dataset", p,
                       (const char *const[]){p, "'kernel'", "overflows", NULL});
    else
        tu_skip("HDF5 refuses to create a 2^90-element dataset");
}

/* inspect of a file whose parameter total overflows int64: said, not wrapped (UBSan) */
static void test_inspect_overflow(void) {
    const char *p = tmp_path("inspect_overflow.h5");
    hsize_t dims[2] = {(hsize_t)1 << 31, (hsize_t)1 << 30}; /* 2^61 each, 5 * 2^61 in all */
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const char *layers[] = {"a", "b", "c", "d", "e"};
    string_attr(f, "layer_names", layers, 5);
    string_attr(f, "keras_version", (const char *const[]){"2.2.4"}, 1);
    for (int i = 0; i < 5; i++) {
        hid_t g = H5Gcreate2(f, layers[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        string_attr(g, "weight_names", (const char *const[]){"kernel"}, 1);
        hid_t space = H5Screate_simple(2, dims, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hsize_t chunk[2] = {64, 64};
        H5Pset_chunk(dcpl, 2, chunk);
        hid_t ds = H5Dcreate2(g, "kernel", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (ds >= 0) H5Dclose(ds);
        H5Pclose(dcpl);
        H5Sclose(space);
        H5Gclose(g);
    }
    H5Fclose(f);
    char out_path[512];
    snprintf(out_path, sizeof out_path, "%s/inspect.txt", tmpdir);
    FILE *out = fopen(out_path, "w+");
    kvk_status st = kvk_weight_file_inspect(p, out);
    char text[4096] = "";
    rewind(out);
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    fclose(out);
    const char *line = strstr(text, "weights   ");
    tu_check(st == KVK_OK && line && strstr(line, "5 tensors, more than") &&
                 strstr(line, "overflow") && !strchr(line, '-'),
             "inspect says the parameter total overflows: %.80s", line ? line : text);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_tfjs_declared_sizes(void) {
    /* 2^40 x 2^40: the element count wraps to 0 in 64 bits */
    const char *dir = tmp_path("tfjs_huge");
    mkdir(dir, 0755);
    char json[1024], shard[600];
    snprintf(json, sizeof json, "%s/model.json", dir);
    snprintf(shard, sizeof shard, "%s/group1-shard1of1.bin", dir);
    write_text(shard, "0123456789abcdef");
    write_text(json, "{\"format\": \"layers-model\", \"modelTopology\": {}, \"weightsManifest\": "
                     "[{\"paths\": [\"group1-shard1of1.bin\"], \"weights\": ["
                     "{\"name\": \"dense/kernel\", \"shape\": [1099511627776, 1099511627776], "
                     "\"dtype\": \"float32\"},"
                     "{\"name\": \"dense/bias\", \"shape\": [4], \"dtype\": \"float32\"}]}]}");
    expect_refused("TF.js 2^40 x 2^40 weight", json,
                   (const char *const[]){json, "'dense/kernel'", "shape[1]", "2^40", NULL});
    kvk_clear_error();
    tu_check(kvk_weight_file_inspect(json, stdout) == KVK_ERROR_FORMAT &&
                 strstr(kvk_last_error(), "2^40"),
             "inspect refuses it too: %s", kvk_last_error());

    /* 2^20 x 2^20 x 2^10: 2^50 values, more than the shards could ever hold */
    write_text(json, "{\"weightsManifest\": [{\"paths\": [\"group1-shard1of1.bin\"], \"weights\": "
                     "[{\"name\": \"w\", \"shape\": [1048576, 1048576, 1024], "
                     "\"dtype\": \"float32\"}]}]}");
    expect_refused("TF.js 2^50-value weight", json, (const char *const[]){json, "'w'", NULL});
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* model.json in `dir` with one group: `paths` and `weights` are the JSON arrays' contents. */
static const char *write_manifest(const char *dir, const char *paths, const char *weights) {
    static char json[600];
    snprintf(json, sizeof json, "%s/model.json", dir);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"format\": \"layers-model\", \"modelTopology\": {}, \"weightsManifest\": "
             "[{\"paths\": [%s], \"weights\": [%s]}]}",
             paths, weights);
    write_text(json, text);
    return json;
}

/* Shards are found only inside the model's folder; errors name the manifest's path and tell
 * nothing about a file outside (its size, here 1000 bytes). */
static void test_tfjs_paths(void) {
    char dir[512], sub[600], secret[512], text[1200];
    snprintf(secret, sizeof secret, "%s", tmp_path("secret.bin"));
    static unsigned char secret_bytes[1000];
    write_bytes(secret, secret_bytes, sizeof secret_bytes);
    snprintf(dir, sizeof dir, "%s", tmp_path("model"));
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0755);
    float four[4] = {1, 2, 3, 4};
    snprintf(text, sizeof text, "%s/shard.bin", dir);
    write_bytes(text, four, sizeof four);
    snprintf(text, sizeof text, "%s/sub/shard.bin", dir);
    write_bytes(text, four, sizeof four);
    snprintf(text, sizeof text, "%s/out.bin", dir);
    CHECK(symlink("../secret.bin", text) == 0, "symlink out.bin");
    snprintf(text, sizeof text, "%s/in.bin", dir);
    CHECK(symlink("sub/shard.bin", text) == 0, "symlink in.bin");
    const char *w4 = "{\"name\": \"d/bias\", \"shape\": [4], \"dtype\": \"float32\"}";

    struct {
        const char *what, *paths, *needle;
    } refused[] = {
        {"'..' in a shard path", "\"../secret.bin\"", "'../secret.bin'"},
        {"'..' further down", "\"sub/../../secret.bin\"", "'sub/../../secret.bin'"},
        {"a symbolic link out of the folder", "\"out.bin\"", "'out.bin' is a link that leads out"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *json = write_manifest(dir, refused[i].paths, w4);
        kvk_weight_file *file = NULL;
        kvk_status st = kvk_weight_file_read(json, &file);
        const char *msg = kvk_last_error();
        tu_check(st != KVK_OK && strstr(msg, json) && strstr(msg, refused[i].needle) &&
                     !strstr(msg, "1000") && !strstr(msg, secret),
                 "%s: refused, naming the path only (%s)", refused[i].what, msg);
        kvk_weight_file_free(file);
        kvk_clear_error();
        st = kvk_weight_file_inspect(json, stdout);
        tu_check(st != KVK_OK && strstr(kvk_last_error(), refused[i].needle),
                 "%s: inspect refuses it too (%s)", refused[i].what, kvk_last_error());
    }
    /* an absolute path */
    char abs_paths[600];
    snprintf(abs_paths, sizeof abs_paths, "\"%s\"", secret);
    const char *json = write_manifest(dir, abs_paths, w4);
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(json, &file);
    tu_check(st != KVK_OK && strstr(kvk_last_error(), "absolute") &&
                 !strstr(kvk_last_error(), "1000"),
             "an absolute shard path: refused (%s)", kvk_last_error());
    kvk_weight_file_free(file);

    /* inside the folder: a subfolder and a link that stays inside are fine */
    const char *fine[] = {"\"sub/shard.bin\"", "\"in.bin\"", "\"./shard.bin\""};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        json = write_manifest(dir, fine[i], w4);
        file = NULL;
        st = kvk_weight_file_read(json, &file);
        tu_check(st == KVK_OK && file && file->layers[0].weights[0].data[3] == 4.0f,
                 "shard %s inside the folder loads (%s)", fine[i], st ? kvk_last_error() : "ok");
        kvk_weight_file_free(file);
    }
}

/* A weight named twice is refused (which one would TF.js load?); weights are put where their
 * names say, whatever the manifest's order. */
static void test_tfjs_names(void) {
    char dir[512], shard[600];
    snprintf(dir, sizeof dir, "%s", tmp_path("names"));
    mkdir(dir, 0755);
    snprintf(shard, sizeof shard, "%s/shard.bin", dir);
    float v[4] = {4, 2, 3, 1};
    write_bytes(shard, v, sizeof v);
    const char *json =
        write_manifest(dir, "\"shard.bin\"",
                       "{\"name\": \"d/bias\", \"shape\": [2], \"dtype\": \"float32\"},"
                       "{\"name\": \"d/bias\", \"shape\": [2], \"dtype\": \"float32\"}");
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(json, &file);
    tu_check(st == KVK_ERROR_FORMAT && strstr(kvk_last_error(), "'d/bias' is listed twice"),
             "a duplicate weight name is refused (%s)", st ? kvk_last_error() : "loaded");
    kvk_weight_file_free(file);

    json = write_manifest(dir, "\"shard.bin\"",
                          "{\"name\": \"bn/moving_variance\", \"shape\": [1], \"dtype\": "
                          "\"float32\"},"
                          "{\"name\": \"bn/beta\", \"shape\": [1], \"dtype\": \"float32\"},"
                          "{\"name\": \"bn/moving_mean\", \"shape\": [1], \"dtype\": "
                          "\"float32\"},"
                          "{\"name\": \"bn/gamma\", \"shape\": [1], \"dtype\": \"float32\"}");
    file = NULL;
    st = kvk_weight_file_read(json, &file);
    const kvk_weight_layer *bn = st == KVK_OK ? kvk_weight_file_layer(file, "bn") : NULL;
    int ordered = bn && bn->count == 4;
    const char *names[] = {"bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"};
    for (int i = 0; ordered && i < 4; i++)
        ordered =
            !strcmp(bn->weights[i].name, names[i]) && bn->weights[i].data[0] == (float)(i + 1);
    tu_check(ordered, "BN weights listed in reverse are put in Keras order by name (%s)",
             bn ? bn->weights[0].name : kvk_last_error());
    kvk_weight_file_free(file);
}

/* A VGG16 file whose block1_conv1 kernel declares 5000x5000x3x4 values (1.2 GB as float32,
 * compressed, one chunk written: a few KB on disk): the model is refused for the shape, from
 * the metadata, before any data is read (reading it would hit the 1 GiB maximum first). */
static void test_shape_before_data(void) {
    const char *p = tmp_path("vgg16_big_kernel.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    string_attr(f, "layer_names", (const char *const[]){"block1_conv1"}, 1);
    string_attr(f, "keras_version", (const char *const[]){"2.2.4"}, 1);
    string_attr(f, "backend", (const char *const[]){"tensorflow"}, 1);
    hid_t g = H5Gcreate2(f, "block1_conv1", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    string_attr(g, "weight_names", (const char *const[]){"kernel", "bias"}, 2);
    hsize_t kd[4] = {5000, 5000, 3, 4}, chunk[4] = {8, 8, 3, 4}, bd[1] = {64};
    hid_t space = H5Screate_simple(4, kd, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, chunk);
    H5Pset_deflate(dcpl, 9);
    hid_t ds = H5Dcreate2(g, "kernel", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    static float block[8 * 8 * 3 * 4];
    hsize_t start[4] = {0, 0, 0, 0};
    hid_t mem = H5Screate_simple(4, chunk, NULL);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, chunk, NULL);
    H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, block);
    H5Sclose(mem);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    space = H5Screate_simple(1, bd, NULL);
    ds = H5Dcreate2(g, "bias", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    static float bias[64];
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, bias);
    H5Dclose(ds);
    H5Sclose(space);
    H5Gclose(g);
    H5Fclose(f);
    tu_check(file_size(p) < 65536, "the file is small (%ld bytes)", file_size(p));

    kvk_context_options co = {.device = "cpu-reference"};
    kvk_context *ctx = NULL;
    if (!tu_check(kvk_context_create(&co, &ctx) == KVK_OK, "cpu-reference context: %s",
                  kvk_last_error()))
        return;
    kvk_model_options mo = {.architecture = "vgg16", .weights = p, .height = 32, .width = 32};
    kvk_model *m = NULL;
    kvk_status st = kvk_model_create(ctx, &mo, &m);
    const char *msg = kvk_last_error();
    tu_check(st == KVK_ERROR_SHAPE && strstr(msg, p) && strstr(msg, "block1_conv1") &&
                 strstr(msg, "(5000, 5000, 3, 4)") && strstr(msg, "expected (3, 3, 3, 64)"),
             "a 5000x5000x3x4 kernel is refused for its shape before it is read (%s)", msg);
    kvk_model_destroy(m);
    kvk_context_destroy(ctx);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kvk-hostile-weights-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    limit_memory();
    test_h5_declared_sizes();
    test_inspect_overflow();
    test_tfjs_declared_sizes();
    test_tfjs_paths();
    test_tfjs_names();
    test_shape_before_data();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return tu_finish();
}
