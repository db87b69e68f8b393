#version 450
/* Layer normalisation and RMS normalisation over the last dimension:
 *   layernorm: y = (x - mean) / sqrt(var + eps) · w + b
 *   rmsnorm:   y = x / sqrt(mean(x²) + eps) · w
 * w and b are optional; KIND and AFFINE are specialisation constants, so
 * each variant compiles to straight-line code.
 *
 * Two passes over a row: statistics, then the writes. layernorm's mean and
 * variance come from one pass without the cancellation of sum-of-squares
 * formulas: each lane merges its units one at a time (Chan, Golub & LeVeque:
 * a unit's own mean and squared deviations, then the pairwise update of the
 * running mean and M2), and the lanes' partial results are merged the same
 * way with two reductions. The layout comes from row_reduce.glsl, the unit a
 * lane reads and writes (float, VEC4, WIDE) from units.glsl:
 *  - ROW_PER_SUBGROUP: a subgroup owns FV_NORM_SUBGROUP_ROWS consecutive
 *    rows and writes them together, so each weight and bias unit it reads
 *    serves all of them; a workgroup owns FV_ROWS_PER_GROUP rows
 *    (FV_NORM_SUBGROUP_ROWS per subgroup).
 *  - otherwise one row per workgroup.
 *
 * Bindings: 1 x, 2 weight, 3 bias (uniform texel buffers; weight and bias
 * may be f32 or f16 views, and are bound to x when absent), 4 y (storage). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "row_reduce.glsl"
#include "units.glsl"

layout(push_constant) uniform Push { fv_pc_norm p; };
layout(constant_id = 2) const uint KIND = FV_NORM_LAYER;
layout(constant_id = 3) const uint AFFINE = 0; /* FV_NORM_WEIGHT | FV_NORM_BIAS */
layout(binding = 1) uniform samplerBuffer X;
layout(binding = 2) uniform samplerBuffer Wt;
layout(binding = 3) uniform samplerBuffer Bs;
layout(std430, binding = 4) writeonly buffer Y { UNIT_STORE_T y[]; };

/* (shift, scale) of the row whose first unit is `base`: y = (x - shift) · scale */
vec2 row_stats(uint base)
{
    const uint units = p.cols / UNIT_W;
    const float cols = float(p.cols);
    if (KIND == FV_NORM_RMS) {
        UNIT q = unit_splat(0.0);
        for (uint u = ROW_LANE; u < units; u += ROW_LANES) {
            UNIT v = unit_load(X, base + u);
            q += unit_mul(v, v);
        }
        return vec2(0.0, 1.0 / sqrt(row_sum(unit_hsum(q)) / cols + p.eps));
    }
    float n = 0.0, mean = 0.0, m2 = 0.0; /* this lane's count, mean, Σ (x - mean)² */
    for (uint u = ROW_LANE; u < units; u += ROW_LANES) {
        UNIT v = unit_load(X, base + u);
        float um = unit_hsum(v) * (1.0 / float(UNIT_W));
        UNIT d = v - um;
        float nn = n + float(UNIT_W), delta = um - mean, f = float(UNIT_W) / nn;
        mean += delta * f;
        m2 += unit_hsum(unit_mul(d, d)) + delta * delta * n * f;
        n = nn;
    }
    const float row_mean = row_sum(n * mean) / cols;
    const float dm = mean - row_mean;
    const float var = row_sum(m2 + n * dm * dm) / cols;
    return vec2(row_mean, 1.0 / sqrt(var + p.eps));
}

UNIT normalised(UNIT x, vec2 st, uint u)
{
    UNIT v = (x - st.x) * st.y;
    if ((AFFINE & FV_NORM_WEIGHT) != 0u) v = unit_mul(v, unit_load(Wt, u));
    if ((AFFINE & FV_NORM_BIAS) != 0u) v += unit_load(Bs, u);
    return v;
}

#ifdef ROW_PER_SUBGROUP

void main()
{
    const uint units = p.cols / UNIT_W;
    const uint first = fv_linear_group() * FV_ROWS_PER_GROUP;
    const uint end = min(first + FV_ROWS_PER_GROUP, p.rows);
    const uint step = gl_NumSubgroups * FV_NORM_SUBGROUP_ROWS;
    for (uint r0 = first + gl_SubgroupID * FV_NORM_SUBGROUP_ROWS; r0 < end; r0 += step) {
        const uint nr = min(FV_NORM_SUBGROUP_ROWS, end - r0);
        vec2 st[FV_NORM_SUBGROUP_ROWS];
        for (uint i = 0; i < FV_NORM_SUBGROUP_ROWS; i++)
            st[i] = i < nr ? row_stats((r0 + i) * units) : vec2(0.0); /* nr: uniform in the subgroup */
        for (uint u = ROW_LANE; u < units; u += ROW_LANES) {
            /* each weight and bias unit is read once for all the rows */
            UNIT w = (AFFINE & FV_NORM_WEIGHT) != 0u ? unit_load(Wt, u) : unit_splat(1.0);
            UNIT b = (AFFINE & FV_NORM_BIAS) != 0u ? unit_load(Bs, u) : unit_splat(0.0);
            for (uint i = 0; i < FV_NORM_SUBGROUP_ROWS; i++) {
                if (i >= nr) break; /* uniform across the subgroup */
                const uint at = (r0 + i) * units + u;
                unit_store(y, at, unit_mul((unit_load(X, at) - st[i].x) * st[i].y, w) + b);
            }
        }
    }
}

#else

void main()
{
    const uint r = fv_linear_group();
    if (r >= p.rows) return; /* the whole workgroup: no barrier is skipped by a part */
    const uint base = r * (p.cols / UNIT_W);
    const vec2 st = row_stats(base);
    for (uint u = ROW_LANE; u < p.cols / UNIT_W; u += ROW_LANES)
        unit_store(y, base + u, normalised(unit_load(X, base + u), st, u));
}

#endif
