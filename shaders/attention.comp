#version 450
/* Fused attention, out = softmax(scale · Q·Kᵀ + mask) · V, and the token
 * statistics (see fovea.h, fv_op_attention). Four kernels of one source,
 * chosen per device by ops/attention.c; DMAX (32, 64, 128) is the largest
 * head size a variant takes, the real one (d ≤ DMAX, d % 4 == 0) comes in the
 * push constants.
 *
 * Rows. The queries that read one KV head hk of batch b are the pairs
 * (query i, head g of its group of G = hq / hkv), numbered r = i·G + g; one
 * tile of rows shares every K and V load, which makes grouped-query
 * attention and decoding (nq = 1, G rows) as cheap per row as prefill.
 * Row r sees the keys [0, live(i)): live = kv_len, clamped by q_pos + i + 1
 * when causal, so masks are prefixes and a tile's loop ends at the live
 * count of its last row.
 *
 * Scores are in log2 units: q is multiplied by scale·log2(e) as it is
 * loaded and probabilities are exp2(s - max). Everything stays finite: the
 * running maximum starts at the lowest float and masked keys are dropped by
 * selects, never by infinities.
 *
 * Padding. A head size below DMAX is zero-padded in q; K and V reads past
 * d/4 texels are clamped to the row's last texel, so they add nothing to
 * the scores and fill output columns that are never stored.
 *
 * MAIN_SG (CPU-type devices: lavapipe; no barriers, no shared memory).
 * A subgroup owns TQ rows; q, scaled, is held by every lane. A step covers
 * KB·LANES keys. Scores: lane l takes keys j0 + c·LANES + l (c < KB), so the
 * K rows of a step arrive as vec4 texel fetches of different rows per lane,
 * each fetch shared by the TQ rows. Online softmax (FlashAttention-2, Dao
 * 2023) once per step and row: the step's maximum over all lanes
 * (subgroupMax), one rescale of the accumulator, exp2 of the lane's scores.
 * P·V: each lane owns output texels lane + LANES·u of every row (TQ x d/LANES
 * accumulators, few enough to stay in registers); for each key of the step,
 * its owner's probabilities are shuffled to all lanes and each lane reads
 * its texels of the V row. Only the row sums cross lanes at the end. On
 * lavapipe every lane is one element of an 8-wide SIMD register, so q being
 * the same in all lanes costs registers, not loads: this layout spends the
 * fewest texel fetches and register spills per flop of those measured
 * (lanes splitting the head dimension instead need a subgroupAdd per score).
 *
 * MAIN_TILED (GPUs). 64 invocations own BQ = 16 rows; BK keys per tile
 * (BK·DMAX = 2048 floats: the tiles fit 32 KiB of shared memory with q).
 * Each tile: K and V staged in shared memory; invocation t computes the
 * scores of row t/4 against keys t%4 + 4c into shared memory; then the 4
 * invocations of a row each read the row's scores, update the same running
 * max and sum, and accumulate their quarter of the output columns
 * (texels t%4 + 4k, so neighbours read neighbouring V words). Three
 * barriers per tile.
 *
 * Both main kernels write, when asked (FV_ATTN_ROW_STATS), each row's final
 * max and sum; the statistics pass turns them into exact probabilities.
 *
 * STATS_SG / STATS_TILED: the statistics pass, a second dispatch of the
 * same node (with an online softmax the normaliser of a row is known only
 * at its end, so exact probabilities need the scores again). Each
 * invocation owns keys of one batch and walks every head and every query
 * row that a statistic needs (row 0 for cls only; all rows for received),
 * recomputing its keys' scores against those rows and turning them into
 * probabilities with the row stats: p = exp2(s - max) / sum. It sums them per
 * key (received) and keeps row 0's (cls), so each key's result is complete
 * in the invocation that owns it: no partial sums cross invocations or
 * workgroups and nothing is atomic. Cost: received recomputes Q·Kᵀ once
 * (2·nq·kv_len·d·hq flops, half the main pass's 4·nq·kv_len·d·hq) and
 * reads each q row once per key tile; cls alone costs one row per head
 * (nothing measurable); mean keys read K once more. The [nq × nk] matrix
 * is never stored.
 * SG: lane l owns keys j0 + c·LANES + l (c < SKB), their K rows in
 * registers per KV head; SQ rows at a time are fetched (the same texels in
 * every lane). TILED: invocation t owns key j0 + t; SR rows at a time are
 * staged in shared memory and read by all invocations.
 *
 * Key bias (FV_ATTN_KEY_BIAS, ToMe's proportional attention): key j's
 * scores get key_bias[b, j]·log2(e) in both passes, read once per key and
 * step; without the bit the kernels never touch it.
 *
 * Bindings, main: 1 q, 2 k, 3 v (texel f32x4 views in SG, vec4 storage in
 * TILED), 4 out, 5 row stats (vec2 per (b, h, i)), 6 key bias.
 * Stats: 1 q, 2 k (as above), 3 row stats, 4 cls, 5 received, 6 mean keys,
 * 7 key bias. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

layout(push_constant) uniform Push { fv_pc_attention p; };

#ifndef DMAX
#define DMAX 64
#endif
#define D4 (DMAX / 4)
const float LOWEST = -3.402823466e38;
const float LOG2E = 1.4426950408889634;

int kv_len()
{
    int n = int(p.nk);
    if (p.kv_slot > 0) n = clamp(fv_param[p.kv_slot - 1], 0, n);
    return n;
}

/* position of query 0; clamped so that position + i cannot overflow */
int first_position(int kvlen)
{
    int pos = p.qpos_slot > 0 ? fv_param[p.qpos_slot - 1] : kvlen - int(p.nq);
    return clamp(pos, -(1 << 30), 1 << 30);
}

