/* Image file decoding to 8-bit RGB, matching what Keras' load_img (Pillow's open().convert("RGB"))
 * gives: alpha dropped without premultiplying, grey replicated, palettes expanded, 16-bit RGB(A)
 * and grey+alpha samples reduced to their high byte, 16-bit grey clipped to 255. */
#include "kvk/image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* The one stb_image implementation in kvk (other files may include the header and call it). */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG /* "Corrupt PNG" rather than terse internal codes */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#ifdef KVK_HAVE_LIBJPEG
#include <jpeglib.h>
#include <jerror.h>
#endif

int kvk_image_have_libjpeg(void) {
#ifdef KVK_HAVE_LIBJPEG
    return 1;
#else
    return 0;
#endif
}

void kvk_image_free(kvk_image *image) {
    if (!image) return;
    free(image->rgb);
    image->rgb = NULL;
    image->width = image->height = 0;
}

/* --- limits ---------------------------------------------------------------------------- */

/* 0: not set through the API (then KVK_MAX_IMAGE_PIXELS, else the default); LLONG_MAX: none */
static _Atomic long long max_pixels_setting;

void kvk_image_set_max_pixels(long long max_pixels) {
    atomic_store(&max_pixels_setting, max_pixels < 0 ? LLONG_MAX : max_pixels);
}

/* The limit in force, or -1 with the error set when KVK_MAX_IMAGE_PIXELS is not a number. */
static long long current_max_pixels(void) {
    long long set = atomic_load(&max_pixels_setting);
    if (set) return set;
    const char *env = getenv("KVK_MAX_IMAGE_PIXELS");
    if (!env || !*env) return KVK_IMAGE_MAX_PIXELS_DEFAULT;
    char *end;
    errno = 0;
    long long v = strtoll(env, &end, 10);
    if (errno || *end || v < 0) {
        kvk_fail(KVK_ERROR_INVALID_ARGUMENT,
                 "KVK_MAX_IMAGE_PIXELS='%s' is not a number of pixels (0 for no limit)", env);
        return -1;
    }
    return v == 0 ? LLONG_MAX : v;
}

long long kvk_image_max_pixels(void) {
    long long v = current_max_pixels();
    if (v == LLONG_MAX) return 0;
    return v < 0 ? KVK_IMAGE_MAX_PIXELS_DEFAULT : v;
}

/* Checks a size read from the header, before the decoder allocates anything for it: refused
 * above the limit, a warning on stderr above half of it (Pillow's DecompressionBombWarning
 * and DecompressionBombError thresholds). */
static kvk_status check_pixels(const char *path, long long w, long long h) {
    long long limit = current_max_pixels();
    if (limit < 0) return KVK_ERROR_INVALID_ARGUMENT;
    if (w <= 0 || h <= 0)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: the header declares %lldx%lld pixels", path, w, h);
    long long pixels = w * h; /* both < 2^32 */
    if (pixels > limit)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: the header declares %lldx%lld = %lld pixels, more than the limit of "
                        "%lld (a decompression bomb? raise it with --max-pixels or "
                        "KVK_MAX_IMAGE_PIXELS)",
                        path, w, h, pixels, limit);
    if (pixels > limit / 2)
        fprintf(stderr,
                "kvk: warning: %s: %lldx%lld = %lld pixels, more than half the limit of %lld\n",
                path, w, h, pixels, limit);
    return KVK_OK;
}

/* Reads a regular file whole (at most KVK_IMAGE_MAX_FILE_BYTES); a FIFO, a device such as
 * /dev/zero or a directory is refused without reading from it (opened non-blocking, so a FIFO
 * without a writer does not hang). */
static kvk_status read_file(const char *path, unsigned char **data, size_t *size) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return kvk_fail(KVK_ERROR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int saved = errno;
        close(fd);
        return kvk_fail(KVK_ERROR_IO, "%s: %s", path, strerror(saved));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return kvk_fail(KVK_ERROR_IO, "%s: not a regular file (%s); images are read from files",
                        path,
                        S_ISDIR(sb.st_mode)    ? "a directory"
                        : S_ISFIFO(sb.st_mode) ? "a FIFO"
                        : S_ISCHR(sb.st_mode)  ? "a character device"
                        : S_ISBLK(sb.st_mode)  ? "a block device"
                        : S_ISSOCK(sb.st_mode) ? "a socket"
                                               : "not a file");
    }
    if ((unsigned long long)sb.st_size > KVK_IMAGE_MAX_FILE_BYTES) {
        close(fd);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %lld bytes, more than the %llu an image may have",
                        path, (long long)sb.st_size, (unsigned long long)KVK_IMAGE_MAX_FILE_BYTES);
    }
    /* the size from fstat, plus one byte to notice a file that grows while it is read */
    size_t cap = (size_t)sb.st_size + 1, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory reading the file", path);
    }
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            free(buf);
            close(fd);
            return kvk_fail(KVK_ERROR_IO, "%s: read error: %s", path, strerror(saved));
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (len == cap) {
        free(buf);
        return kvk_fail(KVK_ERROR_IO, "%s: the file grew while it was read", path);
    }
    *data = buf;
    *size = len;
    return KVK_OK;
}

