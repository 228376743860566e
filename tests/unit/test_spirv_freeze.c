/* Reading kvk's SPIR-V modules (src/vk/spirv_freeze.c, spirv_bindings.c), without a device.
 * Freezing specialization constants: every embedded
 * shader frozen leaves no specialization constant and no SpecId behind, the workgroup size
 * takes the value given, and a hand-written module's OpSpecConstantOps evaluate as the
 * driver would have (or stay, where they cannot). Every Vulkan test then runs the frozen
 * modules under the validation layer, which checks them as SPIR-V. */
#include "testutil.h"

#include "vk/spirv.h"
#include "vk/vk.h"

#define INS(n, op) (((uint32_t)(n) << 16) | (op))

/* The instruction defining `id` in words[0..n), or NULL. */
static const uint32_t *definition(const uint32_t *words, size_t n, uint32_t id) {
    for (size_t at = 5; at < n; at += words[at] >> 16) {
        uint32_t op = words[at] & 0xffff, len = words[at] >> 16;
        if (len > 2 && op >= KVK_SPV_OP_CONSTANT_TRUE && op <= KVK_SPV_OP_SPEC_CONSTANT_OP &&
            words[at + 2] == id)
            return words + at;
    }
    return NULL;
}

static void embedded_shaders(void) {
    int values[4] = {24, 16, 7, 1}; /* local_size_x, then each shader's own */
    int shaders = 0, sized = 0;
    for (size_t i = 0; kvk_shader_name(i); i++) {
        const char *name = kvk_shader_name(i);
        size_t size;
        const uint32_t *code = (const uint32_t *)kvk_shader_lookup(name, &size);
        uint32_t *out = NULL;
        size_t n = 0;
        if (!tu_check(kvk_spirv_freeze(code, size / 4, values, 4, &out, &n) == 0, "%s: frozen",
                      name))
            continue;
        shaders++;
        int left = 0, spec_ids = 0, size_ok = 1;
        uint32_t workgroup_size = 0;
        for (size_t at = 5; at < n; at += out[at] >> 16) {
            uint32_t op = out[at] & 0xffff, len = out[at] >> 16;
            if (op >= KVK_SPV_OP_SPEC_CONSTANT_TRUE && op <= KVK_SPV_OP_SPEC_CONSTANT_OP) left++;
            if (op == KVK_SPV_OP_DECORATE && out[at + 2] == KVK_SPV_DECORATION_SPEC_ID) spec_ids++;
            if (op == KVK_SPV_OP_DECORATE && len == 4 && out[at + 2] == 11 /* BuiltIn */ &&
                out[at + 3] == 25 /* WorkgroupSize */)
                workgroup_size = out[at + 1];
            if (len == 0) {
                size_ok = 0;
                break;
            }
        }
        tu_check(size_ok && n <= size / 4, "%s: %zu words from %zu", name, n, size / 4);
        tu_check(left == 0, "%s: %d specialization constants left", name, left);
        tu_check(spec_ids == 0, "%s: %d SpecId decorations left", name, spec_ids);
        const uint32_t *was = workgroup_size ? definition(code, size / 4, workgroup_size) : NULL;
        if (was && (was[0] & 0xffff) ==
                       KVK_SPV_OP_SPEC_CONSTANT_COMPOSITE) { /* local_size_x_id = 0: x becomes 24 */
            const uint32_t *comp = definition(out, n, workgroup_size);
            const uint32_t *x = comp ? definition(out, n, comp[3]) : NULL;
            tu_check(comp && (comp[0] & 0xffff) == KVK_SPV_OP_CONSTANT_COMPOSITE && x &&
                         (x[0] & 0xffff) == KVK_SPV_OP_CONSTANT && x[3] == 24,
                     "%s: the workgroup size is a constant composite of x = 24", name);
            sized++;
        }
        free(out);
    }
    tu_check(shaders > 30 && sized > 10, "%d embedded shaders frozen, %d with a specialized size",
             shaders, sized);
}

/* %2 int, %3 bool, %5 = spec 0 (default 7), %6 = spec 1 (default 3), %9 = 0;
 * %7 = %5 / %6, %8 = %5 > %6, %10 = %8 ? %5 : %6, %11 = %5 & %6, %12 = %5 / %9 (undefined:
 * left as it is) */
static size_t hand_module(uint32_t *w) {
    size_t n = 0;
    uint32_t header[5] = {0x07230203, 0x00010300, 0, 13, 0};
    for (int i = 0; i < 5; i++) w[n++] = header[i];
    uint32_t body[] = {INS(4, KVK_SPV_OP_DECORATE),
                       5,
                       1,
                       0,
                       INS(4, KVK_SPV_OP_DECORATE),
                       6,
                       1,
                       1,
                       INS(4, KVK_SPV_OP_TYPE_INT),
                       2,
                       32,
                       1,
                       INS(2, KVK_SPV_OP_TYPE_BOOL),
                       3,
                       INS(4, KVK_SPV_OP_SPEC_CONSTANT),
                       2,
                       5,
                       7,
                       INS(4, KVK_SPV_OP_SPEC_CONSTANT),
                       2,
                       6,
                       3,
                       INS(4, KVK_SPV_OP_CONSTANT),
                       2,
                       9,
                       0,
                       INS(6, KVK_SPV_OP_SPEC_CONSTANT_OP),
                       2,
                       7,
                       KVK_SPV_OP_SDIV,
                       5,
                       6,
                       INS(6, KVK_SPV_OP_SPEC_CONSTANT_OP),
                       3,
                       8,
                       KVK_SPV_OP_SGREATER_THAN,
                       5,
                       6,
                       INS(7, KVK_SPV_OP_SPEC_CONSTANT_OP),
                       2,
                       10,
                       KVK_SPV_OP_SELECT,
                       8,
                       5,
                       6,
                       INS(6, KVK_SPV_OP_SPEC_CONSTANT_OP),
                       2,
                       11,
                       KVK_SPV_OP_BITWISE_AND,
                       5,
                       6,
                       INS(6, KVK_SPV_OP_SPEC_CONSTANT_OP),
                       2,
                       12,
                       KVK_SPV_OP_SDIV,
                       5,
                       9};
    for (size_t i = 0; i < sizeof body / sizeof body[0]; i++) w[n++] = body[i];
    return n;
}

