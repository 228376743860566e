/* kvk against real Keras: a case folder made by make_keras_cases.py (tf-keras) or
 * make_keras3_cases.py (Keras 3) holds weight files that Keras wrote (save_weights,
 * model.save, a theano-ordered copy, renumbered copies; Keras 3 .weights.h5 and .keras
 * archives), an input, and Keras' own output for it. A case of make_config_cases.py names a
 * "model_file" instead of an application: kvk builds the model from the config saved in it
 * (each of "files" gives the weights), or must refuse it with a message containing
 * "expect_error". Every weight file must reproduce that output within the stated tolerance. A
 * feature case (case.json "features") instead lists layer outputs (optionally globally pooled)
 * that kvk must return through options.output_layers. usage: test_keras CASE_DIR... */
#include "testutil.h"

#include "api/internal.h"
#include "core/json.h"
#include "core/npy.h"
#include "keras/apps/apps.h"
#include "keras/keras_order.h"

/* ||kvk - keras|| / ||keras||: float32, or float16 weights (KVK_PRECISION=fp16, set by
 * CMake's keras_fp16 tests; measured on lavapipe: VGG16 6.8e-4, ResNet50 1.7e-3, Xception
 * 1.4e-3, InceptionV3 4.0e-3) */
static double TOLERANCE = 1e-4;
#define FP16_TOLERANCE 1e-2

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

static const char *pooling_name(kvk_pooling p) {
    return p == KVK_POOLING_AVG ? "avg" : p == KVK_POOLING_MAX ? "max" : "none";
}

/* case.json "features": [{"layer", "pooling": null|"avg"|"max", "file"}, ...]. The API has
 * one output_pooling per model, so one model per pooling value in use, each returning its
 * entries' layers in case order. */
