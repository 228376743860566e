/* Keras 3 .weights.h5 (see weights_keras3.h for the layout and the naming rules). */
#include "keras/weights_keras3.h"

#include <ctype.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "keras/weights_internal.h"

enum {
    MAX_DEPTH = 64,       /* nesting of groups */
    MAX_GROUPS = 1 << 20, /* groups visited in all (hard links may repeat a subtree) */
    MAX_VARS = 4096,      /* datasets in one vars group */
    MAX_NAME = 4096,      /* bytes of a link or layer name */
    DEFLATE_RATIO = 1032, /* the most deflate can compress (see the storage check) */
};

typedef struct saveable {
    char *path;  /* group path from the root: "" (the model itself), "layers/conv2d", ... */
    char *name;  /* the Keras name, from the attribute or the config; NULL while unknown */
    int parent;  /* the saveable around it, -1 for the outermost */
    int vars;    /* datasets in its vars group */
    char *layer; /* the name it is exposed under (see the header), when vars > 0 */
} saveable;

typedef struct reader {
    const char *path;   /* file->path */
    const char *member; /* "" for a file, "model.weights.h5: " inside an archive */
    hid_t file;
    saveable *items;
    int count, cap;
    long groups;
    struct keyed *by_path;      /* items sorted by path, for the config's names */
    uint64_t file_size, stored; /* bytes of the file, and of the datasets read so far */
} reader;

/* A string key and an item index, sorted to find names and duplicates in n log n. */
typedef struct keyed {
    const char *key;
    int index;
} keyed;

static int keyed_cmp(const void *pa, const void *pb) {
    const keyed *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static int keyed_find(const void *pkey, const void *pb) {
    return strcmp((const char *)pkey, ((const keyed *)pb)->key);
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t)) {
    if (*id >= 0) fn(*id);
    *id = H5I_INVALID_HID;
}

static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, *a ? "/" : "", b);
    return s;
}

/* Only plain links to groups and datasets inside this file: soft and external links (which
 * could name any file on the machine) are refused. Returns the object type or -1. */
static int link_type(reader *r, hid_t group, const char *name, const char *where) {
    H5L_info_t li;
    if (H5Lget_info(group, name, &li, H5P_DEFAULT) < 0) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': unreadable link", r->path, r->member, where);
        return -1;
    }
    if (li.type != H5L_TYPE_HARD) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: %s'%s' is %s link; Keras writes only plain groups and datasets", r->path,
                 r->member, where, li.type == H5L_TYPE_EXTERNAL ? "an external" : "a soft");
        return -1;
    }
    H5O_info_t oi;
    if (H5Oget_info_by_name(group, name, &oi, H5P_DEFAULT) < 0) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': unreadable object", r->path, r->member, where);
        return -1;
    }
    return (int)oi.type;
}

/* The string attribute `attr` of obj into *out (NULL when absent). Returns 0 or -1. */
static int read_string_attr(reader *r, hid_t obj, const char *attr, const char *where, char **out) {
    *out = NULL;
    if (H5Aexists(obj, attr) <= 0) return 0;
    int result = -1;
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hid_t mem = H5I_INVALID_HID;
    if (a < 0 || type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING ||
        H5Sget_simple_extent_npoints(space) != 1) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': attribute '%s' is not one string", r->path,
                 r->member, where, attr);
        goto done;
    }
    if (H5Tis_variable_str(type) > 0) {
        char *p = NULL;
        mem = H5Tcopy(H5T_C_S1);
        if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mem, H5Tget_cset(type)) < 0 || H5Aread(a, mem, &p) < 0) {
            kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': cannot read attribute '%s'", r->path, r->member,
                     where, attr);
            goto done;
        }
        *out = strdup(p ? p : "");
        if (p) H5free_memory(p);
    } else {
        size_t size = H5Tget_size(type);
        char *buf = size <= MAX_NAME ? calloc(1, size + 1) : NULL;
        if (!buf || H5Aread(a, type, buf) < 0) {
            free(buf);
            kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': cannot read attribute '%s'", r->path, r->member,
                     where, attr);
            goto done;
        }
        *out = buf;
    }
    if (!*out) {
        kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        goto done;
    }
    if (strlen(*out) > MAX_NAME) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': attribute '%s' is too long", r->path, r->member,
                 where, attr);
        free(*out);
        *out = NULL;
        goto done;
    }
    result = 0;
