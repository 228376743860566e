/* The thread model of include/kvk/context.h and model.h: contexts and models used from several
 * threads at once give, bit for bit, what one thread gives, and the validation layer (whose
 * thread-safety checks report any externally synchronised object used by two threads at once)
 * stays silent.
 *   1. a reference: one thread, one context, one model, THREADS fresh random inputs;
 *   2. each thread its own context and model, all made and run at the same time;
 *   3. one model shared by every thread (its runs take turns);
 *   4. one context shared: each thread makes, runs and destroys its own model on it;
 *   5. models from an HDF5 file (a Keras model.save with its config) made by every thread at
 *      once, libhdf5 in this process and in reader processes.
 * Every output buffer is poisoned with NaN before each run. */
#include <pthread.h>

#include "testutil.h"

enum { THREADS = 4, RUNS = 2, BATCH = 2 };
/* Part 2 makes a Vulkan device per thread, and SwiftShader compiles every pipeline again for
 * each device: two threads show the same as four for a quarter of the time. */
enum { OWN_CONTEXT_THREADS = 2 };

static kvk_model_options model_options(unsigned seed) {
    /* MobileNet at alpha 0.25: convolutions, depthwise convolutions, ReLU6, global pooling,
     * for a few milliseconds a run */
    return (kvk_model_options){.architecture = "mobilenet",
                               .alpha = 0.25,
                               .height = 48,
                               .width = 64,
                               .pooling = KVK_POOLING_AVG,
                               .batch = BATCH,
                               .random_seed = seed};
}

typedef struct job {
    int index;
    kvk_context *ctx; /* shared context (parts 3-5), else NULL: the thread makes its own */
    kvk_model *model; /* shared model (part 3), else NULL: the thread makes its own */
    kvk_model_options options;
    pthread_barrier_t *start;
    const float *input;
    long output_floats;
    float *outputs[RUNS]; /* what each run gave */
    int validation_messages;
    char error[512]; /* empty: every call succeeded */
} job;

static void fail(job *j, const char *what) {
    if (!j->error[0])
        snprintf(j->error, sizeof j->error, "thread %d: %s: %s", j->index, what, kvk_last_error());
}

static void *worker(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->start); /* everyone creates at once */
    kvk_context *own_ctx = NULL;
    kvk_model *own_model = NULL;
    kvk_context *ctx = j->ctx;
    if (!ctx) {
        kvk_context_options co = {0};
        if (kvk_context_create(&co, &own_ctx) != KVK_OK) {
            fail(j, "kvk_context_create");
            return NULL;
        }
        ctx = own_ctx;
    }
    kvk_model *m = j->model;
    if (!m && kvk_model_create(ctx, &j->options, &own_model) != KVK_OK) fail(j, "kvk_model_create");
    if (!m) m = own_model;
    for (int r = 0; m && r < RUNS; r++) {
        tu_poison(j->outputs[r], j->output_floats);
        if (kvk_model_run(m, j->input, BATCH, j->outputs[r]) != KVK_OK) fail(j, "kvk_model_run");
    }
    kvk_model_destroy(own_model);
    if (own_ctx) j->validation_messages = kvk_context_validation_messages(own_ctx);
    kvk_context_destroy(own_ctx);
    return NULL;
}

/* Runs n jobs at once; checks each run's output against expected[thread]. */
static void run_part(const char *part, int n, job *jobs, float *const *expected) {
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    pthread_t threads[THREADS];
    for (int t = 0; t < n; t++) {
        jobs[t].index = t;
        jobs[t].start = &start;
        for (int r = 0; r < RUNS; r++) {
            jobs[t].outputs[r] = malloc(sizeof(float) * (size_t)jobs[t].output_floats);
            if (!jobs[t].outputs[r]) abort();
        }
        if (pthread_create(&threads[t], NULL, worker, &jobs[t]) != 0) abort();
    }
    for (int t = 0; t < n; t++) pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < n; t++) {
        tu_check(!jobs[t].error[0], "%s: %s", part, jobs[t].error[0] ? jobs[t].error : "no error");
        tu_check(jobs[t].validation_messages == 0, "%s, thread %d: %d validation messages", part, t,
                 jobs[t].validation_messages);
        for (int r = 0; r < RUNS && !jobs[t].error[0]; r++) {
            long differ = 0;
            for (long i = 0; i < jobs[t].output_floats; i++)
                differ += memcmp(&jobs[t].outputs[r][i], &expected[t][i], sizeof(float)) != 0;
            tu_check(differ == 0,
                     "%s, thread %d, run %d: %ld of %ld output values differ from the "
                     "single-threaded run (bit for bit)",
                     part, t, r, differ, jobs[t].output_floats);
        }
        for (int r = 0; r < RUNS; r++) free(jobs[t].outputs[r]);
    }
}

