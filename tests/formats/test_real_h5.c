/* Every file under $KVK_SHARED_DATA/keras-h5 read through kvk_weight_file_read: each has a
 * decision in the table below (read, with values checked against h5py, or refused with a
 * given message), and a file without a decision fails the test. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keras/weights.h"

#include "testutil.h"

typedef struct expect {
    const char *file;  /* relative to keras-h5/ */
    const char *error; /* NULL: the file reads; else a substring of the error */
    kvk_weight_format format;
    const char *keras_version; /* "" when the file records none */
    int keras_major, theano_kernels, channels_first;
    int layers;         /* layers with weights */
    const char *absent; /* a weightless layer, which must be omitted ("" for none) */
    /* One weight, after normalisation, with values computed by h5py (for the theano file:
     * the stored kernel[::-1, ::-1, :, :]). */
    const char *layer;
    int index;
    const char *weight;
    int ndim;
    int64_t dims[4];
    double first, last, sum;
} expect;

/* Values in the comments: numpy on the datasets, float64 sums. */
static const expect table[] = {
    /* LSTM files: the reader is layer-agnostic; only the binder refuses LSTM layers. */
    {"keras1/examples_simple_lstm_simple_lstm_tf_keras_1_model.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "1.2.2",
     1,
     0,
     0,
     2,
     "",
     "lstm_1",
     1,
     "lstm_1_U_i:0",
     2,
     {50, 50},
     0.0288795084,
     0.2266794,
     -1.43905618},
    {"keras1/examples_simple_lstm_simple_lstm_tf_keras_1_weights.h5",
     NULL,
     KVK_FORMAT_H5_WEIGHTS,
     "",
     1,
     0,
     0,
     2,
     "",
     "lstm_1",
     1,
     "lstm_1_U_i:0",
     2,
     {50, 50},
     0.0288795084,
     0.2266794,
     -1.43905618},
    {"keras1/weights_batch_to_conv2d_tensorflow_1.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "1.2.2",
     1,
     0,
     0,
     3,
     "reshape_1",
     "batchnormalization_1",
     3,
     "batchnormalization_1_running_std:0",
     1,
     {10},
     1,
     1,
     10},
    {"keras1/weights_conv2d_tensorflow_1.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "1.2.2",
     1,
     0,
     0,
     1,
     "",
     "convolution2d_1",
     0,
     "convolution2d_1_W:0",
     4,
     {3, 3, 5, 6},
     0,
     269,
     36315},
    {"keras1/weights_conv2d_theano_1.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "1.2.2",
     1,
     1,
     0,
     1,
     "",
     "convolution2d_1",
     0,
     "convolution2d_1_W",
     4,
     {3, 3, 5, 6},
     240,
     29,
     36315},
    {"keras1/weights_dense_tensorflow_1.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "1.2.2",
     1,
     0,
     0,
     1,
     "",
     "dense_1",
     0,
     "dense_1_W:0",
     2,
     {4, 6},
     0,
     23,
     276},
    {"keras2/examples_12net.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.2.0",
     2,
     0,
     0,
     8,
     "input_2",
     "conv4-2",
     0,
     "conv4-2_1/kernel:0",
     4,
     {1, 1, 32, 4},
     -0.325226516,
     0.331269681,
     3.09544261},
    {"keras2/examples_simple_lstm_simple_lstm_tf_keras_2_model.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.0.6",
     2,
     0,
     0,
     2,
     "",
     "lstm_1",
     1,
     "lstm_1/recurrent_kernel:0",
     2,
     {50, 200},
     0.0098200161,
     0.0921930969,
     -2.01698025},
    {"keras2/examples_simple_sparse_xent_simple_sparse_xent_mlp_keras_2_model.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.3.1",
     2,
     0,
     0,
     1,
     "activation_1",
     "dense_1",
     0,
     "dense_1/kernel:0",
     2,
     {4, 3},
     0.263332605,
     0.610965252,
     0.141892433},
    {"keras2/examples_simple_sparse_xent_simple_sparse_xent_mlp_keras_2_weights.h5",
     NULL,
     KVK_FORMAT_H5_WEIGHTS,
     "2.3.1",
     2,
     0,
     0,
     1,
     "activation_1",
     "dense_1",
     0,
     "dense_1/kernel:0",
     2,
     {4, 3},
     0.263332605,
     0.610965252,
     0.141892433},
    {"keras2/weights_batch_to_conv2d_tensorflow_2.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.1.3",
     2,
     0,
     0,
     3,
     "reshape_1",
     "conv2d_1",
     0,
     "conv2d_1/kernel:0",
     4,
     {3, 3, 10, 5},
     0.0605894476,
     0.100269809,
     2.53189091},
    {"keras2/weights_conv2d_tensorflow_2.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.1.3",
     2,
     0,
     0,
     1,
     "",
     "conv2d_1",
     0,
     "conv2d_1/kernel:0",
     4,
     {3, 3, 5, 6},
     0,
     269,
     36315},
    {"keras2/weights_dense_tensorflow_2.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.1.3",
     2,
     0,
     0,
     1,
     "",
     "dense_1",
     1,
     "dense_1/bias:0",
     1,
     {6},
     0,
     5,
     15},
    {"keras2/weights_sepconv2d_tensorflow_2.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.1.3",
     2,
     0,
     0,
     1,
     "",
     "separable_conv2d_1",
     1,
     "separable_conv2d_1/pointwise_kernel:0",
     4,
     {1, 1, 10, 6},
     0,
     59,
     1770},
    {"keras2/weights_simpleconv2d_model.hdf5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.3.1",
     2,
     0,
     0,
     6,
     "flatten_1",
     "dense_1",
     0,
     "dense_1/kernel:0",
     2,
     {450, 128},
     0.00101421028,
     0.00645870715,
     5.02357702},
    {"testvectors/fullconfigs_cnn_cnn_batch_norm.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.1.3",
     2,
     0,
     0,
     4,
     "activation_1",
     "conv2d_1",
     0,
     "conv2d_1/kernel:0",
     4,
     {3, 3, 3, 1},
     0.07474792,
     -0.177849814,
     -0.189517215},
    {"tfkeras/tfkeras_GAPError.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.2.4",
     2,
     0,
     0,
     4,
     "global_average_pooling1d_5",
     "conv1d_11",
     0,
     "conv1d_11_1/kernel:0",
     3,
     {3, 128, 512},
     -0.0524981916,
     0.0199797601,
     19.1275493},
    {"tfkeras/tfkeras_batchNormError.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.2.4-tf",
     2,
     0,
     0,
     2,
     "input_1",
     "conv1d",
     0,
     "conv1d/kernel:0",
     3,
     {2, 25, 10},
     0.120057583,
     -0.216721505,
     3.51275584},
    {"tfkeras/tfkeras_cnn2d_100.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.2.4-tf",
     2,
     0,
     0,
     2,
     "max_pooling2d_57",
     "depthwise_conv2d_25",
     0,
     "depthwise_conv2d_25/depthwise_kernel:0",
     4,
     {3, 3, 3, 1},
     -0.263393641,
     0.252463222,
     -0.306142733},
    {"tfkeras/tfkeras_cnn2d_32.h5",
     NULL,
     KVK_FORMAT_H5_MODEL,
     "2.2.4-tf",
     2,
     0,
     0,
     2,
     "cropping2d_32",
     "locally_connected2d_1",
     0,
     "locally_connected2d_1/kernel:0",
     3,
     {66, 81, 4},
     -0.00736751594,
     0.0189270191,
     -0.687394323},
    /* Arrays of Keras inputs and activations, not a weight file. */
    {"testvectors/examples_simple_sparse_xent_simple_sparse_xent_mlp_keras_2_inputs_and_outputs.h5",
     "HDF5 file without a 'layer_names' or 'nb_layers' attribute or a 'model_weights' group",
     0,
     "",
     0,
     0,
     0,
     0,
     "",
     "",
     0,
     "",
     0,
     {0},
     0,
     0,
     0},
    {"testvectors/examples_simple_sparse_xent_simple_sparse_xent_mlp_keras_2_config.json",
     "JSON without \"weightsManifest\"",
     0,
     "",
     0,
     0,
     0,
     0,
     "",
     "",
     0,
     "",
     0,
     {0},
     0,
     0,
     0},
    {"testvectors/fullconfigs_cnn_input.npy",
     "not a Keras weight file (expected HDF5 or "
     "TensorFlow.js model.json)",
     0,
     "",
     0,
     0,
     0,
     0,
     "",
     "",
     0,
     "",
     0,
     {0},
     0,
     0,
     0},
    {"testvectors/fullconfigs_cnn_predictions.npy",
     "not a Keras weight file (expected HDF5 or "
     "TensorFlow.js model.json)",
     0,
     "",
     0,
     0,
     0,
     0,
     "",
     "",
     0,
     "",
     0,
     {0},
     0,
     0,
     0},
};
#define TABLE_SIZE (sizeof table / sizeof table[0])

