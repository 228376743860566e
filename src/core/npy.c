/* Minimal .npy reader/writer: little-endian float32/float64, C order. */
#include "core/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

void kvk_npy_free(kvk_npy *npy) {
    if (!npy) return;
    free(npy->data);
    npy->data = NULL;
    npy->ndim = 0;
}

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Finds the value following 'key': in the header dict, or NULL. */
static const char *find_key(const char *header, const char *key) {
    char quoted[32];
    for (int q = 0; q < 2; q++) {
        snprintf(quoted, sizeof quoted, q ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(header, quoted);
        if (!p) continue;
        p = skip_space(p + strlen(quoted));
        if (*p != ':') return NULL;
        return skip_space(p + 1);
    }
    return NULL;
}

static kvk_status parse_header(const char *path, const char *header, int *itemsize, kvk_npy *out) {
    const char *p = find_key(header, "descr");
    if (!p || (*p != '\'' && *p != '"'))
        return kvk_fail(KVK_ERROR_FORMAT, "%s: .npy header has no 'descr'", path);
    char descr[16];
    size_t n = strcspn(p + 1, "'\"");
    if (n >= sizeof descr) n = sizeof descr - 1;
    memcpy(descr, p + 1, n);
    descr[n] = '\0';
    if (strcmp(descr, "<f4") == 0)
        *itemsize = 4;
    else if (strcmp(descr, "<f8") == 0)
        *itemsize = 8;
    else
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "%s: .npy dtype '%s' not supported (only '<f4' and '<f8')", path, descr);

    p = find_key(header, "fortran_order");
    if (!p) return kvk_fail(KVK_ERROR_FORMAT, "%s: .npy header has no 'fortran_order'", path);
    if (strncmp(p, "True", 4) == 0)
        return kvk_fail(KVK_ERROR_UNSUPPORTED,
                        "%s: .npy array is in Fortran order; only C order is supported", path);
    if (strncmp(p, "False", 5) != 0)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: bad 'fortran_order' in .npy header", path);

    p = find_key(header, "shape");
    if (!p || *p != '(') return kvk_fail(KVK_ERROR_FORMAT, "%s: .npy header has no 'shape'", path);
    p = skip_space(p + 1);
    out->ndim = 0;
    while (*p != ')') {
        if (*p < '0' || *p > '9')
            return kvk_fail(KVK_ERROR_FORMAT, "%s: bad 'shape' in .npy header", path);
        if (out->ndim == 8)
            return kvk_fail(KVK_ERROR_UNSUPPORTED, "%s: .npy array has more than 8 dimensions",
                            path);
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0)
            return kvk_fail(KVK_ERROR_FORMAT, "%s: bad dimension in .npy header", path);
        out->dims[out->ndim++] = v;
        p = skip_space(end);
        if (*p == ',')
            p = skip_space(p + 1);
        else if (*p != ')')
            return kvk_fail(KVK_ERROR_FORMAT, "%s: bad 'shape' in .npy header", path);
    }
    return KVK_OK;
}

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