static double run_features(kvk_context *ctx, const kvk_model_options *o, const char *dir,
                           const char *file, const kvk_json *features, const kvk_npy *x) {
    double worst = 0;
    size_t n = features->length;
    for (int p = KVK_POOLING_NONE; p <= KVK_POOLING_MAX; p++) {
        const char **names = calloc(n, sizeof *names);
        size_t *entry = calloc(n, sizeof *entry);
        int count = 0;
        for (size_t i = 0; i < n; i++) {
            const kvk_json *f = kvk_json_at(features, i);
            const char *pool = kvk_json_get_string(f, "pooling");
            kvk_pooling fp = !pool                  ? KVK_POOLING_NONE
                             : !strcmp(pool, "avg") ? KVK_POOLING_AVG
                                                    : KVK_POOLING_MAX;
            if ((int)fp != p) continue;
            names[count] = kvk_json_get_string(f, "layer");
            entry[count++] = i;
        }
        if (!count) {
            free(names);
            free(entry);
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        kvk_model_options mo = *o;
        mo.weights = path;
        mo.output_layers = names;
        mo.output_layer_count = count;
        mo.output_pooling = (kvk_pooling)p;
        kvk_model *m = NULL;
        if (!tu_check(kvk_model_create(ctx, &mo, &m) == KVK_OK,
                      "%s: build with %d outputs (pooling %s): %s", file, count, pooling_name(p),
                      kvk_last_error())) {
            free(names);
            free(entry);
            worst = INFINITY;
            continue;
        }
        /* A wrong output count stops this model; a wrong name or shape fails that output
         * only (the others are still run and compared). */
        int ok = tu_check(kvk_model_output_count(m) == count, "%s: %d outputs, asked for %d", file,
                          kvk_model_output_count(m), count);
        kvk_npy *want = calloc((size_t)count, sizeof *want);
        float **y = calloc((size_t)count, sizeof *y);
        long *floats = calloc((size_t)count, sizeof *floats);
        int *valid = calloc((size_t)count, sizeof *valid);
        for (int k = 0; ok && k < count; k++) {
            floats[k] = kvk_model_output_floats(m, k) * o->batch;
            y[k] = malloc(sizeof(float) * (size_t)(floats[k] > 0 ? floats[k] : 1));
            tu_poison(y[k], floats[k]);
            const kvk_json *f = kvk_json_at(features, entry[k]);
            const char *npy = kvk_json_get_string(f, "file");
            char npath[4096]; /* not path: mo.weights points there */
            snprintf(npath, sizeof npath, "%s/%s", dir, npy ? npy : "?");
            if (!tu_check(kvk_npy_read(npath, &want[k]) == KVK_OK, "read %s: %s", npath,
                          kvk_last_error()))
                continue;
            const char *name = kvk_model_output_name(m, k);
            int named =
                tu_check(name && !strcmp(name, names[k]), "%s: output %d is %s, asked for %s", file,
                         k, name ? name : "(null)", names[k]);
            /* kvk's per-image shape must be Keras' shape without the batch axis */
            int dims[3] = {0};
            int nd = kvk_model_output_dims(m, k, dims);
            int same = nd >= 1 && nd <= 3 && want[k].ndim == nd + 1 && want[k].dims[0] == o->batch;
            for (int d = 0; same && d < nd; d++) same = want[k].dims[d + 1] == dims[d];
            long wn = 1;
            for (int d = 0; d < want[k].ndim; d++) wn *= (long)want[k].dims[d];
            same = same && floats[k] == wn;
            char ks[64] = "", ws[96] = "";
            for (int d = 0; d < nd && d < 3; d++)
                snprintf(ks + strlen(ks), sizeof ks - strlen(ks), "%s%d", d ? ", " : "", dims[d]);
            for (int d = 0; d < want[k].ndim; d++)
                snprintf(ws + strlen(ws), sizeof ws - strlen(ws), "%s%lld", d ? ", " : "",
                         (long long)want[k].dims[d]);
            same = tu_check(same,
                            "%s: %s (pooling %s): kvk %ld floats, shape per image (%s); "
                            "Keras %s (%s)",
                            file, names[k], pooling_name(p), floats[k], ks, npy, ws);
            valid[k] = named && same;
        }
        if (ok && tu_check(kvk_model_run_outputs(m, x->data, o->batch, y) == KVK_OK,
                           "%s: run %d outputs (pooling %s): %s", file, count, pooling_name(p),
                           kvk_last_error())) {
            for (int k = 0; k < count; k++) {
                if (!valid[k]) {
                    worst = INFINITY;
                    continue;
                }
                double err = tu_rel_error(y[k], want[k].data, floats[k]);
                if (err > worst || isnan(err)) worst = err;
                printf("%s %s layer %s (pooling %s) on %s: relative error vs Keras %.3g\n", dir,
                       file, names[k], pooling_name(p), kvk_context_device_name(ctx), err);
                tu_check(err <= TOLERANCE, "%s: %s (pooling %s): relative error %.3g <= %g", file,
                         names[k], pooling_name(p), err, TOLERANCE);
            }
        } else {
            worst = INFINITY;
        }
        for (int k = 0; k < count; k++) {
            free(y[k]);
            kvk_npy_free(&want[k]);
        }
        free(y);
        free(want);
        free(floats);
        free(valid);
        free(names);
        free(entry);
        kvk_model_destroy(m);
    }
    return worst;
}

/* kvk's internal nodes, which are no Keras layers: a SeparableConv2D's depthwise half, and
 * nodes named "<layer>/<part>" after a layer of the graph (a pooled feature output). */
static int internal_node(const kvk_graph *g, int i) {
    const kvk_node *n = &g->nodes[i];
    if (n->op == KVK_OP_DEPTHWISE_CONV2D && n->separable_of >= 0) return 1;
    const char *slash = strrchr(n->name, '/');
    if (!slash) return 0;
    char prefix[sizeof n->name];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(slash - n->name), n->name);
    return kvk_graph_find(g, prefix) >= 0;
}

/* case.json "layers": the Keras model's layer names, which must be exactly the graph's (what
 * features and weight files are named by). */
