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

/* How a Vulkan device stores the weights. KVK_PRECISION_FP16: Conv2D, SeparableConv2D's
 * pointwise half and Dense weights as float16 (rounded to nearest, as numpy's
 * astype(float16)): half the weight memory and bandwidth; activations and arithmetic stay
 * float32. Results then differ from Keras' by about 1e-3 (docs/performance.md has the figures
 * per model). The CPU reference refuses it: it is the float32 reference. */
typedef enum kvk_precision { KVK_PRECISION_FP32, KVK_PRECISION_FP16 } kvk_precision;

/* The keras.applications constructor arguments. Zero-initialise, then set what you need.
 * architecture NULL or "auto": the architecture saved in the weight file (its model config:
 * a Keras model.save .h5, a TensorFlow.js model.json; see model_file). With a named
 * application and a weight file that carries a config, the config wins when the whole model
 * is asked for (include_top, no pooling); kvk_model_source() says which was used. */
typedef struct kvk_model_options {
    const char *architecture; /* "vgg16", "resnet50", "mobilenet_v2", ... (kvk --help lists them) */
    const char *weights;      /* a weight file path; NULL = random weights (benchmarks) */
    int include_top;          /* 1: the classifier, at the default input size only */
    kvk_pooling pooling;      /* without the top: none (4-D output), avg or max */
    int classes;              /* 0 = 1000 */
    int height, width;        /* 0 = the default size (224; 299 for InceptionV3, Xception) */
    int batch;                /* 0 = 1; the most images one kvk_model_run takes */
    unsigned random_seed;     /* for weights == NULL */
    /* Features: the Keras layer names whose outputs the model returns, in this order (what
     * Model(base.input, [base.get_layer(n).output, ...]) gives in Keras). NULL: the model's
     * own output. Only the layers these outputs need are run. */
    const char *const *output_layers;
    int output_layer_count;
    /* With output_layers: global average or max pooling of each (h, w, c) layer output,
     * giving (c) per image. */
    kvk_pooling output_pooling;
    /* A file carrying the architecture (model config) and, unless `weights` is set, the
     * weights: a Keras 2 model.save .h5 or a TensorFlow.js model.json. Any Sequential or
     * functional model of the supported layers, nested models included. Its input size is
     * the config's (height/width needed only where the config leaves it None); include_top,
     * pooling and architecture are ignored; output_layers take the config's layer names. */
    const char *model_file;
    /* MobileNet and MobileNetV2's width multiplier `alpha`: 0 = the one the weight file was
     * made with (told from its layer widths), or 1.0 without a file. Other models: 0. */
    double alpha;
    /* MobileNet's depth_multiplier: 0 = the weight file's, or 1 without a file. */
    int depth_multiplier;
    /* The weights' storage on the device (0: float32). KVK_PRECISION=fp16 in the environment
     * sets it where this is 0. */
    kvk_precision precision;
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
 * preprocessed; output receives batch*kvk_model_output_size() floats.
 * Threads: a model may be shared by several threads. Its runs (this and
 * kvk_model_run_outputs) are serialised by a lock of the model's own, because a run fills the
 * model's one input buffer, re-submits its one recorded command buffer and reads its output
 * buffers: the calls are safe and take turns, each returning its own inputs' results. For
 * inferences that overlap, give each thread its own model (on one context or several; see
 * context.h). */
kvk_status kvk_model_run(kvk_model *model, const float *input, int batch, float *output);

/* Several outputs (output_layers). Output 0 is what the single-output calls above use. */
int kvk_model_output_count(const kvk_model *model);
/* The Keras layer name of output `index` (the pooled layer's name with output_pooling). */
const char *kvk_model_output_name(const kvk_model *model, int index);
/* Per-image shape of output `index`, as kvk_model_output_shape; returns the number of dims. */
int kvk_model_output_dims(const kvk_model *model, int index, int dims[3]);
/* Floats per image of output `index`. */
long kvk_model_output_floats(const kvk_model *model, int index);
/* Runs `batch` images; outputs[k] receives batch * kvk_model_output_floats(model, k) floats. */
kvk_status kvk_model_run_outputs(kvk_model *model, const float *input, int batch,
                                 float *const *outputs);

/* The preprocess_input mode Keras uses for this architecture ("caffe" for VGG and ResNet50,
 * "tf" for InceptionV3 and Xception). A model from a config: the mode of a known application
 * it is or contains by name (a nested "resnet50": caffe), else "none" (a custom model's
 * preprocessing is its author's choice: pass the right one). */
const char *kvk_model_preprocess_mode(const kvk_model *model);

/* Where the network came from: "config" (the architecture saved in the file) or "builder"
 * (kvk's own code for options.architecture). */
const char *kvk_model_source(const kvk_model *model);
/* The Keras model name: the config's outermost model ("sequential", "model", ...) or the
 * application's ("resnet50"). */
const char *kvk_model_name(const kvk_model *model);

/* The Keras layers the model runs, in Keras' model.layers order (tf-keras' order: by depth
 * from the outputs, then first visit; the input layer first): what Keras' model.layers lists (the
 * application's layers, or the config's, up to the requested outputs). kvk's own internal nodes (a
 * SeparableConv2D's depthwise half, a split-off softmax) are not listed; layers fused for speed
 * still are. Index 0..kvk_model_layer_count()-1. */
int kvk_model_layer_count(const kvk_model *model);
/* The layer's Keras name ("conv1_conv"), or NULL for an index out of range. */
const char *kvk_model_layer_name(const kvk_model *model, int index);
/* The layer's Keras class ("Conv2D", "SeparableConv2D"), or NULL for an index out of range. */
const char *kvk_model_layer_class(const kvk_model *model, int index);
/* Its output shape per image, as kvk_model_output_dims: returns 1 or 3 (0 out of range). */
int kvk_model_layer_dims(const kvk_model *model, int index, int dims[3]);

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