/* keys [0, live) that query i sees */
int live_keys(uint i, int kvlen, int pos)
{
    return p.causal != 0u ? clamp(pos + int(i) + 1, 0, kvlen) : kvlen;
}

/* texel index of k[b, j, hk, t] (and v) */
int kv_texel(uint b, uint j, uint hk, uint t)
{
    return int(((b * p.nk + j) * p.hkv + hk) * (p.d / 4u) + t);
}

/* texel index of q[b, i, h, 0] (and out) */
uint q_texel(uint b, uint i, uint h)
{
    return ((b * p.nq + i) * p.hq + h) * (p.d / 4u);
}

#if defined(MAIN_SG)
/* ------------------------------------------------------------------------ */
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require

#ifndef TQ
#define TQ 8 /* rows per subgroup */
#endif
#ifndef KB
#define KB (DMAX == 128 ? 2 : 4) /* keys per lane per step */
#endif
/* the subgroup size, known when the pipeline is made: loops over lanes unroll */
layout(constant_id = 1) const uint LANES = 8;
const uint TPL = (D4 + LANES - 1u) / LANES; /* output texels per lane */

layout(binding = 1) uniform samplerBuffer Q;
layout(binding = 2) uniform samplerBuffer K;
layout(binding = 3) uniform samplerBuffer V;
layout(std430, binding = 4) writeonly buffer Out { vec4 o[]; };
layout(std430, binding = 5) writeonly buffer RowStats { vec2 row_stats[]; };
layout(std430, binding = 6) readonly buffer KeyBias { float key_bias[]; };