done:
    close_id(&mem, H5Tclose);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&a, H5Aclose);
    return result;
}

static int add_saveable(reader *r, const char *path, int parent) {
    if (r->count == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        saveable *items = realloc(r->items, (size_t)cap * sizeof *items);
        if (!items) return -1;
        r->items = items;
        r->cap = cap;
    }
    saveable *s = &r->items[r->count];
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    if (!s->path) return -1;
    s->parent = parent;
    return r->count++;
}

/* "conv2d_10" after "conv2d_9": names compared with their trailing numbers as numbers, so
 * that a container lists its layers in Keras' order within each class. */
static int natural_cmp(const void *pa, const void *pb) {
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    size_t la = strlen(a), lb = strlen(b), da = la, db = lb;
    while (da > 0 && isdigit((unsigned char)a[da - 1])) da--;
    while (db > 0 && isdigit((unsigned char)b[db - 1])) db--;
    /* a total order on (text before the trailing digits, digit count, digits) */
    int c = memcmp(a, b, da < db ? da : db);
    if (c) return c;
    if (da != db) return da < db ? -1 : 1;
    if (la - da != lb - db) return la - da < lb - db ? -1 : 1;
    return strcmp(a + da, b + db);
}

typedef struct link_list {
    char **names;
    size_t count, cap;
    int failure; /* 1 too many, 2 name too long, 3 out of memory */
} link_list;

static herr_t collect_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group, (void)info;
    link_list *l = data;
    size_t len = strlen(name);
    if (l->count >= MAX_GROUPS) return l->failure = 1, -1;
    if (len > MAX_NAME) return l->failure = 2, -1;
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **names = realloc(l->names, cap * sizeof *names);
        if (!names) return l->failure = 3, -1;
        l->names = names;
        l->cap = cap;
    }
    if (!(l->names[l->count] = strdup(name))) return l->failure = 3, -1;
    l->count++;
    return 0;
}

/* The names of a group's links, sorted naturally (one pass over the group). */
static int list_links(reader *r, hid_t group, const char *where, char ***out, int *count) {
    *out = NULL;
    *count = 0;
    link_list l = {NULL, 0, 0, 0};
    hsize_t idx = 0;
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_link, &l) < 0) {
        for (size_t i = 0; i < l.count; i++) free(l.names[i]);
        free(l.names);
        const char *g = *where ? where : "/";
        if (l.failure == 1)
            kvk_fail(KVK_ERROR_FORMAT,
                     "%s: %s'%s' holds more than %d entries, too many for a model", r->path,
                     r->member, g, MAX_GROUPS);
        else if (l.failure == 2)
            kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s' holds a name longer than %d bytes", r->path,
                     r->member, g, MAX_NAME);
        else if (l.failure == 3)
            kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        else
            kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': unreadable group", r->path, r->member, g);
        return -1;
    }
    if (l.count) qsort(l.names, l.count, sizeof *l.names, natural_cmp);
    *out = l.names;
    *count = (int)l.count;
    return 0;
}

