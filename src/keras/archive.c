/* .keras archives: a zip reader checked against every hostile input, and the glue that reads
 * config.json, metadata.json and model.weights.h5 (see archive.h). */
#include "keras/archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/error.h"
#include "core/json.h"
#include "keras/weights_internal.h"
#include "keras/weights_keras3.h"

enum {
    EOCD_SIZE = 22,
    EOCD64_LOCATOR_SIZE = 20,
    EOCD64_SIZE = 56,
    CENTRAL_SIZE = 46,
    LOCAL_SIZE = 30,
    MAX_COMMENT = 65535,
    MAX_ENTRIES = 1 << 20,
    CHUNK = 1 << 20,
};
#define MAX_CENTRAL ((uint64_t)256 << 20) /* central directory bytes */

typedef struct zip_entry {
    char *name; /* as stored (may hold a NUL: then it matches nothing) */
    size_t name_len;
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local;
} zip_entry;

typedef struct zip {
    const char *path;
    FILE *f;
    uint64_t size;     /* of the file */
    uint64_t data_end; /* members must end here: the central directory's offset */
    zip_entry *entries;
    size_t count;
} zip;

static uint16_t le16(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int kvk_archive_signature(const unsigned char *head, size_t n) {
    /* a local file header, or the end record of an empty archive */
    return n >= 4 && head[0] == 'P' && head[1] == 'K' &&
           ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
}

static int read_at(zip *z, uint64_t offset, void *buf, size_t n) {
    if (offset > z->size || n > z->size - offset) return 0;
    if (fseeko(z->f, (off_t)offset, SEEK_SET) != 0) return 0;
    return fread(buf, 1, n, z->f) == n;
}

/* A member name fit for a message: printable ASCII, at most 64 characters. */
static const char *printable(const char *name, size_t len, char *buf, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < size && i < 64; i++)
        buf[n++] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    if (len > 64 && n + 4 < size) buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    buf[n] = '\0';
    return buf;
}

static void zip_close(zip *z) {
    if (z->f) fclose(z->f);
    for (size_t i = 0; i < z->count; i++) free(z->entries[i].name);
    free(z->entries);
    memset(z, 0, sizeof *z);
}

/* The zip64 extra field (id 1) holds the 8-byte values whose 4-byte fields are 0xFFFFFFFF,
 * in the order uncompressed size, compressed size, local header offset. */
static int zip64_extra(const unsigned char *extra, size_t len, zip_entry *e, int need_u, int need_c,
                       int need_l) {
    size_t i = 0;
    while (i + 4 <= len) {
        uint16_t id = le16(extra + i), size = le16(extra + i + 2);
        if (i + 4 + size > len) return 0;
        if (id == 1) {
            const unsigned char *p = extra + i + 4;
            size_t used = 0;
            if (need_u) {
                if (used + 8 > size) return 0;
                e->usize = le64(p + used), used += 8;
            }
            if (need_c) {
                if (used + 8 > size) return 0;
                e->csize = le64(p + used), used += 8;
            }
            if (need_l) {
                if (used + 8 > size) return 0;
                e->local = le64(p + used), used += 8;
            }
            return 1;
        }
        i += 4 + (size_t)size;
    }
    return !need_u && !need_c && !need_l;
}

