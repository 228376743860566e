/* `kvk inspect`: the layout of a weight file, from metadata only. Shapes are shown as
 * stored; a weight that loading converts is marked with what is done to it. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "keras/weights_internal.h"

static void print_shape(FILE *out, const kvk_weight *w, int width) {
    char buf[256];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "(");
    for (int i = 0; i < w->ndim && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i ? ", " : "",
                              (long long)w->dims[i]);
    if (n < sizeof buf) snprintf(buf + n, sizeof buf - n, w->ndim == 1 ? ",)" : ")");
    fprintf(out, "%-*s", width, buf);
}

kvk_status kvk_weight_file_inspect(const char *path, FILE *out) {
    if (!path || !out) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "inspect: NULL argument");
    kvk_weight_source source;
    char *resolved;
    kvk_status st = kvk_weights_detect(path, &source, &resolved);
    if (st != KVK_OK) return st;
    kvk_weight_file *file = NULL;
    int listed = 0;
    st = kvk_weights_read_source(source, resolved, 0, &file, &listed);
    free(resolved);
    if (st != KVK_OK) return st;
    kvk_json *config = NULL;
    if ((st = kvk_weights_analyse(file, &config)) != KVK_OK) {
        kvk_weight_file_free(file);
        return st;
    }
    int64_t params = 0, weights = 0;
    size_t name_width = 0;
    for (int i = 0; i < file->layer_count; i++) {
        for (int j = 0; j < file->layers[i].count; j++) {
            const kvk_weight *w = &file->layers[i].weights[j];
            params += kvk_weight_elements(w);
            weights++;
            if (strlen(w->name) > name_width) name_width = strlen(w->name);
        }
    }
    if (name_width > 60) name_width = 60;
    fprintf(out, "file      %s\n", file->path);
    fprintf(out, "format    keras%d %s\n", file->keras_major, kvk_weight_format_name(file->format));
    fprintf(out, "keras     %s   backend %s\n",
            file->keras_version ? file->keras_version : "(not recorded)",
            file->backend ? file->backend : "(not recorded)");
    fprintf(out, "ordering  theano_kernels %d   channels_first %d\n", file->theano_kernels,
            file->channels_first);
    fprintf(out, "config    %s\n", file->model_config ? "yes" : "no");
    fprintf(out, "layers    %d (%d with weights)\n", listed, file->layer_count);
    fprintf(out, "weights   %lld tensors, %lld parameters\n", (long long)weights,
            (long long)params);
    for (int i = 0; i < file->layer_count; i++) {
        const kvk_weight_layer *layer = &file->layers[i];
        fprintf(out, "  %s\n", layer->name);
        for (int j = 0; j < layer->count; j++) {
            const kvk_weight *w = &layer->weights[j];
            fprintf(out, "    %-*s   ", (int)name_width, w->name);
            print_shape(out, w, 22);
            fprintf(out, "   %s", w->dtype ? w->dtype : "?");
            int flags = kvk_weights_conversion(file, config, i, j);
            if (flags & KVK_CONVERT_TRANSPOSE)
                fprintf(out, "   [keras1 th: transposed to (kh, kw, in, out)]");
            if (flags & KVK_CONVERT_FLIP) fprintf(out, "   [theano: flipped spatially]");
            fputc('\n', out);
        }
    }
    kvk_json_free(config);
    kvk_weight_file_free(file);
    return ferror(out) ? kvk_fail(KVK_ERROR_IO, "inspect: cannot write the output") : KVK_OK;
}