static void free_links(char **names, int count) {
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

/* Visits `group` (at `path`): a saveable if it has a vars group, else a container (a list of
 * layers); then its children. Optimizer state is skipped. */
static kvk_status walk(reader *r, hid_t group, const char *path, int parent, int depth) {
    if (depth > MAX_DEPTH)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': groups nested more than %d deep", r->path,
                        r->member, path, MAX_DEPTH);
    if (++r->groups > MAX_GROUPS)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %smore than %d groups (linked in a loop?)", r->path,
                        r->member, MAX_GROUPS);
    char **links;
    int count;
    if (list_links(r, group, path, &links, &count) < 0) return KVK_ERROR_FORMAT;
    kvk_status st = KVK_OK;
    int self = parent;
    for (int i = 0; i < count && st == KVK_OK; i++) {
        if (strcmp(links[i], "vars") != 0) continue;
        char *where = join_path(path, "vars");
        if (!where) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            break;
        }
        int type = link_type(r, group, "vars", where);
        hid_t vars = H5I_INVALID_HID;
        H5G_info_t info;
        if (type < 0) {
            st = KVK_ERROR_FORMAT;
        } else if (type != H5O_TYPE_GROUP) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s' is not a group", r->path, r->member, where);
        } else if ((vars = H5Gopen2(group, "vars", H5P_DEFAULT)) < 0 ||
                   H5Gget_info(vars, &info) < 0) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': unreadable group", r->path, r->member,
                          where);
        } else if (info.nlinks > MAX_VARS) {
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s' holds %llu variables, at most %d expected",
                          r->path, r->member, where, (unsigned long long)info.nlinks, MAX_VARS);
        } else if ((self = add_saveable(r, path, parent)) < 0) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        } else {
            r->items[self].vars = (int)info.nlinks;
            if (read_string_attr(r, vars, "name", where, &r->items[self].name) < 0)
                st = KVK_ERROR_FORMAT;
        }
        close_id(&vars, H5Gclose);
        free(where);
    }
    for (int i = 0; i < count && st == KVK_OK; i++) {
        if (!strcmp(links[i], "vars") || !strcmp(links[i], "optimizer")) continue;
        char *child = join_path(path, links[i]);
        if (!child) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            break;
        }
        int type = link_type(r, group, links[i], child);
        if (type < 0) {
            st = KVK_ERROR_FORMAT;
        } else if (type == H5O_TYPE_GROUP) { /* datasets outside vars are not Keras': ignored */
            hid_t g = H5Gopen2(group, links[i], H5P_DEFAULT);
            if (g < 0)
                st = kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': unreadable group", r->path, r->member,
                              child);
            else
                st = walk(r, g, child, self, depth + 1);
            close_id(&g, H5Gclose);
        }
        free(child);
    }
    free_links(links, count);
    return st;
}

/* --- names from the model config ------------------------------------------------------------ */

/* keras.src.utils.naming.to_snake_case: drop non-word characters, then "_" before every
 * capitalised word that follows a character ((.)([A-Z][a-z]+)), then between a lower-case
 * letter and a capital (([a-z])([A-Z])), then lower-case. */
static char *to_snake_case(const char *name) {
    size_t n = strlen(name);
    char *a = malloc(2 * n + 1), *b = malloc(4 * n + 1);
    if (!a || !b) {
        free(a);
        free(b);
        return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isalnum((unsigned char)name[i]) || name[i] == '_' || (unsigned char)name[i] >= 0x80)
            a[m++] = name[i];
    a[m] = '\0';
    size_t k = 0;
    for (size_t i = 0; i < m;) {
        if (i + 2 < m && isupper((unsigned char)a[i + 1]) && islower((unsigned char)a[i + 2])) {
            b[k++] = a[i];
            b[k++] = '_';
            b[k++] = a[i + 1];
            i += 2;
            while (i < m && islower((unsigned char)a[i])) b[k++] = a[i++];
        } else {
            b[k++] = a[i++];
        }
    }
    b[k] = '\0';
    m = 0;
    for (size_t i = 0; i < k;) {
        if (i + 1 < k && islower((unsigned char)b[i]) && isupper((unsigned char)b[i + 1])) {
            a[m++] = b[i];
            a[m++] = '_';
            a[m++] = b[i + 1];
            i += 2;
        } else {
            a[m++] = b[i++];
        }
    }
    a[m] = '\0';
    for (size_t i = 0; i < m; i++) a[i] = (char)tolower((unsigned char)a[i]);
    free(b);
    return a;
}

static const char *config_layer_name(const kvk_json *layer) {
    const char *name = kvk_json_get_string(layer, "name");
    return name ? name : kvk_json_get_string(kvk_json_get(layer, "config"), "name");
}

/* Gives the saveables below `prefix` the names of the config's layers, as Keras' saving_lib
 * names their groups: snake_case(class), then _1, _2, ... for the next of the same class, in
 * the model's layer order (a Sequential's InputLayer is not among its layers). */