void main()
{
    const uint lane = gl_SubgroupInvocationID;
    const uint G = p.hq / p.hkv, rows = p.nq * G, d4 = p.d / 4u;
    const uint b = gl_WorkGroupID.y / p.hkv, hk = gl_WorkGroupID.y % p.hkv;
    const int kvlen = kv_len(), pos = first_position(kvlen);
    const uint r0 = (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * TQ;
    if (r0 >= rows) return; /* uniform across the subgroup */

    vec4 q[TQ][D4];
    int live[TQ];
    uint qt[TQ];
    int kend = 0;
    [[unroll]] for (uint i = 0; i < TQ; i++) {
        const uint r = min(r0 + i, rows - 1u); /* rows past the end repeat the last */
        qt[i] = q_texel(b, r / G, hk * G + r % G);
        live[i] = r0 + i < rows ? live_keys(r / G, kvlen, pos) : 0;
        kend = max(kend, live[i]);
        [[unroll]] for (uint t = 0; t < D4; t++)
            q[i][t] = t < d4 ? texelFetch(Q, int(qt[i] + t)) * p.scale_log2 : vec4(0);
    }
    /* the texels of the output this lane owns: lane + LANES·u */
    int own[TPL];
    [[unroll]] for (uint u = 0; u < TPL; u++) own[u] = int(min(lane + LANES * u, d4 - 1u));

    float m[TQ], l[TQ];
    vec4 acc[TQ][TPL];
    [[unroll]] for (uint i = 0; i < TQ; i++) {
        m[i] = LOWEST;
        l[i] = 0.0;
        [[unroll]] for (uint u = 0; u < TPL; u++) acc[i][u] = vec4(0);
    }

    const int step = int(KB * LANES);
    for (int j0 = 0; j0 < kend; j0 += step) {
        /* scores: lane takes keys j0 + c·LANES + lane */
        int j[KB], kt[KB];
        [[unroll]] for (uint c = 0; c < KB; c++) {
            j[c] = j0 + int(c * LANES + lane);
            kt[c] = kv_texel(b, min(uint(j[c]), p.nk - 1u), hk, 0u);
        }
        float s[KB][TQ];
        [[unroll]] for (uint c = 0; c < KB; c++)
            [[unroll]] for (uint i = 0; i < TQ; i++) s[c][i] = 0.0;
        [[unroll]] for (uint t = 0; t < D4; t++) {
            const int tt = int(min(t, d4 - 1u));
            vec4 kv[KB];
            [[unroll]] for (uint c = 0; c < KB; c++) kv[c] = texelFetch(K, kt[c] + tt);
            [[unroll]] for (uint i = 0; i < TQ; i++)
                [[unroll]] for (uint c = 0; c < KB; c++) s[c][i] += dot(q[i][t], kv[c]);
        }
        if ((p.stats & FV_ATTN_KEY_BIAS) != 0u) {
            [[unroll]] for (uint c = 0; c < KB; c++) {
                const float bj = key_bias[b * p.nk + min(uint(j[c]), p.nk - 1u)] * LOG2E;
                [[unroll]] for (uint i = 0; i < TQ; i++) s[c][i] += bj;
            }
        }
        /* the step's row maxima over all lanes; probabilities; rescale */
        [[unroll]] for (uint i = 0; i < TQ; i++) {
            float mx = LOWEST;
            [[unroll]] for (uint c = 0; c < KB; c++) mx = j[c] < live[i] ? max(mx, s[c][i]) : mx;
            mx = max(m[i], subgroupMax(mx));
            const float alpha = exp2(m[i] - mx);
            m[i] = mx;
            float sum = 0.0;
            [[unroll]] for (uint c = 0; c < KB; c++) {
                s[c][i] = j[c] < live[i] ? exp2(s[c][i] - mx) : 0.0;
                sum += s[c][i];
            }
            l[i] = l[i] * alpha + sum; /* this lane's keys only; summed at the end */
            [[unroll]] for (uint u = 0; u < TPL; u++) acc[i][u] *= alpha;
        }
        /* P·V: every key of the step in turn; its owner lane's probabilities
           are shuffled to all lanes, each lane reads its texels of the V row */
        [[unroll]] for (uint c = 0; c < KB; c++) {
            [[unroll]] for (uint src = 0; src < LANES; src++) {
                const uint jk = uint(j0) + c * LANES + src;
                const int vt = kv_texel(b, min(jk, p.nk - 1u), hk, 0u);
                /* a key past this lane's rows' live keys has weight 0 here,
                   but a KV cache's unwritten rows may hold NaN (0 * NaN is
                   NaN): such rows are not read */
                vec4 vv[TPL];
                [[unroll]] for (uint u = 0; u < TPL; u++) vv[u] = jk < uint(kend) ? texelFetch(V, vt + own[u]) : vec4(0);
                [[unroll]] for (uint i = 0; i < TQ; i++) {
                    const float pk = subgroupShuffle(s[c][i], src);
                    [[unroll]] for (uint u = 0; u < TPL; u++) acc[i][u] += pk * vv[u];
                }
            }
        }
    }

    [[unroll]] for (uint i = 0; i < TQ; i++) {
        const float L = subgroupAdd(l[i]);
        const float inv = L > 0.0 ? 1.0 / L : 0.0;
        if (r0 + i < rows) {
            [[unroll]] for (uint u = 0; u < TPL; u++)
                if (lane + LANES * u < d4) o[qt[i] + lane + LANES * u] = acc[i][u] * inv;
            if ((p.stats & FV_ATTN_ROW_STATS) != 0u && lane == 0u) {
                const uint r = r0 + i;
                row_stats[(b * p.hq + hk * G + r % G) * p.nq + r / G] = vec2(m[i], L);
            }
        }
    }
}

#elif defined(MAIN_TILED)
/* ------------------------------------------------------------------------ */
#define BQ 16            /* rows per workgroup: 4 invocations per row */
#define BK (2048 / DMAX) /* keys per tile */

layout(std430, binding = 1) readonly buffer Qb { vec4 qb[]; };
layout(std430, binding = 2) readonly buffer Kb { vec4 kb[]; };
layout(std430, binding = 3) readonly buffer Vb { vec4 vb[]; };
layout(std430, binding = 4) writeonly buffer Out { vec4 o[]; };
layout(std430, binding = 5) writeonly buffer RowStats { vec2 row_stats[]; };
layout(std430, binding = 6) readonly buffer KeyBias { float key_bias[]; };

shared vec4 qs[BQ][D4];
shared vec4 ks[BK][D4];
shared vec4 vs[BK][D4];
shared float ps[BQ][BK + 1];

void main()
{
    const uint tid = gl_LocalInvocationID.x, row = tid / 4u, part = tid % 4u;
    const uint G = p.hq / p.hkv, rows = p.nq * G, d4 = p.d / 4u;
    const uint b = gl_WorkGroupID.y / p.hkv, hk = gl_WorkGroupID.y % p.hkv;
    const uint r0 = gl_WorkGroupID.x * BQ;
    const int kvlen = kv_len(), pos = first_position(kvlen);

    for (uint e = tid; e < BQ * D4; e += 64u) {
        const uint i = e / D4, t = e % D4, r = r0 + i;
        qs[i][t] = r < rows && t < d4 ? qb[q_texel(b, r / G, hk * G + r % G) + t] * p.scale_log2 : vec4(0);
    }
    const uint r = r0 + row;
    const int live = r < rows ? live_keys(r / G, kvlen, pos) : 0;
    /* the tile's last row sees the most keys (masks are prefixes growing with i) */
    const int kend = p.causal != 0u ? live_keys((min(r0 + BQ, rows) - 1u) / G, kvlen, pos) : kvlen;

    float m = LOWEST, l = 0.0;
    vec4 acc[D4 / 4];
    [[unroll]] for (uint k = 0; k < D4 / 4; k++) acc[k] = vec4(0);

    for (int j0 = 0; j0 < kend; j0 += BK) {
        barrier(); /* the previous tile is no longer read */
        for (uint e = tid; e < BK * D4; e += 64u) {
            const uint jj = e / D4, t = min(e % D4, d4 - 1u);
            const int kt = kv_texel(b, min(uint(j0) + jj, p.nk - 1u), hk, t);
            ks[jj][e % D4] = kb[kt];
            /* keys past the live ones get weight 0, but may hold NaN (an
               unwritten KV-cache row): 0 * NaN is NaN, so they read as 0 */
            vs[jj][e % D4] = j0 + int(jj) < kend ? vb[kt] : vec4(0);
        }
        barrier();
        for (uint c = part; c < BK; c += 4u) {
            float s = 0.0;
            [[unroll]] for (uint t = 0; t < D4; t++) s += dot(qs[row][t], ks[c][t]);
            if ((p.stats & FV_ATTN_KEY_BIAS) != 0u) s += key_bias[b * p.nk + min(uint(j0) + c, p.nk - 1u)] * LOG2E;
            ps[row][c] = s;
        }
        barrier();
        float mx = m;
        for (uint c = 0; c < BK; c++)
            if (j0 + int(c) < live) mx = max(mx, ps[row][c]);
        const float alpha = exp2(m - mx);
        m = mx;
        l *= alpha;
        [[unroll]] for (uint k = 0; k < D4 / 4; k++) acc[k] *= alpha;
        for (uint c = 0; c < BK; c++) {
            const float pc = j0 + int(c) < live ? exp2(ps[row][c] - mx) : 0.0;
            l += pc;
            [[unroll]] for (uint k = 0; k < D4 / 4; k++) acc[k] += pc * vs[c][part + 4u * k];
        }
    }
    if (r < rows) {
        const uint h = hk * G + r % G, base = q_texel(b, r / G, h);
        const float inv = l > 0.0 ? 1.0 / l : 0.0;
        [[unroll]] for (uint k = 0; k < D4 / 4; k++)
            if (part + 4u * k < d4) o[base + part + 4u * k] = acc[k] * inv;
        if (part == 0u && (p.stats & FV_ATTN_ROW_STATS) != 0u) row_stats[(b * p.hq + h) * p.nq + r / G] = vec2(m, l);
    }
}

#elif defined(STATS_SG)
/* ------------------------------------------------------------------------ */
#extension GL_KHR_shader_subgroup_basic : require

#ifndef SQ
#define SQ 4  /* query rows per step */
#endif
#ifndef SKB
#define SKB 8 /* keys per lane (ops/attention.c: SG_STATS_KEYS) */
#endif
layout(constant_id = 1) const uint LANES = 8; /* the subgroup size */

layout(binding = 1) uniform samplerBuffer Q;
layout(binding = 2) uniform samplerBuffer K;
layout(std430, binding = 3) readonly buffer RowStats { vec2 row_stats[]; };
layout(std430, binding = 4) writeonly buffer Cls { float cls[]; };
layout(std430, binding = 5) writeonly buffer Received { float received[]; };
layout(std430, binding = 6) writeonly buffer MeanKeys { vec4 mean_keys[]; };
layout(std430, binding = 7) readonly buffer KeyBias { float key_bias[]; };

void main()
{
    const uint lane = gl_SubgroupInvocationID;
    const uint G = p.hq / p.hkv, d4 = p.d / 4u, b = gl_WorkGroupID.y;
    const uint j0 = (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * (SKB * LANES);
    if (j0 >= p.nk) return;
    const int kvlen = kv_len(), pos = first_position(kvlen);
    /* rows whose probabilities are needed: all for received, row 0 for cls */
    const uint nrows = (p.stats & FV_ATTN_RECEIVED) != 0u ? p.nq : (p.stats & FV_ATTN_CLS) != 0u ? 1u : 0u;

    if ((p.stats & FV_ATTN_MEAN_KEYS) != 0u) {
        /* texel e of the tile: key j0 + e / d4, texel e % d4; lanes split them */
        for (uint e = lane; e < SKB * LANES * d4; e += LANES) {
            const uint j = j0 + e / d4, t = e % d4;
            if (j >= p.nk) break;
            vec4 sum = vec4(0);
            if (int(j) < kvlen)
                for (uint hk = 0; hk < p.hkv; hk++) sum += texelFetch(K, kv_texel(b, j, hk, t));
            mean_keys[(b * p.nk + j) * d4 + t] = sum / float(p.hkv);
        }
    }

    /* lane owns keys j0 + c·LANES + lane: their sums stay in the lane */
    uint j[SKB];
    float col[SKB], row0[SKB], bj[SKB];
    [[unroll]] for (uint c = 0; c < SKB; c++) {
        j[c] = j0 + c * LANES + lane;
        col[c] = row0[c] = 0.0;
        bj[c] = (p.stats & FV_ATTN_KEY_BIAS) != 0u ? key_bias[b * p.nk + min(j[c], p.nk - 1u)] * LOG2E : 0.0;
    }
    for (uint hk = 0; hk < p.hkv && nrows > 0u; hk++) {
        vec4 kt[SKB][D4];
        [[unroll]] for (uint c = 0; c < SKB; c++)
            [[unroll]] for (uint t = 0; t < D4; t++)
                kt[c][t] = texelFetch(K, kv_texel(b, min(j[c], p.nk - 1u), hk, min(t, d4 - 1u)));
        for (uint g = 0; g < G; g++) {
            const uint h = hk * G + g;
            for (uint i0 = 0; i0 < nrows; i0 += SQ) {
                /* scores of SQ rows (the same for every lane) against the lane's keys */
                uint qt[SQ];
                [[unroll]] for (uint i = 0; i < SQ; i++) qt[i] = q_texel(b, min(i0 + i, nrows - 1u), h);
                float s[SKB][SQ];
                [[unroll]] for (uint c = 0; c < SKB; c++)
                    [[unroll]] for (uint i = 0; i < SQ; i++) s[c][i] = 0.0;
                [[unroll]] for (uint t = 0; t < D4; t++) {
                    [[unroll]] for (uint i = 0; i < SQ; i++) {
                        const vec4 qv = t < d4 ? texelFetch(Q, int(qt[i] + t)) : vec4(0);
                        [[unroll]] for (uint c = 0; c < SKB; c++) s[c][i] += dot(qv, kt[c][t]);
                    }
                }
                [[unroll]] for (uint i = 0; i < SQ; i++) {
                    const uint row = i0 + i;
                    const int live = row < nrows ? live_keys(row, kvlen, pos) : 0;
                    const vec2 st = row_stats[(b * p.hq + h) * p.nq + min(row, nrows - 1u)];
                    const float inv = st.y > 0.0 ? 1.0 / st.y : 0.0;
                    [[unroll]] for (uint c = 0; c < SKB; c++) {
                        const float e = (p.stats & FV_ATTN_KEY_BIAS) != 0u ? s[c][i] * p.scale_log2 + bj[c] - st.x
                                                                           : s[c][i] * p.scale_log2 - st.x;
                        const float pc = int(j[c]) < live ? exp2(e) * inv : 0.0;
                        col[c] += pc;
                        if (row == 0u) row0[c] += pc;
                    }
                }
            }
        }
    }
    [[unroll]] for (uint c = 0; c < SKB; c++) {
        if (j[c] >= p.nk) continue;
        if ((p.stats & FV_ATTN_RECEIVED) != 0u) received[b * p.nk + j[c]] = col[c] / float(p.hq * p.nq);
        if ((p.stats & FV_ATTN_CLS) != 0u) cls[b * p.nk + j[c]] = row0[c] / float(p.hq);
    }
}

#elif defined(STATS_TILED)
/* ------------------------------------------------------------------------ */
#define SK 64 /* keys per workgroup: one per invocation */
#define SR 16 /* query rows staged in shared memory at a time */

layout(std430, binding = 1) readonly buffer Qb { vec4 qb[]; };
layout(std430, binding = 2) readonly buffer Kb { vec4 kb[]; };
layout(std430, binding = 3) readonly buffer RowStats { vec2 row_stats[]; };
layout(std430, binding = 4) writeonly buffer Cls { float cls[]; };
layout(std430, binding = 5) writeonly buffer Received { float received[]; };
layout(std430, binding = 6) writeonly buffer MeanKeys { vec4 mean_keys[]; };
layout(std430, binding = 7) readonly buffer KeyBias { float key_bias[]; };

shared vec4 qs[SR][D4];
shared vec2 rs[SR];

void main()
{
    const uint tid = gl_LocalInvocationID.x;
    const uint G = p.hq / p.hkv, d4 = p.d / 4u, b = gl_WorkGroupID.y, j0 = gl_WorkGroupID.x * SK;
    const uint j = j0 + tid, jc = min(j, p.nk - 1u);
    const int kvlen = kv_len(), pos = first_position(kvlen);
    const uint nrows = (p.stats & FV_ATTN_RECEIVED) != 0u ? p.nq : (p.stats & FV_ATTN_CLS) != 0u ? 1u : 0u;

    if ((p.stats & FV_ATTN_MEAN_KEYS) != 0u) {
        for (uint e = tid; e < SK * d4; e += 64u) {
            const uint jm = j0 + e / d4, t = e % d4;
            if (jm >= p.nk) break;
            vec4 sum = vec4(0);
            if (int(jm) < kvlen)
                for (uint hk = 0; hk < p.hkv; hk++) sum += kb[kv_texel(b, jm, hk, t)];
            mean_keys[(b * p.nk + jm) * d4 + t] = sum / float(p.hkv);
        }
    }

    float col = 0.0, row0 = 0.0;
    const float bj = (p.stats & FV_ATTN_KEY_BIAS) != 0u ? key_bias[b * p.nk + jc] * LOG2E : 0.0;
    for (uint hk = 0; hk < p.hkv && nrows > 0u; hk++) {
        vec4 kt[D4];
        [[unroll]] for (uint t = 0; t < D4; t++) kt[t] = kb[kv_texel(b, jc, hk, min(t, d4 - 1u))];
        for (uint g = 0; g < G; g++) {
            const uint h = hk * G + g;
            for (uint i0 = 0; i0 < nrows; i0 += SR) {
                barrier(); /* the previous rows are no longer read */
                for (uint e = tid; e < SR * D4; e += 64u) {
                    const uint i = i0 + e / D4, t = e % D4;
                    qs[e / D4][t] = i < nrows && t < d4 ? qb[q_texel(b, i, h) + t] * p.scale_log2 : vec4(0);
                }
                if (tid < SR) rs[tid] = i0 + tid < nrows ? row_stats[(b * p.hq + h) * p.nq + i0 + tid] : vec2(0);
                barrier();
                const uint n = min(SR, nrows - i0);
                for (uint i = 0; i < n; i++) {
                    float s = 0.0;
                    [[unroll]] for (uint t = 0; t < D4; t++) s += dot(qs[i][t], kt[t]);
                    if ((p.stats & FV_ATTN_KEY_BIAS) != 0u) s += bj;
                    const vec2 st = rs[i];
                    const float pc = int(j) < live_keys(i0 + i, kvlen, pos) && st.y > 0.0 ? exp2(s - st.x) / st.y : 0.0;
                    col += pc;
                    if (i0 + i == 0u) row0 += pc;
                }
            }
        }
    }
    if (j < p.nk) {
        if ((p.stats & FV_ATTN_RECEIVED) != 0u) received[b * p.nk + j] = col / float(p.hq * p.nq);
        if ((p.stats & FV_ATTN_CLS) != 0u) cls[b * p.nk + j] = row0 / float(p.hq);
    }
}
#endif