static kvk_status zip_open(const char *path, zip *z) {
    memset(z, 0, sizeof *z);
    z->path = path;
    struct stat st;
    z->f = fopen(path, "rb");
    if (!z->f) return kvk_fail(KVK_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(z->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        zip_close(z);
        return kvk_fail(KVK_ERROR_IO, "%s: not a regular file", path);
    }
    z->size = (uint64_t)st.st_size;
    if (z->size < EOCD_SIZE) {
        zip_close(z);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: truncated zip archive (%llu bytes)", path,
                        (unsigned long long)z->size);
    }
    /* The end of central directory record: the last one whose comment reaches to the end
     * of the file (or at least fits in it). */
    size_t tail = z->size < EOCD_SIZE + MAX_COMMENT ? (size_t)z->size : EOCD_SIZE + MAX_COMMENT;
    unsigned char *buf = malloc(tail);
    if (!buf) {
        zip_close(z);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    uint64_t base = z->size - tail;
    if (!read_at(z, base, buf, tail)) {
        free(buf);
        zip_close(z);
        return kvk_fail(KVK_ERROR_IO, "%s: cannot read", path);
    }
    long found = -1;
    for (long i = (long)tail - EOCD_SIZE; i >= 0; i--) {
        if (memcmp(buf + i, "PK\5\6", 4) != 0) continue;
        size_t comment = le16(buf + i + 20);
        if ((size_t)i + EOCD_SIZE + comment == tail) {
            found = i;
            break;
        }
        if (found < 0 && (size_t)i + EOCD_SIZE + comment <= tail) found = i;
    }
    if (found < 0) {
        free(buf);
        zip_close(z);
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: no zip end-of-central-directory record (truncated archive?)", path);
    }
    const unsigned char *e = buf + found;
    uint64_t eocd = base + (uint64_t)found;
    uint32_t disk = le16(e + 4), cd_disk = le16(e + 6);
    uint64_t disk_entries = le16(e + 8), entries = le16(e + 10);
    uint64_t cd_size = le32(e + 12), cd_offset = le32(e + 16);
    uint64_t cd_end_limit = eocd;
    free(buf);
    if (entries == 0xFFFF || disk_entries == 0xFFFF || cd_size == 0xFFFFFFFF ||
        cd_offset == 0xFFFFFFFF) {
        unsigned char loc[EOCD64_LOCATOR_SIZE], rec[EOCD64_SIZE];
        if (eocd < EOCD64_LOCATOR_SIZE ||
            !read_at(z, eocd - EOCD64_LOCATOR_SIZE, loc, sizeof loc) ||
            memcmp(loc, "PK\6\7", 4) != 0) {
            zip_close(z);
            return kvk_fail(KVK_ERROR_FORMAT,
                            "%s: zip64 sizes without a zip64 end-of-central-directory locator",
                            path);
        }
        uint64_t rec_off = le64(loc + 8);
        if (rec_off > eocd - EOCD64_LOCATOR_SIZE ||
            eocd - EOCD64_LOCATOR_SIZE - rec_off < EOCD64_SIZE ||
            !read_at(z, rec_off, rec, sizeof rec) || memcmp(rec, "PK\6\6", 4) != 0) {
            zip_close(z);
            return kvk_fail(KVK_ERROR_FORMAT,
                            "%s: the zip64 end-of-central-directory record is missing or "
                            "outside the file",
                            path);
        }
        disk = le32(rec + 16);
        cd_disk = le32(rec + 20);
        disk_entries = le64(rec + 24);
        entries = le64(rec + 32);
        cd_size = le64(rec + 40);
        cd_offset = le64(rec + 48);
        cd_end_limit = rec_off;
    }
    if (disk != 0 || cd_disk != 0 || disk_entries != entries) {
        zip_close(z);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: split (multi-disk) zip archives are not supported",
                        path);
    }
    if (cd_offset > cd_end_limit || cd_size > cd_end_limit - cd_offset) {
        zip_close(z);
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: the zip central directory (offset %llu, %llu bytes) lies outside "
                        "the archive's %llu bytes before its end record",
                        path, (unsigned long long)cd_offset, (unsigned long long)cd_size,
                        (unsigned long long)cd_end_limit);
    }
    if (entries > MAX_ENTRIES || cd_size > MAX_CENTRAL || entries * CENTRAL_SIZE > cd_size) {
        zip_close(z);
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: the zip central directory claims %llu entries in %llu bytes", path,
                        (unsigned long long)entries, (unsigned long long)cd_size);
    }
    z->data_end = cd_offset;
    unsigned char *cd = malloc(cd_size ? (size_t)cd_size : 1);
    z->entries = calloc(entries ? (size_t)entries : 1, sizeof *z->entries);
    if (!cd || !z->entries) {
        free(cd);
        zip_close(z);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    if (!read_at(z, cd_offset, cd, (size_t)cd_size)) {
        free(cd);
        zip_close(z);
        return kvk_fail(KVK_ERROR_IO, "%s: cannot read the zip central directory", path);
    }
    size_t pos = 0;
    kvk_status status = KVK_OK;
    for (uint64_t i = 0; i < entries; i++) {
        if (pos + CENTRAL_SIZE > cd_size || memcmp(cd + pos, "PK\1\2", 4) != 0) {
            status = kvk_fail(KVK_ERROR_FORMAT,
                              "%s: zip central directory entry %llu is damaged or outside the "
                              "directory",
                              path, (unsigned long long)i);
            break;
        }
        const unsigned char *c = cd + pos;
        size_t nlen = le16(c + 28), xlen = le16(c + 30), clen = le16(c + 32);
        if (pos + CENTRAL_SIZE + nlen + xlen + clen > cd_size) {
            status = kvk_fail(KVK_ERROR_FORMAT,
                              "%s: zip central directory entry %llu runs past the directory", path,
                              (unsigned long long)i);
            break;
        }
        zip_entry *en = &z->entries[z->count];
        en->flags = le16(c + 8);
        en->method = le16(c + 10);
        en->crc = le32(c + 16);
        en->csize = le32(c + 20);
        en->usize = le32(c + 24);
        en->local = le32(c + 42);
        en->name = malloc(nlen + 1);
        if (!en->name) {
            status = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            break;
        }
        memcpy(en->name, c + CENTRAL_SIZE, nlen);
        en->name[nlen] = '\0';
        en->name_len = nlen;
        z->count++;
        char shown[96];
        if (!zip64_extra(c + CENTRAL_SIZE + nlen, xlen, en, en->usize == 0xFFFFFFFF,
                         en->csize == 0xFFFFFFFF, en->local == 0xFFFFFFFF)) {
            status = kvk_fail(KVK_ERROR_FORMAT, "%s: member '%s': damaged zip64 extra field", path,
                              printable(en->name, nlen, shown, sizeof shown));
            break;
        }
        pos += CENTRAL_SIZE + nlen + xlen + clen;
    }
    free(cd);
    if (status != KVK_OK) zip_close(z);
    return status;
}