static kvk_status names_from_config(reader *r, const kvk_json *model, const char *prefix,
                                    int depth) {
    const kvk_json *layers = kvk_json_get(kvk_json_get(model, "config"), "layers");
    if (!kvk_json_is(layers, KVK_JSON_ARRAY) || depth > MAX_DEPTH) return KVK_OK;
    const char *model_class = kvk_json_get_string(model, "class_name");
    int sequential = model_class && !strcmp(model_class, "Sequential");
    char **seen = calloc(layers->length + 1, sizeof *seen);
    int *used = calloc(layers->length + 1, sizeof *used);
    size_t nseen = 0;
    kvk_status st = KVK_OK;
    if (!seen || !used) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    for (size_t i = 0; st == KVK_OK && i < layers->length; i++) {
        const kvk_json *layer = kvk_json_at(layers, i);
        const char *cls = kvk_json_get_string(layer, "class_name");
        if (!cls || (sequential && !strcmp(cls, "InputLayer"))) continue;
        char *snake = to_snake_case(cls);
        if (!snake) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            break;
        }
        size_t k = 0;
        while (k < nseen && strcmp(seen[k], snake) != 0) k++;
        char segment[MAX_NAME + 32];
        if (k == nseen) {
            seen[nseen++] = snake;
            snprintf(segment, sizeof segment, "%s", snake);
        } else {
            snprintf(segment, sizeof segment, "%s_%d", snake, ++used[k]);
            free(snake);
        }
        char *path = malloc(strlen(prefix) + strlen(segment) + 2);
        if (!path) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            break;
        }
        sprintf(path, "%s%s", prefix, segment);
        const char *name = config_layer_name(layer);
        const keyed *hit =
            name ? bsearch(path, r->by_path, (size_t)r->count, sizeof *r->by_path, keyed_find)
                 : NULL;
        if (hit && !r->items[hit->index].name && !(r->items[hit->index].name = strdup(name)))
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        if (st == KVK_OK &&
            kvk_json_is(kvk_json_get(kvk_json_get(layer, "config"), "layers"), KVK_JSON_ARRAY)) {
            char *inner = malloc(strlen(path) + sizeof "/layers/");
            if (!inner) {
                st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            } else {
                sprintf(inner, "%s/layers/", path);
                st = names_from_config(r, layer, inner, depth + 1);
                free(inner);
            }
        }
        free(path);
    }
    for (size_t k = 0; k < nseen; k++) free(seen[k]);
    free(seen);
    free(used);
    return st;
}

/* --- exposed names -------------------------------------------------------------------------- */

/* The layer's name qualified by the models around it (without the outermost). */
static char *qualified_name(const reader *r, int index) {
    const char *parts[MAX_DEPTH + 2];
    int n = 0;
    size_t len = 0;
    for (int i = index; i >= 0 && r->items[i].path[0] && n < MAX_DEPTH + 2;
         i = r->items[i].parent) {
        parts[n] = r->items[i].name ? r->items[i].name : r->items[i].path;
        len += strlen(parts[n++]) + 1;
    }
    char *s = malloc(len + 1);
    if (!s) return NULL;
    size_t used = 0;
    for (int k = n - 1; k >= 0; k--) {
        size_t l = strlen(parts[k]);
        memcpy(s + used, parts[k], l);
        used += l;
        if (k) s[used++] = '/';
    }
    s[used] = '\0';
    return s;
}

