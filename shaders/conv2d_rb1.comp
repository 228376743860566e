#version 450
// Conv2D / Dense; the code is shaders/common/conv2d_body.glsl. This variant: input values
// shared across no subgroup sharing (one pixel per workgroup, or tiny subgroups).
#extension GL_GOOGLE_include_directive : require
#define RB 1
#include "conv2d_body.glsl"
