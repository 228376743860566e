/* Every op on the Vulkan device against the CPU reference kernels, called directly on the same
 * host data. Each case builds a tiny graph (input -> op [-> op]), sets random weights on its
 * nodes, builds a model with the fusion passes on, and runs it with outputs poisoned (NaN).
 * The reference evaluates a copy of the graph taken before the passes, node by node, with the
 * kvk_ref_* kernels: unfused, exactly as Keras defines each layer.
 *
 * Tolerance: ||vk - ref|| / ||ref|| <= 1e-5 (fp32 accumulation on the device against double in
 * the reference); ops that only move or select values (MaxPooling2D, ZeroPadding2D,
 * GlobalMaxPooling2D, Flatten, Dropout) must match exactly. Random small networks (chains of
 * these layers with residual Adds, for the passes and the memory plan) allow 1e-4.
 *
 * Also: weights split over several bindings and batches run in chunks (contexts with a small
 * max_binding_bytes), a cap too small for any split (a clear error naming the layer), and a
 * dispatch of more than 65535 workgroups. KVK_TEST_SEED replays a run.
 *
 * Every model runs twice with fresh inputs (nothing may leak between runs), once more with the
 * first input (bit-identical to the first run), and, when built for several images, with one
 * image (the rows past it must stay untouched). */
#include "testutil.h"

#include "core/internal.h"
#include "cpu/reference.h"

#define TOL 1e-5
#define EXACT 0.0

static kvk_context *g_ctx; /* the device with its own binding limit */

/* Worst error seen per op group, for the summary lines. */
typedef struct group_stats {
    const char *name;
    int cases;
    double max_err;
} group_stats;
static group_stats *g_group;

static void group_begin(group_stats *s, const char *name) {
    s->name = name;
    s->cases = 0;
    s->max_err = 0;
    g_group = s;
}

static void group_end(const group_stats *s) {
    printf("%-28s %3d cases, max relative error %.3g\n", s->name, s->cases, s->max_err);
    fflush(stdout);
}

/* ---- weights ---------------------------------------------------------------------------- */

static long input_size_of(const kvk_graph *g, const kvk_node *n) {
    return kvk_shape_size(g->nodes[n->inputs[0]].shape);
}

static long kernel_floats(const kvk_graph *g, const kvk_node *n) {
    if (n->op == KVK_OP_CONV2D)
        return (long)n->kh * n->kw * g->nodes[n->inputs[0]].shape.c * n->shape.c;
    if (n->op == KVK_OP_DENSE) return input_size_of(g, n) * n->shape.c;
    return 0;
}

/* Conv2D or Dense: kernel uniform in +-1/sqrt(fan_in), bias in +-0.3 when use_bias. With
 * inputs in +-1 the outputs before the bias have a standard deviation of about 0.33: a bias of
 * the same size keeps a relu from clipping nearly every output, which would leave a tiny
 * ||ref|| and make the relative error measure only fp32 cancellation. */
static void set_kernel(kvk_graph *g, int id) {
    if (id < 0) return;
    kvk_node *n = &g->nodes[id];
    long k = kernel_floats(g, n);
    double fan_in = (double)k / n->shape.c;
    float s = (float)(1.0 / sqrt(fan_in));
    n->kernel = tu_random_array(k, -s, s);
    n->bias = n->use_bias ? tu_random_array(n->shape.c, -0.3f, 0.3f) : NULL;
}

static void set_batchnorm(kvk_graph *g, int id) {
    if (id < 0) return;
    kvk_node *n = &g->nodes[id];
    int c = n->shape.c;
    n->gamma = n->bn_scale ? tu_random_array(c, 0.5f, 1.5f) : NULL;
    n->beta = n->bn_center ? tu_random_array(c, -1.f, 1.f) : NULL;
    n->mean = tu_random_array(c, -0.5f, 0.5f);
    n->variance = tu_random_array(c, 0.1f, 2.f);
}

static float *dup_floats(const float *a, long n) {
    if (!a) return NULL;
    float *d = malloc(sizeof(float) * (size_t)n);
    if (!d) abort();
    memcpy(d, a, sizeof(float) * (size_t)n);
    return d;
}

/* A deep copy of the graph as built, before the passes change it. */
static void copy_graph(const kvk_graph *g, kvk_graph *out) {
    *out = *g;
    out->nodes = malloc(sizeof(kvk_node) * (size_t)(g->capacity ? g->capacity : 1));
    if (!out->nodes) abort();
    memcpy(out->nodes, g->nodes, sizeof(kvk_node) * (size_t)g->count);
    for (int i = 0; i < g->count; i++) {
        const kvk_node *s = &g->nodes[i];
        kvk_node *d = &out->nodes[i];
        int c = s->shape.c;
        d->kernel = dup_floats(s->kernel, kernel_floats(g, s));
        d->bias = dup_floats(s->bias, c);
        d->gamma = dup_floats(s->gamma, c);
        d->beta = dup_floats(s->beta, c);
        d->mean = dup_floats(s->mean, c);
        d->variance = dup_floats(s->variance, c);
    }
}

/* ---- the reference: every node in order, with the kvk_ref_* kernels -------------------- */