kvk_status kvk_npy_read(const char *path, kvk_npy *out) {
    if (!path || !out) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "kvk_npy_read: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return kvk_fail(KVK_ERROR_IO, "%s: %s", path, strerror(errno));
    kvk_status st = KVK_OK;
    char *header = NULL;
    unsigned char magic[12];
    if (fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6) != 0) {
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    uint32_t hlen;
    int major = magic[6];
    if (major == 1) {
        hlen = (uint32_t)magic[8] | (uint32_t)magic[9] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(magic + 10, 1, 2, f) != 2) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hlen = le32(magic + 8);
    } else {
        st = kvk_fail(KVK_ERROR_UNSUPPORTED, "%s: .npy format version %d.%d not supported", path,
                      major, magic[7]);
        goto done;
    }
    if (hlen > (1u << 24)) {
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: .npy header too long (%u bytes)", path, hlen);
        goto done;
    }
    header = malloc(hlen + 1);
    if (!header) {
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if (fread(header, 1, hlen, f) != hlen) {
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: truncated .npy header", path);
        goto done;
    }
    header[hlen] = '\0'; /* v3 headers are UTF-8; the keys we read are ASCII */
    int itemsize = 4;
    st = parse_header(path, header, &itemsize, out);
    if (st != KVK_OK) goto done;
    uint64_t count = 1;
    for (int i = 0; i < out->ndim; i++) {
        uint64_t d = (uint64_t)out->dims[i];
        if (d != 0 && count > (UINT64_MAX / 8) / d) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: .npy array too large", path);
            goto done;
        }
        count *= d;
    }
    if (count > SIZE_MAX / 8) {
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: .npy array too large", path);
        goto done;
    }
    /* The data the shape declares must be in the file before anything that size is allocated (a
     * 130-byte header can declare 120 GB; fuzzing found it). */
    struct stat sb;
    long at = ftell(f);
    if (at >= 0 && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
        (uint64_t)(sb.st_size > at ? sb.st_size - at : 0) < count * (uint64_t)itemsize) {
        st = kvk_fail(KVK_ERROR_FORMAT,
                      "%s: .npy data truncated: the header declares %llu values (%llu bytes), "
                      "%llu bytes follow it",
                      path, (unsigned long long)count, (unsigned long long)count * itemsize,
                      (unsigned long long)(sb.st_size > at ? sb.st_size - at : 0));
        goto done;
    }
    out->data = malloc(count ? count * sizeof(float) : 1);
    if (!out->data) {
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory for %llu values", path,
                      (unsigned long long)count);
        goto done;
    }
    /* Read in chunks, converting as we go, so that float64 files need no second full buffer. */
    unsigned char buf[1 << 15];
    size_t per = sizeof buf / (size_t)itemsize, done_n = 0;
    while (done_n < count) {
        size_t want = count - done_n < per ? (size_t)(count - done_n) : per;
        if (fread(buf, (size_t)itemsize, want, f) != want) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: .npy data truncated (%llu of %llu values)", path,
                          (unsigned long long)done_n, (unsigned long long)count);
            goto done;
        }
        for (size_t i = 0; i < want; i++) {
            const unsigned char *b = buf + i * (size_t)itemsize;
            if (itemsize == 4) {
                uint32_t u = le32(b);
                memcpy(&out->data[done_n + i], &u, 4);
            } else {
                uint64_t u = (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
                double d;
                memcpy(&d, &u, 8);
                out->data[done_n + i] = (float)d;
            }
        }
        done_n += want;
    }
done:
    free(header);
    fclose(f);
    if (st != KVK_OK) kvk_npy_free(out);
    return st;
}

kvk_status kvk_npy_write(const char *path, const float *data, int ndim, const int64_t *dims) {
    if (!path || ndim < 0 || ndim > 8 || (ndim > 0 && !dims))
        return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: bad arguments to kvk_npy_write",
                        path ? path : "(null)");
    /* The header as NumPy's np.save writes it: dict repr, spare spaces so the first axis can grow
     * to 21 digits in place, then spaces and '\n' up to a 64-byte boundary. */
    char header[512];
    int len =
        snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: negative dimension", path);
        count *= (uint64_t)dims[i];
        len += snprintf(header + len, sizeof header - (size_t)len, i ? ", %lld" : "%lld",
                        (long long)dims[i]);
    }
    len += snprintf(header + len, sizeof header - (size_t)len, ndim == 1 ? ",), }" : "), }");
    if (ndim > 0) {
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)dims[0]);
        for (int i = digits; i < 21; i++) header[len++] = ' ';
    }
    int pad = 64 - (10 + len + 1) % 64;
    memset(header + len, ' ', (size_t)pad);
    len += pad;
    header[len++] = '\n';
    if (count && !data) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: NULL data", path);

    FILE *f = fopen(path, "wb");
    if (!f) return kvk_fail(KVK_ERROR_IO, "%s: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(len & 0xFF),
                             (unsigned char)(len >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)len, f) == (size_t)len;
    /* Little-endian hosts only write the floats as they are; convert otherwise. */
    const uint16_t probe = 1;
    int little = *(const unsigned char *)&probe == 1;
    if (ok && little) {
        ok = count == 0 || fwrite(data, sizeof(float), (size_t)count, f) == (size_t)count;
    } else {
        for (uint64_t i = 0; ok && i < count; i++) {
            uint32_t u;
            memcpy(&u, &data[i], 4);
            unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                                  (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
            ok = fwrite(b, 1, 4, f) == 4;
        }
    }
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) return kvk_fail(KVK_ERROR_IO, "%s: write failed: %s", path, strerror(saved));
    return KVK_OK;
}
