/* Writes a weight file in Keras 2's save_weights layout (see weights_write.h). */
#include "keras/weights_write.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

/* "conv1_conv/kernel:0", "conv1_conv/kernel", "conv1_W" -> "kernel", "kernel", "conv1_W" */
static void short_name(const char *stored, char *buf, size_t size) {
    const char *slash = strrchr(stored, '/');
    snprintf(buf, size, "%s", slash ? slash + 1 : stored);
    size_t n = strlen(buf);
    if (n > 2 && !strcmp(buf + n - 2, ":0")) buf[n - 2] = '\0';
}

/* A fixed-length string array attribute, as h5py writes numpy 'S' arrays (Keras 2 does). */
static int write_strings(hid_t obj, const char *name, char **items, int count) {
    size_t width = 1;
    for (int i = 0; i < count; i++)
        if (strlen(items[i]) > width) width = strlen(items[i]);
    char *buf = calloc(count > 0 ? (size_t)count : 1, width);
    if (!buf) return 0;
    for (int i = 0; i < count; i++) memcpy(buf + (size_t)i * width, items[i], strlen(items[i]));
    hsize_t dims[1] = {(hsize_t)count};
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate_simple(1, dims, NULL);
    int ok = type >= 0 && space >= 0 && H5Tset_size(type, width) >= 0 &&
             H5Tset_strpad(type, H5T_STR_NULLPAD) >= 0;
    hid_t attr = ok ? H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = attr >= 0 && H5Awrite(attr, type, buf) >= 0;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    free(buf);
    return ok;
}

static int write_string(hid_t obj, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    int ok = type >= 0 && space >= 0 && H5Tset_size(type, strlen(value) ? strlen(value) : 1) >= 0;
    hid_t attr = ok ? H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = attr >= 0 && H5Awrite(attr, type, value) >= 0;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return ok;
}

/* One layer's group: attr weight_names, datasets "<layer>/<short>:0" below it (nested groups,
 * as h5py creates them from the '/' in the name). */
static kvk_status write_layer(hid_t f, const kvk_weight_layer *l, const char *path) {
    kvk_status st = KVK_OK;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        return kvk_fail(KVK_ERROR_IO, "%s: HDF5 property list", path);
    hid_t g = H5Gcreate2(f, l->name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    char **names = calloc((size_t)l->count + 1, sizeof *names);
    if (g < 0 || !names) {
        st = kvk_fail(KVK_ERROR_IO, "%s: cannot create the group of layer '%s'", path, l->name);
        goto done;
    }
    for (int j = 0; j < l->count && st == KVK_OK; j++) {
        const kvk_weight *w = &l->weights[j];
        char s[256];
        short_name(w->name, s, sizeof s);
        size_t len = strlen(l->name) + strlen(s) + 4;
        names[j] = malloc(len);
        if (!names[j]) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            break;
        }
        snprintf(names[j], len, "%s/%s:0", l->name, s);
        if (!w->data) {
            st = kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: layer '%s': weight '%s' was not read",
                          path, l->name, w->name);
            break;
        }
        hsize_t dims[KVK_MAX_DIMS];
        for (int d = 0; d < w->ndim; d++) dims[d] = (hsize_t)w->dims[d];
        hid_t space = w->ndim ? H5Screate_simple(w->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
        hid_t ds = space >= 0 ? H5Dcreate2(g, names[j], H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT,
                                           H5P_DEFAULT)
                              : -1;
        if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data) < 0)
            st = kvk_fail(KVK_ERROR_IO, "%s: cannot write '%s' (disk full?)", path, names[j]);
        if (ds >= 0) H5Dclose(ds);
        if (space >= 0) H5Sclose(space);
    }
    if (st == KVK_OK && !write_strings(g, "weight_names", names, l->count))
        st = kvk_fail(KVK_ERROR_IO, "%s: cannot write layer '%s''s weight_names", path, l->name);
done:
    for (int j = 0; names && j < l->count; j++) free(names[j]);
    free(names);
    if (g >= 0) H5Gclose(g);
    H5Pclose(lcpl);
    return st;
}

kvk_status kvk_weights_write_keras_h5(const kvk_weight_file *file, const char *path,
                                      const char *converted_from) {
    if (file->channels_first)
        for (int i = 0; i < file->layer_count; i++)
            for (int j = 0; j < file->layers[i].count; j++)
                if (file->layers[i].weights[j].ndim == 2)
                    return kvk_fail(KVK_ERROR_UNSUPPORTED,
                                    "%s: a channels_first (theano) file with a Dense layer ('%s'): "
                                    "the rows of a Dense after a Flatten can only be reordered "
                                    "with the model's architecture, which a weight file lacks; "
                                    "not converted",
                                    file->path, file->layers[i].name);
    /* written beside the target and renamed over it: never a half-written file at `path` */
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (!tmp) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    kvk_status st = KVK_OK;
    if (f < 0) {
        st = kvk_fail(KVK_ERROR_IO, "%s: cannot create (no such folder, or no permission?)", path);
        free(tmp);
        return st;
    }
    char **layers = calloc((size_t)file->layer_count + 1, sizeof *layers);
    if (!layers) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; st == KVK_OK && i < file->layer_count; i++) {
        layers[i] = file->layers[i].name;
        st = write_layer(f, &file->layers[i], path);
    }
    /* keras_version names the layout (Keras 2's: tf-keras loads it without Keras 1's
     * conversions); converted_by says who wrote it from what */
    if (st == KVK_OK &&
        (!write_strings(f, "layer_names", layers, file->layer_count) ||
         !write_string(f, "backend", "tensorflow") || !write_string(f, "keras_version", "2.0.0") ||
         !write_string(f, "converted_by", converted_from)))
        st = kvk_fail(KVK_ERROR_IO, "%s: cannot write the file's attributes", path);
    free(layers);
    if (H5Fclose(f) < 0 && st == KVK_OK) st = kvk_fail(KVK_ERROR_IO, "%s: cannot close", path);
    if (st == KVK_OK && rename(tmp, path) != 0)
        st = kvk_fail(KVK_ERROR_IO, "%s: cannot rename %s over it", path, tmp);
    if (st != KVK_OK) unlink(tmp);
    free(tmp);
    return st;
}
