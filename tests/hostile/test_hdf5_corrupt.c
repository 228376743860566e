/* Damaged HDF5 files must not crash or hang the process that reads them (issue 8). libhdf5
 * 1.10 crashes (SIGSEGV in attribute reads) or loops forever on some bit flips; kvk reads
 * HDF5 files in a child process (src/keras/h5_isolate.c), so each flip below must end in
 * kvk_weight_file_read returning, with an error naming the file when it fails. The flips
 * cover the attribute areas (layer_names, weight_names, the object headers around them), the
 * global heap of the variable-length strings and the local heaps of small Keras files that
 * h5py wrote (make_small_keras_h5.py: Keras 2 save_weights, and Keras 3 .weights.h5 whose
 * layer names are global-heap strings). Reading in this process instead
 * (KVK_HDF5_IN_PROCESS) would kill this test: that is what it checks.
 * usage: test_hdf5_corrupt SMALL.h5 [SMALL_KERAS3.weights.h5...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keras/weights.h"
#include "kvk/weights.h"

#include "testutil.h"

static unsigned char data[1 << 20];
static size_t size;

/* offsets of up to `max` occurrences of `sig` */
static int find_all(const char *sig, size_t *at, int max) {
    int n = 0;
    size_t len = strlen(sig);
    for (size_t i = 0; i + len <= size && n < max; i++)
        if (!memcmp(data + i, sig, len)) at[n++] = i;
    return n;
}

/* Flips every byte of the interesting areas of `file`, one at a time; returns the cases. */
static int flip_file(const char *file, const char *path) {
    FILE *f = fopen(file, "rb");
    if (!f) {
        tu_check(0, "cannot open %s", file);
        return 0;
    }
    size = fread(data, 1, sizeof data, f);
    fclose(f);

    /* the intact file reads, in both modes */
    for (int mode = KVK_HDF5_ISOLATED; mode <= KVK_HDF5_IN_PROCESS; mode++) {
        kvk_set_hdf5_mode((kvk_hdf5_mode)mode, 0);
        kvk_weight_file *wf = NULL;
        kvk_status st = kvk_weight_file_read(file, &wf);
        const kvk_weight_layer *bn = wf ? kvk_weight_file_layer(wf, "bn1") : NULL;
        tu_check(st == KVK_OK && wf->layer_count == 3 && bn && bn->count == 4 &&
                     bn->weights[3].data,
                 "%s: the intact file reads %s (%s)", file,
                 mode == KVK_HDF5_ISOLATED ? "in a child process" : "in this process",
                 st ? kvk_last_error() : "ok");
        kvk_weight_file_free(wf);
    }
    kvk_set_hdf5_mode(KVK_HDF5_ISOLATED, 3); /* a hang is stopped after 3 s */

    /* the areas: [start, end) around each signature present */
    struct {
        const char *sig;
        int before, after, max;
    } areas[] = {
        {"layer_names", 64, 240, 1},  /* Keras 2: the root's attributes */
        {"weight_names", 64, 240, 1}, /* Keras 2: a layer group's */
        {"GCOL", 0, 160, 1},          /* the global heap: variable-length strings */
        {"HEAP", 0, 64, 2},           /* local heaps: link names */
    };
    int cases = 0, ok = 0, refused = 0, crashed = 0, stopped = 0, unnamed = 0;
    for (size_t a = 0; a < sizeof areas / sizeof areas[0]; a++) {
        size_t at[4];
        int n = find_all(areas[a].sig, at, areas[a].max);
        for (int k = 0; k < n; k++) {
            size_t from = at[k] > (size_t)areas[a].before ? at[k] - (size_t)areas[a].before : 0;
            size_t to =
                at[k] + (size_t)areas[a].after < size ? at[k] + (size_t)areas[a].after : size;
            for (size_t pos = from; pos < to; pos++) {
                data[pos] ^= 0xff;
                FILE *o = fopen(path, "wb");
                fwrite(data, 1, size, o);
                fclose(o);
                data[pos] ^= 0xff;
                kvk_weight_file *wf = NULL;
                kvk_status st = kvk_weight_file_read(path, &wf);
                cases++;
                if (st == KVK_OK) {
                    ok++;
                } else {
                    const char *msg = kvk_last_error();
                    refused++;
                    crashed += strstr(msg, "libhdf5 crashed") != NULL;
                    stopped += strstr(msg, "took more than") != NULL;
                    if (!strstr(msg, path)) {
                        unnamed++;
                        printf("byte %zu: the message does not name the file: %s\n", pos, msg);
                    }
                }
                kvk_weight_file_free(wf);
            }
        }
    }
    printf("%s: %d flipped files: %d read, %d refused (libhdf5 crashed on %d, was stopped on "
           "%d)\n",
           file, cases, ok, refused, crashed, stopped);
    tu_check(unnamed == 0, "%s: every refusal names the file (%d do not)", file, unnamed);
    return cases;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    char path[] = "/tmp/kvk-h5-corrupt-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    for (int i = 1; i < argc; i++) {
        int cases = flip_file(argv[i], path);
        tu_check(cases > 200, "%s: %d damaged files were read without harm to this process",
                 argv[i], cases);
    }
    unlink(path);
    return tu_finish();
}
