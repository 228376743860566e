/* Model configs (the JSON Keras saves: a Keras 2 .h5's model_config, a model.json's
 * modelTopology, a .keras archive's config.json) through kvk_config_build: the JSON parser,
 * then the graph builder with its layer, shape and connection checks; an accepted model's
 * summary is printed (to /dev/null). */
#include <stdint.h>
#include <stdio.h>

#include "keras/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *null_out;
    if (!null_out) null_out = fopen("/dev/null", "w");
    kvk_graph g;
    kvk_config_model info;
    if (kvk_config_build((const char *)data, size, "fuzz config", 0, 0, &g, &info) != KVK_OK)
        return 0;
    if (null_out) kvk_config_print_summary(&info, null_out);
    kvk_graph_free(&g);
    kvk_config_model_free(&info);
    return 0;
}
