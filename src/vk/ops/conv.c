/* Conv2D and Dense on the device. Two ways:
 * - direct (conv2d_rb8/rb4/rb1): conv2d.comp, an implicit GEMM (Dense is a 1x1 convolution of
 *   a 1x1 image; the variants differ in how many subgroup lanes share input loads and how the
 *   weights are read: conv2d_rb8_tex as a uniform texel buffer, lavapipe's fastest); on
 *   GPUs conv2d_tiled (conv2d_tiled.comp: the same GEMM through shared-memory tiles, same
 *   weight layout and parameters).
 *   Weights are split by output channels into pieces that each fit one binding; each piece is
 *   [kh][kw][cin][channels rounded up to 4] then the bias, so the shader reads vec4s.
 * - Winograd F(2,3) (conv2d_winograd) for 3x3 stride-1 convolutions: each 2x2 output tile
 *   takes 16 multiplications per input and output channel instead of 36. The input is
 *   transformed into 16 matrices (winograd_input.comp), multiplied by the 16 transformed
 *   kernels U = G g G^T on conv2d.comp as one dispatch of 16 independent 1x1 products, and
 *   transformed back with the bias and the activation (winograd_output.comp). Pieces are the
 *   16 U matrices of a range of output channels, [16][cin + 1][channels rounded up to 4] (the
 *   +1 a zero bias row the product shader reads), then one last piece with the bias.
 *   F(4,3) (conv2d_winograd43) likewise with 4x4 tiles: 36 products per 16 outputs (2.25
 *   multiplications per output instead of F(2,3)'s 4 and the direct 9), larger transforms.
 *   The _lean variants of both keep the 3x3 kernels (the direct layout, no bias row; the bias
 *   still its own last piece) and transform them into scratch on every run
 *   (winograd_kernel.comp), one slice of U per piece, which the products then read.
 * - im2col (conv2d_im2col) for convolutions of few input channels (the 3 of an RGB image):
 *   each output pixel's receptive field is copied into a row of whole vec4s (im2col.comp),
 *   then conv2d.comp multiplies the rows by the kernel as a 1x1 convolution; the weights are
 *   the direct layout with zero rows up to the row's length.
 * - Dense of up to 8 images on the CPU drivers: dense_gemv.comp (dense_gemv_rb8_tex/rb8/rb4),
 *   each weight read once as part of a contiguous stream: in blocks of 4 * RB channels,
 *   [block][rows, then the bias][4 * RB channels]. Its pieces split the rows (the inputs), not
 *   the output channels: each is a run of the host kernel's rows (gemv_rows_per_piece). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

static int round4(int x) {
    return (x + 3) / 4 * 4;
}

static int input_channels(const kvk_vk_step_ctx *c) {
    return c->graph->nodes[c->node->inputs[0]].shape.c;
}

/* The output tile of a Winograd variant (2: F(2,3), 4: F(4,3)), 0 for the direct kernels. */
static int winograd_m(const kvk_vk_step_ctx *c) {
    return c->kernel && (c->kernel->form == KVK_VK_FORM_WINOGRAD ||
                         c->kernel->form == KVK_VK_FORM_WINOGRAD_LEAN)
               ? c->kernel->tile
               : 0;
}

/* A Winograd variant whose weights stay 3x3 kernels, transformed into scratch on each run. */
static int is_lean(const kvk_vk_step_ctx *c) {
    return c->kernel && c->kernel->form == KVK_VK_FORM_WINOGRAD_LEAN;
}

static int is_winograd(const kvk_vk_step_ctx *c) {
    return winograd_m(c) != 0;
}

/* Winograd's independent products: (m + 2)^2. */
static int winograd_slices(const kvk_vk_step_ctx *c) {
    int n = winograd_m(c) + 2;
    return n * n;
}

static int is_im2col(const kvk_vk_step_ctx *c) {
    return c->kernel && c->kernel->form == KVK_VK_FORM_IM2COL;
}

/* conv2d_im2col's row: the receptive field (kh x kw x cin) rounded up to whole vec4s */
static int im2col_row(const kvk_vk_step_ctx *c) {
    return round4(c->node->kh * c->node->kw * input_channels(c));
}

/* dense_gemv.comp's subgroup lanes sharing input loads, 0 for other kernels */
static int gemv_rb(const kvk_vk_kernel *k) {
    return k->form == KVK_VK_FORM_GEMV ? k->lanes : 0;
}

static int is_gemv(const kvk_vk_step_ctx *c) {
    return c->kernel && gemv_rb(c->kernel);
}

/* Output channels the weights are laid out in blocks of: dense_gemv.comp reads RB vec4s of
 * one row at a time, so its blocks are [rows][RB vec4s], one after the other; the other
 * kernels' rows span the whole piece (vec4s: 4). */
static int channel_block(const kvk_vk_step_ctx *c) {
    int rb = c->kernel ? gemv_rb(c->kernel) : 0;
    return rb ? 4 * rb : 4;
}

/* Floats of the Winograd products' transformed kernels U for tile m and `channels` output
 * channels: (m + 2)^2 matrices [cin + 1][channels rounded up to 4]. */
static size_t transformed_floats(const kvk_vk_step_ctx *c, int m, int channels) {
    return (size_t)(m + 2) * (size_t)(m + 2) * ((size_t)input_channels(c) + 1) *
           (size_t)round4(channels);
}

/* dense_gemv's pieces are runs of the kernel's rows over every output channel, each
 * [block][its rows, then a bias row][block]: the first piece's bias row holds the bias, the
 * others' zeros, and each piece after the first adds its product to what the one before
 * wrote (the last applies the activation). A piece is then a contiguous run of the host
 * kernel, which the upload gives back to the system once packed (kernel_packed): where device
 * memory is host memory, VGG16's fc1 (411 MB) is no longer held twice while it is packed.
 * At most this many bytes a piece, so that little is held twice: VGG16's fc1 takes 13
 * pieces, a dispatch and a barrier each. */
#define KVK_GEMV_PIECE_BYTES ((uint64_t)32 << 20)

/* Output channels rounded up to dense_gemv's blocks */
static size_t gemv_columns(const kvk_vk_step_ctx *c) {
    size_t block = (size_t)channel_block(c);
    return ((size_t)c->node->shape.c + block - 1) / block * block;
}

