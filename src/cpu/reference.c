#include "cpu/reference.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keras' activations, in double; NaN propagates as in Keras (every comparison with NaN is
 * false, and the false branches keep x).
 * The other non-finite values follow TensorFlow's CPU kernels: MaxPool2D starts from the
 * lowest float and skips NaN (a window of NaN or -Inf gives -FLT_MAX); GlobalMaxPooling2D is
 * tf.reduce_max (NaN if any, -Inf stays); softmax is Eigen's (a row with NaN or +Inf, or only
 * -Inf, is NaN throughout). With TF_ENABLE_ONEDNN_OPTS=1, TensorFlow's oneDNN softmax differs
 * in one respect: the finite entries of such a row come out 0. */
static double clip01(double y) {
    return y < 0 ? 0 : y > 1 ? 1 : y;
}

static float activate(double x, kvk_act act) {
    switch (act.kind) {
    case KVK_ACT_RELU: /* relu(x, negative_slope, max_value, threshold) */
        if (x >= act.max_value) return act.max_value;
        if (x >= act.threshold) return (float)x;
        return act.negative_slope == 0 && !isnan(x)
                   ? 0.0f
                   : (float)(act.negative_slope * (x - act.threshold));
    case KVK_ACT_SIGMOID:
        return (float)(1 / (1 + exp(-x)));
    case KVK_ACT_TANH:
        return (float)tanh(x);
    case KVK_ACT_SWISH:
        return (float)(x / (1 + exp(-x)));
    case KVK_ACT_HARD_SIGMOID:
        return (float)clip01(0.2 * x + 0.5);
    case KVK_ACT_HARD_SIGMOID3:
        return (float)clip01(x / 6 + 0.5);
    case KVK_ACT_HARD_SWISH:
        return (float)(x * clip01(x / 6 + 0.5));
    case KVK_ACT_ELU:
        return (float)(x > 0 ? x : act.negative_slope * expm1(x));
    case KVK_ACT_SOFTPLUS:
        return (float)(log1p(exp(-fabs(x))) + (x > 0 ? x : 0));
    default: /* linear; softmax is applied over whole rows by the callers */
        return (float)x;
    }
}

void kvk_ref_conv2d(const float *in, int batch, kvk_shape is, const float *kernel,
                    const float *bias, kvk_window win, kvk_shape os, kvk_act act, float *out) {
    /* one output pixel at a time, all output channels together: the kernel's last axis is
     * output channels, so the innermost loop reads it contiguously */
    double *acc = malloc(sizeof(double) * (size_t)os.c);
    if (!acc) abort();
    for (int n = 0; n < batch; n++)
        for (int oy = 0; oy < os.h; oy++)
            for (int ox = 0; ox < os.w; ox++) {
                for (int co = 0; co < os.c; co++) acc[co] = bias ? bias[co] : 0.0;
                for (int ky = 0; ky < win.kh; ky++) {
                    int iy = oy * win.sh + ky - win.pad_top;
                    if (iy < 0 || iy >= is.h) continue;
                    for (int kx = 0; kx < win.kw; kx++) {
                        int ix = ox * win.sw + kx - win.pad_left;
                        if (ix < 0 || ix >= is.w) continue;
                        const float *px = in + (((long)n * is.h + iy) * is.w + ix) * is.c;
                        const float *w = kernel + ((long)ky * win.kw + kx) * is.c * os.c;
                        for (int ci = 0; ci < is.c; ci++) {
                            double x = px[ci];
                            const float *wr = w + (long)ci * os.c;
                            for (int co = 0; co < os.c; co++) acc[co] += x * wr[co];
                        }
                    }
                }
                float *o = out + (((long)n * os.h + oy) * os.w + ox) * os.c;
                for (int co = 0; co < os.c; co++) o[co] = activate(acc[co], act);
            }
    free(acc);
}

void kvk_ref_dense(const float *in, int batch, int in_features, const float *kernel,
                   const float *bias, int units, kvk_act act, float *out) {
    for (int n = 0; n < batch; n++) {
        for (int o = 0; o < units; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int i = 0; i < in_features; i++)
                acc += (double)in[(long)n * in_features + i] * kernel[(long)i * units + o];
            out[(long)n * units + o] =
                act.kind == KVK_ACT_SOFTMAX ? (float)acc : activate(acc, act);
        }
        if (act.kind == KVK_ACT_SOFTMAX)
            kvk_ref_activation(out + (long)n * units, 1, units, act, out + (long)n * units);
    }
}

void kvk_ref_batchnorm(const float *in, long pixels, int channels, const float *gamma,
                       const float *beta, const float *mean, const float *variance, float epsilon,
                       kvk_act act, float *out) {
    for (long p = 0; p < pixels; p++)
        for (int c = 0; c < channels; c++) {
            double x = in[p * channels + c];
            double y = (x - mean[c]) / sqrt((double)variance[c] + epsilon);
            if (gamma) y *= gamma[c];
            if (beta) y += beta[c];
            out[p * channels + c] = activate(y, act);
        }
}

void kvk_ref_activation(const float *in, long pixels, int channels, kvk_act act, float *out) {
    for (long p = 0; p < pixels; p++) {
        const float *x = in + p * channels;
        float *y = out + p * channels;
        if (act.kind != KVK_ACT_SOFTMAX) {
            for (int c = 0; c < channels; c++) y[c] = activate(x[c], act);
            continue;
        }
        double max = -INFINITY, sum = 0;
        for (int c = 0; c < channels; c++) max = isnan(x[c]) ? INFINITY : x[c] > max ? x[c] : max;
        if (!isfinite(max)) { /* NaN or +Inf in the row, or only -Inf */
            for (int c = 0; c < channels; c++) y[c] = NAN;
            continue;
        }
        for (int c = 0; c < channels; c++) sum += exp((double)x[c] - max);
        for (int c = 0; c < channels; c++) y[c] = (float)(exp((double)x[c] - max) / sum);
    }
}