static const zip_entry *zip_find(zip *z, const char *name, kvk_status *status) {
    const zip_entry *found = NULL;
    size_t len = strlen(name);
    *status = KVK_OK;
    for (size_t i = 0; i < z->count; i++) {
        if (z->entries[i].name_len != len || memcmp(z->entries[i].name, name, len) != 0) continue;
        if (found) {
            *status = kvk_fail(KVK_ERROR_FORMAT, "%s: member '%s' appears twice in the archive",
                               z->path, name);
            return NULL;
        }
        found = &z->entries[i];
    }
    return found;
}

/* The archive's member names, for messages: up to 6, printable. */
static const char *member_list(const zip *z, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < z->count && i < 6 && n < size; i++) {
        char shown[96];
        n += (size_t)snprintf(
            buf + n, size - n, "%s'%s'", i ? ", " : "",
            printable(z->entries[i].name, z->entries[i].name_len, shown, sizeof shown));
    }
    if (z->count > 6 && n < size) snprintf(buf + n, size - n, ", ... (%zu members)", z->count);
    if (!z->count) snprintf(buf, size, "nothing");
    return buf;
}

/* Reads member `e` (at most `limit` bytes uncompressed) into a malloc'ed buffer with one
 * byte more, set to NUL. */
static kvk_status zip_read(zip *z, const zip_entry *e, uint64_t limit, unsigned char **out,
                           size_t *out_size) {
    *out = NULL;
    *out_size = 0;
    const char *path = z->path, *name = e->name;
    if (e->flags & 1) return kvk_fail(KVK_ERROR_FORMAT, "%s: member '%s' is encrypted", path, name);
    if (e->method != 0 && e->method != 8)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s' uses zip compression method %u; only stored (0) and "
                        "deflate (8) are supported",
                        path, name, e->method);
    if (e->usize > limit)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s' declares %llu bytes, more than the %llu kvk accepts", path,
                        name, (unsigned long long)e->usize, (unsigned long long)limit);
    if (e->method == 0 && e->usize != e->csize)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s' is stored uncompressed but declares %llu bytes stored "
                        "and %llu uncompressed",
                        path, name, (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->method == 8 && e->usize > e->csize * KVK_ARCHIVE_MAX_RATIO + 1024)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s' declares %llu bytes from %llu compressed, more than "
                        "deflate's %ux can give (a zip bomb?)",
                        path, name, (unsigned long long)e->usize, (unsigned long long)e->csize,
                        KVK_ARCHIVE_MAX_RATIO);
    unsigned char local[LOCAL_SIZE];
    if (e->local >= z->data_end || !read_at(z, e->local, local, sizeof local) ||
        memcmp(local, "PK\3\4", 4) != 0)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s': no local header at offset %llu (bad offset or "
                        "truncated archive)",
                        path, name, (unsigned long long)e->local);
    size_t nlen = le16(local + 26), xlen = le16(local + 28);
    uint64_t data = e->local + LOCAL_SIZE + nlen + xlen;
    char *lname = malloc(nlen + 1);
    int same = lname && nlen == e->name_len && read_at(z, e->local + LOCAL_SIZE, lname, nlen) &&
               memcmp(lname, e->name, nlen) == 0;
    free(lname);
    if (!same || le16(local + 8) != e->method)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s': the local header disagrees with the central directory",
                        path, name);
    if (data > z->data_end || e->csize > z->data_end - data)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: member '%s': %llu bytes at offset %llu run past the archive's "
                        "member data (%llu bytes; truncated archive?)",
                        path, name, (unsigned long long)e->csize, (unsigned long long)data,
                        (unsigned long long)z->data_end);
    if (e->usize + 1 > SIZE_MAX)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: member '%s' is too large", path, name);
    unsigned char *buf = malloc((size_t)e->usize + 1);
    if (!buf)
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory for member '%s' (%llu bytes)",
                        path, name, (unsigned long long)e->usize);
    kvk_status st = KVK_OK;
    if (fseeko(z->f, (off_t)data, SEEK_SET) != 0) {
        st = kvk_fail(KVK_ERROR_IO, "%s: member '%s': cannot seek", path, name);
    } else if (e->method == 0) {
        if (fread(buf, 1, (size_t)e->usize, z->f) != e->usize)
            st = kvk_fail(KVK_ERROR_IO, "%s: member '%s': cannot read (truncated archive?)", path,
                          name);
    } else {
        z_stream s;
        memset(&s, 0, sizeof s);
        unsigned char *in = malloc(CHUNK);
        int zr = in ? inflateInit2(&s, -MAX_WBITS) : Z_MEM_ERROR;
        if (zr != Z_OK) {
            free(in);
            free(buf);
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: member '%s': cannot start zlib", path,
                            name);
        }
        uint64_t left_in = e->csize, done_out = 0;
        zr = Z_OK;
        while (zr == Z_OK) {
            if (s.avail_in == 0 && left_in > 0) {
                size_t n = left_in < CHUNK ? (size_t)left_in : CHUNK;
                if (fread(in, 1, n, z->f) != n) {
                    st = kvk_fail(KVK_ERROR_IO, "%s: member '%s': cannot read (truncated archive?)",
                                  path, name);
                    break;
                }
                s.next_in = in;
                s.avail_in = (uInt)n;
                left_in -= n;
            }
            /* one spare byte beyond the declared size shows an overlong stream */
            uint64_t room = e->usize + 1 - done_out;
            s.next_out = buf + done_out;
            s.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
            uInt before = s.avail_out;
            zr = inflate(&s, Z_NO_FLUSH);
            done_out += before - s.avail_out;
            if (done_out > e->usize) {
                st = kvk_fail(KVK_ERROR_FORMAT,
                              "%s: member '%s' inflates to more than its declared %llu bytes", path,
                              name, (unsigned long long)e->usize);
                break;
            }
            if (zr == Z_BUF_ERROR) { /* no progress: go on only if more input is due */
                if (s.avail_in == 0 && left_in > 0)
                    zr = Z_OK;
                else
                    break;
            }
        }
        if (st == KVK_OK && (zr != Z_STREAM_END || done_out != e->usize))
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: member '%s': damaged deflate data (%s; %llu of %llu bytes)", path,
                          name, zr == Z_DATA_ERROR && s.msg ? s.msg : "stream ends early",
                          (unsigned long long)done_out, (unsigned long long)e->usize);
        inflateEnd(&s);
        free(in);
    }
    if (st == KVK_OK) {
        uLong crc = crc32(0L, Z_NULL, 0);
        for (uint64_t off = 0; off < e->usize;) {
            uInt n = e->usize - off > (1u << 30) ? (1u << 30) : (uInt)(e->usize - off);
            crc = crc32(crc, buf + off, n);
            off += n;
        }
        if ((uint32_t)crc != e->crc)
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: member '%s': CRC-32 %08x, the archive says %08x (damaged "
                          "archive)",
                          path, name, (unsigned)crc, (unsigned)e->crc);
    }
    if (st != KVK_OK) {
        free(buf);
        return st;
    }
    buf[e->usize] = '\0';
    *out = buf;
    *out_size = (size_t)e->usize;
    return KVK_OK;
}

