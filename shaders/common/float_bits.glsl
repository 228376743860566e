// NaN and infinity tests on the bits, as TensorFlow's kernels need them: GLSL leaves min, max
// and comparisons with NaN undefined, and drivers may assume no NaN or Inf in float code, so
// the tests are integer operations that no float optimisation can drop.
#ifndef KVK_FLOAT_BITS_GLSL
#define KVK_FLOAT_BITS_GLSL
bool kvk_isnan(float x) {
    return (floatBitsToUint(x) & 0x7fffffffu) > 0x7f800000u;
}
// NaN or +-Inf
bool kvk_nonfinite(float x) {
    return (floatBitsToUint(x) & 0x7f800000u) == 0x7f800000u;
}
bvec4 kvk_isnan4(vec4 x) {
    return greaterThan(floatBitsToUint(x) & uvec4(0x7fffffffu), uvec4(0x7f800000u));
}
float kvk_nan() {
    return uintBitsToFloat(0x7fc00000u);
}
float kvk_neg_inf() {
    return uintBitsToFloat(0xff800000u);
}
#endif
