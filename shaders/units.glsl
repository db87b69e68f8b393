/* Units: how the element-wise and row kernels read and write runs of f32.
 * A kernel walks its data in units of UNIT_W floats:
 *
 *   (default)  1 float: a texel fetch (.x of any scalar view), a float store.
 *   VEC4       4 floats: one texel of a 4-wide view, a vec4 store.
 *   WIDE       8 floats: two texels of a 4-wide view, one u64vec4 store (needs
 *              shaderInt64). For CPU-type devices: llvmpipe turns a storage-
 *              buffer store into a loop over lanes and components, so fewer,
 *              wider components cut its cost; 8 floats as four 64-bit
 *              components stored 3x faster than two vec4 stores.
 *
 * Reads go through uniform texel buffers, whose view (f32 or f16) converts
 * to float. UNIT is the value type: float, vec4, or mat2x4 whose two columns
 * are the unit's halves. Units are combined only with component-wise
 * operators (+, -, and * or / by a scalar) and the unit_* helpers below —
 * never with a matrix product. The output array holds UNIT_STORE_T and is
 * written with unit_store(). */
#if defined(WIDE)
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#define UNIT mat2x4
#define UNIT_W 8u
#define UNIT_STORE_T u64vec4

UNIT unit_load(samplerBuffer t, uint u)
{
    return UNIT(texelFetch(t, int(2u * u)), texelFetch(t, int(2u * u + 1u)));
}
UNIT unit_splat(float v) { return UNIT(vec4(v), vec4(v)); }
UNIT unit_exp2(UNIT a) { return UNIT(exp2(a[0]), exp2(a[1])); }
UNIT unit_max(UNIT a, UNIT b) { return UNIT(max(a[0], b[0]), max(a[1], b[1])); }
UNIT unit_mul(UNIT a, UNIT b) { return matrixCompMult(a, b); }
float unit_hsum(UNIT a)
{
    vec4 s = a[0] + a[1];
    return (s.x + s.y) + (s.z + s.w);
}
float unit_hmax(UNIT a)
{
    vec4 m = max(a[0], a[1]);
    return max(max(m.x, m.y), max(m.z, m.w));
}
/* the unit starting at column c0 with its columns >= live replaced by fill */
UNIT unit_keep(UNIT a, uint c0, uint live, float fill)
{
    uvec4 c = uvec4(c0) + uvec4(0u, 1u, 2u, 3u);
    return UNIT(mix(a[0], vec4(fill), greaterThanEqual(c, uvec4(live))),
                mix(a[1], vec4(fill), greaterThanEqual(c + 4u, uvec4(live))));
}
UNIT_STORE_T unit_pack(UNIT a)
{
    uvec4 lo = floatBitsToUint(a[0]), hi = floatBitsToUint(a[1]);
    return u64vec4(packUint2x32(lo.xy), packUint2x32(lo.zw), packUint2x32(hi.xy), packUint2x32(hi.zw));
}
#define unit_store(arr, i, v) arr[i] = unit_pack(v)

#elif defined(VEC4)
#define UNIT vec4
#define UNIT_W 4u
#define UNIT_STORE_T vec4

UNIT unit_load(samplerBuffer t, uint u) { return texelFetch(t, int(u)); }
UNIT unit_splat(float v) { return vec4(v); }
UNIT unit_exp2(UNIT a) { return exp2(a); }
UNIT unit_max(UNIT a, UNIT b) { return max(a, b); }
UNIT unit_mul(UNIT a, UNIT b) { return a * b; }
float unit_hsum(UNIT a) { return (a.x + a.y) + (a.z + a.w); }
float unit_hmax(UNIT a) { return max(max(a.x, a.y), max(a.z, a.w)); }
UNIT unit_keep(UNIT a, uint c0, uint live, float fill)
{
    return mix(a, vec4(fill), greaterThanEqual(uvec4(c0) + uvec4(0u, 1u, 2u, 3u), uvec4(live)));
}
#define unit_store(arr, i, v) arr[i] = (v)

#else
#define UNIT float
#define UNIT_W 1u
#define UNIT_STORE_T float

UNIT unit_load(samplerBuffer t, uint u) { return texelFetch(t, int(u)).x; }
UNIT unit_splat(float v) { return v; }
UNIT unit_exp2(UNIT a) { return exp2(a); }
UNIT unit_max(UNIT a, UNIT b) { return max(a, b); }
UNIT unit_mul(UNIT a, UNIT b) { return a * b; }
float unit_hsum(UNIT a) { return a; }
float unit_hmax(UNIT a) { return a; }
UNIT unit_keep(UNIT a, uint c0, uint live, float fill) { return c0 >= live ? fill : a; }
#define unit_store(arr, i, v) arr[i] = (v)
#endif
