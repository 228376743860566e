/* Every op on the Vulkan device against the CPU reference kernels, called directly on the same
 * host data. Each case builds a tiny graph (input -> op [-> op]), sets random weights on its
 * nodes, builds a model with the fusion passes on, and runs it with outputs poisoned (NaN).
 * The reference evaluates a copy of the graph taken before the passes, node by node, with the
 * kvk_ref_* kernels: unfused, exactly as Keras defines each layer.
 *
 * Tolerance: ||vk - ref|| / ||ref|| <= 1e-5 (fp32 accumulation on the device against double in
 * the reference); ops that only move or select values (MaxPooling2D, ZeroPadding2D,
 * GlobalMaxPooling2D, Flatten, Dropout; Concatenate of such inputs) must match exactly. Random
 * small networks (chains of these layers with residual Adds and Concatenates, for the passes and
 * the memory plan) allow 1e-4.
 *
 * Also: weights split over several bindings and batches run in chunks (contexts with a small
 * max_binding_bytes), a cap too small for any split (a clear error naming the layer), and a
 * dispatch of more than 65535 workgroups. KVK_TEST_SEED replays a run.
 *
 * Every model runs twice with fresh inputs (nothing may leak between runs), once more with the
 * first input (bit-identical to the first run), and, when built for several images, with one
 * image (the rows past it must stay untouched).
 *
 * NaN and Inf: comparisons require the same non-finite values at the same positions (NaN where
 * the reference has NaN, the same infinity) and measure the error over the finite ones. A group
 * feeds NaN, +Inf and -Inf through every op, as inputs and as weights, and checks the reference
 * kernels themselves against values TensorFlow gives. */
#include <float.h>

#include "testutil.h"

#include "api/internal.h"
#include "cpu/backend.h"
#include "cpu/reference.h"
#include "vk/kernels.h"
#include "vk/ops/ops.h"

#define TOL 1e-5
#define EXACT 0.0

static kvk_context *g_ctx; /* the device with its own binding limit */
/* While a kernel variant is forced: its name, and how many recorded steps used it. */
static const char *g_kernel;
static int g_kernel_uses;
/* The weights' storage the models are built with. With fp16 the comparison allows float16's
 * rounding: 2^-11 relative per weight, so an output's error scales with the sum of its terms'
 * magnitudes while the comparison divides by max(RMS, 1e-2): a 1x1x1 output near zero from 20
 * terms of +-1 measured 5.5e-3 (Winograd F(4,3)'s transforms 3.2e-3). A broken fp16 kernel
 * (a wrong index or unpacking) errs by O(1). */
static kvk_precision g_precision = KVK_PRECISION_FP32;
#define FP16_TOL 2e-2

/* 0: inputs uniform in +-1; 1: with NaN, +Inf and -Inf sprinkled in (1 in 8), channel 0 all
 * NaN and channel 1 all -Inf; 2: one row (pixel) in 3 with a single NaN, +Inf or -Inf, one in 6
 * all -Inf (for softmax, whose rows are pixels) */
static int g_nonfinite;

static void sprinkle_nonfinite(float *x, long n, int c) {
    static const float special[3] = {NAN, INFINITY, -INFINITY};
    if (g_nonfinite == 1) {
        for (long i = 0; i < n; i++) {
            if (i % c == 0)
                x[i] = NAN;
            else if (i % c == 1)
                x[i] = -INFINITY;
            else if (rand() % 8 == 0)
                x[i] = special[rand() % 3];
        }
    } else if (g_nonfinite == 2) {
        for (long row = 0; row < n / c; row++) {
            int r = rand() % 6;
            if (r == 0)
                for (int k = 0; k < c; k++) x[row * c + k] = -INFINITY;
            else if (r <= 2)
                x[row * c + rand() % c] = special[rand() % 3];
        }
    }
}

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
    /* (kh, kw, cin, depth_multiplier): cin * depth_multiplier is the output's channels */
    if (n->op == KVK_OP_DEPTHWISE_CONV2D) return (long)n->kh * n->kw * n->shape.c;
    if (n->op == KVK_OP_DENSE) return input_size_of(g, n) * n->shape.c;
    return 0;
}