static kvk_status expose_names(reader *r) {
    keyed *k = malloc((size_t)(r->count ? r->count : 1) * sizeof *k);
    char *dup = calloc((size_t)(r->count ? r->count : 1), 1);
    kvk_status st = KVK_OK;
    int n = 0;
    if (!k || !dup) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    for (int i = 0; st == KVK_OK && i < r->count; i++) {
        saveable *s = &r->items[i];
        if (!s->vars) continue;
        if (!s->name)
            st = kvk_fail(KVK_ERROR_FORMAT,
                          "%s: %s'%s/vars' holds %d weights but names no layer (no 'name' "
                          "attribute, as Keras before 3.6 and tf.keras wrote; their groups are "
                          "named by class and position, which only the model's config maps to "
                          "layers: load the .keras archive that holds this file)",
                          r->path, r->member, s->path, s->vars);
        else
            k[n++] = (keyed){s->name, i};
    }
    if (st == KVK_OK) { /* layers with weights sharing a name get qualified names */
        qsort(k, (size_t)n, sizeof *k, keyed_cmp);
        for (int i = 1; i < n; i++)
            if (!strcmp(k[i - 1].key, k[i].key)) dup[k[i - 1].index] = dup[k[i].index] = 1;
        for (int i = 0; i < n && st == KVK_OK; i++) {
            saveable *s = &r->items[k[i].index];
            s->layer = dup[k[i].index] ? qualified_name(r, k[i].index) : strdup(s->name);
            if (!s->layer) st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        }
    }
    if (st == KVK_OK) {
        for (int i = 0; i < n; i++) k[i].key = r->items[k[i].index].layer;
        qsort(k, (size_t)n, sizeof *k, keyed_cmp);
        for (int i = 1; i < n && st == KVK_OK; i++)
            if (!strcmp(k[i - 1].key, k[i].key))
                st = kvk_fail(KVK_ERROR_FORMAT,
                              "%s: %s'%s' and '%s' are both layer '%s' of the same model", r->path,
                              r->member, r->items[k[i - 1].index].path, r->items[k[i].index].path,
                              k[i].key);
    }
    free(k);
    free(dup);
    return st;
}

/* --- variables ------------------------------------------------------------------------------ */

static float bfloat16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static const char *int_dtype(hid_t type) {
    size_t size = H5Tget_size(type);
    int is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
    case 1:
        return is_signed ? "int8" : "uint8";
    case 2:
        return is_signed ? "int16" : "uint16";
    case 4:
        return is_signed ? "int32" : "uint32";
    case 8:
        return is_signed ? "int64" : "uint64";
    }
    return NULL;
}

