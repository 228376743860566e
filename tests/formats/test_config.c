/* Models from their saved config (src/keras/config.c), without Keras: configs written here in
 * the three dialects (Keras 2 / tf-keras, TensorFlow.js, Keras 3), bad configs that must be
 * refused naming the layer, and small model.save .h5 files written with the HDF5 C API whose
 * outputs are checked against values computed here, on the CPU reference. */
#include <hdf5.h>

#include "testutil.h"

#include "api/internal.h"
#include "keras/config.h"
#include "keras/weights.h"

/* A real Keras 3.15 config (keras.Model.get_config() of the model below, with initializers,
 * regularizers, constraints, dtype policies and trainable flags removed to keep it short):
 *   x = Input((16, 16, 3), name="img")
 *   inner_seq = Sequential([Input((16, 16, 3)), Conv2D(4, 3, same, relu, name="c1"),
 *                           BatchNormalization(name="bn1")])
 *   inner_fn = Model(fi, ReLU(name="r")(Conv2D(4, 1, name="fc1")(fi)))
 *   a = inner_seq(x); b = inner_fn(x); s = Conv2D(4, 1, name="shared")
 *   y = Add(name="add")([s(a), s(b)]); y = Concatenate(name="cat")([y, a])
 *   y = Dense(3, softmax, name="out")(GlobalAveragePooling2D(name="gap")(y)) */
