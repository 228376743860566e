/* Hostile image files (issue 8): headers of a few hundred bytes declaring 65500x65500 or
 * 20000x20000 pixels, /dev/zero, a FIFO and a directory in place of an image, and the pixel
 * limit's settings (API, KVK_MAX_IMAGE_PIXELS). Every file is written here. The process runs
 * under an address-space limit (RLIMIT_AS, 1 GiB above its size at the start; not under
 * AddressSanitizer) and an alarm, so an allocation from a declared size or an endless read
 * fails the test rather than the machine. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvk/image.h"

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
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)1 << 30);
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS)");
#endif
}

/* --- writing image files ------------------------------------------------------------------ */

typedef struct bytes {
    unsigned char d[16384];
    size_t n;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put8(bytes *b, unsigned v) {
    b->d[b->n++] = (unsigned char)v;
}
static void put16be(bytes *b, unsigned v) {
    put8(b, v >> 8);
    put8(b, v & 255);
}
static void put32be(bytes *b, uint32_t v) {
    put16be(b, v >> 16);
    put16be(b, v & 0xffff);
}
static void put16le(bytes *b, unsigned v) {
    put8(b, v & 255);
    put8(b, v >> 8);
}
static void put32le(bytes *b, uint32_t v) {
    put16le(b, v & 0xffff);
    put16le(b, v >> 16);
}

static void save(const char *path, const bytes *b) {
    FILE *f = fopen(path, "wb");
    fwrite(b->d, 1, b->n, f);
    fclose(f);
}

/* A progressive JPEG header (SOF2) of w x h, 3 components, up to its first scan; then a few
 * bytes of scan data and EOI. libjpeg reads the header; its jpeg_start_decompress would then
 * allocate the whole image's coefficients (6 bytes a pixel). */
static void progressive_jpeg(bytes *b, unsigned w, unsigned h) {
    b->n = 0;
    put16be(b, 0xFFD8);
    put16be(b, 0xFFDB); /* DQT: table 0, all ones */
    put16be(b, 67);
    put8(b, 0);
    for (int i = 0; i < 64; i++) put8(b, 1);
    put16be(b, 0xFFC2); /* SOF2 */
    put16be(b, 17);
    put8(b, 8);
    put16be(b, h);
    put16be(b, w);
    put8(b, 3);
    for (int c = 1; c <= 3; c++) {
        put8(b, c);
        put8(b, 0x11);
        put8(b, 0);
    }
    put16be(b, 0xFFC4); /* DHT: DC table 0, one code of length 1 for symbol 0 */
    put16be(b, 20);
    put8(b, 0x00);
    put8(b, 1);
    for (int i = 1; i < 16; i++) put8(b, 0);
    put8(b, 0);
    put16be(b, 0xFFDA); /* SOS: DC first scan of the three components */
    put16be(b, 12);
    put8(b, 3);
    for (int c = 1; c <= 3; c++) {
        put8(b, c);
        put8(b, 0x00);
    }
    put8(b, 0);
    put8(b, 0);
    put8(b, 0);
    for (int i = 0; i < 16; i++) put8(b, 0);
    put16be(b, 0xFFD9);
}

/* A baseline 16x16 grey JPEG whose DC Huffman table declares `codes` codes (all of length 8,
 * the 256 possible ones at most), then a scan of a few bytes. stb_image 2.27 writes past its
 * tables for more than 256. */
static void jpeg_with_huffman_codes(bytes *b, unsigned codes) {
    b->n = 0;
    put16be(b, 0xFFD8);
    put16be(b, 0xFFDB);
    put16be(b, 67);
    put8(b, 0);
    for (int i = 0; i < 64; i++) put8(b, 1);
    put16be(b, 0xFFC0); /* SOF0, 16x16, one component */
    put16be(b, 11);
    put8(b, 8);
    put16be(b, 16);
    put16be(b, 16);
    put8(b, 1);
    put8(b, 1);
    put8(b, 0x11);
    put8(b, 0);
    put16be(b, 0xFFC4);
    put16be(b, 2 + 17 + codes);
    put8(b, 0x00);
    for (int i = 1; i <= 16; i++) put8(b, i == 8 ? (codes > 255 ? 255 : codes) : 0);
    if (codes > 255) b->d[b->n - 1] = (unsigned char)(codes - 255); /* length 16: the rest */
    for (unsigned i = 0; i < codes; i++) put8(b, i & 0xff);
    put16be(b, 0xFFDA);
    put16be(b, 8);
    put8(b, 1);
    put8(b, 1);
    put8(b, 0x00);
    put8(b, 0);
    put8(b, 63);
    put8(b, 0);
    for (int i = 0; i < 32; i++) put8(b, 0x55);
    put16be(b, 0xFFD9);
}

static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void png_chunk(bytes *b, const char *type, const unsigned char *data, size_t n) {
    put32be(b, (uint32_t)n);
    size_t start = b->n;
    put(b, type, 4);
    if (n) put(b, data, n);
    put32be(b, crc32_of(b->d + start, n + 4));
}

/* A PNG of w x h: with `rows` an RGB image whose data is complete (grey 128), else a grey
 * one (stb's own 1 GiB check passes 20000x20000 grey) with only a few bytes of a zlib stream
 * after the header. */
static void png(bytes *b, uint32_t w, uint32_t h, int rows) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    b->n = 0;
    put(b, sig, 8);
    bytes ihdr = {.n = 0};
    put32be(&ihdr, w);
    put32be(&ihdr, h);
    put8(&ihdr, 8);            /* depth */
    put8(&ihdr, rows ? 2 : 0); /* RGB or grey */
    put8(&ihdr, 0);
    put8(&ihdr, 0);
    put8(&ihdr, 0);
    png_chunk(b, "IHDR", ihdr.d, ihdr.n);
    static bytes z;
    z.n = 0;
    put8(&z, 0x78);
    put8(&z, 0x01);
    if (rows) { /* one stored deflate block: each row a filter byte 0 and w*3 samples */
        size_t raw = (size_t)h * (1 + (size_t)w * 3);
        put8(&z, 1);
        put16le(&z, (unsigned)raw);
        put16le(&z, (unsigned)~raw & 0xffff);
        uint32_t s1 = 1, s2 = 0;
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x <= w * 3; x++) {
                unsigned char v = x == 0 ? 0 : 128;
                put8(&z, v);
                s1 = (s1 + v) % 65521;
                s2 = (s2 + s1) % 65521;
            }
        put32be(&z, (s2 << 16) | s1);
    } else {
        for (int i = 0; i < 8; i++) put8(&z, 0);
    }
    png_chunk(b, "IDAT", z.d, z.n);
    png_chunk(b, "IEND", NULL, 0);
}

