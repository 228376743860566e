/* Checks a weight file a reader accepted: every weight's data must hold the elements its dims
 * promise (read all of them, so that AddressSanitizer sees a short buffer), and the names a
 * reader returned must be strings. */
#ifndef KVK_FUZZ_WEIGHTS_H
#define KVK_FUZZ_WEIGHTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keras/weights.h"
#include "keras/weights_internal.h"

static inline void fuzz_check_weight_file(const kvk_weight_file *file) {
    volatile float sink = 0;
    for (int i = 0; i < file->layer_count; i++) {
        const kvk_weight_layer *layer = &file->layers[i];
        sink += (float)strlen(layer->name);
        for (int j = 0; j < layer->count; j++) {
            const kvk_weight *w = &layer->weights[j];
            int64_t n = kvk_weight_elements(w);
            if (n < 0 || !w->name || !w->data || w->ndim < 0 || w->ndim > KVK_MAX_DIMS) {
                fprintf(stderr, "fuzz: accepted weight %s/%s has ndim %d, %lld elements, data %p\n",
                        layer->name, w->name ? w->name : "(null)", w->ndim, (long long)n,
                        (void *)w->data);
                abort();
            }
            sink += (float)strlen(w->name);
            for (int64_t k = 0; k < n; k++) sink += w->data[k];
        }
    }
    (void)sink;
}

#endif
