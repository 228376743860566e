// Activation codes shared with the host (kvk_activation): 0 linear, 1 relu.
// ReLU keeps NaN, as tf.nn.relu does (GLSL's max(x, 0.0) may return 0 for NaN).
#include "float_bits.glsl"
float kvk_activate(float x, int act) {
    return act == 1 && !kvk_isnan(x) ? max(x, 0.0) : x;
}
vec4 kvk_activate4(vec4 x, int act) {
    return act == 1 ? mix(max(x, vec4(0.0)), x, kvk_isnan4(x)) : x;
}
