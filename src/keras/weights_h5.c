/* Keras 1 and 2 HDF5 weight files: save_weights() (layer_names at the root) and model.save()
 * (the same under the group model_weights, with model_config at the root). Each layer group
 * lists its datasets in attr weight_names, as paths relative to the group.
 * The oldest layout (Keras 0.x and 1.0 Sequential save_weights, e.g. the 2016 theano
 * vgg16_weights.h5): root attr nb_layers, groups layer_0, layer_1, ... each with attr
 * nb_params and datasets param_0, param_1, ...; no names, so the binder matches layers by
 * order. */
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checked.h"
#include "core/error.h"
#include "keras/weights_internal.h"

/* What a file may make kvk allocate, checked from each dataset's declared shape before its
 * data is read (a few-KB file can declare terabytes: HDF5 fills unwritten storage with the
 * fill value). An uncompressed dataset must have its bytes stored in the file: the declared
 * size is at most the file's size, the storage actually allocated covers it, and all such
 * datasets together fit in the file. A compressed (filtered) dataset may expand, so it is
 * held to KVK_H5_MAX_DATASET_BYTES once converted to float32, and the whole file to
 * KVK_H5_MAX_TOTAL_BYTES; the largest Keras Applications weight (VGG19's fc1, 25088x4096) is
 * 392 MiB and the largest file 549 MiB. */
#define KVK_H5_MAX_DATASET_BYTES ((uint64_t)1 << 30)
#define KVK_H5_MAX_TOTAL_BYTES ((uint64_t)4 << 30)

typedef struct h5_budget {
    uint64_t file_size;   /* bytes, from stat */
    uint64_t stored;      /* declared bytes of the uncompressed datasets so far */
    uint64_t float_bytes; /* float32 bytes of every dataset so far */
} h5_budget;

typedef struct strings {
    char **items;
    int count;
} strings;

static void strings_free(strings *s) {
    for (int i = 0; i < s->count; i++) free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->count = 0;
}

static void close_id(hid_t *id, herr_t (*closer)(hid_t)) {
    if (*id >= 0) closer(*id);
    *id = H5I_INVALID_HID;
}

/* Reads a string attribute, fixed-length or variable-length, of any number of elements.
 * Returns 0 if absent, 1 if read, -1 (with the error set) otherwise. An empty attribute of
 * any type reads as no strings: h5py stores an empty list as float64[0]. */
static int read_strings(hid_t obj, const char *attr_name, const char *path, const char *where,
                        strings *out) {
    out->items = NULL;
    out->count = 0;
    if (H5Aexists(obj, attr_name) <= 0) return 0;
    int result = -1;
    hid_t attr = H5Aopen(obj, attr_name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    hid_t memtype = H5I_INVALID_HID;
    char *buf = NULL;
    if (attr < 0 || type < 0 || space < 0) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot read attribute '%s'", path, where, attr_name);
        goto done;
    }
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n == 0) {
        result = 1;
        goto done;
    }
    if (n < 0 || n > 1000000 || H5Tget_class(type) != H5T_STRING) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %sattribute '%s' is not a list of strings", path, where,
                 attr_name);
        goto done;
    }
    out->items = calloc((size_t)n, sizeof *out->items);
    if (!out->items) {
        kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    out->count = (int)n;
    if (H5Tis_variable_str(type) > 0) {
        char **ptrs = calloc((size_t)n, sizeof *ptrs);
        memtype = H5Tcopy(H5T_C_S1);
        if (!ptrs || memtype < 0 || H5Tset_size(memtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(memtype, H5Tget_cset(type)) < 0 || H5Aread(attr, memtype, ptrs) < 0) {
            free(ptrs);
            kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot read string attribute '%s'", path, where,
                     attr_name);
            goto done;
        }
        int ok = 1;
        for (hssize_t i = 0; i < n; i++) {
            out->items[i] = strdup(ptrs[i] ? ptrs[i] : "");
            ok &= out->items[i] != NULL;
            if (ptrs[i]) H5free_memory(ptrs[i]);
        }
        free(ptrs);
        if (!ok) {
            kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            goto done;
        }
    } else {
        size_t size = H5Tget_size(type);
        buf = malloc((size_t)n * size + 1);
        if (!buf || H5Aread(attr, type, buf) < 0) {
            kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot read string attribute '%s'", path, where,
                     attr_name);
            goto done;
        }
        for (hssize_t i = 0; i < n; i++) {
            const char *s = buf + (size_t)i * size;
            size_t len = strnlen(s, size);
            out->items[i] = malloc(len + 1);
            if (!out->items[i]) {
                kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
                goto done;
            }
            memcpy(out->items[i], s, len);
            out->items[i][len] = '\0';
        }
    }
    result = 1;
