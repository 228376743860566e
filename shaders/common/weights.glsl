// The weight buffer (binding 1) of the GEMM kernels, read as vec4s through WV(i) whatever its
// storage, which the variant's defines choose:
//   WF16 = 1: float16 weights (a vec4 of them is 8 bytes), converted to float32 on load;
//   WIDE = 1: each vec4 loaded as 64-bit words (shaderInt64): lavapipe turns every buffer load
//             into one scalar load per lane and component, so fewer, wider loads are faster.
//   TEXW = 1: the weights read as a uniform texel buffer of vec4s (its view's format: fp32 or,
//             with WF16, fp16 vec4s), where lavapipe fetches each lane's vec4 with one vector
//             load instead of a bounds-checked scalar loop per lane and component.
// With WIDE the input binding is also seen as 64-bit words (XV(i), an input vec4).
#if WIDE
#extension GL_ARB_gpu_shader_int64 : require
layout(std430, set = 0, binding = 0) readonly buffer Input8 { u64vec2 x8[]; };
vec4 kvk_unpack8(u64vec2 v) {
    return uintBitsToFloat(uvec4(unpackUint2x32(v.x), unpackUint2x32(v.y)));
}
#define XV(i) kvk_unpack8(x8[i])
#else
#define XV(i) x4[i]
#endif

vec4 kvk_unpack_halves(uvec2 v) {
    return vec4(unpackHalf2x16(v.x), unpackHalf2x16(v.y));
}

#if defined(TEXW) && TEXW
layout(set = 0, binding = 1) uniform samplerBuffer weight_texels;
#define WV(i) texelFetch(weight_texels, i)
#elif WF16 && WIDE
layout(std430, set = 0, binding = 1) readonly buffer Weights { uint64_t wq[]; };
#define WV(i) kvk_unpack_halves(unpackUint2x32(wq[i]))
#elif WF16
layout(std430, set = 0, binding = 1) readonly buffer Weights { uvec2 wh[]; };
#define WV(i) kvk_unpack_halves(wh[i])
#elif WIDE
layout(std430, set = 0, binding = 1) readonly buffer Weights { u64vec2 w8[]; };
#define WV(i) kvk_unpack8(w8[i])
#else
layout(std430, set = 0, binding = 1) readonly buffer Weights { vec4 w[]; };
#define WV(i) w[i]
#endif
