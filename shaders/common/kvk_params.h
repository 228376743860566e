// The push constants of every shader, defined once for C and GLSL: each list names the 32-bit
// fields (int or float) of one shader family, in order. C builds its structs from them in
// src/vk/ops/params.h (sizes checked at compile time); a shader declares its block with
// KVK_PUSH_CONSTANTS(LIST) from push.glsl. Only #define lines and // comments here: both
// languages read this file.
// A fused activation's code is a specialisation constant of the shader (so the code of the
// others is folded away); act_slope, act_max, act_threshold are its parameters: Keras' relu
// negative_slope, max_value and threshold, and ELU's alpha in act_slope.

// conv2d.comp (Conv2D, Dense). Input H x W x C, output OH x OW x OC; this output-channel piece
// starts at oc0 and has ocb channels; npix = batch * OH * OW, pix0 the first pixel of this
// dispatch; ostride, obase: output row stride and first channel (a slice of a Concatenate's
// tensor, or OC and 0). A dispatch with several workgroups in z runs independent products:
// slice z reads input from element z * zi, weights from vec4 z * zw, writes output from
// element z * zo (Winograd's 16 products; 0 otherwise). dense_gemv.comp reads the same list:
// its piece is the icn input rows from ic0, and has_residual adds the output's values (the
// earlier pieces' sum) instead of a residual.
#define KVK_CONV2D_PARAMS(X)                                                                 \
    X(int, H) X(int, W) X(int, C) X(int, OH) X(int, OW) X(int, OC) X(int, oc0) X(int, ocb)   \
    X(int, KH) X(int, KW) X(int, SH) X(int, SW) X(int, pad_top) X(int, pad_left)             \
    X(int, has_residual) X(int, npix) X(int, pix0) X(int, ostride) X(int, obase)             \
    X(int, zi) X(int, zw) X(int, zo) X(float, act_slope) X(float, act_max)                   \
    X(float, act_threshold) X(int, ic0) X(int, icn)

// depthwise_conv2d*.comp: M is the depth multiplier; total the invocations of the dispatch.
#define KVK_DEPTHWISE_PARAMS(X)                                                              \
    X(int, H) X(int, W) X(int, C) X(int, OH) X(int, OW) X(int, OC) X(int, KH) X(int, KW)     \
    X(int, SH) X(int, SW) X(int, pad_top) X(int, pad_left) X(int, M) X(int, total)           \
    X(int, ostride) X(int, obase) X(float, act_slope) X(float, act_max) X(float, act_threshold)

// pool2d.comp: total = batch * OH * OW * C; has_residual: a fused Add of binding 2.
#define KVK_POOL2D_PARAMS(X)                                                                 \
    X(int, H) X(int, W) X(int, C) X(int, OH) X(int, OW) X(int, KH) X(int, KW) X(int, SH)     \
    X(int, SW) X(int, pad_top) X(int, pad_left) X(int, total) X(int, ostride) X(int, obase)     \
    X(int, pad_zero) X(int, has_residual)

// global_pool.comp: HW pixels per image, total = batch * C.
#define KVK_GLOBAL_POOL_PARAMS(X) X(int, HW) X(int, C) X(int, total)

// eltwise.comp: total values, C channels (the affine mode's period), HW pixels per image (the
// per-channel multiply's).
#define KVK_ELTWISE_PARAMS(X)                                                                \
    X(int, total) X(int, C) X(int, HW) X(float, act_slope) X(float, act_max)                 \
    X(float, act_threshold)

// zeropad.comp: total = batch * OH * OW * C.
#define KVK_ZEROPAD_PARAMS(X)                                                                \
    X(int, H) X(int, W) X(int, C) X(int, OH) X(int, OW) X(int, top) X(int, left) X(int, total)

// softmax.comp: rows of C values, one workgroup per row.
#define KVK_SOFTMAX_PARAMS(X) X(int, rows) X(int, C)

// channel_slice.comp: copies rows of C channels into channels obase.. of rows of ostride;
// total = batch * H * W * C.
#define KVK_CHANNEL_SLICE_PARAMS(X) X(int, C) X(int, ostride) X(int, obase) X(int, total)

// winograd_input.comp (F(2,3)): the 4x4 input patch of each 2x2 output tile, transformed
// (B^T d B) into V[16][T][C] for the T tiles of a chunk from tile0 (of batch * TH * TW), total
// = T * C invocations.
#define KVK_WINOGRAD_INPUT_PARAMS(X)                                                         \
    X(int, H) X(int, W) X(int, C) X(int, TH) X(int, TW) X(int, pad_top) X(int, pad_left)     \
    X(int, total) X(int, tile0)

// winograd_kernel.comp: U = G g G^T of each 3x3 kernel of C input channels by OC4 channel vec4s
// into U[N*N][C + 1][OC4] (row C zero); total = (C + 1) * OC4 invocations.
#define KVK_WINOGRAD_KERNEL_PARAMS(X) X(int, C) X(int, OC4) X(int, total)

// im2col.comp: rows of K4 values (KH x KW x C, then zeros) per output pixel; total = pixels
// x KH invocations, one kernel row of one pixel each.
#define KVK_IM2COL_PARAMS(X)                                                                 \
    X(int, H) X(int, W) X(int, C) X(int, OH) X(int, OW) X(int, KH) X(int, KW) X(int, SH)     \
    X(int, SW) X(int, pad_top) X(int, pad_left) X(int, K4) X(int, total)

// winograd_output.comp: Y = A^T M A of M[16][T][OC] per tile and channel (the chunk's T tiles
// from tile0), plus the bias and the activation, written to an OH x OW output with row stride
// ostride from channel obase.
#define KVK_WINOGRAD_OUTPUT_PARAMS(X)                                                        \
    X(int, OH) X(int, OW) X(int, OC) X(int, TH) X(int, TW) X(int, total) X(int, ostride)     \
    X(int, obase) X(float, act_slope) X(float, act_max) X(float, act_threshold) X(int, tile0)

// probe_gemm.comp (kvk bench --peak): C = A B, row-major, A M x K, B K x N.
#define KVK_PROBE_GEMM_PARAMS(X) X(int, M) X(int, N) X(int, K)

// probe_copy.comp (kvk bench --peak): total vec4 values copied, KVK_PROBE_COPY_PER_INVOCATION
// per invocation (the host sizes the grid by it).
#define KVK_PROBE_COPY_PARAMS(X) X(int, total)
#define KVK_PROBE_COPY_PER_INVOCATION 4
