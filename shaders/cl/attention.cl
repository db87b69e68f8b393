/* Fused attention for OpenCL: the twins of attention.comp's kernels (see
 * there for the rows of a KV head, the live-key rule, log2-unit scores and
 * what the statistics pass costs). Written for CPU devices without
 * subgroups (PoCL), where wide vector types are what vectorises: head
 * vectors are float16 (the head size must be a multiple of 16), and each
 * work-item works alone, so nothing needs barriers or local memory.
 *
 * attention_cl_d*: a work-item owns ATTN_ROWS query rows and walks the live
 * keys in blocks of ATTN_KB: the scores of the block (float16 products,
 * then a horizontal sum), one online-softmax update per block
 * (FlashAttention-2's running max and sum), then acc += p·V. K and V rows
 * are read once per block for all its rows.
 *
 * attention_stats_cl_d*: a work-item owns ATTN_SKEYS keys of one batch and
 * walks every head and every needed query row (all for received, row 0 for
 * cls), turning recomputed scores into exact probabilities with the row
 * stats of the main pass; its per-key sums are complete when it ends.
 *
 * The _d32/_d64/_d128 kernels are one body inlined with the number of
 * float16 vectors a head may span (2, 4, 8): loops over them unroll.
 *
 * Key bias (FV_ATTN_KEY_BIAS): key j's scores get key_bias[b, j]·log2(e),
 * in both kernels; its binding follows the others. */

#define ATTN_LOWEST (-3.402823466e38f)
#define ATTN_LOG2E 1.4426950408889634f
#define ATTN_ROWS 8   /* query rows per work-item */
#define ATTN_KB 8     /* keys per softmax update */
#define ATTN_SKEYS 8  /* keys per work-item in the statistics pass (one float8) */

inline int attn_kv_len(__global const int *fv_param, const fv_pc_attention *p)
{
    int n = (int)p->nk;
    if (p->kv_slot > 0) n = clamp(fv_param[p->kv_slot - 1], 0, n);
    return n;
}

inline int attn_first_position(__global const int *fv_param, const fv_pc_attention *p, int kvlen)
{
    int pos = p->qpos_slot > 0 ? fv_param[p->qpos_slot - 1] : kvlen - (int)p->nq;
    return clamp(pos, -(1 << 30), 1 << 30);
}

inline int attn_live(const fv_pc_attention *p, uint i, int kvlen, int pos)
{
    return p->causal ? clamp(pos + (int)i + 1, 0, kvlen) : kvlen;
}

inline float attn_hsum(float16 x)
{
    float8 a = x.lo + x.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}

