/* kvk against real Keras: a case folder made by make_keras_cases.py holds weight files that
 * Keras wrote (save_weights, model.save, a theano-ordered copy), an input, and Keras' own
 * output for it. Every weight file must reproduce that output within the stated tolerance.
 * usage: test_keras CASE_DIR */
#include "testutil.h"

#include "core/internal.h"
#include "core/json.h"
#include "core/npy.h"

static const double TOLERANCE = 1e-4; /* ||kvk - keras|| / ||keras||, fp32 */

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) s[n] = '\0', *len = (size_t)n;
    return s;
}

static int json_int(const kvk_json *o, const char *key) {
    const kvk_json *v = kvk_json_get(o, key);
    return v && v->type == KVK_JSON_NUMBER ? (int)v->number : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/case.json", dir);
    char *text = read_text(path, &len);
    kvk_json *c = NULL;
    if (!tu_check(text && kvk_json_parse(text, len, path, &c) == KVK_OK, "read %s: %s", path,
                  text ? kvk_last_error() : "cannot open"))
        return tu_finish();
    kvk_model_options o = {0};
    o.architecture = kvk_json_get_string(c, "arch");
    const kvk_json *top = kvk_json_get(c, "include_top");
    o.include_top = top && top->type == KVK_JSON_TRUE;
    const char *pooling = kvk_json_get_string(c, "pooling");
    o.pooling = !pooling                  ? KVK_POOLING_NONE
                : !strcmp(pooling, "avg") ? KVK_POOLING_AVG
                                          : KVK_POOLING_MAX;
    o.classes = json_int(c, "classes");
    o.height = json_int(c, "height");
    o.width = json_int(c, "width");
    o.batch = json_int(c, "batch");
    const char *naming = kvk_json_get_string(c, "naming");

    kvk_npy x = {0}, want = {0};
    snprintf(path, sizeof path, "%s/input.npy", dir);
    tu_check(kvk_npy_read(path, &x) == KVK_OK, "read input: %s", kvk_last_error());
    snprintf(path, sizeof path, "%s/output.npy", dir);
    tu_check(kvk_npy_read(path, &want) == KVK_OK, "read Keras output: %s", kvk_last_error());
    if (tu_failed) return tu_finish();
    long out_n = 1;
    for (int i = 0; i < want.ndim; i++) out_n *= (long)want.dims[i];
    float *y = malloc(sizeof(float) * (size_t)out_n);

    kvk_context *ctx = tu_context(0);
    const kvk_json *files = kvk_json_get(c, "files");
    double worst = 0;
    for (size_t i = 0; files && i < files->length; i++) {
        const char *file = kvk_json_string(kvk_json_at(files, i));
        if (!file || !strstr(file, ".h5")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        kvk_model_options mo = o;
        mo.weights = path;
        kvk_model *m;
        if (!tu_check(kvk_model_create(ctx, &mo, &m) == KVK_OK, "%s: build: %s", file,
                      kvk_last_error()))
            continue;
        if (naming && !strcmp(o.architecture, "resnet50")) {
            const char *probe =
                !strcmp(naming, "legacy") ? "res2a_branch2a" : "conv2_block1_1_conv";
            tu_check(kvk_graph_find(&m->graph, probe) >= 0, "%s: %s naming recognised", file,
                     naming);
        }
        tu_check(kvk_model_output_size(m) * o.batch == out_n, "%s: output size %ld, Keras %ld",
                 file, kvk_model_output_size(m) * o.batch, out_n);
        tu_poison(y, out_n);
        if (tu_check(kvk_model_run(m, x.data, o.batch, y) == KVK_OK, "%s: run: %s", file,
                     kvk_last_error())) {
            double err = tu_rel_error(y, want.data, out_n);
            if (err > worst || isnan(err)) worst = err;
            printf("%s %s on %s: relative error vs Keras %.3g\n", dir, file,
                   kvk_context_device_name(ctx), err);
            tu_check(err <= TOLERANCE, "%s: relative error %.3g <= %g", file, err, TOLERANCE);
        }
        kvk_model_destroy(m);
    }
    printf("largest relative error vs Keras: %.3g\n", worst);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
    free(y);
    kvk_npy_free(&x);
    kvk_npy_free(&want);
    kvk_json_free(c);
    free(text);
    return tu_finish();
}