static int is_jpeg(const unsigned char *d, size_t n) {
    return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

/* stb_image takes a file for a JPEG when it starts with any number of 0xFF fill bytes before
 * the start-of-image marker (FF FF FF D8 ...); libjpeg and Pillow want FF D8 FF. Such a file
 * must not reach stb as "not a JPEG": it would skip the marker checks below (fuzzing found
 * stb overflowing its Huffman tables through exactly that). */
static int stb_takes_as_jpeg(const unsigned char *d, size_t n) {
    size_t i = 0;
    while (i < n && d[i] == 0xFF) i++;
    return i >= 1 && i < n && d[i] == 0xD8;
}

/* stb_image 2.27 (Debian 12's) trusts a JPEG's markers: a Huffman table declaring more than
 * 256 codes overflows its tables (fixed in 2.28). Before a JPEG reaches stb, its marker
 * segments are walked (through the entropy-coded data of every scan, where progressive files
 * define more tables): each must fit in the file, and each Huffman table must hold at most 256
 * codes, all within its segment. Where libjpeg is built in, the file must also decode there
 * without a single warning (below), so stb only ever sees JPEGs libjpeg finds clean. */
static kvk_status check_jpeg_markers(const char *path, const unsigned char *d, size_t n) {
    size_t i = 2; /* after SOI */
    while (i < n) {
        if (d[i] != 0xFF) { /* entropy-coded data: skip to the next marker */
            i++;
            continue;
        }
        while (i < n && d[i] == 0xFF) i++; /* fill bytes */
        if (i >= n) break;
        unsigned m = d[i++];
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) continue; /* stuffing, RSTn */
        if (m == 0xD9) return KVK_OK;                                     /* EOI */
        if (m == 0xD8)
            return kvk_fail(KVK_ERROR_FORMAT, "%s: a second start-of-image marker at byte %zu",
                            path, i - 2);
        if (i + 2 > n)
            return kvk_fail(KVK_ERROR_FORMAT, "%s: truncated JPEG marker 0xFF%02X", path, m);
        size_t len = (size_t)d[i] << 8 | d[i + 1];
        if (len < 2 || i + len > n)
            return kvk_fail(KVK_ERROR_FORMAT,
                            "%s: JPEG marker 0xFF%02X at byte %zu declares %zu bytes, past the end "
                            "of the file",
                            path, m, i - 2, len);
        if (m == 0xC4) { /* DHT: tables of 1 + 16 + (their code count) bytes */
            size_t at = i + 2, end = i + len;
            while (at < end) {
                if (at + 17 > end)
                    return kvk_fail(KVK_ERROR_FORMAT, "%s: truncated Huffman table at byte %zu",
                                    path, at);
                unsigned codes = 0;
                for (int k = 1; k <= 16; k++) codes += d[at + k];
                if (codes > 256 || at + 17 + codes > end)
                    return kvk_fail(KVK_ERROR_FORMAT,
                                    "%s: Huffman table at byte %zu declares %u codes (at most 256, "
                                    "within its %zu-byte segment): corrupt JPEG",
                                    path, at, codes, len);
                at += 17 + codes;
            }
        }
        i += len;
    }
    return KVK_OK; /* no EOI: the decoders report truncation themselves */
}

#ifdef KVK_HAVE_LIBJPEG
struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int strict; /* every warning about corrupt data is an error */
};

static void jpeg_error_exit(j_common_ptr cinfo) {
    struct jpeg_fail *fail = (struct jpeg_fail *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, fail->message);
    longjmp(fail->jump, 1);
}

/* Warnings about corrupt data that libjpeg recovers from are ignored, as Pillow ignores them;
 * but data ending early is an error, as Pillow raises "image file is truncated". In strict
 * mode (checking a file for stb_image) every warning is an error. */
static void jpeg_emit_message(j_common_ptr cinfo, int level) {
    const struct jpeg_fail *fail = (const struct jpeg_fail *)cinfo->err;
    if (level == -1 && (fail->strict || cinfo->err->msg_code == JWRN_JPEG_EOF))
        jpeg_error_exit(cinfo);
}

