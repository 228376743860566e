/* HDF5 weight files (Keras 1/2 .h5, Keras 3 .weights.h5, and .keras archives, whose weights are
 * HDF5) read in a child process (see kvk/weights.h and docs/hostile-inputs.md).
 *
 * libhdf5 1.10 parses a file's object headers, heaps and B-trees with little checking: bit
 * flips in a small Keras file make it crash (SIGSEGV, SIGABRT) or loop forever, and no amount
 * of checking before the calls can rule that out, since the crashes are inside H5Fopen,
 * H5Aread and H5Dread themselves. So the reader (weights_h5.c, which still checks every size
 * it is given) runs in a forked child:
 *   - the child limits its address space (RLIMIT_AS: what it has at the fork plus the most
 *     the reader may allocate) and its time (alarm), reads the file, writes the result to a
 *     pipe and leaves with _exit (no atexit handlers, no stdio flush of the parent's buffers);
 *   - the parent reads the pipe with a deadline, kills the child when it passes, and reaps it;
 *     a child that dies by a signal or leaves its answer incomplete is an error naming the file
 *     and what happened;
 *   - what comes through the pipe is checked again as untrusted input (counts, lengths, dims
 *     against the data sizes, the same byte maximum as the reader's).
 * The child touches nothing but libhdf5, malloc and the pipe, so forking from a process with
 * other threads (or a Vulkan device) is safe; a lock held by another thread at the fork can
 * only hang the child, which the deadline ends.
 *
 * Threads: libhdf5 is thread-safe only when built so (Debian's is; many builds are not), and
 * a fork while another thread is inside libhdf5 gives the child a copy whose HDF5 state (and
 * HDF5's own lock) is mid-call. So one process-wide lock covers both: every in-process read
 * and every fork of a reader. Two threads creating models from HDF5 files take turns there
 * (the children themselves run at the same time). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/checked.h"
#include "core/error.h"
#include "keras/archive.h"
#include "keras/weights_internal.h"
#include "keras/weights_keras3.h"
#include "kvk/weights.h"

#if defined(__SANITIZE_ADDRESS__)
#define KVK_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KVK_UNDER_ASAN 1
#endif
#endif

#define DEFAULT_TIMEOUT_S 120
/* What the child may allocate beyond what it has at the fork: the reader's own maximum for
 * the weights (4 GiB, weights_h5.c) plus room for libhdf5 and the copy into the pipe. */
#define CHILD_EXTRA_BYTES ((uint64_t)6 << 30)
/* Limits on what the parent accepts from the pipe. */
#define MAX_STRING_BYTES ((uint32_t)256 << 20)
#define MAX_TOTAL_FLOAT_BYTES ((uint64_t)4 << 30)
#define MAX_LAYERS 1000000
#define MAX_WEIGHTS_PER_LAYER 4096
#define MAGIC 0x4b564b57u /* "KVKW" */

static _Atomic int mode_setting;    /* kvk_hdf5_mode; 0: from the environment */
static _Atomic int timeout_setting; /* seconds; 0: from the environment */

void kvk_set_hdf5_mode(kvk_hdf5_mode mode, int timeout_seconds) {
    atomic_store(&mode_setting, (int)mode);
    atomic_store(&timeout_setting, timeout_seconds > 0 ? timeout_seconds : 0);
}

static int isolated(void) {
    int m = atomic_load(&mode_setting);
    if (m == KVK_HDF5_ISOLATED || m == KVK_HDF5_IN_PROCESS) return m == KVK_HDF5_ISOLATED;
    const char *env = getenv("KVK_HDF5_ISOLATION");
    return !(env && !strcmp(env, "0"));
}

static int timeout_seconds(void) {
    int t = atomic_load(&timeout_setting);
    if (t > 0) return t;
    const char *env = getenv("KVK_HDF5_TIMEOUT");
    long v = env ? strtol(env, NULL, 10) : 0;
    return v > 0 && v < 86400 ? (int)v : DEFAULT_TIMEOUT_S;
}

/* --- the child: serialise into the pipe ---------------------------------------------------- */

typedef struct out_stream {
    int fd;
    unsigned char buf[1 << 16];
    size_t used;
    int failed;
} out_stream;

