/* The CPU reference: naive loops over NHWC float32 tensors with double accumulation. They are
 * the oracle for every op test and the `cpu-reference` device; clarity over speed. */
#ifndef KVK_CPU_REFERENCE_H
#define KVK_CPU_REFERENCE_H

#include "core/graph.h"

/* Window geometry shared by convolution and pooling. */
typedef struct kvk_window {
    int kh, kw, sh, sw;
    int pad_top, pad_left; /* bottom/right padding follows from the output size */
    int pad_zero;          /* pools: positions outside the input are zeros (kvk_node's) */
} kvk_window;

void kvk_ref_conv2d(const float *in, int batch, kvk_shape is, const float *kernel,
                    const float *bias, kvk_window win, kvk_shape os, kvk_act act, float *out);
void kvk_ref_dense(const float *in, int batch, int in_features, const float *kernel,
                   const float *bias, int units, kvk_act act, float *out);
/* out = (x - mean) / sqrt(var + eps) * gamma + beta, per channel, as Keras computes it */
void kvk_ref_batchnorm(const float *in, long pixels, int channels, const float *gamma,
                       const float *beta, const float *mean, const float *variance, float epsilon,
                       kvk_act act, float *out);
/* element-wise activation; softmax over the last axis of `channels` */
void kvk_ref_activation(const float *in, long pixels, int channels, kvk_act act, float *out);
void kvk_ref_add(const float *a, const float *b, long count, kvk_act act, float *out);
/* a * b; with b_per_image = channels, b holds one value per image and channel, broadcast over
 * the `pixels` of each image */
void kvk_ref_multiply(const float *a, const float *b, int batch, long pixels, int channels,
                      int b_per_channel, kvk_act act, float *out);
/* x * scale[c] + shift[c] */
void kvk_ref_affine(const float *in, long pixels, int channels, const float *scale,
                    const float *shift, kvk_act act, float *out);
void kvk_ref_zeropad(const float *in, int batch, kvk_shape is, int top, int left, kvk_shape os,
                     float *out);
/* 'same' borders: max ignores padding, average divides by the valid pixels (TensorFlow); with
 * win.pad_zero the positions outside are zeros, which both count */
void kvk_ref_pool(const float *in, int batch, kvk_shape is, int is_max, kvk_window win,
                  kvk_shape os, float *out);
/* kernel (kh, kw, cin, depth_multiplier); output channel c * depth_multiplier + m; with
 * in_relu the input is read through ReLU (NaN stays NaN) */
void kvk_ref_depthwise_conv2d(const float *in, int batch, kvk_shape is, const float *kernel,
                              const float *bias, int depth_multiplier, kvk_window win, int in_relu,
                              kvk_shape os, kvk_act act, float *out);
/* Concatenate, one input at a time: copies `pixels` rows of in_channels into channels
 * offset.. of rows of out_channels */
void kvk_ref_channel_slice(const float *in, long pixels, int in_channels, int out_channels,
                           int offset, float *out);
void kvk_ref_global_pool(const float *in, int batch, kvk_shape is, int is_max, float *out);

#endif