/* A required member, read whole; `why` completes the message when it is missing. */
static kvk_status read_member(zip *z, const char *name, uint64_t limit, const char *why,
                              unsigned char **out, size_t *size) {
    kvk_status st;
    const zip_entry *e = zip_find(z, name, &st);
    if (st != KVK_OK) return st;
    if (!e) {
        char list[512];
        return kvk_fail(KVK_ERROR_FORMAT, "%s: no member '%s' in the archive%s (it holds %s)",
                        z->path, name, why, member_list(z, list, sizeof list));
    }
    return zip_read(z, e, limit, out, size);
}

int kvk_archive_directory(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    size_t n = strlen(path) + sizeof "/model.weights.h5";
    char *h5 = malloc(n);
    if (!h5) return 0;
    snprintf(h5, n, "%s/model.weights.h5", path);
    int found = stat(h5, &st) == 0 && S_ISREG(st.st_mode);
    free(h5);
    return found;
}

/* A member of an unzipped archive: dir/name, at most `limit` bytes, NUL-terminated; a
 * missing optional one gives NULL. */
static kvk_status read_dir_member(const char *dir, const char *name, uint64_t limit, int required,
                                  unsigned char **out, size_t *size) {
    *out = NULL;
    *size = 0;
    size_t n = strlen(dir) + strlen(name) + 2;
    char *file = malloc(n);
    if (!file) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", dir);
    snprintf(file, n, "%s/%s", dir, name);
    FILE *f = fopen(file, "rb");
    free(file);
    if (!f)
        return required ? kvk_fail(KVK_ERROR_FORMAT,
                                   "%s: no %s in this unzipped .keras archive (it holds "
                                   "config.json, metadata.json and model.weights.h5)",
                                   dir, name)
                        : KVK_OK;
    struct stat st;
    kvk_status result = KVK_OK;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        result = kvk_fail(KVK_ERROR_FORMAT, "%s: %s is not a regular file", dir, name);
    } else if ((uint64_t)st.st_size > limit) {
        result =
            kvk_fail(KVK_ERROR_FORMAT, "%s: %s holds %llu bytes, more than the %llu kvk accepts",
                     dir, name, (unsigned long long)st.st_size, (unsigned long long)limit);
    } else {
        *out = malloc((size_t)st.st_size + 1);
        if (!*out)
            result = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", dir);
        else if (fread(*out, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
            result = kvk_fail(KVK_ERROR_IO, "%s: cannot read %s", dir, name);
        if (result == KVK_OK) {
            (*out)[st.st_size] = '\0';
            *size = (size_t)st.st_size;
        } else {
            free(*out);
            *out = NULL;
        }
    }
    fclose(f);
    return result;
}

/* Sets keras_version (from metadata.json, if any) and model_config on a freshly read file;
 * frees it on failure. */
static kvk_status finish(const char *path, const unsigned char *metadata, size_t metadata_size,
                         const char *config, kvk_weight_file **out) {
    kvk_json *meta = NULL;
    kvk_status st = KVK_OK;
    if (metadata) {
        char what[4096];
        snprintf(what, sizeof what, "%s: metadata.json", path);
        st = kvk_json_parse((const char *)metadata, metadata_size, what, &meta);
    }
    const char *version = kvk_json_get_string(meta, "keras_version");
    if (st == KVK_OK && version && !((*out)->keras_version = strdup(version)))
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (st == KVK_OK && !((*out)->model_config = strdup(config)))
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    kvk_json_free(meta);
    if (st != KVK_OK) {
        kvk_weight_file_free(*out);
        *out = NULL;
    }
    return st;
}

/* An unzipped archive (a directory): the same members as files. */
static kvk_status read_directory(const char *path, int with_data, char **config_out,
                                 kvk_weight_file **out, int *listed) {
    unsigned char *config = NULL, *metadata = NULL;
    size_t config_size = 0, metadata_size = 0;
    kvk_status st =
        read_dir_member(path, "config.json", KVK_ARCHIVE_MAX_CONFIG, 1, &config, &config_size);
    if (st == KVK_OK && strlen((char *)config) != config_size)
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: config.json holds a NUL byte", path);
    if (st == KVK_OK && out)
        st = read_dir_member(path, "metadata.json", KVK_ARCHIVE_MAX_METADATA, 0, &metadata,
                             &metadata_size);
    if (st == KVK_OK && out)
        st = kvk_weights_read_keras3_dir(path, (char *)config, with_data, out, listed);
    if (st == KVK_OK && out) st = finish(path, metadata, metadata_size, (char *)config, out);
    free(metadata);
    if (st == KVK_OK && config_out)
        *config_out = (char *)config;
    else
        free(config);
    return st;
}

/* The weights as stored; config text into *config if asked for. */
static kvk_status read_archive(const char *path, int with_data, char **config_out,
                               kvk_weight_file **out, int *listed) {
    zip z;
    if (kvk_archive_directory(path))
        return read_directory(path, with_data, config_out, out, listed);
    kvk_status st = zip_open(path, &z);
    if (st != KVK_OK) return st;
    unsigned char *config = NULL, *metadata = NULL, *weights = NULL;
    size_t config_size = 0, metadata_size = 0, weights_size = 0;
    st = read_member(&z, "config.json", KVK_ARCHIVE_MAX_CONFIG,
                     " (a .keras archive holds config.json, metadata.json and model.weights.h5)",
                     &config, &config_size);
    if (st == KVK_OK && strlen((char *)config) != config_size)
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: member 'config.json' holds a NUL byte", path);
    if (st == KVK_OK && out) {
        const zip_entry *e = zip_find(&z, "metadata.json", &st);
        if (st == KVK_OK && e)
            st = zip_read(&z, e, KVK_ARCHIVE_MAX_METADATA, &metadata, &metadata_size);
        if (st == KVK_OK) {
            kvk_status found;
            const char *why = " (a .keras archive holds config.json, metadata.json and "
                              "model.weights.h5)";
            if (zip_find(&z, "model.weights.json", &found) &&
                !zip_find(&z, "model.weights.h5", &found))
                why = " (it has model.weights.json: sharded weights are not supported)";
            else if (zip_find(&z, "model.weights.npz", &found))
                why = " (it has model.weights.npz: only HDF5 weights are supported)";
            st = read_member(&z, "model.weights.h5", KVK_ARCHIVE_MAX_WEIGHTS, why, &weights,
                             &weights_size);
        }
        if (st == KVK_OK)
            st = kvk_weights_read_keras3_image(path, "model.weights.h5", weights, weights_size,
                                               (char *)config, with_data, out, listed);
        free(weights);
        if (st == KVK_OK) st = finish(path, metadata, metadata_size, (char *)config, out);
    }
    free(metadata);
    zip_close(&z);
    if (st == KVK_OK && config_out)
        *config_out = (char *)config;
    else
        free(config);
    return st;
}

kvk_status kvk_weights_read_archive(const char *path, int with_data, kvk_weight_file **out,
                                    int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    return read_archive(path, with_data, NULL, out, listed_layers);
}

kvk_status kvk_keras_archive_read(const char *path, char **config_json, kvk_weight_file **weights) {
    if (config_json) *config_json = NULL;
    if (weights) *weights = NULL;
    if (!path) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "archive path is NULL");
    kvk_weight_file *file = NULL;
    int listed = 0;
    kvk_status st = read_archive(path, 1, config_json, weights ? &file : NULL, &listed);
    if (st != KVK_OK || !weights) return st;
    kvk_json *config = NULL;
    st = kvk_weights_analyse(file, &config);
    if (st == KVK_OK) st = kvk_weights_normalise(file, config);
    kvk_json_free(config);
    if (st != KVK_OK) {
        kvk_weight_file_free(file);
        if (config_json) {
            free(*config_json);
            *config_json = NULL;
        }
        return st;
    }
    *weights = file;
    return KVK_OK;
}
