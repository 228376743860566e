// A flat invocation index over a 2-D grid of 1-D workgroups: the host spreads large
// element counts over y because one dimension allows only 65535 workgroups. A macro, not a
// function: a function body compiled before the shader's layout(local_size_x) line would see
// gl_WorkGroupSize as (1, 1, 1), which glslang accepts silently.
#define kvk_flat_index() \
    int((gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + \
        gl_LocalInvocationID.x)