/* A 24-bit BMP header of w x h with no pixel data. */
static void bmp(bytes *b, uint32_t w, uint32_t h) {
    b->n = 0;
    put8(b, 'B');
    put8(b, 'M');
    put32le(b, 54);
    put32le(b, 0);
    put32le(b, 54);
    put32le(b, 40);
    put32le(b, w);
    put32le(b, h);
    put16le(b, 1);
    put16le(b, 24);
    put32le(b, 0);
    put32le(b, 0);
    put32le(b, 2835);
    put32le(b, 2835);
    put32le(b, 0);
    put32le(b, 0);
}

/* --- checks --------------------------------------------------------------------------------- */

static void expect_refused(const char *what, const char *path, kvk_jpeg_decoder dec,
                           const char *const *needles) {
    kvk_image im = {0, 0, NULL};
    kvk_status st = kvk_image_load(path, dec, &im);
    const char *msg = kvk_last_error();
    int ok = st != KVK_OK && im.rgb == NULL;
    for (int i = 0; ok && needles[i]; i++) ok = strstr(msg, needles[i]) != NULL;
    tu_check(ok, "%s: refused naming %s (status %d: %s)", what, needles[0], (int)st, msg);
    kvk_image_free(&im);
}

/* Runs kvk_image_load with stderr sent to a file; returns the status, stderr in `err`. */
static kvk_status load_capturing(const char *path, kvk_image *im, char *err, size_t size) {
    fflush(stderr);
    int saved = dup(2);
    int fd = open(tmp_path("stderr.txt"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    kvk_status st = kvk_image_load(path, KVK_JPEG_DEFAULT, im);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, err, size - 1);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    return st;
}

static void test_declared_sizes(void) {
    static bytes b;
    const char *p = tmp_path("progressive.jpg");
    progressive_jpeg(&b, 65500, 65500);
    save(p, &b);
    tu_check(b.n < 200, "the progressive JPEG is %zu bytes", b.n);
    expect_refused("progressive JPEG 65500x65500 (libjpeg)", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, "65500x65500", "limit", NULL});
    expect_refused("progressive JPEG 65500x65500 (stb)", p, KVK_JPEG_STB,
                   (const char *const[]){p, "65500x65500", "limit", NULL});

    p = tmp_path("big.png");
    png(&b, 20000, 20000, 0);
    save(p, &b);
    expect_refused("PNG 20000x20000", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, "20000x20000", "limit", NULL});

    p = tmp_path("big.bmp");
    bmp(&b, 20000, 20000);
    save(p, &b);
    expect_refused("BMP 20000x20000", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, "20000x20000", "limit", NULL});

    /* a baseline JPEG of the same size goes through the same check */
    p = tmp_path("baseline.jpg");
    progressive_jpeg(&b, 20000, 20000);
    b.d[2 + 2 + 67 + 1] = 0xC0; /* SOF2 -> SOF0 */
    save(p, &b);
    expect_refused("baseline JPEG 20000x20000", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, "20000x20000", NULL});
}