static kvk_status read_var(reader *r, hid_t vars, const saveable *s, int index, kvk_weight *w,
                           int with_data) {
    char link[32];
    snprintf(link, sizeof link, "%d", index);
    kvk_status st = KVK_ERROR_FORMAT;
    hid_t ds = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    uint16_t *raw = NULL;
    if (H5Lexists(vars, link, H5P_DEFAULT) <= 0) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: %slayer '%s': '%s' is missing (its vars group holds %d entries, which "
                 "must be the variables 0..%d)",
                 r->path, r->member, s->layer, w->name, s->vars, s->vars - 1);
        goto done;
    }
    int otype = link_type(r, vars, link, w->name);
    if (otype < 0) goto done;
    if (otype != H5O_TYPE_DATASET) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %slayer '%s': '%s' is not a dataset", r->path, r->member,
                 s->layer, w->name);
        goto done;
    }
    ds = H5Dopen2(vars, link, H5P_DEFAULT);
    type = ds >= 0 ? H5Dget_type(ds) : H5I_INVALID_HID;
    space = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
    if (ds < 0 || type < 0 || space < 0) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %slayer '%s': '%s' is unreadable", r->path, r->member,
                 s->layer, w->name);
        goto done;
    }
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    int bfloat16 = 0;
    if (cls == H5T_FLOAT && (size == 2 || size == 4 || size == 8)) {
        w->dtype = size == 2 ? "float16" : size == 4 ? "float32" : "float64";
    } else if (cls == H5T_INTEGER && int_dtype(type)) {
        w->dtype = int_dtype(type);
    } else if (cls == H5T_OPAQUE && size == 2) {
        char *tag = NULL;
        if (read_string_attr(r, ds, "dtype", w->name, &tag) < 0) goto done;
        bfloat16 = tag && !strcmp(tag, "bfloat16");
        free(tag);
        w->dtype = "bfloat16";
    }
    if (!w->dtype || (cls == H5T_OPAQUE && !bfloat16)) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: %slayer '%s': '%s' holds %zu-byte %s values, expected float16, bfloat16, "
                 "float32, float64 or integers",
                 r->path, r->member, s->layer, w->name, size,
                 cls == H5T_STRING   ? "string"
                 : cls == H5T_OPAQUE ? "opaque"
                                     : "non-numeric");
        w->dtype = NULL;
        goto done;
    }
    int ndim = H5Sget_simple_extent_ndims(space);
    if (ndim < 0 || ndim > KVK_MAX_DIMS) {
        kvk_fail(KVK_ERROR_FORMAT, "%s: %slayer '%s': '%s' has %d dimensions, at most %d expected",
                 r->path, r->member, s->layer, w->name, ndim, KVK_MAX_DIMS);
        goto done;
    }
    hsize_t dims[KVK_MAX_DIMS];
    if (ndim > 0) H5Sget_simple_extent_dims(space, dims, NULL);
    w->ndim = ndim;
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        w->dims[i] = (int64_t)dims[i];
        if (dims[i] > 0 && count > (SIZE_MAX / sizeof(float) / 8) / dims[i]) {
            kvk_fail(KVK_ERROR_FORMAT, "%s: %slayer '%s': '%s' is too large", r->path, r->member,
                     s->layer, w->name);
            goto done;
        }
        count *= dims[i];
    }
    /* A hostile header can claim any shape; HDF5 would fill what is not stored. What the file
     * holds for the dataset bounds what it can be (times deflate's ratio, if filtered). */
    uint64_t stored = H5Dget_storage_size(ds);
    r->stored += stored;
    if (r->stored > r->file_size) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: %slayer '%s': '%s': the datasets read so far hold %llu bytes, more than "
                 "the file's %llu (datasets linked twice?)",
                 r->path, r->member, s->layer, w->name, (unsigned long long)r->stored,
                 (unsigned long long)r->file_size);
        goto done;
    }
    if (count * size > stored * DEFLATE_RATIO + 4096 || (count && stored == 0)) {
        kvk_fail(KVK_ERROR_FORMAT,
                 "%s: %slayer '%s': '%s' claims %llu values but the file holds %llu bytes "
                 "for it (damaged or truncated file?)",
                 r->path, r->member, s->layer, w->name, (unsigned long long)count,
                 (unsigned long long)stored);
        goto done;
    }
    if (with_data) {
        w->data = malloc(count ? (size_t)count * sizeof(float) : 1);
        if (bfloat16) raw = malloc(count ? (size_t)count * sizeof *raw : 1);
        if (!w->data || (bfloat16 && !raw)) {
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: %slayer '%s': out of memory for '%s'",
                          r->path, r->member, s->layer, w->name);
            goto done;
        }
        /* HDF5 converts float16, float64 and integers to float32 itself */
        herr_t e = !count ? 0
                   : bfloat16
                       ? H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw)
                       : H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data);
        if (e < 0) {
            kvk_fail(KVK_ERROR_FORMAT,
                     "%s: %slayer '%s': cannot read '%s' (damaged or truncated file?)", r->path,
                     r->member, s->layer, w->name);
            goto done;
        }
        if (bfloat16)
            for (uint64_t i = 0; i < count; i++) w->data[i] = bfloat16_to_float(raw[i]);
    }
    st = KVK_OK;
done:
    free(raw);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&ds, H5Dclose);
    return st;
}

static kvk_status read_layers(reader *r, kvk_weight_file *file, int with_data) {
    int n = 0;
    for (int i = 0; i < r->count; i++) n += r->items[i].vars > 0;
    /* the names are unique (expose_names): allocated at once, not searched per layer */
    file->layers = calloc((size_t)(n ? n : 1), sizeof *file->layers);
    if (!file->layers) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    for (int i = 0; i < r->count; i++) {
        saveable *s = &r->items[i];
        if (!s->vars) continue;
        kvk_weight_layer *layer = &file->layers[file->layer_count];
        if (!(layer->name = strdup(s->layer)))
            return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        file->layer_count++;
        char *vars_path = join_path(s->path, "vars");
        hid_t vars = vars_path ? H5Gopen2(r->file, *s->path ? vars_path : "vars", H5P_DEFAULT)
                               : H5I_INVALID_HID;
        kvk_status st = KVK_OK;
        if (!vars_path)
            st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
        else if (vars < 0)
            st = kvk_fail(KVK_ERROR_FORMAT, "%s: %s'%s': unreadable group", r->path, r->member,
                          vars_path);
        for (int v = 0; v < s->vars && st == KVK_OK; v++) {
            char index[32];
            snprintf(index, sizeof index, "%d", v);
            char *name = join_path(vars_path, index);
            kvk_weight *w = name ? kvk_weights_weight_add(layer, name) : NULL;
            free(name);
            if (!w)
                st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            else
                st = read_var(r, vars, s, v, w, with_data);
        }
        close_id(&vars, H5Gclose);
        free(vars_path);
        if (st != KVK_OK) return st;
    }
    return KVK_OK;
}

