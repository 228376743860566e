// Activation codes, defined once for C (kvk_activation in src/core/graph.h) and GLSL
// (activation.glsl). Only #define lines and // comments: both languages read this file.
//   RELU is Keras' relu(x, negative_slope, max_value, threshold) (ReLU, LeakyReLU, relu6);
//   HARD_SIGMOID is Keras 2's clip(0.2 x + 0.5, 0, 1), HARD_SIGMOID3 Keras 3's
//   relu6(x + 3) / 6; HARD_SWISH is x * HARD_SIGMOID3(x); SWISH is x * sigmoid(x) (silu);
//   ELU uses negative_slope as its alpha.
#define KVK_ACTIVATIONS(X) X(LINEAR, 0) X(RELU, 1) X(SOFTMAX, 2) X(SIGMOID, 3) X(TANH, 4) \
    X(SWISH, 5) X(HARD_SIGMOID, 6) X(HARD_SIGMOID3, 7) X(HARD_SWISH, 8) X(ELU, 9) X(SOFTPLUS, 10)