static float *reference(const kvk_graph *g, const float *input, int batch) {
    float **t = calloc((size_t)g->count, sizeof *t);
    if (!t) abort();
    for (int i = 0; i < g->count; i++) {
        const kvk_node *n = &g->nodes[i];
        kvk_shape os = n->shape;
        long count = (long)batch * kvk_shape_size(os), pixels = (long)batch * os.h * os.w;
        t[i] = malloc(sizeof(float) * (size_t)count);
        if (!t[i]) abort();
        if (n->op == KVK_OP_INPUT) {
            memcpy(t[i], input, sizeof(float) * (size_t)count);
            continue;
        }
        const float *in = t[n->inputs[0]];
        kvk_shape is = g->nodes[n->inputs[0]].shape;
        kvk_window win = {n->kh, n->kw, n->sh, n->sw, n->pad_top, n->pad_left};
        switch (n->op) {
        case KVK_OP_CONV2D:
            kvk_ref_conv2d(in, batch, is, n->kernel, n->use_bias ? n->bias : NULL, win, os, n->act,
                           t[i]);
            break;
        case KVK_OP_DENSE:
            kvk_ref_dense(in, batch, (int)kvk_shape_size(is), n->kernel,
                          n->use_bias ? n->bias : NULL, os.c, n->act, t[i]);
            break;
        case KVK_OP_BATCHNORM:
            kvk_ref_batchnorm(in, pixels, os.c, n->gamma, n->beta, n->mean, n->variance, n->epsilon,
                              n->act, t[i]);
            break;
        case KVK_OP_ACTIVATION:
            kvk_ref_activation(in, pixels, os.c, n->act, t[i]);
            break;
        case KVK_OP_ADD:
            kvk_ref_add(in, t[n->inputs[1]], count, n->act, t[i]);
            break;
        case KVK_OP_ZEROPAD:
            kvk_ref_zeropad(in, batch, is, n->pad_top, n->pad_left, os, t[i]);
            break;
        case KVK_OP_MAXPOOL:
        case KVK_OP_AVGPOOL:
            kvk_ref_pool(in, batch, is, n->op == KVK_OP_MAXPOOL, win, os, t[i]);
            break;
        case KVK_OP_GLOBAL_AVGPOOL:
        case KVK_OP_GLOBAL_MAXPOOL:
            kvk_ref_global_pool(in, batch, is, n->op == KVK_OP_GLOBAL_MAXPOOL, t[i]);
            break;
        case KVK_OP_FLATTEN:
        case KVK_OP_DROPOUT:
            memcpy(t[i], in, sizeof(float) * (size_t)count);
            break;
        default:
            abort();
        }
    }
    float *out = t[g->output];
    for (int i = 0; i < g->count; i++)
        if (i != g->output) free(t[i]);
    free(t);
    return out;
}

/* ---- comparing ---------------------------------------------------------------------------- */

/* The relative error, or for tol == EXACT the number of values that differ (inf if any). */
static double compare(const float *y, const float *ref, long n, double tol) {
    if (tol > 0) return tu_rel_error(y, ref, n);
    for (long i = 0; i < n; i++)
        if (!(y[i] == ref[i])) return INFINITY;
    return 0;
}

static int check_close(const float *y, const float *ref, long n, double tol, const char *label,
                       const char *what) {
    double err = compare(y, ref, n, tol);
    if (g_group && isfinite(err) && err > g_group->max_err) g_group->max_err = err;
    if (tol > 0) {
        if (err <= tol) return tu_check(1, "%s: %s: relative error %.3g", label, what, err);
        long worst = 0;
        double norm = 0;
        for (long i = 0; i < n; i++) {
            norm += (double)ref[i] * ref[i];
            if (!(fabs((double)y[i] - ref[i]) <= fabs((double)y[worst] - ref[worst]))) worst = i;
        }
        return tu_check(
            0,
            "%s: %s: relative error %.3g <= %.0e (||ref|| %.3g, worst at %ld of %ld: %.9g vs %.9g)",
            label, what, err, tol, sqrt(norm), worst, n, y[worst], ref[worst]);
    }
    long first = -1;
    for (long i = 0; i < n && first < 0; i++)
        if (!(y[i] == ref[i])) first = i;
    if (first < 0) return tu_check(1, "%s: %s: exactly equal", label, what);
    return tu_check(0, "%s: %s: not exactly equal, first at %ld: %.9g vs %.9g", label, what, first,
                    y[first], ref[first]);
}

/* Builds the model (taking the graph), runs it as the header describes, compares. Returns the
 * number of failed checks. */