static const char keras3_config[] =
    "{\"module\":\"keras\",\"class_name\":\"Functional\",\"config\":{\"name\":\"k3model\","
    "\"layers\":"
    "[{\"module\":\"keras.layers\",\"class_name\":\"InputLayer\",\"config\":{\"batch_shape\":[nul"
    "l,16,16,3],\"name\":\"img\"},\"registered_name\":null,\"name\":\"img\",\"inbound_nodes\":[]}"
    ",{\"module\":\"keras\",\"class_name\":\"Sequential\",\"config\":{\"name\":\"inner_seq\","
    "\"layer"
    "s\":[{\"module\":\"keras.layers\",\"class_name\":\"InputLayer\",\"config\":{\"batch_shape\":["
    "null,16,16,3],\"name\":\"input_layer\"},\"registered_name\":null},{\"module\":\"keras.lay"
    "ers\",\"class_name\":\"Conv2D\",\"config\":{\"name\":\"c1\",\"filters\":4,\"kernel_size\":[3,"
    "3]"
    ",\"strides\":[1,1],\"padding\":\"same\",\"data_format\":\"channels_last\",\"dilation_rate\":"
    "[1,1],\"groups\":1,\"activation\":\"relu\",\"use_bias\":true},\"registered_name\":null,\"bu"
    "ild_config\":{\"input_shape\":[null,16,16,3]}},{\"module\":\"keras.layers\",\"class_name"
    "\":\"BatchNormalization\",\"config\":{\"name\":\"bn1\",\"axis\":-1,\"momentum\":0.99,\"epsilon"
    "\":0.001,\"center\":true,\"scale\":true,\"renorm\":false,\"renorm_clipping\":null,\"renorm"
    "_momentum\":0.99},\"registered_name\":null,\"build_config\":{\"input_shape\":[null,16,1"
    "6,4]}}],\"build_input_shape\":[null,16,16,3]},\"registered_name\":null,\"build_config"
    "\":{\"input_shape\":[null,16,16,3]},\"compile_config\":{},\"name\":\"inner_seq\",\"inbound"
    "_nodes\":[{\"args\":[{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16"
    ",3],\"dtype\":\"float32\",\"keras_history\":[\"img\",0,0]}}],\"kwargs\":{\"mask\":null}}]},{"
    "\"module\":\"keras.src.models.functional\",\"class_name\":\"Functional\",\"config\":{\"name"
    "\":\"inner_fn\",\"layers\":[{\"module\":\"keras.layers\",\"class_name\":\"InputLayer\",\"confi"
    "g\":{\"batch_shape\":[null,16,16,3],\"name\":\"input_layer_1\"},\"registered_name\":null,"
    "\"name\":\"input_layer_1\",\"inbound_nodes\":[]},{\"module\":\"keras.layers\",\"class_name\""
    ":\"Conv2D\",\"config\":{\"name\":\"fc1\",\"filters\":4,\"kernel_size\":[1,1],\"strides\":[1,1]"
    ",\"padding\":\"valid\",\"data_format\":\"channels_last\",\"dilation_rate\":[1,1],\"groups\":"
    "1,\"activation\":\"linear\",\"use_bias\":true},\"registered_name\":null,\"build_config\":{"
    "\"input_shape\":[null,16,16,3]},\"name\":\"fc1\",\"inbound_nodes\":[{\"args\":[{\"class_nam"
    "e\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16,3],\"dtype\":\"float32\",\"keras_"
    "history\":[\"input_layer_1\",0,0]}}],\"kwargs\":{}}]},{\"module\":\"keras.layers\",\"class"
    "_name\":\"ReLU\",\"config\":{\"name\":\"r\",\"max_value\":null,\"negative_slope\":0.0,\"thresh"
    "old\":0.0},\"registered_name\":null,\"name\":\"r\",\"inbound_nodes\":[{\"args\":[{\"class_na"
    "me\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16,4],\"dtype\":\"float32\",\"keras"
    "_history\":[\"fc1\",0,0]}}],\"kwargs\":{}}]}],\"input_layers\":[\"input_layer_1\",0,0],\"o"
    "utput_layers\":[\"r\",0,0]},\"registered_name\":\"Functional\",\"build_config\":{\"input_s"
    "hape\":null},\"compile_config\":{},\"name\":\"inner_fn\",\"inbound_nodes\":[{\"args\":[{\"cl"
    "ass_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16,3],\"dtype\":\"float32\","
    "\"keras_history\":[\"img\",0,0]}}],\"kwargs\":{\"mask\":null}}]},{\"module\":\"keras.layers"
    "\",\"class_name\":\"Conv2D\",\"config\":{\"name\":\"shared\",\"filters\":4,\"kernel_size\":[1,"
    "1"
    "],\"strides\":[1,1],\"padding\":\"valid\",\"data_format\":\"channels_last\",\"dilation_rate"
    "\":[1,1],\"groups\":1,\"activation\":\"linear\",\"use_bias\":true},\"registered_name\":null"
    ",\"build_config\":{\"input_shape\":[null,16,16,4]},\"name\":\"shared\",\"inbound_nodes\":["
    "{\"args\":[{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16,4],\"dtyp"
    "e\":\"float32\",\"keras_history\":[\"inner_seq\",0,0]}}],\"kwargs\":{}},{\"args\":[{\"class_"
    "name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16,4],\"dtype\":\"float32\",\"ker"
    "as_history\":[\"inner_fn\",0,0]}}],\"kwargs\":{}}]},{\"module\":\"keras.layers\",\"class_n"
    "ame\":\"Add\",\"config\":{\"name\":\"add\"},\"registered_name\":null,\"build_config\":{\"input"
    "_shape\":[[null,16,16,4],[null,16,16,4]]},\"name\":\"add\",\"inbound_nodes\":[{\"args\":["
    "[{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16,4],\"dtype\":\"floa"
    "t32\",\"keras_history\":[\"shared\",0,0]}},{\"class_name\":\"__keras_tensor__\",\"config\":"
    "{\"shape\":[null,16,16,4],\"dtype\":\"float32\",\"keras_history\":[\"shared\",1,0]}}]],\"kw"
    "args\":{}}]},{\"module\":\"keras.layers\",\"class_name\":\"Concatenate\",\"config\":{\"name\""
    ":\"cat\",\"axis\":-1},\"registered_name\":null,\"build_config\":{\"input_shape\":[[null,16"
    ",16,4],[null,16,16,4]]},\"name\":\"cat\",\"inbound_nodes\":[{\"args\":[[{\"class_name\":\"_"
    "_keras_tensor__\",\"config\":{\"shape\":[null,16,16,4],\"dtype\":\"float32\",\"keras_histo"
    "ry\":[\"add\",0,0]}},{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,16,16"
    ",4],\"dtype\":\"float32\",\"keras_history\":[\"inner_seq\",0,0]}}]],\"kwargs\":{}}]},{\"mod"
    "ule\":\"keras.layers\",\"class_name\":\"GlobalAveragePooling2D\",\"config\":{\"name\":\"gap\""
    ",\"data_format\":\"channels_last\",\"keepdims\":false},\"registered_name\":null,\"name\":\""
    "gap\",\"inbound_nodes\":[{\"args\":[{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape"
    "\":[null,16,16,8],\"dtype\":\"float32\",\"keras_history\":[\"cat\",0,0]}}],\"kwargs\":{}}]}"
    ",{\"module\":\"keras.layers\",\"class_name\":\"Dense\",\"config\":{\"name\":\"out\",\"units\":"
    "3,"
    "\"activation\":\"softmax\",\"use_bias\":true,\"quantization_config\":null},\"registered_n"
    "ame\":null,\"build_config\":{\"input_shape\":[null,8]},\"name\":\"out\",\"inbound_nodes\":["
    "{\"args\":[{\"class_name\":\"__keras_tensor__\",\"config\":{\"shape\":[null,8],\"dtype\":\"fl"
    "oat32\",\"keras_history\":[\"gap\",0,0]}}],\"kwargs\":{}}]}],\"input_layers\":[\"img\",0,0]"
    ",\"output_layers\":[\"out\",0,0]},\"registered_name\":\"Functional\"}";

static kvk_status build(const char *json, kvk_graph *g, kvk_config_model *info) {
    return kvk_config_build(json, strlen(json), "test config", 0, 0, g, info);
}

static kvk_shape shape_of(const kvk_graph *g, const char *name) {
    int n = kvk_graph_find(g, name);
    return n >= 0 ? g->nodes[n].shape : (kvk_shape){-1, -1, -1};
}

static int shape_is(const kvk_graph *g, const char *name, int h, int w, int c) {
    kvk_shape s = shape_of(g, name);
    return s.h == h && s.w == w && s.c == c;
}

