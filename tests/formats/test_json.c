/* The JSON parser used for model.json and model_config: values, escapes, spans, lookups,
 * and refusal of malformed text with a message giving the source, line and column. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "kvk/status.h"

#include "testutil.h"

static kvk_json *parse(const char *text) {
    kvk_json *v = NULL;
    kvk_status st = kvk_json_parse(text, strlen(text), "test.json", &v);
    CHECK(st == KVK_OK, "parse '%s': %s", text, kvk_last_error());
    return v;
}

static void bad(const char *text, const char *needle) {
    kvk_json *v = NULL;
    kvk_status st = kvk_json_parse(text, strlen(text), "bad.json", &v);
    CHECK(st == KVK_ERROR_FORMAT && v == NULL, "'%s' should be refused", text);
    CHECK(strstr(kvk_last_error(), "bad.json: invalid JSON at line") != NULL,
          "'%s': message '%s' lacks the source and position", text, kvk_last_error());
    CHECK(strstr(kvk_last_error(), needle) != NULL, "'%s': message '%s' lacks '%s'", text,
          kvk_last_error(), needle);
    kvk_json_free(v);
}

int main(void) {
    const char *text = " {\"a\": [1, -2.5e3, 0.125, true, false, null],\n"
                       "  \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\",\n"
                       "  \"o\": {\"k\": \"v\"}, \"dup\": 1, \"dup\": 2, \"nan\": NaN,\n"
                       "  \"inf\": -Infinity, \"e\": {}, \"z\": \"a\\u0000b\"} ";
    kvk_json *v = parse(text);
    if (v) {
        const kvk_json *a = kvk_json_get(v, "a");
        CHECK(kvk_json_is(a, KVK_JSON_ARRAY) && a->length == 6, "array of 6");
        CHECK(kvk_json_at(a, 0)->number == 1 && kvk_json_at(a, 1)->number == -2500 &&
                  kvk_json_at(a, 2)->number == 0.125,
              "numbers");
        CHECK(kvk_json_is(kvk_json_at(a, 3), KVK_JSON_TRUE) &&
                  kvk_json_is(kvk_json_at(a, 4), KVK_JSON_FALSE) &&
                  kvk_json_is(kvk_json_at(a, 5), KVK_JSON_NULL),
              "literals");
        CHECK(kvk_json_at(a, 6) == NULL && kvk_json_at(v, 0) == NULL, "out of range / not array");
        CHECK(strcmp(kvk_json_get_string(v, "s"), "q\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80") == 0,
              "escapes, \\u and surrogate pair");
        CHECK(strcmp(kvk_json_get_string(kvk_json_get(v, "o"), "k"), "v") == 0, "nested lookup");
        CHECK(kvk_json_get(v, "dup")->number == 2, "last duplicate wins");
        CHECK(isnan(kvk_json_get(v, "nan")->number), "NaN");
        CHECK(isinf(kvk_json_get(v, "inf")->number) && kvk_json_get(v, "inf")->number < 0,
              "-Infinity");
        CHECK(kvk_json_is(kvk_json_get(v, "e"), KVK_JSON_OBJECT) &&
                  kvk_json_get(v, "e")->length == 0,
              "empty object");
        CHECK(kvk_json_get(v, "z")->length == 3, "\\u0000 kept in length");
        CHECK(kvk_json_get(v, "missing") == NULL && kvk_json_get(NULL, "a") == NULL &&
                  kvk_json_get_string(v, "a") == NULL,
              "absent or wrong type gives NULL");
        const kvk_json *o = kvk_json_get(v, "o");
        CHECK(o->end - o->begin == strlen("{\"k\": \"v\"}") &&
                  memcmp(text + o->begin, "{\"k\": \"v\"}", o->end - o->begin) == 0,
              "source span of a value");
    }
    kvk_json_free(v);

    /* Not NUL-terminated after the value: only `length` bytes are read. */
    kvk_json *n = NULL;
    CHECK(kvk_json_parse("12345", 3, "t", &n) == KVK_OK && n && n->number == 123, "length bound");
    kvk_json_free(n);

    bad("", "unexpected end");
    bad("{", "expected a string as object key");
    bad("{\"a\" 1}", "expected ':'");
    bad("[1, 2", "expected ',' or ']'");
    bad("[1,]", "expected a value");
    bad("{\"a\": 1,}", "expected a string as object key");
    bad("01", "unexpected text after");
    bad("1.", "digit expected");
    bad("-", "expected a value");
    bad("\"abc", "unterminated string");
    bad("\"a\tb\"", "control character");
    bad("\"\\x\"", "unknown escape");
    bad("\"\\u12\"", "bad \\u escape");
    bad("\"\\ud800\"", "unpaired");
    bad("tru", "expected a value");
    bad("{} {}", "unexpected text after");
    bad("{\n\n  \"a\": ?}", "line 3, column 8");
    char deep[2000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    bad(deep, "nesting too deep");

    /* The writer: non-finite numbers as null, strings escaped, invalid UTF-8 replaced; what it
     * writes parses back (with this parser, which is strict RFC 8259 apart from NaN/Infinity,
     * which the writer never emits). */
    kvk_json_writer w = {0};
    kvk_json_write_raw(&w, "[");
    const double numbers[] = {1.5, NAN, INFINITY, -INFINITY, -0.25, 3.4028234663852886e38};
    for (int i = 0; i < 6; i++) {
        if (i) kvk_json_write_raw(&w, ", ");
        kvk_json_write_number(&w, numbers[i]);
    }
    kvk_json_write_raw(&w, ", ");
    kvk_json_write_string(&w, "a\"b\\c\n\x01\x7f\xc3\xa9 \xff\xc3 \xed\xa0\x80 \xf0\x9f\x98\x80");
    kvk_json_write_raw(&w, ", ");
    kvk_json_write_int(&w, -42);
    kvk_json_write_raw(&w, "]");
    CHECK(!w.failed && w.text, "writer wrote");
    if (w.text) {
        CHECK(strstr(w.text, "[1.5, null, null, null, -0.25, 3.40282347e+38, ") == w.text,
              "NaN and Inf written as null: %s", w.text);
        CHECK(!strstr(w.text, "nan") && !strstr(w.text, "inf"), "no nan or inf: %s", w.text);
        kvk_json *back = NULL;
        kvk_status st = kvk_json_parse(w.text, w.length, "written", &back);
        CHECK(st == KVK_OK, "the written document parses: %s (%s)", kvk_last_error(), w.text);
        if (st == KVK_OK) {
            CHECK(back->length == 8 && kvk_json_is(kvk_json_at(back, 1), KVK_JSON_NULL) &&
                      kvk_json_is(kvk_json_at(back, 3), KVK_JSON_NULL) &&
                      kvk_json_at(back, 7)->number == -42,
                  "values back");
            const char *str = kvk_json_string(kvk_json_at(back, 6));
            CHECK(str && !strcmp(str, "a\"b\\c\n\x01\x7f\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd "
                                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80"),
                  "string back, invalid bytes as U+FFFD: %s", str ? str : "(none)");
        }
        kvk_json_free(back);
    }
    kvk_json_writer_free(&w);

    return tu_finish();
}