static int check_graph(kvk_context *ctx, kvk_graph *g, int batch, double tol, const char *label) {
    int failed_before = tu_failed;
    if (g_group) g_group->cases++;
    if (!tu_check(g->status == KVK_OK, "%s: building the graph: %s", label, kvk_last_error())) {
        kvk_graph_free(g);
        return 1;
    }
    kvk_graph ref_graph;
    copy_graph(g, &ref_graph);
    kvk_shape is = ref_graph.nodes[0].shape, os = ref_graph.nodes[ref_graph.output].shape;
    kvk_model *m = NULL;
    kvk_status st = kvk_model_from_graph(ctx, g, batch, 1, &m);
    if (!tu_check(st == KVK_OK, "%s: kvk_model_from_graph: %s", label, kvk_last_error())) {
        kvk_graph_free(&ref_graph);
        return tu_failed - failed_before;
    }
    long in_per = kvk_shape_size(is), out_per = kvk_shape_size(os);
    long in_n = batch * in_per, out_n = batch * out_per;
    tu_check(kvk_model_output_size(m) == out_per, "%s: output size %ld == %ld", label,
             kvk_model_output_size(m), out_per);
    int dims[3] = {0, 0, 0}, rank = kvk_model_output_shape(m, dims);
    long dims_product = 1;
    for (int k = 0; k < rank; k++) dims_product *= dims[k];
    tu_check(rank >= 1 && rank <= 3 && dims_product == out_per,
             "%s: kvk_model_output_shape gives %d dims (%d, %d, %d) for %ld values per image",
             label, rank, dims[0], rank > 1 ? dims[1] : 0, rank > 2 ? dims[2] : 0, out_per);
    float *x[2], *ref[2];
    for (int r = 0; r < 2; r++) {
        x[r] = tu_random_array(in_n, -1.f, 1.f);
        ref[r] = reference(&ref_graph, x[r], batch);
    }
    float *y = malloc(sizeof(float) * (size_t)out_n), *y0 = malloc(sizeof(float) * (size_t)out_n);
    if (!y || !y0) abort();
    char what[64];
    for (int r = 0; r < 2; r++) { /* fresh inputs each run: nothing may leak between runs */
        tu_poison(y, out_n);
        st = kvk_model_run(m, x[r], batch, y);
        if (!tu_check(st == KVK_OK, "%s: run %d: %s", label, r, kvk_last_error())) goto done;
        snprintf(what, sizeof what, "run %d (batch %d)", r, batch);
        check_close(y, ref[r], out_n, tol, label, what);
        if (r == 0) memcpy(y0, y, sizeof(float) * (size_t)out_n);
    }
    /* the first input again: bit-identical */
    tu_poison(y, out_n);
    st = kvk_model_run(m, x[0], batch, y);
    tu_check(st == KVK_OK && !memcmp(y, y0, sizeof(float) * (size_t)out_n),
             "%s: the same input twice gives bit-identical outputs", label);
    if (batch > 1) { /* fewer images than built for: only their rows are written */
        tu_poison(y, out_n);
        st = kvk_model_run(m, x[1], 1, y);
        if (tu_check(st == KVK_OK, "%s: run with batch 1: %s", label, kvk_last_error())) {
            check_close(y, ref[1], out_per, tol, label, "batch 1 of a larger model");
            int untouched = 1;
            for (long i = out_per; i < out_n; i++)
                if (!isnan(y[i])) untouched = 0;
            tu_check(untouched, "%s: batch 1 leaves the rows past it alone", label);
        }
    }
done:
    for (int r = 0; r < 2; r++) free(x[r]), free(ref[r]);
    free(y);
    free(y0);
    kvk_model_destroy(m);
    kvk_graph_free(&ref_graph);
    return tu_failed - failed_before;
}

static const char *pad_name(kvk_padding p) {
    return p == KVK_PAD_SAME ? "same" : "valid";
}

static const char *act_name(kvk_activation a) {
    return a == KVK_ACT_RELU ? "relu" : a == KVK_ACT_SOFTMAX ? "softmax" : "linear";
}

static kvk_padding random_padding(void) {
    return rand() % 2 ? KVK_PAD_SAME : KVK_PAD_VALID;
}

/* ---- Conv2D ------------------------------------------------------------------------------ */

typedef struct conv_case {
    int batch, h, w, cin, cout, kh, kw, sh, sw;
    kvk_padding padding;
    int use_bias;
    kvk_activation act;
} conv_case;

static void conv_one(conv_case c) {
    char label[200];
    snprintf(label, sizeof label,
             "Conv2D %dx%dx%d -> %d, kernel %dx%d, strides %dx%d, '%s', bias %d, %s, batch %d", c.h,
             c.w, c.cin, c.cout, c.kh, c.kw, c.sh, c.sw, pad_name(c.padding), c.use_bias,
             act_name(c.act), c.batch);
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", c.h, c.w, c.cin);
    int y = kvk_graph_conv2d(&g, x, "conv", c.cout, c.kh, c.kw, c.sh, c.sw, c.padding, c.use_bias,
                             c.act);
    set_kernel(&g, y);
    check_graph(g_ctx, &g, c.batch, TOL, label);
}

static void test_conv2d(void) {
    group_stats s;
    group_begin(&s, "Conv2D");
    static const conv_case fixed[] = {
        /* batch h w cin cout kh kw sh sw padding bias act */
        {1, 7, 9, 1, 5, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR},
        {2, 11, 10, 3, 7, 7, 7, 2, 2, KVK_PAD_SAME, 1, KVK_ACT_RELU},    /* ResNet's stem */
        {3, 12, 13, 6, 8, 1, 1, 2, 2, KVK_PAD_VALID, 0, KVK_ACT_LINEAR}, /* a projection */
        {1, 9, 8, 5, 4, 2, 2, 2, 2, KVK_PAD_SAME, 1, KVK_ACT_RELU},      /* even kernel, 'same' */
        {2, 10, 11, 13, 9, 5, 3, 3, 2, KVK_PAD_SAME, 0, KVK_ACT_RELU},   /* non-square */
        {1, 8, 14, 4, 12, 1, 7, 1, 3, KVK_PAD_VALID, 1, KVK_ACT_LINEAR},
        {2, 5, 5, 17, 3, 5, 5, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR}, /* one output pixel */
        {1, 1, 1, 64, 33, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_RELU},  /* 1x1 image */
        {1, 3, 4, 2, 1, 3, 3, 3, 3, KVK_PAD_SAME, 1, KVK_ACT_LINEAR},   /* one output channel */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) conv_one(fixed[i]);
    static const int cins[] = {1, 2, 3, 4, 5, 7, 8, 12, 16, 19, 32};
    static const int couts[] = {1, 3, 4, 5, 7, 8, 13, 16, 24, 33};
    for (int i = 0; i < 16; i++) {
        conv_case c;
        c.batch = tu_randint(1, 3);
        c.kh = tu_randint(1, 7);
        c.kw = rand() % 3 ? c.kh : tu_randint(1, 7);
        c.sh = tu_randint(1, 3);
        c.sw = rand() % 3 ? c.sh : tu_randint(1, 3);
        c.padding = random_padding();
        c.h = tu_randint(c.padding == KVK_PAD_VALID ? c.kh : 1, 17);
        c.w = tu_randint(c.padding == KVK_PAD_VALID ? c.kw : 1, 17);
        c.cin = cins[rand() % (int)(sizeof cins / sizeof cins[0])];
        c.cout = couts[rand() % (int)(sizeof couts / sizeof couts[0])];
        c.use_bias = rand() % 2;
        /* relu on one or two channels may clip all but a few tiny outputs: see set_kernel */
        c.act = rand() % 2 && c.cout >= 3 ? KVK_ACT_RELU : KVK_ACT_LINEAR;
        conv_one(c);
    }
    group_end(&s);
}

