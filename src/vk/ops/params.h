/* The C side of the shaders' push constants: one struct per list in
 * shaders/common/kvk_params.h, the definition the shaders use too. */
#ifndef KVK_VK_OPS_PARAMS_H
#define KVK_VK_OPS_PARAMS_H

#include <stdint.h>

#include "kvk_params.h"

typedef int32_t kvk_param_int;
typedef float kvk_param_float;
_Static_assert(sizeof(float) == 4, "push constants are 32-bit fields");
#define KVK_C_FIELD(type, name) kvk_param_##type name;
/* every pipeline layout has 128 bytes of push constants, the least Vulkan guarantees */
#define KVK_PARAMS_STRUCT(type, LIST)                                                              \
    typedef struct type {                                                                          \
        LIST(KVK_C_FIELD)                                                                          \
    } type;                                                                                        \
    _Static_assert(sizeof(type) <= 128, #type " is larger than 128 bytes of push constants");

KVK_PARAMS_STRUCT(kvk_conv2d_params, KVK_CONV2D_PARAMS)
KVK_PARAMS_STRUCT(kvk_depthwise_params, KVK_DEPTHWISE_PARAMS)
KVK_PARAMS_STRUCT(kvk_pool2d_params, KVK_POOL2D_PARAMS)
KVK_PARAMS_STRUCT(kvk_global_pool_params, KVK_GLOBAL_POOL_PARAMS)
KVK_PARAMS_STRUCT(kvk_eltwise_params, KVK_ELTWISE_PARAMS)
KVK_PARAMS_STRUCT(kvk_zeropad_params, KVK_ZEROPAD_PARAMS)
KVK_PARAMS_STRUCT(kvk_softmax_params, KVK_SOFTMAX_PARAMS)
KVK_PARAMS_STRUCT(kvk_channel_slice_params, KVK_CHANNEL_SLICE_PARAMS)
KVK_PARAMS_STRUCT(kvk_im2col_params, KVK_IM2COL_PARAMS)
KVK_PARAMS_STRUCT(kvk_winograd_input_params, KVK_WINOGRAD_INPUT_PARAMS)
KVK_PARAMS_STRUCT(kvk_winograd_kernel_params, KVK_WINOGRAD_KERNEL_PARAMS)
KVK_PARAMS_STRUCT(kvk_winograd_output_params, KVK_WINOGRAD_OUTPUT_PARAMS)

#endif
