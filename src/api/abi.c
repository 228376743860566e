/* kvk_struct_size (kvk/abi.h). */
#include "kvk/abi.h"

#include <string.h>

#include "kvk/context.h"
#include "kvk/image.h"
#include "kvk/model.h"

size_t kvk_struct_size(const char *name) {
    static const struct {
        const char *name;
        size_t size;
    } SIZES[] = {
        {"kvk_context_options", sizeof(kvk_context_options)},
        {"kvk_model_options", sizeof(kvk_model_options)},
        {"kvk_image", sizeof(kvk_image)},
    };
    for (size_t i = 0; name && i < sizeof SIZES / sizeof SIZES[0]; i++)
        if (!strcmp(name, SIZES[i].name)) return SIZES[i].size;
    return 0;
}
