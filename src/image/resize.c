/* Resizing as Pillow's Image.resize does it, so that kvk's inputs equal Keras' load_img ones. */
#include "kvk/image.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Pillow's NEAREST (ImagingScaleAffine): the source coordinate starts at scale / 2 and grows by
 * scale per output pixel in double precision, then is truncated. The accumulated sum can differ
 * from (x + 0.5) * scale in the last bit, which picks a different pixel where that product is a
 * whole number, so the accumulation is reproduced as is. */
static int nearest_table(int in_size, int out_size, int *table) {
    double scale = (double)in_size / out_size;
    double pos = 0.0 + scale * 0.5; /* a[2] + a[0] * 0.5 with the box origin a[2] = 0 */
    for (int i = 0; i < out_size; i++) {
        int v = pos < 0.0 ? -1 : (int)pos;
        if (v < 0 || v >= in_size) return 0; /* cannot happen for a full-image box */
        table[i] = v;
        pos += scale;
    }
    return 1;
}

static kvk_status resize_nearest(const kvk_image *src, kvk_image *dst) {
    int *xs = malloc(sizeof(int) * (size_t)dst->width);
    int *ys = malloc(sizeof(int) * (size_t)dst->height);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "resize: out of memory");
    }
    if (!nearest_table(src->width, dst->width, xs) ||
        !nearest_table(src->height, dst->height, ys)) {
        free(xs);
        free(ys);
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "resize: coordinate out of range");
    }
    for (int y = 0; y < dst->height; y++) {
        const unsigned char *in = src->rgb + (size_t)ys[y] * src->width * 3;
        unsigned char *out = dst->rgb + (size_t)y * dst->width * 3;
        for (int x = 0; x < dst->width; x++) memcpy(out + 3 * x, in + 3 * xs[x], 3);
    }
    free(xs);
    free(ys);
    return KVK_OK;
}

/* Pillow's BILINEAR (ImagingResample with the triangle filter): separable, support widened by
 * the scale when shrinking, weights normalised in double then turned into 22-bit fixed point,
 * horizontal pass first over the rows the vertical pass needs, each pass rounding to 8 bits. */
#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

typedef struct coeffs {
    int ksize;
    int *bounds; /* per output pixel: first source index, count */
    int *k;      /* out_size * ksize fixed-point weights */
} coeffs;

static int precompute(int in_size, int out_size, coeffs *c) {
    double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    c->k = malloc(sizeof(int) * (size_t)ksize * out_size);
    double *w = malloc(sizeof(double) * (size_t)ksize);
    if (!c->bounds || !c->k || !w) {
        free(c->bounds);
        free(c->k);
        free(w);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = 0.0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int *k = c->k + (size_t)xx * ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            k[x] = v < 0 ? (int)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int)(0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
    return 1;
}

static unsigned char clip8(int v) {
    v >>= PRECISION_BITS;
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static kvk_status resize_bilinear(const kvk_image *src, kvk_image *dst) {
    coeffs cx = {0}, cy = {0};
    int need_h = dst->width != src->width, need_v = dst->height != src->height;
    if (!precompute(src->height, dst->height, &cy))
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "resize: out of memory");
    int first = cy.bounds[0];
    int last = cy.bounds[2 * dst->height - 2] + cy.bounds[2 * dst->height - 1];
    const unsigned char *in = src->rgb;
    int in_rows_offset = 0; /* row of `in` that holds source row `first` */
    unsigned char *tmp = NULL;
    if (need_h) {
        if (!precompute(src->width, dst->width, &cx)) {
            free(cy.bounds);
            free(cy.k);
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "resize: out of memory");
        }
        tmp = malloc((size_t)dst->width * 3 * (size_t)(last - first));
        if (!tmp) {
            free(cx.bounds);
            free(cx.k);
            free(cy.bounds);
            free(cy.k);
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "resize: out of memory");
        }
        for (int y = first; y < last; y++) {
            const unsigned char *row = src->rgb + (size_t)y * src->width * 3;
            unsigned char *out = tmp + (size_t)(y - first) * dst->width * 3;
            for (int xx = 0; xx < dst->width; xx++) {
                int xmin = cx.bounds[2 * xx], xmax = cx.bounds[2 * xx + 1];
                const int *k = cx.k + (size_t)xx * cx.ksize;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    const unsigned char *p = row + 3 * (size_t)(x + xmin);
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                out[3 * xx] = clip8(s0);
                out[3 * xx + 1] = clip8(s1);
                out[3 * xx + 2] = clip8(s2);
            }
        }
        free(cx.bounds);
        free(cx.k);
        in = tmp;
        in_rows_offset = first;
    }
    if (need_v) {
        for (int yy = 0; yy < dst->height; yy++) {
            int ymin = cy.bounds[2 * yy] - in_rows_offset, ymax = cy.bounds[2 * yy + 1];
            const int *k = cy.k + (size_t)yy * cy.ksize;
            unsigned char *out = dst->rgb + (size_t)yy * dst->width * 3;
            for (int i = 0; i < dst->width * 3; i++) {
                int s = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++)
                    s += in[(size_t)(y + ymin) * dst->width * 3 + i] * k[y];
                out[i] = clip8(s);
            }
        }
    } else {
        /* Only the horizontal pass ran, and over all rows (first = 0, last = height). */
        memcpy(dst->rgb, in, (size_t)dst->width * dst->height * 3);
    }
    free(tmp);
    free(cy.bounds);
    free(cy.k);
    return KVK_OK;
}

kvk_status kvk_image_resize(const kvk_image *src, int width, int height, kvk_resize filter,
                            kvk_image *out) {
    if (!src || !out || !src->rgb || src->width <= 0 || src->height <= 0)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "resize: no source image");
    if (width <= 0 || height <= 0 || (size_t)width * (size_t)height > (size_t)INT_MAX / 3)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "resize: invalid target size %dx%d", width,
                        height);
    if (filter != KVK_RESIZE_NEAREST && filter != KVK_RESIZE_BILINEAR)
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "resize: unknown filter %d", (int)filter);
    kvk_image dst = {width, height, malloc((size_t)width * height * 3)};
    if (!dst.rgb) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "resize: out of memory");
    kvk_status st = KVK_OK;
    if (width == src->width && height == src->height)
        memcpy(dst.rgb, src->rgb, (size_t)width * height * 3); /* Pillow copies too */
    else if (filter == KVK_RESIZE_NEAREST)
        st = resize_nearest(src, &dst);
    else
        st = resize_bilinear(src, &dst);
    if (st != KVK_OK) {
        free(dst.rgb);
        return st;
    }
    *out = dst;
    return KVK_OK;
}