/* Corrupt JPEGs that make stb_image 2.27 write out of bounds never reach it (checked under
 * the sanitizer build, where the overflow aborts): with --jpeg stb they are refused by the
 * marker check and by libjpeg's strict decode; by default libjpeg refuses them itself. */
static void test_corrupt_jpeg_for_stb(void) {
    static bytes b;
    const char *p = tmp_path("dht300.jpg");
    jpeg_with_huffman_codes(&b, 300);
    save(p, &b);
    expect_refused("a Huffman table of 300 codes (stb)", p, KVK_JPEG_STB,
                   (const char *const[]){p, "Huffman table", "300 codes", NULL});
    expect_refused("a Huffman table of 300 codes (libjpeg)", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, NULL});
    p = tmp_path("dht_short.jpg");
    jpeg_with_huffman_codes(&b, 40);
    b.d[2 + 69 + 13 + 2] = 0x00; /* the DHT segment's length (after SOI, DQT, SOF0, marker)... */
    b.d[2 + 69 + 13 + 3] = 10;   /* ...now 10: shorter than one table */
    save(p, &b);
    expect_refused("a Huffman table longer than its segment (stb)", p, KVK_JPEG_STB,
                   (const char *const[]){p, "truncated Huffman table", NULL});
}

/* What fuzzing found (tests/fuzz/corpus/image): fill bytes before SOI took a JPEG to stb as
 * "not a JPEG", past the Huffman checks; an empty IDAT made stb memcpy into NULL. */
static void test_fuzz_findings(void) {
    static bytes b, c;
    const char *p = tmp_path("fill_bytes.jpg");
    jpeg_with_huffman_codes(&b, 300);
    c.n = 0;
    put8(&c, 0xFF);
    put8(&c, 0xFF);
    put(&c, b.d, b.n);
    save(p, &c);
    for (int dec = KVK_JPEG_DEFAULT; dec <= KVK_JPEG_LIBJPEG; dec++)
        expect_refused("FF FF before the JPEG's SOI", p, (kvk_jpeg_decoder)dec,
                       (const char *const[]){p, "fill bytes", NULL});

    /* the 40x30 grey-128 RGB PNG with an empty IDAT before its data and one after */
    p = tmp_path("empty_idat.png");
    png(&b, 40, 30, 1);
    size_t header = 8 + 12 + 13, iend = b.n - 12;
    c.n = 0;
    put(&c, b.d, header);
    png_chunk(&c, "IDAT", NULL, 0);
    put(&c, b.d + header, iend - header);
    png_chunk(&c, "IDAT", NULL, 0);
    put(&c, b.d + iend, 12);
    save(p, &c);
    kvk_image im = {0, 0, NULL};
    kvk_status st = kvk_image_load(p, KVK_JPEG_DEFAULT, &im);
    int grey = st == KVK_OK;
    for (int i = 0; grey && i < 40 * 30 * 3; i++) grey = im.rgb[i] == 128;
    tu_check(grey && im.width == 40 && im.height == 30,
             "a PNG with empty IDAT chunks decodes as without them (%s)",
             st == KVK_OK ? "pixels differ" : kvk_last_error());
    kvk_image_free(&im);
}

