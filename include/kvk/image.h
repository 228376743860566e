/* Turning image files into the input tensor a Keras application expects. */
#ifndef KVK_IMAGE_H
#define KVK_IMAGE_H

#include "kvk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How to resize to the network's input size. NEAREST reproduces Keras' load_img(target_size)
 * default (Pillow's NEAREST filter) pixel for pixel. */
typedef enum kvk_resize { KVK_RESIZE_NEAREST, KVK_RESIZE_BILINEAR } kvk_resize;

/* Which JPEG decoder: stb_image (always there), or libjpeg-turbo (what Pillow uses, so JPEGs
 * decode to the same pixels as in Keras) where kvk was built with it. */
typedef enum kvk_jpeg_decoder { KVK_JPEG_DEFAULT, KVK_JPEG_STB, KVK_JPEG_LIBJPEG } kvk_jpeg_decoder;

/* keras.applications preprocess_input modes. */
typedef enum kvk_preprocess {
    KVK_PREPROCESS_CAFFE, /* RGB->BGR, minus ImageNet means 103.939, 116.779, 123.68 */
    KVK_PREPROCESS_TF,    /* x / 127.5 - 1 */
    KVK_PREPROCESS_TORCH, /* x / 255, minus mean, over std, per RGB channel */
    KVK_PREPROCESS_NONE   /* 0..255 floats, RGB */
} kvk_preprocess;

typedef struct kvk_image {
    int width, height;  /* channels are always 3 (RGB): alpha dropped, grey expanded */
    unsigned char *rgb; /* height*width*3 bytes, row-major, owned */
} kvk_image;

/* Limits on what an image file may make kvk allocate (images come from users, and a few
 * hundred bytes can declare 65500x65500 pixels). The pixel count declared in the header is
 * checked before the decoder allocates anything: above the limit the image is refused, above
 * half of it a warning goes to stderr. The default is Pillow's (Image.MAX_IMAGE_PIXELS
 * 89478485 warns, twice that is refused). Only regular files are read (a FIFO, a device such
 * as /dev/zero or a directory is refused unread), and at most KVK_IMAGE_MAX_FILE_BYTES. */
#define KVK_IMAGE_MAX_PIXELS_DEFAULT 178956970LL
#define KVK_IMAGE_MAX_FILE_BYTES (1ULL << 30)

/* Sets the pixel limit for the whole process: N > 0 pixels, a negative value for no limit, 0
 * for the default, which is the environment variable KVK_MAX_IMAGE_PIXELS when set (a number
 * of pixels; 0 there means no limit), else KVK_IMAGE_MAX_PIXELS_DEFAULT. Thread-safe. */
void kvk_image_set_max_pixels(long long max_pixels);
/* The limit in force (0: none). */
long long kvk_image_max_pixels(void);

/* Decodes JPEG, PNG or BMP. Errors name the file and the decoder's reason. */
kvk_status kvk_image_load(const char *path, kvk_jpeg_decoder decoder, kvk_image *out);
void kvk_image_free(kvk_image *image);

/* Resizes into a new image (the source is left alone). */
kvk_status kvk_image_resize(const kvk_image *src, int width, int height, kvk_resize filter,
                            kvk_image *out);

/* Writes height*width*3 floats (NHWC, one image) in the layout of the mode. */
void kvk_image_preprocess(const kvk_image *image, kvk_preprocess mode, float *out);

/* load + resize + preprocess, as keras' load_img/img_to_array/preprocess_input chain. */
kvk_status kvk_image_load_input(const char *path, int width, int height, kvk_resize filter,
                                kvk_jpeg_decoder decoder, kvk_preprocess mode, float *out);

/* True if libjpeg-turbo decoding was compiled in. */
int kvk_image_have_libjpeg(void);

#ifdef __cplusplus
}
#endif
#endif