inline void attn_main(__global const int *fv_param, __global const float *Q, __global const float *K,
                      __global const float *V, __global float *O, __global float2 *RS, __global const float *KB,
                      fv_pc_attention p, const uint DV)
{
    const uint G = p.hq / p.hkv, rows = p.nq * G, d16 = p.d / 16u;
    const uint b = (uint)get_global_id(1) / p.hkv, hk = (uint)get_global_id(1) % p.hkv;
    const uint r0 = (uint)get_global_id(0) * ATTN_ROWS;
    if (r0 >= rows) return;
    const int kvlen = attn_kv_len(fv_param, &p), pos = attn_first_position(fv_param, &p, kvlen);

    float16 q[ATTN_ROWS][8], acc[ATTN_ROWS][8];
    float m[ATTN_ROWS], l[ATTN_ROWS];
    int live[ATTN_ROWS];
    uint qoff[ATTN_ROWS];
    int kend = 0;
    for (uint i = 0; i < ATTN_ROWS; i++) {
        const uint r = min(r0 + i, rows - 1u);
        qoff[i] = ((b * p.nq + r / G) * p.hq + hk * G + r % G) * p.d;
        live[i] = r0 + i < rows ? attn_live(&p, r / G, kvlen, pos) : 0;
        kend = max(kend, live[i]);
        m[i] = ATTN_LOWEST;
        l[i] = 0.0f;
        for (uint t = 0; t < DV; t++) {
            q[i][t] = t < d16 ? vload16(t, Q + qoff[i]) * p.scale_log2 : (float16)(0.0f);
            acc[i][t] = (float16)(0.0f);
        }
    }
    const uint stride = p.hkv * p.d; /* floats between consecutive keys */
    __global const float *kbase = K + (b * p.nk * p.hkv + hk) * p.d;
    __global const float *vbase = V + (b * p.nk * p.hkv + hk) * p.d;

    const float8 lane = (float8)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f);
    for (int j0 = 0; j0 < kend; j0 += ATTN_KB) {
        /* the block's scores, one float8 per row (key c in element c) */
        float s[ATTN_ROWS][ATTN_KB];
        for (uint c = 0; c < ATTN_KB; c++) {
            __global const float *krow = kbase + min((uint)j0 + c, p.nk - 1u) * stride;
            float16 part[ATTN_ROWS];
            for (uint i = 0; i < ATTN_ROWS; i++) part[i] = (float16)(0.0f);
            for (uint t = 0; t < DV; t++) {
                if (t >= d16) break;
                const float16 kv = vload16(t, krow);
                for (uint i = 0; i < ATTN_ROWS; i++) part[i] = fma(q[i][t], kv, part[i]);
            }
            for (uint i = 0; i < ATTN_ROWS; i++) s[i][c] = attn_hsum(part[i]);
            if (p.stats & FV_ATTN_KEY_BIAS) {
                const float bj = KB[b * p.nk + min((uint)j0 + c, p.nk - 1u)] * ATTN_LOG2E;
                for (uint i = 0; i < ATTN_ROWS; i++) s[i][c] += bj;
            }
        }
        float pr[ATTN_ROWS][ATTN_KB];
        for (uint i = 0; i < ATTN_ROWS; i++) {
            /* keys j0 + c < live[i] are live: a prefix of the block */
            const int8 dead = isgreaterequal(lane, (float8)((float)(live[i] - j0)));
            const float8 sv = select(vload8(0, s[i]), (float8)(ATTN_LOWEST), dead);
            const float4 m4 = fmax(sv.lo, sv.hi);
            const float2 m2 = fmax(m4.lo, m4.hi);
            const float mx = fmax(m[i], fmax(m2.x, m2.y));
            const float alpha = exp2(m[i] - mx);
            m[i] = mx;
            const float8 pv = select(exp2(sv - mx), (float8)(0.0f), dead);
            vstore8(pv, 0, pr[i]);
            const float4 s4 = pv.lo + pv.hi;
            const float2 s2 = s4.lo + s4.hi;
            l[i] = l[i] * alpha + (s2.x + s2.y);
            for (uint t = 0; t < DV; t++) acc[i][t] *= alpha;
        }
        for (uint c = 0; c < ATTN_KB; c++) {
            /* rows past every row's live keys are never read: their weight is
             * 0, but a KV cache's unwritten rows may hold NaN, and 0 * NaN is
             * NaN */
            if (j0 + (int)c >= kend) break;
            __global const float *vrow = vbase + min((uint)j0 + c, p.nk - 1u) * stride;
            for (uint t = 0; t < DV; t++) {
                if (t >= d16) break;
                const float16 vv = vload16(t, vrow);
                for (uint i = 0; i < ATTN_ROWS; i++) acc[i][t] = fma((float16)(pr[i][c]), vv, acc[i][t]);
            }
        }
    }
    for (uint i = 0; i < ATTN_ROWS; i++) {
        if (r0 + i >= rows) break;
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        for (uint t = 0; t < DV; t++)
            if (t < d16) vstore16(acc[i][t] * inv, t, O + qoff[i]);
        if (p.stats & FV_ATTN_ROW_STATS) {
            const uint r = r0 + i;
            RS[(b * p.hq + hk * G + r % G) * p.nq + r / G] = (float2)(m[i], l[i]);
        }
    }
}

