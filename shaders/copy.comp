#version 450
/* Strided 4-d copy with dtype conversion, the kernel behind permute,
 * transpose, convert and concat:
 *   dst[dst_off + Σ i_k·dstride_k] = src[src_off + Σ i_k·sstride_k]
 * over the index space shape0 × shape1 × shape2 × shape3 (n items). One
 * invocation per item, in the index order, so for a contiguous dst (the
 * usual case) the writes of neighbouring invocations are adjacent; the
 * index is split without integer divides (fastdiv.glsl). src is read
 * through a uniform texel buffer whose view (f32 or f16) converts; dst is
 * f32, or f16 when DST_F16 is defined (rounded to nearest even).
 *
 * An item is one element, or with VEC4 a run of 4 elements along dim 3 when
 * that dim is contiguous on both sides (a permute that keeps the last dim,
 * a concat of rows, a convert): then every stride and offset counts 4-wide
 * units, src is a 4-wide view and dst takes vec4 (f32) or 4 packed halves.
 *
 * Bindings: 1 src (uniform texel buffer), 2 dst (storage). */
#extension GL_GOOGLE_include_directive : require
#if defined(DST_F16) && !defined(VEC4)
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
#include "fastdiv.glsl"

layout(push_constant) uniform Push { fv_pc_copy p; };
layout(binding = 1) uniform samplerBuffer S;

/* f32 -> f16 bits, rounded to nearest even. Written out because a plain
 * float16_t(v) may truncate (the rounding of OpFConvert is the driver's
 * choice; llvmpipe rounds toward zero), and results should not depend on
 * the device. Subnormal halves are exact multiples of 2^-24; beyond 65520
 * the value rounds to infinity; NaN stays NaN. */
uint f16_bits(float f)
{
    uint x = floatBitsToUint(f);
    uint sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0u);
    if (mag >= 0x477ff000u) return sign | 0x7c00u;
    if (mag < 0x38800000u) return sign | uint(roundEven(uintBitsToFloat(mag) * 16777216.0));
    uint h = (mag - 0x38000000u) >> 13, rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++;
    return sign | h;
}

#if defined(VEC4) && defined(DST_F16)
layout(std430, binding = 2) writeonly buffer D { uvec2 d[]; };
#define LOAD(i) texelFetch(S, int(i))
#define STORE(i, v) d[i] = uvec2(f16_bits(v.x) | f16_bits(v.y) << 16, f16_bits(v.z) | f16_bits(v.w) << 16)
#elif defined(VEC4)
layout(std430, binding = 2) writeonly buffer D { vec4 d[]; };
#define LOAD(i) texelFetch(S, int(i))
#define STORE(i, v) d[i] = (v)
#elif defined(DST_F16)
layout(std430, binding = 2) writeonly buffer D { uint16_t d[]; };
#define LOAD(i) texelFetch(S, int(i)).x
#define STORE(i, v) d[i] = uint16_t(f16_bits(v))
#else
layout(std430, binding = 2) writeonly buffer D { float d[]; };
#define LOAD(i) texelFetch(S, int(i)).x
#define STORE(i, v) d[i] = (v)
#endif

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    uint r3 = fv_fastdiv(i, p.magic3, p.shift3), i3 = i - r3 * p.shape3;
    uint r2 = fv_fastdiv(r3, p.magic2, p.shift2), i2 = r3 - r2 * p.shape2;
    uint i0 = fv_fastdiv(r2, p.magic1, p.shift1), i1 = r2 - i0 * p.shape1;
    uint s = p.src_off + i0 * p.sstride0 + i1 * p.sstride1 + i2 * p.sstride2 + i3 * p.sstride3;
    uint t = p.dst_off + i0 * p.dstride0 + i1 * p.dstride1 + i2 * p.dstride2 + i3 * p.dstride3;
    STORE(t, LOAD(s));
}
