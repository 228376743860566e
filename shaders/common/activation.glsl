// Element-wise activations (codes in kvk_activations.h), as Keras computes them in float32.
// NaN propagates as in Keras: no max()/min() (their result for NaN is undefined in GLSL), only
// comparisons whose false branch keeps x, and NaN tested on the bits (float_bits.glsl: drivers
// may fold isnan() away).
#include "float_bits.glsl"
#include "kvk_activations.h"
#define KVK_ACT_CONST(name, value) const int KVK_ACT_##name = value;
KVK_ACTIVATIONS(KVK_ACT_CONST)

float kvk_sigmoid(float x) {
    return 1.0 / (1.0 + exp(-x));
}

// Keras' plain relu (no slope, maximum or threshold) as one compare and select: NaN and -0
// pass through, as kvk_activate's RELU keeps them. For reads through a ReLU, where
// kvk_activate's general branches cost SwiftShader (Subzero does not fold them) about as much
// as a 3x3 depthwise kernel at every load.
float kvk_relu_plain(float x) {
    return x < 0.0 ? 0.0 : x;
}
vec4 kvk_relu_plain4(vec4 x) {
    return mix(x, vec4(0.0), lessThan(x, vec4(0.0)));
}

float kvk_activate(float x, int act, float slope, float maxv, float thr) {
    if (act == KVK_ACT_LINEAR) return x;
    if (act == KVK_ACT_RELU) {
        if (x >= maxv) return maxv;
        if (x >= thr) return x;
        return slope == 0.0 && !kvk_isnan(x) ? 0.0 : slope * (x - thr);
    }
    if (act == KVK_ACT_SIGMOID) return kvk_sigmoid(x);
    if (act == KVK_ACT_TANH) { // tanh from exp(-2|x|): no inf/inf for large |x|
        float t = exp(-2.0 * abs(x));
        float r = (1.0 - t) / (1.0 + t);
        return x < 0.0 ? -r : r;
    }
    if (act == KVK_ACT_SWISH) return x * kvk_sigmoid(x);
    if (act == KVK_ACT_HARD_SIGMOID) {
        float y = 0.2 * x + 0.5;
        return y < 0.0 ? 0.0 : y > 1.0 ? 1.0 : y;
    }
    if (act == KVK_ACT_HARD_SIGMOID3 || act == KVK_ACT_HARD_SWISH) {
        float y = x + 3.0;
        y = (y < 0.0 ? 0.0 : y > 6.0 ? 6.0 : y) / 6.0;
        return act == KVK_ACT_HARD_SWISH ? x * y : y;
    }
    if (act == KVK_ACT_ELU) return x > 0.0 ? x : slope * (exp(x) - 1.0);
    if (act == KVK_ACT_SOFTPLUS) return (x > 0.0 ? x : 0.0) + log(1.0 + exp(-abs(x)));
    return x;
}

vec4 kvk_activate4(vec4 x, int act, float slope, float maxv, float thr) {
    if (act == KVK_ACT_LINEAR) return x;
    return vec4(kvk_activate(x.x, act, slope, maxv, thr), kvk_activate(x.y, act, slope, maxv, thr),
                kvk_activate(x.z, act, slope, maxv, thr), kvk_activate(x.w, act, slope, maxv, thr));
}