static void check_layer_names(const kvk_graph *g, const kvk_json *layers, const char *file) {
    int missing = 0, extra = 0;
    for (size_t k = 0; k < layers->length; k++) {
        const char *name = kvk_json_string(kvk_json_at(layers, k));
        if (name && kvk_graph_find(g, name) < 0 && missing++ < 5)
            tu_check(0, "%s: Keras layer '%s' is not in kvk's graph", file, name);
    }
    for (int i = 0; i < g->count; i++) {
        if (internal_node(g, i)) continue;
        size_t k = 0;
        for (; k < layers->length; k++) {
            const char *name = kvk_json_string(kvk_json_at(layers, k));
            if (name && !strcmp(name, g->nodes[i].name)) break;
        }
        if (k == layers->length && extra++ < 5)
            tu_check(0, "%s: kvk's layer '%s' is not in the Keras model", file, g->nodes[i].name);
    }
    tu_check(!missing && !extra,
             "%s: the %zu Keras layer names are kvk's (%d missing, %d not Keras')", file,
             layers->length, missing, extra);
}

/* Keras' model.layers order (what load_weights follows by position): kvk's graph for the
 * options, ordered as tf-keras orders a functional model's layers, must list the Keras
 * layers in exactly the case's order. */
static void check_keras_order(const kvk_model_options *o, const kvk_json *layers, const char *dir) {
    const kvk_application *app = kvk_application_find(o->architecture);
    kvk_model_options plain = *o;
    plain.weights = NULL;
    kvk_app_args args;
    if (!app || kvk_application_check_args(app, &plain, &args) != KVK_OK) return;
    kvk_graph g;
    kvk_graph_init(&g);
    int *order = NULL;
    if (app->build(&g, &args) == KVK_OK && (order = malloc(sizeof(int) * (size_t)g.count))) {
        int count = kvk_keras_layer_order(&g, order), k = 0, first_bad = -1;
        const char *kvk_has = "(end)";
        for (size_t i = 0; i < layers->length && first_bad < 0; i++) {
            const char *name = kvk_json_string(kvk_json_at(layers, i));
            if (!name || kvk_graph_find(&g, name) < 0) continue; /* not kvk's (checked above) */
            while (k < count && internal_node(&g, order[k])) k++;
            if (k >= count || strcmp(g.nodes[order[k]].name, name)) {
                first_bad = (int)i;
                if (k < count) kvk_has = g.nodes[order[k]].name;
            }
            k++;
        }
        tu_check(first_bad < 0,
                 "%s: kvk's Keras layer order is model.layers' (first difference at Keras layer "
                 "%d '%s': kvk has '%s')",
                 dir, first_bad,
                 first_bad >= 0 ? kvk_json_string(kvk_json_at(layers, (size_t)first_bad)) : "",
                 kvk_has);
    }
    free(order);
    kvk_graph_free(&g);
}

/* A case without files: kvk's graph for the case's options (no weights, nothing run) must
 * have the Keras model's layer names and output shape. */
static void run_layers_case(const kvk_model_options *o, const kvk_json *c, const char *dir) {
    const kvk_application *app = kvk_application_find(o->architecture);
    kvk_app_args args;
    if (!tu_check(app && kvk_application_check_args(app, o, &args) == KVK_OK, "%s: %s: %s", dir,
                  o->architecture ? o->architecture : "(no arch)", kvk_last_error()))
        return;
    kvk_graph g;
    kvk_graph_init(&g);
    if (tu_check(app->build(&g, &args) == KVK_OK, "%s: build: %s", dir, kvk_last_error())) {
        const kvk_json *layers = kvk_json_get(c, "layers"),
                       *shape = kvk_json_get(c, "output_shape");
        if (tu_check(layers && layers->type == KVK_JSON_ARRAY, "%s: case.json lists layers", dir)) {
            check_layer_names(&g, layers, dir);
            check_keras_order(o, layers, dir);
        }
        /* per image: (h, w, c) or (c), Keras' shape without the batch axis */
        kvk_shape out = g.nodes[g.output].shape;
        int flat = g.nodes[g.output].rank == 1;
        int want[3] = {flat ? out.c : out.h, out.w, out.c}, dims = flat ? 1 : 3;
        int same = shape && shape->type == KVK_JSON_ARRAY && (int)shape->length == dims + 1;
        for (int d = 0; same && d < dims; d++) {
            const kvk_json *v = kvk_json_at(shape, (size_t)d + 1);
            same = v && v->type == KVK_JSON_NUMBER && (int)v->number == want[d];
        }
        tu_check(same, "%s: output %s (%d, %d, %d) per image is Keras' output_shape", dir,
                 flat ? "(c)" : "(h, w, c)", out.h, out.w, out.c);
        printf("%s: %d layers and the output shape of Keras' model\n", dir,
               layers ? (int)layers->length : 0);
    }
    kvk_graph_free(&g);
}