static void test_not_files(void) {
    expect_refused("/dev/zero", "/dev/zero", KVK_JPEG_DEFAULT,
                   (const char *const[]){"/dev/zero", "not a regular file", NULL});
    const char *fifo = tmp_path("fifo.png");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    expect_refused("a FIFO without a writer", fifo, KVK_JPEG_DEFAULT,
                   (const char *const[]){fifo, "FIFO", NULL});
    expect_refused("a directory", tmpdir, KVK_JPEG_DEFAULT,
                   (const char *const[]){tmpdir, "directory", NULL});
}

static void test_limit_settings(void) {
    static bytes b;
    const char *p = tmp_path("small.png");
    png(&b, 40, 30, 1); /* 1200 pixels */
    save(p, &b);
    kvk_image im = {0, 0, NULL};
    char err[1024];
    kvk_status st = load_capturing(p, &im, err, sizeof err);
    tu_check(st == KVK_OK && im.width == 40 && im.height == 30 && im.rgb[0] == 128 && !err[0],
             "the 40x30 PNG decodes under the default limit, no warning (%s)", kvk_last_error());
    kvk_image_free(&im);
    tu_check(kvk_image_max_pixels() == KVK_IMAGE_MAX_PIXELS_DEFAULT, "default limit %lld",
             kvk_image_max_pixels());

    kvk_image_set_max_pixels(1000);
    expect_refused("40x30 over an API limit of 1000", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, "40x30 = 1200 pixels", "1000", NULL});
    kvk_image_set_max_pixels(2000);
    st = load_capturing(p, &im, err, sizeof err);
    tu_check(st == KVK_OK && strstr(err, "warning") && strstr(err, "40x30"),
             "over half the limit: decoded with a warning (%s)", err);
    kvk_image_free(&im);
    kvk_image_set_max_pixels(-1);
    tu_check(kvk_image_max_pixels() == 0, "no limit");

    kvk_image_set_max_pixels(0); /* back to the environment */
    setenv("KVK_MAX_IMAGE_PIXELS", "1199", 1);
    tu_check(kvk_image_max_pixels() == 1199, "KVK_MAX_IMAGE_PIXELS sets it");
    expect_refused("40x30 over KVK_MAX_IMAGE_PIXELS=1199", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){p, "1199", NULL});
    setenv("KVK_MAX_IMAGE_PIXELS", "lots", 1);
    expect_refused("KVK_MAX_IMAGE_PIXELS=lots", p, KVK_JPEG_DEFAULT,
                   (const char *const[]){"KVK_MAX_IMAGE_PIXELS='lots'", NULL});
    setenv("KVK_MAX_IMAGE_PIXELS", "0", 1);
    st = kvk_image_load(p, KVK_JPEG_DEFAULT, &im);
    tu_check(st == KVK_OK && kvk_image_max_pixels() == 0, "KVK_MAX_IMAGE_PIXELS=0: no limit");
    kvk_image_free(&im);
    unsetenv("KVK_MAX_IMAGE_PIXELS");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kvk-hostile-images-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    alarm(60); /* a read that never ends fails the test */
    limit_memory();
    test_declared_sizes();
    test_not_files();
    test_corrupt_jpeg_for_stb();
    test_fuzz_findings();
    test_limit_settings();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return tu_finish();
}
