#version 450
// Conv2D / Dense; the code is shaders/common/conv2d_body.glsl. This variant: input values
// shared across subgroups of 8 or more lanes (lavapipe, GPUs).
#extension GL_GOOGLE_include_directive : require
#define RB 8
#include "conv2d_body.glsl"