/* ---- ZeroPadding2D ------------------------------------------------------------------------ */

static void test_zeropad(void) {
    group_stats s;
    group_begin(&s, "ZeroPadding2D");
    for (int i = 0; i < 14; i++) {
        int kind = i % 3; /* 0: -> 'valid' conv (folded), 1: -> MaxPooling2D, 2: alone */
        int batch = tu_randint(1, 3), h = tu_randint(1, 12), w = tu_randint(1, 12);
        int c = tu_randint(1, 9);
        int t = tu_randint(0, 3), b = tu_randint(0, 3), l = tu_randint(0, 3), r = tu_randint(0, 3);
        if (i == 0) t = b = l = r = 3; /* ResNet's conv1_pad */
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int p = kvk_graph_zeropad(&g, x, "pad", t, b, l, r);
        int ph = h + t + b, pw = w + l + r;
        if (kind == 0) {
            int lim = ph < pw ? ph : pw;
            int k = tu_randint(1, lim < 7 ? lim : 7);
            int st = tu_randint(1, 3), cout = tu_randint(1, 9);
            kvk_padding pad = i % 2 ? KVK_PAD_VALID : random_padding();
            snprintf(
                label, sizeof label,
                "ZeroPadding2D (%d,%d,%d,%d) of %dx%dx%d -> Conv2D %dx%d/%d '%s' -> %d, batch %d",
                t, b, l, r, h, w, c, k, k, st, pad_name(pad), cout, batch);
            int y = kvk_graph_conv2d(&g, p, "conv", cout, k, k, st, st, pad, 1, KVK_ACT_LINEAR);
            set_kernel(&g, y);
            check_graph(g_ctx, &g, batch, TOL, label);
        } else if (kind == 1) {
            int k = tu_randint(1, 3), st = tu_randint(1, 3);
            if (k > ph || k > pw) k = 1;
            kvk_padding pad = random_padding();
            snprintf(label, sizeof label,
                     "ZeroPadding2D (%d,%d,%d,%d) of %dx%dx%d -> MaxPooling2D %d/%d '%s', batch %d",
                     t, b, l, r, h, w, c, k, st, pad_name(pad), batch);
            kvk_graph_maxpool(&g, p, "pool", k, k, st, st, pad);
            check_graph(g_ctx, &g, batch, EXACT, label);
        } else {
            snprintf(label, sizeof label, "ZeroPadding2D (%d,%d,%d,%d) of %dx%dx%d, batch %d", t, b,
                     l, r, h, w, c, batch);
            check_graph(g_ctx, &g, batch, EXACT, label);
        }
    }
    group_end(&s);
}

/* ---- BatchNormalization -------------------------------------------------------------------- */

static void test_batchnorm(void) {
    group_stats s;
    group_begin(&s, "BatchNormalization");
    for (int i = 0; i < 16; i++) {
        /* 0: conv -> BN (folded); 1: conv -> BN -> relu (folded, fused); 2: BN alone;
         * 3: BN -> relu (fused into the standalone BN) */
        int kind = i % 4;
        int scale = (i / 4) % 2, center = (i / 8) % 2;
        int batch = tu_randint(1, 3), h = tu_randint(1, 10), w = tu_randint(1, 10);
        int c = tu_randint(1, 13), cout = tu_randint(1, 13), k = tu_randint(1, 3);
        int use_bias = rand() % 2;
        float eps = rand() % 2 ? 1.001e-5f : 1e-3f;
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int from = x;
        if (kind <= 1) {
            from = kvk_graph_conv2d(&g, x, "conv", cout, k, k, 1, 1, KVK_PAD_SAME, use_bias,
                                    KVK_ACT_LINEAR);
            set_kernel(&g, from);
        }
        int bn = kvk_graph_batchnorm(&g, from, "bn", eps, center, scale);
        set_batchnorm(&g, bn);
        if (kind % 2) kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label,
                 "%s%dx%dx%d -> BatchNormalization(scale=%d, center=%d, eps=%g)%s, batch %d",
                 kind <= 1 ? "Conv2D -> " : "", h, w, kind <= 1 ? cout : c, scale, center,
                 (double)eps, kind % 2 ? " -> relu" : "", batch);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* a conv with its own relu: BN cannot fold and runs as its own op after it */
    for (int i = 0; i < 2; i++) {
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 6, 7, 5);
        int cv = kvk_graph_conv2d(&g, x, "conv", 6, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
        set_kernel(&g, cv);
        int bn = kvk_graph_batchnorm(&g, cv, "bn", 1e-3f, 1, 1);
        set_batchnorm(&g, bn);
        check_graph(g_ctx, &g, 2, TOL, "Conv2D(relu) 6x7x5 -> BatchNormalization (not folded)");
    }
    group_end(&s);
}

/* ---- Dense --------------------------------------------------------------------------------- */

static void dense_one(int batch, int from, int h, int w, int c, int units, kvk_activation act,
                      int use_bias) {
    static const char *const froms[] = {"Flatten", "GlobalAveragePooling2D", "vector"};
    char label[200];
    snprintf(label, sizeof label, "%s of %dx%dx%d -> Dense(%d, %s, bias %d), batch %d", froms[from],
             h, w, c, units, act_name(act), use_bias, batch);
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", h, w, c);
    int v = from == 0   ? kvk_graph_flatten(&g, x, "flatten")
            : from == 1 ? kvk_graph_global_avgpool(&g, x, "avg_pool")
                        : x;
    int d = kvk_graph_dense(&g, v, "fc", units, act);
    if (d >= 0) g.nodes[d].use_bias = use_bias;
    set_kernel(&g, d);
    check_graph(g_ctx, &g, batch, TOL, label);
}

