/* Whole architectures with random weights: the Vulkan device against the CPU reference, which
 * runs every Keras layer unfused (BatchNormalization, Activation, ZeroPadding2D as their own
 * steps), so this also checks the fusion passes and the memory plan.
 * usage: test_models ARCH NAMING INCLUDE_TOP POOLING HEIGHT WIDTH BATCH CLASSES [ALPHA [DM]] */
#include "kvk/bench.h"
#include "testutil.h"

#include "api/internal.h"
#include "keras/apps/apps.h"
#include "keras/bind.h"

int main(int argc, char **argv) {
    if (argc < 9 || argc > 11) {
        fprintf(stderr,
                "usage: %s ARCH NAMING(keras2|legacy) TOP(0|1) POOLING(none|avg|max) H W "
                "BATCH CLASSES [ALPHA [DEPTH_MULTIPLIER]]\n",
                argv[0]);
        return 2;
    }
    tu_seed();
    kvk_model_options o = {.architecture = argv[1],
                           .include_top = atoi(argv[3]),
                           .height = atoi(argv[5]),
                           .width = atoi(argv[6]),
                           .batch = atoi(argv[7]),
                           .classes = atoi(argv[8]),
                           .alpha = argc > 9 ? atof(argv[9]) : 0,
                           .depth_multiplier = argc > 10 ? atoi(argv[10]) : 0,
                           .random_seed = (unsigned)rand() | 1u};
    o.pooling = !strcmp(argv[4], "avg")   ? KVK_POOLING_AVG
                : !strcmp(argv[4], "max") ? KVK_POOLING_MAX
                                          : KVK_POOLING_NONE;
    int legacy = !strcmp(argv[2], "legacy");
    kvk_context *dev = tu_context(0), *ref = tu_reference_context();
    const kvk_application *app = kvk_application_find(o.architecture);
    if (!tu_check(app != NULL, "architecture %s: %s", o.architecture, kvk_last_error()))
        return tu_finish();

    kvk_model *m_dev = NULL, *m_ref = NULL;
    kvk_model *models[2] = {NULL, NULL};
    kvk_context *ctxs[2] = {dev, ref};
    for (int k = 0; k < 2; k++) {
        kvk_app_args args;
        if (!tu_check(kvk_application_check_args(app, &o, &args) == KVK_OK, "args: %s",
                      kvk_last_error()))
            return tu_finish();
        /* random weights pick the keras2 naming; a stand-in file whose first layer is named
         * as Keras 2.2.4 named it selects the legacy one */
        kvk_weight_layer conv1 = {.name = "conv1"};
        kvk_weight_file legacy_file = {
            .path = "(legacy naming)", .layer_count = 1, .layers = &conv1};
        if (legacy) args.weights = &legacy_file;
        kvk_graph g;
        kvk_graph_init(&g);
        kvk_status st = app->build(&g, &args);
        if (st == KVK_OK) st = kvk_random_weights(&g, o.random_seed);
        /* Random weights saturate the classifier's softmax (one class at 1.0), which would
         * hide any error: compare the logits. Softmax itself is covered by the op tests and,
         * unsaturated, by the Keras cases. (MobileNet's softmax is an Activation layer.) */
        if (g.output >= 0 &&
            (g.nodes[g.output].op == KVK_OP_DENSE || g.nodes[g.output].op == KVK_OP_ACTIVATION) &&
            g.nodes[g.output].act == KVK_ACT_SOFTMAX)
            g.nodes[g.output].act = KVK_ACT_LINEAR;
        if (!tu_check(st == KVK_OK, "build %s: %s", o.architecture, kvk_last_error()))
            return tu_finish();
        if (legacy)
            tu_check(kvk_graph_find(&g, "res2a_branch2a") >= 0, "legacy naming has res2a_branch2a");
        st = kvk_model_from_graph(ctxs[k], &g, o.batch, 1, KVK_PRECISION_FP32, &models[k]);
        if (!tu_check(st == KVK_OK, "model on %s: %s", kvk_context_device_name(ctxs[k]),
                      kvk_last_error()))
            return tu_finish();
    }
    m_dev = models[0];
    m_ref = models[1];
    int h, w, c;
    kvk_model_input_shape(m_dev, &h, &w, &c);
    long in_n = (long)o.batch * h * w * c, out_n = (long)o.batch * kvk_model_output_size(m_dev);
    tu_check(kvk_model_output_size(m_dev) == kvk_model_output_size(m_ref), "output sizes agree");
    /* barriers only between dependent dispatches (the validation layer's synchronization
     * checks report a missing one): InceptionV3's branches all read their block's input */
    kvk_model_recording rec;
    kvk_model_get_recording(m_dev, &rec);
    tu_check(rec.dispatches > 0 && rec.barriers > 0 && rec.barriers <= rec.dispatches + 1,
             "recorded %d dispatches, %d barriers", rec.dispatches, rec.barriers);
    tu_check(rec.pipelines > 0 && rec.pipelines <= rec.dispatches, "%d pipelines for %d dispatches",
             rec.pipelines, rec.dispatches);
    /* each pipeline is a compile at a cold start: on a CPU driver the conv and Dense kernels
     * have one width (conv.c), so these cases need 7-15; with a width per layer they took up
     * to 20 */
    if (strstr(kvk_context_device_name(dev), "[cpu"))
        tu_check(rec.pipelines <= 16, "%s on a CPU driver: %d pipelines", o.architecture,
                 rec.pipelines);
    if (!strcmp(o.architecture, "inception_v3"))
        tu_check(rec.barriers + 10 < rec.dispatches, "InceptionV3: %d barriers for %d dispatches",
                 rec.barriers, rec.dispatches);
    float *x = tu_random_array(in_n, -120.f, 150.f);
    float *y_dev = malloc(sizeof(float) * (size_t)out_n),
          *y_ref = malloc(sizeof(float) * (size_t)out_n);
    for (int run = 0; run < 2; run++) { /* twice: the recorded command buffer is re-submitted */
        tu_poison(y_dev, out_n);
        tu_poison(y_ref, out_n);
        tu_check(kvk_model_run(m_dev, x, o.batch, y_dev) == KVK_OK, "run device: %s",
                 kvk_last_error());
        if (run == 0)
            tu_check(kvk_model_run(m_ref, x, o.batch, y_ref) == KVK_OK, "run reference: %s",
                     kvk_last_error());
        else
            kvk_model_run(m_ref, x, o.batch, y_ref);
        double err = tu_rel_error(y_dev, y_ref, out_n);
        printf("%s %s top=%d pooling=%s %dx%d batch %d alpha %g: relative error vs CPU "
               "reference %.3g\n",
               argv[1], argv[2], o.include_top, argv[4], h, w, o.batch, o.alpha, err);
        tu_check(err <= 1e-4, "relative error %.3g <= 1e-4 (run %d)", err, run);
        /* a new input: nothing may be left over from the last run */
        for (long i = 0; i < in_n; i++) x[i] = tu_uniform(-120.f, 150.f);
    }
    free(x);
    free(y_dev);
    free(y_ref);
    kvk_model_destroy(m_dev);
    kvk_model_destroy(m_ref);
    tu_check_validation(dev);
    kvk_context_destroy(dev);
    kvk_context_destroy(ref);
    return tu_finish();
}