/* Pillow's cmyk2rgb (its convert("CMYK" -> "RGB")). */
static unsigned char cmyk_channel(int c, int k) {
    int nk = 255 - k;
    int t = c * nk + 128;
    int v = nk - ((t + (t >> 8)) >> 8);
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Decodes into *out; with out NULL only checks that libjpeg decodes the whole file without
 * any warning (strict), keeping no pixels. */
static kvk_status decode_libjpeg(const char *path, const unsigned char *data, size_t size,
                                 kvk_image *out) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_fail fail;
    /* volatile: modified between setjmp and longjmp */
    unsigned char *volatile rgb = NULL;
    unsigned char *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_error_exit;
    fail.mgr.emit_message = jpeg_emit_message;
    fail.message[0] = '\0';
    fail.strict = out == NULL;
    if (setjmp(fail.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        free(row);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %s%s", path, fail.message,
                        fail.strict ? " (corrupt JPEGs are not given to stb_image)" : "");
    }
    jpeg_create_decompress(&cinfo);
    if (size > ULONG_MAX) {
        jpeg_destroy_decompress(&cinfo);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: file too large", path);
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    /* before jpeg_start_decompress, which allocates for the whole image (a progressive JPEG's
     * coefficients: 6 bytes per pixel) */
    kvk_status limit = check_pixels(path, cinfo.image_width, cinfo.image_height);
    if (limit != KVK_OK) {
        jpeg_destroy_decompress(&cinfo);
        return limit;
    }
    /* Pillow keeps libjpeg's defaults (JDCT_ISLOW, fancy upsampling) and asks for RGB, grey
     * ("L", replicated by convert("RGB")) or CMYK. */
    int cmyk = 0, channels = 3;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        channels = 4;
        cmyk = 1;
        break;
    default:
        cinfo.out_color_space = JCS_RGB;
        break;
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > ((size_t)1 << 31) / 3) {
        jpeg_destroy_decompress(&cinfo);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: unsupported image size %dx%d", path, w, h);
    }
    rgb = out ? malloc((size_t)w * h * 3) : NULL;
    row = malloc((size_t)w * channels);
    if ((out && !rgb) || !row) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        free(row);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory for %dx%d pixels", path, w, h);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (!out) continue;
        unsigned char *dst = rgb + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            if (channels == 1) {
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
            } else if (cmyk) {
                int c[4];
                /* Pillow always reads 4-channel JPEGs as inverted ("CMYK;I"). */
                for (int i = 0; i < 4; i++) c[i] = 255 - row[4 * x + i];
                for (int i = 0; i < 3; i++) dst[3 * x + i] = cmyk_channel(c[i], c[3]);
            } else {
                memcpy(dst + 3 * x, row + 3 * x, 3);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (!out) return KVK_OK;
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return KVK_OK;
}
#endif

/* Pillow opens 16-bit grey PNGs as "I;16", and its conversion to RGB clips each sample to 255
 * rather than scaling it (stb would keep the high byte). */
static kvk_status decode_grey16(const char *path, const unsigned char *data, int size,
                                kvk_image *out) {
    int w, h, comp;
    stbi_us *grey = stbi_load_16_from_memory(data, size, &w, &h, &comp, 1);
    if (!grey) return kvk_fail(KVK_ERROR_FORMAT, "%s: %s", path, stbi_failure_reason());
    unsigned char *rgb = malloc((size_t)w * h * 3);
    if (!rgb) {
        stbi_image_free(grey);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory for %dx%d pixels", path, w, h);
    }
    for (size_t i = 0; i < (size_t)w * h; i++) {
        unsigned char v = grey[i] > 255 ? 255 : (unsigned char)grey[i];
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
    }
    stbi_image_free(grey);
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return KVK_OK;
}

/* A PNG may hold IDAT chunks of length 0 (valid, Pillow reads them); stb_image copies an empty
 * first one into its not yet allocated buffer, memcpy(NULL, p, 0), undefined behaviour that
 * UBSan reports (found by fuzzing). Such chunks add nothing to the image data, so they are
 * dropped from a copy given to stb instead. The chunks are walked while they fit in the file;
 * what follows the last one that fits is copied as it is (stb reports it). Returns the copy
 * (malloc'ed, *copy_size bytes), or NULL when there is no empty IDAT to drop. */
static size_t png_chunk(const unsigned char *d, size_t n, size_t at, int *empty_idat) {
    if (at + 12 > n) return 0; /* length, type, data, CRC */
    size_t len = (size_t)d[at] << 24 | (size_t)d[at + 1] << 16 | (size_t)d[at + 2] << 8 | d[at + 3];
    if (len > n - at - 12) return 0;
    *empty_idat = len == 0 && memcmp(d + at + 4, "IDAT", 4) == 0;
    return 12 + len;
}

static unsigned char *png_without_empty_idat(const unsigned char *d, size_t n, size_t *copy_size) {
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(d, signature, 8) != 0) return NULL;
    int any = 0, empty;
    size_t at = 8, step;
    for (; (step = png_chunk(d, n, at, &empty)) > 0; at += step) any |= empty;
    if (!any) return NULL;
    unsigned char *copy = malloc(n);
    if (!copy) return NULL;
    memcpy(copy, d, 8);
    size_t used = 8;
    for (at = 8; (step = png_chunk(d, n, at, &empty)) > 0; at += step) {
        if (empty) continue;
        memcpy(copy + used, d + at, step);
        used += step;
    }
    memcpy(copy + used, d + at, n - at);
    *copy_size = used + (n - at);
    return copy;
}