static void out_flush(out_stream *o) {
    size_t done = 0;
    while (!o->failed && done < o->used) {
        ssize_t n = write(o->fd, o->buf + done, o->used - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            o->failed = 1;
        else
            done += (size_t)n;
    }
    o->used = 0;
}

static void out_bytes(out_stream *o, const void *p, size_t n) {
    const unsigned char *s = p;
    while (n > 0 && !o->failed) {
        if (o->used == sizeof o->buf) out_flush(o);
        size_t k = sizeof o->buf - o->used < n ? sizeof o->buf - o->used : n;
        memcpy(o->buf + o->used, s, k);
        o->used += k;
        s += k;
        n -= k;
    }
}

static void out_u32(out_stream *o, uint32_t v) {
    out_bytes(o, &v, sizeof v);
}

static void out_string(out_stream *o, const char *s) {
    if (!s) {
        out_u32(o, UINT32_MAX);
        return;
    }
    size_t n = strlen(s);
    out_u32(o, (uint32_t)(n < MAX_STRING_BYTES ? n : MAX_STRING_BYTES));
    out_bytes(o, s, n < MAX_STRING_BYTES ? n : MAX_STRING_BYTES);
}

/* The stored dtypes the readers name (static strings), by their index on the pipe; 0: none. */
static const char *const DTYPES[] = {NULL,     "float16", "float32", "float64", "bfloat16",
                                     "int8",   "uint8",   "int16",   "uint16",  "int32",
                                     "uint32", "int64",   "uint64"};
#define DTYPE_COUNT (sizeof DTYPES / sizeof DTYPES[0])

static uint32_t dtype_code(const char *dtype) {
    for (uint32_t i = 1; dtype && i < DTYPE_COUNT; i++)
        if (!strcmp(dtype, DTYPES[i])) return i;
    return 0;
}

static void child_limits(void) {
#ifndef KVK_UNDER_ASAN
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    if (pages > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max =
            (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)CHILD_EXTRA_BYTES;
        setrlimit(RLIMIT_AS, &rl);
    }
#endif
    /* a backstop to the parent's deadline */
    signal(SIGALRM, SIG_DFL);
    alarm((unsigned)timeout_seconds() + 5);
}

/* Set in the child: a reader that calls another (an archive's HDF5 member) reads directly. */
static int in_child;

/* See the head of this file. A reader that calls another (an archive's HDF5 member) in this
 * process takes the lock again: the depth per thread makes that a no-op. */
static pthread_mutex_t hdf5_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int hdf5_lock_depth;

static void hdf5_lock_take(void) {
    if (hdf5_lock_depth++ == 0) pthread_mutex_lock(&hdf5_lock);
}

static void hdf5_lock_give(void) {
    if (--hdf5_lock_depth == 0) pthread_mutex_unlock(&hdf5_lock);
}

static kvk_status read_direct(kvk_weight_source source, const char *path, int with_data,
                              kvk_weight_file **out, int *listed) {
    switch (source) {
    case KVK_SOURCE_HDF5: /* Keras 1/2 or Keras 3: asking libhdf5 which is part of the risk */
        return kvk_weights_h5_is_keras3(path)
                   ? kvk_weights_read_keras3(path, with_data, out, listed)
                   : kvk_weights_read_h5_direct(path, with_data, out, listed);
    case KVK_SOURCE_KERAS3:
        return kvk_weights_read_keras3(path, with_data, out, listed);
    case KVK_SOURCE_ARCHIVE:
        return kvk_weights_read_archive(path, with_data, out, listed);
    case KVK_SOURCE_TFJS:
        return kvk_weights_read_tfjs(path, with_data, out, listed);
    }
    return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: unknown weight file source", path);
}

static void child_main(int fd, kvk_weight_source source, const char *path, int with_data) {
    in_child = 1;
    child_limits();
    kvk_weight_file *file = NULL;
    int listed = 0;
    kvk_status st = read_direct(source, path, with_data, &file, &listed);
    static out_stream o;
    o.fd = fd;
    out_u32(&o, MAGIC);
    out_u32(&o, (uint32_t)st);
    out_string(&o, st == KVK_OK ? "" : kvk_last_error());
    if (st == KVK_OK) {
        out_u32(&o, (uint32_t)listed);
        out_u32(&o, (uint32_t)file->format);
        out_u32(&o, (uint32_t)file->keras_major);
        out_string(&o, file->path);
        out_string(&o, file->keras_version);
        out_string(&o, file->backend);
        out_string(&o, file->model_config);
        out_u32(&o, (uint32_t)file->layer_count);
        for (int i = 0; i < file->layer_count; i++) {
            const kvk_weight_layer *layer = &file->layers[i];
            out_string(&o, layer->name);
            out_u32(&o, (uint32_t)layer->count);
            for (int j = 0; j < layer->count; j++) {
                const kvk_weight *w = &layer->weights[j];
                out_string(&o, w->name);
                out_u32(&o, (uint32_t)w->ndim);
                out_bytes(&o, w->dims, sizeof(int64_t) * (size_t)w->ndim);
                out_u32(&o, dtype_code(w->dtype));
                out_u32(&o, w->data != NULL);
                if (w->data) out_bytes(&o, w->data, sizeof(float) * (size_t)kvk_weight_elements(w));
            }
        }
    }
    out_u32(&o, MAGIC); /* complete */
    out_flush(&o);
    _exit(o.failed ? 3 : 0);
}

/* --- the parent: read the pipe with a deadline and check everything ------------------------ */

typedef struct in_stream {
    int fd;
    pid_t child;
    double deadline;
    const char *path;
    int timed_out, failed; /* failed: EOF or an error before the data were complete */
    unsigned char buf[1 << 16];
    size_t at, len;
} in_stream;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int in_fill(in_stream *s) {
    while (!s->failed) {
        double left = s->deadline - now_s();
        if (left <= 0) {
            s->timed_out = s->failed = 1;
            return 0;
        }
        struct pollfd p = {s->fd, POLLIN, 0};
        int r = poll(&p, 1, left > 1e6 ? 1000000000 : (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) continue; /* the deadline check above ends it */
        ssize_t n = read(s->fd, s->buf, sizeof s->buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            s->failed = 1;
            return 0;
        }
        s->at = 0;
        s->len = (size_t)n;
        return 1;
    }
    return 0;
}

static int in_bytes(in_stream *s, void *p, size_t n) {
    unsigned char *d = p;
    while (n > 0) {
        if (s->at == s->len && !in_fill(s)) return 0;
        size_t k = s->len - s->at < n ? s->len - s->at : n;
        memcpy(d, s->buf + s->at, k);
        s->at += k;
        d += k;
        n -= k;
    }
    return 1;
}

static int in_u32(in_stream *s, uint32_t *v) {
    return in_bytes(s, v, sizeof *v);
}

/* A string into *out (NULL for none); 0 when the stream ends or lies. */
static int in_string(in_stream *s, char **out) {
    uint32_t n;
    *out = NULL;
    if (!in_u32(s, &n)) return 0;
    if (n == UINT32_MAX) return 1;
    if (n > MAX_STRING_BYTES) return 0;
    char *str = malloc((size_t)n + 1);
    if (!str || !in_bytes(s, str, n)) {
        free(str);
        return 0;
    }
    str[n] = '\0';
    if (strlen(str) != n) { /* an embedded NUL: not what the child wrote */
        free(str);
        return 0;
    }
    *out = str;
    return 1;
}

/* Reads the child's answer; KVK_OK with *out, the child's error, or -1 when the answer is
 * incomplete or inconsistent (the caller then says what happened to the child). */
static int read_answer(in_stream *s, int with_data, kvk_weight_file **out, int *listed) {
    uint32_t magic, status, v;
    char *msg = NULL;
    if (!in_u32(s, &magic) || magic != MAGIC || !in_u32(s, &status) || !in_string(s, &msg))
        return -1;
    if (status != KVK_OK) {
        uint32_t end;
        int complete = in_u32(s, &end) && end == MAGIC;
        if (complete) kvk_fail((kvk_status)status, "%s", msg ? msg : "");
        free(msg);
        return complete ? (int)status : -1;
    }
    free(msg);
    kvk_weight_file *file = NULL;
    uint64_t total = 0;
    int ok = in_u32(s, &v) && v <= MAX_LAYERS;
    *listed = (int)v;
    uint32_t format = 0, major = 0;
    char *path = NULL;
    ok = ok && in_u32(s, &format) &&
         (format == KVK_FORMAT_H5_WEIGHTS || format == KVK_FORMAT_H5_MODEL ||
          format == KVK_FORMAT_KERAS3_H5 || format == KVK_FORMAT_KERAS_ARCHIVE ||
          format == KVK_FORMAT_H5_LEGACY) &&
         in_u32(s, &major) && major <= 3 && in_string(s, &path) && path;
    if (ok) file = kvk_weights_new(path, (kvk_weight_format)format);
    free(path);
    if (file) file->keras_major = (int)major;
    ok = ok && file && in_string(s, &file->keras_version) && in_string(s, &file->backend) &&
         in_string(s, &file->model_config);
    uint32_t layers = 0;
    ok = ok && in_u32(s, &layers) && layers <= MAX_LAYERS;
    for (uint32_t i = 0; ok && i < layers; i++) {
        char *name = NULL;
        uint32_t count = 0;
        ok = in_string(s, &name) && name && in_u32(s, &count) && count <= MAX_WEIGHTS_PER_LAYER;
        kvk_weight_layer *layer = NULL;
        if (ok) {
            int before = file->layer_count;
            layer = kvk_weights_layer_add(file, name);
            ok = layer && file->layer_count == before + 1; /* no duplicate layer */
        }
        free(name);
        for (uint32_t j = 0; ok && j < count; j++) {
            char *wname = NULL;
            uint32_t ndim = 0, dtype = 0, has_data = 0;
            ok = in_string(s, &wname) && wname && in_u32(s, &ndim) && ndim <= KVK_MAX_DIMS;
            kvk_weight *w = ok ? kvk_weights_weight_add(layer, wname) : NULL;
            free(wname);
            ok = ok && w && in_bytes(s, w->dims, sizeof(int64_t) * ndim) && in_u32(s, &dtype) &&
                 dtype >= 1 && dtype < DTYPE_COUNT && in_u32(s, &has_data) &&
                 has_data == (uint32_t)with_data;
            if (!ok) break;
            w->ndim = (int)ndim;
            w->dtype = DTYPES[dtype];
            int64_t count_values = kvk_weight_elements(w);
            ok = count_values >= 0;
            if (ok && has_data) {
                uint64_t bytes = 0;
                ok = kvk_mul_u64((uint64_t)count_values, sizeof(float), &bytes) &&
                     kvk_add_u64(total, bytes, &total) && total <= MAX_TOTAL_FLOAT_BYTES &&
                     bytes <= SIZE_MAX;
                w->data = ok ? malloc(bytes ? (size_t)bytes : 1) : NULL;
                ok = ok && w->data && in_bytes(s, w->data, (size_t)bytes);
            }
        }
    }
    uint32_t end = 0;
    ok = ok && in_u32(s, &end) && end == MAGIC;
    if (!ok) {
        kvk_weight_file_free(file);
        return -1;
    }
    *out = file;
    return KVK_OK;
}

kvk_status kvk_weights_read_h5(const char *path, int with_data, kvk_weight_file **out,
                               int *listed_layers) {
    return kvk_weights_read_isolated(KVK_SOURCE_HDF5, path, with_data, out, listed_layers);
}

kvk_status kvk_weights_read_isolated(kvk_weight_source source, const char *path, int with_data,
                                     kvk_weight_file **out, int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    if (in_child) return read_direct(source, path, with_data, out, listed_layers);
    if (!isolated()) {
        hdf5_lock_take();
        kvk_status st = read_direct(source, path, with_data, out, listed_layers);
        hdf5_lock_give();
        return st;
    }
    /* pipe, fork and the parent's close of the write end under the lock: a reader forked by
     * another thread must not inherit this write end, or this reader would not see its
     * child's end of file until that other child ends */
    hdf5_lock_take(); /* and no other thread inside libhdf5 while the child's copy is made */
    int fds[2];
    if (pipe(fds) != 0) {
        int saved = errno;
        hdf5_lock_give();
        return kvk_fail(KVK_ERROR_IO, "%s: cannot start the HDF5 reader process: %s", path,
                        strerror(saved));
    }
    pid_t child = fork();
    if (child < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        hdf5_lock_give();
        return kvk_fail(KVK_ERROR_IO,
                        "%s: cannot start the HDF5 reader process: %s (KVK_HDF5_ISOLATION=0 reads "
                        "in this process)",
                        path, strerror(saved));
    }
    if (child == 0) {
        close(fds[0]);
        child_main(fds[1], source, path, with_data);
    }
    close(fds[1]);
    hdf5_lock_give();
    int timeout = timeout_seconds();
    static in_stream zero;
    in_stream *s = malloc(sizeof *s);
    if (!s) {
        close(fds[0]);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    *s = zero;
    s->fd = fds[0];
    s->child = child;
    s->deadline = now_s() + timeout;
    s->path = path;
    int r = read_answer(s, with_data, out, listed_layers);
    int timed_out = s->timed_out;
    close(fds[0]);
    free(s);
    if (r != KVK_OK || timed_out) kill(child, SIGKILL);
    int status = 0;
    pid_t w;
    while ((w = waitpid(child, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r >= 0 && !timed_out) return (kvk_status)r; /* the child's answer, complete */
    kvk_weight_file_free(*out);
    *out = NULL;
    if (timed_out)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: reading this HDF5 file took more than %d s, so it was stopped "
                        "(libhdf5 loops forever on some damaged files; KVK_HDF5_TIMEOUT sets the "
                        "limit)",
                        path, timeout);
    if (w == child && WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: libhdf5 %s reading this file (signal %d, %s): the file is damaged "
                        "or not what it claims to be",
                        path, sig == SIGALRM ? "ran out of time" : "crashed", sig, strsignal(sig));
    }
    return kvk_fail(KVK_ERROR_FORMAT,
                    "%s: the HDF5 reader process ended without a complete answer (exit status "
                    "%d; out of memory on a damaged file?)",
                    path, w == child && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
