/* Freezing specialization constants (see spirv.h). One pass over the module in order
 * (SPIR-V defines every constant before its use): SpecId decorations are dropped, each
 * specialization constant is written as the constant it now is, and the values of integer and
 * boolean constants are tracked so that OpSpecConstantOp can be evaluated. */
#include "vk/spirv.h"

#include <stdlib.h>
#include <string.h>

/* What the pass knows of an id. */
enum { UNKNOWN, TYPE_BOOL, TYPE_INT32, TYPE_FLOAT32, VALUE, COMPOSITE };
typedef struct spv_id {
    uint8_t kind;
    uint32_t value;  /* VALUE: the 32-bit pattern (booleans 0 or 1, floats their bits) */
    size_t at;       /* COMPOSITE: where its instruction starts in the input */
    int32_t spec_id; /* from its SpecId decoration, or -1 */
} spv_id;

/* An operand's known value. */
static int known(const spv_id *ids, uint32_t bound, uint32_t id, uint32_t *v) {
    if (id >= bound || ids[id].kind != VALUE) return 0;
    *v = ids[id].value;
    return 1;
}

/* Evaluates OpSpecConstantOp's operation on 32-bit integers and booleans; 0 if it cannot. */
static int evaluate(const spv_id *ids, uint32_t bound, const uint32_t *code, const uint32_t *ins,
                    uint32_t n, uint32_t *out) {
    uint32_t op = ins[3], a = 0, b = 0, c = 0;
    if (op == KVK_SPV_OP_COMPOSITE_EXTRACT) { /* one index into a known composite */
        if (n != 6 || ins[4] >= bound || ids[ins[4]].kind != COMPOSITE) return 0;
        const uint32_t *comp = code + ids[ins[4]].at;
        uint32_t parts = (comp[0] >> 16) - 3;
        return ins[5] < parts && known(ids, bound, comp[3 + ins[5]], out);
    }
    int unary = op == KVK_SPV_OP_SNEGATE || op == KVK_SPV_OP_NOT || op == KVK_SPV_OP_LOGICAL_NOT;
    if (op == KVK_SPV_OP_SELECT) {
        if (n != 7 || !known(ids, bound, ins[4], &c) || !known(ids, bound, ins[5], &a) ||
            !known(ids, bound, ins[6], &b))
            return 0;
        *out = c ? a : b;
        return 1;
    }
    if (n != (unary ? 5u : 6u) || !known(ids, bound, ins[4], &a) ||
        (!unary && !known(ids, bound, ins[5], &b)))
        return 0;
    int32_t sa = (int32_t)a, sb = (int32_t)b;
    switch (op) {
    case KVK_SPV_OP_SNEGATE:
        *out = 0u - a;
        return 1;
    case KVK_SPV_OP_NOT:
        *out = ~a;
        return 1;
    case KVK_SPV_OP_LOGICAL_NOT:
        *out = !a;
        return 1;
    case KVK_SPV_OP_IADD:
        *out = a + b;
        return 1;
    case KVK_SPV_OP_ISUB:
        *out = a - b;
        return 1;
    case KVK_SPV_OP_IMUL:
        *out = a * b;
        return 1;
    case KVK_SPV_OP_UDIV:
        if (!b) return 0;
        *out = a / b;
        return 1;
    case KVK_SPV_OP_UMOD:
        if (!b) return 0;
        *out = a % b;
        return 1;
    case KVK_SPV_OP_SDIV:
    case KVK_SPV_OP_SREM:
        if (!b || (sa == INT32_MIN && sb == -1)) return 0; /* undefined: left to the driver */
        *out = (uint32_t)(op == KVK_SPV_OP_SDIV ? sa / sb : sa % sb);
        return 1;
    case KVK_SPV_OP_LOGICAL_EQUAL:
        *out = (a != 0) == (b != 0);
        return 1;
    case KVK_SPV_OP_LOGICAL_NOT_EQUAL:
        *out = (a != 0) != (b != 0);
        return 1;
    case KVK_SPV_OP_LOGICAL_OR:
        *out = a || b;
        return 1;
    case KVK_SPV_OP_LOGICAL_AND:
        *out = a && b;
        return 1;
    case KVK_SPV_OP_IEQUAL:
        *out = a == b;
        return 1;
    case KVK_SPV_OP_INOT_EQUAL:
        *out = a != b;
        return 1;
    case KVK_SPV_OP_UGREATER_THAN:
        *out = a > b;
        return 1;
    case KVK_SPV_OP_SGREATER_THAN:
        *out = sa > sb;
        return 1;
    case KVK_SPV_OP_UGREATER_THAN_EQUAL:
        *out = a >= b;
        return 1;
    case KVK_SPV_OP_SGREATER_THAN_EQUAL:
        *out = sa >= sb;
        return 1;
    case KVK_SPV_OP_ULESS_THAN:
        *out = a < b;
        return 1;
    case KVK_SPV_OP_SLESS_THAN:
        *out = sa < sb;
        return 1;
    case KVK_SPV_OP_ULESS_THAN_EQUAL:
        *out = a <= b;
        return 1;
    case KVK_SPV_OP_SLESS_THAN_EQUAL:
        *out = sa <= sb;
        return 1;
    case KVK_SPV_OP_SHIFT_RIGHT_LOGICAL:
        if (b >= 32) return 0;
        *out = a >> b;
        return 1;
    case KVK_SPV_OP_SHIFT_RIGHT_ARITHMETIC:
        if (b >= 32) return 0;
        *out = sa < 0 ? ~(~a >> b) : a >> b;
        return 1;
    case KVK_SPV_OP_SHIFT_LEFT_LOGICAL:
        if (b >= 32) return 0;
        *out = a << b;
        return 1;
    case KVK_SPV_OP_BITWISE_OR:
        *out = a | b;
        return 1;
    case KVK_SPV_OP_BITWISE_XOR:
        *out = a ^ b;
        return 1;
    case KVK_SPV_OP_BITWISE_AND:
        *out = a & b;
        return 1;
    default:
        return 0;
    }
}

