/* Image decoding, resizing, preprocessing and labels; compared against Keras/Pillow (through
 * tests/oracle/pil_reference.py) when KVK_PYTHON names a working Python with Keras. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvk/image.h"
#include "kvk/labels.h"
#include "core/npy.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "testutil.h"

static char tmpdir[1024];

static void temp_path(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* ---- PNG writer for 16-bit samples (stb_image_write only writes 8-bit) ---------------------- */
static uint32_t crc32_bytes(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void chunk(FILE *f, const char *type, const unsigned char *data, uint32_t n) {
    unsigned char head[8];
    put32(head, n);
    memcpy(head + 4, type, 4);
    fwrite(head, 1, 8, f);
    if (n) fwrite(data, 1, n, f);
    uint32_t crc = crc32_bytes(crc32_bytes(0, (const unsigned char *)type, 4), data, n);
    put32(head, crc);
    fwrite(head, 1, 4, f);
}

/* A w x 1 PNG of colour type `ctype` with 16-bit samples `v` (channels per pixel `ch`). */
static int write_png16(const char *path, int w, int ctype, int ch, const uint16_t *v) {
    int rowlen = 1 + w * ch * 2;
    unsigned char *raw = calloc(1, (size_t)rowlen);
    for (int i = 0; i < w * ch; i++) {
        raw[1 + 2 * i] = (unsigned char)(v[i] >> 8);
        raw[2 + 2 * i] = (unsigned char)v[i];
    }
    int zlen;
    unsigned char *z = stbi_zlib_compress(raw, rowlen, &zlen, 8);
    free(raw);
    FILE *f = fopen(path, "wb");
    if (!f || !z) {
        if (f) fclose(f);
        free(z);
        return 0;
    }
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    unsigned char ihdr[13] = {0};
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, 1);
    ihdr[8] = 16;
    ihdr[9] = (unsigned char)ctype;
    chunk(f, "IHDR", ihdr, 13);
    chunk(f, "IDAT", z, (uint32_t)zlen);
    chunk(f, "IEND", NULL, 0);
    free(z);
    return fclose(f) == 0;
}

/* ---- pure C checks -----------------------------------------------------------------------------
 */