done:
    if (result < 0) strings_free(out);
    free(buf);
    close_id(&memtype, H5Tclose);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    return result;
}

/* A single-string attribute (keras_version, backend, model_config) into *out; absent: NULL. */
static kvk_status read_string_attr(hid_t obj, const char *name, const char *path, char **out) {
    strings s;
    *out = NULL;
    int r = read_strings(obj, name, path, "", &s);
    if (r < 0) return KVK_ERROR_FORMAT;
    if (r == 0) return KVK_OK;
    if (s.count != 1) {
        strings_free(&s);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: attribute '%s' should be one string", path, name);
    }
    *out = s.items[0];
    free(s.items);
    return KVK_OK;
}

static kvk_status read_dataset(hid_t group, const char *path, const char *layer, kvk_weight *w,
                               int with_data, h5_budget *budget) {
    kvk_status st = KVK_ERROR_FORMAT;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hid_t ds = H5Dopen2(group, w->name, H5P_DEFAULT);
    if (ds < 0)
        return kvk_fail(
            KVK_ERROR_FORMAT,
            "%s: layer '%s': dataset '%s' is listed (weight_names, nb_params) but missing", path,
            layer, w->name);
    type = H5Dget_type(ds);
    space = H5Dget_space(ds);
    if (type < 0 || space < 0) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: layer '%s': dataset '%s' is unreadable", path, layer,
                 w->name);
        goto done;
    }
    size_t size = H5Tget_size(type);
    /* An integer scalar is a counter (Normalization's count): read as a float like the rest. */
    int counter =
        H5Tget_class(type) == H5T_INTEGER && H5Sget_simple_extent_ndims(space) == 0 && size <= 8;
    if (!counter && (H5Tget_class(type) != H5T_FLOAT || (size != 2 && size != 4 && size != 8))) {
        const char *what = H5Tget_class(type) == H5T_INTEGER  ? "integer"
                           : H5Tget_class(type) == H5T_STRING ? "string"
                           : H5Tget_class(type) == H5T_FLOAT  ? "float"
                                                              : "non-numeric";
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: layer '%s': dataset '%s' holds %zu-byte %s values, expected float16, "
                 "float32 or float64",
                 path, layer, w->name, size, what);
        goto done;
    }
    w->dtype = counter     ? (size == 8 ? "int64" : "int32")
               : size == 2 ? "float16"
               : size == 4 ? "float32"
                           : "float64";
    int ndim = H5Sget_simple_extent_ndims(space);
    if (ndim < 0 || ndim > KVK_MAX_DIMS) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: layer '%s': dataset '%s' has %d dimensions, at most %d expected", path, layer,
                 w->name, ndim, KVK_MAX_DIMS);
        goto done;
    }
    hsize_t dims[KVK_MAX_DIMS];
    if (H5Sget_simple_extent_dims(space, dims, NULL) != ndim) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: layer '%s': dataset '%s' has an unreadable shape", path,
                 layer, w->name);
        goto done;
    }
    w->ndim = ndim;
    uint64_t count = 1;
    int fits = 1;
    for (int i = 0; i < ndim; i++) {
        w->dims[i] = dims[i] > (hsize_t)INT64_MAX ? INT64_MAX : (int64_t)dims[i];
        fits &= kvk_mul_u64(count, (uint64_t)dims[i], &count);
    }
    uint64_t stored_bytes = 0, float_bytes = 0;
    fits = fits && kvk_mul_u64(count, size, &stored_bytes) &&
           kvk_mul_u64(count, sizeof(float), &float_bytes) && float_bytes <= SIZE_MAX;
    if (!fits) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: layer '%s': dataset '%s' declares a shape whose size overflows 64 bits", path,
                 layer, w->name);
        goto done;
    }
    if (!with_data) {
        st = KVK_OK;
        goto done;
    }
    dcpl = H5Dget_create_plist(ds);
    int filters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
    hsize_t storage = H5Dget_storage_size(ds);
    if (filters < 0) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: layer '%s': dataset '%s' has an unreadable layout", path,
                 layer, w->name);
        goto done;
    }
    if (count == 0) {
        /* nothing stored, nothing to check */
    } else if (filters == 0) {
        if (stored_bytes > budget->file_size || storage < stored_bytes ||
            !kvk_add_u64(budget->stored, stored_bytes, &budget->stored) ||
            budget->stored > budget->file_size) {
            kvk_fail(KVK_ERROR_FORMAT,
                     "%s: layer '%s': dataset '%s' declares %llu bytes (%s, %llu values) but "
                     "the file stores %llu of them and is %llu bytes long (damaged file?)",
                     path, layer, w->name, (unsigned long long)stored_bytes, w->dtype,
                     (unsigned long long)count, (unsigned long long)storage,
                     (unsigned long long)budget->file_size);
            goto done;
        }
    } else if (float_bytes > KVK_H5_MAX_DATASET_BYTES || storage == 0) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: layer '%s': compressed dataset '%s' declares %llu values (%llu bytes as "
                 "float32, %llu stored); kvk reads at most %llu bytes per dataset",
                 path, layer, w->name, (unsigned long long)count, (unsigned long long)float_bytes,
                 (unsigned long long)storage, (unsigned long long)KVK_H5_MAX_DATASET_BYTES);
        goto done;
    }
    if (!kvk_add_u64(budget->float_bytes, float_bytes, &budget->float_bytes) ||
        budget->float_bytes > KVK_H5_MAX_TOTAL_BYTES) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: layer '%s': dataset '%s' takes the file's weights past %llu bytes, the "
                 "most kvk reads from one file",
                 path, layer, w->name, (unsigned long long)KVK_H5_MAX_TOTAL_BYTES);
        goto done;
    }
    if (with_data) {
        w->data = malloc(float_bytes ? (size_t)float_bytes : 1);
        if (!w->data) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: layer '%s': out of memory for '%s'", path,
                          layer, w->name);
            goto done;
        }
        /* HDF5 converts float64 and float16 to float32 itself. */
        if (count && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data) < 0) {
            kvk_fail(KVK_ERROR_FORMAT,
                     "%s: layer '%s': cannot read dataset '%s' (damaged or truncated file?)", path,
                     layer, w->name);
            goto done;
        }
    }
    st = KVK_OK;