/* Appends the constant `id` of type `type` with value v: OpConstantTrue/False for a boolean,
 * OpConstant for a 32-bit integer or float (v its bits). */
static uint32_t *emit_constant(uint32_t *o, const spv_id *ids, uint32_t type, uint32_t id,
                               uint32_t v) {
    if (ids[type].kind == TYPE_BOOL) {
        *o++ = (3u << 16) | (v ? KVK_SPV_OP_CONSTANT_TRUE : KVK_SPV_OP_CONSTANT_FALSE);
        *o++ = type;
        *o++ = id;
    } else {
        *o++ = (4u << 16) | KVK_SPV_OP_CONSTANT;
        *o++ = type;
        *o++ = id;
        *o++ = v;
    }
    return o;
}

int kvk_spirv_freeze(const uint32_t *code, size_t words, const int *values, int count,
                     uint32_t **out, size_t *out_words) {
    if (words < 5 || code[0] != KVK_SPV_MAGIC || code[3] == 0 || code[3] > (1u << 22)) return -1;
    uint32_t bound = code[3];
    spv_id *ids = calloc(bound, sizeof *ids);
    /* every rewrite keeps an instruction's length or shortens it */
    uint32_t *o = malloc(words * sizeof *o);
    if (!ids || !o) {
        free(ids);
        free(o);
        return -1;
    }
    for (uint32_t i = 0; i < bound; i++) ids[i].spec_id = -1;
    /* the SpecId decorations come before the constants they decorate; check every length */
    for (size_t at = 5; at < words;) {
        uint32_t n = code[at] >> 16, op = code[at] & 0xffff;
        if (n == 0 || at + n > words) goto bad;
        if (op == KVK_SPV_OP_DECORATE && n == 4 && code[at + 2] == KVK_SPV_DECORATION_SPEC_ID &&
            code[at + 1] < bound)
            ids[code[at + 1]].spec_id = (int32_t)code[at + 3];
        at += n;
    }
    uint32_t *w = o;
    memcpy(w, code, 5 * sizeof *w);
    w += 5;
    for (size_t at = 5; at < words;) {
        const uint32_t *ins = code + at;
        uint32_t n = ins[0] >> 16, op = ins[0] & 0xffff;
        at += n;
        if (op == KVK_SPV_OP_DECORATE && n == 4 && ins[2] == KVK_SPV_DECORATION_SPEC_ID) continue;
        /* result type and id of the constants below */
        uint32_t type = n > 2 ? ins[1] : 0, id = n > 2 ? ins[2] : 0;
        int typed = type < bound && id < bound;
        if (op == KVK_SPV_OP_TYPE_BOOL && n == 2 && ins[1] < bound) ids[ins[1]].kind = TYPE_BOOL;
        if (op == KVK_SPV_OP_TYPE_INT && n == 4 && ins[1] < bound && ins[2] == 32)
            ids[ins[1]].kind = TYPE_INT32;
        if (op == KVK_SPV_OP_TYPE_FLOAT && n == 3 && ins[1] < bound && ins[2] == 32)
            ids[ins[1]].kind = TYPE_FLOAT32;
        if (typed && (op == KVK_SPV_OP_CONSTANT_TRUE || op == KVK_SPV_OP_CONSTANT_FALSE) &&
            n == 3) {
            ids[id].kind = VALUE, ids[id].value = op == KVK_SPV_OP_CONSTANT_TRUE;
        } else if (typed && op == KVK_SPV_OP_CONSTANT && n == 4 &&
                   (ids[type].kind == TYPE_INT32 || ids[type].kind == TYPE_FLOAT32)) {
            ids[id].kind = VALUE, ids[id].value = ins[3];
        } else if (typed && op == KVK_SPV_OP_CONSTANT_COMPOSITE) {
            ids[id].kind = COMPOSITE, ids[id].at = (size_t)(ins - code);
        } else if (typed &&
                   (op == KVK_SPV_OP_SPEC_CONSTANT_TRUE || op == KVK_SPV_OP_SPEC_CONSTANT_FALSE) &&
                   n == 3) {
            int32_t s = ids[id].spec_id;
            uint32_t v = s >= 0 && s < count ? values[s] != 0 : op == KVK_SPV_OP_SPEC_CONSTANT_TRUE;
            ids[id].kind = VALUE, ids[id].value = v;
            w = emit_constant(w, ids, type, id, v);
            continue;
        } else if (typed && op == KVK_SPV_OP_SPEC_CONSTANT && n == 4 &&
                   ids[type].kind == TYPE_INT32) {
            int32_t s = ids[id].spec_id;
            uint32_t v = s >= 0 && s < count ? (uint32_t)values[s] : ins[3];
            ids[id].kind = VALUE, ids[id].value = v;
            w = emit_constant(w, ids, type, id, v);
            continue;
        } else if (typed && op == KVK_SPV_OP_SPEC_CONSTANT) {
            goto bad; /* a 64-bit or float specialization constant: none of kvk's shaders has */
        } else if (typed && op == KVK_SPV_OP_SPEC_CONSTANT_COMPOSITE) {
            int all = 1;
            for (uint32_t k = 3; k < n; k++)
                if (ins[k] >= bound || (ids[ins[k]].kind != VALUE && ids[ins[k]].kind != COMPOSITE))
                    all = 0;
            if (all) {
                ids[id].kind = COMPOSITE, ids[id].at = (size_t)(ins - code);
                *w++ = (n << 16) | KVK_SPV_OP_CONSTANT_COMPOSITE;
                memcpy(w, ins + 1, (n - 1) * sizeof *w);
                w += n - 1;
                continue;
            }
        } else if (typed && op == KVK_SPV_OP_SPEC_CONSTANT_OP && n >= 5 &&
                   (ids[type].kind == TYPE_BOOL || ids[type].kind == TYPE_INT32 ||
                    /* a float only chosen or extracted, bits unchanged (pool2d's -FLT_MAX) */
                    (ids[type].kind == TYPE_FLOAT32 &&
                     (ins[3] == KVK_SPV_OP_SELECT || ins[3] == KVK_SPV_OP_COMPOSITE_EXTRACT)))) {
            uint32_t v;
            if (evaluate(ids, bound, code, ins, n, &v)) {
                if (ids[type].kind == TYPE_BOOL) v = v != 0;
                ids[id].kind = VALUE, ids[id].value = v;
                w = emit_constant(w, ids, type, id, v);
                continue;
            }
        }
        memcpy(w, ins, n * sizeof *w);
        w += n;
    }
    free(ids);
    *out = o;
    *out_words = (size_t)(w - o);
    return 0;
bad:
    free(ids);
    free(o);
    return -1;
}