static void reader_free(reader *r) {
    for (int i = 0; i < r->count; i++) {
        free(r->items[i].path);
        free(r->items[i].name);
        free(r->items[i].layer);
    }
    free(r->items);
    free(r->by_path);
}

/* Reads the open file r->file into a new kvk_weight_file. */
static kvk_status read_file(reader *r, kvk_weight_format format, const char *config_json,
                            int with_data, kvk_weight_file **out, int *listed) {
    kvk_weight_file *file = NULL;
    kvk_json *config = NULL;
    hid_t root = H5Gopen2(r->file, "/", H5P_DEFAULT);
    kvk_status st = root < 0 ? kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot open the root group",
                                        r->path, r->member)
                             : walk(r, root, "", -1, 0);
    close_id(&root, H5Gclose);
    hsize_t file_size = 0;
    if (st == KVK_OK && H5Fget_filesize(r->file, &file_size) < 0)
        st = kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot tell the HDF5 file's size", r->path,
                      r->member);
    r->file_size = file_size;
    if (st == KVK_OK && config_json) {
        /* names missing from the file come from the config; a config that is not JSON
         * leaves them missing, which expose_names reports */
        if (kvk_json_parse(config_json, strlen(config_json), r->path, &config) == KVK_OK) {
            for (int i = 0; i < r->count; i++)
                if (r->items[i].parent < 0 && !r->items[i].path[0] && !r->items[i].name) {
                    const char *name = config_layer_name(config);
                    if (name && !(r->items[i].name = strdup(name)))
                        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
                }
            if (st == KVK_OK) {
                r->by_path = malloc((size_t)(r->count ? r->count : 1) * sizeof *r->by_path);
                if (!r->by_path)
                    st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
            }
            if (st == KVK_OK) {
                for (int i = 0; i < r->count; i++) r->by_path[i] = (keyed){r->items[i].path, i};
                qsort(r->by_path, (size_t)r->count, sizeof *r->by_path, keyed_cmp);
                st = names_from_config(r, config, "layers/", 0);
            }
        }
    }
    if (st == KVK_OK) st = expose_names(r);
    if (st == KVK_OK && !(file = kvk_weights_new(r->path, format)))
        st = kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->path);
    if (st == KVK_OK) {
        file->keras_major = 3;
        st = read_layers(r, file, with_data);
    }
    if (st == KVK_OK) {
        *listed = 0;
        for (int i = 0; i < r->count; i++) *listed += r->items[i].path[0] != '\0';
    }
    kvk_json_free(config);
    if (st != KVK_OK) {
        kvk_weight_file_free(file);
        return st;
    }
    *out = file;
    return KVK_OK;
}

int kvk_weights_h5_is_keras3(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    int keras3 = H5Aexists(f, "layer_names") <= 0 &&
                 H5Lexists(f, "model_weights", H5P_DEFAULT) <= 0 &&
                 (H5Lexists(f, "layers", H5P_DEFAULT) > 0 || H5Lexists(f, "vars", H5P_DEFAULT) > 0);
    H5Fclose(f);
    return keras3;
}

kvk_status kvk_weights_read_keras3(const char *path, int with_data, kvk_weight_file **out,
                                   int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    reader r = {.path = path, .member = ""};
    r.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r.file < 0)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: cannot open as HDF5 (damaged or truncated file?)",
                        path);
    kvk_status st = read_file(&r, KVK_FORMAT_KERAS3_H5, NULL, with_data, out, listed_layers);
    H5Fclose(r.file);
    reader_free(&r);
    return st;
}

