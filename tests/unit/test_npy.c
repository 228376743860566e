/* .npy reading and writing; byte-compared with np.save when KVK_PYTHON works. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/npy.h"

#include "testutil.h"

static char tmpdir[1024];

static void temp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = malloc(1 << 20);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* Writes a .npy with a hand-made header, as other NumPy versions or other tools may. */
static void write_raw(const char *path, int major, const char *dict, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    size_t hlen = strlen(dict);
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    size_t plen = major == 1 ? 10 : 12;
    pre[8] = (unsigned char)hlen;
    pre[9] = (unsigned char)(hlen >> 8);
    fwrite(pre, 1, plen, f);
    fwrite(dict, 1, hlen, f);
    fwrite(data, 1, n, f);
    fclose(f);
}

static void test_roundtrip(void) {
    char path[1200];
    const int64_t shapes[][4] = {{2, 3, 4, 0}, {5, 0, 0, 0}, {1, 224, 224, 3}};
    const int ndims[] = {3, 1, 4};
    for (int s = 0; s < 3; s++) {
        size_t n = 1;
        for (int i = 0; i < ndims[s]; i++) n *= (size_t)shapes[s][i];
        float *v = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) v[i] = (float)i * 0.5f - 3.25f;
        temp_path(path, sizeof path, "rt.npy");
        CHECK(kvk_npy_write(path, v, ndims[s], shapes[s]) == 0, "write: %s", kvk_last_error());
        size_t flen;
        unsigned char *bytes = slurp(path, &flen);
        CHECK(bytes && (flen - n * 4) % 64 == 0 && bytes[flen - n * 4 - 1] == '\n',
              "header not padded to 64 bytes");
        free(bytes);
        kvk_npy r;
        CHECK(kvk_npy_read(path, &r) == 0, "read: %s", kvk_last_error());
        CHECK(r.ndim == ndims[s], "ndim %d", r.ndim);
        int same = r.data && memcmp(r.data, v, n * sizeof(float)) == 0;
        for (int i = 0; i < ndims[s] && i < r.ndim; i++) same &= r.dims[i] == shapes[s][i];
        CHECK(same, "round trip of shape %d", s);
        kvk_npy_free(&r);
        free(v);
    }
    /* 0-d */
    float one = 42.0f;
    temp_path(path, sizeof path, "scalar.npy");
    kvk_npy r;
    CHECK(kvk_npy_write(path, &one, 0, NULL) == 0 && kvk_npy_read(path, &r) == 0 && r.ndim == 0 &&
              r.data[0] == 42.0f,
          "0-d round trip: %s", kvk_last_error());
    kvk_npy_free(&r);
}

