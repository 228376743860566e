/* Conv2D and Dense on the device: both run conv2d.comp (Dense is a 1x1 convolution of a 1x1
 * image; the variants differ only in how many subgroup lanes share input loads). Weights are
 * split by output channels into pieces that each fit one binding; each piece is
 * [kh][kw][cin][channels rounded up to 4] then the bias, so the shader reads vec4s. */
#include <string.h>

#include "core/error.h"
#include "vk/ops/ops.h"

static int round4(int x) {
    return (x + 3) / 4 * 4;
}

static int input_channels(const kvk_graph *g, const kvk_node *n) {
    return g->nodes[n->inputs[0]].shape.c;
}

static size_t piece_floats(const kvk_graph *g, const kvk_node *n, int channels) {
    return ((size_t)n->kh * n->kw * input_channels(g, n) + 1) * (size_t)round4(channels);
}

static int channels_per_piece(const kvk_graph *g, const kvk_node *n, uint64_t max_binding) {
    int cout = n->shape.c;
    uint64_t per4 = piece_floats(g, n, 4) * sizeof(float);
    uint64_t groups = max_binding / per4;
    if (groups == 0) return 0; /* not even 4 channels fit: the caller reports it */
    return groups * 4 >= (uint64_t)cout ? cout : (int)(groups * 4);
}

static int conv_pieces(const kvk_graph *g, const kvk_node *n, uint64_t max_binding, size_t *floats,
                       int max_pieces) {
    int per = channels_per_piece(g, n, max_binding);
    if (per <= 0) return -1;
    int count = (n->shape.c + per - 1) / per;
    if (count > max_pieces) return -1;
    for (int k = 0; k < count; k++)
        floats[k] = piece_floats(g, n, n->shape.c - k * per < per ? n->shape.c - k * per : per);
    return count;
}

static void conv_pack(const kvk_graph *g, const kvk_node *n, uint64_t max_binding, int index,
                      float *dst) {
    int per = channels_per_piece(g, n, max_binding);
    int oc0 = index * per;
    int channels = n->shape.c - oc0 < per ? n->shape.c - oc0 : per;
    int cout = n->shape.c, cp = round4(channels);
    long rows = (long)n->kh * n->kw * input_channels(g, n);
    for (long r = 0; r < rows; r++) {
        float *d = dst + r * cp;
        memcpy(d, n->kernel + r * cout + oc0, sizeof(float) * (size_t)channels);
        memset(d + channels, 0, sizeof(float) * (size_t)(cp - channels));
    }
    float *bias = dst + rows * cp;
    memset(bias, 0, sizeof(float) * (size_t)cp);
    if (n->bias) memcpy(bias, n->bias + oc0, sizeof(float) * (size_t)channels);
}

/* conv2d.comp tiling: output pixels per workgroup (a power of two, at most 64) and vec4
 * channel groups per invocation (1 or 2), by the device's subgroup size, which tells the CPU
 * drivers apart from GPUs. Measured on VGG16: SwiftShader (4 lanes) is fastest with the
 * largest block; lavapipe (8 lanes) as fast with 32x1 as with 64x2, and LLVM compiles the big
 * block ~10x slower (~25 s per pipeline); GPUs (16+ lanes) get a register-friendly block. */
static void conv_tiling(uint32_t subgroup, int *pixels, int *groups) {
    if (subgroup <= 4)
        *pixels = 64, *groups = 2;
    else if (subgroup < 16)
        *pixels = 32, *groups = 1;
    else
        *pixels = 16, *groups = 1;
}
#define KVK_CONV_LX 64 /* channel-group lanes per workgroup (at most) */

/* The broadcast width of each variant. */
static int variant_rb(const kvk_vk_kernel *k) {
    return !strcmp(k->name, "conv2d_rb8") ? 8 : !strcmp(k->name, "conv2d_rb4") ? 4 : 1;
}

