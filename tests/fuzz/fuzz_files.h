/* What the fuzz targets share: kvk's readers take paths, so every input is written to a file
 * in a private temporary folder first (made once per process, removed at exit). */
#ifndef KVK_FUZZ_FILES_H
#define KVK_FUZZ_FILES_H

#include <stddef.h>
#include <stdint.h>

/* The process's temporary folder, created on first use; aborts when it cannot be made (a
 * fuzzer that cannot write its input would test nothing). */
const char *fuzz_dir(void);

/* Writes `size` bytes to fuzz_dir()/name and returns the file's path (static storage, valid
 * until the next call); aborts on a write error. */
const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size);

/* Removes fuzz_dir()/name if it exists. */
void fuzz_remove_file(const char *name);

#endif