/* Kernel rows per dense_gemv piece: whole blocks of the shader's row groups (4 * RB rows, so
 * that a piece's inputs start at a vec4 and its row groups are whole), 0 when not even one
 * block fits. */
static long gemv_rows_per_piece(const kvk_vk_step_ctx *c) {
    long rows = input_channels(c), group = 4L * gemv_rb(c->kernel);
    uint64_t cap = c->max_binding < KVK_GEMV_PIECE_BYTES ? c->max_binding : KVK_GEMV_PIECE_BYTES;
    uint64_t row_bytes = gemv_columns(c) * kvk_dtype_size(c->step->weights);
    long fit = (long)(cap / row_bytes) - 1; /* and the bias row */
    if (fit >= rows) return rows;
    return fit / group * group;
}

/* The rows of dense_gemv piece k. */
static long gemv_piece_rows(const kvk_vk_step_ctx *c, long per, int k) {
    long left = input_channels(c) - k * per;
    return left < per ? left : per;
}

/* Floats of a piece of `channels` output channels. */
static size_t piece_floats(const kvk_vk_step_ctx *c, int channels) {
    if (is_lean(c)) /* the 3x3 kernels, no bias row */
        return (size_t)c->node->kh * c->node->kw * (size_t)input_channels(c) *
               (size_t)round4(channels);
    size_t rows = is_winograd(c) ? (size_t)winograd_slices(c) * ((size_t)input_channels(c) + 1)
                  : is_im2col(c) ? (size_t)im2col_row(c) + 1
                                 : (size_t)c->node->kh * c->node->kw * input_channels(c) + 1;
    size_t block = (size_t)channel_block(c);
    return rows * (((size_t)channels + block - 1) / block * block);
}

static int channels_per_piece(const kvk_vk_step_ctx *c) {
    int cout = c->node->shape.c, block = channel_block(c);
    uint64_t per_block = piece_floats(c, block) * kvk_dtype_size(c->step->weights);
    if (is_lean(c)) /* in scratch */
        per_block = transformed_floats(c, winograd_m(c), block) * sizeof(float);
    uint64_t blocks = c->max_binding / per_block;
    if (blocks == 0) return 0; /* not even one block fits: the caller reports it */
    return blocks * (uint64_t)block >= (uint64_t)cout ? cout : (int)(blocks * (uint64_t)block);
}

/* Output channels of piece k: `per` each, the rest in the last. */
static int piece_channels(const kvk_vk_step_ctx *c, int per, int k) {
    int left = c->node->shape.c - k * per;
    return left < per ? left : per;
}

/* The most weight pieces a lean Winograd step transforms (each its own binding of U) */
#define KVK_VK_MAX_LEAN_PIECES 64

static int conv_pieces(const kvk_vk_step_ctx *c, size_t *floats, int max_pieces) {
    if (is_gemv(c)) {
        long per = gemv_rows_per_piece(c);
        if (per <= 0) return -1;
        long count = (input_channels(c) + per - 1) / per;
        if (count > max_pieces) return -1;
        for (int k = 0; k < count; k++)
            floats[k] = (size_t)(gemv_piece_rows(c, per, k) + 1) * gemv_columns(c);
        return (int)count;
    }
    int per = channels_per_piece(c), cout = c->node->shape.c;
    if (is_lean(c) && max_pieces > KVK_VK_MAX_LEAN_PIECES + 1)
        max_pieces = KVK_VK_MAX_LEAN_PIECES + 1; /* and the bias */
    if (per <= 0) return -1;
    int count = (cout + per - 1) / per;
    if (count + is_winograd(c) > max_pieces) return -1;
    for (int k = 0; k < count; k++) floats[k] = piece_floats(c, piece_channels(c, per, k));
    if (is_winograd(c)) floats[count++] = (size_t)round4(cout); /* the bias, whole vec4s */
    return count;
}

/* G of F(2,3) (4x3) and of F(4,3) (6x3, Lavin and Gray's points 0, +-1, +-2), matching the
 * B^T and A^T of shaders/winograd_input.comp and winograd_output.comp. */