static kvk_status decode_stb(const char *path, const unsigned char *data, size_t size,
                             kvk_image *out) {
    if (size > INT_MAX) return kvk_fail(KVK_ERROR_FORMAT, "%s: file too large", path);
    size_t png_size = 0;
    unsigned char *png = png_without_empty_idat(data, size, &png_size);
    if (png) {
        kvk_status st = decode_stb(path, png, png_size, out);
        free(png);
        return st;
    }
    int w, h, comp;
    /* stb allocates the whole image (and for PNG its inflated data) from the header's size */
    if (stbi_info_from_memory(data, (int)size, &w, &h, &comp)) {
        kvk_status limit = check_pixels(path, w, h);
        if (limit != KVK_OK) return limit;
    }
    if (stbi_info_from_memory(data, (int)size, &w, &h, &comp) && comp == 1 &&
        stbi_is_16_bit_from_memory(data, (int)size))
        return decode_grey16(path, data, (int)size, out);
    /* stb drops alpha, replicates grey, expands palettes and keeps the high byte of 16-bit
     * samples, which is what Pillow's convert("RGB") does for those modes. */
    unsigned char *pixels = stbi_load_from_memory(data, (int)size, &w, &h, &comp, 3);
    if (!pixels) return kvk_fail(KVK_ERROR_FORMAT, "%s: %s", path, stbi_failure_reason());
    /* Copy so that kvk_image_free (free) never has to know which allocator made the pixels. */
    unsigned char *rgb = malloc((size_t)w * h * 3);
    if (!rgb) {
        stbi_image_free(pixels);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory for %dx%d pixels", path, w, h);
    }
    memcpy(rgb, pixels, (size_t)w * h * 3);
    stbi_image_free(pixels);
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return KVK_OK;
}

kvk_status kvk_image_load(const char *path, kvk_jpeg_decoder decoder, kvk_image *out) {
    if (!path || !out) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "kvk_image_load: NULL argument");
    out->width = out->height = 0;
    out->rgb = NULL;
    if (decoder != KVK_JPEG_DEFAULT && decoder != KVK_JPEG_STB && decoder != KVK_JPEG_LIBJPEG)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: unknown JPEG decoder %d", path,
                        (int)decoder);
#ifndef KVK_HAVE_LIBJPEG
    if (decoder == KVK_JPEG_LIBJPEG)
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "%s: kvk was built without libjpeg-turbo; use the stb JPEG decoder", path);
#endif
    unsigned char *data = NULL;
    size_t size = 0;
    kvk_status st = read_file(path, &data, &size);
    if (st != KVK_OK) return st;
    if (size == 0) {
        free(data);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: empty file", path);
    }
    int jpeg = is_jpeg(data, size);
    if (!jpeg && stb_takes_as_jpeg(data, size)) {
        free(data);
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: fill bytes before the JPEG start-of-image marker (a JPEG starts "
                        "with FF D8 FF): not a JPEG file libjpeg or Pillow reads",
                        path);
    }
#ifdef KVK_HAVE_LIBJPEG
    if (jpeg && decoder != KVK_JPEG_STB) {
        st = decode_libjpeg(path, data, size, out);
    } else {
        if (jpeg) st = check_jpeg_markers(path, data, size);
        if (jpeg && st == KVK_OK) st = decode_libjpeg(path, data, size, NULL); /* clean? */
        if (st == KVK_OK) st = decode_stb(path, data, size, out);
    }
#else
    if (jpeg) st = check_jpeg_markers(path, data, size);
    if (st == KVK_OK) st = decode_stb(path, data, size, out);
#endif
    free(data);
    return st;
}
