/* The fuzz targets without libFuzzer (gcc builds, the sanitizer build): runs every file of
 * the folders (or files) given through LLVMFuzzerTestOneInput, in name order, so that the
 * seed corpus and every crash the fuzzers found stay tested. A crash, a sanitizer report or
 * a target's own abort fails the test; so does finding no input at all.
 *   replay CORPUS_DIR_OR_FILE... */
#define _DEFAULT_SOURCE /* DT_REG, d_type */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 0;
    }
    size_t cap = 1 << 16, size = 0;
    uint8_t *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + size, 1, cap - size, f)) > 0) {
        size += n;
        if (size == cap) {
            uint8_t *bigger = realloc(data, cap *= 2);
            if (!bigger) free(data);
            data = bigger;
        }
    }
    int ok = data && !ferror(f);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(data);
        return 0;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the regular files of `dir` (not its subfolders); returns how many, -1 on error. */
static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char **more = realloc(names, (count + 1) * sizeof *names);
        if (!more || !(more[count] = malloc(strlen(dir) + strlen(e->d_name) + 2))) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        names = more;
        sprintf(names[count++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, by_name);
    int ran = 0, failed = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]))
                ran++;
            else
                failed = 1;
        }
        free(names[i]);
    }
    free(names);
    return failed ? -1 : ran;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        int ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) ? 1 : -1;
        if (ran < 0) return 1;
        printf("%s: %d inputs\n", argv[i], ran);
        total += ran;
    }
    if (total == 0) {
        fprintf(stderr, "no input found: the corpus is missing\n");
        return 1;
    }
    printf("%d inputs ran without a crash\n", total);
    return 0;
}