static void test_keras3(void) {
    kvk_graph g;
    kvk_config_model info;
    int ok = tu_check(build(keras3_config, &g, &info) == KVK_OK, "keras 3 config builds: %s",
                      kvk_last_error());
    if (!ok) return;
    CHECK(info.keras3, "recognised as Keras 3");
    CHECK(!strcmp(info.name, "k3model"), "model name %s", info.name);
    CHECK(!strcmp(info.preprocess, "none"), "custom model: preprocess none");
    CHECK(shape_is(&g, "img", 16, 16, 3), "input 16x16x3");
    CHECK(shape_is(&g, "c1", 16, 16, 4) && shape_is(&g, "bn1", 16, 16, 4), "nested Sequential");
    CHECK(shape_is(&g, "fc1", 16, 16, 4) && kvk_graph_find(&g, "r") >= 0, "nested Functional");
    CHECK(kvk_graph_find(&g, "shared") >= 0 && kvk_graph_find(&g, "shared/call1") >= 0,
          "shared layer: two nodes");
    int s1 = kvk_graph_find(&g, "shared/call1"), r = kvk_graph_find(&g, "r");
    CHECK(s1 >= 0 && g.nodes[s1].inputs[0] == r, "the second call reads inner_fn's output");
    CHECK(shape_is(&g, "cat", 16, 16, 8), "concat on channels");
    CHECK(kvk_graph_output_count(&g) == 1 &&
              !strcmp(g.nodes[kvk_graph_output_node(&g, 0)].name, "out") &&
              shape_is(&g, "out", 1, 1, 3),
          "output 'out' (3)");
    CHECK(info.nested_count == 2, "two nested models, got %d", info.nested_count);
    CHECK(info.shared_count == 1 && !strcmp(info.shared[0][0], "shared/call1") &&
              !strcmp(info.shared[0][1], "shared"),
          "the shared call is recorded for binding");
    /* params: c1 3*3*3*4+4, bn1 16, fc1 3*4+4, shared 4*4+4, out 8*3+3 */
    long long want = (108 + 4) + 16 + (12 + 4) + (16 + 4) + (24 + 3);
    CHECK(info.total_params == want, "params %lld, expected %lld", info.total_params, want);
    CHECK(info.row_count == 8, "summary rows %d (the outer layers)", info.row_count);
    kvk_graph_free(&g);
    kvk_config_model_free(&info);
}

/* tf-keras: a nested functional model counts its construction as call 0, so the outer model
 * refers to ("base", 1, 0); kwargs (training=False) are ignored. Also the TF.js spelling of
 * the BatchNormalization axis ([3]) and an early-Keras-2 Sequential config (a list). */
