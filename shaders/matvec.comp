#version 450
/* Matrix-vector products for the decode path: Y[m, n] = sum_k X[m, k] W[n, k]
 * (+ bias[n]) for m < MV <= 8 (specialisation constant 1), f32 accumulation,
 * K % 4 == 0. Reading W once is the whole cost, so each variant streams W in
 * its device's fastest way (fv_pc_matmul describes the chunk of Y):
 *
 * TEXEL     for CPU-type devices (lavapipe): RN consecutive W rows per
 *           invocation (specialisation constant 2), read through a uniform
 *           texel buffer: f32x4 or f16x4 views, or for f16 rows of whole
 *           16-byte texels (K % 8 == 0) raw u32x4 texels of 8 halves, since
 *           on llvmpipe the number of fetches, not bytes, sets the pace. Each
 *           X texel (the same for every lane) serves RN rows; with XS = 8 the
 *           8 lanes of a subgroup fetch 8 of them at once and shuffle them
 *           round. No reductions, no barriers. Eight texels of a row (two
 *           64-byte lines) are fetched back to back, so its lines are used
 *           up before the other rows' fetches can evict them (rows K*2 or
 *           K*4 bytes apart share cache sets when K is a power of two), and
 *           more loads are in flight at once. Rows past N re-read the last row and store
 *           nothing.
 *
 * SUBGROUP  for GPUs: one W row per subgroup, K split across the lanes so a
 *           subgroup reads one contiguous run of the row per step (coalesced
 *           vec4 loads), then subgroupAdd per X row. A workgroup covers
 *           ROWS_PER_GROUP rows (specialisation constant 2); its subgroups
 *           take them in turn, so any subgroup size covers them all. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_matmul p; };
layout(constant_id = 1) const uint MV = 1;

#if defined(TEXEL)
/* ------------------------------------------------------------------------ */
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(constant_id = 2) const uint RN = 2; /* W rows per invocation */
/* XS = 8 (subgroups of 8 lanes with shuffles, all lanes active: no early
 * return): the 8 lanes fetch 8 consecutive X texels with one texelFetch and
 * pass them round with shuffles of constant lane. On llvmpipe a fetch is a
 * call into the sampling code whatever its indices, and a lane-uniform X
 * fetch cost as much as a W fetch, so this cuts the fetches per W fetch
 * from 1 (f16, RN = 2) or 1/2 (f32) to an eighth of that. XS = 0: each lane
 * fetches X itself. */
layout(constant_id = 3) const uint XS = 0;
#define BLK 8u /* texels of a row fetched back to back: two 64-byte lines */

layout(binding = 1) uniform samplerBuffer X; /* MV rows of K/4 texels */
#if defined(W_H8)
layout(binding = 2) uniform usamplerBuffer W; /* 8 halves per texel */
#define WV 8u
#else
layout(binding = 2) uniform samplerBuffer W;  /* 4 values per texel, f32 or f16 */
#define WV 4u
#endif
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

/* the K values of one W texel, as WV/4 vec4s */
#if defined(W_H8)
void load_w(int t, out vec4 v[2])
{
    const uvec4 w = texelFetch(W, t);
    v[0] = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
    v[1] = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
}
#else
void load_w(int t, out vec4 v[1]) { v[0] = texelFetch(W, t); }
#endif