static kvk_status conv_record(const kvk_vk_step_ctx *c) {
    const kvk_node *n = c->node;
    kvk_shape is = c->plan->tensors[c->step->inputs[0]].shape;
    kvk_shape os = n->shape;
    int per_piece = channels_per_piece(c->graph, n, c->max_binding);
    int dense = n->op == KVK_OP_DENSE;
    kvk_conv2d_params p = {.H = is.h,
                           .W = is.w,
                           .C = is.c,
                           .OH = os.h,
                           .OW = os.w,
                           .OC = os.c,
                           .KH = n->kh,
                           .KW = n->kw,
                           .SH = n->sh,
                           .SW = n->sw,
                           .pad_top = n->pad_top,
                           .pad_left = n->pad_left,
                           .act = n->act == KVK_ACT_RELU,
                           .npix = c->plan->batch * os.h * os.w,
                           .ostride = c->plan->tensors[c->step->output].shape.c,
                           .obase = c->step->out_channel_offset};
    if (dense) p.H = p.W = p.OH = p.OW = 1;
    p.has_residual = !dense && c->step->input_count > 1;
    if (dense) p.C = (int)kvk_shape_size(is); /* after Flatten (an alias) the tensor is HxWxC */
    uint32_t sg = c->caps->subgroup_size;
    int max_lx = (int)c->caps->max_invocations;
    if (max_lx > 256) max_lx = 256;
    /* pixels per workgroup (fewer for small layers; Dense has one per image), their inputs
     * shared through the subgroup RB lanes at a time */
    int rp, ng;
    conv_tiling(sg, &rp, &ng);
    while (rp > 1 && rp / 2 >= p.npix) rp /= 2;
    const char *candidates[3];
    int count = 0;
    if (rp >= 8) candidates[count++] = "conv2d_rb8";
    if (rp >= 4) candidates[count++] = "conv2d_rb4";
    candidates[count++] = "conv2d_rb1";
    const kvk_vk_kernel *kernel = kvk_vk_choose(c->caps, c->kernels, candidates, count);
    int rb = variant_rb(kernel);
    if (c->chosen) *c->chosen = kernel->name;
    int aligned_out = os.c % 4 == 0 && p.ostride % 4 == 0 && p.obase % 4 == 0;
    int flags = (p.C % 4 == 0 ? 1 : 0) | (aligned_out ? 2 : 0) | (ng == 2 ? 4 : 0);
    uint32_t max_gy = c->rec->dev->props.limits.maxComputeWorkGroupCount[1];
    uint32_t groups_y = (uint32_t)((p.npix + rp - 1) / rp);
    for (int k = 0; k < c->weight_count; k++) {
        p.oc0 = k * per_piece;
        p.ocb = os.c - p.oc0 < per_piece ? os.c - p.oc0 : per_piece;
        int ocb4 = (p.ocb + 3) / 4;
        /* channel-group lanes per workgroup: whole subgroups, so every broadcast lane is
         * active */
        int per_lane = (ocb4 + ng - 1) / ng;
        int lx = per_lane < KVK_CONV_LX ? per_lane : KVK_CONV_LX;
        if (rb > 1) lx = (lx + (int)sg - 1) / (int)sg * (int)sg;
        if (lx > max_lx) lx = max_lx;
        int spec[3] = {lx, rp, flags};
        /* binding 3: a fused Add's other operand (the step's second input), if any */
        kvk_vk_binding b[4] = {c->inputs[0], c->weights[k], c->output,
                               p.has_residual ? c->inputs[1] : c->inputs[0]};
        uint32_t gx = (uint32_t)((ocb4 + lx * ng - 1) / (lx * ng));
        /* more pixel blocks than one dispatch may have: several dispatches */
        for (uint32_t y0 = 0; y0 < groups_y; y0 += max_gy) {
            uint32_t gy = groups_y - y0 < max_gy ? groups_y - y0 : max_gy;
            p.pix0 = (int)y0 * rp;
            kvk_status st =
                kvk_vk_dispatch(c->rec, kernel->name, spec, 3, b, 4, &p, sizeof p, gx, gy, 1);
            if (st != KVK_OK) return kvk_fail_context(st, "layer '%s': ", n->name);
        }
    }
    return KVK_OK;
}

const kvk_vk_op kvk_vk_conv_op = {conv_pieces, conv_pack, conv_record,
                                  KVK_DTYPE_BIT(KVK_DTYPE_F32)};
