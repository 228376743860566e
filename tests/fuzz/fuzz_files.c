#include "fuzz_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every name written, so that the folder can be emptied and removed at exit. */
static char names[8][64];
static char dir[512];
static int name_count;

static void remove_dir(void) {
    char path[sizeof dir + sizeof names[0] + 1];
    for (int i = 0; i < name_count; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path) unlink(path);
    }
    rmdir(dir);
}

const char *fuzz_dir(void) {
    if (dir[0]) return dir;
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, sizeof dir, "%s/kvk-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || n >= (int)sizeof dir || !mkdtemp(dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_dir);
    return dir;
}

static void remember(const char *name) {
    for (int i = 0; i < name_count; i++)
        if (!strcmp(names[i], name)) return;
    if (name_count == (int)(sizeof names / sizeof names[0]) || strlen(name) >= sizeof names[0]) {
        fprintf(stderr, "fuzz: too many or too long file names (%s)\n", name);
        abort();
    }
    strcpy(names[name_count++], name);
}

const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size) {
    static char path[sizeof dir + sizeof names[0] + 1];
    remember(name); /* at most 63 bytes: the path fits */
    if (snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name) >= (int)sizeof path) abort();
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    int failed = size && fwrite(data, 1, size, f) != size;
    if (fclose(f) != 0 || failed) {
        perror(path);
        abort();
    }
    return path;
}

void fuzz_remove_file(const char *name) {
    char path[sizeof dir + sizeof names[0] + 1];
    if (snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name) < (int)sizeof path) unlink(path);
}