static void test_decode_formats(void) {
    char path[1200];
    /* Grey 8-bit: replicated into R, G and B. */
    unsigned char grey[6] = {0, 1, 127, 128, 254, 255};
    temp_path(path, sizeof path, "grey.png");
    CHECK(stbi_write_png(path, 3, 2, 1, grey, 3), "write %s", path);
    kvk_image im;
    kvk_status st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    CHECK(st == KVK_OK && im.width == 3 && im.height == 2, "grey png: %s", kvk_last_error());
    if (st == KVK_OK) {
        int ok = 1;
        for (int i = 0; i < 6; i++)
            for (int c = 0; c < 3; c++) ok &= im.rgb[3 * i + c] == grey[i];
        CHECK(ok, "grey png not replicated into RGB");
        kvk_image_free(&im);
    }
    /* RGBA: alpha dropped, colour kept as is even where alpha is 0 (Pillow's convert("RGB")). */
    unsigned char rgba[8] = {10, 20, 30, 0, 40, 50, 60, 128};
    temp_path(path, sizeof path, "rgba.png");
    CHECK(stbi_write_png(path, 2, 1, 4, rgba, 8), "write %s", path);
    st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    CHECK(st == KVK_OK && im.width == 2 && im.height == 1, "rgba png: %s", kvk_last_error());
    if (st == KVK_OK) {
        const unsigned char want[6] = {10, 20, 30, 40, 50, 60};
        CHECK(memcmp(im.rgb, want, 6) == 0, "rgba png: alpha not simply dropped");
        kvk_image_free(&im);
    }
    /* Grey + alpha. */
    unsigned char ga[4] = {10, 0, 40, 128};
    temp_path(path, sizeof path, "ga.png");
    CHECK(stbi_write_png(path, 2, 1, 2, ga, 4), "write %s", path);
    st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    if (st == KVK_OK) {
        const unsigned char want[6] = {10, 10, 10, 40, 40, 40};
        CHECK(memcmp(im.rgb, want, 6) == 0, "grey+alpha png");
        kvk_image_free(&im);
    } else {
        CHECK(0, "grey+alpha png: %s", kvk_last_error());
    }
    /* BMP, 24-bit. */
    unsigned char rgb[6] = {1, 2, 3, 250, 251, 252};
    temp_path(path, sizeof path, "rgb.bmp");
    CHECK(stbi_write_bmp(path, 2, 1, 3, rgb), "write %s", path);
    st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    if (st == KVK_OK) {
        CHECK(memcmp(im.rgb, rgb, 6) == 0, "bmp pixels");
        kvk_image_free(&im);
    } else {
        CHECK(0, "bmp: %s", kvk_last_error());
    }
    /* 16-bit: Pillow clips "I;16" grey to 255 but keeps the high byte of RGB(A) and grey+alpha. */
    const uint16_t v16[6] = {0, 1, 255, 256, 1000, 0xFFFF};
    temp_path(path, sizeof path, "grey16.png");
    CHECK(write_png16(path, 6, 0, 1, v16), "write %s", path);
    st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    if (st == KVK_OK) {
        const unsigned char want[6] = {0, 1, 255, 255, 255, 255};
        int ok = im.width == 6;
        for (int i = 0; ok && i < 6; i++)
            for (int c = 0; c < 3; c++) ok &= im.rgb[3 * i + c] == want[i];
        CHECK(ok, "16-bit grey png: not clipped as Pillow does");
        kvk_image_free(&im);
    } else {
        CHECK(0, "16-bit grey png: %s", kvk_last_error());
    }
    uint16_t rgb16[18];
    for (int i = 0; i < 6; i++) rgb16[3 * i] = rgb16[3 * i + 1] = rgb16[3 * i + 2] = v16[i];
    temp_path(path, sizeof path, "rgb16.png");
    CHECK(write_png16(path, 6, 2, 3, rgb16), "write %s", path);
    st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    if (st == KVK_OK) {
        const unsigned char want[6] = {0, 0, 0, 1, 3, 255};
        int ok = im.width == 6;
        for (int i = 0; ok && i < 6; i++)
            for (int c = 0; c < 3; c++) ok &= im.rgb[3 * i + c] == want[i];
        CHECK(ok, "16-bit RGB png: not the high byte");
        kvk_image_free(&im);
    } else {
        CHECK(0, "16-bit RGB png: %s", kvk_last_error());
    }
}

static void test_decode_errors(void) {
    char path[1200];
    kvk_image im;
    temp_path(path, sizeof path, "corrupt.png");
    const char junk[] = "\x89PNG\r\n\x1a\nthis is not a PNG at all";
    CHECK(write_bytes(path, junk, sizeof junk), "write %s", path);
    kvk_status st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    CHECK(st == KVK_ERROR_FORMAT, "corrupt png: status %s", kvk_status_name(st));
    CHECK(strstr(kvk_last_error(), path) != NULL, "corrupt png message lacks the path: '%s'",
          kvk_last_error());
    CHECK(im.rgb == NULL, "corrupt png left pixels");

    temp_path(path, sizeof path, "no_such_file.png");
    st = kvk_image_load(path, KVK_JPEG_DEFAULT, &im);
    CHECK(st == KVK_ERROR_IO && strstr(kvk_last_error(), path), "missing file: %s '%s'",
          kvk_status_name(st), kvk_last_error());

    /* A JPEG cut short: Pillow refuses it ("image file is truncated"), so both decoders must. */
    const char *shared = getenv("KVK_SHARED_DATA");
    if (shared) {
        char src[1200];
        snprintf(src, sizeof src, "%s/images/opencv_orange.jpg", shared);
        FILE *f = fopen(src, "rb");
        if (f) {
            unsigned char buf[4000];
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            temp_path(path, sizeof path, "truncated.jpg");
            CHECK(n == sizeof buf && write_bytes(path, buf, n), "write %s", path);
            for (int d = 0; d < 2; d++) {
                kvk_jpeg_decoder dec = d ? KVK_JPEG_STB : KVK_JPEG_DEFAULT;
                st = kvk_image_load(path, dec, &im);
                if (st == KVK_OK) {
                    kvk_image_free(&im);
                    /* stb decodes what it has and fills the rest; only report it. */
                    if (dec == KVK_JPEG_STB) {
                        printf("note: stb accepts a truncated JPEG\n");
                        continue;
                    }
                }
                CHECK(st == KVK_ERROR_FORMAT && strstr(kvk_last_error(), path),
                      "truncated jpeg (%s): %s '%s'", d ? "stb" : "default", kvk_status_name(st),
                      kvk_last_error());
            }
        }
    }
    if (!kvk_image_have_libjpeg()) {
        st = kvk_image_load("x.jpg", KVK_JPEG_LIBJPEG, &im);
        CHECK(st == KVK_ERROR_UNSUPPORTED, "libjpeg requested without it: %s", kvk_status_name(st));
    }
}

