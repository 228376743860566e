// Activation codes shared with the host (kvk_activation): 0 linear, 1 relu.
float kvk_activate(float x, int act) {
    return act == 1 ? max(x, 0.0) : x;
}
vec4 kvk_activate4(vec4 x, int act) {
    return act == 1 ? max(x, vec4(0.0)) : x;
}
