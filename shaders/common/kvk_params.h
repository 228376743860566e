// The push constants of every shader, defined once for C and GLSL: each list names the 32-bit
// int fields of one shader family, in order. C builds its structs from them in
// src/vk/ops/params.h (sizes checked at compile time); a shader declares its block with
// KVK_PUSH_CONSTANTS(LIST) from push.glsl. Only #define lines and // comments here: both
// languages read this file.

// conv2d.comp (Conv2D, Dense). Input H x W x C, output OH x OW x OC; this output-channel piece
// starts at oc0 and has ocb channels; npix = batch * OH * OW, pix0 the first pixel of this
// dispatch; ostride, obase: output row stride and first channel (a slice of a Concatenate's
// tensor, or OC and 0).
#define KVK_CONV2D_PARAMS(X) X(H) X(W) X(C) X(OH) X(OW) X(OC) X(oc0) X(ocb) X(KH) X(KW) \
    X(SH) X(SW) X(pad_top) X(pad_left) X(act) X(has_residual) X(npix) X(pix0) X(ostride) X(obase)

// depthwise_conv2d*.comp: M is the depth multiplier; total the invocations of the dispatch.
#define KVK_DEPTHWISE_PARAMS(X) X(H) X(W) X(C) X(OH) X(OW) X(OC) X(KH) X(KW) X(SH) X(SW) \
    X(pad_top) X(pad_left) X(M) X(act) X(total) X(ostride) X(obase)

// pool2d.comp: total = batch * OH * OW * C.
#define KVK_POOL2D_PARAMS(X) X(H) X(W) X(C) X(OH) X(OW) X(KH) X(KW) X(SH) X(SW) X(pad_top) \
    X(pad_left) X(total) X(ostride) X(obase)

// global_pool.comp: HW pixels per image, total = batch * C.
#define KVK_GLOBAL_POOL_PARAMS(X) X(HW) X(C) X(total)

// eltwise.comp: total values, C channels (the BatchNormalization mode's period).
#define KVK_ELTWISE_PARAMS(X) X(total) X(C) X(act)

// zeropad.comp: total = batch * OH * OW * C.
#define KVK_ZEROPAD_PARAMS(X) X(H) X(W) X(C) X(OH) X(OW) X(top) X(left) X(total)

// softmax.comp: rows of C values, one workgroup per row.
#define KVK_SOFTMAX_PARAMS(X) X(rows) X(C)

// channel_slice.comp: copies rows of C channels into channels obase.. of rows of ostride;
// total = batch * H * W * C.
#define KVK_CHANNEL_SLICE_PARAMS(X) X(C) X(ostride) X(obase) X(total)