static const char keras2_nested[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"name\": \"input_2\", \"config\": {\"batch_input_shape\":"
    " [null, 12, 10, 3], \"name\": \"input_2\"}, \"inbound_nodes\": []},"
    "{\"class_name\": \"Functional\", \"name\": \"base\", \"config\": {\"name\": \"base\", "
    "\"layers\": ["
    "  {\"class_name\": \"InputLayer\", \"name\": \"input_1\", \"config\": {\"batch_input_shape\":"
    "   [null, 12, 10, 3], \"name\": \"input_1\"}, \"inbound_nodes\": []},"
    "  {\"class_name\": \"Conv2D\", \"name\": \"conv\", \"config\": {\"name\": \"conv\", "
    "   \"filters\": 5, \"kernel_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"same\", "
    "   \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], \"groups\": 1, "
    "   \"activation\": \"relu\", \"use_bias\": true}, \"inbound_nodes\": [[[\"input_1\", 0, 0, "
    "{}]]]},"
    "  {\"class_name\": \"BatchNormalization\", \"name\": \"bn\", \"config\": {\"name\": \"bn\", "
    "   \"axis\": [3], \"epsilon\": 0.001, \"center\": true, \"scale\": true},"
    "   \"inbound_nodes\": [[[\"conv\", 0, 0, {}]]]}],"
    " \"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": [[\"bn\", 0, 0]]},"
    " \"inbound_nodes\": [[[\"input_2\", 0, 0, {\"training\": false}]]]},"
    "{\"class_name\": \"GlobalAveragePooling2D\", \"name\": \"gap\", \"config\": {\"name\": "
    "\"gap\","
    " \"data_format\": \"channels_last\", \"keepdims\": false}, \"inbound_nodes\": [[[\"base\", 1, "
    "0, {}]]]},"
    "{\"class_name\": \"Dense\", \"name\": \"dense\", \"config\": {\"name\": \"dense\", \"units\": "
    "4,"
    " \"activation\": \"softmax\", \"use_bias\": true}, \"inbound_nodes\": [[[\"gap\", 0, 0, "
    "{}]]]}],"
    " \"input_layers\": [[\"input_2\", 0, 0]], \"output_layers\": [[\"dense\", 0, 0]]}}";

static const char early_sequential[] =
    "{\"class_name\": \"Sequential\", \"config\": ["
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"batch_input_shape\": [null, 8, "
    "8, 1],"
    " \"filters\": 2, \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"valid\","
    " \"activation\": \"linear\", \"use_bias\": true}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, \"activation\": "
    "\"relu\"}}]}";

static void test_keras2(void) {
    kvk_graph g;
    kvk_config_model info;
    if (tu_check(build(keras2_nested, &g, &info) == KVK_OK, "nested functional builds: %s",
                 kvk_last_error())) {
        CHECK(shape_is(&g, "conv", 6, 5, 5), "conv: same, stride 2 -> 6x5x5");
        CHECK(shape_is(&g, "dense", 1, 1, 4), "dense 4");
        CHECK(info.nested_count == 1 && !strcmp(info.nested[0], "base"), "nested 'base'");
        CHECK(!info.keras3, "Keras 2 format");
        kvk_graph_free(&g);
        kvk_config_model_free(&info);
    }
    if (tu_check(build(early_sequential, &g, &info) == KVK_OK, "list Sequential builds: %s",
                 kvk_last_error())) {
        CHECK(shape_is(&g, "c_input", 8, 8, 1), "input named after the first layer");
        CHECK(shape_is(&g, "f", 1, 1, 72) && shape_is(&g, "d", 1, 1, 3), "flatten, dense");
        kvk_graph_free(&g);
        kvk_config_model_free(&info);
    }
    /* the real TF.js ResNet50 (Keras 2.2.4 config) when the package is there */
    const char *tfjs = getenv("KVK_RESNET_TFJS");
    FILE *f = tfjs ? fopen(tfjs, "rb") : NULL;
    if (!f) {
        tu_skip("KVK_RESNET_TFJS not available: the TF.js ResNet50 topology");
        return;
    }
    fclose(f);
    kvk_weight_file *file = NULL;
    if (tu_check(kvk_weight_file_read(tfjs, &file) == KVK_OK && file->model_config,
                 "read %s with its config: %s", tfjs, kvk_last_error())) {
        kvk_status st =
            kvk_config_build(file->model_config, strlen(file->model_config), tfjs, 0, 0, &g, &info);
        if (tu_check(st == KVK_OK, "TF.js ResNet50 topology builds: %s", kvk_last_error())) {
            CHECK(shape_is(&g, "fc1000", 1, 1, 1000) && shape_is(&g, "res5c_branch2c", 7, 7, 2048),
                  "ResNet50 shapes");
            CHECK(!strcmp(info.preprocess, "caffe"), "a model named resnet50: caffe (%s)",
                  info.preprocess);
            CHECK(info.total_params == 25636712, "ResNet50 has 25636712 params, got %lld",
                  info.total_params);
            CHECK(kvk_config_bind(&g, &info, file) == KVK_OK, "binds: %s", kvk_last_error());
            kvk_graph_free(&g);
            kvk_config_model_free(&info);
        }
    }
    kvk_weight_file_free(file);
}

/* --- refused configs ---------------------------------------------------------------------- */

/* A functional model: input_1 (8x8x3) then the layers given (each a JSON layer object). */
static char *functional(const char *layers, const char *output) {
    static const char head[] =
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"bad\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"name\": \"input_1\", \"config\": "
        "{\"batch_input_shape\": [null, 8, 8, 3], \"name\": \"input_1\"}, \"inbound_nodes\": []}";
    size_t n = strlen(head) + strlen(layers) + strlen(output) + 200;
    char *s = malloc(n);
    snprintf(s, n,
             "%s, %s], \"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": "
             "[[\"%s\", 0, 0]]}}",
             head, layers, output);
    return s;
}

#define CONV(name, in, extra)                                                                      \
    "{\"class_name\": \"Conv2D\", \"name\": \"" name "\", \"config\": {\"name\": \"" name          \
    "\", \"filters\": 4, \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", "    \
    "\"activation\": \"linear\", \"use_bias\": true" extra "}, \"inbound_nodes\": [[[\"" in        \
    "\", 0, 0, {}]]]}"

static void expect_refused(const char *what, const char *json, const char *const *needles) {
    kvk_graph g;
    kvk_config_model info;
    kvk_status st = build(json, &g, &info);
    if (st == KVK_OK) {
        kvk_graph_free(&g);
        kvk_config_model_free(&info);
    }
    int ok = st != KVK_OK;
    for (int i = 0; ok && needles[i]; i++) ok = strstr(kvk_last_error(), needles[i]) != NULL;
    tu_check(ok, "%s: refused naming the layer: %s", what,
             st == KVK_OK ? "(built)" : kvk_last_error());
    CHECK(g.count == 0 && info.rows == NULL, "%s: nothing left allocated", what);
}

static void test_refused(void) {
    static const struct {
        const char *what, *layers, *output;
        const char *needles[4];
    } cases[] = {
        {"unknown class",
         "{\"class_name\": \"MyBlock\", \"name\": \"blk\", \"config\": {\"name\": \"blk\"},"
         " \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "blk",
         {"layer 'blk' (MyBlock)", "not supported", "supported: InputLayer, Conv2D"}},
        {"Lambda",
         "{\"class_name\": \"Lambda\", \"name\": \"lam\", \"config\": {\"name\": \"lam\", "
         "\"function\": \"4wEAAAA\"}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "lam",
         {"layer 'lam' (Lambda)", "Python code", "supported:"}},
        {"missing inbound", CONV("c1", "nope", ""), "c1", {"layer 'c1' (Conv2D)", "'nope'"}},
        {"Normalization over the spatial axes",
         "{\"class_name\": \"Normalization\", \"name\": \"nz\", \"config\": {\"name\": "
         "\"nz\", \"axis\": [1]}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "nz",
         {"layer 'nz' (Normalization)", "channel axis"}},
        {"Normalization with a negative variance",
         "{\"class_name\": \"Normalization\", \"name\": \"nv\", \"config\": {\"name\": "
         "\"nv\", \"axis\": -1, \"mean\": 0.5, \"variance\": [1, -1, 2]}, \"inbound_nodes\": "
         "[[[\"input_1\", 0, 0, {}]]]}",
         "nv",
         {"layer 'nv' (Normalization)", "'variance' must be a number >= 0 or 3 of them"}},
        {"cycle", CONV("c1", "c2", "") ", " CONV("c2", "c1", ""), "c2", {"(Conv2D)", "cycle"}},
        {"inconsistent shapes: Add",
         CONV("c1", "input_1",
              "") ", "
                  "{\"class_name\": \"Add\", \"name\": \"sum\", \"config\": {\"name\": \"sum\"}, "
                  "\"inbound_nodes\": [[[\"c1\", 0, 0, {}], [\"input_1\", 0, 0, {}]]]}",
         "sum",
         {"layer 'sum'", "differ in shape", "8x8x4 vs 8x8x3"}},
        {"inconsistent shapes: Dense on an image",
         "{\"class_name\": \"Dense\", \"name\": \"fc\", \"config\": {\"name\": \"fc\", "
         "\"units\": 3, \"activation\": \"relu\"}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "fc",
         {"layer 'fc' (Dense)", "8x8x3"}},
        {"inconsistent shapes: conv after flatten",
         "{\"class_name\": \"Flatten\", \"name\": \"fl\", \"config\": {\"name\": \"fl\"}, "
         "\"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}, " CONV("c1", "fl", ""),
         "c1",
         {"layer 'c1' (Conv2D)", "flat"}},
        {"dilation",
         CONV("c1", "input_1", ", \"dilation_rate\": [2, 2]"),
         "c1",
         {"layer 'c1' (Conv2D)", "dilation_rate (2, 2)"}},
        {"groups",
         CONV("c1", "input_1", ", \"groups\": 2"),
         "c1",
         {"layer 'c1' (Conv2D)", "groups"}},
        {"an unknown activation",
         CONV("c1", "input_1", ", \"activation\": \"gelu\""),
         "c1",
         {"layer 'c1' (Conv2D)", "activation 'gelu'", "sigmoid"}},
        {"ReLU with a negative max_value",
         "{\"class_name\": \"ReLU\", \"name\": \"r6\", \"config\": {\"name\": \"r6\", "
         "\"max_value\": -6.0, \"negative_slope\": 0.0, \"threshold\": 0.0}, "
         "\"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "r6",
         {"layer 'r6' (ReLU)", "max_value"}},
        {"Reshape to rank 2",
         "{\"class_name\": \"Reshape\", \"name\": \"rs\", \"config\": {\"name\": \"rs\", "
         "\"target_shape\": [64, 3]}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "rs",
         {"layer 'rs' (Reshape)", "target_shape"}},
        {"BatchNormalization on another axis",
         "{\"class_name\": \"BatchNormalization\", \"name\": \"bn\", \"config\": {\"name\": "
         "\"bn\", \"axis\": 1}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}",
         "bn",
         {"layer 'bn' (BatchNormalization)", "axis 1"}},
        {"Concatenate on another axis",
         "{\"class_name\": \"Concatenate\", \"name\": \"cat\", \"config\": {\"name\": \"cat\", "
         "\"axis\": 2}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}], [\"input_1\", 0, 0, {}]]]}",
         "cat",
         {"layer 'cat' (Concatenate)", "axis 2"}},
        {"huge padding",
         "{\"class_name\": \"ZeroPadding2D\", \"name\": \"zp\", \"config\": {\"name\": "
         "\"zp\", \"padding\": [[2147483647, 2147483647], [1, 1]]}, \"inbound_nodes\": "
         "[[[\"input_1\", 0, 0, {}]]]}",
         "zp",
         {"layer 'zp' (ZeroPadding2D)", "'padding'"}},
        {"a second input",
         "{\"class_name\": \"InputLayer\", \"name\": \"input_2\", \"config\": "
         "{\"batch_input_shape\": [null, 8, 8, 3], \"name\": \"input_2\"}, \"inbound_nodes\": []}",
         "input_1",
         {"layer 'input_2' (InputLayer)", "multi-input"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = functional(cases[i].layers, cases[i].output);
        expect_refused(cases[i].what, json, cases[i].needles);
        free(json);
    }
    /* two inputs listed */
    static const char two_inputs[] =
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"two\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"name\": \"a\", \"config\": {\"batch_input_shape\": "
        "[null, 8, 8, 3]}, \"inbound_nodes\": []},"
        "{\"class_name\": \"InputLayer\", \"name\": \"b\", \"config\": {\"batch_input_shape\": "
        "[null, 8, 8, 3]}, \"inbound_nodes\": []},"
        "{\"class_name\": \"Add\", \"name\": \"s\", \"config\": {}, \"inbound_nodes\": "
        "[[[\"a\", 0, 0, {}], [\"b\", 0, 0, {}]]]}],"
        "\"input_layers\": [[\"a\", 0, 0], [\"b\", 0, 0]], \"output_layers\": [[\"s\", 0, 0]]}}";
    expect_refused("two inputs", two_inputs,
                   (const char *const[]){"'two'", "2 inputs", "multi-input", NULL});
    /* a None input size needs the size from the caller */
    static const char none_size[] =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, null, null, "
        "3],"
        " \"name\": \"in\"}},"
        "{\"class_name\": \"GlobalMaxPooling2D\", \"config\": {\"name\": \"g\"}}]}}";
    expect_refused("None input size", none_size,
                   (const char *const[]){"layer 'in' (InputLayer)", "None", "--size", NULL});
    kvk_graph g;
    kvk_config_model info;
    if (tu_check(kvk_config_build(none_size, strlen(none_size), "none", 20, 30, &g, &info) ==
                     KVK_OK,
                 "None input size with height/width given: %s", kvk_last_error())) {
        CHECK(shape_is(&g, "in", 20, 30, 3) && info.rank[kvk_graph_find(&g, "g")] == 1,
              "20x30 input, flat pooled output");
        kvk_graph_free(&g);
        kvk_config_model_free(&info);
    }
    expect_refused("not JSON", "{\"class_name\": ", (const char *const[]){"test config", NULL});
    expect_refused("not a model", "{\"class_name\": \"Conv2D\", \"config\": {}}",
                   (const char *const[]){"(Conv2D)", "Sequential, Functional or Model", NULL});
}

/* --- model.save files written here --------------------------------------------------------- */

typedef struct tw {
    const char *name; /* "ic/kernel:0" */
    int ndim;
    hsize_t dims[4];
    const float *data;
} tw;

typedef struct tlayer {
    const char *name;
    const tw *weights;
    int count;
} tlayer;

static char tmpdir[256];

static void attr_strings(hid_t obj, const char *name, const char *const *list, int n) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hsize_t dim = (hsize_t)n;
    hid_t space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_NULL);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (n) H5Awrite(attr, type, list);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

static void attr_string(hid_t obj, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, &value);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

/* A Keras 2 model.save file: attrs model_config, keras_version, backend; group model_weights
 * with layer_names and one group per layer holding its datasets (paths "layer/w:0"). */
static void write_model_h5(const char *path, const char *config, const tlayer *layers, int n) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    attr_string(f, "model_config", config);
    attr_string(f, "keras_version", "2.21.0");
    attr_string(f, "backend", "tensorflow");
    hid_t mw = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *names[16];
    for (int i = 0; i < n; i++) names[i] = layers[i].name;
    attr_strings(mw, "layer_names", names, n);
    for (int i = 0; i < n; i++) {
        hid_t lg = H5Gcreate2(mw, layers[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        const char *wn[16];
        for (int j = 0; j < layers[i].count; j++) {
            const tw *w = &layers[i].weights[j];
            wn[j] = w->name;
            hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
            H5Pset_create_intermediate_group(lcpl, 1);
            hid_t space = H5Screate_simple(w->ndim, w->dims, NULL);
            hid_t ds =
                H5Dcreate2(lg, w->name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data);
            H5Dclose(ds);
            H5Sclose(space);
            H5Pclose(lcpl);
        }
        attr_strings(lg, "weight_names", wn, layers[i].count);
        H5Gclose(lg);
    }
    H5Gclose(mw);
    H5Fclose(f);
}

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* Runs the model file on the CPU reference; returns the relative error against `want`. */
static double run_file(kvk_context *ctx, const char *path, const float *x, const float *want,
                       long n, const char *expect_name) {
    kvk_model_options o = {.model_file = path, .batch = 1};
    kvk_model *m;
    if (!tu_check(kvk_model_create(ctx, &o, &m) == KVK_OK, "%s: build: %s", path, kvk_last_error()))
        return INFINITY;
    CHECK(!strcmp(kvk_model_source(m), "config") && !strcmp(kvk_model_name(m), expect_name),
          "source %s, name %s", kvk_model_source(m), kvk_model_name(m));
    CHECK(kvk_model_output_size(m) == n, "output size %ld, expected %ld", kvk_model_output_size(m),
          n);
    float y[16];
    tu_poison(y, 16);
    double err = INFINITY;
    if (tu_check(kvk_model_run(m, x, 1, y) == KVK_OK, "run: %s", kvk_last_error()))
        err = tu_rel_error(y, want, n);
    kvk_model_destroy(m);
    return err;
}

static const char nested_config[] =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"outer\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 2, 3, 2],"
    " \"name\": \"input_1\"}},"
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"inner\", \"layers\": ["
    "  {\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 2, 3, 2],"
    "   \"name\": \"input_2\"}},"
    "  {\"class_name\": \"Conv2D\", \"config\": {\"name\": \"ic\", \"filters\": 2,"
    "   \"kernel_size\": [1, 1], \"strides\": [1, 1], \"padding\": \"valid\","
    "   \"activation\": \"linear\", \"use_bias\": true}},"
    "  {\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"ib\", \"axis\": -1,"
    "   \"epsilon\": 0.001, \"center\": true, \"scale\": true}}]}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flat\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"fc\", \"units\": 2,"
    " \"activation\": \"linear\", \"use_bias\": false}}]}}";

static void test_nested_h5(kvk_context *ctx) {
    float x[12], k[4], b[2], gamma[2], beta[2], mean[2], var[2], fc[24], want[2];
    for (int i = 0; i < 12; i++) x[i] = tu_uniform(-1, 1);
    for (int i = 0; i < 4; i++) k[i] = tu_uniform(-1, 1);
    for (int i = 0; i < 2; i++) {
        b[i] = tu_uniform(-1, 1), gamma[i] = tu_uniform(0.5f, 1.5f), beta[i] = tu_uniform(-1, 1);
        mean[i] = tu_uniform(-0.5f, 0.5f), var[i] = tu_uniform(0.5f, 1.5f);
    }
    for (int i = 0; i < 24; i++) fc[i] = tu_uniform(-1, 1);
    /* conv 1x1 + BN per pixel (h, w, c order), flatten, dense without bias */
    double f[12];
    for (int p = 0; p < 6; p++)
        for (int o = 0; o < 2; o++) {
            double y = b[o];
            for (int i = 0; i < 2; i++) y += (double)x[p * 2 + i] * k[i * 2 + o];
            f[p * 2 + o] = (y - mean[o]) / sqrt((double)var[o] + 1e-3) * gamma[o] + beta[o];
        }
    for (int u = 0; u < 2; u++) {
        double s = 0;
        for (int j = 0; j < 12; j++) s += f[j] * fc[j * 2 + u];
        want[u] = (float)s;
    }
    /* a nested model's weights: one entry, inner names, trainable ones first (as Keras lists
     * them when the BN is frozen they are out of order: the binder restores each layer's) */
    tw inner[] = {{"ic/kernel:0", 4, {1, 1, 2, 2}, k},   {"ib/moving_mean:0", 1, {2}, mean},
                  {"ib/moving_variance:0", 1, {2}, var}, {"ic/bias:0", 1, {2}, b},
                  {"ib/gamma:0", 1, {2}, gamma},         {"ib/beta:0", 1, {2}, beta}};
    tw dense[] = {{"fc/kernel:0", 2, {12, 2}, fc}};
    tlayer layers[] = {{"inner", inner, 6}, {"flat", NULL, 0}, {"fc", dense, 1}};
    const char *path = tmp_path("nested.h5");
    write_model_h5(path, nested_config, layers, 3);
    double err = run_file(ctx, path, x, want, 2, "outer");
    tu_check(err < 1e-5, "nested Sequential .h5 on the CPU reference: relative error %.3g", err);
    /* features: a nested model's name stands for its output (the BN 'ib' inside it) */
    const char *names[] = {"inner", "ib"};
    kvk_model_options fo = {
        .model_file = path, .batch = 1, .output_layers = names, .output_layer_count = 2};
    kvk_model *fm;
    if (tu_check(kvk_model_create(ctx, &fo, &fm) == KVK_OK, "outputs 'inner' and 'ib': %s",
                 kvk_last_error())) {
        float o1[12], o2[12];
        float *outs[2] = {o1, o2};
        int dims[3];
        CHECK(kvk_model_output_dims(fm, 0, dims) == 3 && dims[0] == 2 && dims[1] == 3 &&
                  dims[2] == 2,
              "'inner' is (2, 3, 2)");
        if (tu_check(kvk_model_run_outputs(fm, x, 1, outs) == KVK_OK, "run: %s", kvk_last_error()))
            CHECK(!memcmp(o1, o2, sizeof o1) && tu_rel_error(o1, (float[12]){0}, 12) > 0,
                  "'inner' gives its last layer's output");
        kvk_model_destroy(fm);
    }

    /* a weight missing, a weight of the wrong shape: refused naming the layer */
    kvk_model_options o = {.model_file = path, .batch = 1};
    kvk_model *m = NULL;
    tlayer no_bn[] = {{"inner", inner, 4}, {"flat", NULL, 0}, {"fc", dense, 1}};
    write_model_h5(path, nested_config, no_bn, 3);
    kvk_status st = kvk_model_create(ctx, &o, &m);
    tu_check(st != KVK_OK && strstr(kvk_last_error(), "layer 'ib'"),
             "inner BN with missing moving_variance/beta refused naming 'ib': %s",
             kvk_last_error());
    if (st == KVK_OK) kvk_model_destroy(m);
    tlayer no_fc[] = {{"inner", inner, 6}, {"flat", NULL, 0}};
    write_model_h5(path, nested_config, no_fc, 2);
    st = kvk_model_create(ctx, &o, &m);
    tu_check(st != KVK_OK && strstr(kvk_last_error(), "no weights for layer 'fc' (Dense)"),
             "missing Dense refused naming 'fc': %s", kvk_last_error());
    if (st == KVK_OK) kvk_model_destroy(m);
    tw bad_dense[] = {{"fc/kernel:0", 2, {11, 2}, fc}};
    tlayer bad[] = {{"inner", inner, 6}, {"flat", NULL, 0}, {"fc", bad_dense, 1}};
    write_model_h5(path, nested_config, bad, 3);
    st = kvk_model_create(ctx, &o, &m);
    tu_check(st != KVK_OK && strstr(kvk_last_error(), "layer 'fc' (Dense)") &&
                 strstr(kvk_last_error(), "(11, 2)") && strstr(kvk_last_error(), "(12, 2)"),
             "wrong-shaped Dense kernel refused naming 'fc' and both shapes: %s", kvk_last_error());
    if (st == KVK_OK) kvk_model_destroy(m);
    /* a file without a config cannot be built without an architecture */
    o.model_file = NULL;
    o.weights = "/nonexistent/x.h5";
    st = kvk_model_create(ctx, &o, &m);
    tu_check(st != KVK_OK && strstr(kvk_last_error(), "/nonexistent/x.h5"),
             "a missing file is named: %s", kvk_last_error());
}

/* channels_first: the config's (c, h, w) input becomes (h, w, c), and the Dense after the
 * Flatten has its rows in (c, h, w) order, converted as the th path does. */
static const char cf_config[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"cf\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"name\": \"in\", \"config\": {\"batch_input_shape\":"
    " [null, 2, 3, 4], \"name\": \"in\"}, \"inbound_nodes\": []},"
    "{\"class_name\": \"Conv2D\", \"name\": \"conv\", \"config\": {\"name\": \"conv\","
    " \"filters\": 3, \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\","
    " \"data_format\": \"channels_first\", \"activation\": \"relu\", \"use_bias\": true},"
    " \"inbound_nodes\": [[[\"in\", 0, 0, {}]]]},"
    "{\"class_name\": \"BatchNormalization\", \"name\": \"bn\", \"config\": {\"name\": \"bn\","
    " \"axis\": 1, \"epsilon\": 0.01, \"center\": false, \"scale\": false},"
    " \"inbound_nodes\": [[[\"conv\", 0, 0, {}]]]},"
    "{\"class_name\": \"Flatten\", \"name\": \"flat\", \"config\": {\"name\": \"flat\","
    " \"data_format\": \"channels_first\"}, \"inbound_nodes\": [[[\"bn\", 0, 0, {}]]]},"
    "{\"class_name\": \"Dense\", \"name\": \"fc\", \"config\": {\"name\": \"fc\", \"units\": 2,"
    " \"activation\": \"softmax\", \"use_bias\": true}, \"inbound_nodes\": [[[\"flat\", 0, 0, "
    "{}]]]}],"
    " \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"fc\", 0, 0]]}}";

static void test_channels_first(kvk_context *ctx) {
    enum { H = 3, W = 4, C = 2, F = 3 };
    float x[H * W * C], k[9 * C * F], b[F], mean[F], var[F], fc[H * W * F * 2], fb[2], want[2];
    for (int i = 0; i < H * W * C; i++) x[i] = tu_uniform(-1, 1);
    for (int i = 0; i < 9 * C * F; i++) k[i] = tu_uniform(-1, 1);
    for (int i = 0; i < F; i++)
        b[i] = tu_uniform(-1, 1), mean[i] = tu_uniform(0, 1), var[i] = tu_uniform(0.5f, 1.5f);
    for (int i = 0; i < H * W * F * 2; i++) fc[i] = tu_uniform(-1, 1);
    fb[0] = 0.1f, fb[1] = -0.2f;
    /* NHWC conv 3x3 same + relu + BN, flattened in (c, h, w) order as Keras does */
    double feat[F][H][W];
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++)
            for (int o = 0; o < F; o++) {
                double s = b[o];
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 3; dx++) {
                        int iy = y + dy - 1, ix = xx + dx - 1;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        for (int i = 0; i < C; i++)
                            s += (double)x[(iy * W + ix) * C + i] *
                                 k[((dy * 3 + dx) * C + i) * F + o];
                    }
                s = s > 0 ? s : 0;
                feat[o][y][xx] = (s - mean[o]) / sqrt((double)var[o] + 0.01);
            }
    double logit[2];
    for (int u = 0; u < 2; u++) {
        logit[u] = fb[u];
        for (int j = 0; j < F * H * W; j++) logit[u] += (&feat[0][0][0])[j] * fc[j * 2 + u];
    }
    double mx = logit[0] > logit[1] ? logit[0] : logit[1];
    double e0 = exp(logit[0] - mx), e1 = exp(logit[1] - mx);
    want[0] = (float)(e0 / (e0 + e1)), want[1] = (float)(e1 / (e0 + e1));
    tw conv[] = {{"conv/kernel:0", 4, {3, 3, C, F}, k}, {"conv/bias:0", 1, {F}, b}};
    tw bn[] = {{"bn/moving_mean:0", 1, {F}, mean}, {"bn/moving_variance:0", 1, {F}, var}};
    tw dense[] = {{"fc/kernel:0", 2, {H * W * F, 2}, fc}, {"fc/bias:0", 1, {2}, fb}};
    tlayer layers[] = {{"conv", conv, 2}, {"bn", bn, 2}, {"flat", NULL, 0}, {"fc", dense, 2}};
    const char *path = tmp_path("channels_first.h5");
    write_model_h5(path, cf_config, layers, 4);
    /* the input is given channels_last: (3, 4, 2) */
    kvk_model_options o = {.model_file = path, .batch = 1};
    kvk_model *m;
    if (tu_check(kvk_model_create(ctx, &o, &m) == KVK_OK, "channels_first model: %s",
                 kvk_last_error())) {
        int h, w, c;
        kvk_model_input_shape(m, &h, &w, &c);
        CHECK(h == H && w == W && c == C, "input %dx%dx%d (channels_last)", h, w, c);
        kvk_model_destroy(m);
    }
    double err = run_file(ctx, path, x, want, 2, "cf");
    tu_check(err < 1e-5, "channels_first config on the CPU reference: relative error %.3g", err);
}

int main(void) {
    tu_seed();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kvk_test_config_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL: mkdtemp\n");
        return 1;
    }
    test_keras3();
    test_keras2();
    test_refused();
    kvk_context *ctx = tu_reference_context();
    test_nested_h5(ctx);
    test_channels_first(ctx);
    kvk_context_destroy(ctx);
    unlink(tmp_path("nested.h5"));
    unlink(tmp_path("channels_first.h5"));
    rmdir(tmpdir);
    return tu_finish();
}
