/* keras.applications.imagenet_utils._preprocess_numpy_input for one NHWC image. Every step is
 * a float32 operation in Keras' order (NumPy does `x -= 103.939` on a float32 array in float32),
 * so the results equal Keras' bit for bit. */
#include "kvk/image.h"

#include <stddef.h>

#include "core/error.h"

void kvk_image_preprocess(const kvk_image *image, kvk_preprocess mode, float *out) {
    size_t n = (size_t)image->width * (size_t)image->height;
    const unsigned char *p = image->rgb;
    switch (mode) {
    case KVK_PREPROCESS_CAFFE: {
        /* RGB -> BGR, then x[..., 0] -= 103.939 etc. on the BGR channels. */
        const float mean[3] = {103.939f, 116.779f, 123.68f};
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) out[3 * i + c] = (float)p[3 * i + 2 - c] - mean[c];
        break;
    }
    case KVK_PREPROCESS_TF:
        /* x /= 127.5; x -= 1. */
        for (size_t i = 0; i < 3 * n; i++) {
            float x = (float)p[i] / 127.5f;
            out[i] = x - 1.0f;
        }
        break;
    case KVK_PREPROCESS_TORCH: {
        /* x /= 255.; x[..., c] -= mean[c]; x[..., c] /= std[c] */
        const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) {
                float x = (float)p[3 * i + c] / 255.0f;
                x -= mean[c];
                out[3 * i + c] = x / std[c];
            }
        break;
    }
    case KVK_PREPROCESS_NONE:
    default:
        for (size_t i = 0; i < 3 * n; i++) out[i] = (float)p[i];
        break;
    }
}

kvk_status kvk_image_load_input(const char *path, int width, int height, kvk_resize filter,
                                kvk_jpeg_decoder decoder, kvk_preprocess mode, float *out) {
    if (!out) return kvk_fail(KVK_ERROR_INVALID_ARGUMENT, "%s: NULL output", path ? path : "?");
    kvk_image img, sized;
    kvk_status st = kvk_image_load(path, decoder, &img);
    if (st != KVK_OK) return st;
    st = kvk_image_resize(&img, width, height, filter, &sized);
    kvk_image_free(&img);
    if (st != KVK_OK) return kvk_fail_context(st, "%s: ", path);
    kvk_image_preprocess(&sized, mode, out);
    kvk_image_free(&sized);
    return KVK_OK;
}
