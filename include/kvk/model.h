/* Building a Keras application on a context and running inference. */
#ifndef KVK_MODEL_H
#define KVK_MODEL_H

#include "kvk/context.h"
#include "kvk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvk_model kvk_model;

typedef enum kvk_pooling { KVK_POOLING_NONE, KVK_POOLING_AVG, KVK_POOLING_MAX } kvk_pooling;

/* The keras.applications constructor arguments. Zero-initialise, then set what you need. */
typedef struct kvk_model_options {
    const char *architecture; /* "vgg16", "vgg19", "resnet50" */
    const char *weights;      /* a weight file path; NULL = random weights (benchmarks) */
    int include_top;          /* 1: the classifier, at the default input size only */
    kvk_pooling pooling;      /* without the top: none (4-D output), avg or max */
    int classes;              /* 0 = 1000 */
    int height, width;        /* 0 = the default size (224) */
    int batch;                /* 0 = 1; the most images one kvk_model_run takes */
    unsigned random_seed;     /* for weights == NULL */
} kvk_model_options;

kvk_status kvk_model_create(kvk_context *ctx, const kvk_model_options *options, kvk_model **out);
void kvk_model_destroy(kvk_model *model);

/* NHWC input shape for one image (h, w, 3) and the output shape per image: (classes) with
 * the top or pooling, else (h', w', c). Returns the number of output dims. */
void kvk_model_input_shape(const kvk_model *model, int *height, int *width, int *channels);
int kvk_model_output_shape(const kvk_model *model, int dims[3]);
/* Floats per image, the product of the output shape. */
long kvk_model_output_size(const kvk_model *model);

/* Runs `batch` images (1..options.batch): input is batch*h*w*3 floats, already
 * preprocessed; output receives batch*kvk_model_output_size() floats. */
kvk_status kvk_model_run(kvk_model *model, const float *input, int batch, float *output);

/* The preprocess_input mode Keras uses for this architecture ("caffe" for VGG and ResNet50). */
const char *kvk_model_preprocess_mode(const kvk_model *model);

/* Statistics of the built model, for --verbose and benchmarks. */
typedef struct kvk_model_info {
    long layers;             /* executed operations after fusion */
    double flops;            /* per image, 2 x multiply-adds */
    double weight_bytes;     /* resident weights */
    double activation_bytes; /* the planned activation pool */
    int batch_chunk;         /* images recorded per command buffer submission */
} kvk_model_info;
void kvk_model_get_info(const kvk_model *model, kvk_model_info *info);

#ifdef __cplusplus
}
#endif
#endif
