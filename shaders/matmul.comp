#version 450
/* Y[m, n] = sum_k X[m, k] W[n, k] (+ bias[n]), f32 accumulation, for the
 * chunk of Y described by fv_pc_matmul (see shaders/fv_params.h). Three
 * variants of one source, chosen per device by ops/matmul.c (indices are
 * 32-bit: one dispatch never binds more than a device's binding limit):
 *
 * GENERIC  one invocation per output element, a scalar loop over K. Any
 *          shape, any alignment; the correctness fallback.
 *
 * TEXEL    for CPU-type devices (lavapipe). Barrier-free register tiles: a
 *          workgroup owns TM rows of X, and each invocation TN consecutive
 *          rows of W, so it keeps TM x TN sums and needs no reduction. X and
 *          W are read through uniform texel buffers (4 values per fetch; f16
 *          W as raw u32x4 texels of 8 halves when K % 8 == 0): on llvmpipe a
 *          lane-varying storage-buffer load becomes a per-lane loop with
 *          bounds checks, while a texel fetch is one gather of 16-byte loads.
 *          X is the same for every lane of a workgroup. Shared memory and
 *          subgroup reductions are avoided on purpose: on llvmpipe a barrier
 *          is a coroutine switch, and splitting K across lanes then reducing
 *          with subgroupAdd measured about 240 cycles per output for the
 *          reduction and store alone. Needs K % 4 == 0.
 *
 * TILED    for GPUs: a BM x BN block of Y per workgroup of 256 invocations;
 *          BK-deep slices of X and W are staged in shared memory (k-major),
 *          and each invocation accumulates a 4 x 4 register block whose rows
 *          and columns are strided by 16, so shared-memory reads are
 *          conflict-free and global stores coalesce. VEC4 loads the slices
 *          as vec4 (K % 4 == 0); otherwise scalar loads with bounds checks. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_matmul p; };

#if defined(TEXEL)
/* ------------------------------------------------------------------------ */
#extension GL_EXT_control_flow_attributes : require

#define TM 16 /* X rows per workgroup (every invocation reads the same ones) */
#define TN 16 /* W rows per invocation                                         */

layout(binding = 1) uniform samplerBuffer X; /* M rows of K/4 texels */
#if defined(W_H8)
layout(binding = 2) uniform usamplerBuffer W; /* N rows of K/8 texels of 8 halves */
#define WV 8u /* K values per W texel */
#else
layout(binding = 2) uniform samplerBuffer W;  /* N rows of K/4 texels, f32 or f16 */
#define WV 4u
#endif
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

/* the K values of one W texel, as vec4s */
#if defined(W_H8)
void unpack_w(uvec4 w, out vec4 lo, out vec4 hi)
{
    lo = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
    hi = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
}
#endif

void main()
{
    const uint lid = gl_LocalInvocationID.x;
    const uint K4 = p.K / 4u, KW = p.K / WV;
    const uint m_base = gl_WorkGroupID.y * TM;
    const uint n_base = gl_WorkGroupID.x * (FV_LOCAL_X * TN) + lid * TN;
    if (n_base >= p.N) return;
    /* rows past the edge re-read the last row; their sums are not stored */
    int xrow[TM], wrow[TN];
    [[unroll]] for (uint i = 0; i < TM; i++) xrow[i] = int(p.x_off + min(m_base + i, p.M - 1u) * K4);
    [[unroll]] for (uint j = 0; j < TN; j++) wrow[j] = int(p.w_off + min(n_base + j, p.N - 1u) * KW);
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN; j++) acc[i][j] = 0.0;
    /* Four W texels (a 64-byte line) of a row are fetched back to back, and
     * likewise X, so each line is used up before other rows' fetches can
     * evict it: rows K*4 bytes apart share cache sets whenever K is a
     * multiple of 1024, and this loop streams TM + 8*TN rows at once. */
    uint q = 0; /* W texel */
    for (; q + 4u <= KW; q += 4u) {
        vec4 wv[TN][WV]; /* 4 texels: 4 vec4 of f32, or 8 of unpacked halves */
        [[unroll]] for (uint j = 0; j < TN; j++)
            [[unroll]] for (uint u = 0; u < 4; u++) {
#if defined(W_H8)
                unpack_w(texelFetch(W, wrow[j] + int(q + u)), wv[j][2u * u], wv[j][2u * u + 1u]);
#else
                wv[j][u] = texelFetch(W, wrow[j] + int(q + u));
#endif
            }
        const int xt = int(q * (WV / 4u)); /* X texel of this step */
        [[unroll]] for (uint i = 0; i < TM; i++) {
            vec4 xv[WV];
            [[unroll]] for (uint u = 0; u < WV; u++) xv[u] = texelFetch(X, xrow[i] + xt + int(u));
            [[unroll]] for (uint j = 0; j < TN; j++) {
                float s = dot(xv[0], wv[j][0]);
                [[unroll]] for (uint u = 1; u < WV; u++) s += dot(xv[u], wv[j][u]);
                acc[i][j] += s;
            }
        }
    }
    for (; q < KW; q++) { /* the last texels of a row that is not a whole number of lines */
        vec4 wv[TN][WV / 4u];
        [[unroll]] for (uint j = 0; j < TN; j++) {
#if defined(W_H8)
            unpack_w(texelFetch(W, wrow[j] + int(q)), wv[j][0], wv[j][1]);
#else
            wv[j][0] = texelFetch(W, wrow[j] + int(q));
#endif
        }
        const int xt = int(q * (WV / 4u));
        [[unroll]] for (uint i = 0; i < TM; i++) {
            vec4 xv[WV / 4u];
            [[unroll]] for (uint u = 0; u < WV / 4u; u++) xv[u] = texelFetch(X, xrow[i] + xt + int(u));
            [[unroll]] for (uint j = 0; j < TN; j++)
                [[unroll]] for (uint u = 0; u < WV / 4u; u++) acc[i][j] += dot(xv[u], wv[j][u]);
        }
    }
    [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN; j++) {
            const uint m = m_base + i, n = n_base + j;
            if (m < p.M && n < p.N) y[p.y_off + m * p.ldy + n] = p.has_bias != 0u ? acc[i][j] + bias[p.n0 + n] : acc[i][j];
        }
}