/* Conv2D, DepthwiseConv2D or Dense: kernel uniform in +-1/sqrt(fan_in) (kh * kw for a
 * depthwise kernel, whose outputs each read one input channel), bias in +-0.3 when use_bias. With
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

/* Both halves of a SeparableConv2D: the depthwise node (no bias) and the pointwise one. */
static void set_separable(kvk_graph *g, int pointwise) {
    if (pointwise < 0) return;
    set_kernel(g, g->nodes[pointwise].separable_of);
    set_kernel(g, pointwise);
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
        d->scale = dup_floats(s->scale, c);
        d->shift = dup_floats(s->shift, c);
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
        kvk_window win = {n->kh, n->kw, n->sh, n->sw, n->pad_top, n->pad_left, n->pad_zero};
        switch (n->op) {
        case KVK_OP_CONV2D:
            kvk_ref_conv2d(in, batch, is, n->kernel, n->use_bias ? n->bias : NULL, win, os,
                           kvk_node_act(n), t[i]);
            break;
        case KVK_OP_DENSE:
            kvk_ref_dense(in, batch, (int)kvk_shape_size(is), n->kernel,
                          n->use_bias ? n->bias : NULL, os.c, kvk_node_act(n), t[i]);
            break;
        case KVK_OP_BATCHNORM:
            kvk_ref_batchnorm(in, pixels, os.c, n->gamma, n->beta, n->mean, n->variance, n->epsilon,
                              kvk_node_act(n), t[i]);
            break;
        case KVK_OP_ACTIVATION:
            kvk_ref_activation(in, pixels, os.c, kvk_node_act(n), t[i]);
            break;
        case KVK_OP_ADD:
            kvk_ref_add(in, t[n->inputs[1]], count, kvk_node_act(n), t[i]);
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
        case KVK_OP_DEPTHWISE_CONV2D:
            kvk_ref_depthwise_conv2d(in, batch, is, n->kernel, n->use_bias ? n->bias : NULL,
                                     n->depth_multiplier, win, n->in_relu, os, kvk_node_act(n),
                                     t[i]);
            break;
        case KVK_OP_CONCAT: { /* each input at the channels after the ones before it */
            int offset = 0;
            for (int k = 0; k < n->input_count; k++) {
                int c = g->nodes[n->inputs[k]].shape.c;
                kvk_ref_channel_slice(t[n->inputs[k]], pixels, c, os.c, offset, t[i]);
                offset += c;
            }
            if (offset != os.c) abort();
            break;
        }
        case KVK_OP_MULTIPLY: {
            kvk_shape bs = g->nodes[n->inputs[1]].shape;
            kvk_ref_multiply(in, t[n->inputs[1]], batch, (long)os.h * os.w, os.c,
                             bs.h * bs.w == 1 && os.h * os.w > 1, kvk_node_act(n), t[i]);
            break;
        }
        case KVK_OP_AFFINE:
            kvk_ref_affine(in, pixels, os.c, n->scale, n->shift, kvk_node_act(n), t[i]);
            break;
        case KVK_OP_FLATTEN:
        case KVK_OP_DROPOUT:
        case KVK_OP_RESHAPE:
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

/* Same non-finite value at the same place: NaN for NaN, equal infinities. */
static int same_nonfinite(float y, float ref) {
    return isnan(ref) ? isnan(y) : y == ref;
}

/* The relative error over the values the reference has finite, or for tol == EXACT the number
 * of values that differ (inf if any); inf too where a non-finite value does not match.
 * Relative to an RMS of at least 1e-2: the inputs and weights are O(1), so float rounding
 * leaves absolute errors of ~1e-7 whatever the output's size, and an output that cancels
 * almost to zero (a random network's last ReLU left 2.9e-5 of O(1) sums: 4e-8 apart, 1.4e-3
 * "relative") says nothing about the kernels. */
#define KVK_TEST_RMS_FLOOR 1e-2
static double compare(const float *y, const float *ref, long n, double tol) {
    if (tol <= 0) {
        for (long i = 0; i < n; i++)
            if (!(y[i] == ref[i] || (isnan(y[i]) && isnan(ref[i])))) return INFINITY;
        return 0;
    }
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(ref[i]) || !isfinite(y[i])) {
            if (!same_nonfinite(y[i], ref[i])) return INFINITY;
            continue;
        }
        double d = (double)y[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    double floor = (double)n * KVK_TEST_RMS_FLOOR * KVK_TEST_RMS_FLOOR;
    return sqrt(num / (den > floor ? den : floor));
}

static int check_close(const float *y, const float *ref, long n, double tol, const char *label,
                       const char *what) {
    double err = compare(y, ref, n, tol);
    if (g_group && isfinite(err) && err > g_group->max_err) g_group->max_err = err;
    long bad = -1; /* a non-finite value where the reference has another */
    for (long i = 0; i < n && bad < 0; i++)
        if ((!isfinite(ref[i]) || !isfinite(y[i])) && !same_nonfinite(y[i], ref[i])) bad = i;
    if (bad >= 0 && tol > 0)
        return tu_check(0, "%s: %s: at %ld of %ld: %.9g where the reference has %.9g", label, what,
                        bad, n, y[bad], ref[bad]);
    if (tol > 0) {
        if (err <= tol) return tu_check(1, "%s: %s: relative error %.3g", label, what, err);
        long worst = 0;
        double norm = 0;
        for (long i = 0; i < n; i++) {
            if (!isfinite(ref[i])) continue;
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
        if (!(y[i] == ref[i] || (isnan(y[i]) && isnan(ref[i])))) first = i;
    if (first < 0) return tu_check(1, "%s: %s: exactly equal", label, what);
    return tu_check(0, "%s: %s: not exactly equal, first at %ld: %.9g vs %.9g", label, what, first,
                    y[first], ref[first]);
}

/* Builds the model (taking the graph), runs it as the header describes, compares. Returns the
 * number of failed checks. */
static int check_graph(kvk_context *ctx, kvk_graph *g, int batch, double tol, const char *label) {
    int failed_before = tu_failed;
    if (g_precision == KVK_PRECISION_FP16 && tol > 0 && tol < FP16_TOL) tol = FP16_TOL;
    if (g_group) g_group->cases++;
    if (!tu_check(g->status == KVK_OK, "%s: building the graph: %s", label, kvk_last_error())) {
        kvk_graph_free(g);
        return 1;
    }
    kvk_graph ref_graph;
    copy_graph(g, &ref_graph);
    kvk_shape is = ref_graph.nodes[0].shape, os = ref_graph.nodes[ref_graph.output].shape;
    kvk_model *m = NULL;
    kvk_status st = kvk_model_from_graph(ctx, g, batch, 1, g_precision, &m);
    if (!tu_check(st == KVK_OK, "%s: kvk_model_from_graph: %s", label, kvk_last_error())) {
        kvk_graph_free(&ref_graph);
        return tu_failed - failed_before;
    }
    for (int i = 0; g_kernel && m->vk && i < m->plan.step_count; i++) {
        const char *k = kvk_vk_model_step_kernel(m->vk, i);
        if (k && !strcmp(k, g_kernel)) g_kernel_uses++;
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
        if (g_nonfinite) sprinkle_nonfinite(x[r], in_n, is.c);
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
    int identical = st == KVK_OK;
    for (long i = 0; identical && i < out_n; i++) /* NaN payloads may differ */
        identical = isnan(y0[i]) ? isnan(y[i]) : !memcmp(&y[i], &y0[i], sizeof(float));
    tu_check(identical, "%s: the same input twice gives bit-identical outputs", label);
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
    return kvk_activation_name(a);
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
        /* 3x3 stride 1 (Winograd's): odd and even outputs, tiles overhanging the edge */
        {2, 9, 7, 8, 12, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU},
        {1, 6, 6, 5, 3, 3, 3, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR},
        {3, 1, 1, 4, 4, 3, 3, 1, 1, KVK_PAD_SAME, 0, KVK_ACT_LINEAR},
        {1, 2, 17, 16, 33, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU},
        {2, 5, 8, 3, 64, 3, 3, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_RELU},
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
    /* after a pooling or a concat: nothing to fold into, with and without gamma and beta */
    for (int i = 0; i < 4; i++) {
        int scale = i % 2, center = i / 2, relu = i == 0 || i == 3;
        int batch = tu_randint(1, 3), h = tu_randint(1, 10), w = tu_randint(1, 10);
        int c = tu_randint(1, 13);
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int from;
        const char *what;
        if (i == 0) {
            from = kvk_graph_maxpool(&g, x, "pool", 3, 3, 2, 2, KVK_PAD_SAME);
            what = "MaxPooling2D 3x3/2";
        } else if (i == 1) {
            from = kvk_graph_avgpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            what = "AveragePooling2D 3x3/1";
        } else {
            int a = kvk_graph_conv2d(&g, x, "conv", tu_randint(1, 9), 3, 3, 1, 1, KVK_PAD_SAME, 1,
                                     KVK_ACT_LINEAR);
            set_kernel(&g, a);
            int xs[2] = {a,
                         i == 2 ? x : kvk_graph_maxpool(&g, x, "pool", 2, 2, 1, 1, KVK_PAD_SAME)};
            from = kvk_graph_concat(&g, xs, 2, "concat");
            what = i == 2 ? "Concatenate [Conv2D, input]" : "Concatenate [Conv2D, MaxPooling2D]";
        }
        int bn = kvk_graph_batchnorm(&g, from, "bn", 1e-3f, center, scale);
        set_batchnorm(&g, bn);
        if (relu) kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label,
                 "%s of %dx%dx%d -> BatchNormalization(scale=%d, center=%d)%s, batch %d", what, h,
                 w, c, scale, center, relu ? " -> relu" : "", batch);
        check_graph(g_ctx, &g, batch, TOL, label);
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
    /* the GEMV's most images per dispatch, and one more (the GEMM again) */
    dense_one(8, 0, 3, 3, 36, 70, KVK_ACT_RELU, 1);
    dense_one(9, 2, 1, 1, 44, 37, KVK_ACT_LINEAR, 1);
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
        /* whole vec4s of channels (eltwise.comp's VEC4 path) in half the cases */
        int c = i < 4 ? 4 * tu_randint(1, 3) : tu_randint(1, 11);
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
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", 3, 5, 12);
        kvk_graph_add(&g, x, x, "add");
        check_graph(g_ctx, &g, 2, TOL, "Add(input, input) 3x5x12 (vec4s)");
    }
    for (int i = 0; i < 6; i++) {
        int batch = tu_randint(1, 3);
        int softmax = i % 2;
        int h = softmax && i < 4 ? 1 : tu_randint(1, 8),
            w = softmax && i < 4 ? 1 : tu_randint(1, 8);
        int c = i == 1 ? 1000 : i == 3 ? 7 : i == 4 ? 4 * tu_randint(1, 16) : tu_randint(1, 70);
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
    /* an Activation layer after ops that apply none: relu after a pooling or a concat,
     * softmax over the channels of a concat */
    for (int i = 0; i < 4; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
        int c = tu_randint(1, 13);
        kvk_activation act = i == 3 ? KVK_ACT_SOFTMAX : KVK_ACT_RELU;
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int from;
        const char *what;
        double tol = TOL;
        if (i == 0) {
            from = kvk_graph_maxpool(&g, x, "pool", 3, 3, 2, 2, KVK_PAD_SAME);
            what = "MaxPooling2D 3x3/2";
            tol = EXACT;
        } else if (i == 1) {
            from = kvk_graph_avgpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            what = "AveragePooling2D 3x3/1";
        } else {
            int a = kvk_graph_conv2d(&g, x, "conv", tu_randint(1, 9), 1, 1, 1, 1, KVK_PAD_VALID, 1,
                                     KVK_ACT_LINEAR);
            set_kernel(&g, a);
            int xs[3] = {x, a, kvk_graph_maxpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME)};
            from = kvk_graph_concat(&g, xs, 3, "concat");
            what = "Concatenate [input, Conv2D, MaxPooling2D]";
        }
        kvk_graph_activation(&g, from, "act", act);
        snprintf(label, sizeof label, "%s of %dx%dx%d -> Activation %s, batch %d", what, h, w, c,
                 act_name(act), batch);
        check_graph(g_ctx, &g, batch, tol, label);
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
        int c = i % 4 == 3 ? 4 * tu_randint(1, 6) : tu_randint(1, 20); /* vec4 path: C % 4 == 0 */
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
    /* stride 1 across on vec4 channels (pool2d_row): rows of 19 (two blocks of 8 and a partial
     * one) and of 5, windows wider than the padding, stride 2 down */
    for (int i = 0; i < 4; i++) {
        int is_max = i % 2, kh = i < 2 ? 3 : 2, kw = i < 2 ? 3 : 4, sh = i < 2 ? 1 : 2;
        kvk_padding pad = i < 2 ? KVK_PAD_SAME : KVK_PAD_VALID;
        int batch = tu_randint(1, 2), h = i < 2 ? 9 : 6, w = i < 2 ? 19 : 5, c = 4 * (i + 1);
        char label[200];
        snprintf(label, sizeof label, "%s %dx%d strides %dx1 '%s' on %dx%dx%d, batch %d",
                 is_max ? "MaxPooling2D" : "AveragePooling2D", kh, kw, sh, pad_name(pad), h, w, c,
                 batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        if (is_max)
            kvk_graph_maxpool(&g, x, "pool", kh, kw, sh, 1, pad);
        else
            kvk_graph_avgpool(&g, x, "pool", kh, kw, sh, 1, pad);
        check_graph(g_ctx, &g, batch, is_max ? EXACT : TOL, label);
    }
    /* ZeroPadding2D before a 'valid' pool (ResNet's pool1_pad) folds into the pool, whose
     * windows then count the zeros: max over negative borders is 0, average divides by the
     * whole window; strides 2 and 1 (pool2d_row), asymmetric padding */
    for (int i = 0; i < 4; i++) {
        int is_max = i % 2, st = i < 2 ? 2 : 1;
        int batch = tu_randint(1, 2), h = tu_randint(4, 11), w = tu_randint(4, 11);
        int c = i < 2 ? tu_randint(1, 9) : 4 * tu_randint(1, 3);
        int top = 1, bottom = i % 2, left = 1 + i / 2, right = 1;
        char label[200];
        snprintf(label, sizeof label,
                 "ZeroPadding2D (%d,%d,%d,%d) -> %s 3x3/%d 'valid' on %dx%dx%d, batch %d", top,
                 bottom, left, right, is_max ? "MaxPooling2D" : "AveragePooling2D", st, h, w, c,
                 batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int pad = kvk_graph_zeropad(&g, x, "pad", top, bottom, left, right);
        if (is_max)
            kvk_graph_maxpool(&g, pad, "pool", 3, 3, st, st, KVK_PAD_VALID);
        else
            kvk_graph_avgpool(&g, pad, "pool", 3, 3, st, st, KVK_PAD_VALID);
        check_graph(g_ctx, &g, batch, is_max ? EXACT : TOL, label);
    }
    /* Add(pool, shortcut) fused into the pool (Xception's strided blocks: a 1x1/2 conv as the
     * shortcut of a 3x3/2 'same' max pool); stride 1 with the input as the shortcut, on vec4
     * channels (pool2d_row) and not; the pass must have fused it */
    for (int i = 0; i < 6; i++) {
        int is_max = i % 2 == 0, strided = i < 2, st = strided ? 2 : 1;
        int batch = tu_randint(1, 3), h = tu_randint(2, 12), w = tu_randint(2, 12);
        int c = i == 2 || i == 3 ? tu_randint(1, 11) : 4 * tu_randint(1, 4);
        char label[200];
        snprintf(label, sizeof label, "Add(%s 3x3/%d 'same', %s) on %dx%dx%d, batch %d",
                 is_max ? "MaxPooling2D" : "AveragePooling2D", st,
                 strided ? "Conv2D 1x1/2" : "input", h, w, c, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c), shortcut = x;
        if (strided) {
            shortcut =
                kvk_graph_conv2d(&g, x, "shortcut", c, 1, 1, 2, 2, KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
            set_kernel(&g, shortcut);
        }
        int pool = is_max ? kvk_graph_maxpool(&g, x, "pool", 3, 3, st, st, KVK_PAD_SAME)
                          : kvk_graph_avgpool(&g, x, "pool", 3, 3, st, st, KVK_PAD_SAME);
        kvk_graph_add(&g, pool, shortcut, "add");
        kvk_graph fused;
        copy_graph(&g, &fused);
        kvk_graph_optimize(&fused);
        tu_check(fused.nodes[pool].residual == shortcut, "%s: the Add is fused into the pool",
                 label);
        kvk_graph_free(&fused);
        /* exact where the sum's operands are exact: the conv rounds unlike the reference */
        check_graph(g_ctx, &g, batch, is_max && !strided ? EXACT : TOL, label);
    }
    /* InceptionV3's pools on odd sizes: AveragePooling2D 3x3 'same' with strides 1 and 2
     * (border windows divide by the pixels inside), MaxPooling2D 3x3/2 'same' and 'valid' */
    for (int i = 0; i < 4; i++) {
        int is_max = i >= 2, st = i == 0 ? 1 : 2;
        kvk_padding pad = i == 3 ? KVK_PAD_VALID : KVK_PAD_SAME;
        int batch = tu_randint(1, 3), h = 2 * tu_randint(1, 7) + 1, w = 2 * tu_randint(1, 7) + 1;
        int c = tu_randint(1, 20);
        char label[200];
        snprintf(label, sizeof label, "%s 3x3 strides %d '%s' on %dx%dx%d, batch %d",
                 is_max ? "MaxPooling2D" : "AveragePooling2D", st, pad_name(pad), h, w, c, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        if (is_max)
            kvk_graph_maxpool(&g, x, "pool", 3, 3, st, st, pad);
        else
            kvk_graph_avgpool(&g, x, "pool", 3, 3, st, st, pad);
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

/* ---- DepthwiseConv2D ----------------------------------------------------------------------- */

typedef struct dw_case {
    int batch, h, w, c, mult, kh, kw, sh, sw;
    kvk_padding padding;
    int use_bias;
    kvk_activation act;
} dw_case;

static void depthwise_one(dw_case c) {
    char label[200];
    snprintf(label, sizeof label,
             "DepthwiseConv2D %dx%dx%d x%d, kernel %dx%d, strides %dx%d, '%s', bias %d, %s, "
             "batch %d",
             c.h, c.w, c.c, c.mult, c.kh, c.kw, c.sh, c.sw, pad_name(c.padding), c.use_bias,
             act_name(c.act), c.batch);
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", c.h, c.w, c.c);
    int y = kvk_graph_depthwise_conv2d(&g, x, "dwconv", c.kh, c.kw, c.sh, c.sw, c.padding, c.mult,
                                       c.use_bias, c.act);
    set_kernel(&g, y);
    check_graph(g_ctx, &g, c.batch, TOL, label);
}

static void test_depthwise(void) {
    group_stats s;
    group_begin(&s, "DepthwiseConv2D");
    static const dw_case fixed[] = {
        /* batch h w c mult kh kw sh sw padding bias act */
        {1, 7, 9, 3, 1, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR},
        {2, 10, 11, 5, 2, 3, 3, 2, 2, KVK_PAD_SAME, 1, KVK_ACT_RELU},
        {3, 9, 8, 13, 3, 5, 5, 1, 1, KVK_PAD_VALID, 0, KVK_ACT_LINEAR},
        {1, 8, 7, 64, 1, 3, 3, 2, 2, KVK_PAD_VALID, 1, KVK_ACT_RELU},
        {2, 6, 5, 96, 1, 3, 1, 2, 1, KVK_PAD_SAME, 0, KVK_ACT_RELU},   /* 3x1, strides 2x1 */
        {1, 5, 6, 4, 2, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR}, /* 1x1: a scale */
        {2, 12, 13, 8, 1, 5, 5, 2, 2, KVK_PAD_SAME, 1, KVK_ACT_LINEAR},
        {1, 1, 1, 7, 3, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU},    /* 1x1 image */
        {3, 4, 4, 1, 3, 3, 3, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR}, /* one input channel */
        /* 3x3 stride 1 on channel vec4s (depthwise_conv2d_x4_k3s1): rows of 19 (two blocks of
         * 8 and a partial one) and of 6 (one partial block) */
        {2, 9, 19, 8, 1, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU},
        {1, 5, 6, 12, 1, 3, 3, 1, 1, KVK_PAD_VALID, 0, KVK_ACT_LINEAR},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) depthwise_one(fixed[i]);
    static const int chans[] = {1, 2, 3, 4, 5, 8, 13, 16, 32, 64, 96};
    static const int kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 1}, {1, 3}};
    static const int strides[][2] = {{1, 1}, {2, 2}, {2, 1}};
    for (int i = 0; i < 12; i++) {
        dw_case c;
        c.batch = tu_randint(1, 3);
        c.mult = i < 9 ? i / 3 + 1 : tu_randint(1, 3); /* 1, 2 and 3 three times each */
        const int *k = kernels[rand() % 5], *st = strides[rand() % 3];
        c.kh = k[0], c.kw = k[1], c.sh = st[0], c.sw = st[1];
        c.padding = random_padding();
        c.h = tu_randint(c.padding == KVK_PAD_VALID ? c.kh : 1, 15);
        c.w = tu_randint(c.padding == KVK_PAD_VALID ? c.kw : 1, 15);
        c.c = chans[rand() % (int)(sizeof chans / sizeof chans[0])];
        if (c.c * c.mult > 96) c.mult = 1;
        c.use_bias = rand() % 2;
        c.act = rand() % 2 ? KVK_ACT_RELU : KVK_ACT_LINEAR;
        depthwise_one(c);
    }
    /* after a conv and before BatchNormalization -> relu (MobileNet's order): the BN folds
     * into the depthwise kernel and a bias it did not have, the relu fuses into it */
    for (int i = 0; i < 2; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(3, 11), w = tu_randint(3, 11);
        int c = i ? 13 : 8, mult = i + 1;
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, 3);
        int cv = kvk_graph_conv2d(&g, x, "conv", c, 3, 3, 2, 2, KVK_PAD_SAME, 0, KVK_ACT_RELU);
        set_kernel(&g, cv);
        int dw = kvk_graph_depthwise_conv2d(&g, cv, "dwconv", 3, 3, 1 + i, 1 + i, KVK_PAD_SAME,
                                            mult, 0, KVK_ACT_LINEAR);
        set_kernel(&g, dw);
        int bn = kvk_graph_batchnorm(&g, dw, "bn", 1e-3f, 1, i);
        set_batchnorm(&g, bn);
        kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label,
                 "Conv2D %dx%dx3 -> %d -> DepthwiseConv2D x%d strides %d -> BN(scale=%d) -> relu, "
                 "batch %d",
                 h, w, c, mult, 1 + i, i, batch);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* a standalone ReLU before it (Xception's blockN_sepconv1_act), which the depthwise kernel
     * applies as it reads its input; on vec4 channels 3x3/1 (depthwise_conv2d_x4_k3s1), on odd
     * channels, and a ReLU also read by an Add (not fused) */
    for (int i = 0; i < 3; i++) {
        int batch = tu_randint(1, 2), h = tu_randint(3, 12), w = tu_randint(3, 19);
        int c = i == 1 ? 5 : 8;
        char label[200];
        snprintf(label, sizeof label,
                 "ReLU%s -> DepthwiseConv2D 3x3/1 'same' on %dx%dx%d, batch %d",
                 i == 2 ? " (also read by an Add)" : "", h, w, c, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int a = kvk_graph_activation(&g, x, "relu", KVK_ACT_RELU);
        int dw = kvk_graph_depthwise_conv2d(&g, a, "dwconv", 3, 3, 1, 1, KVK_PAD_SAME, 1, 1,
                                            KVK_ACT_LINEAR);
        set_kernel(&g, dw);
        if (i == 2) kvk_graph_add(&g, dw, a, "add");
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    { /* MobileNet's ZeroPadding2D ((0, 1), (0, 1)) before a 3x3/2 'valid' DepthwiseConv2D */
        int batch = tu_randint(1, 3), h = tu_randint(3, 12), w = tu_randint(3, 12);
        char label[200];
        snprintf(label, sizeof label,
                 "ZeroPadding2D (0,1,0,1) of %dx%dx13 -> DepthwiseConv2D 3x3/2 'valid', batch %d",
                 h, w, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, 13);
        int p = kvk_graph_zeropad(&g, x, "pad", 0, 1, 0, 1);
        int dw = kvk_graph_depthwise_conv2d(&g, p, "dwconv", 3, 3, 2, 2, KVK_PAD_VALID, 1, 1,
                                            KVK_ACT_RELU);
        set_kernel(&g, dw);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    group_end(&s);
}

/* ---- SeparableConv2D ----------------------------------------------------------------------- */

typedef struct sep_case {
    int batch, h, w, cin, cout, k, st;
    kvk_padding padding;
    int use_bias;
    kvk_activation act;
    int bn;   /* 0: none; 1: BatchNormalization (folded into the pointwise conv); 2: BN -> relu */
    int relu; /* an Activation relu before it, as in Xception */
} sep_case;

static void separable_one(sep_case c) {
    char label[240];
    snprintf(label, sizeof label,
             "%sSeparableConv2D %dx%dx%d -> %d, kernel %dx%d, strides %d, '%s', bias %d, %s%s, "
             "batch %d",
             c.relu ? "relu -> " : "", c.h, c.w, c.cin, c.cout, c.k, c.k, c.st, pad_name(c.padding),
             c.use_bias, act_name(c.act),
             c.bn == 2   ? " -> BN -> relu"
             : c.bn == 1 ? " -> BN"
                         : "",
             c.batch);
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", c.h, c.w, c.cin);
    if (c.relu) x = kvk_graph_activation(&g, x, "act", KVK_ACT_RELU);
    int y = kvk_graph_separable_conv2d(&g, x, "sepconv", c.cout, c.k, c.k, c.st, c.st, c.padding,
                                       c.use_bias, c.act);
    set_separable(&g, y);
    if (c.bn) {
        int bn = kvk_graph_batchnorm(&g, y, "bn", 1e-3f, 1, 1);
        set_batchnorm(&g, bn);
        if (c.bn == 2) kvk_graph_activation(&g, bn, "bn_relu", KVK_ACT_RELU);
    }
    check_graph(g_ctx, &g, c.batch, TOL, label);
}

static void test_separable(void) {
    group_stats s;
    group_begin(&s, "SeparableConv2D");
    static const sep_case fixed[] = {
        /* batch h w cin cout k st padding bias act bn relu */
        {1, 9, 9, 3, 8, 3, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR, 0, 0},
        {2, 10, 11, 5, 13, 3, 2, KVK_PAD_SAME, 0, KVK_ACT_LINEAR, 2, 1}, /* Xception's order */
        {3, 8, 7, 13, 5, 3, 1, KVK_PAD_VALID, 1, KVK_ACT_RELU, 0, 0},
        {1, 7, 6, 64, 96, 3, 1, KVK_PAD_SAME, 0, KVK_ACT_LINEAR, 1, 1},
        {2, 11, 9, 96, 64, 5, 2, KVK_PAD_VALID, 1, KVK_ACT_RELU, 0, 0},
        {1, 6, 6, 8, 1, 1, 1, KVK_PAD_VALID, 0, KVK_ACT_LINEAR, 1, 0}, /* 1x1: two scalings */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) separable_one(fixed[i]);
    static const int chans[] = {1, 3, 4, 5, 8, 13, 16, 32, 64, 96};
    for (int i = 0; i < 8; i++) {
        sep_case c;
        c.batch = tu_randint(1, 3);
        c.k = rand() % 3 ? 3 : tu_randint(1, 5);
        c.st = tu_randint(1, 2);
        c.padding = random_padding();
        c.h = tu_randint(c.padding == KVK_PAD_VALID ? c.k : 1, 13);
        c.w = tu_randint(c.padding == KVK_PAD_VALID ? c.k : 1, 13);
        c.cin = chans[rand() % (int)(sizeof chans / sizeof chans[0])];
        c.cout = chans[rand() % (int)(sizeof chans / sizeof chans[0])];
        c.use_bias = rand() % 2;
        c.bn = rand() % 3;
        c.act = !c.bn && rand() % 2 && c.cout >= 3 ? KVK_ACT_RELU : KVK_ACT_LINEAR;
        c.relu = rand() % 2;
        separable_one(c);
    }
    { /* an Xception entry-flow block: two separable convs, a 'same' max pool and a strided
       * 1x1 projection of the block's input added to it */
        int batch = tu_randint(1, 3), h = tu_randint(5, 12), w = tu_randint(5, 12);
        char label[200];
        snprintf(label, sizeof label, "Xception block on %dx%dx8 -> 13, batch %d", h, w, batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, 8);
        int res = kvk_graph_conv2d(&g, x, "res", 13, 1, 1, 2, 2, KVK_PAD_SAME, 0, KVK_ACT_LINEAR);
        set_kernel(&g, res);
        int rbn = kvk_graph_batchnorm(&g, res, "res_bn", 1e-3f, 1, 1);
        set_batchnorm(&g, rbn);
        int a = kvk_graph_activation(&g, x, "act1", KVK_ACT_RELU);
        a = kvk_graph_separable_conv2d(&g, a, "sep1", 13, 3, 3, 1, 1, KVK_PAD_SAME, 0,
                                       KVK_ACT_LINEAR);
        set_separable(&g, a);
        a = kvk_graph_batchnorm(&g, a, "sep1_bn", 1e-3f, 1, 1);
        set_batchnorm(&g, a);
        a = kvk_graph_activation(&g, a, "act2", KVK_ACT_RELU);
        a = kvk_graph_separable_conv2d(&g, a, "sep2", 13, 3, 3, 1, 1, KVK_PAD_SAME, 0,
                                       KVK_ACT_LINEAR);
        set_separable(&g, a);
        a = kvk_graph_batchnorm(&g, a, "sep2_bn", 1e-3f, 1, 1);
        set_batchnorm(&g, a);
        a = kvk_graph_maxpool(&g, a, "pool", 3, 3, 2, 2, KVK_PAD_SAME);
        kvk_graph_add(&g, a, rbn, "add");
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    group_end(&s);
}

/* ---- Concatenate ----------------------------------------------------------------------------- */

/* Conv2D -> BatchNormalization(scale=False) -> relu, InceptionV3's conv2d_bn. */
static int conv_bn(kvk_graph *g, int x, const char *name, int filters, int kh, int kw, int st,
                   kvk_padding padding) {
    char n[64];
    snprintf(n, sizeof n, "%s_conv", name);
    int cv = kvk_graph_conv2d(g, x, n, filters, kh, kw, st, st, padding, 0, KVK_ACT_LINEAR);
    set_kernel(g, cv);
    snprintf(n, sizeof n, "%s_bn", name);
    int bn = kvk_graph_batchnorm(g, cv, n, 1e-3f, 1, 0);
    set_batchnorm(g, bn);
    return kvk_graph_activation(g, bn, name, KVK_ACT_RELU);
}

static int random_channels(void) {
    static const int chans[] = {1, 3, 4, 5, 7, 8, 13, 16};
    return chans[rand() % (int)(sizeof chans / sizeof chans[0])];
}

static void test_concat(void) {
    group_stats s;
    group_begin(&s, "Concatenate");
    /* data movement only: exact */
    for (int i = 0; i < 4; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
        int c = tu_randint(1, 9);
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int xs[3] = {x, x, x};
        const char *what = "[input, input]";
        if (i == 1) {
            xs[1] = kvk_graph_maxpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            what = "[input, MaxPooling2D 3x3/1 'same']";
        } else if (i == 2) {
            int p = kvk_graph_zeropad(&g, x, "pad", 1, 1, 1, 1);
            xs[0] = kvk_graph_maxpool(&g, p, "pad_pool", 3, 3, 1, 1, KVK_PAD_VALID);
            xs[2] = kvk_graph_maxpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            what = "[pad -> MaxPooling2D 'valid', input, MaxPooling2D 'same']";
        } else if (i == 3) { /* one pool twice: it cannot be written into both slices */
            xs[0] = xs[2] = kvk_graph_maxpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            what = "[MaxPooling2D 3x3/1 'same', input, the same pool]";
        }
        kvk_graph_concat(&g, xs, i >= 2 ? 3 : 2, "concat");
        snprintf(label, sizeof label, "Concatenate %s of %dx%dx%d, batch %d", what, h, w, c, batch);
        check_graph(g_ctx, &g, batch, EXACT, label);
    }
    /* InceptionV3's mixed blocks: 2 to 4 branches of conv -> BN -> relu, one of them after an
     * AveragePooling2D 3x3/1 'same'; the model's output is the concat */
    for (int i = 0; i < 6; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 11), w = tu_randint(1, 11);
        int c = random_channels(), n = 2 + i % 3;
        int c1 = random_channels(), c2 = random_channels(), c3 = random_channels();
        int c4 = random_channels();
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int xs[4];
        xs[0] = conv_bn(&g, x, "b1x1", c1, 1, 1, 1, KVK_PAD_VALID);
        int p = kvk_graph_avgpool(&g, x, "b_pool_avg", 3, 3, 1, 1, KVK_PAD_SAME);
        xs[1] = conv_bn(&g, p, "b_pool", c2, 1, 1, 1, KVK_PAD_VALID);
        int m = conv_bn(&g, x, "b3x3_1", tu_randint(1, 8), 1, 1, 1, KVK_PAD_VALID);
        xs[2] = conv_bn(&g, m, "b3x3_2", c3, 3, 3, 1, KVK_PAD_SAME);
        xs[3] = conv_bn(&g, x, "b5x5", c4, 5, 5, 1, KVK_PAD_SAME);
        kvk_graph_concat(&g, xs, n, "mixed");
        snprintf(label, sizeof label,
                 "Concatenate of %d branches (%d, %d, %d, %d channels) of %dx%dx%d, batch %d", n,
                 c1, c2, n > 2 ? c3 : 0, n > 3 ? c4 : 0, h, w, c, batch);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* InceptionV3's reduction blocks (mixed3, mixed8): strided 'valid' convs and a
     * MaxPooling2D 3x3/2 'valid' branch */
    for (int i = 0; i < 3; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(3, 13), w = tu_randint(3, 13);
        int c = random_channels(), c1 = random_channels(), c2 = random_channels();
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int xs[3];
        xs[0] = conv_bn(&g, x, "b3x3", c1, 3, 3, 2, KVK_PAD_VALID);
        int m = conv_bn(&g, x, "bdbl_1", tu_randint(1, 8), 1, 1, 1, KVK_PAD_VALID);
        xs[1] = conv_bn(&g, m, "bdbl_2", c2, 3, 3, 2, KVK_PAD_VALID);
        xs[2] = kvk_graph_maxpool(&g, x, "b_pool", 3, 3, 2, 2, KVK_PAD_VALID);
        if (i == 2) { /* the pool first */
            int t = xs[0];
            xs[0] = xs[2], xs[2] = t;
        }
        kvk_graph_concat(&g, xs, 3, "mixed");
        snprintf(label, sizeof label,
                 "Concatenate of a reduction (%d, %d channels, MaxPooling2D 3x3/2 'valid'%s) of "
                 "%dx%dx%d, batch %d",
                 c1, c2, i == 2 ? " first" : "", h, w, c, batch);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* an input of the concat read by another layer too (or one that adds a residual): it
     * cannot be written in place */
    for (int i = 0; i < 3; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 10), w = tu_randint(1, 10);
        int c = random_channels(), c1 = random_channels(), c2 = random_channels();
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        if (i == 0) { /* a read by the concat and by an Add after it */
            int a = conv_bn(&g, x, "a", c1, 1, 1, 1, KVK_PAD_VALID);
            int b = conv_bn(&g, x, "b", c2, 3, 3, 1, KVK_PAD_SAME);
            int xs[2] = {a, b};
            int cat = kvk_graph_concat(&g, xs, 2, "concat");
            int y =
                kvk_graph_conv2d(&g, cat, "mix", c1, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
            set_kernel(&g, y);
            kvk_graph_add(&g, y, a, "add");
            snprintf(label, sizeof label,
                     "Concatenate [a %d, b %d] -> Conv2D 1x1, + a, of %dx%dx%d, batch %d", c1, c2,
                     h, w, c, batch);
        } else if (i == 1) { /* a conv with a fused residual Add, and a conv */
            int a = kvk_graph_conv2d(&g, x, "a", c, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
            set_kernel(&g, a);
            int sum = kvk_graph_add(&g, a, x, "add");
            int r = kvk_graph_activation(&g, sum, "relu", KVK_ACT_RELU);
            int xs[2] = {conv_bn(&g, x, "b", c2, 1, 1, 1, KVK_PAD_VALID), r};
            kvk_graph_concat(&g, xs, 2, "concat");
            snprintf(label, sizeof label,
                     "Concatenate [b %d, relu(Conv2D + input)] of %dx%dx%d, batch %d", c2, h, w, c,
                     batch);
        } else { /* DenseNet: the input itself and a conv of it */
            int a = conv_bn(&g, x, "a", c1, 3, 3, 1, KVK_PAD_SAME);
            int xs[2] = {x, a};
            int cat = kvk_graph_concat(&g, xs, 2, "concat");
            int b = conv_bn(&g, cat, "b", c2, 3, 3, 1, KVK_PAD_SAME);
            int ys[3] = {a, cat, b};
            kvk_graph_concat(&g, ys, 3, "concat2");
            snprintf(label, sizeof label,
                     "Concatenate [a %d, Concatenate [input, a], Conv2D of it %d] of %dx%dx%d, "
                     "batch %d",
                     c1, c2, h, w, c, batch);
        }
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* nested, as InceptionV3's mixed9: [1x1, [1x3, 3x1], [3x3 -> [1x3, 3x1]], pool]; the third
     * nests [input, conv], whose input is copied into the outer concat's tensor */
    for (int i = 0; i < 3; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
        int c = random_channels(), c1 = random_channels(), c2 = random_channels();
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int xs[4];
        xs[0] = conv_bn(&g, x, "b1x1", c1, 1, 1, 1, KVK_PAD_VALID);
        int m = conv_bn(&g, x, "b3x3", tu_randint(1, 8), 1, 1, 1, KVK_PAD_VALID);
        int ys[2];
        ys[0] = i == 2 ? x : conv_bn(&g, m, "b3x3_1", c2, 1, 3, 1, KVK_PAD_SAME);
        ys[1] = conv_bn(&g, m, "b3x3_2", c2, 3, 1, 1, KVK_PAD_SAME);
        xs[1] = kvk_graph_concat(&g, ys, 2, "mixed_0");
        int n = 2;
        if (i == 1) {
            int d = conv_bn(&g, x, "bdbl", tu_randint(1, 8), 3, 3, 1, KVK_PAD_SAME);
            int zs[2];
            zs[0] = conv_bn(&g, d, "bdbl_1", c1, 1, 3, 1, KVK_PAD_SAME);
            zs[1] = conv_bn(&g, d, "bdbl_2", c2, 3, 1, 1, KVK_PAD_SAME);
            xs[n++] = kvk_graph_concat(&g, zs, 2, "concat");
            int p = kvk_graph_avgpool(&g, x, "b_pool_avg", 3, 3, 1, 1, KVK_PAD_SAME);
            xs[n++] = conv_bn(&g, p, "b_pool", c1, 1, 1, 1, KVK_PAD_VALID);
        }
        kvk_graph_concat(&g, xs, n, "mixed");
        snprintf(label, sizeof label, "nested Concatenate (%d, [%d, %d]%s) of %dx%dx%d, batch %d",
                 c1, i == 2 ? c : c2, c2, i == 1 ? ", [..], pool" : "", h, w, c, batch);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* a concat read by the next block's convs and by its pooling */
    for (int i = 0; i < 3; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(3, 11), w = tu_randint(3, 11);
        int c = random_channels(), c1 = random_channels(), c2 = random_channels();
        char label[200];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int xs[2], ys[2];
        xs[0] = conv_bn(&g, x, "a", c1, 1, 1, 1, KVK_PAD_VALID);
        xs[1] = conv_bn(&g, x, "b", c2, 3, 3, 1, KVK_PAD_SAME);
        int cat = kvk_graph_concat(&g, xs, 2, "mixed0");
        const char *what;
        if (i == 0) { /* mixed1: conv and AveragePooling2D 'same' -> conv */
            int p = kvk_graph_avgpool(&g, cat, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            ys[0] = conv_bn(&g, cat, "c", random_channels(), 1, 1, 1, KVK_PAD_VALID);
            ys[1] = conv_bn(&g, p, "d", random_channels(), 1, 1, 1, KVK_PAD_VALID);
            kvk_graph_concat(&g, ys, 2, "mixed1");
            what = "[Conv2D, AveragePooling2D -> Conv2D]";
        } else if (i == 1) { /* mixed3: strided conv and MaxPooling2D 'valid' */
            ys[0] = conv_bn(&g, cat, "c", random_channels(), 3, 3, 2, KVK_PAD_VALID);
            ys[1] = kvk_graph_maxpool(&g, cat, "pool", 3, 3, 2, 2, KVK_PAD_VALID);
            kvk_graph_concat(&g, ys, 2, "mixed1");
            what = "[Conv2D 3x3/2, MaxPooling2D 3x3/2] 'valid'";
        } else { /* Add(conv, MaxPooling2D 3x3/1 'same') -> the classifier top */
            int cv = conv_bn(&g, cat, "c", c1 + c2, 1, 1, 1, KVK_PAD_VALID);
            int p = kvk_graph_maxpool(&g, cat, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
            int sum = kvk_graph_add(&g, cv, p, "add");
            int gp = kvk_graph_global_avgpool(&g, sum, "gap");
            int d = kvk_graph_dense(&g, gp, "predictions", tu_randint(2, 12), KVK_ACT_SOFTMAX);
            set_kernel(&g, d);
            what = "Add(Conv2D, MaxPooling2D 'same') -> GAP -> Dense softmax";
        }
        snprintf(label, sizeof label, "Concatenate [%d, %d] of %dx%dx%d read by %s, batch %d", c1,
                 c2, h, w, c, what, batch);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    /* depthwise and separable convs as inputs, and the most inputs a concat takes */
    for (int i = 0; i < 2; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 10), w = tu_randint(1, 10);
        int c = random_channels();
        char label[200], name[32];
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int xs[KVK_MAX_INPUTS], n = 0;
        if (i == 0) {
            xs[n] = kvk_graph_depthwise_conv2d(&g, x, "dw", 3, 3, 1, 1, KVK_PAD_SAME, 2, 1,
                                               KVK_ACT_RELU);
            set_kernel(&g, xs[n++]);
            xs[n] = kvk_graph_separable_conv2d(&g, x, "sep", random_channels(), 3, 3, 1, 1,
                                               KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
            set_separable(&g, xs[n++]);
            xs[n++] = conv_bn(&g, x, "conv", random_channels(), 1, 1, 1, KVK_PAD_VALID);
            snprintf(label, sizeof label,
                     "Concatenate [DepthwiseConv2D x2, SeparableConv2D, Conv2D] of %dx%dx%d, "
                     "batch %d",
                     h, w, c, batch);
        } else {
            for (; n < KVK_MAX_INPUTS; n++) {
                snprintf(name, sizeof name, "b%d", n);
                if (n == 2)
                    xs[n] = kvk_graph_maxpool(&g, x, name, 3, 3, 1, 1, KVK_PAD_SAME);
                else if (n == 5)
                    xs[n] = kvk_graph_avgpool(&g, x, name, 3, 3, 1, 1, KVK_PAD_SAME);
                else
                    xs[n] = conv_bn(&g, x, name, tu_randint(1, 5), 1 + n % 2 * 2, 1 + n % 2 * 2, 1,
                                    KVK_PAD_SAME);
            }
            snprintf(label, sizeof label, "Concatenate of %d convs and pools of %dx%dx%d, batch %d",
                     KVK_MAX_INPUTS, h, w, c, batch);
        }
        kvk_graph_concat(&g, xs, n, "concat");
        check_graph(g_ctx, &g, batch, TOL, label);
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

/* ---- NaN and Inf, as TensorFlow's CPU kernels give them ------------------------------------ */

/* The reference kernels against values TensorFlow 2.21 gives on the CPU (tf.nn.relu,
 * tf.nn.max_pool2d, tf.reduce_max / GlobalMaxPooling2D, tf.nn.avg_pool2d, tf.nn.softmax with
 * TF_ENABLE_ONEDNN_OPTS=0). */
static void test_reference_nonfinite(void) {
    const float nan = NAN, inf = INFINITY;
    float relu_in[4] = {nan, -2.f, inf, -inf}, relu_out[4];
    kvk_ref_activation(relu_in, 1, 4, kvk_act_default(KVK_ACT_RELU), relu_out);
    tu_check(isnan(relu_out[0]) && relu_out[1] == 0 && relu_out[2] == inf && relu_out[3] == 0,
             "reference relu(NaN, -2, Inf, -Inf) = (NaN, 0, Inf, 0): %g %g %g %g", relu_out[0],
             relu_out[1], relu_out[2], relu_out[3]);
    struct {
        float in[4];
        float maxpool, globalmax;
    } pools[] = {
        {{nan, 1, 2, 3}, 3, nan},
        {{5, nan, 2, 3}, 5, nan},
        {{nan, nan, nan, nan}, -FLT_MAX, nan},
        {{-inf, -inf, -inf, -inf}, -FLT_MAX, -inf},
        {{1, inf, nan, 2}, inf, nan},
    };
    kvk_shape is = {2, 2, 1}, os = {1, 1, 1};
    kvk_window win = {2, 2, 2, 2, 0, 0, 0};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        float mp, gm, ap;
        kvk_ref_pool(pools[i].in, 1, is, 1, win, os, &mp);
        kvk_ref_global_pool(pools[i].in, 1, is, 1, &gm);
        kvk_ref_pool(pools[i].in, 1, is, 0, win, os, &ap);
        int avg_ok = isnan(pools[i].in[0] + pools[i].in[1] + pools[i].in[2] + pools[i].in[3])
                         ? isnan(ap)
                         : ap == -inf;
        tu_check(same_nonfinite(mp, pools[i].maxpool) && mp == mp &&
                     same_nonfinite(gm, pools[i].globalmax) && avg_ok,
                 "reference pools of (%g, %g, %g, %g): max_pool2d %g (TF %g), reduce_max %g "
                 "(TF %g), avg_pool2d %g",
                 pools[i].in[0], pools[i].in[1], pools[i].in[2], pools[i].in[3], mp,
                 pools[i].maxpool, gm, pools[i].globalmax, ap);
    }
    struct {
        float in[3];
        int nan_row; /* TF: the whole row NaN */
    } soft[] = {
        {{1, inf, 3}, 1},    {{1, nan, 3}, 1},  {{-inf, -inf, -inf}, 1},
        {{inf, -inf, 0}, 1}, {{-inf, 0, 1}, 0},
    };
    for (size_t i = 0; i < sizeof soft / sizeof soft[0]; i++) {
        float y[3];
        kvk_ref_activation(soft[i].in, 1, 3, kvk_act_default(KVK_ACT_SOFTMAX), y);
        int ok = soft[i].nan_row ? isnan(y[0]) && isnan(y[1]) && isnan(y[2])
                                 : y[0] == 0 && fabsf(y[1] - 0.268941432f) < 1e-6f &&
                                       fabsf(y[2] - 0.731058538f) < 1e-6f;
        tu_check(ok, "reference softmax(%g, %g, %g) = (%g, %g, %g) as TensorFlow's", soft[i].in[0],
                 soft[i].in[1], soft[i].in[2], y[0], y[1], y[2]);
    }
}

/* NaN or Inf at entry k of each weight array of node id (kernel, bias, BN statistics). */
static void poison_weights(kvk_graph *g, int id, float value) {
    kvk_node *n = &g->nodes[id];
    int c = n->shape.c;
    if (n->bias) n->bias[c > 1 ? 1 : 0] = value;
    if (n->gamma) n->gamma[0] = value;
    if (n->variance && c > 2) n->variance[2] = -1.f; /* sqrt of a negative: NaN */
    if (n->beta && c > 3) n->beta[3] = -value;
}

static void test_nonfinite(void) {
    test_reference_nonfinite();
    group_stats s;
    group_begin(&s, "NaN and Inf");
    for (int i = 0; i < 2; i++) {
        int batch = tu_randint(1, 2), h = tu_randint(3, 9), w = tu_randint(3, 9);
        int c = tu_randint(4, 12);
        char label[200];
        kvk_graph g;

        g_nonfinite = 1;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        kvk_graph_activation(&g, x, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label, "NaN/Inf inputs: Activation relu %dx%dx%d", h, w, c);
        check_graph(g_ctx, &g, batch, EXACT, label);

        /* fused epilogues: conv + bias (NaN, Inf) + relu; depthwise likewise */
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        int cv = kvk_graph_conv2d(&g, x, "conv", c, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
        set_kernel(&g, cv);
        poison_weights(&g, cv, i ? INFINITY : NAN);
        snprintf(label, sizeof label, "NaN/Inf inputs, %s bias: Conv2D 3x3 + relu %dx%dx%d",
                 i ? "Inf" : "NaN", h, w, c);
        check_graph(g_ctx, &g, batch, TOL, label);

        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        int dw = kvk_graph_depthwise_conv2d(&g, x, "dw", 3, 3, 1, 1, KVK_PAD_VALID, 1 + i, 1,
                                            KVK_ACT_RELU);
        set_kernel(&g, dw);
        poison_weights(&g, dw, NAN);
        g.nodes[dw].kernel[0] = i ? -INFINITY : NAN; /* 'valid': every output reads it */
        snprintf(label, sizeof label, "NaN/Inf inputs and weights: DepthwiseConv2D + relu %dx%dx%d",
                 h, w, c);
        check_graph(g_ctx, &g, batch, TOL, label);

        /* pools: max skips NaN (a window of NaN or -Inf: -FLT_MAX), average propagates */
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        kvk_graph_maxpool(&g, x, "pool", 3, 3, 2, 2, i ? KVK_PAD_SAME : KVK_PAD_VALID);
        snprintf(label, sizeof label, "NaN/Inf inputs: MaxPooling2D 3x3/2 %dx%dx%d", h, w, c);
        check_graph(g_ctx, &g, batch, EXACT, label);

        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        kvk_graph_avgpool(&g, x, "pool", 2, 2, 1, 1, KVK_PAD_SAME);
        snprintf(label, sizeof label, "NaN/Inf inputs: AveragePooling2D 2x2 %dx%dx%d", h, w, c);
        check_graph(g_ctx, &g, batch, TOL, label);

        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        if (i)
            kvk_graph_global_maxpool(&g, x, "pool");
        else
            kvk_graph_global_avgpool(&g, x, "pool");
        snprintf(label, sizeof label, "NaN/Inf inputs: Global%sPooling2D %dx%dx%d",
                 i ? "Max" : "Average", h, w, c);
        check_graph(g_ctx, &g, batch, i ? EXACT : TOL, label);

        /* Add (Inf + -Inf is NaN) and its fused relu; BatchNormalization on its own */
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        int a = kvk_graph_conv2d(&g, x, "conv", c, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
        set_kernel(&g, a);
        int sum = kvk_graph_add(&g, a, x, "add");
        kvk_graph_activation(&g, sum, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label, "NaN/Inf inputs: Add + relu %dx%dx%d", h, w, c);
        check_graph(g_ctx, &g, batch, TOL, label);

        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", h, w, c);
        int bn = kvk_graph_batchnorm(&g, x, "bn", 1e-3f, 1, 1);
        set_batchnorm(&g, bn);
        poison_weights(&g, bn, i ? -INFINITY : NAN);
        kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        snprintf(label, sizeof label,
                 "NaN/Inf inputs and statistics: BatchNormalization + relu "
                 "%dx%dx%d",
                 h, w, c);
        check_graph(g_ctx, &g, batch, TOL, label);

        /* softmax: a row with NaN or +Inf, or only -Inf, is NaN; -Inf among finite values 0 */
        g_nonfinite = 2;
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", 1 + i * 3, 2 + i, i ? 1000 : 9);
        kvk_graph_activation(&g, x, "softmax", KVK_ACT_SOFTMAX);
        snprintf(label, sizeof label, "NaN/Inf rows: Activation softmax over %d", i ? 1000 : 9);
        check_graph(g_ctx, &g, batch, TOL, label);

        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", 1, 1, 20);
        int d = kvk_graph_dense(&g, x, "fc", 13, KVK_ACT_SOFTMAX);
        set_kernel(&g, d);
        if (i) g.nodes[d].bias[4] = INFINITY;
        snprintf(label, sizeof label, "NaN/Inf inputs%s: Dense 20 -> 13 softmax",
                 i ? ", an Inf bias" : "");
        check_graph(g_ctx, &g, 3, TOL, label);
        g_nonfinite = 0;
    }
    group_end(&s);
}

/* ---- random small networks: the passes and the memory plan together ---------------------- */

/* A chain of random layers with residual Adds, depthwise and separable convs and 2- or 3-way
 * Concatenates, on small tensors. The tolerance is 1e-4 here: rounding compounds over the
 * layers (and may flip a relu or a max at a near-tie). */
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
        int kind = rand() % 12;
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
        } else if (kind == 9) { /* DepthwiseConv2D or SeparableConv2D */
            int k = tu_randint(1, 3), st = tu_randint(1, 2);
            kvk_padding pad = random_padding();
            if (pad == KVK_PAD_VALID && (s.h < k || s.w < k)) pad = KVK_PAD_SAME;
            kvk_activation act = rand() % 2 ? KVK_ACT_RELU : KVK_ACT_LINEAR;
            if (rand() % 2 && s.c <= 16) {
                cur = kvk_graph_depthwise_conv2d(&g, cur, name, k, k, st, st, pad, tu_randint(1, 2),
                                                 rand() % 2, act);
                set_kernel(&g, cur);
                what = "depthwise";
            } else {
                cur = kvk_graph_separable_conv2d(&g, cur, name, tu_randint(1, 16), k, k, st, st,
                                                 pad, rand() % 2, act);
                set_separable(&g, cur);
                what = "separable";
            }
        } else if (kind == 10) { /* 2 or 3 branches of cur concatenated, cur itself among them */
            int xs[3], n = tu_randint(2, 3);
            for (int b = 0; b < n; b++) {
                snprintf(name, sizeof name, "l%d_b%d", l, b);
                int r = rand() % 4;
                if (r == 0 && s.c <= 16)
                    xs[b] = cur;
                else if (r == 1)
                    xs[b] = kvk_graph_maxpool(&g, cur, name, 3, 3, 1, 1, KVK_PAD_SAME);
                else {
                    int k = 1 + 2 * (rand() % 2);
                    xs[b] =
                        kvk_graph_conv2d(&g, cur, name, tu_randint(1, 8), k, k, 1, 1, KVK_PAD_SAME,
                                         rand() % 2, rand() % 2 ? KVK_ACT_RELU : KVK_ACT_LINEAR);
                    set_kernel(&g, xs[b]);
                }
            }
            snprintf(name, sizeof name, "l%d", l);
            cur = kvk_graph_concat(&g, xs, n, name);
            what = n == 2 ? "concat2" : "concat3";
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
        /* Winograd in chunks of tiles whose V and M fit the binding: F(4,3)'s 16 tiles of
         * 9216 bytes each in 3 chunks, F(2,3)'s 27 tiles of 4096 in 2 (the chunks' kernels
         * chosen per chunk: a last chunk of 2 tiles on conv2d_rb8 once read unwritten M) */
        conv_one((conv_case){1, 16, 16, 64, 37, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU});
        conv_one((conv_case){3, 6, 6, 64, 24, 3, 3, 1, 1, KVK_PAD_SAME, 0, KVK_ACT_LINEAR});
        /* folded BN and a bias added by the fold, split too (and its 18 F(2,3) tiles in 2
         * chunks) */
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
    { /* SeparableConv2D 3x3x128 -> 160: the pointwise kernel is 80 KB, with the BN folded
       * into it; the 5x7x160 output is 22 KB per image, so batch 3 runs in chunks too */
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 5, 7, 128);
        int sp = kvk_graph_separable_conv2d(&g, x, "sepconv", 160, 3, 3, 1, 1, KVK_PAD_SAME, 0,
                                            KVK_ACT_LINEAR);
        set_separable(&g, sp);
        int bn = kvk_graph_batchnorm(&g, sp, "bn", 1e-3f, 1, 1);
        set_batchnorm(&g, bn);
        kvk_graph_activation(&g, bn, "relu", KVK_ACT_RELU);
        check_graph(g_ctx, &g, 3, TOL, "split SeparableConv2D 5x7x128 -> 160 -> BN -> relu");
    }
    { /* Concatenate of two split convs and a pool: 7x6x(37 + 30 + 64) is 22 KB per image */
        int batch = tu_randint(2, 3);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 7, 6, 64);
        int xs[3];
        xs[0] = kvk_graph_conv2d(&g, x, "conv_a", 37, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU);
        set_kernel(&g, xs[0]);
        xs[1] = conv_bn(&g, x, "b", 30, 3, 3, 1, KVK_PAD_SAME);
        xs[2] = kvk_graph_maxpool(&g, x, "pool", 3, 3, 1, 1, KVK_PAD_SAME);
        kvk_graph_concat(&g, xs, 3, "concat");
        check_graph(g_ctx, &g, batch, TOL,
                    "Concatenate [split Conv2D 3x3x64 -> 37, -> 30 -> BN -> relu, "
                    "MaxPooling2D] of 7x6x64");
    }
    /* the lean Winograd variants with their 3x3 kernels split: one transform per piece into
     * its own slice of scratch (F(2,3) or F(4,3) by the tiles: 3x3 stride 1, 64 -> 37 and 64
     * channels), whichever the device would choose unforced */
    for (int lean = 0; lean < 2; lean++) {
        const char *name = lean ? "conv2d_winograd43_lean" : "conv2d_winograd_lean";
        kvk_context_options o = {.max_binding_bytes = cap, .kernels = name};
        kvk_context *forced;
        if (!tu_check(kvk_context_create(&o, &forced) == KVK_OK, "forcing %s: %s", name,
                      kvk_last_error()))
            continue;
        g_ctx = forced;
        g_kernel = name;
        g_kernel_uses = 0;
        for (int i = 0; i < 2; i++) {
            /* batch 1, at most 8x8: V and M of 64 channels within the 64 KiB binding */
            conv_case c = {1,
                           tu_randint(5, 8),
                           tu_randint(5, 8),
                           64,
                           i ? 37 : 64,
                           3,
                           3,
                           1,
                           1,
                           random_padding(),
                           i,
                           KVK_ACT_RELU};
            conv_one(c);
        }
        tu_check(g_kernel_uses == 2, "split weights on %s: chosen for %d of 2 convolutions", name,
                 g_kernel_uses);
        g_kernel = NULL;
        tu_check_validation(forced);
        kvk_context_destroy(forced);
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
        kvk_status st = kvk_model_from_graph(tiny, &g, 1, 1, KVK_PRECISION_FP32, &m);
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
        st = kvk_model_from_graph(tiny, &g, 1, 1, KVK_PRECISION_FP32, &m);
        err = kvk_last_error();
        tu_check(st != KVK_OK && m == NULL, "Conv2D 3x3x64 with a 4 KiB binding cap fails (%s)",
                 kvk_status_name(st));
        tu_check(err[0] && strstr(err, "too_big_conv"), "the error names the layer: \"%s\"", err);
        kvk_model_destroy(m);
        tu_check_validation(tiny);
        kvk_context_destroy(tiny);
    }

    /* activations: the largest tensor is 16x16x16 floats = 16 KiB per image; a 40 KiB cap
     * allows 2 images per submission, so batch 5 runs as 2 + 2 + 1. The third model makes
     * that tensor a Concatenate of a conv and a separable conv. */
    {
        kvk_context *chunky = tu_context(40 << 10);
        for (int i = 0; i < 3; i++) {
            kvk_graph g;
            kvk_graph_init(&g);
            int x = kvk_graph_input(&g, "input", 16, 16, 8);
            int cv = kvk_graph_conv2d(&g, x, "conv", i == 2 ? 11 : 16, 3, 3, 1, 1, KVK_PAD_SAME, 1,
                                      KVK_ACT_RELU);
            set_kernel(&g, cv);
            if (i == 2) {
                int sp = kvk_graph_separable_conv2d(&g, x, "sepconv", 5, 3, 3, 1, 1, KVK_PAD_SAME,
                                                    1, KVK_ACT_RELU);
                set_separable(&g, sp);
                int xs[2] = {cv, sp};
                cv = kvk_graph_concat(&g, xs, 2, "concat");
            }
            int p = kvk_graph_maxpool(&g, cv, "pool", 2, 2, 2, 2, KVK_PAD_VALID);
            if (i == 1) {
                int gp = kvk_graph_global_avgpool(&g, p, "gap");
                int d = kvk_graph_dense(&g, gp, "fc", 10, KVK_ACT_SOFTMAX);
                set_kernel(&g, d);
            }
            /* the chunk the model picks: check it before handing the graph over */
            kvk_graph probe;
            copy_graph(&g, &probe);
            kvk_model *m = NULL;
            if (tu_check(kvk_model_from_graph(chunky, &probe, 5, 1, KVK_PRECISION_FP32, &m) ==
                             KVK_OK,
                         "chunked model: %s", kvk_last_error())) {
                kvk_model_info info;
                kvk_model_get_info(m, &info);
                tu_check(info.batch_chunk == 2,
                         "batch 5 with a 40 KiB cap runs 2 images per chunk (%d)",
                         info.batch_chunk);
            }
            kvk_model_destroy(m);
            check_graph(chunky, &g, 5, TOL,
                        i == 2   ? "Concatenate [Conv2D 16x16x8 -> 11, SeparableConv2D -> 5] -> "
                                   "MaxPool, batch 5 in chunks of 2"
                        : i == 1 ? "Conv2D 16x16x8 -> 16 -> MaxPool -> GAP -> Dense softmax, "
                                   "batch 5 in chunks of 2"
                                 : "Conv2D 16x16x8 -> 16 -> MaxPool, batch 5 in chunks of 2");
        }
        tu_check_validation(chunky);
        kvk_context_destroy(chunky);
    }
    tu_check_validation(small);
    kvk_context_destroy(small);
    group_end(&s);
}

/* ---- activations -------------------------------------------------------------------------- */

/* Every activation, and ReLU with Keras' parameters, applied by each op that fuses one (BN's
 * affine pass, conv, depthwise conv, Dense) and standalone (after the input, which no pass can
 * fuse into). A BatchNormalization with gamma up to 4 spreads the values to about +-6, past
 * every clipping point (hard sigmoid at +-2.5 and +-3, relu6 at 6). */
static void activation_one(kvk_act act, const char *what, int dense) {
    char label[200];
    int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
    int c = 4 * tu_randint(1, 6) + (rand() % 2); /* vec4 and scalar paths */
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", h, w, c);
    if (dense) {
        snprintf(label, sizeof label, "%s after Dense, %d features, batch %d", what, h * w * c,
                 batch);
        int f = kvk_graph_flatten(&g, x, "flatten");
        int d = kvk_graph_dense(&g, f, "fc", tu_randint(1, 40), KVK_ACT_LINEAR);
        set_kernel(&g, d);
        g.nodes[d].bias = tu_random_array(g.nodes[d].shape.c, -2.f, 2.f);
        kvk_graph_activation_ex(&g, d, "fc_act", act);
        check_graph(g_ctx, &g, batch, TOL, label);
        return;
    }
    snprintf(label, sizeof label, "%s standalone, after BN, conv and depthwise, %dx%dx%d, batch %d",
             what, h, w, c, batch);
    int a0 = kvk_graph_activation_ex(&g, x, "act0", act);
    int bn = kvk_graph_batchnorm(&g, a0, "bn", 1e-3f, 1, 1);
    set_batchnorm(&g, bn);
    for (int k = 0; bn >= 0 && k < c; k++) g.nodes[bn].gamma[k] *= 3.f;
    int a1 = kvk_graph_activation_ex(&g, bn, "act1", act);
    int cv = kvk_graph_conv2d(&g, a1, "conv", c, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
    set_kernel(&g, cv);
    for (int k = 0; cv >= 0 && k < kernel_floats(&g, &g.nodes[cv]); k++)
        g.nodes[cv].kernel[k] *= 4.f;
    int a2 = kvk_graph_activation_ex(&g, cv, "act2", act);
    int dw =
        kvk_graph_depthwise_conv2d(&g, a2, "dw", 3, 3, 1, 1, KVK_PAD_SAME, 1, 1, KVK_ACT_LINEAR);
    set_kernel(&g, dw);
    for (int k = 0; dw >= 0 && k < kernel_floats(&g, &g.nodes[dw]); k++)
        g.nodes[dw].kernel[k] *= 4.f;
    kvk_graph_activation_ex(&g, dw, "act3", act);
    check_graph(g_ctx, &g, batch, TOL, label);
}

static void test_activations(void) {
    group_stats s;
    group_begin(&s, "Activations");
    for (int kind = 0; kind < KVK_ACT_COUNT; kind++) {
        if (kind == KVK_ACT_SOFTMAX) continue; /* whole rows: test_add_activation */
        for (int dense = 0; dense < 2; dense++)
            activation_one(kvk_act_default((kvk_activation)kind),
                           kvk_activation_name((kvk_activation)kind), dense);
    }
    /* hard_sigmoid is two kinds (Keras 2's 0.2 x + 0.5, Keras 3's x / 6 + 0.5): by version */
    kvk_activation k2, k3;
    tu_check(kvk_activation_from_keras("hard_sigmoid", 2, &k2) && k2 == KVK_ACT_HARD_SIGMOID &&
                 kvk_activation_from_keras("hard_sigmoid", 3, &k3) && k3 == KVK_ACT_HARD_SIGMOID3,
             "hard_sigmoid maps to Keras 2's and Keras 3's formulas by version");
    kvk_activation none;
    tu_check(!kvk_activation_from_keras("gelu_custom", 2, &none), "an unknown name is refused");
    static const struct {
        const char *what;
        float slope, max, threshold;
    } relus[] = {{"ReLU(max_value=6) (relu6)", 0.f, 6.f, 0.f},
                 {"LeakyReLU(alpha=0.3)", 0.3f, INFINITY, 0.f},
                 {"ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5)", 0.1f, 2.5f, 0.5f},
                 {"ReLU(threshold=-1)", 0.f, INFINITY, -1.f}};
    for (size_t i = 0; i < sizeof relus / sizeof relus[0]; i++)
        for (int dense = 0; dense < 2; dense++)
            activation_one(
                (kvk_act){KVK_ACT_RELU, relus[i].slope, relus[i].max, relus[i].threshold},
                relus[i].what, dense);
    for (int dense = 0; dense < 2; dense++)
        activation_one((kvk_act){KVK_ACT_ELU, 0.7f, INFINITY, 0.f}, "ELU(alpha=0.7)", dense);
    group_end(&s);
}

/* ---- Multiply, Rescaling/Normalization, Reshape -------------------------------------------- */

static void test_multiply_affine_reshape(void) {
    group_stats s;
    group_begin(&s, "Multiply / Affine / Reshape");
    for (int i = 0; i < 8; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
        int c = i < 4 ? 4 * tu_randint(1, 5) : tu_randint(1, 20); /* vec4s, then any */
        int per_channel = i % 2;
        char label[200];
        snprintf(label, sizeof label, "Multiply %dx%dx%d by %s, then sigmoid, batch %d", h, w, c,
                 per_channel ? "a squeeze-excite gate (1x1xC)" : "a tensor", batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int b = x;
        if (per_channel) { /* squeeze and excite: GAP -> Reshape(1, 1, C) -> Dense -> gate */
            int gap = kvk_graph_global_avgpool(&g, x, "gap");
            int r = kvk_graph_reshape(&g, gap, "reshape", 3, (kvk_shape){1, 1, c});
            b = kvk_graph_conv2d(&g, r, "se", c, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_SIGMOID);
            set_kernel(&g, b);
        } else {
            b = kvk_graph_conv2d(&g, x, "other", c, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_LINEAR);
            set_kernel(&g, b);
        }
        int m = kvk_graph_multiply(&g, x, b, "multiply");
        kvk_graph_activation(&g, m, "act", i % 4 < 2 ? KVK_ACT_SIGMOID : KVK_ACT_LINEAR);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    for (int i = 0; i < 4; i++) {
        int batch = tu_randint(1, 3), h = tu_randint(1, 9), w = tu_randint(1, 9);
        int c = i < 2 ? 4 * tu_randint(1, 5) : tu_randint(1, 20); /* vec4s, then any */
        char label[200];
        snprintf(label, sizeof label, "Rescaling/Normalization %dx%dx%d%s, batch %d", h, w, c,
                 i % 2 ? " -> relu" : "", batch);
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", h, w, c);
        int a = kvk_graph_affine(&g, x, "rescale", tu_random_array(c, -2.f, 2.f),
                                 tu_random_array(c, -1.f, 1.f));
        if (i % 2) kvk_graph_activation(&g, a, "relu", KVK_ACT_RELU);
        check_graph(g_ctx, &g, batch, TOL, label);
    }
    { /* MobileNet's top: GAP -> Reshape(1, 1, C) -> Conv2D 1x1 -> Reshape(classes) -> softmax */
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 5, 4, 24);
        int gap = kvk_graph_global_avgpool(&g, x, "gap");
        int r = kvk_graph_reshape(&g, gap, "reshape_1", 3, (kvk_shape){1, 1, 24});
        int cv =
            kvk_graph_conv2d(&g, r, "conv_preds", 10, 1, 1, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR);
        set_kernel(&g, cv);
        int r2 = kvk_graph_reshape(&g, cv, "reshape_2", 1, (kvk_shape){1, 1, 10});
        kvk_graph_activation(&g, r2, "predictions", KVK_ACT_SOFTMAX);
        tu_check(g.nodes[r].rank == 3 && g.nodes[r2].rank == 1 && g.nodes[gap].rank == 1,
                 "ranks: GAP 1, Reshape(1, 1, C) 3, Reshape(classes) 1");
        check_graph(g_ctx, &g, 2, TOL, "MobileNet top: GAP, Reshape, 1x1 conv, Reshape, softmax");
    }
    { /* refused shapes name the layer */
        kvk_graph g;
        kvk_graph_init(&g);
        int x = kvk_graph_input(&g, "input", 4, 4, 3);
        int y = kvk_graph_input(&g, "input_2", 4, 4, 2);
        tu_check(kvk_graph_multiply(&g, x, y, "bad_multiply") < 0 &&
                     strstr(kvk_last_error(), "bad_multiply"),
                 "Multiply of mismatched shapes refused: %s", kvk_last_error());
        kvk_graph_free(&g);
        kvk_graph_init(&g);
        x = kvk_graph_input(&g, "input", 4, 4, 3);
        tu_check(kvk_graph_reshape(&g, x, "bad_reshape", 3, (kvk_shape){5, 1, 9}) < 0 &&
                     strstr(kvk_last_error(), "bad_reshape"),
                 "Reshape to another size refused: %s", kvk_last_error());
        kvk_graph_free(&g);
    }
    group_end(&s);
}

/* ---- kernel variants and backend tables ---------------------------------------------------- */

/* Every kernel variant the device can run, forced, through the op groups of its family: each
 * must be chosen for some of the cases and agree with the reference. A variant the device
 * cannot run must be refused by name when forced. */
static void test_kernel_variants(void) {
    kvk_context *saved = g_ctx;
    const kvk_vk_caps *caps = &saved->vk->caps;
    for (int i = 0; i < kvk_vk_kernel_count(); i++) {
        const kvk_vk_kernel *k = kvk_vk_kernel_at(i);
        kvk_context_options o = {.kernels = k->name};
        kvk_context *ctx;
        int runs = !k->usable || k->usable(caps);
        kvk_status st = kvk_context_create(&o, &ctx);
        if (!runs) {
            tu_check(st != KVK_OK && strstr(kvk_last_error(), k->name),
                     "forcing %s, which this device cannot run, is refused by name: %s", k->name,
                     st == KVK_OK ? "accepted" : kvk_last_error());
            if (st == KVK_OK) kvk_context_destroy(ctx);
            printf("kernel %-22s not run: the device lacks %s\n", k->name, k->needs);
            continue;
        }
        if (!tu_check(st == KVK_OK, "forcing %s: %s", k->name, kvk_last_error())) continue;
        printf("kernel %s forced:\n", k->name);
        g_ctx = ctx;
        g_kernel = k->name;
        g_kernel_uses = 0;
        /* an fp16 twin runs where the weights are float16; Winograd (its shaders chosen by the
         * weights' type) runs both ways */
        int f16 = k->weights == KVK_DTYPE_BIT(KVK_DTYPE_F16), both = !k->weights;
        if (!strcmp(k->family, "conv2d")) {
            for (int pass = 0; pass < (both ? 2 : 1); pass++) {
                g_precision = f16 || pass ? KVK_PRECISION_FP16 : KVK_PRECISION_FP32;
                if (both) printf("weights %s:\n", pass ? "float16" : "float32");
                test_conv2d();
                test_dense();
                test_concat(); /* convolutions written into a Concatenate's slice */
            }
            g_precision = KVK_PRECISION_FP32;
        } else if (!strcmp(k->family, "depthwise_conv2d")) {
            test_depthwise();
            test_separable();
        } else if (!strcmp(k->family, "pool2d")) {
            test_pooling();
        } else {
            tu_check(0, "kernel %s: no op tests for its family %s", k->name, k->family);
        }
        tu_check(g_kernel_uses > 0, "kernel %s was chosen for none of its family's cases", k->name);
        tu_check_validation(ctx);
        kvk_context_destroy(ctx);
        g_ctx = saved;
        g_kernel = NULL;
    }
    /* the cooperative-matrix variant from a device record as an NVIDIA GPU's would read
     * (no such device here): its shape, subgroups of 32 and fp16 arithmetic, each needed */
    const kvk_vk_kernel *coop = kvk_vk_kernel_find("conv2d_coopmat_f16");
    kvk_vk_caps gpu = {.type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU,
                       .subgroup_size = 32,
                       .float16 = 1,
                       .memory_model = 1,
                       .cooperative_matrix_nv = 1,
                       .coopmat_count = 2,
                       .coopmat = {{16, 16, 16, 0, 0, 0, 0, 3, 1}, {16, 16, 16, 0, 0, 1, 1, 3, 1}},
                       .shared_memory_bytes = 48 << 10,
                       .max_invocations = 1024};
    tu_check(coop && coop->usable(&gpu), "conv2d_coopmat_f16 runs where the NV shape is offered");
    kvk_vk_caps no = gpu;
    no.coopmat_count = 1; /* f16 sums only */
    tu_check(coop && !coop->usable(&no), "conv2d_coopmat_f16 needs float32 sums");
    no = gpu;
    no.coopmat[1].nv = 0; /* the shape through the KHR extension, whose shaders glslang 12 lacks */
    tu_check(coop && !coop->usable(&no), "conv2d_coopmat_f16 needs the NV extension's shape");
    no = gpu;
    no.subgroup_size = 64;
    tu_check(coop && !coop->usable(&no), "conv2d_coopmat_f16 needs subgroups of 32 lanes");
    no = gpu;
    no.float16 = 0;
    tu_check(coop && !coop->usable(&no), "conv2d_coopmat_f16 needs fp16 arithmetic");
    no = gpu;
    no.memory_model = 0;
    tu_check(coop && !coop->usable(&no), "conv2d_coopmat_f16 needs the Vulkan memory model");

    kvk_context_options bad = {.kernels = "conv2d_rb1,no_such_kernel"};
    kvk_context *ctx;
    tu_check(kvk_context_create(&bad, &ctx) != KVK_OK &&
                 strstr(kvk_last_error(), "no_such_kernel") &&
                 strstr(kvk_last_error(), "conv2d_rb1"),
             "an unknown kernel name is refused, listing the variants: %s", kvk_last_error());
    /* KVK_CHOOSE_AS (a GPU's choices on a CPU driver): an unknown type is refused by name */
    const char *as = getenv("KVK_CHOOSE_AS");
    char *saved_as = as ? strdup(as) : NULL;
    setenv("KVK_CHOOSE_AS", "gpu", 1);
    tu_check(kvk_context_create(NULL, &ctx) != KVK_OK && strstr(kvk_last_error(), "'gpu'") &&
                 strstr(kvk_last_error(), "discrete"),
             "KVK_CHOOSE_AS=gpu is refused, listing the types: %s", kvk_last_error());
    setenv("KVK_CHOOSE_AS", "discrete", 1);
    if (tu_check(kvk_context_create(NULL, &ctx) == KVK_OK, "KVK_CHOOSE_AS=discrete: %s",
                 kvk_last_error())) {
        tu_check(strstr(kvk_context_device_name(ctx), "choosing as discrete") != NULL,
                 "the device's name says it chooses as a discrete GPU: %s",
                 kvk_context_device_name(ctx));
        kvk_context_destroy(ctx);
    }
    if (saved_as)
        setenv("KVK_CHOOSE_AS", saved_as, 1);
    else
        unsetenv("KVK_CHOOSE_AS");
    free(saved_as);
}

/* Winograd's products are a batched GEMM (its slices as workgroups in z) on the direct kernel
 * the device would choose; forced beside conv2d_winograd_x4, each direct variant runs them
 * here, its z-slice addressing included (forced alone, as above, a variant leaves Winograd
 * out: it is not among the forced names). */
static void test_winograd_products(void) {
    kvk_context *saved = g_ctx;
    const kvk_vk_caps *caps = &saved->vk->caps;
    static const conv_case cases[] = {
        /* batch h w cin cout kh kw sh sw padding bias act: 20 and 24 tiles of F(2,3) */
        {1, 9, 8, 8, 12, 3, 3, 1, 1, KVK_PAD_SAME, 1, KVK_ACT_RELU},
        {2, 8, 10, 13, 33, 3, 3, 1, 1, KVK_PAD_VALID, 1, KVK_ACT_LINEAR},
    };
    for (int i = 0; i < kvk_vk_kernel_count(); i++) {
        const kvk_vk_kernel *k = kvk_vk_kernel_at(i);
        if (strcmp(k->family, "conv2d") ||
            (k->form != KVK_VK_FORM_BLOCKED && k->form != KVK_VK_FORM_TILED) ||
            (k->usable && !k->usable(caps)))
            continue;
        char list[96], label[128];
        snprintf(list, sizeof list, "%s,conv2d_winograd_x4", k->name);
        snprintf(label, sizeof label, "Winograd on %s", k->name);
        kvk_context_options o = {.kernels = list};
        kvk_context *ctx;
        if (!tu_check(kvk_context_create(&o, &ctx) == KVK_OK, "forcing %s: %s", list,
                      kvk_last_error()))
            continue;
        g_ctx = ctx;
        g_kernel = "conv2d_winograd_x4";
        g_kernel_uses = 0;
        g_precision =
            k->weights == KVK_DTYPE_BIT(KVK_DTYPE_F16) ? KVK_PRECISION_FP16 : KVK_PRECISION_FP32;
        group_stats s;
        group_begin(&s, label);
        for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) conv_one(cases[j]);
        group_end(&s);
        tu_check(g_kernel_uses == 2, "%s: Winograd chosen for %d of 2 convolutions", list,
                 g_kernel_uses);
        tu_check_validation(ctx);
        kvk_context_destroy(ctx);
        g_ctx = saved;
        g_kernel = NULL;
        g_precision = KVK_PRECISION_FP32;
    }
}

/* Every op kind a plan can hold has an entry in both backends' tables, and a step whose kind
 * or tensor type a backend lacks fails model creation by layer name (it once ran as a silent
 * no-op on the reference, returning stale memory). */
static void test_backend_tables(void) {
    for (int op = 0; op < KVK_OP_COUNT; op++) {
        if (op == KVK_OP_INPUT || op == KVK_OP_FLATTEN || op == KVK_OP_DROPOUT ||
            op == KVK_OP_RESHAPE)
            continue;
        tu_check(kvk_vk_op_for((kvk_op)op) != NULL, "%s has a Vulkan entry",
                 kvk_op_name((kvk_op)op));
        tu_check(kvk_cpu_op_supported((kvk_op)op), "%s has a reference entry",
                 kvk_op_name((kvk_op)op));
    }
    /* a Flatten left as a step (no pass made it an alias): neither backend has it */
    kvk_graph g;
    kvk_graph_init(&g);
    int x = kvk_graph_input(&g, "input", 2, 3, 4);
    kvk_graph_flatten(&g, x, "flatten_here");
    kvk_plan plan;
    if (!tu_check(kvk_plan_build(&g, 1, 64, &plan) == KVK_OK, "plan: %s", kvk_last_error())) return;
    kvk_cpu_model *cm = NULL;
    tu_check(kvk_cpu_model_create(&g, &plan, &cm) != KVK_OK &&
                 strstr(kvk_last_error(), "flatten_here"),
             "the reference refuses an op kind it lacks, naming the layer: %s", kvk_last_error());
    kvk_cpu_model_destroy(cm);
    kvk_vk_model *vm = NULL;
    kvk_vk_model_options vo = {.max_binding = g_ctx->max_binding_bytes,
                               .alignment = g_ctx->alignment};
    tu_check(kvk_vk_model_create(g_ctx->vk, &g, &plan, &vo, &vm) != KVK_OK &&
                 strstr(kvk_last_error(), "flatten_here"),
             "the device refuses an op kind it lacks, naming the layer: %s", kvk_last_error());
    kvk_vk_model_destroy(vm);
    kvk_plan_free(&plan);
    kvk_graph_free(&g);
    /* a float16 activation: no kernel runs one yet, and both backends say so */
    kvk_graph_init(&g);
    x = kvk_graph_input(&g, "input", 4, 4, 3);
    kvk_graph_maxpool(&g, x, "pool_f16", 2, 2, 2, 2, KVK_PAD_VALID);
    if (!tu_check(kvk_plan_build(&g, 1, 64, &plan) == KVK_OK, "plan: %s", kvk_last_error())) return;
    plan.tensors[plan.steps[0].output].dtype = KVK_DTYPE_F16;
    tu_check(kvk_cpu_model_create(&g, &plan, &cm) != KVK_OK && strstr(kvk_last_error(), "float16"),
             "the reference refuses float16 tensors: %s", kvk_last_error());
    kvk_cpu_model_destroy(cm);
    tu_check(kvk_vk_model_create(g_ctx->vk, &g, &plan, &vo, &vm) != KVK_OK &&
                 strstr(kvk_last_error(), "pool_f16") && strstr(kvk_last_error(), "float16"),
             "the device refuses float16 tensors, naming the layer: %s", kvk_last_error());
    kvk_vk_model_destroy(vm);
    kvk_plan_free(&plan);
    kvk_graph_free(&g);
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
    test_activations();
    test_multiply_affine_reshape();
    test_pooling();
    test_depthwise();
    test_separable();
    test_concat();
    test_no_fold();
    test_nonfinite();
    test_random_networks();
    test_small_bindings();
    test_large_dispatch();
    test_backend_tables();
    test_kernel_variants();
    test_winograd_products();
    tu_check_validation(g_ctx);
    kvk_context_destroy(g_ctx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return tu_finish();
}
