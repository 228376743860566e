#include "core/json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Deep enough for any Keras config, shallow enough that recursion cannot exhaust the stack. */
#define JSON_MAX_DEPTH 256

typedef struct parser {
    const char *text;
    size_t length, pos;
    const char *what;
    int depth;
} parser;

static kvk_status fail_at(const parser *p, size_t pos, const char *message) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < p->length; i++) {
        if (p->text[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    return kvk_fail(KVK_ERROR_FORMAT, "%s: invalid JSON at line %zu, column %zu: %s", p->what, line,
                    column, message);
}

static void skip_space(parser *p) {
    while (p->pos < p->length) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int match_word(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->length - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

static void free_contents(kvk_json *v) {
    free(v->string);
    if (v->items) {
        for (size_t i = 0; i < v->length; i++) free_contents(&v->items[i]);
        free(v->items);
    }
    if (v->keys) {
        for (size_t i = 0; i < v->length; i++) free(v->keys[i]);
        free(v->keys);
    }
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *dst, unsigned cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string starting at the opening quote; the decoded text is never longer than the
 * escaped one, so one allocation of the raw length is enough. */
static kvk_status parse_string(parser *p, char **out, size_t *out_len) {
    size_t start = p->pos++;
    size_t end = p->pos;
    while (end < p->length && p->text[end] != '"') {
        if (p->text[end] == '\\') end++;
        end++;
    }
    if (end >= p->length) return fail_at(p, start, "unterminated string");
    char *buf = malloc(end - p->pos + 1);
    if (!buf) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory parsing JSON", p->what);
    size_t n = 0;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c < 0x20) {
            free(buf);
            return fail_at(p, p->pos, "control character in string");
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            p->pos++;
            continue;
        }
        char e = p->text[p->pos + 1];
        size_t esc = p->pos;
        p->pos += 2;
        switch (e) {
        case '"':
            buf[n++] = '"';
            break;
        case '\\':
            buf[n++] = '\\';
            break;
        case '/':
            buf[n++] = '/';
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (end - p->pos < 4 || !hex4(p->text + p->pos, &cp)) {
                free(buf);
                return fail_at(p, esc, "bad \\u escape");
            }
            p->pos += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p->pos < 6 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u' ||
                    !hex4(p->text + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return fail_at(p, esc, "unpaired UTF-16 surrogate in \\u escape");
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return fail_at(p, esc, "unpaired UTF-16 surrogate in \\u escape");
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            free(buf);
            return fail_at(p, esc, "unknown escape in string");
        }
    }
    p->pos = end + 1;
    buf[n] = '\0';
    *out = buf;
    if (out_len) *out_len = n;
    return KVK_OK;
}

static kvk_status parse_number(parser *p, kvk_json *v) {
    size_t start = p->pos, i = p->pos;
    const char *t = p->text;
    if (i < p->length && t[i] == '-') i++;
    if (i < p->length && t[i] == '0') {
        i++;
    } else if (i < p->length && t[i] >= '1' && t[i] <= '9') {
        while (i < p->length && t[i] >= '0' && t[i] <= '9') i++;
    } else {
        p->pos = i;
        if (t[start] == '-' && match_word(p, "Infinity")) {
            v->type = KVK_JSON_NUMBER;
            v->number = -INFINITY;
            return KVK_OK;
        }
        return fail_at(p, start, "expected a value");
    }
    if (i < p->length && t[i] == '.') {
        i++;
        if (i >= p->length || t[i] < '0' || t[i] > '9') return fail_at(p, i, "digit expected");
        while (i < p->length && t[i] >= '0' && t[i] <= '9') i++;
    }
    if (i < p->length && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < p->length && (t[i] == '+' || t[i] == '-')) i++;
        if (i >= p->length || t[i] < '0' || t[i] > '9') return fail_at(p, i, "digit expected");
        while (i < p->length && t[i] >= '0' && t[i] <= '9') i++;
    }
    /* strtod needs a terminated copy: the text need not be NUL-terminated after the number. */
    char small[64], *copy = small;
    size_t n = i - start;
    if (n >= sizeof small) {
        copy = malloc(n + 1);
        if (!copy) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", p->what);
    }
    memcpy(copy, t + start, n);
    copy[n] = '\0';
    v->type = KVK_JSON_NUMBER;
    v->number = strtod(copy, NULL);
    if (copy != small) free(copy);
    p->pos = i;
    return KVK_OK;
}

static kvk_status parse_value(parser *p, kvk_json *v);

/* Appends a zeroed slot to items (and keys), growing by doubling. */
static kvk_status grow(parser *p, kvk_json *v, size_t *cap, int with_keys) {
    if (v->length < *cap) return KVK_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    kvk_json *items = realloc(v->items, ncap * sizeof *items);
    if (!items) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", p->what);
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, ncap * sizeof *keys);
        if (!keys) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", p->what);
        v->keys = keys;
    }
    *cap = ncap;
    return KVK_OK;
}

static kvk_status parse_container(parser *p, kvk_json *v, int object) {
    char close = object ? '}' : ']';
    size_t cap = 0;
    kvk_status st;
    v->type = object ? KVK_JSON_OBJECT : KVK_JSON_ARRAY;
    if (++p->depth > JSON_MAX_DEPTH) return fail_at(p, p->pos, "nesting too deep");
    p->pos++;
    skip_space(p);
    if (p->pos < p->length && p->text[p->pos] == close) {
        p->pos++;
        p->depth--;
        return KVK_OK;
    }
    for (;;) {
        if ((st = grow(p, v, &cap, object)) != KVK_OK) return st;
        kvk_json *item = &v->items[v->length];
        memset(item, 0, sizeof *item);
        if (object) {
            skip_space(p);
            if (p->pos >= p->length || p->text[p->pos] != '"')
                return fail_at(p, p->pos, "expected a string as object key");
            char *key;
            if ((st = parse_string(p, &key, NULL)) != KVK_OK) return st;
            v->keys[v->length] = key;
            v->length++; /* counted now so that free_contents releases the key on error */
            skip_space(p);
            if (p->pos >= p->length || p->text[p->pos] != ':')
                return fail_at(p, p->pos, "expected ':' after object key");
            p->pos++;
            if ((st = parse_value(p, item)) != KVK_OK) return st;
        } else {
            v->length++;
            if ((st = parse_value(p, item)) != KVK_OK) return st;
        }
        skip_space(p);
        if (p->pos < p->length && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->length && p->text[p->pos] == close) {
            p->pos++;
            p->depth--;
            return KVK_OK;
        }
        return fail_at(p, p->pos, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static kvk_status parse_value(parser *p, kvk_json *v) {
    kvk_status st = KVK_OK;
    skip_space(p);
    if (p->pos >= p->length) return fail_at(p, p->pos, "unexpected end of text");
    v->begin = p->pos;
    char c = p->text[p->pos];
    if (c == '{' || c == '[') {
        st = parse_container(p, v, c == '{');
    } else if (c == '"') {
        v->type = KVK_JSON_STRING;
        st = parse_string(p, &v->string, &v->length);
    } else if (match_word(p, "true")) {
        v->type = KVK_JSON_TRUE;
    } else if (match_word(p, "false")) {
        v->type = KVK_JSON_FALSE;
    } else if (match_word(p, "null")) {
        v->type = KVK_JSON_NULL;
    } else if (match_word(p, "NaN")) {
        v->type = KVK_JSON_NUMBER;
        v->number = NAN;
    } else if (match_word(p, "Infinity")) {
        v->type = KVK_JSON_NUMBER;
        v->number = INFINITY;
    } else {
        st = parse_number(p, v);
    }
    v->end = p->pos;
    return st;
}

kvk_status kvk_json_parse(const char *text, size_t length, const char *what, kvk_json **out) {
    *out = NULL;
    parser p = {text, length, 0, what ? what : "JSON", 0};
    kvk_json *root = calloc(1, sizeof *root);
    if (!root) return kvk_fail(KVK_ERROR_OUT_OF_MEMORY, "%s: out of memory", p.what);
    /* A UTF-8 byte order mark is not JSON, but some editors write one. */
    if (length >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    kvk_status st = parse_value(&p, root);
    if (st == KVK_OK) {
        skip_space(&p);
        if (p.pos != p.length) st = fail_at(&p, p.pos, "unexpected text after the JSON value");
    }
    if (st != KVK_OK) {
        kvk_json_free(root);
        return st;
    }
    *out = root;
    return KVK_OK;
}

void kvk_json_free(kvk_json *value) {
    if (!value) return;
    free_contents(value);
    free(value);
}

const kvk_json *kvk_json_get(const kvk_json *object, const char *key) {
    if (!object || object->type != KVK_JSON_OBJECT) return NULL;
    for (size_t i = object->length; i-- > 0;)
        if (strcmp(object->keys[i], key) == 0) return &object->items[i];
    return NULL;
}

const kvk_json *kvk_json_at(const kvk_json *array, size_t index) {
    if (!array || array->type != KVK_JSON_ARRAY || index >= array->length) return NULL;
    return &array->items[index];
}

const char *kvk_json_string(const kvk_json *v) {
    return v && v->type == KVK_JSON_STRING ? v->string : NULL;
}

const char *kvk_json_get_string(const kvk_json *object, const char *key) {
    return kvk_json_string(kvk_json_get(object, key));
}

int kvk_json_is(const kvk_json *v, kvk_json_type type) {
    return v && v->type == type;
}

const char *kvk_json_type_name(kvk_json_type type) {
    switch (type) {
    case KVK_JSON_NULL:
        return "null";
    case KVK_JSON_FALSE:
    case KVK_JSON_TRUE:
        return "boolean";
    case KVK_JSON_NUMBER:
        return "number";
    case KVK_JSON_STRING:
        return "string";
    case KVK_JSON_ARRAY:
        return "array";
    case KVK_JSON_OBJECT:
        return "object";
    }
    return "?";
}

/* --- writing ------------------------------------------------------------------------------ */

static void write_bytes(kvk_json_writer *w, const char *s, size_t n) {
    if (w->failed) return;
    if (w->length + n + 1 > w->capacity) {
        size_t cap = w->capacity ? w->capacity : 256;
        while (cap < w->length + n + 1) {
            if (cap > SIZE_MAX / 2) {
                w->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *t = realloc(w->text, cap);
        if (!t) {
            w->failed = 1;
            return;
        }
        w->text = t;
        w->capacity = cap;
    }
    memcpy(w->text + w->length, s, n);
    w->length += n;
    w->text[w->length] = '\0';
}

void kvk_json_write_raw(kvk_json_writer *w, const char *s) {
    write_bytes(w, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 if it is not one. */
static size_t utf8_length(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                              : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return n;
}

void kvk_json_write_string(kvk_json_writer *w, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    write_bytes(w, "\"", 1);
    while (*s) {
        char esc[8];
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*s;
            write_bytes(w, esc, 2);
            s++;
        } else if (*s < 0x20 || *s == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", *s);
            write_bytes(w, esc, 6);
            s++;
        } else {
            size_t n = utf8_length(s);
            if (n == 0) {
                write_bytes(w, "\\ufffd", 6);
                s++;
            } else {
                write_bytes(w, (const char *)s, n);
                s += n;
            }
        }
    }
    write_bytes(w, "\"", 1);
}

void kvk_json_write_number(kvk_json_writer *w, double v) {
    if (!isfinite(v)) {
        write_bytes(w, "null", 4);
        return;
    }
    char buf[40];
    int n = snprintf(buf, sizeof buf, "%.9g", v);
    write_bytes(w, buf, (size_t)n);
}

void kvk_json_write_int(kvk_json_writer *w, long long v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    write_bytes(w, buf, (size_t)n);
}

void kvk_json_writer_free(kvk_json_writer *w) {
    free(w->text);
    memset(w, 0, sizeof *w);
}