done:
    close_id(&dcpl, H5Pclose);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&ds, H5Dclose);
    return st;
}

static kvk_status read_layers(hid_t group, kvk_weight_file *file, int with_data, int *listed,
                              h5_budget *budget) {
    const char *path = file->path;
    strings layers, weights = {NULL, 0};
    kvk_status st = KVK_OK;
    if (read_strings(group, "layer_names", path, "", &layers) < 0) return KVK_ERROR_FORMAT;
    *listed = layers.count;
    for (int i = 0; i < layers.count && st == KVK_OK; i++) {
        const char *name = layers.items[i];
        if (H5Lexists(group, name, H5P_DEFAULT) <= 0) {
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: layer '%s' is listed in layer_names but has no group", path, name);
            break;
        }
        hid_t lg = H5Gopen2(group, name, H5P_DEFAULT);
        if (lg < 0) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: layer '%s': not an HDF5 group", path, name);
            break;
        }
        char where[512];
        snprintf(where, sizeof where, "layer '%s': ", name);
        int r = read_strings(lg, "weight_names", path, where, &weights);
        if (r == 0)
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: layer '%s': group has no 'weight_names' attribute",
                          path, name);
        else if (r < 0)
            st = KVK_ERROR_FORMAT;
        else if (weights.count > 0 && kvk_weight_file_layer(file, name))
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: layer '%s' is listed twice in layer_names", path,
                          name);
        if (st == KVK_OK && weights.count > 0) {
            kvk_weight_layer *layer = kvk_weights_layer_add(file, name);
            if (!layer) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            for (int j = 0; j < weights.count && st == KVK_OK; j++) {
                kvk_weight *w = kvk_weights_weight_add(layer, weights.items[j]);
                if (!w)
                    st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
                else
                    st = read_dataset(lg, path, name, w, with_data, budget);
            }
        }
        strings_free(&weights);
        H5Gclose(lg);
    }
    strings_free(&layers);
    return st;
}