static void test_variants(void) {
    char path[1200];
    kvk_npy r;
    /* float64, version 2.0, double-quoted keys and odd spacing. */
    double d[3] = {1.5, -2.25, 1e-3};
    temp_path(path, sizeof path, "f8.npy");
    write_raw(path, 2, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": ( 3 , ) }    \n",
              d, sizeof d);
    CHECK(kvk_npy_read(path, &r) == 0 && r.ndim == 1 && r.dims[0] == 3 && r.data[0] == 1.5f &&
              r.data[1] == -2.25f && r.data[2] == (float)1e-3,
          "<f8 v2: %s", kvk_last_error());
    kvk_npy_free(&r);
    /* version 3.0 (utf-8 header) */
    float f[2] = {7, 8};
    temp_path(path, sizeof path, "v3.npy");
    write_raw(path, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }\n", f,
              sizeof f);
    CHECK(kvk_npy_read(path, &r) == 0 && r.ndim == 2 && r.data[1] == 8.0f, "v3: %s",
          kvk_last_error());
    kvk_npy_free(&r);
    /* Refusals name the file and the reason. */
    temp_path(path, sizeof path, "fortran.npy");
    write_raw(path, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }\n", f, sizeof f);
    CHECK(kvk_npy_read(path, &r) != 0 && strstr(kvk_last_error(), path) &&
              strstr(kvk_last_error(), "Fortran"),
          "fortran order: '%s'", kvk_last_error());
    temp_path(path, sizeof path, "int.npy");
    write_raw(path, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", f, sizeof f);
    CHECK(kvk_npy_read(path, &r) != 0 && strstr(kvk_last_error(), "<i4"), "int32: '%s'",
          kvk_last_error());
    temp_path(path, sizeof path, "short.npy");
    write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", f, sizeof f);
    CHECK(kvk_npy_read(path, &r) != 0 && strstr(kvk_last_error(), "truncated"), "truncated: '%s'",
          kvk_last_error());
    /* 120 GB declared by a 130-byte file: refused from the file's size, before allocating */
    temp_path(path, sizeof path, "huge.npy");
    write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 9999999999), }\n", f,
              sizeof f);
    CHECK(kvk_npy_read(path, &r) != 0 && strstr(kvk_last_error(), "29999999997 values"),
          "huge declared shape: '%s'", kvk_last_error());
    temp_path(path, sizeof path, "nine.npy");
    write_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2), }\n",
              f, sizeof f);
    CHECK(kvk_npy_read(path, &r) != 0, "9 dimensions accepted");
    temp_path(path, sizeof path, "bad_magic.npy");
    FILE *fp = fopen(path, "wb");
    fputs("not numpy", fp);
    fclose(fp);
    CHECK(kvk_npy_read(path, &r) != 0 && strstr(kvk_last_error(), path), "bad magic: '%s'",
          kvk_last_error());
    temp_path(path, sizeof path, "missing.npy");
    CHECK(kvk_npy_read(path, &r) != 0 && strstr(kvk_last_error(), path), "missing: '%s'",
          kvk_last_error());
}

/* np.save of the same arrays must give the same bytes. */
static void test_against_numpy(void) {
    const char *python = getenv("KVK_PYTHON");
    char cmd[4096];
    if (!python || !*python) {
        printf("skip: NumPy comparison (KVK_PYTHON not set)\n");
        return;
    }
    snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy' >/dev/null 2>&1", python);
    if (system(cmd) != 0) {
        printf("skip: NumPy comparison (%s has no numpy)\n", python);
        return;
    }
    const int64_t shapes[][4] = {{7, 0, 0, 0}, {2, 3, 0, 0}, {1, 224, 224, 3}, {0, 0, 0, 0}};
    const int ndims[] = {1, 2, 4, 0};
    const char *py_shapes[] = {"(7,)", "(2, 3)", "(1, 224, 224, 3)", "()"};
    for (int s = 0; s < 4; s++) {
        size_t n = 1;
        for (int i = 0; i < ndims[s]; i++) n *= (size_t)shapes[s][i];
        float *v = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) v[i] = (float)i / 3.0f;
        char ours[1200], theirs[1200];
        temp_path(ours, sizeof ours, "ours.npy");
        temp_path(theirs, sizeof theirs, "theirs.npy");
        CHECK(kvk_npy_write(ours, v, ndims[s], shapes[s]) == 0, "write: %s", kvk_last_error());
        snprintf(cmd, sizeof cmd,
                 "'%s' -c 'import numpy as np; np.save(\"%s\", "
                 "(np.arange(%zu, dtype=np.float32) / np.float32(3)).reshape(%s))'",
                 python, theirs, n, py_shapes[s]);
        CHECK(system(cmd) == 0, "np.save failed");
        size_t a, b;
        unsigned char *x = slurp(ours, &a), *y = slurp(theirs, &b);
        CHECK(x && y && a == b && memcmp(x, y, a) == 0, "shape %s: bytes differ from np.save",
              py_shapes[s]);
        free(x);
        free(y);
        free(v);
    }
}

int main(void) {
    const char *base = getenv("KVK_BINARY_DIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_npy.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test_npy.XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    test_roundtrip();
    test_variants();
    test_against_numpy();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (tu_failed == 0 && system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    return tu_finish();
}