__kernel void attention_cl_d32(FV_PARAMS, FV_ARG(const float, q), FV_ARG(const float, k), FV_ARG(const float, v),
                       FV_ARG(float, o), FV_ARG(float2, rs), FV_ARG(const float, kb), fv_pc_attention p)
{
    attn_main(fv_param, FV_PTR(const float, q), FV_PTR(const float, k), FV_PTR(const float, v), FV_PTR(float, o),
              FV_PTR(float2, rs), FV_PTR(const float, kb), p, 2);
}

__kernel void attention_cl_d64(FV_PARAMS, FV_ARG(const float, q), FV_ARG(const float, k), FV_ARG(const float, v),
                       FV_ARG(float, o), FV_ARG(float2, rs), FV_ARG(const float, kb), fv_pc_attention p)
{
    attn_main(fv_param, FV_PTR(const float, q), FV_PTR(const float, k), FV_PTR(const float, v), FV_PTR(float, o),
              FV_PTR(float2, rs), FV_PTR(const float, kb), p, 4);
}

__kernel void attention_cl_d128(FV_PARAMS, FV_ARG(const float, q), FV_ARG(const float, k), FV_ARG(const float, v),
                       FV_ARG(float, o), FV_ARG(float2, rs), FV_ARG(const float, kb), fv_pc_attention p)
{
    attn_main(fv_param, FV_PTR(const float, q), FV_PTR(const float, k), FV_PTR(const float, v), FV_PTR(float, o),
              FV_PTR(float2, rs), FV_PTR(const float, kb), p, 8);
}

inline void attn_stats(__global const int *fv_param, __global const float *Q, __global const float *K,
                       __global const float2 *RS, __global float *CLS, __global float *REC, __global float *MK,
                       __global const float *KB, fv_pc_attention p, const uint DV)
{
    const uint G = p.hq / p.hkv, d16 = p.d / 16u, b = (uint)get_global_id(1);
    const uint j0 = (uint)get_global_id(0) * ATTN_SKEYS;
    if (j0 >= p.nk) return;
    const int kvlen = attn_kv_len(fv_param, &p), pos = attn_first_position(fv_param, &p, kvlen);
    const uint nrows = (p.stats & FV_ATTN_RECEIVED) ? p.nq : (p.stats & FV_ATTN_CLS) ? 1u : 0u;
    const uint stride = p.hkv * p.d;

    if (p.stats & FV_ATTN_MEAN_KEYS) {
        for (uint c = 0; c < ATTN_SKEYS && j0 + c < p.nk; c++) {
            const uint j = j0 + c;
            for (uint t = 0; t < d16; t++) {
                float16 sum = (float16)(0.0f);
                for (uint hk = 0; (int)j < kvlen && hk < p.hkv; hk++)
                    sum += vload16(t, K + (b * p.nk + j) * stride + hk * p.d);
                vstore16(sum / (float)p.hkv, t, MK + (b * p.nk + j) * p.d);
            }
        }
    }

    const float8 lane = (float8)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f);
    float8 col = (float8)(0.0f), row0 = (float8)(0.0f);
    float bjs[ATTN_SKEYS];
    for (uint c = 0; c < ATTN_SKEYS; c++)
        bjs[c] = (p.stats & FV_ATTN_KEY_BIAS) ? KB[b * p.nk + min(j0 + c, p.nk - 1u)] * ATTN_LOG2E : 0.0f;
    for (uint hk = 0; hk < p.hkv && nrows > 0u; hk++) {
        float16 kt[ATTN_SKEYS][8];
        for (uint c = 0; c < ATTN_SKEYS; c++)
            for (uint t = 0; t < DV; t++)
                kt[c][t] = t < d16 ? vload16(t, K + (b * p.nk + min(j0 + c, p.nk - 1u)) * stride + hk * p.d)
                                   : (float16)(0.0f);
        for (uint g = 0; g < G; g++) {
            const uint h = hk * G + g;
            for (uint i = 0; i < nrows; i++) {
                __global const float *qrow = Q + ((b * p.nq + i) * p.hq + h) * p.d;
                float16 part[ATTN_SKEYS];
                for (uint c = 0; c < ATTN_SKEYS; c++) part[c] = (float16)(0.0f);
                for (uint t = 0; t < DV; t++) {
                    if (t >= d16) break;
                    const float16 qv = vload16(t, qrow);
                    for (uint c = 0; c < ATTN_SKEYS; c++) part[c] = fma(qv, kt[c][t], part[c]);
                }
                const float2 st = RS[(b * p.hq + h) * p.nq + i];
                const float inv = st.y > 0.0f ? 1.0f / st.y : 0.0f;
                float sc[ATTN_SKEYS];
                for (uint c = 0; c < ATTN_SKEYS; c++) sc[c] = attn_hsum(part[c]);
                /* keys j0 + c < live are live: a prefix of the tile */
                const int8 dead = isgreaterequal(lane, (float8)((float)(attn_live(&p, i, kvlen, pos) - (int)j0)));
                /* the unbiased expression is kept as it was, contractions included */
                const float8 e = (p.stats & FV_ATTN_KEY_BIAS) ? vload8(0, sc) * p.scale_log2 + vload8(0, bjs) - st.x
                                                              : vload8(0, sc) * p.scale_log2 - st.x;
                const float8 pv = select(exp2(e) * inv, (float8)(0.0f), dead);
                col += pv;
                if (i == 0u) row0 += pv;
            }
        }
    }
    float cs[ATTN_SKEYS], rs0[ATTN_SKEYS];
    vstore8(col, 0, cs);
    vstore8(row0, 0, rs0);
    for (uint c = 0; c < ATTN_SKEYS && j0 + c < p.nk; c++) {
        if (p.stats & FV_ATTN_RECEIVED) REC[b * p.nk + j0 + c] = cs[c] / (float)(p.hq * p.nq);
        if (p.stats & FV_ATTN_CLS) CLS[b * p.nk + j0 + c] = rs0[c] / (float)p.hq;
    }
}