/* A scalar (or one-element) integer attribute within [lo, hi]. Returns 0 if absent, 1 if
 * read, -1 (with the error set) otherwise. */
static int read_int_attr(hid_t obj, const char *attr_name, const char *path, const char *where,
                         long lo, long hi, long *out) {
    if (H5Aexists(obj, attr_name) <= 0) return 0;
    int result = -1;
    hid_t attr = H5Aopen(obj, attr_name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    long long value = 0;
    if (type >= 0 && space >= 0 && H5Tget_class(type) == H5T_INTEGER &&
        H5Sget_simple_extent_npoints(space) == 1 && H5Aread(attr, H5T_NATIVE_LLONG, &value) >= 0) {
        if (value < lo || value > hi)
            kvk_fail(KVK_ERROR_FORMAT, "%s: %sattribute '%s' is %lld, expected %ld to %ld", path,
                     where, attr_name, value, lo, hi);
        else
            result = 1;
    } else {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %sattribute '%s' is not one integer", path, where,
                 attr_name);
    }
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    if (result == 1) *out = (long)value;
    return result;
}

/* Keras 0.x/1.0: layer_<i> groups, parameter-free layers included, named after their index. */
static kvk_status read_legacy_layers(hid_t root, kvk_weight_file *file, int with_data, int *listed,
                                     h5_budget *budget) {
    const char *path = file->path;
    long nb_layers = 0;
    if (read_int_attr(root, "nb_layers", path, "", 0, 100000, &nb_layers) < 0)
        return KVK_ERROR_FORMAT;
    *listed = (int)nb_layers;
    kvk_status st = KVK_OK;
    for (long i = 0; i < nb_layers && st == KVK_OK; i++) {
        char name[32], where[64];
        snprintf(name, sizeof name, "layer_%ld", i);
        snprintf(where, sizeof where, "group '%s': ", name);
        if (H5Lexists(root, name, H5P_DEFAULT) <= 0)
            return kvk_fail(KVK_ERROR_FORMAT, "%s: nb_layers is %ld but there is no group '%s'",
                            path, nb_layers, name);
        hid_t lg = H5Gopen2(root, name, H5P_DEFAULT);
        if (lg < 0) return kvk_fail(KVK_ERROR_FORMAT, "%s: '%s' is not an HDF5 group", path, name);
        long nb_params = 0;
        int r = read_int_attr(lg, "nb_params", path, where, 0, 64, &nb_params);
        if (r == 0)
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: group '%s' has no 'nb_params' attribute", path,
                          name);
        else if (r < 0)
            st = KVK_ERROR_FORMAT;
        kvk_weight_layer *layer = NULL;
        if (st == KVK_OK && nb_params > 0 && !(layer = kvk_weights_layer_add(file, name)))
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        for (long j = 0; j < nb_params && st == KVK_OK; j++) {
            char param[32];
            snprintf(param, sizeof param, "param_%ld", j);
            kvk_weight *w = kvk_weights_weight_add(layer, param);
            if (!w)
                st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            else
                st = read_dataset(lg, path, name, w, with_data, budget);
        }
        H5Gclose(lg);
    }
    return st;
}

