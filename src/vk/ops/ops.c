/* Which entry runs each op kind on the device. An op kind is added here with one line. */
#include "vk/ops/ops.h"

static const kvk_vk_op *const OPS[KVK_OP_COUNT] = {
    [KVK_OP_CONV2D] = &kvk_vk_conv_op,
    [KVK_OP_DENSE] = &kvk_vk_conv_op,
    [KVK_OP_DEPTHWISE_CONV2D] = &kvk_vk_depthwise_op,
    [KVK_OP_BATCHNORM] = &kvk_vk_batchnorm_op,
    [KVK_OP_ACTIVATION] = &kvk_vk_activation_op,
    [KVK_OP_SOFTMAX] = &kvk_vk_softmax_op,
    [KVK_OP_ADD] = &kvk_vk_add_op,
    [KVK_OP_ZEROPAD] = &kvk_vk_zeropad_op,
    [KVK_OP_MAXPOOL] = &kvk_vk_pool_op,
    [KVK_OP_AVGPOOL] = &kvk_vk_pool_op,
    [KVK_OP_GLOBAL_AVGPOOL] = &kvk_vk_global_pool_op,
    [KVK_OP_GLOBAL_MAXPOOL] = &kvk_vk_global_pool_op,
    [KVK_OP_CONCAT] = &kvk_vk_channel_slice_op,
    [KVK_OP_MULTIPLY] = &kvk_vk_multiply_op,
    [KVK_OP_AFFINE] = &kvk_vk_affine_op,
    /* Input, Flatten, Dropout and Reshape are never steps: the plan aliases them */
};

const kvk_vk_op *kvk_vk_op_for(kvk_op op) {
    return (unsigned)op < KVK_OP_COUNT ? OPS[op] : NULL;
}

int kvk_vk_op_reads_weights(kvk_op op, kvk_dtype weights) {
    const kvk_vk_op *o = kvk_vk_op_for(op);
    return o && o->weight_pieces && (o->weight_dtypes & KVK_DTYPE_BIT(weights));
}