static void test_resize_nearest(void) {
    /* Source pixel i of a 1-row image has R = i; the output's R values are the chosen indices.
     * Expected tables are Pillow 13's. 6 from 4 at x = 4: (4 + 0.5) * 4/6 is exactly 3, but the
     * accumulated double is just below it and Pillow picks 2; 7 from 2 at x = 3 likewise. */
    struct {
        int in, out;
        int want[8];
    } cases[] = {
        {5, 3, {0, 2, 4}},
        {4, 6, {0, 1, 1, 2, 2, 3}},
        {2, 7, {0, 0, 0, 0, 1, 1, 1}},
        {3, 3, {0, 1, 2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int in = cases[c].in, out = cases[c].out;
        unsigned char px[3 * 8];
        for (int i = 0; i < in; i++) px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = (unsigned char)i;
        /* The same image both as a row and as a column checks x and y. */
        kvk_image row = {in, 1, px}, col = {1, in, px}, r, k;
        kvk_status s1 = kvk_image_resize(&row, out, 1, KVK_RESIZE_NEAREST, &r);
        kvk_status s2 = kvk_image_resize(&col, 1, out, KVK_RESIZE_NEAREST, &k);
        CHECK(s1 == KVK_OK && s2 == KVK_OK, "resize %d->%d: %s", in, out, kvk_last_error());
        if (s1 != KVK_OK || s2 != KVK_OK) continue;
        int ok = 1;
        for (int i = 0; i < out; i++)
            ok &= r.rgb[3 * i] == cases[c].want[i] && k.rgb[3 * i] == cases[c].want[i];
        CHECK(ok, "nearest %d->%d picks other pixels than Pillow", in, out);
        kvk_image_free(&r);
        kvk_image_free(&k);
    }
    /* 49 from 2: here the accumulated double ends up on or above 1 at x = 24 (Pillow: 1), while
     * (24 + 0.5) * (2/49.) truncates to 0. */
    unsigned char px[6] = {0, 0, 0, 1, 1, 1};
    kvk_image row = {2, 1, px}, r;
    if (kvk_image_resize(&row, 49, 1, KVK_RESIZE_NEAREST, &r) == KVK_OK) {
        int ok = 1;
        for (int i = 0; i < 49; i++) ok &= r.rgb[3 * i] == (i >= 24);
        CHECK(ok, "nearest 2->49 differs from Pillow");
        kvk_image_free(&r);
    }
    kvk_image bad;
    CHECK(kvk_image_resize(&row, 0, 5, KVK_RESIZE_NEAREST, &bad) == KVK_ERROR_INVALID_ARGUMENT,
          "zero width accepted");
}

static void test_resize_bilinear(void) {
    /* Values from Pillow 13's Image.resize(..., BILINEAR). */
    struct {
        int in, out;
        unsigned char src[8], want[8];
    } cases[] = {
        {4, 3, {0, 100, 200, 255}, {30, 150, 239}},
        {2, 5, {0, 255}, {0, 25, 128, 230, 255}},
        {7, 2, {10, 20, 30, 40, 50, 60, 70}, {26, 54}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int in = cases[c].in, out = cases[c].out;
        unsigned char px[3 * 8];
        for (int i = 0; i < in; i++) px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = cases[c].src[i];
        kvk_image row = {in, 1, px}, col = {1, in, px}, r, k;
        if (kvk_image_resize(&row, out, 1, KVK_RESIZE_BILINEAR, &r) != KVK_OK ||
            kvk_image_resize(&col, 1, out, KVK_RESIZE_BILINEAR, &k) != KVK_OK) {
            CHECK(0, "bilinear %d->%d: %s", in, out, kvk_last_error());
            continue;
        }
        int ok = 1;
        for (int i = 0; i < out; i++)
            ok &= r.rgb[3 * i] == cases[c].want[i] && k.rgb[3 * i] == cases[c].want[i];
        CHECK(ok, "bilinear %d->%d differs from Pillow", in, out);
        kvk_image_free(&r);
        kvk_image_free(&k);
    }
}

static void test_preprocess(void) {
    unsigned char px[3] = {10, 20, 255};
    kvk_image im = {1, 1, px};
    float o[3];
    kvk_image_preprocess(&im, KVK_PREPROCESS_CAFFE, o);
    CHECK(o[0] == 255.0f - 103.939f && o[1] == 20.0f - 116.779f && o[2] == 10.0f - 123.68f,
          "caffe: %g %g %g", o[0], o[1], o[2]);
    kvk_image_preprocess(&im, KVK_PREPROCESS_TF, o);
    CHECK(o[2] == 1.0f && o[0] == 10.0f / 127.5f - 1.0f, "tf: %g %g", o[0], o[2]);
    kvk_image_preprocess(&im, KVK_PREPROCESS_TORCH, o);
    CHECK(fabsf(o[2] - (1.0f - 0.406f) / 0.225f) < 1e-6f, "torch: %g", o[2]);
    kvk_image_preprocess(&im, KVK_PREPROCESS_NONE, o);
    CHECK(o[0] == 10.0f && o[1] == 20.0f && o[2] == 255.0f, "none");
}

static void test_labels(void) {
    CHECK(kvk_imagenet_wnid(0) && strcmp(kvk_imagenet_wnid(0), "n01440764") == 0, "wnid 0");
    CHECK(kvk_imagenet_label(0) && strcmp(kvk_imagenet_label(0), "tench") == 0, "label 0");
    CHECK(kvk_imagenet_wnid(999) && strcmp(kvk_imagenet_wnid(999), "n15075141") == 0, "wnid 999");
    CHECK(kvk_imagenet_label(999) && strcmp(kvk_imagenet_label(999), "toilet_tissue") == 0,
          "label 999");
    CHECK(!kvk_imagenet_wnid(1000) && !kvk_imagenet_label(-1), "invalid index not NULL");

    float scores[1000];
    for (int i = 0; i < 1000; i++) scores[i] = 0.0001f * (float)(i % 7);
    scores[386] = 0.5f;  /* African_elephant */
    scores[101] = 0.25f; /* tusker */
    scores[385] = 0.25f; /* Indian_elephant: ties with 101, the higher index comes first */
    scores[3] = 0.125f;
    kvk_prediction p[5];
    int n = kvk_decode_predictions(scores, 1000, 5, p);
    CHECK(n == 5, "decode_predictions returned %d", n);
    CHECK(p[0].index == 386 && p[1].index == 385 && p[2].index == 101 && p[3].index == 3,
          "order: %d %d %d %d", p[0].index, p[1].index, p[2].index, p[3].index);
    /* Among the 0.0006 scores (i % 7 == 6) the highest index, 993, ranks first. */
    CHECK(p[4].index == 993, "5th: %d", p[4].index);
    CHECK(p[0].label && strcmp(p[0].label, "African_elephant") == 0 && p[0].probability == 0.5f,
          "top label %s", p[0].label ? p[0].label : "(null)");
    CHECK(strcmp(p[1].wnid, "n02504013") == 0, "wnid of 385: %s", p[1].wnid);

    float few[4] = {0.1f, 0.7f, 0.1f, 0.1f};
    n = kvk_decode_predictions(few, 4, 10, p);
    CHECK(n == 4 && p[0].index == 1 && p[1].index == 3 && p[2].index == 2 && p[3].index == 0,
          "4 classes: n=%d %d %d %d", n, p[0].index, p[1].index, p[2].index);
    CHECK(p[0].wnid == NULL && p[0].label == NULL, "non-ImageNet rows must have no labels");
}

/* ---- comparison with Keras/Pillow -------------------------------------------------------------
 */
typedef struct diff {
    double max;
    size_t differing, total;
} diff;

static diff compare(const float *a, const float *b, size_t n) {
    diff d = {0, 0, n};
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > d.max) d.max = e;
        if (a[i] != b[i]) d.differing++;
    }
    return d;
}

static int python_works(const char *python) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy, PIL' >/dev/null 2>&1", python);
    return system(cmd) == 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_against_pillow(void) {
    const char *python = getenv("KVK_PYTHON"), *shared = getenv("KVK_SHARED_DATA");
    const char *source = getenv("KVK_SOURCE_DIR");
    if (!python || !*python || !shared || !source || !python_works(python)) {
        printf("skip: Pillow comparison (set KVK_PYTHON, KVK_SHARED_DATA and KVK_SOURCE_DIR)\n");
        return;
    }
    char oracle[1200], cmd[4096];
    snprintf(oracle, sizeof oracle, "%s/pil", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/oracle/pil_reference.py' '%s' '%s/images' 2>&1",
             python, source, oracle, shared);
    FILE *p = popen(cmd, "r");
    char line[1024];
    while (p && fgets(line, sizeof line, p))
        if (!strstr(line, "cudart_stub") && !strstr(line, "absl::InitializeLog"))
            fputs(line, stdout);
    int rc = p ? pclose(p) : -1;
    CHECK(rc == 0, "pil_reference.py failed (%d)", rc);
    if (rc != 0) return;

    const char *images[] = {"skimage_chelsea.png", "skimage_coffee.png",
                            "skimage_rocket.jpg",  "opencv_orange.jpg",
                            "darknet_eagle.jpg",   "opencv_space_shuttle.jpg"};
    const int sizes[][2] = {{224, 224}, {299, 299}, {97, 131}};
    const char *modes[] = {"none", "caffe", "tf", "bilinear"};
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        char path[1200], stem[256];
        snprintf(path, sizeof path, "%s/images/%s", shared, images[i]);
        snprintf(stem, sizeof stem, "%.*s", (int)(strrchr(images[i], '.') - images[i]), images[i]);
        int png = ends_with(images[i], ".png");
        for (int d = 0; d < (png ? 1 : 2); d++) {
            kvk_jpeg_decoder dec = d ? KVK_JPEG_STB : KVK_JPEG_DEFAULT;
            const char *dname = png                        ? "stb"
                                : d                        ? "stb"
                                : kvk_image_have_libjpeg() ? "libjpeg"
                                                           : "stb";
            /* Exact where Pillow's own decoder is used: PNG, and JPEG through libjpeg-turbo. */
            int exact = png || (!d && kvk_image_have_libjpeg());
            kvk_image full;
            kvk_status st = kvk_image_load(path, dec, &full);
            CHECK(st == KVK_OK, "%s: %s", path, kvk_last_error());
            if (st != KVK_OK) continue;
            char ref[2048];
            snprintf(ref, sizeof ref, "%s/%s_full_none.npy", oracle, stem);
            kvk_npy want;
            if (kvk_npy_read(ref, &want) == KVK_OK) {
                size_t n = (size_t)full.width * full.height * 3;
                CHECK(want.ndim == 3 && want.dims[0] == full.height && want.dims[1] == full.width,
                      "%s: size differs from Pillow's", images[i]);
                if (want.dims[0] == full.height && want.dims[1] == full.width) {
                    float *got = malloc(n * sizeof(float));
                    kvk_image_preprocess(&full, KVK_PREPROCESS_NONE, got);
                    diff df = compare(got, want.data, n);
                    printf("%-26s %-7s decode   %4dx%-4d max|diff| %3.0f, %6.2f%% values differ\n",
                           images[i], dname, full.width, full.height, df.max,
                           100.0 * df.differing / df.total);
                    if (exact)
                        CHECK(df.max == 0, "%s (%s): decoded pixels differ from Pillow's",
                              images[i], dname);
                    free(got);
                }
                kvk_npy_free(&want);
            }
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                int h = sizes[s][0], w = sizes[s][1];
                size_t n = (size_t)h * w * 3;
                float *got = malloc(n * sizeof(float));
                for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                    int bilinear = strcmp(modes[m], "bilinear") == 0;
                    kvk_preprocess mode = strcmp(modes[m], "caffe") == 0 ? KVK_PREPROCESS_CAFFE
                                          : strcmp(modes[m], "tf") == 0  ? KVK_PREPROCESS_TF
                                                                         : KVK_PREPROCESS_NONE;
                    snprintf(ref, sizeof ref, "%s/%s_%dx%d_%s.npy", oracle, stem, h, w, modes[m]);
                    if (kvk_npy_read(ref, &want) != KVK_OK) {
                        CHECK(0, "%s", kvk_last_error());
                        continue;
                    }
                    kvk_image sized;
                    st = kvk_image_resize(
                        &full, w, h, bilinear ? KVK_RESIZE_BILINEAR : KVK_RESIZE_NEAREST, &sized);
                    CHECK(st == KVK_OK, "resize: %s", kvk_last_error());
                    if (st == KVK_OK) {
                        kvk_image_preprocess(&sized, mode, got);
                        kvk_image_free(&sized);
                        diff df = compare(got, want.data, n);
                        printf("%-26s %-7s %3dx%-3d %-8s max|diff| %8.5f, %6.2f%% values differ\n",
                               images[i], dname, h, w, modes[m], df.max,
                               100.0 * df.differing / df.total);
                        if (exact)
                            CHECK(df.max == 0, "%s (%s) %dx%d %s differs from Keras", images[i],
                                  dname, h, w, modes[m]);
                        else /* stb's JPEG IDCT and upsampling are not libjpeg's: measured up to 3
                                levels */
                            CHECK(df.max <=
                                          (mode == KVK_PREPROCESS_TF ? 8.0 / 127.5 + 1e-6 : 8.0) &&
                                      df.differing < df.total / 4,
                                  "%s (stb) %dx%d %s: max %g, %zu of %zu differ", images[i], h, w,
                                  modes[m], df.max, df.differing, df.total);
                    }
                    kvk_npy_free(&want);
                }
                /* kvk_image_load_input is the same chain in one call. */
                float *chain = malloc(n * sizeof(float));
                snprintf(ref, sizeof ref, "%s/%s_%dx%d_caffe.npy", oracle, stem, h, w);
                st = kvk_image_load_input(path, w, h, KVK_RESIZE_NEAREST, dec, KVK_PREPROCESS_CAFFE,
                                          chain);
                if (st == KVK_OK && exact && kvk_npy_read(ref, &want) == KVK_OK) {
                    CHECK(compare(chain, want.data, n).max == 0, "load_input %s %dx%d", images[i],
                          h, w);
                    kvk_npy_free(&want);
                } else {
                    CHECK(st == KVK_OK, "load_input: %s", kvk_last_error());
                }
                free(chain);
                free(got);
            }
            kvk_image_free(&full);
        }
    }
}

int main(void) {
    const char *base = getenv("KVK_BINARY_DIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_image.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test_image.XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    test_decode_formats();
    test_decode_errors();
    test_resize_nearest();
    test_resize_bilinear();
    test_preprocess();
    test_labels();
    test_against_pillow();
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (tu_failed == 0 && system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    return tu_finish();
}