static void hand_written(void) {
    uint32_t w[128];
    size_t n = hand_module(w);
    uint32_t *out;
    size_t m;
    int values[2] = {-9, 2};
    if (!tu_check(kvk_spirv_freeze(w, n, values, 2, &out, &m) == 0, "hand-written module")) return;
    const uint32_t *d;
    d = definition(out, m, 7);
    tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_CONSTANT && (int32_t)d[3] == -4, "-9 / 2 = -4");
    d = definition(out, m, 8);
    tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_CONSTANT_FALSE, "-9 > 2 is false");
    d = definition(out, m, 10);
    tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_CONSTANT && d[3] == 2, "false ? -9 : 2 = 2");
    d = definition(out, m, 11);
    tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_CONSTANT && d[3] == ((uint32_t)-9 & 2u), "-9 & 2");
    d = definition(out, m, 12);
    tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_SPEC_CONSTANT_OP, "-9 / 0 is left to the driver");
    free(out);

    /* one value given: SpecId 1 keeps its default 3 */
    int one[1] = {7};
    if (tu_check(kvk_spirv_freeze(w, n, one, 1, &out, &m) == 0, "one value given")) {
        d = definition(out, m, 7);
        tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_CONSTANT && d[3] == 2, "7 / default 3 = 2");
        d = definition(out, m, 8);
        tu_check(d && (d[0] & 0xffff) == KVK_SPV_OP_CONSTANT_TRUE, "7 > 3 is true");
        free(out);
    }

    /* what it cannot read */
    uint32_t bad[128];
    memcpy(bad, w, n * sizeof *bad);
    bad[0] = 0x03022307;
    tu_check(kvk_spirv_freeze(bad, n, values, 2, &out, &m) == -1, "a wrong magic number");
    memcpy(bad, w, n * sizeof *bad);
    bad[5] = INS(0, KVK_SPV_OP_DECORATE);
    tu_check(kvk_spirv_freeze(bad, n, values, 2, &out, &m) == -1, "an instruction of 0 words");
    bad[5] = INS(200, KVK_SPV_OP_DECORATE);
    tu_check(kvk_spirv_freeze(bad, n, values, 2, &out, &m) == -1, "an instruction past the end");
    tu_check(kvk_spirv_freeze(w, 4, values, 2, &out, &m) == -1, "no header");
}

/* Each shader's written bindings, read from its SPIR-V (the recorder orders dispatches by
 * them): every kvk shader writes exactly one buffer, and the known ones the right one. And the
 * bindings it reads as uniform texel buffers (its pipeline layout's): only the _rb8_tex
 * variants' weights and probe_gemm_rb8_tex's B (binding 1) and the Winograd _x4_tex
 * transforms' inputs (binding 0), none of which they write. */
static void binding_masks(void) {
    const struct {
        const char *shader;
        uint32_t written;
    } known[] = {{"conv2d_rb8", 1u << 2},
                 {"eltwise", 1u << 2},
                 {"pool2d", 1u << 1},
                 {"softmax", 1u << 0},
                 {"winograd_input", 1u << 1},
                 {"winograd_output", 1u << 2},
                 {"depthwise_conv2d_x4", 1u << 2}};
    int shaders = 0, texel_shaders = 0;
    for (size_t i = 0; kvk_shader_name(i); i++) {
        const char *name = kvk_shader_name(i);
        size_t size;
        const uint32_t *code = (const uint32_t *)kvk_shader_lookup(name, &size);
        uint32_t w = kvk_spirv_written_bindings(code, size / 4);
        tu_check(w && !(w & (w - 1)) && w < (1u << KVK_VK_MAX_BINDINGS),
                 "%s writes one binding (mask 0x%x)", name, w);
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (!strcmp(name, known[k].shader))
                shaders++, tu_check(w == known[k].written, "%s writes 0x%x, not 0x%x", name, w,
                                    known[k].written);
        uint32_t t = kvk_spirv_texel_bindings(code, size / 4);
        uint32_t want = strstr(name, "_rb8_tex") ? 2 : strstr(name, "_x4_tex") ? 1 : 0;
        texel_shaders += want != 0;
        tu_check(t == want, "%s reads 0x%x as texel buffers, not 0x%x", name, t, want);
        tu_check(!(t & w), "%s writes none of its texel buffers", name);
    }
    tu_check(shaders == (int)(sizeof known / sizeof known[0]), "%d known shaders found", shaders);
    tu_check(texel_shaders == 15,
             "the eight _rb8_tex kernels, probe_gemm_rb8_tex and the six _x4_tex transforms "
             "found (%d)",
             texel_shaders);
    uint32_t garbage[8] = {0x07230203, 0x00010300, 0, 4, 0, 0xffff0000u, 1, 2};
    tu_check(kvk_spirv_written_bindings(garbage, 8) == UINT32_MAX,
             "an unreadable module writes every binding");
    tu_check(kvk_spirv_written_bindings(garbage, 3) == UINT32_MAX, "a truncated one too");
    tu_check(kvk_spirv_texel_bindings(garbage, 8) == 0,
             "an unreadable module has no texel buffers");
}

int main(void) {
    embedded_shaders();
    hand_written();
    binding_masks();
    return tu_finish();
}