#else
/* ------------------------------------------------------------------------ */
/* storage-buffer variants: f32 or f16 W */
#if defined(W_F16)
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

#if defined(VEC4)
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
#if defined(W_F16)
layout(std430, binding = 2) readonly buffer Wt { uvec2 w[]; }; /* 4 halves */
vec4 load_w4(uint i) { return vec4(unpackHalf2x16(w[i].x), unpackHalf2x16(w[i].y)); }
#else
layout(std430, binding = 2) readonly buffer Wt { vec4 w[]; };
vec4 load_w4(uint i) { return w[i]; }
#endif
#else
layout(std430, binding = 1) readonly buffer X { float x[]; };
#if defined(W_F16)
layout(std430, binding = 2) readonly buffer Wt { float16_t w[]; };
#else
layout(std430, binding = 2) readonly buffer Wt { float w[]; };
#endif
float load_w(uint i) { return float(w[i]); }
#endif
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

void store(uint m, uint n, float s)
{
    y[p.y_off + m * p.ldy + n] = p.has_bias != 0u ? s + bias[p.n0 + n] : s;
}

#if defined(GENERIC)
/* ------------------------------------------------------------------------ */
void main()
{
    const uint id = fv_linear_id();
    if (id >= p.M * p.N) return;
    const uint m = id / p.N, n = id % p.N;
    const uint xr = p.x_off + m * p.K, wr = p.w_off + n * p.K;
    float s = 0.0;
    for (uint k = 0; k < p.K; k++) s += x[xr + k] * load_w(wr + k);
    store(m, n, s);
}

#elif defined(TILED)
/* ------------------------------------------------------------------------ */
#define BM 64
#define BN 64
#define BK 16
#define TS 16 /* invocations along each side of the block: 16 x 16 = 256 */

shared float xs[BK][BM];
shared float ws[BK][BN];

void main()
{
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % TS, ty = tid / TS;
    const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    float acc[4][4];
    for (uint i = 0; i < 4; i++)
        for (uint j = 0; j < 4; j++) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < p.K; k0 += BK) {
#if defined(VEC4)
        /* one vec4 of X and one of W per invocation: row tid/4, texel tid%4 */
        {
            const uint r = tid / 4u, c = (tid % 4u) * 4u, K4 = p.K / 4u;
            const bool kin = k0 + c < p.K; /* K % 4 == 0: a texel is all in or all out */
            const vec4 xv = m0 + r < p.M && kin ? x[p.x_off / 4u + (m0 + r) * K4 + (k0 + c) / 4u] : vec4(0.0);
            const vec4 wv = n0 + r < p.N && kin ? load_w4(p.w_off / 4u + (n0 + r) * K4 + (k0 + c) / 4u) : vec4(0.0);
            for (uint q = 0; q < 4; q++) {
                xs[c + q][r] = xv[q];
                ws[c + q][r] = wv[q];
            }
        }
#else
        /* four scalars of each per invocation: row idx/BK, column idx%BK */
        for (uint l = 0; l < 4; l++) {
            const uint idx = tid + l * 256u, r = idx / BK, c = idx % BK;
            const bool kin = k0 + c < p.K;
            xs[c][r] = m0 + r < p.M && kin ? x[p.x_off + (m0 + r) * p.K + k0 + c] : 0.0;
            ws[c][r] = n0 + r < p.N && kin ? load_w(p.w_off + (n0 + r) * p.K + k0 + c) : 0.0;
        }
#endif
        barrier();
        for (uint k = 0; k < BK; k++) {
            float a[4], b[4];
            for (uint i = 0; i < 4; i++) a[i] = xs[k][ty + i * TS];
            for (uint j = 0; j < 4; j++) b[j] = ws[k][tx + j * TS];
            for (uint i = 0; i < 4; i++)
                for (uint j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
        }
        barrier();
    }
    for (uint i = 0; i < 4; i++)
        for (uint j = 0; j < 4; j++) {
            const uint m = m0 + ty + i * TS, n = n0 + tx + j * TS;
            if (m < p.M && n < p.N) store(m, n, acc[i][j]);
        }
}
#endif
#endif