static void test_dense(void) {
    group_stats s;
    group_begin(&s, "Dense");
    /* batch, from (0 flatten, 1 GAP, 2 a 1x1xC input), h, w, c, units, act, bias */
    dense_one(2, 0, 3, 5, 7, 10, KVK_ACT_RELU, 1);
    dense_one(1, 0, 4, 4, 16, 1000, KVK_ACT_SOFTMAX, 1);
    dense_one(3, 0, 2, 3, 5, 7, KVK_ACT_SOFTMAX, 1);
    dense_one(2, 1, 5, 6, 32, 1000, KVK_ACT_SOFTMAX, 1);
    dense_one(3, 1, 3, 3, 13, 7, KVK_ACT_SOFTMAX, 1);
    dense_one(1, 1, 7, 7, 64, 33, KVK_ACT_LINEAR, 1);
    dense_one(2, 2, 1, 1, 300, 200, KVK_ACT_RELU, 1);
    dense_one(1, 2, 1, 1, 1, 5, KVK_ACT_LINEAR, 0);
    dense_one(2, 2, 1, 1, 9, 1, KVK_ACT_SOFTMAX, 1); /* one class: all ones */
    for (int i = 0; i < 6; i++) {
        int from = i % 3;
        int h = from == 2 ? 1 : tu_randint(1, 6), w = from == 2 ? 1 : tu_randint(1, 6);
        int act = rand() % 3;
        dense_one(tu_randint(1, 3), from, h, w, tu_randint(1, 40), tu_randint(1, 70),
                  (kvk_activation)act, rand() % 4 != 0);
    }
    /* two Dense in a row, as the VGG classifier */
    {
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 3, 3, 8);
        int f = kvk_graph_flatten(&g, x, "flatten");
        int d1 = kvk_graph_dense(&g, f, "fc1", 40, KVK_ACT_RELU);
        set_kernel(&g, d1);
        int d2 = kvk_graph_dense(&g, d1, "fc2", 21, KVK_ACT_RELU);
        set_kernel(&g, d2);
        int d3 = kvk_graph_dense(&g, d2, "predictions", 10, KVK_ACT_SOFTMAX);
        set_kernel(&g, d3);
        check_graph(g_ctx, &g, 2, TOL, "Flatten 3x3x8 -> Dense 40 relu -> 21 relu -> 10 softmax");
    }
    group_end(&s);
}

/* ---- Add and Activation -------------------------------------------------------------------- */

