#version 450
// Conv2D / Dense; the code is shaders/common/conv2d_body.glsl. This variant: input values
// shared across subgroups of 4 lanes (SwiftShader).
#extension GL_GOOGLE_include_directive : require
#define RB 4
#include "conv2d_body.glsl"