kvk_status kvk_weights_read_keras3_dir(const char *dir, const char *config_json, int with_data,
                                       kvk_weight_file **out, int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    size_t n = strlen(dir) + sizeof "/model.weights.h5";
    char *h5 = malloc(n);
    if (!h5) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", dir);
    snprintf(h5, n, "%s/model.weights.h5", dir);
    reader r = {.path = dir, .member = "model.weights.h5: "};
    r.file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    free(h5);
    if (r.file < 0)
        return kvk_fail(KVK_ERROR_FORMAT,
                        "%s: model.weights.h5: cannot open as HDF5 (damaged or truncated?)", dir);
    kvk_status st =
        read_file(&r, KVK_FORMAT_KERAS_ARCHIVE, config_json, with_data, out, listed_layers);
    H5Fclose(r.file);
    reader_free(&r);
    return st;
}

/* --- HDF5 file images ------------------------------------------------------------------------
 * The core (memory) driver normally copies a file image when it is set on the property list
 * and again when the file is opened. These callbacks hand it the caller's buffer instead
 * (what H5LTopen_file_image does with H5LT_FILE_IMAGE_DONT_COPY, without linking the HDF5
 * high-level library): the file is opened read-only, so the buffer is never written, resized
 * or freed by HDF5. */
typedef struct image_info {
    const void *data;
    size_t size;
} image_info;

static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    const image_info *info = udata;
    if (size != info->size) return NULL;
    switch (op) {
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_SET:
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_COPY:
    case H5FD_FILE_IMAGE_OP_PROPERTY_LIST_GET:
    case H5FD_FILE_IMAGE_OP_FILE_OPEN:
        return (void *)info->data; /* never written: the file is read-only */
    default:
        return NULL;
    }
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                          void *udata) {
    (void)op;
    const image_info *info = udata;
    return dest == src && size == info->size ? dest : NULL;
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)ptr, (void)size, (void)op, (void)udata;
    return NULL;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    (void)ptr, (void)op, (void)udata;
    return 0;
}

static void *udata_copy(void *udata) {
    return udata;
}

static herr_t udata_free(void *udata) {
    (void)udata;
    return 0;
}

kvk_status kvk_weights_read_keras3_image(const char *path, const char *member, const void *image,
                                         size_t size, const char *config_json, int with_data,
                                         kvk_weight_file **out, int *listed_layers) {
    *out = NULL;
    *listed_layers = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char where[512];
    snprintf(where, sizeof where, "%s: ", member);
    image_info info = {image, size};
    H5FD_file_image_callbacks_t callbacks = {image_malloc, image_memcpy, image_realloc, image_free,
                                             udata_copy,   udata_free,   &info};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
        H5Pset_file_image_callbacks(fapl, &callbacks) < 0 ||
        H5Pset_file_image(fapl, (void *)image, size) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot set up an HDF5 file image", path, where);
    }
    reader r = {.path = path, .member = where};
    r.file = size >= 8 ? H5Fopen(member, H5F_ACC_RDONLY, fapl) : H5I_INVALID_HID;
    H5Pclose(fapl);
    if (r.file < 0)
        return kvk_fail(KVK_ERROR_FORMAT, "%s: %scannot open as HDF5 (damaged or truncated?)", path,
                        where);
    kvk_status st = KVK_OK;
    if (H5Aexists(r.file, "layer_names") > 0 || H5Lexists(r.file, "model_weights", H5P_DEFAULT) > 0)
        st = kvk_fail(KVK_ERROR_FORMAT,
                      "%s: %sholds weights in the Keras 1/2 HDF5 layout; a .keras archive holds "
                      "Keras 3's (layers/<layer>/vars)",
                      path, where);
    else
        st = read_file(&r, KVK_FORMAT_KERAS_ARCHIVE, config_json, with_data, out, listed_layers);
    H5Fclose(r.file);
    reader_free(&r);
    return st;
}