void kvk_ref_add(const float *a, const float *b, long count, kvk_act act, float *out) {
    for (long i = 0; i < count; i++) out[i] = activate((double)a[i] + b[i], act);
}

void kvk_ref_multiply(const float *a, const float *b, int batch, long pixels, int channels,
                      int b_per_channel, kvk_act act, float *out) {
    for (int n = 0; n < batch; n++)
        for (long p = 0; p < pixels; p++)
            for (int c = 0; c < channels; c++) {
                long i = ((long)n * pixels + p) * channels + c;
                double bv = b_per_channel ? b[(long)n * channels + c] : b[i];
                out[i] = activate((double)a[i] * bv, act);
            }
}

void kvk_ref_affine(const float *in, long pixels, int channels, const float *scale,
                    const float *shift, kvk_act act, float *out) {
    for (long p = 0; p < pixels; p++)
        for (int c = 0; c < channels; c++)
            out[p * channels + c] =
                activate((double)in[p * channels + c] * scale[c] + shift[c], act);
}

void kvk_ref_zeropad(const float *in, int batch, kvk_shape is, int top, int left, kvk_shape os,
                     float *out) {
    memset(out, 0, sizeof(float) * batch * kvk_shape_size(os));
    for (int n = 0; n < batch; n++)
        for (int y = 0; y < is.h; y++)
            memcpy(out + (((long)n * os.h + y + top) * os.w + left) * os.c,
                   in + ((long)n * is.h + y) * is.w * is.c, sizeof(float) * is.w * is.c);
}

void kvk_ref_pool(const float *in, int batch, kvk_shape is, int is_max, kvk_window win,
                  kvk_shape os, float *out) {
    for (int n = 0; n < batch; n++)
        for (int oy = 0; oy < os.h; oy++)
            for (int ox = 0; ox < os.w; ox++)
                for (int c = 0; c < os.c; c++) {
                    double acc = is_max ? -FLT_MAX : 0.0;
                    int count = 0;
                    for (int ky = 0; ky < win.kh; ky++) {
                        int iy = oy * win.sh + ky - win.pad_top;
                        for (int kx = 0; kx < win.kw; kx++) {
                            int ix = ox * win.sw + kx - win.pad_left;
                            int inside = iy >= 0 && iy < is.h && ix >= 0 && ix < is.w;
                            if (!inside && !win.pad_zero) continue;
                            double v =
                                inside ? in[(((long)n * is.h + iy) * is.w + ix) * is.c + c] : 0.0;
                            acc = is_max ? (v > acc ? v : acc) : acc + v; /* max skips NaN */
                            count++;
                        }
                    }
                    out[(((long)n * os.h + oy) * os.w + ox) * os.c + c] =
                        (float)(is_max ? acc : acc / count);
                }
}

void kvk_ref_global_pool(const float *in, int batch, kvk_shape is, int is_max, float *out) {
    long hw = (long)is.h * is.w;
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < is.c; c++) {
            double acc = is_max ? -INFINITY : 0.0;
            for (long p = 0; p < hw; p++) {
                double v = in[((long)n * hw + p) * is.c + c];
                acc = !is_max ? acc + v : isnan(v) || isnan(acc) ? NAN : v > acc ? v : acc;
            }
            out[(long)n * is.c + c] = (float)(is_max ? acc : acc / hw);
        }
}

void kvk_ref_depthwise_conv2d(const float *in, int batch, kvk_shape is, const float *kernel,
                              const float *bias, int depth_multiplier, kvk_window win, int in_relu,
                              kvk_shape os, kvk_act act, float *out) {
    /* output channel c * depth_multiplier + m reads input channel c; the kernel is
     * (kh, kw, cin, depth_multiplier), so its flat index per tap is the output channel */
    for (int n = 0; n < batch; n++)
        for (int oy = 0; oy < os.h; oy++)
            for (int ox = 0; ox < os.w; ox++)
                for (int co = 0; co < os.c; co++) {
                    int ci = co / depth_multiplier;
                    double acc = bias ? bias[co] : 0.0;
                    for (int ky = 0; ky < win.kh; ky++) {
                        int iy = oy * win.sh + ky - win.pad_top;
                        if (iy < 0 || iy >= is.h) continue;
                        for (int kx = 0; kx < win.kw; kx++) {
                            int ix = ox * win.sw + kx - win.pad_left;
                            if (ix < 0 || ix >= is.w) continue;
                            double x = in[(((long)n * is.h + iy) * is.w + ix) * is.c + ci];
                            if (in_relu && x < 0) x = 0.0;
                            acc += x * kernel[((long)ky * win.kw + kx) * os.c + co];
                        }
                    }
                    out[(((long)n * os.h + oy) * os.w + ox) * os.c + co] = activate(acc, act);
                }
}

void kvk_ref_channel_slice(const float *in, long pixels, int in_channels, int out_channels,
                           int offset, float *out) {
    for (long p = 0; p < pixels; p++)
        memcpy(out + p * out_channels + offset, in + p * in_channels,
               sizeof(float) * (size_t)in_channels);
}