kvk_status kvk_weights_read_h5_direct(const char *path, int with_data, kvk_weight_file **out,
                                      int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    /* HDF5 prints its error stack on stderr by default; kvk reports errors itself. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: cannot open as HDF5 (damaged or truncated file?)",
                        path);
    kvk_status st = KVK_OK;
    hid_t group = H5I_INVALID_HID;
    kvk_weight_file *file = NULL;
    kvk_weight_format format;
    if (H5Aexists(f, "layer_names") > 0) {
        format = KVK_FORMAT_H5_WEIGHTS;
        group = H5Gopen2(f, "/", H5P_DEFAULT);
    } else if (H5Lexists(f, "model_weights", H5P_DEFAULT) > 0) {
        format = KVK_FORMAT_H5_MODEL;
        group = H5Gopen2(f, "model_weights", H5P_DEFAULT);
        if (group >= 0 && H5Aexists(group, "layer_names") <= 0) {
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: group 'model_weights' has no 'layer_names' attribute", path);
            goto done;
        }
    } else if (H5Aexists(f, "nb_layers") > 0) {
        format = KVK_FORMAT_H5_LEGACY;
        group = H5Gopen2(f, "/", H5P_DEFAULT);
    } else {
        int keras3 = H5Lexists(f, "layers", H5P_DEFAULT) > 0 ||
                     H5Lexists(f, "_layer_checkpoint_dependencies", H5P_DEFAULT) > 0;
        st = kvk_fail(KVK_ERROR_FORMAT,
                      "%s: HDF5 file without a 'layer_names' or 'nb_layers' attribute or a "
                      "'model_weights' group: not a Keras 0.x/1/2 weight file%s",
                      path, keras3 ? " (Keras 3 .weights.h5 files are not supported)" : "");
        goto done;
    }
    if (group < 0) {
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: cannot open the weights group", path);
        goto done;
    }
    file = kvk_weights_new(path, format);
    if (!file) {
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    /* model.save() writes keras_version and backend both at the root and on model_weights. */
    if ((st = read_string_attr(f, "keras_version", path, &file->keras_version)) != KVK_OK)
        goto done;
    if (!file->keras_version &&
        (st = read_string_attr(group, "keras_version", path, &file->keras_version)) != KVK_OK)
        goto done;
    if ((st = read_string_attr(f, "backend", path, &file->backend)) != KVK_OK) goto done;
    if (!file->backend && (st = read_string_attr(group, "backend", path, &file->backend)) != KVK_OK)
        goto done;
    if ((st = read_string_attr(f, "model_config", path, &file->model_config)) != KVK_OK) goto done;
    struct stat sb;
    h5_budget budget = {0, 0, 0};
    if (stat(path, &sb) == 0 && sb.st_size > 0) budget.file_size = (uint64_t)sb.st_size;
    if (format == KVK_FORMAT_H5_LEGACY)
        st = read_legacy_layers(group, file, with_data, listed_layers, &budget);
    else
        st = read_layers(group, file, with_data, listed_layers, &budget);
done:
    if (group >= 0) H5Gclose(group);
    H5Fclose(f);
    if (st != KVK_OK) {
        kvk_weight_file_free(file);
        return st;
    }
    *out = file;
    return KVK_OK;
}
