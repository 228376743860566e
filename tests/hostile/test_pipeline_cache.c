/* The pipeline cache file is not trusted (issue 8): with XDG_CACHE_HOME pointing at a scratch
 * folder, each bad thing in the cache file's place must cost only the cache, said under
 * verbose, never a hang (an alarm fails the test) or a whole read: a directory, a FIFO, a link
 * to /dev/zero, a 300 MiB file, a header of another device, a short file, and a cache path too
 * long to hold. A good cache is loaded, and saving leaves no temporary file. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char scratch[256];

/* Creates and destroys a verbose context with XDG_CACHE_HOME=dir; stderr into `err`. */
static int open_close(const char *dir, char *err, size_t size) {
    setenv("XDG_CACHE_HOME", dir, 1);
    char log[512];
    snprintf(log, sizeof log, "%s/stderr.txt", scratch);
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    kvk_context_options o = {.verbose = 1};
    kvk_context *ctx = NULL;
    kvk_status st = kvk_context_create(&o, &ctx);
    kvk_context_destroy(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, err, size - 1);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    if (st != KVK_OK) printf("context: %s\n", kvk_last_error());
    return st == KVK_OK;
}

/* The one pipelines-*.bin name in dir/kvk (without temporaries), or "" */
static void cache_name(const char *dir, char *name, size_t size, int *temporaries) {
    char kvk[600];
    snprintf(kvk, sizeof kvk, "%s/kvk", dir);
    name[0] = '\0';
    *temporaries = 0;
    DIR *d = opendir(kvk);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strstr(e->d_name, ".tmp"))
            ++*temporaries;
        else if (!strncmp(e->d_name, "pipelines-", 10))
            snprintf(name, size, "%s", e->d_name);
    }
    closedir(d);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 20];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

int main(void) {
    snprintf(scratch, sizeof scratch, "/tmp/kvk-pipeline-cache-XXXXXX");
    if (!mkdtemp(scratch)) return 1;
    alarm(120); /* a FIFO read would hang: fail instead */
    char err[8192], dir[600], name[256], path[1200];
    int tmps;

    /* a first run writes the cache; a second loads it */
    snprintf(dir, sizeof dir, "%s/good", scratch);
    tu_check(open_close(dir, err, sizeof err), "first context");
    cache_name(dir, name, sizeof name, &tmps);
    tu_check(name[0] && tmps == 0, "the cache file %s is written, no temporary left (%d)", name,
             tmps);
    snprintf(path, sizeof path, "%s/kvk/%s", dir, name);
    size_t good_size = 0;
    char *good = slurp(path, &good_size);
    tu_check(good && good_size >= 32, "it holds a header (%zu bytes)", good_size);
    tu_check(open_close(dir, err, sizeof err) && strstr(err, "bytes loaded"),
             "a second context loads it: %s", err);
    char *good_copy = malloc(good_size);
    memcpy(good_copy, good, good_size);

    struct {
        const char *what, *expect;
    } cases[] = {
        {"a directory", "not a regular file"},
        {"a FIFO", "not a regular file"},
        {"a link to /dev/zero", "not a regular file"},
        {"a 300 MiB file", "more than the 256 MiB"},
        {"a header of another device", "another device"},
        {"a header of another version", "header version"},
        {"a header whose length is wrong", "header length"},
        {"10 bytes", "shorter than a pipeline cache header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(dir, sizeof dir, "%s/case%zu", scratch, i);
        mkdir(dir, 0755);
        snprintf(path, sizeof path, "%s/kvk", dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/kvk/%s", dir, name);
        unsigned char *bad = malloc(good_size);
        memcpy(bad, good_copy, good_size);
        FILE *f;
        switch (i) {
        case 0:
            mkdir(path, 0755);
            break;
        case 1:
            mkfifo(path, 0644);
            break;
        case 2:
            if (symlink("/dev/zero", path)) perror("symlink");
            break;
        case 3:
            f = fopen(path, "wb");
            fwrite(bad, 1, good_size, f);
            fclose(f);
            if (truncate(path, 300l << 20)) perror("truncate");
            break;
        default:
            if (i == 4) bad[16] ^= 0xff;              /* the cache UUID */
            if (i == 5) bad[4] = 7;                   /* headerVersion */
            if (i == 6) bad[0] = 0xff, bad[1] = 0x7f; /* headerSize past the end */
            f = fopen(path, "wb");
            fwrite(bad, 1, i == 7 ? 10 : good_size, f);
            fclose(f);
        }
        free(bad);
        int ok = open_close(dir, err, sizeof err);
        tu_check(ok && strstr(err, cases[i].expect) && strstr(err, name) &&
                     !strstr(err, "bytes loaded"),
                 "%s in the cache file's place: ignored, saying '%s' (%s)", cases[i].what,
                 cases[i].expect, err);
        struct stat sb;
        if (i >= 3 && lstat(path, &sb) == 0)
            tu_check(S_ISREG(sb.st_mode) && (size_t)sb.st_size < (1u << 20),
                     "%s: replaced by a fresh cache (%lld bytes)", cases[i].what,
                     (long long)sb.st_size);
        cache_name(dir, name, sizeof name, &tmps);
        tu_check(tmps == 0, "%s: no temporary file left", cases[i].what);
    }

    /* a cache path longer than kvk holds: no cache, said; nothing made under a cut path */
    char long_dir[1400];
    int n = snprintf(long_dir, sizeof long_dir, "%s/long/", scratch);
    for (; n < 1300; n++) long_dir[n] = (n % 200) ? 'a' : '/';
    long_dir[n] = '\0';
    int ok = open_close(long_dir, err, sizeof err);
    tu_check(ok && strstr(err, "too long"), "a %zu-character XDG_CACHE_HOME: no cache, said (%s)",
             strlen(long_dir), err);
    snprintf(path, sizeof path, "%s/long", scratch);
    struct stat sb;
    tu_check(stat(path, &sb) != 0, "nothing is created under a truncated path");

    free(good_copy);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) printf("cannot remove %s\n", scratch);
    return tu_finish();
}