static void test_add_activation(void) {
    group_stats s;
    group_begin(&s, "Add / Activation");
    for (int i = 0; i < 8; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
        int c = tu_randint(1, 11);
        int relu = i % 2, kind = (i / 2) % 2; /* 0: conv + input (residual), 1: two convs */
        char label[200];
        snprintf(label, sizeof label, "Add(%s) %dx%dx%d%s, batch %d",
                 kind ? "conv_a, conv_b" : "conv, input", h, w, c,
                 relu ? " -> Activation relu" : "", batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int a = kvk_graph_conv2d(&g, x, "conv_a", c, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
        set_kernel(&g, a);
        int b = x;
        if (kind) {
            b = kvk_graph_conv2d(&g, x, "conv_b", c, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
            set_kernel(&g, b);
        }
        int sum = kvk_graph_add(&g, a, b, "add");
        if (relu) kvk_graph_activation(&g, sum, "add_relu", KVK_ACT_RELU);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    { /* both operands the input itself */
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 5, 3, 7);
        kvk_graph_add(&g, x, x, "add");
        check_graph(g_ctx, &g, 2, TOL, "Add(input, input) 5x3x7");
    }
    for (int i = 0; i < 6; i++) {
        int batch = tu_randint(1, 3);
        int softmax = i % 2;
        int h = softmax && i < 4 ? 1 : tu_randint(1, 8),
            w = softmax && i < 4 ? 1 : tu_randint(1, 8);
        int c = i == 1 ? 1000 : i == 3 ? 7 : tu_randint(1, 70);
        char label[200];
        snprintf(label, sizeof label, "Activation %s on %dx%dx%d, batch %d",
                 softmax ? "softmax" : "relu", h, w, c, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        kvk_graph_activation(&g, x, "act", softmax ? KVK_ACT_SOFTMAX : KVK_ACT_RELU);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    { /* Dense (linear) -> Activation softmax: not fused, runs out of place */
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 1, 1, 20);
        int d = kvk_graph_dense(&g, x, "fc", 17, KVK_ACT_LINEAR);
        set_kernel(&g, d);
        kvk_graph_activation(&g, d, "softmax", KVK_ACT_SOFTMAX);
        check_graph(g_ctx, &g, 3, TOL, "Dense 20 -> 17 -> Activation softmax");
    }
    group_end(&s);
}

/* ---- pooling, Flatten, Dropout ------------------------------------------------------------- */

static void test_pooling(void) {
    group_stats s;
    group_begin(&s, "MaxPooling2D / AveragePooling2D");
    for (int i = 0; i < 16; i++) {
        int is_max = i % 2;
        int batch = tu_randint(1, 3);
        int kh = tu_randint(1, 3), kw = rand() % 3 ? kh : tu_randint(1, 3);
        int sh = tu_randint(1, 3), sw = rand() % 3 ? sh : tu_randint(1, 3);
        kvk_padding pad = i < 4 ? (i < 2 ? KVK_PAD_SAME : KVK_PAD_VALID) : random_padding();
        if (i < 2) kh = kw = 3, sh = sw = 2; /* ResNet's pool1 geometry */
        int h = tu_randint(pad == KVK_PAD_VALID ? kh : 1, 15);
        int w = tu_randint(pad == KVK_PAD_VALID ? kw : 1, 15);
        int c = tu_randint(1, 20);
        char label[200];
        snprintf(label, sizeof label, "%s %dx%d strides %dx%d '%s' on %dx%dx%d, batch %d",
                 is_max ? "MaxPooling2D" : "AveragePooling2D", kh, kw, sh, sw, pad_name(pad), h, w,
                 c, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        if (is_max)
            kvk_graph_maxpool(&g, x, "pool", kh, kw, sh, sw, pad);
        else
            kvk_graph_avgpool(&g, x, "pool", kh, kw, sh, sw, pad);
        check_graph(g_ctx, &g, batch, is_max ? EXACT : TOL, label);
    }
    group_end(&s);

    group_begin(&s, "Global pools / Flatten / Dropout");
    for (int i = 0; i < 8; i++) {
        int is_max = i % 2;
        int batch = tu_randint(1, 3), h = tu_randint(1, 12), w = tu_randint(1, 12);
        int c = tu_randint(1, 70);
        char label[200];
        snprintf(label, sizeof label, "%s on %dx%dx%d, batch %d",
                 is_max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", h, w, c, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        if (is_max)
            kvk_graph_global_maxpool(&g, x, "pool");
        else
            kvk_graph_global_avgpool(&g, x, "pool");
        check_graph(g_ctx, &g, batch, is_max ? EXACT : TOL, label);
    }
    for (int i = 0; i < 6; i++) {
        /* 0/1: Flatten/Dropout of a conv's output; 2/3: of the input itself;
         * 4/5: Dropout between two ops */
        int batch = tu_randint(1, 3), h = tu_randint(1, 8), w = tu_randint(1, 8);
        int c = tu_randint(1, 9);
        int dropout = i % 2 || i >= 4; /* Keras pools no Flatten output */
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int from = x;
        double tol = EXACT;
        if (i < 2 || i >= 4) {
            from =
                kvk_graph_conv2d(&g, x, "conv", c + 1, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
            set_kernel(&g, from);
            tol = TOL;
        }
        int y = dropout ? kvk_graph_dropout(&g, from, "drop") : kvk_graph_flatten(&g, from, "flat");
        if (i >= 4) kvk_graph_maxpool(&g, y, "pool", 2, 2, 2, 2, KVK_PAD_SAME);
        snprintf(label, sizeof label, "%s%s of %dx%dx%d%s, batch %d",
                 i < 2 || i >= 4 ? "conv -> " : "", dropout ? "Dropout" : "Flatten", h, w, c,
                 i >= 4 ? " -> MaxPooling2D" : "", batch);
        check_graph(g_ctx, &g, batch, tol, label);
    }
    group_end(&s);
}

/* ---- where the passes must not fold: a producer read twice --------------------------------- */

static void test_no_fold(void) {
    group_stats s;
    group_begin(&s, "passes: shared producers");
    for (int i = 0; i < 2; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(2, 9), w = tu_randint(2, 9);
        int c = tu_randint(1, 9);
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        /* ZeroPadding2D read by a conv and by an Add: it cannot fold into the conv */
        int p = kvk_graph_zeropad(&g, x, "pad", 1, 2, 2, 1);
        int cv = kvk_graph_conv2d(&g, p, "conv", c, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
        set_kernel(&g, cv);
        kvk_graph_add(&g, cv, p, "add");
        snprintf(label, sizeof label, "ZeroPadding2D read by Conv2D and Add, %dx%dx%d, batch %d", h,
                 w, c, batch);
        check_graph(g_ctx, &g, batch, TOL, label);

        /* a conv read by BatchNormalization and by an Add: the BN cannot fold into it */
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        cv = kvk_graph_conv2d(&g, x, "conv", c + 2, 3, 3, 1, 1, KVK_PAD_SAME, i, KVK_ACT_LINEAR);
        set_kernel(&g, cv);
        int bn = kvk_graph_batchnorm(&g, cv, "bn", 1e-3f, 1, 1);
        set_batchnorm(&g, bn);
        kvk_graph_add(&g, bn, cv, "add");
        snprintf(label, sizeof label,
                 "Conv2D read by BatchNormalization and Add, %dx%dx%d, batch %d", h, w, c, batch);
        check_graph(g_ctx, &g, batch, TOL, label);

        /* a conv read by Activation relu and by an Add: the relu cannot fuse into it */
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        cv = kvk_graph_conv2d(&g, x, "conv", c, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
        set_kernel(&g, cv);
        int r = kvk_graph_activation(&g, cv, "relu", KVK_ACT_RELU);
        kvk_graph_add(&g, r, cv, "add");
        snprintf(label, sizeof label, "Conv2D read by Activation relu and Add, %dx%dx%d, batch %d",
                 h, w, c, batch);
        check_graph(g_ctx, &g, batch, TOL, label);

        /* folds through a Dropout (an alias): pad -> dropout -> conv -> dropout -> BN -> relu */
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        p = kvk_graph_zeropad(&g, x, "pad", 1, 1, 0, 2);
        int d = kvk_graph_dropout(&g, p, "drop1");
        cv = kvk_graph_conv2d(&g, d, "conv", 5, 3, 2, 2, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
        set_kernel(&g, cv);
        d = kvk_graph_dropout(&g, cv, "drop2");
        bn = kvk_graph_batchnorm(&g, d, "bn", 1e-3f, i, 1 - i);
        set_batchnorm(&g, bn);
        kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label, "pad -> Dropout -> Conv2D -> Dropout -> BN -> relu, %dx%dx%d",
                 h, w, c);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    group_end(&s);
}

/* ---- random small networks: the passes and the memory plan together ---------------------- */

/* A chain of random layers with residual Adds, on small tensors. The tolerance is 1e-4 here:
 * rounding compounds over the layers (and may flip a relu or a max at a near-tie). */
static void random_network(int index) {
    kvk_graph g;
    kvk_graph_init(&g);
    int h = tu_randint(3, 14), w = tu_randint(3, 14), c = tu_randint(1, 8);
    int batch = tu_randint(1, 3);
    int cur = kvk_graph_input(&g, "input", h, w, c);
    char name[32], desc[600] = "";
    size_t len = 0;
    int layers = tu_randint(5, 12);
    for (int l = 0; l < layers && g.status == KVK_OK; l++) {
        kvk_shape s = g.nodes[cur].shape;
        int kind = rand() % 9;
        snprintf(name, sizeof name, "l%d", l);
        const char *what = "";
        if (kind <= 1) {
            int k = tu_randint(1, 3), st = tu_randint(1, 2);
            kvk_padding pad = random_padding();
            if (pad == KVK_PAD_VALID && (s.h < k || s.w < k)) pad = KVK_PAD_SAME;
            cur = kvk_graph_conv2d(&g, cur, name, tu_randint(1, 16), k, k, st, st, pad, rand() % 2,
                                   rand() % 2 ? KVK_ACT_RELU : KVK_ACT_LINEAR);
            set_kernel(&g, cur);
            what = "conv";
        } else if (kind == 2) {
            cur = kvk_graph_batchnorm(&g, cur, name, 1e-3f, rand() % 2, rand() % 2);
            set_batchnorm(&g, cur);
            what = "bn";
        } else if (kind == 3) {
            cur = kvk_graph_activation(&g, cur, name, KVK_ACT_RELU);
            what = "relu";
        } else if (kind == 4) {
            cur = kvk_graph_zeropad(&g, cur, name, rand() % 2, rand() % 2, rand() % 2, rand() % 2);
            what = "pad";
        } else if (kind == 5 && s.h >= 2 && s.w >= 2) {
            if (rand() % 2)
                cur = kvk_graph_maxpool(&g, cur, name, 2, 2, 2, 2, random_padding());
            else
                cur = kvk_graph_avgpool(&g, cur, name, 3, 3, 1, 1, KVK_PAD_SAME);
            what = "pool";
        } else if (kind == 6) {
            cur = kvk_graph_dropout(&g, cur, name);
            what = "dropout";
        } else { /* a residual block: conv -> BN, added to its input, then relu */
            int a =
                kvk_graph_conv2d(&g, cur, name, s.c, 3, 3, 1, 1, KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
            set_kernel(&g, a);
            snprintf(name, sizeof name, "l%d_bn", l);
            int bn = kvk_graph_batchnorm(&g, a, name, 1.001e-5f, 1, 1);
            set_batchnorm(&g, bn);
            snprintf(name, sizeof name, "l%d_add", l);
            int sum = kvk_graph_add(&g, bn, cur, name);
            snprintf(name, sizeof name, "l%d_relu", l);
            cur = kvk_graph_activation(&g, sum, name, KVK_ACT_RELU);
            what = "residual";
        }
        len += (size_t)snprintf(desc + len, sizeof desc - len, "%s%s", l ? " -> " : "", what);
        if (len >= sizeof desc) len = sizeof desc - 1;
    }
    int top = rand() % 3; /* 0: none, 1: GAP -> Dense softmax, 2: Flatten -> Dense relu */
    if (top == 1 && g.status == KVK_OK) {
        int p = kvk_graph_global_avgpool(&g, cur, "gap");
        int d = kvk_graph_dense(&g, p, "predictions", tu_randint(1, 20), KVK_ACT_SOFTMAX);
        set_kernel(&g, d);
    } else if (top == 2 && g.status == KVK_OK) {
        int f = kvk_graph_flatten(&g, cur, "flatten");
        int d = kvk_graph_dense(&g, f, "fc", tu_randint(1, 20), KVK_ACT_RELU);
        set_kernel(&g, d);
    }
    char label[800];
    snprintf(label, sizeof label, "network %d, %dx%dx%d, batch %d: %s%s", index, h, w, c, batch,
             desc,
             top == 1   ? " -> gap -> dense softmax"
             : top == 2 ? " -> flatten -> dense"
                        : "");
    check_graph(g_ctx, &g, batch, 1e-4, label);
}

static void test_random_networks(void) {
    group_stats s;
    group_begin(&s, "random networks");
    for (int i = 0; i < 20; i++) random_network(i);
    group_end(&s);
}

/* ---- more than 65535 workgroups of 64 in one dispatch ------------------------------------- */

/* 256x257x64 = 4.2M values: the 1-D shaders (zeropad, pool2d, eltwise) must spread their
 * workgroups over y, and every value must still be computed once. */
static void test_large_dispatch(void) {
    group_stats s;
    group_begin(&s, "over 65535 workgroups");
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", 256, 257, 64);
    int p = kvk_graph_zeropad(&g, x, "pad", 0, 1, 1, 0);
    int m = kvk_graph_maxpool(&g, p, "pool", 1, 1, 1, 1, KVK_PAD_VALID);
    kvk_graph_activation(&g, m, "relu", KVK_ACT_RELU);
    check_graph(g_ctx, &g, 1, EXACT, "ZeroPadding2D -> MaxPooling2D 1x1 -> relu on 256x257x64");
    group_end(&s);
}

/* ---- weights split over bindings, and batches run in chunks -------------------------------- */

static void test_small_bindings(void) {
    group_stats s;
    group_begin(&s, "weight splitting / chunking");
    const uint64_t cap = 64 << 10;
    kvk_context *small = tu_context(cap);
    kvk_context *saved = g_ctx;
    g_ctx = small;
    { /* Dense 300 -> 200: 241 KB of weights, 4816 bytes per 4 outputs -> 52 per piece */
        uint64_t bytes = (uint64_t)(300 + 1) * 200 * 4;
        tu_check(bytes > cap, "Dense 300->200 weights (%llu bytes) exceed the cap",
                 (unsigned long long)bytes);
        for (int act = 0; act < 3; act++)
            dense_one(act + 1, 2, 1, 1, 300, 200, (kvk_activation)act, 1);
        dense_one(2, 0, 5, 6, 10, 200, KVK_ACT_RELU, 1); /* Flatten 5x6x10 -> 200 */
    }
    { /* Conv2D 3x3x64 -> 37: 85 KB, 9232 bytes per 4 outputs -> 28 + 9 channels */
        for (int i = 0; i < 3; i++) {
            conv_case c = {
                tu_randint(1, 3), tu_randint(3, 11), tu_randint(3, 11), 64,     i ? 37 : 64, 3, 3,
                tu_randint(1, 2), tu_randint(1, 2),  random_padding(),  i != 2, KVK_ACT_RELU};
            conv_one(c);
        }
        /* folded BN and a bias added by the fold, split too */
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 6, 5, 64);
        int cv = kvk_graph_conv2d(&g, x, "conv", 41, 3, 3, 1, 1, KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
        set_kernel(&g, cv);
        int bn = kvk_graph_batchnorm(&g, cv, "bn", 1.001e-5f, 1, 1);
        set_batchnorm(&g, bn);
        kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        check_graph(g_ctx, &g, 2, TOL, "split Conv2D 3x3x64 -> 41 -> BN -> relu");
    }
    g_ctx = saved;

    /* a cap below 4 output channels' weights: a clear error naming the layer */
    {
        kvk_context *tiny = tu_context(4096);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 1, 1, 300);
        int d = kvk_graph_dense(&g, x, "too_wide_dense", 200, KVK_ACT_RELU);
        set_kernel(&g, d);
        kvk_model *m = NULL;
        kvk_status st = kvk_model_from_graph(tiny, &g, 1, 1, &m);
        const char *err = kvk_last_error();
        tu_check(st != KVK_OK && m == NULL, "Dense 300->200 with a 4 KiB binding cap fails (%s)",
                 kvk_status_name(st));
        tu_check(err[0] && strstr(err, "too_wide_dense"), "the error names the layer: \"%s\"", err);
        kvk_model_destroy(m);

        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", 4, 4, 64);
        int cv =
            kvk_graph_conv2d(&g, x, "too_big_conv", 8, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
        set_kernel(&g, cv);
        m = NULL;
        st = kvk_model_from_graph(tiny, &g, 1, 1, &m);
        err = kvk_last_error();
        tu_check(st != KVK_OK && m == NULL, "Conv2D 3x3x64 with a 4 KiB binding cap fails (%s)",
                 kvk_status_name(st));
        tu_check(err[0] && strstr(err, "too_big_conv"), "the error names the layer: \"%s\"", err);
        kvk_model_destroy(m);
        tu_check_validation(tiny);
        kvk_context_destroy(tiny);
    }

    /* activations: the largest tensor is 16x16x16 floats = 16 KiB per image; a 40 KiB cap
     * allows 2 images per submission, so batch 5 runs as 2 + 2 + 1 */
    {
        kvk_context *chunky = tu_context(40 << 10);
        for (int i = 0; i < 2; i++) {
            kvk_graph g;
            kvk_graph_init(&g);
            int x = kvk_graph_input(&g, "input", 16, 16, 8);
            int cv = kvk_graph_conv2d(&g, x, "conv", 16, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
            set_kernel(&g, cv);
            int p = kvk_graph_maxpool(&g, cv, "pool", 2, 2, 2, 2, KVK_PAD_VALID);
            if (i) {
                int gp = kvk_graph_global_avgpool(&g, p, "gap");
                int d = kvk_graph_dense(&g, gp, "fc", 10, KVK_ACT_SOFTMAX);
                set_kernel(&g, d);
            }
            /* the chunk the model picks: check it before handing the graph over */
            kvk_graph probe;
            copy_graph(&g, &probe);
            kvk_model *m = NULL;
            if (tu_check(kvk_model_from_graph(chunky, &probe, 5, 1, &m) == KVK_OK,
                         "chunked model: %s", kvk_last_error())) {
                kvk_model_info info;
                kvk_model_get_info(m, &info);
                tu_check(info.batch_chunk == 2,
                         "batch 5 with a 40 KiB cap runs 2 images per chunk (%d)",
                         info.batch_chunk);
            }
            kvk_model_destroy(m);
            check_graph(chunky, &g, 5, TOL,
                        i ? "Conv2D 16x16x8 -> 16 -> MaxPool -> GAP -> Dense softmax, batch 5 in "
                            "chunks of 2"
                          : "Conv2D 16x16x8 -> 16 -> MaxPool, batch 5 in chunks of 2");
        }
        tu_check_validation(chunky);
        kvk_context_destroy(chunky);
    }
    tu_check_validation(small);
    kvk_context_destroy(small);
    group_end(&s);
}

int main(void) {
    tu_seed();
    g_ctx = tu_context(0);
    printf("device: %s\n", kvk_context_device_name(g_ctx));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    test_conv2d();
    test_zeropad();
    test_batchnorm();
    test_dense();
    test_add_activation();
    test_pooling();
    test_no_fold();
    test_random_networks();
    test_small_bindings();
    test_large_dispatch();
    tu_check_validation(g_ctx);
    kvk_context_destroy(g_ctx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return tu_finish();
}