/* One case folder: every weight file it lists against Keras' output. Returns the largest
 * error (NaN if a run failed). */
static double run_case(kvk_context *ctx, const char *dir) {
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/case.json", dir);
    char *text = read_text(path, &len);
    kvk_json *c = NULL;
    if (!tu_check(text && kvk_json_parse(text, len, path, &c) == KVK_OK, "read %s: %s", path,
                  text ? kvk_last_error() : "cannot open")) {
        free(text);
        return NAN;
    }
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
    /* MobileNet's alpha and depth_multiplier, unless kvk is to tell them from the file */
    const kvk_json *alpha = kvk_json_get(c, "alpha"), *infer = kvk_json_get(c, "infer");
    if (!(infer && infer->type == KVK_JSON_TRUE)) {
        o.alpha = alpha && alpha->type == KVK_JSON_NUMBER ? alpha->number : 0;
        o.depth_multiplier = json_int(c, "depth_multiplier");
    }
    const char *naming = kvk_json_get_string(c, "naming");
    const char *model_file = kvk_json_get_string(c, "model_file");
    const char *expect_error = kvk_json_get_string(c, "expect_error");
    char model_path[4096];
    if (model_file) {
        snprintf(model_path, sizeof model_path, "%s/%s", dir, model_file);
        o.model_file = model_path;
        o.height = o.width = 0; /* the config's */
    }

    const kvk_json *files = kvk_json_get(c, "files");
    if (!model_file && files && files->type == KVK_JSON_ARRAY && files->length == 0) {
        run_layers_case(&o, c, dir);
        kvk_json_free(c);
        free(text);
        return 0;
    }
    kvk_npy x = {0}, want = {0};
    snprintf(path, sizeof path, "%s/input.npy", dir);
    tu_check(kvk_npy_read(path, &x) == KVK_OK, "read input: %s", kvk_last_error());
    const kvk_json *features = kvk_json_get(c, "features");
    if (features && (features->type != KVK_JSON_ARRAY || !features->length)) {
        tu_check(0, "%s: \"features\" is not a non-empty array", path);
        features = NULL;
    }
    if (!features) {
        snprintf(path, sizeof path, "%s/output.npy", dir);
        tu_check(kvk_npy_read(path, &want) == KVK_OK, "read Keras output: %s", kvk_last_error());
    }
    if (!x.data || (!features && !want.data)) {
        kvk_npy_free(&x);
        kvk_npy_free(&want);
        kvk_json_free(c);
        free(text);
        return NAN;
    }
    long out_n = 1;
    for (int i = 0; i < want.ndim; i++) out_n *= (long)want.dims[i];
    float *y = features ? NULL : malloc(sizeof(float) * (size_t)out_n);

    double worst = 0;
    for (size_t i = 0; files && i < files->length; i++) {
        const char *file = kvk_json_string(kvk_json_at(files, i));
        if (!file ||
            (!strstr(file, ".h5") && !strstr(file, "model.json") && !strstr(file, ".keras")))
            continue;
        if (features) {
            double err = run_features(ctx, &o, dir, file, features, &x);
            if (err > worst || isnan(err)) worst = err;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, file);
        /* an application's model.save file runs twice: with kvk's builder, and from the
         * architecture saved in it (options.model_file); not when the saved model nests the
         * application under a head of its own ("nested"), whose output is not the case's */
        int from_config = !model_file && strstr(file, "model") == file &&
                          !kvk_json_is(kvk_json_get(c, "nested"), KVK_JSON_OBJECT);
        for (int pass = 0; pass <= from_config; pass++) {
            kvk_model_options mo = o;
            mo.weights = path;
            if (model_file && strstr(file, "model.json")) { /* TF.js: its own architecture */
                mo.model_file = path;
                mo.weights = NULL;
            }
            const char *how = "";
            if (pass == 1) {
                mo = (kvk_model_options){.model_file = path, .batch = o.batch};
                how = " (saved config)";
            }
            kvk_model *m;
            if (expect_error) {
                kvk_status st = kvk_model_create(ctx, &mo, &m);
                if (st == KVK_OK) kvk_model_destroy(m);
                printf("%s %s: refused: %s\n", dir, file,
                       st == KVK_OK ? "(built!)" : kvk_last_error());
                tu_check(st != KVK_OK && strstr(kvk_last_error(), expect_error),
                         "%s: refused with a message containing \"%s\": %s", file, expect_error,
                         st == KVK_OK ? "it was built" : kvk_last_error());
                continue;
            }
            if (!tu_check(kvk_model_create(ctx, &mo, &m) == KVK_OK, "%s%s: build: %s", file, how,
                          kvk_last_error()))
                continue;
            if (model_file || pass == 1)
                tu_check(!strcmp(kvk_model_source(m), "config"), "%s: built from the config (%s)",
                         file, kvk_model_source(m));
            /* (the legacy ResNet50 gives its unnamed layers Keras 2.2's 1-based names,
             * activation_1, ..., which keras-applications on tf-keras numbers from 0) */
            const kvk_json *layers = kvk_json_get(c, "layers");
            if (layers && layers->type == KVK_JSON_ARRAY && pass == 0 && !model_file &&
                !strcmp(file, "weights.h5") && !(naming && !strcmp(naming, "legacy"))) {
                check_layer_names(&m->graph, layers, file);
                check_keras_order(&o, layers, dir);
            }
            if (naming && o.architecture && !strcmp(o.architecture, "resnet50")) {
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
                printf("%s %s%s on %s: relative error vs Keras %.3g\n", dir, file, how,
                       kvk_context_device_name(ctx), err);
                tu_check(err <= TOLERANCE, "%s%s: relative error %.3g <= %g", file, how, err,
                         TOLERANCE);
            }
            kvk_model_destroy(m);
        }
    }
    printf("%s: largest relative error vs Keras: %.3g\n", dir, worst);
    free(y);
    kvk_npy_free(&x);
    kvk_npy_free(&want);
    kvk_json_free(c);
    free(text);
    return worst;
}

/* Several case folders share one process, so a driver compiles its pipelines once (SwiftShader
 * recompiles them in every process: about 10 s). */
int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CASE_DIR...\n", argv[0]);
        return 2;
    }
    const char *precision = getenv("KVK_PRECISION");
    if (precision && !strcmp(precision, "fp16")) TOLERANCE = FP16_TOLERANCE;
    kvk_context *ctx = tu_context(0);
    /* KVK_CHOOSE_AS=discrete: a GPU's choices on a CPU driver, which the name must show */
    const char *as = getenv("KVK_CHOOSE_AS");
    char want[64];
    snprintf(want, sizeof want, "choosing as %s", as ? as : "");
    tu_check(!as || !*as || strstr(kvk_context_device_name(ctx), want),
             "KVK_CHOOSE_AS=%s in effect: %s", as, kvk_context_device_name(ctx));
    double worst = 0;
    for (int i = 1; i < argc; i++) {
        double err = run_case(ctx, argv[i]);
        if (err > worst || isnan(err)) worst = err;
    }
    printf("largest relative error vs Keras: %.3g\n", worst);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
    return tu_finish();
}
