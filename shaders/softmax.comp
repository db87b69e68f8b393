#version 450
/* Row softmax, y = softmax(scale · x) over each row's live prefix.
 *
 * The mask is always a prefix of the row: column j of row i is live when
 * j < valid and, if causal, j <= i + offset, so the row's live columns are
 * [0, live) with live = min(valid, i + offset + 1) clamped to [0, cols].
 * Masked columns get probability 0; a row with no live column is all zeros
 * (not NaN). valid and offset come from push constants or, per replay, from
 * the graph's parameter slots.
 *
 * Two passes over the row, which stays in cache between them: the maximum of
 * scale·x with the sum of exp(scale·x - max) (online softmax: Milakov &
 * Gimelshein, 2018), then the writes. exp is taken as exp2 of a prescaled
 * argument. The layout — one row per subgroup
 * (ROW_PER_SUBGROUP) or per workgroup — comes from row_reduce.glsl, the unit
 * a lane reads and writes (float, VEC4, WIDE) from units.glsl.
 *
 * Bindings: 1 x (uniform texel buffer, f32 view), 2 y (storage). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "row_reduce.glsl"
#include "units.glsl"

layout(push_constant) uniform Push { fv_pc_softmax p; };
layout(binding = 1) uniform samplerBuffer X;
layout(std430, binding = 2) writeonly buffer Y { UNIT_STORE_T y[]; };

const float LOG2E = 1.4426950408889634;
const float LOWEST = -3.402823466e38;

uint live_columns(uint r)
{
    int live = int(p.cols);
    if (p.valid_slot > 0) live = clamp(fv_param[p.valid_slot - 1], 0, live);
    if (p.causal != 0u) {
        int off = p.offset_slot > 0 ? fv_param[p.offset_slot - 1] : p.offset;
        /* clamped so that i + off cannot overflow; beyond ±2^30 the result
         * is the same (all or none of the columns) */
        off = clamp(off, -(1 << 30), 1 << 30);
        int i = int((p.row0 + r) % p.rows_per_batch);
        live = clamp(i + off + 1, 0, live);
    }
    return uint(live);
}

void row_main(uint r)
{
    const uint units = p.cols / UNIT_W;
    const uint base = r * units;
    const uint live = live_columns(r);
    const uint full = live / UNIT_W;                 /* units whose every column is live */
    const uint used = (live + UNIT_W - 1u) / UNIT_W; /* units with any live column       */
    /* the lane that owns the partly live unit `full`, if there is one */
    const bool tail = full < used && ROW_LANE == full % ROW_LANES;
    const float k = p.scale * LOG2E;

    if (live == 0u) {
        for (uint u = ROW_LANE; u < units; u += ROW_LANES) unit_store(y, base + u, unit_splat(0.0));
        return;
    }

    /* pass 1: the maximum m of k·x and Σ exp2(k·x - m) together (online
     * softmax): each lane keeps its running maximum and sum, rescaling the
     * sum when the maximum grows; then the lanes' pairs are merged */
    float m = LOWEST, s = 0.0;
    for (uint u = ROW_LANE; u < full; u += ROW_LANES) {
        UNIT v = unit_load(X, base + u) * k;
        float nm = max(m, unit_hmax(v));
        s = s * exp2(m - nm) + unit_hsum(unit_exp2(v - nm));
        m = nm;
    }
    if (tail) {
        UNIT v = unit_keep(unit_load(X, base + full) * k, full * UNIT_W, live, LOWEST);
        float nm = max(m, unit_hmax(v));
        s = s * exp2(m - nm) + unit_hsum(unit_keep(unit_exp2(v - nm), full * UNIT_W, live, 0.0));
        m = nm;
    }
    const float mx = row_max(m);
    const float sum = row_sum(s * exp2(m - mx));
    /* sum ≥ 1 unless the row holds infinities; keep such rows finite */
    const float inv = sum > 0.0 ? 1.0 / sum : 0.0;

    /* pass 2: the probabilities, and zeros past the live prefix */
    for (uint u = ROW_LANE; u < full; u += ROW_LANES)
        unit_store(y, base + u, unit_exp2(unit_load(X, base + u) * k - mx) * inv);
    if (tail) {
        UNIT e = unit_exp2(unit_load(X, base + full) * k - mx) * inv;
        unit_store(y, base + full, unit_keep(e, full * UNIT_W, live, 0.0));
    }
    for (uint u = used + ROW_LANE; u < units; u += ROW_LANES) unit_store(y, base + u, unit_splat(0.0));
}

void main()
{
    fv_for_each_row(p.rows);
}