__kernel void attention_stats_cl_d32(FV_PARAMS, FV_ARG(const float, q), FV_ARG(const float, k), FV_ARG(const float2, rs),
                             FV_ARG(float, cls), FV_ARG(float, rec), FV_ARG(float, mk), FV_ARG(const float, kb),
                             fv_pc_attention p)
{
    attn_stats(fv_param, FV_PTR(const float, q), FV_PTR(const float, k), FV_PTR(const float2, rs), FV_PTR(float, cls),
               FV_PTR(float, rec), FV_PTR(float, mk), FV_PTR(const float, kb), p, 2);
}

__kernel void attention_stats_cl_d64(FV_PARAMS, FV_ARG(const float, q), FV_ARG(const float, k), FV_ARG(const float2, rs),
                             FV_ARG(float, cls), FV_ARG(float, rec), FV_ARG(float, mk), FV_ARG(const float, kb),
                             fv_pc_attention p)
{
    attn_stats(fv_param, FV_PTR(const float, q), FV_PTR(const float, k), FV_PTR(const float2, rs), FV_PTR(float, cls),
               FV_PTR(float, rec), FV_PTR(float, mk), FV_PTR(const float, kb), p, 4);
}

__kernel void attention_stats_cl_d128(FV_PARAMS, FV_ARG(const float, q), FV_ARG(const float, k), FV_ARG(const float2, rs),
                             FV_ARG(float, cls), FV_ARG(float, rec), FV_ARG(float, mk), FV_ARG(const float, kb),
                             fv_pc_attention p)
{
    attn_stats(fv_param, FV_PTR(const float, q), FV_PTR(const float, k), FV_PTR(const float2, rs), FV_PTR(float, cls),
               FV_PTR(float, rec), FV_PTR(float, mk), FV_PTR(const float, kb), p, 8);
}
