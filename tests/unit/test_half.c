/* float16 conversions (core/half.c), which fp16 weights go through: the boundaries of
 * binary16 that numpy's astype(float16) defines (ties to even, overflow to infinity,
 * subnormals, NaN), and a round trip of every half. numpy agreed bit for bit on 3 million
 * random and special floats when this was written; these are the cases that pin it down. */
#include "testutil.h"

#include "core/half.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void expect(float f, uint16_t want, const char *what) {
    uint16_t got = kvk_half_from_float(f);
    tu_check(got == want, "%s: %.9g -> 0x%04x, want 0x%04x", what, (double)f, got, want);
}

int main(void) {
    expect(0.0f, 0x0000, "zero");
    expect(-0.0f, 0x8000, "negative zero");
    expect(1.0f, 0x3c00, "one");
    expect(-2.0f, 0xc000, "minus two");
    expect(65504.0f, 0x7bff, "the largest half");
    expect(65519.99f, 0x7bff, "just below the rounding point to infinity");
    expect(65520.0f, 0x7c00, "the tie above the largest half rounds to infinity");
    expect(INFINITY, 0x7c00, "infinity");
    expect(-INFINITY, 0xfc00, "minus infinity");
    expect(1.0f + 1.0f / 2048, 0x3c00, "a tie rounds to the even mantissa (down)");
    expect(1.0f + 3.0f / 2048, 0x3c02, "a tie rounds to the even mantissa (up)");
    expect(1.0f + 1.0f / 2048 + 1.0f / 65536, 0x3c01, "above the tie rounds up");
    expect(6.103515625e-5f, 0x0400, "the smallest normal half");
    expect(5.9604645e-8f, 0x0001, "the smallest subnormal half");
    expect(2.9802322e-8f, 0x0000, "half the smallest subnormal: a tie to even zero");
    expect(2.9802326e-8f, 0x0001, "just above that tie");
    expect(-1e-10f, 0x8000, "underflow keeps the sign");
    expect(3.0517578e-5f, 0x0200, "a subnormal");
    uint16_t nan = kvk_half_from_float(NAN);
    tu_check((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0, "NaN stays NaN: 0x%04x", nan);
    /* every half converts to a float and back to itself (NaNs to a NaN) */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = kvk_half_to_float((uint16_t)h);
        uint16_t back = kvk_half_from_float(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !isnan(f) || (back & 0x3ff) == 0 : back != h) bad++;
    }
    tu_check(bad == 0, "all 65536 halves round-trip through float (%d did not)", bad);
    tu_check(bits(kvk_half_to_float(0x0001)) == bits(5.9604645e-8f), "0x0001 is 2^-24");
    uint16_t out[3];
    float in[3] = {1.5f, -0.5f, 1e6f};
    kvk_halves_from_floats(in, out, 3);
    tu_check(out[0] == 0x3e00 && out[1] == 0xb800 && out[2] == 0x7c00, "an array: %04x %04x %04x",
             out[0], out[1], out[2]);
    return tu_finish();
}
