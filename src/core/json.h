/* A small, strict JSON parser (RFC 8259) into a read-only tree, for model.json and Keras
 * model_config. One extension: NaN, Infinity and -Infinity are accepted as numbers, because
 * Python's json.dumps (which wrote every Keras config) emits them. */
#ifndef KVK_CORE_JSON_H
#define KVK_CORE_JSON_H

#include <stddef.h>

#include "kvk/status.h"

typedef enum kvk_json_type {
    KVK_JSON_NULL,
    KVK_JSON_FALSE,
    KVK_JSON_TRUE,
    KVK_JSON_NUMBER,
    KVK_JSON_STRING,
    KVK_JSON_ARRAY,
    KVK_JSON_OBJECT,
} kvk_json_type;

typedef struct kvk_json {
    kvk_json_type type;
    double number;          /* NUMBER */
    char *string;           /* STRING: decoded UTF-8, NUL-terminated */
    size_t length;          /* STRING: bytes (a \u0000 makes it longer than strlen);
                               ARRAY, OBJECT: element count */
    struct kvk_json *items; /* ARRAY: elements; OBJECT: member values */
    char **keys;            /* OBJECT: member names, parallel to items */
    size_t begin, end;      /* byte span of this value in the parsed text */
} kvk_json;

/* Parses `length` bytes of `text` (the whole text must be one JSON value). `what` names the
 * source (a file path) in error messages, which give line and column. */
kvk_status kvk_json_parse(const char *text, size_t length, const char *what, kvk_json **out);
void kvk_json_free(kvk_json *value);

/* Lookups return NULL when `v` is NULL, of another type, or lacks the member; so they chain:
 * kvk_json_get(kvk_json_get(root, "modelTopology"), "model_config"). For a repeated key the
 * last member wins, as in Python. */
const kvk_json *kvk_json_get(const kvk_json *object, const char *key);
const kvk_json *kvk_json_at(const kvk_json *array, size_t index);
const char *kvk_json_string(const kvk_json *v);                           /* NULL unless STRING */
const char *kvk_json_get_string(const kvk_json *object, const char *key); /* NULL unless STRING */
int kvk_json_is(const kvk_json *v, kvk_json_type type);
const char *kvk_json_type_name(kvk_json_type type);

/* A JSON writer into memory, so that a document is printed whole or not at all. Numbers that
 * are not finite are written as null (JSON has no NaN or Infinity); strings are escaped, with
 * bytes that are not UTF-8 written as U+FFFD. A failed allocation sets `failed` and makes
 * every later call a no-op. */
typedef struct kvk_json_writer {
    char *text; /* NUL-terminated; NULL until something is written */
    size_t length, capacity;
    int failed;
} kvk_json_writer;

void kvk_json_write_raw(kvk_json_writer *w, const char *s);
void kvk_json_write_string(kvk_json_writer *w, const char *s);
void kvk_json_write_number(kvk_json_writer *w, double v); /* %.9g, or null */
void kvk_json_write_int(kvk_json_writer *w, long long v);
void kvk_json_writer_free(kvk_json_writer *w);

#endif