/* Single-threaded outputs of `m` for each thread's input. */
static float **reference_outputs(kvk_model *m, float *const *inputs, long out_floats) {
    float **out = calloc(THREADS, sizeof *out);
    if (!out) abort();
    for (int t = 0; t < THREADS; t++) {
        out[t] = malloc(sizeof(float) * (size_t)out_floats);
        if (!out[t]) abort();
        tu_poison(out[t], out_floats);
        tu_check(kvk_model_run(m, inputs[t], BATCH, out[t]) == KVK_OK, "reference run: %s",
                 kvk_last_error());
        int finite = 1;
        for (long i = 0; i < out_floats; i++) finite &= isfinite(out[t][i]) != 0;
        tu_check(finite, "reference run %d: every output value written and finite", t);
    }
    return out;
}

static void free_all(float **a) {
    for (int t = 0; a && t < THREADS; t++) free(a[t]);
    free(a);
}

static float **random_inputs(const kvk_model *m, float lo, float hi) {
    int h, w, c;
    kvk_model_input_shape(m, &h, &w, &c);
    float **in = calloc(THREADS, sizeof *in);
    if (!in) abort();
    for (int t = 0; t < THREADS; t++) in[t] = tu_random_array((long)BATCH * h * w * c, lo, hi);
    return in;
}

/* Part 5: a Keras 2 model.save file (conv, BatchNormalization, dense), read by every thread. */
static void file_models(kvk_context *ctx) {
    const char *data = getenv("KVK_SHARED_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/keras-h5/testvectors/fullconfigs_cnn_cnn_batch_norm.h5",
             data ? data : "../shared/data");
    if (access(path, R_OK) != 0) {
        tu_skip("%s is missing: no HDF5 part", path);
        return;
    }
    kvk_model_options o = {.model_file = path, .batch = BATCH};
    static const kvk_hdf5_mode modes[2] = {KVK_HDF5_IN_PROCESS, KVK_HDF5_ISOLATED};
    static const char *const names[2] = {"HDF5 models, libhdf5 in this process",
                                         "HDF5 models, libhdf5 in reader processes"};
    for (int k = 0; k < 2; k++) {
        kvk_set_hdf5_mode(modes[k], 0);
        kvk_model *m;
        if (!tu_check(kvk_model_create(ctx, &o, &m) == KVK_OK, "%s: %s", path, kvk_last_error()))
            break;
        float **inputs = random_inputs(m, -1, 1);
        long out_floats = BATCH * kvk_model_output_size(m);
        float **expected = reference_outputs(m, inputs, out_floats);
        kvk_model_destroy(m);
        job jobs[THREADS];
        for (int t = 0; t < THREADS; t++)
            jobs[t] =
                (job){.ctx = ctx, .options = o, .input = inputs[t], .output_floats = out_floats};
        run_part(names[k], THREADS, jobs, expected);
        free_all(expected);
        free_all(inputs);
    }
    kvk_set_hdf5_mode(KVK_HDF5_DEFAULT, 0);
}

int main(void) {
    unsigned seed = tu_seed();
    kvk_context *ctx = tu_context(0);
    kvk_model_options o = model_options(seed | 1u);
    kvk_model *shared;
    if (!tu_check(kvk_model_create(ctx, &o, &shared) == KVK_OK, "model: %s", kvk_last_error()))
        return tu_finish();
    float **inputs = random_inputs(shared, -1, 1);
    long out_floats = BATCH * kvk_model_output_size(shared);
    float **expected = reference_outputs(shared, inputs, out_floats);

    job jobs[THREADS];
    for (int t = 0; t < THREADS; t++)
        jobs[t] = (job){.options = o, .input = inputs[t], .output_floats = out_floats};
    run_part("own context and model per thread", OWN_CONTEXT_THREADS, jobs, expected);

    for (int t = 0; t < THREADS; t++)
        jobs[t] =
            (job){.ctx = ctx, .model = shared, .input = inputs[t], .output_floats = out_floats};
    run_part("one model shared by every thread", THREADS, jobs, expected);

    for (int t = 0; t < THREADS; t++)
        jobs[t] = (job){.ctx = ctx, .options = o, .input = inputs[t], .output_floats = out_floats};
    run_part("one context shared, a model per thread", THREADS, jobs, expected);

    kvk_model_destroy(shared);
    free_all(expected);
    free_all(inputs);
    file_models(ctx);
    tu_check_validation(ctx);
    kvk_context_destroy(ctx);
    return tu_finish();
}