static int seen[TABLE_SIZE];

/* Runs inspect into a temporary file and returns its text (static buffer). */
static const char *inspect_text(const char *path, kvk_status *st) {
    static char buf[1 << 20];
    buf[0] = '\0';
    FILE *f = tmpfile();
    if (!f) {
        *st = KVK_ERROR_IO;
        return buf;
    }
    *st = kvk_weight_file_inspect(path, f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void check_inspect(const char *path, const expect *e) {
    kvk_status st;
    const char *text = inspect_text(path, &st);
    if (e->error) {
        CHECK(st != KVK_OK && strstr(kvk_last_error(), e->error),
              "%s: inspect should fail with '%s', got %s", e->file, e->error, kvk_last_error());
        return;
    }
    CHECK(st == KVK_OK, "%s: inspect failed: %s", e->file, kvk_last_error());
    char line[512];
    snprintf(line, sizeof line, "\n  %s\n", e->layer);
    CHECK(strstr(text, line) != NULL, "%s: inspect output lacks layer %s", e->file, e->layer);
    snprintf(line, sizeof line, "\n    %s ", e->weight);
    CHECK(strstr(text, line) != NULL, "%s: inspect output lacks weight %s", e->file, e->weight);
    snprintf(line, sizeof line, "(%d with weights)", e->layers);
    CHECK(strstr(text, line) != NULL, "%s: inspect output lacks '%s'", e->file, line);
    CHECK(strstr(text, "float32") != NULL, "%s: inspect output lacks dtypes", e->file);
    if (e->theano_kernels)
        CHECK(strstr(text, "[theano: flipped spatially]") != NULL, "%s: inspect shows no flip",
              e->file);
}

static void check_file(const char *path, const expect *e) {
    kvk_weight_file *file = NULL;
    kvk_status st = kvk_weight_file_read(path, &file);
    if (e->error) {
        CHECK(st != KVK_OK, "%s: should be refused", e->file);
        CHECK(strstr(kvk_last_error(), e->error) != NULL, "%s: error '%s' lacks '%s'", e->file,
              kvk_last_error(), e->error);
        CHECK(strstr(kvk_last_error(), path) != NULL, "%s: error '%s' does not name the file",
              e->file, kvk_last_error());
        kvk_weight_file_free(file);
        check_inspect(path, e);
        return;
    }
    CHECK(st == KVK_OK, "%s: %s", e->file, kvk_last_error());
    if (st != KVK_OK) return;
    CHECK(file->format == e->format, "%s: format %d, expected %d", e->file, file->format,
          e->format);
    CHECK(strcmp(file->keras_version ? file->keras_version : "", e->keras_version) == 0,
          "%s: keras_version '%s', expected '%s'", e->file,
          file->keras_version ? file->keras_version : "(null)", e->keras_version);
    CHECK(file->keras_major == e->keras_major, "%s: keras_major %d, expected %d", e->file,
          file->keras_major, e->keras_major);
    CHECK(file->theano_kernels == e->theano_kernels, "%s: theano_kernels %d", e->file,
          file->theano_kernels);
    CHECK(file->channels_first == e->channels_first, "%s: channels_first %d", e->file,
          file->channels_first);
    CHECK((file->format == KVK_FORMAT_H5_MODEL) == (file->model_config != NULL),
          "%s: model_config present iff model.save", e->file);
    CHECK(file->layer_count == e->layers, "%s: %d layers with weights, expected %d", e->file,
          file->layer_count, e->layers);
    if (e->absent[0])
        CHECK(kvk_weight_file_layer(file, e->absent) == NULL, "%s: weightless layer %s listed",
              e->file, e->absent);
    for (int i = 0; i < file->layer_count; i++) {
        CHECK(file->layers[i].count > 0, "%s: layer %s has no weights", e->file,
              file->layers[i].name);
        for (int j = 0; j < file->layers[i].count; j++)
            CHECK(file->layers[i].weights[j].data != NULL && file->layers[i].weights[j].dtype,
                  "%s: %s has no data", e->file, file->layers[i].weights[j].name);
    }
    const kvk_weight_layer *layer = kvk_weight_file_layer(file, e->layer);
    CHECK(layer != NULL, "%s: no layer %s", e->file, e->layer);
    if (layer && e->index < layer->count) {
        const kvk_weight *w = &layer->weights[e->index];
        CHECK(strcmp(w->name, e->weight) == 0, "%s: weight %d of %s is %s, expected %s", e->file,
              e->index, e->layer, w->name, e->weight);
        CHECK(w->ndim == e->ndim, "%s: %s has %d dims, expected %d", e->file, w->name, w->ndim,
              e->ndim);
        int64_t n = 1;
        for (int d = 0; d < w->ndim && d < e->ndim; d++) {
            CHECK(w->dims[d] == e->dims[d], "%s: %s dim %d is %lld, expected %lld", e->file,
                  w->name, d, (long long)w->dims[d], (long long)e->dims[d]);
            n *= w->dims[d];
        }
        if (w->ndim == e->ndim && n > 0) {
            double sum = 0;
            for (int64_t k = 0; k < n; k++) sum += w->data[k];
            CHECK(fabs(w->data[0] - e->first) <= 1e-6 * (1 + fabs(e->first)),
                  "%s: %s[0] = %.9g, expected %.9g", e->file, w->name, w->data[0], e->first);
            CHECK(fabs(w->data[n - 1] - e->last) <= 1e-6 * (1 + fabs(e->last)),
                  "%s: %s[-1] = %.9g, expected %.9g", e->file, w->name, w->data[n - 1], e->last);
            CHECK(fabs(sum - e->sum) <= 1e-5 * (1 + fabs(e->sum)),
                  "%s: sum of %s = %.9g, expected %.9g", e->file, w->name, sum, e->sum);
        }
    } else if (layer) {
        CHECK(0, "%s: layer %s has %d weights", e->file, e->layer, layer->count);
    }
    kvk_weight_file_free(file);
    check_inspect(path, e);
}

/* Walks dir (relative part `rel`) and checks every regular file against the table. */
static void walk(const char *root, const char *rel) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) {
        CHECK(0, "cannot open directory %s", dir);
        return;
    }
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        char sub[4096], full[8192];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", ent->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat sb;
        if (stat(full, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            walk(root, sub);
            continue;
        }
        size_t i;
        for (i = 0; i < TABLE_SIZE; i++)
            if (strcmp(table[i].file, sub) == 0) break;
        if (i == TABLE_SIZE) {
            CHECK(0,
                  "%s has no entry in the table of test_real_h5.c: decide what reading it "
                  "should give",
                  sub);
            continue;
        }
        seen[i] = 1;
        check_file(full, &table[i]);
    }
    closedir(d);
}

int main(void) {
    const char *shared = getenv("KVK_SHARED_DATA");
    if (!shared) {
        printf("FAIL: KVK_SHARED_DATA is not set\n0 passed, 1 failed\n");
        return 1;
    }
    char root[4096];
    snprintf(root, sizeof root, "%s/keras-h5", shared);
    walk(root, "");
    for (size_t i = 0; i < TABLE_SIZE; i++)
        CHECK(seen[i], "%s is in the table but not in %s", table[i].file, root);
    return tu_finish();
}