static const double G23[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const double G43[6][3] = {{1. / 4, 0, 0},
                                 {-1. / 6, -1. / 6, -1. / 6},
                                 {-1. / 6, 1. / 6, -1. / 6},
                                 {1. / 24, 1. / 12, 1. / 6},
                                 {1. / 24, -1. / 12, 1. / 6},
                                 {0, 0, 1}};

/* U = G g G^T of one 3x3 kernel slice g (row-major) for tile m (n = m + 2 rows of G), in
 * double: u is n x n, row-major. */
static void winograd_kernel(int m, const double g[9], double *u) {
    int n = m + 2;
    const double(*G)[3] = m == 4 ? G43 : G23;
    double t[6][3];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            u[i * n + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

/* dense_gemv piece `index` (gemv_rows_per_piece). */
static void gemv_pack(const kvk_vk_step_ctx *c, int index, float *dst) {
    const kvk_node *n = c->node;
    long per = gemv_rows_per_piece(c), r0 = index * per, rows = gemv_piece_rows(c, per, index);
    int cout = n->shape.c, block = channel_block(c);
    int blocks = (int)(gemv_columns(c) / (size_t)block);
    for (int b = 0; b < blocks; b++)
        for (long r = 0; r <= rows; r++) {
            float *d = dst + ((size_t)b * (size_t)(rows + 1) + (size_t)r) * (size_t)block;
            const float *src = r < rows ? n->kernel + (r0 + r) * cout : index ? NULL : n->bias;
            for (int j = 0; j < block; j++) {
                int o = b * block + j;
                d[j] = o < cout && src ? src[o] : 0.0f;
            }
        }
}

/* The floats at the start of the kernel that pieces 0..index have read and later ones do not:
 * dense_gemv's rows so far, nothing for the others, whose pieces each read every row. */
static size_t conv_kernel_packed(const kvk_vk_step_ctx *c, int index) {
    if (!is_gemv(c)) return 0;
    long per = gemv_rows_per_piece(c);
    return (size_t)(index * per + gemv_piece_rows(c, per, index)) * (size_t)c->node->shape.c;
}

static void conv_pack(const kvk_vk_step_ctx *c, int index, float *dst) {
    if (is_gemv(c)) {
        gemv_pack(c, index, dst);
        return;
    }
    const kvk_node *n = c->node;
    int per = channels_per_piece(c), cout = n->shape.c, cin = input_channels(c);
    int pieces = (cout + per - 1) / per;
    if (is_winograd(c) && index == pieces) { /* the bias */
        for (int o = 0; o < round4(cout); o++) dst[o] = n->bias && o < cout ? n->bias[o] : 0.0f;
        return;
    }
    int oc0 = index * per;
    int channels = piece_channels(c, per, index);
    int cp = round4(channels);
    if (is_winograd(c) && !is_lean(c)) {
        int slices = winograd_slices(c);
        size_t slice = ((size_t)cin + 1) * (size_t)cp; /* one of the slices' matrices */
        memset(dst, 0, sizeof(float) * (size_t)slices * slice);
        for (int ci = 0; ci < cin; ci++)
            for (int o = 0; o < channels; o++) {
                double g[9], u[36];
                for (int k = 0; k < 9; k++) g[k] = n->kernel[((long)k * cin + ci) * cout + oc0 + o];
                winograd_kernel(winograd_m(c), g, u);
                for (int xi = 0; xi < slices; xi++)
                    dst[xi * slice + (size_t)ci * cp + (size_t)o] = (float)u[xi];
            }
        return;
    }
    long taps = (long)n->kh * n->kw * cin;
    /* im2col: zero rows up to its row; lean Winograd: the 3x3 kernels without the bias, which
     * is the last piece */
    long rows = is_im2col(c) ? im2col_row(c) : taps;
    for (long r = 0; r < rows; r++) {
        float *d = dst + r * cp;
        if (r < taps) {
            memcpy(d, n->kernel + r * cout + oc0, sizeof(float) * (size_t)channels);
            memset(d + channels, 0, sizeof(float) * (size_t)(cp - channels));
        } else {
            memset(d, 0, sizeof(float) * (size_t)cp);
        }
    }
    if (is_lean(c)) return;
    float *bias = dst + rows * cp;
    memset(bias, 0, sizeof(float) * (size_t)cp);
    if (n->bias) memcpy(bias, n->bias + oc0, sizeof(float) * (size_t)channels);
}

/* conv2d.comp tiling where specialization constants set it (a variant whose defines fix it,
 * kernels.c, overrides this): output pixels per workgroup (a power of two, at most 64) and
 * vec4 channel groups per invocation (1 or 2), by the device's subgroup size, which tells the
 * CPU drivers apart from GPUs. lavapipe (8 lanes) is fastest with 16x2 (ResNet50 287 ms
 * against 32x1's 392 ms and 32x2's 356 ms, VGG16 569 against 730 ms: half the broadcasts per
 * multiply-add of 32x1, fewer spilled accumulators than 32x2); SwiftShader (4 lanes) too, but
 * only with the block as defines (conv2d_rb4: ResNet50 945 ms at 16x2, 1015 at 16x1, 1042 at
 * 32x1, 1102 at 8x2, 1393 at 32x2, 1422 at 64x2; as specialization constants 64x2 was its
 * best, 1405 ms); GPUs (16+ lanes) get a register-friendly block. */
static void conv_tiling(uint32_t subgroup, int npix, int *pixels, int *groups) {
    *pixels = 16;
    *groups = subgroup < 16 ? 2 : 1;
    while (*pixels > 1 && *pixels / 2 >= npix) *pixels /= 2; /* small layers, Dense */
}
#define KVK_CONV_LX 64         /* channel-group lanes per workgroup on a GPU (at most) */
#define KVK_CONV_MIN_GROUPS 16 /* workgroups a dispatch should have, where it can */

/* The channel vec4s a step's workgroups of one subgroup cover, over all its weight pieces, when
 * each lane owns `groups` of them: more than the layer has where lanes idle. */
static long group_slots(const kvk_vk_step_ctx *c, int groups) {
    int per = channels_per_piece(c), cout = c->node->shape.c;
    long width = (long)groups * c->caps->subgroup_size, slots = 0;
    if (per <= 0) return LONG_MAX;
    for (int k = 0; k * per < cout; k++) {
        long ocb4 = (piece_channels(c, per, k) + 3) / 4;
        slots += (ocb4 + width - 1) / width * width;
    }
    return slots;
}

/* The direct kernel for a product of npix pixels: on a GPU the shared-memory tiles of
 * conv2d_tiled (not measured on one yet: no GPU was available; the CPU drivers run it only when
 * forced, their shared memory and barriers being slow), else the widest broadcast the tile
 * allows. The lavapipe variants own 4, 3 or 2 channel vec4s per lane (conv2d_rb8_tex4, tex3,
 * tex): more per lane means fewer broadcasts per multiply-add (ResNet50 226 -> 177 ms with
 * tex4), but idle lanes where the channels do not fill them (64 channels: half of tex4's), so
 * the one with the fewest idle lanes comes first, the widest of those that tie. */
static const kvk_vk_kernel *choose_direct(const kvk_vk_step_ctx *c, int npix) {
    int rp, ng;
    conv_tiling(c->caps->subgroup_size, npix, &rp, &ng);
    const char *candidates[24]; /* each with its fp16 twin: kvk_vk_choose keeps the step's */
    int count = 0, cpu = c->caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU;
#define KVK_BOTH(name) (candidates[count++] = name, candidates[count++] = name "_f16")
    if (!cpu) KVK_BOTH("conv2d_tiled");
    if (rp >= 8) {
        long s4 = group_slots(c, 4), s3 = group_slots(c, 3), s2 = group_slots(c, 2);
        int first4 = s4 <= s3 && s4 <= s2, first3 = !first4 && s3 <= s2;
        if (first4) KVK_BOTH("conv2d_rb8_tex4");
        if (first3) KVK_BOTH("conv2d_rb8_tex3");
        KVK_BOTH("conv2d_rb8_tex");
        if (!first4) KVK_BOTH("conv2d_rb8_tex4"); /* when forced */
        if (!first3) KVK_BOTH("conv2d_rb8_tex3");
    }
    if (rp >= 8) KVK_BOTH("conv2d_rb8_i64");
    if (rp >= 8) KVK_BOTH("conv2d_rb8");
    if (rp >= 4) KVK_BOTH("conv2d_rb4");
    KVK_BOTH("conv2d_rb1");
    if (cpu) KVK_BOTH("conv2d_tiled");
    /* when forced (fp16 weights only): never run on a device yet (none with cooperative
     * matrices was at hand; the emulated twin proves its data flow on the CPU drivers) */
    candidates[count++] = "conv2d_coopmat_f16";
    candidates[count++] = "conv2d_coopmat_emulated_f16";
#undef KVK_BOTH
    return kvk_vk_choose(c->caps, c->kernels, c->step->weights, candidates, count);
}

/* A CPU device with subgroups under 8 lanes: SwiftShader (lavapipe has 8 or more), whose
 * measured choices differ. */
static int swiftshader_like(const kvk_vk_step_ctx *c) {
    return c->caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU && c->caps->subgroup_size < 8;
}

/* Winograd's tiles: T = batch * ceil(OH / m) * ceil(OW / m). */
static long winograd_tiles(const kvk_vk_step_ctx *c, int m) {
    kvk_shape os = c->node->shape;
    return (long)c->plan->batch * ((os.h + m - 1) / m) * ((os.w + m - 1) / m);
}

static uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

/* Winograd runs in chunks of tiles, each its own input transform, products and output
 * transform through one V (slices x chunk x cin) and one M (slices x chunk x cout) that fit a
 * binding and, on the CPU drivers, whose device memory is the host's, take at most this much.
 * At batch 8 on lavapipe (128 MiB bindings) VGG16's block1_conv2 had fallen back to the direct
 * kernel (984 ms of the batch's 3.4 s): with chunks (then of 32 MiB) the batch ran 3.36-3.44
 * -> 2.89-2.90 s and held 1118 -> 962 MiB of device memory; ResNet50 at batch 32, speed
 * unchanged, 577 -> 530 MiB. With 8 MiB, VGG16 at batch 1 (block1_conv2 in 4 chunks) holds
 * 777 -> 738 MiB on lavapipe (peak RSS 899 -> 860), block1_conv2 in 64-73 against 66-70 ms
 * (noise); on SwiftShader 609 -> 596 MiB (RSS 649 -> 625-638), 1590-1674 against 1646-1682
 * ms (noise; 2 MiB chunks were no faster, 1673-1753 ms).
 * GPUs keep whole layers where the binding allows: each chunk is three more dispatches, and
 * their memory is their own. */
#define KVK_WINOGRAD_CHUNK_BYTES_CPU ((uint64_t)8 << 20)

/* Tiles per chunk: as many as fit V and M (0 when not even one does). */
static long winograd_chunk_tiles(const kvk_vk_step_ctx *c, int m) {
    uint64_t cap = c->max_binding;
    if (c->caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU && cap > KVK_WINOGRAD_CHUNK_BYTES_CPU)
        cap = KVK_WINOGRAD_CHUNK_BYTES_CPU;
    int widest = input_channels(c) > c->node->shape.c ? input_channels(c) : c->node->shape.c;
    uint64_t per_tile = (uint64_t)(m + 2) * (uint64_t)(m + 2) * (uint64_t)widest * sizeof(float);
    uint64_t fit = cap / per_tile;
    if (fit > (uint64_t)INT_MAX / per_tile) fit = (uint64_t)INT_MAX / per_tile; /* int indices */
    long tiles = winograd_tiles(c, m);
    return (uint64_t)tiles < fit ? tiles : (long)fit;
}

/* The transformed input V (slices x chunk x cin) then the products M (slices x chunk x cout),
 * for tile m. */
static uint64_t winograd_v_bytes(const kvk_vk_step_ctx *c, int m) {
    return (uint64_t)(m + 2) * (uint64_t)(m + 2) * (uint64_t)winograd_chunk_tiles(c, m) *
           (uint64_t)input_channels(c) * sizeof(float);
}
static uint64_t winograd_m_bytes(const kvk_vk_step_ctx *c, int m) {
    return (uint64_t)(m + 2) * (uint64_t)(m + 2) * (uint64_t)winograd_chunk_tiles(c, m) *
           (uint64_t)c->node->shape.c * sizeof(float);
}

/* Below this many input channels the direct kernel is faster: VGG's block1_conv1 (3 channels)
 * took 26 -> 16 ms on lavapipe and 377 -> 174 ms on SwiftShader without Winograd. */
#define KVK_WINOGRAD_MIN_CHANNELS 8

static int winograd_fits(const kvk_vk_step_ctx *c, int m) {
    const kvk_node *n = c->node;
    if (n->op != KVK_OP_CONV2D || n->kh != 3 || n->kw != 3 || n->sh != 1 || n->sw != 1 ||
        c->step->input_count > 1 || input_channels(c) < KVK_WINOGRAD_MIN_CHANNELS)
        return 0;
    /* both scratch matrices within one binding, their indices within an int */
    return winograd_chunk_tiles(c, m) > 0;
}

/* The lean variants keep the whole layer's transformed kernels in the scratch buffer while it
 * runs, one allocation: at most a quarter of the 1 GiB every Vulkan 1.1 device can allocate at
 * once (maxMemoryAllocationSize), beside V and M. A layer whose kernels would need more (3x3,
 * 1400 channels in and out with F(4,3)) keeps them transformed in weight pieces instead. */
#define KVK_LEAN_MAX_BYTES ((uint64_t)256 << 20)

static int lean_fits(const kvk_vk_step_ctx *c, int m) {
    return (uint64_t)transformed_floats(c, m, c->node->shape.c) * sizeof(float) <=
           KVK_LEAN_MAX_BYTES;
}

/* conv2d_im2col's rows, one per output pixel */
static uint64_t im2col_bytes(const kvk_vk_step_ctx *c) {
    kvk_shape os = c->node->shape;
    return (uint64_t)c->plan->batch * (uint64_t)os.h * (uint64_t)os.w * (uint64_t)im2col_row(c) *
           sizeof(float);
}

/* A convolution of fewer input channels than this reads its input as scalars with a bounds
 * check per tap in conv2d.comp; im2col's rows are aligned vec4s with the padding written in. */
#define KVK_IM2COL_MAX_CHANNELS 8

static int im2col_fits(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    if (n->op != KVK_OP_CONV2D || n->kh * n->kw == 1 || c->step->input_count > 1 ||
        input_channels(c) >= KVK_IM2COL_MAX_CHANNELS)
        return 0;
    return im2col_bytes(c) <= c->max_binding && im2col_bytes(c) / sizeof(float) < INT_MAX;
}

/* dense_gemv.comp's images per dispatch (its MAXNB) */
#define KVK_GEMV_MAX_IMAGES 8

static const kvk_vk_kernel *conv_choose(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    int npix = n->op == KVK_OP_DENSE ? c->plan->batch : c->plan->batch * n->shape.h * n->shape.w;
    const kvk_vk_kernel *direct = choose_direct(c, npix);
    if (n->op == KVK_OP_DENSE && c->plan->batch <= KVK_GEMV_MAX_IMAGES) {
        /* The CPU drivers' Dense: VGG16's fc1 at batch 1 took 215 ms on conv2d_rb1 and 63 ms
         * on dense_gemv_rb8 (lavapipe), 1588 and 140 ms on dense_gemv_rb4 (SwiftShader). GPUs
         * keep the GEMM (unmeasured: no GPU was at hand); the GEMV variants run there when
         * forced. */
        const char *cpu[7] = {"dense_gemv_rb8_tex", "dense_gemv_rb8_tex_f16", "dense_gemv_rb8",
                              "dense_gemv_rb8_f16", "dense_gemv_rb4",         "dense_gemv_rb4_f16",
                              direct->name};
        const char *gpu[7] = {direct->name,        "dense_gemv_rb8_tex", "dense_gemv_rb8_tex_f16",
                              "dense_gemv_rb8",    "dense_gemv_rb8_f16", "dense_gemv_rb4",
                              "dense_gemv_rb4_f16"};
        const char *const *candidates = c->caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU ? cpu : gpu;
        int count = 7;
        return kvk_vk_choose(c->caps, c->kernels, c->step->weights, candidates, count);
    }
    /* Winograd first (F(2,3) made VGG16 1.5-2.3x faster on lavapipe, 1.2x on SwiftShader than
     * the direct kernel), F(4,3) (36 products per 16 outputs instead of 64) on layers with
     * enough tiles to pay for its 4x larger transformed weights: ResNet50's 3x3s at 56x56 and
     * 28x28 ran 4.9/4.1 ms against F(2,3)'s 7.7/5.7 on lavapipe; at 14x14 (16 tiles) 4.0
     * against 7.9 (SwiftShader 7.5 against 12.4); at 7x7 (4 tiles) both drivers lose (lavapipe
     * 7.3 against 6.2; SwiftShader 22.8 against F(2,3)'s 11.1 and the direct kernel's 20.7).
     * With float16 weights F(4,3)'s transforms amplify their rounding: VGG16 5.5e-3 from
     * Keras against F(2,3)'s 6.8e-4 (direct: 5.1e-4), so F(2,3) first there. The transforms
     * on channel vec4s (_x4) first: VGG16's block1_conv2 85 -> 74 ms on lavapipe, 182 -> 171 on
     * SwiftShader. (SwiftShader chose differently while its specialization constants were not
     * folded, before spirv_freeze.c: scalar transforms, no Winograd at 16 tiles or fewer.)
     * im2col where inputs have few channels, on SwiftShader (4 lanes): ResNet50's conv1_conv
     * 177 -> 68 ms, VGG16's block1_conv1 196 -> 109 ms, InceptionV3's and Xception's first
     * 38 -> 27 and 47 -> 31 ms; with im2col.comp's loops (2026-12-03) 36 -> 28 and 45 -> 41
     * ms (conv1_conv, block1_conv1). lavapipe gains nothing (conv1_conv 14.5 -> 14.3 ms,
     * block1_conv1 15.4 -> 17.4: the product of short rows costs it more than the direct
     * kernel's scalar taps); GPUs keep the direct kernel, unmeasured.
     * Whatever fits but does not pay comes after the direct kernel: it runs when forced.
     * The lean Winograd variants (3x3 kernels transformed on every run) first on SwiftShader:
     * ResNet50's device memory 182 -> 122 MiB and peak RSS 212 -> 177 MiB for +6% latency
     * (its Winograd layers 392-405 -> 481-504 ms), VGG16's device memory 777 -> 609 MiB for
     * +5%. Not on lavapipe, where they cost ResNet50 +9% (Winograd layers 90-98 -> 127 ms)
     * for 338 -> 284 MiB, and it is speed there that is nearer its target; nor on GPUs, whose
     * memory is their own. Forcing the resident variants (KVK_KERNELS) undoes it. */
    int sws = swiftshader_like(c), lean_first = sws;
    int w43 = winograd_fits(c, 4), w23 = winograd_fits(c, 2), im2col = im2col_fits(c);
    int f43_first = w43 && winograd_tiles(c, 4) >= 16 && c->step->weights == KVK_DTYPE_F32;
    const char *candidates[12];
    int count = 0;
#define KVK_ADD(name) (candidates[count++] = (name))
#define KVK_WINOGRAD(name, lean)                                                                   \
    do {                                                                                           \
        if ((lean) && lean_first) KVK_ADD(name "_lean");                                           \
        KVK_ADD(name "_x4");                                                                       \
        KVK_ADD(name);                                                                             \
        if ((lean) && !lean_first) KVK_ADD(name "_lean");                                          \
    } while (0)
    if (f43_first) KVK_WINOGRAD("conv2d_winograd43", lean_fits(c, 4));
    if (w23) KVK_WINOGRAD("conv2d_winograd", lean_fits(c, 2));
    if (w43 && !f43_first) KVK_WINOGRAD("conv2d_winograd43", lean_fits(c, 4));
    if (sws && im2col) KVK_ADD("conv2d_im2col");
    KVK_ADD(direct->name);
    if (!sws && im2col) KVK_ADD("conv2d_im2col");
#undef KVK_WINOGRAD
#undef KVK_ADD
    return kvk_vk_choose(c->caps, c->kernels, c->step->weights, candidates, count);
}

/* Winograd's scratch: V, then M, then (lean) each weight piece's U, every piece but the last
 * of `per` channels. Where piece k's U starts. */
static uint64_t lean_u_at(const kvk_vk_step_ctx *c, int per, int k) {
    int m = winograd_m(c);
    uint64_t full = align_up(transformed_floats(c, m, per) * sizeof(float), c->alignment);
    return align_up(align_up(winograd_v_bytes(c, m), c->alignment) + winograd_m_bytes(c, m),
                    c->alignment) +
           (uint64_t)k * full;
}

static uint64_t conv_scratch(const kvk_vk_step_ctx *c) {
    if (is_im2col(c)) return im2col_bytes(c);
    if (!is_winograd(c)) return 0;
    int m = winograd_m(c), per = channels_per_piece(c);
    if (!is_lean(c) || per <= 0)
        return align_up(winograd_v_bytes(c, m), c->alignment) + winograd_m_bytes(c, m);
    int last = (c->node->shape.c + per - 1) / per - 1;
    return lean_u_at(c, per, last) +
           transformed_floats(c, m, piece_channels(c, per, last)) * sizeof(float);
}

/* How a kernel that reads its weights as texels (TEXW: conv2d_rb8_tex, dense_gemv_rb8_tex)
 * sees them: vec4s of its weights' type. */
static VkFormat weight_texels(const kvk_vk_kernel *kernel) {
    return kernel->weights & KVK_DTYPE_BIT(KVK_DTYPE_F16) ? VK_FORMAT_R16G16B16A16_SFLOAT
                                                          : VK_FORMAT_R32G32B32A32_SFLOAT;
}

/* The widest workgroup of at most `widest` lanes (a multiple of `step`, whole subgroups) that
 * leaves the fewest lanes idle over `per_lane` channel groups: Xception's 728 channels (182
 * vec4s, 91 per lane of two) take 2 x 48 lanes rather than 2 x 64, which left 29 % idle. */
static int snug_lanes(int per_lane, int widest, int step) {
    int best = widest;
    long best_total = (long)(per_lane + widest - 1) / widest * widest;
    for (int lx = widest - step; lx >= step; lx -= step) {
        long total = (long)(per_lane + lx - 1) / lx * lx;
        if (total < best_total) best = lx, best_total = total;
    }
    return best;
}

/* Channel-group lanes a conv2d.comp or dense_gemv.comp workgroup may have. CPU drivers get one
 * subgroup: nothing is shared across a workgroup in those kernels, and each width is another
 * pipeline the driver compiles (lavapipe at its first dispatch, 3-4 s each on a 2-core machine:
 * ResNet50's 9 direct pipelines became 3, its cold first inference 32 -> 13 s). lavapipe ran
 * faster with it too (2026-12-02, ResNet50 481 against 541 ms, Xception 1333 against 1570 ms,
 * best of 5). */
static int widest_lanes(const kvk_vk_step_ctx *c) {
    return c->caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU ? (int)c->caps->subgroup_size : KVK_CONV_LX;
}

/* Records conv2d.comp over p (every field but oc0, ocb, pix0 set) for each of the `pieces`
 * weight pieces, with `zs` independent products (workgroups in z). */
static kvk_status dispatch_direct(const kvk_vk_step_ctx *c, const kvk_vk_kernel *kernel,
                                  kvk_conv2d_params p, kvk_vk_binding in, kvk_vk_binding out,
                                  kvk_vk_binding residual, const kvk_vk_binding *weights,
                                  int pieces, int act, uint32_t zs) {
    uint32_t sg = c->caps->subgroup_size;
    int max_lx = (int)c->caps->max_invocations;
    if (max_lx > 256) max_lx = 256;
    int rp, ng;
    conv_tiling(sg, p.npix, &rp, &ng);
    if (kernel->tile) rp = kernel->tile, ng = kernel->groups; /* fixed by its defines */
    int tiled = kernel->form == KVK_VK_FORM_TILED;
    if (tiled) rp = 64, ng = 1; /* conv2d_tiled.comp's block: 64 pixels x 16 channel vec4s */
    int rb = kernel->form == KVK_VK_FORM_BLOCKED ? kernel->lanes : 1;
    int per_piece = channels_per_piece(c);
    /* every output vec4 aligned and whole: conv2d.comp then compiles no per-channel stores */
    int aligned_out = p.OC % 4 == 0 && p.ostride % 4 == 0 && p.obase % 4 == 0 && p.zo % 4 == 0 &&
                      per_piece % 4 == 0;
    int flags = (p.C % 4 == 0 && p.zi % 4 == 0 ? 1 : 0) | (aligned_out ? 2 : 0) | (ng == 2 ? 4 : 0);
    uint32_t max_gy = c->rec->dev->props.limits.maxComputeWorkGroupCount[1];
    uint32_t groups_y = (uint32_t)((p.npix + rp - 1) / rp);
    int widest = widest_lanes(c);
    for (int k = 0; k < pieces; k++) {
        p.oc0 = k * per_piece;
        p.ocb = piece_channels(c, per_piece, k);
        int ocb4 = (p.ocb + 3) / 4;
        if (zs > 1) p.zw = (p.C + 1) * ocb4; /* the next of the piece's 16 matrices */
        /* channel-group lanes per workgroup: whole subgroups, so every broadcast lane is
         * active */
        int per_lane = (ocb4 + ng - 1) / ng;
        int lx = per_lane < widest ? per_lane : widest;
        if (rb > 1) lx = (lx + (int)sg - 1) / (int)sg * (int)sg;
        if (lx > max_lx) lx = max_lx;
        if (tiled) lx = 16;
        /* enough workgroups for every thread of a CPU driver: narrower ones on small layers */
        while (!tiled && lx > (int)sg && lx > 1 &&
               (uint64_t)((ocb4 + lx * ng - 1) / (lx * ng)) * groups_y * zs < KVK_CONV_MIN_GROUPS)
            lx = rb > 1 ? (lx / 2 + (int)sg - 1) / (int)sg * (int)sg : lx / 2;
        if (!tiled) lx = snug_lanes(per_lane, lx, rb > 1 ? (int)sg : 1);
        int spec[4] = {lx, rp, flags, act};
        if (tiled) spec[0] = flags & 2, spec[1] = act; /* FLAGS (aligned output), ACT */
        /* binding 3: a fused Add's other operand, if any */
        kvk_vk_binding b[4] = {in, weights[k], out, residual};
        b[1].format = weight_texels(kernel);
        uint32_t gx = (uint32_t)((ocb4 + lx * ng - 1) / (lx * ng));
        /* more pixel blocks than one dispatch may have: several dispatches */
        for (uint32_t y0 = 0; y0 < groups_y; y0 += max_gy) {
            uint32_t gy = groups_y - y0 < max_gy ? groups_y - y0 : max_gy;
            p.pix0 = (int)y0 * rp;
            kvk_status st = kvk_vk_dispatch(c->rec, kernel->name, spec, tiled ? 2 : 4, b, 4, &p,
                                            sizeof p, gx, gy, zs);
            if (st != KVK_OK) return kvk_fail_context(st, "layer '%s': ", c->node->name);
        }
    }
    return KVK_OK;
}

/* conv2d.comp as a plain GEMM, rows x k by k x cout: a 1x1 convolution of a rows x 1 image
 * (Winograd's products, im2col's), its output rows cout apart */
static kvk_conv2d_params gemm_params(int rows, int k, int cout) {
    return (kvk_conv2d_params){.H = rows,
                               .W = 1,
                               .C = k,
                               .OH = rows,
                               .OW = 1,
                               .OC = cout,
                               .KH = 1,
                               .KW = 1,
                               .SH = 1,
                               .SW = 1,
                               .npix = rows,
                               .ostride = cout};
}

static kvk_status record_winograd(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    int wm = winograd_m(c), f43 = wm == 4;
    int th = (os.h + wm - 1) / wm, tw = (os.w + wm - 1) / wm;
    /* chunks of equal size (the last at most one tile less): no small remainder */
    int tiles = (int)winograd_tiles(c, wm), most = (int)winograd_chunk_tiles(c, wm);
    int chunks = (tiles + most - 1) / most, chunk = (tiles + chunks - 1) / chunks;
    uint64_t v_at = align_up(winograd_v_bytes(c, wm), c->alignment);
    kvk_vk_binding v = kvk_vk_range(c->scratch.buffer, c->scratch.offset, winograd_v_bytes(c, wm));
    kvk_vk_binding m =
        kvk_vk_range(c->scratch.buffer, c->scratch.offset + v_at, winograd_m_bytes(c, wm));
    /* the _x4 variants' transforms take four channels per invocation where they are whole
     * vec4s: VGG16's block1_conv2 on lavapipe 85 -> 74 ms (the model 611 -> 563 ms); not
     * first on SwiftShader, where it lost (361 -> 434 ms: its vec4 patches spill) */
    int vec4s = c->kernel->groups == 4;
    int in4 = vec4s && is.c % 4 == 0;
    int pieces = c->weight_count - 1;
    const kvk_vk_binding *u = c->weights; /* the transformed kernels */
    kvk_vk_binding lean_u[KVK_VK_MAX_LEAN_PIECES];
    kvk_status st = KVK_OK;
    if (is_lean(c)) {
        int per = channels_per_piece(c);
        for (int k = 0; k < pieces; k++) {
            int channels = piece_channels(c, per, k);
            lean_u[k] = kvk_vk_range(c->scratch.buffer, c->scratch.offset + lean_u_at(c, per, k),
                                     transformed_floats(c, wm, channels) * sizeof(float));
            kvk_winograd_kernel_params kp = {.C = is.c, .OC4 = round4(channels) / 4};
            kp.total = (kp.C + 1) * kp.OC4;
            kvk_vk_binding kb[2] = {c->weights[k], lean_u[k]};
            st = kvk_vk_dispatch1d(c, f43 ? "winograd_kernel43" : "winograd_kernel", NULL, 0, kb, 2,
                                   &kp, sizeof kp, kp.total);
            if (st != KVK_OK) return st;
        }
        u = lean_u;
    }
    int f16 = c->step->weights == KVK_DTYPE_F16; /* the bias piece is in the weights' type */
    int out4 = vec4s && os.c % 4 == 0 && c->plan->tensors[c->step->output].shape.c % 4 == 0 &&
               c->step->out_channel_offset % 4 == 0;
    for (int t0 = 0; t0 < tiles && st == KVK_OK; t0 += chunk) {
        int count = tiles - t0 < chunk ? tiles - t0 : chunk;
        /* the products' kernel for this chunk's tiles (its block must fit them); where it
         * reads its weights as texels (a device that fetches texels faster than it loads from
         * storage buffers: lavapipe), the _x4 transforms read theirs so too: VGG16's
         * block1_conv2 59 -> 54 ms, block3_conv2 38 -> 35, InceptionV3 361 -> 348 ms */
        const kvk_vk_kernel *product = choose_direct(c, count);
        int tex = product->texels;
        char input_shader[32], output_shader[32];
        snprintf(input_shader, sizeof input_shader, "winograd_input%s%s", f43 ? "43" : "",
                 in4 ? (tex ? "_x4_tex" : "_x4") : "");
        snprintf(output_shader, sizeof output_shader, "winograd_output%s%s%s", f43 ? "43" : "",
                 f16 ? "_f16" : "", out4 ? (tex ? "_x4_tex" : "_x4") : "");
        kvk_winograd_input_params ip = {.H = is.h,
                                        .W = is.w,
                                        .C = is.c,
                                        .TH = th,
                                        .TW = tw,
                                        .pad_top = n->pad_top,
                                        .pad_left = n->pad_left,
                                        .total = count * is.c,
                                        .tile0 = t0};
        if (in4) ip.total /= 4;
        kvk_vk_binding ib[2] = {c->inputs[0], v};
        ib[0].format = VK_FORMAT_R32G32B32A32_SFLOAT; /* the _tex variants' texels */
        st = kvk_vk_dispatch1d(c, input_shader, NULL, 0, ib, 2, &ip, sizeof ip, ip.total);
        if (st != KVK_OK) return st;
        /* the 16 (or 36) products V[xi] (tiles x cin) by U[xi] (cin x cout): a 1x1 convolution
         * of a tiles x 1 image each, no bias (it is added after the back-transform) */
        kvk_conv2d_params p = gemm_params(count, is.c, os.c);
        p.zi = count * is.c;
        p.zo = count * os.c;
        KVK_VK_ACT_PARAMS(p, NULL);
        st = dispatch_direct(c, product, p, v, m, v, u, pieces, kvk_vk_fused_act(NULL),
                             (uint32_t)winograd_slices(c));
        if (st != KVK_OK) return st;
        kvk_winograd_output_params op = {.OH = os.h,
                                         .OW = os.w,
                                         .OC = os.c,
                                         .TH = th,
                                         .TW = tw,
                                         .total = count * os.c,
                                         .ostride = c->plan->tensors[c->step->output].shape.c,
                                         .obase = c->step->out_channel_offset,
                                         .tile0 = t0};
        KVK_VK_ACT_PARAMS(op, n);
        int spec[1] = {kvk_vk_fused_act(n)};
        kvk_vk_binding ob[3] = {m, c->weights[pieces], c->output};
        ob[0].format = VK_FORMAT_R32G32B32A32_SFLOAT;
        if (out4) op.total /= 4;
        st = kvk_vk_dispatch1d(c, output_shader, spec, 1, ob, 3, &op, sizeof op, op.total);
    }
    if (c->chosen) *c->chosen = c->kernel->name;
    return st;
}

static kvk_status record_im2col(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape, os = n->shape;
    int npix = c->plan->batch * os.h * os.w, row = im2col_row(c);
    kvk_vk_binding rows = kvk_vk_range(c->scratch.buffer, c->scratch.offset, im2col_bytes(c));
    kvk_im2col_params ip = {.K4 = row, .total = npix * n->kh}; /* a kernel row each */
    KVK_VK_WINDOW_PARAMS(ip, is, os, n);
    kvk_vk_binding ib[2] = {c->inputs[0], rows};
    kvk_status st = kvk_vk_dispatch1d(c, "im2col", NULL, 0, ib, 2, &ip, sizeof ip, ip.total);
    if (st != KVK_OK) return st;
    /* the rows (npix x row) by the kernel (row x cout): a 1x1 convolution of an npix x 1 image */
    kvk_conv2d_params p = gemm_params(npix, row, os.c);
    p.ostride = c->plan->tensors[c->step->output].shape.c;
    p.obase = c->step->out_channel_offset;
    KVK_VK_ACT_PARAMS(p, n);
    if (c->chosen) *c->chosen = c->kernel->name;
    return dispatch_direct(c, choose_direct(c, npix), p, rows, c->output, rows, c->weights,
                           c->weight_count, kvk_vk_fused_act(n), 1);
}

/* dense_gemv.comp over p (conv_record's, for a Dense layer), for each weight piece: each
 * adds its rows' product to the output the one before wrote; the last applies the activation. */
static kvk_status dispatch_gemv(const kvk_vk_step_ctx *c, kvk_conv2d_params p) {
    long per = gemv_rows_per_piece(c);
    int sg = (int)c->caps->subgroup_size, widest = widest_lanes(c);
    int ocb4 = (p.OC + 3) / 4;
    /* whole subgroups (every broadcast lane active) */
    int lx = ocb4 < widest ? ocb4 : widest;
    lx = (lx + sg - 1) / sg * sg;
    if (lx > (int)c->caps->max_invocations) lx = (int)c->caps->max_invocations;
    p.oc0 = 0;
    p.ocb = p.OC;
    for (int k = 0; k < c->weight_count; k++) {
        int last = k == c->weight_count - 1;
        const kvk_node *act = last ? c->node : NULL;
        p.ic0 = (int)(k * per);
        p.icn = (int)gemv_piece_rows(c, per, k);
        p.has_residual = k > 0;
        KVK_VK_ACT_PARAMS(p, act);
        int spec[4] = {lx, p.npix, kvk_vk_fused_act(act), p.C % 4 == 0};
        kvk_vk_binding b[3] = {c->inputs[0], c->weights[k], c->output};
        b[1].format = weight_texels(c->kernel);
        kvk_status st = kvk_vk_dispatch(c->rec, c->kernel->name, spec, 4, b, 3, &p, sizeof p,
                                        (uint32_t)((ocb4 + lx - 1) / lx), 1, 1);
        if (st != KVK_OK) return kvk_fail_context(st, "layer '%s': ", c->node->name);
    }
    return KVK_OK;
}

static kvk_status conv_record(const kvk_vk_step_ctx *c) {
    if (is_winograd(c)) return record_winograd(c);
    if (is_im2col(c)) return record_im2col(c);
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    kvk_shape os = n->shape;
    int dense = n->op == KVK_OP_DENSE;
    kvk_conv2d_params p = {.OC = os.c,
                           .npix = c->plan->batch * os.h * os.w,
                           .ostride = c->plan->tensors[c->step->output].shape.c,
                           .obase = c->step->out_channel_offset};
    KVK_VK_WINDOW_PARAMS(p, is, os, n);
    KVK_VK_ACT_PARAMS(p, n);
    if (dense) p.H = p.W = p.OH = p.OW = 1;
    p.has_residual = !dense && c->step->input_count > 1;
    if (dense) p.C = (int)kvk_shape_size(is); /* after Flatten (an alias) the tensor is HxWxC */
    if (c->chosen) *c->chosen = c->kernel->name;
    if (gemv_rb(c->kernel)) return dispatch_gemv(c, p);
    return dispatch_direct(c, c->kernel, p, c->inputs[0], c->output,
                           p.has_residual ? c->inputs[1] : c->inputs[0], c->weights,
                           c->weight_count, kvk_vk_fused_act(n), 1);
}

const kvk_vk_op kvk_vk_conv_op = {.choose = conv_choose,
                                  .weight_pieces = conv_pieces,
                                  .weight_pack = conv_pack,
                                  .scratch_bytes = conv_scratch,
                                  .record = conv_record,
                                  .dtypes = KVK_DTYPE_BIT(KVK_DTYPE_F32),
                                  .weight_dtypes =
                                      KVK_DTYPE_BIT(KVK_DTYPE_F32) | KVK_DTYPE_BIT(KVK_DTYPE_F16),
                                  .kernel_packed = conv_kernel_packed};
