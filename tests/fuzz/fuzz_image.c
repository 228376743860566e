/* Image files through kvk_image_load (JPEG by libjpeg-turbo or stb_image, PNG and BMP by
 * stb_image, the header's pixel count checked first), then resize and preprocess_input as
 * kvk_image_load_input does. The first input byte chooses the JPEG decoder and the resize
 * filter; the rest is the file. The pixel limit is lowered to 2^22 so that each input decodes
 * quickly; the limit's own check is what runs above it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_files.h"
#include "kvk/image.h"

#define OUT_W 13
#define OUT_H 11

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    kvk_image_set_max_pixels(1 << 22);
    kvk_jpeg_decoder decoder = (data[0] & 1) ? KVK_JPEG_STB : KVK_JPEG_DEFAULT;
    kvk_resize filter = (data[0] & 2) ? KVK_RESIZE_BILINEAR : KVK_RESIZE_NEAREST;
    const char *path = fuzz_write_file("image", data + 1, size - 1);
    kvk_image image;
    if (kvk_image_load(path, decoder, &image) != KVK_OK) return 0;
    if (image.width <= 0 || image.height <= 0 || !image.rgb) {
        fprintf(stderr, "fuzz: accepted image of %dx%d, pixels %p\n", image.width, image.height,
                (void *)image.rgb);
        abort();
    }
    kvk_image small;
    if (kvk_image_resize(&image, OUT_W, OUT_H, filter, &small) == KVK_OK) {
        float out[OUT_W * OUT_H * 3];
        kvk_image_preprocess(&small, (kvk_preprocess)(data[0] >> 2 & 3), out);
        kvk_image_free(&small);
    }
    kvk_image_free(&image);
    return 0;
}
