// A flat invocation index over a 2-D grid of 1-D workgroups: the host spreads large
// element counts over y because one dimension allows only 65535 workgroups.
int kvk_flat_index() {
    return int((gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x +
               gl_LocalInvocationID.x);
}
