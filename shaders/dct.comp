#version 450
/* One factor of dct2d's matrix path (ops/dct.c): a small matrix applied
 * along the middle axis of x,
 *   y[o, u, t] = Σ_{i < n} m[u, i] · x[o, i, t],   u < rows,
 * with x [outer, n, inner], m [rows, n] (DCT-II coefficients, orthonormal),
 * y [outer, rows, inner]. The 2D DCT runs it twice: along the grid rows
 * (inner = grid_w · C), then along the grid columns (inner = C).
 *
 * One invocation owns one output element; t is the fastest index, so
 * neighbouring invocations read neighbouring x elements (through an R32
 * texel view: on lavapipe lane-varying storage loads are far slower) and
 * share the m[u, ·] row, a uniform load. n is a grid side (tens), so the
 * sum is short and needs no cooperation between invocations.
 *
 * Bindings: 1 x (texel view), 2 m, 3 y.
 *
 * AXIS4 (inner % 4 == 0, the usual case): one invocation owns 4 consecutive
 * t and a block of UB = 8 rows u: each x texel (vec4 view) it fetches feeds
 * 8 outputs, so x is read rows/8 times instead of rows times, with vec4
 * loads and stores. total counts invocations here.
 *
 * CROP (the VkFFT path's last step): y[b, u·kw + v, c] = wu · wv ·
 * w[b, u, v, c] over the kept block of VkFFT's full-grid coefficients w
 * [B, gh, gw, C], with the weights that make them orthonormal. One
 * invocation per output element, c fastest. Bindings: 1 w, 2 y. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

#ifdef AXIS4
#define UB 8
layout(push_constant) uniform Push { fv_pc_dct p; };
layout(binding = 1) uniform samplerBuffer X;
layout(std430, binding = 2) readonly buffer M { float m[]; };
layout(std430, binding = 3) writeonly buffer Y { vec4 y[]; };

void main()
{
    const uint id = fv_linear_id();
    if (id >= p.total) return;
    const uint i4 = p.inner / 4u, blocks = (p.rows + UB - 1u) / UB;
    const uint t4 = id % i4, r = id / i4, u0 = (r % blocks) * UB, o = r / blocks;
    vec4 acc[UB];
    uint mrow[UB];
    [[unroll]] for (uint k = 0u; k < UB; k++) {
        acc[k] = vec4(0.0);
        mrow[k] = min(u0 + k, p.rows - 1u) * p.n;
    }
    const uint xbase = o * p.n * i4 + t4;
    for (uint i = 0u; i < p.n; i++) {
        const vec4 xv = texelFetch(X, int(xbase + i * i4));
        [[unroll]] for (uint k = 0u; k < UB; k++) acc[k] += m[mrow[k] + i] * xv;
    }
    [[unroll]] for (uint k = 0u; k < UB; k++)
        if (u0 + k < p.rows) y[(o * p.rows + u0 + k) * i4 + t4] = acc[k];
}
#endif

#ifdef AXIS
layout(push_constant) uniform Push { fv_pc_dct p; };
layout(binding = 1) uniform samplerBuffer X;
layout(std430, binding = 2) readonly buffer M { float m[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
    uint id = fv_linear_id();
    if (id >= p.total) return;
    uint t = id % p.inner;
    uint ou = id / p.inner;
    uint u = ou % p.rows, o = ou / p.rows;
    uint xbase = o * p.n * p.inner + t;
    float s = 0.0;
    for (uint i = 0u; i < p.n; i++) s += m[u * p.n + i] * texelFetch(X, int(xbase + i * p.inner)).x;
    y[id] = s;
}
#endif

#ifdef CROP
layout(push_constant) uniform Push { fv_pc_dct_crop p; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main()
{
    uint id = fv_linear_id();
    if (id >= p.total) return;
    uint c = id % p.c;
    uint r = id / p.c;
    uint v = r % p.kw;
    r /= p.kw;
    uint u = r % p.kh, b = r / p.kh;
    float wt = (u == 0u ? p.wh0 : p.wh) * (v == 0u ? p.ww0 : p.ww);
    y[id] = wt * w[((b * p.gh + u) * p.gw + v) * p.c + c];
}
#endif