void main()
{
    const uint id = fv_linear_id();
    const uint K4 = p.K / 4u, KW = p.K / WV;
    int wrow[RN];
    [[unroll]] for (uint j = 0; j < RN; j++) wrow[j] = int(p.w_off + min(id * RN + j, p.N - 1u) * KW);
    float acc[MV][RN];
    [[unroll]] for (uint m = 0; m < MV; m++)
        [[unroll]] for (uint j = 0; j < RN; j++) acc[m][j] = 0.0;
    uint q = 0; /* W texel */
    for (; q + BLK <= KW; q += BLK) {
        vec4 wv[RN][BLK][WV / 4u];
        [[unroll]] for (uint j = 0; j < RN; j++)
            [[unroll]] for (uint u = 0; u < BLK; u++) load_w(wrow[j] + int(q + u), wv[j][u]);
        [[unroll]] for (uint m = 0; m < MV; m++) {
            const int x0 = int(p.x_off + m * K4 + q * (WV / 4u)); /* BLK * WV / 4 X texels */
            vec4 xl[XS == 8u ? BLK * WV / 32u : 1u];
            if (XS == 8u)
                [[unroll]] for (uint c = 0; c < BLK * WV / 32u; c++)
                    xl[c] = texelFetch(X, x0 + int(c * 8u + gl_SubgroupInvocationID));
            [[unroll]] for (uint u = 0; u < BLK; u++)
                [[unroll]] for (uint h = 0; h < WV / 4u; h++) {
                    const uint i = u * (WV / 4u) + h;
                    const vec4 xv = XS == 8u ? subgroupShuffle(xl[i / 8u], i % 8u) : texelFetch(X, x0 + int(i));
                    [[unroll]] for (uint j = 0; j < RN; j++) acc[m][j] += dot(xv, wv[j][u][h]);
                }
        }
    }
    for (; q < KW; q++) { /* the last texels of a row that is not a whole number of lines */
        vec4 wv[RN][WV / 4u];
        [[unroll]] for (uint j = 0; j < RN; j++) load_w(wrow[j] + int(q), wv[j]);
        [[unroll]] for (uint m = 0; m < MV; m++)
            [[unroll]] for (uint h = 0; h < WV / 4u; h++) {
                const vec4 xv = texelFetch(X, int(p.x_off + m * K4 + q * (WV / 4u) + h));
                [[unroll]] for (uint j = 0; j < RN; j++) acc[m][j] += dot(xv, wv[j][h]);
            }
    }
    [[unroll]] for (uint j = 0; j < RN; j++) {
        const uint n = id * RN + j;
        if (n < p.N)
            [[unroll]] for (uint m = 0; m < MV; m++)
                y[p.y_off + m * p.ldy + n] = p.has_bias != 0u ? acc[m][j] + bias[p.n0 + n] : acc[m][j];
    }
}

#elif defined(SUBGROUP)
/* ------------------------------------------------------------------------ */
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(constant_id = 2) const uint ROWS_PER_GROUP = 4;

layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
#if defined(W_F16)
layout(std430, binding = 2) readonly buffer Wt { uvec2 w[]; }; /* 4 halves */
vec4 load_w4(uint i) { return vec4(unpackHalf2x16(w[i].x), unpackHalf2x16(w[i].y)); }
#else
layout(std430, binding = 2) readonly buffer Wt { vec4 w[]; };
vec4 load_w4(uint i) { return w[i]; }
#endif
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

void main()
{
    const uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize;
    const uint K4 = p.K / 4u;
    const uint xr = p.x_off / 4u;
    for (uint r = gl_SubgroupID; r < ROWS_PER_GROUP; r += gl_NumSubgroups) {
        const uint n = fv_linear_group() * ROWS_PER_GROUP + r;
        if (n >= p.N) break; /* uniform across the subgroup */
        const uint wr = p.w_off / 4u + n * K4;
        float acc[MV];
        for (uint m = 0; m < MV; m++) acc[m] = 0.0;
        for (uint t = lane; t < K4; t += lanes) {
            const vec4 wv = load_w4(wr + t);
            for (uint m = 0; m < MV; m++) acc[m] += dot(x[xr + m * K4 + t], wv);
        }
        for (uint m = 0; m < MV; m++) {
            const float s = subgroupAdd(acc[m]);
            if (lane == 0u) y[p.y_off + m * p.ldy + n] = p.has_bias != 0u ? s + bias[p.n0 + n] : s;
        }
    }
}
#endif
