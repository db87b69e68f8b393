/* Token sampling: the OpenCL twin of sample.comp, the same five kernels
 * with the same algorithm (see there: candidate order, the candidate buffer
 * and its thresholds, the exact arithmetic of the finish). FP_CONTRACT OFF
 * keeps a·b + c two roundings, as in the CPU reference and under `precise`
 * in GLSL, so all backends draw the same token. Work-group size FV_SPEC_0,
 * a power of two. */
#pragma OPENCL FP_CONTRACT OFF

#define NO_ID 0xffffffffu
#define LOCAL ((uint)FV_SPEC_0)

inline uint sample_key(float v)
{
    uint b = as_uint(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0u; /* NaN */
    return (b & 0x80000000u) ? ~b : b | 0x80000000u;
}

inline float key_value(uint k) { return as_float((k & 0x80000000u) ? k & 0x7fffffffu : ~k); }

inline bool better(uint ka, uint ia, uint kb, uint ib) { return ka > kb || (ka == kb && ia < ib); }

__kernel void sample_mask_clear_cl(FV_PARAMS, FV_ARG(uint, mask), fv_pc_sample p)
{
    uint i = fv_linear_id();
    if (i < p.batch * p.mask_words) FV_PTR(uint, mask)[i] = 0u;
}

__kernel void sample_mask_set_cl(FV_PARAMS, FV_ARG(const int, hist), FV_ARG(uint, mask), fv_pc_sample p)
{
    uint i = fv_linear_id();
    if (i >= p.batch * p.hist_len) return;
    uint b = i / p.hist_len, j = i - b * p.hist_len;
    int live = p.hist_slot > 0 ? clamp(fv_param[p.hist_slot - 1], 0, (int)p.hist_len) : (int)p.hist_len;
    int id = FV_PTR(const int, hist)[i];
    if ((int)j >= live || id < 0 || (uint)id >= p.vocab) return;
    atomic_or(FV_PTR(uint, mask) + b * p.mask_words + ((uint)id >> 5), 1u << ((uint)id & 31u));
}

inline float logit_at(__global const float *L, __global const uint *M, const fv_pc_sample *p, uint b, uint i)
{
    float v = L[b * p->vocab + i];
    if (p->penalize && ((M[b * p->mask_words + (i >> 5)] >> (i & 31u)) & 1u))
        v = v < 0.0f ? v * p->penalty : v * p->inv_penalty;
    return v;
}

__kernel void sample_argmax_cl(FV_PARAMS, FV_ARG(const float, logits), FV_ARG(const uint, mask),
                               FV_ARG(uint2, partial), fv_pc_sample p)
{
    __local uint s_key[LOCAL], s_id[LOCAL];
    __global const float *L = FV_PTR(const float, logits);
    __global const uint *M = FV_PTR(const uint, mask);
    const uint c = (uint)get_group_id(0), b = (uint)get_group_id(1), lid = (uint)get_local_id(0);
    const uint begin = c * p.chunk, end = min(begin + p.chunk, p.vocab);
    uint bk = 0u, bi = NO_ID;
    for (uint i = begin + lid; i < end; i += LOCAL) {
        uint k = sample_key(logit_at(L, M, &p, b, i));
        if (k > bk || bi == NO_ID) {
            bk = k;
            bi = i;
        }
    }
    s_key[lid] = bk;
    s_id[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = LOCAL / 2u; s > 0u; s >>= 1) {
        if (lid < s && better(s_key[lid + s], s_id[lid + s], s_key[lid], s_id[lid])) {
            s_key[lid] = s_key[lid + s];
            s_id[lid] = s_id[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0u) FV_PTR(uint2, partial)[b * p.chunks + c] = (uint2)(s_key[0], s_id[0]);
}

/* ---- the candidate buffer ---- */

typedef struct cand_buffer {
    uint key[FV_SAMPLE_BUFFER];
    uint id[FV_SAMPLE_BUFFER];
    uint count;
    uint tkey, tid; /* threshold: the k-th best kept, or (0, NO_ID) */
} cand_buffer;

/* Each work-item's copy of the threshold, refreshed after a cut. */
typedef struct threshold {
    uint key, id;
} threshold;

inline void buffer_begin(__local cand_buffer *B, threshold *t)
{
    if (get_local_id(0) == 0) {
        B->count = 0u;
        B->tkey = 0u;
        B->tid = NO_ID;
    }
    t->key = 0u;
    t->id = NO_ID;
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* past the end of the buffer only the count grows (see buffer_overflowed) */
inline void offer(__local cand_buffer *B, const threshold *t, uint key, uint id)
{
    if (better(key, id, t->key, t->id)) {
        uint at = atomic_inc(&B->count);
        if (at < FV_SAMPLE_BUFFER) {
            B->key[at] = key;
            B->id[at] = id;
        }
    }
}

inline void cut(__local cand_buffer *B, threshold *th, uint c, uint k)
{
    const uint lid = (uint)get_local_id(0);
    uint n = 1u;
    while (n < c) n <<= 1;
    for (uint t = c + lid; t < n; t += LOCAL) {
        B->key[t] = 0u;
        B->id[t] = NO_ID;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint size = 2u; size <= n; size <<= 1)
        for (uint j = size >> 1; j > 0u; j >>= 1) {
            for (uint t = lid; t < n / 2u; t += LOCAL) {
                uint i = 2u * t - (t & (j - 1u)), q = i + j;
                bool down = (i & size) == 0u;
                if (down == better(B->key[q], B->id[q], B->key[i], B->id[i])) {
                    uint kk = B->key[i], d = B->id[i];
                    B->key[i] = B->key[q];
                    B->id[i] = B->id[q];
                    B->key[q] = kk;
                    B->id[q] = d;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    if (lid == 0u) {
        B->count = min(c, k);
        if (c >= k) {
            B->tkey = B->key[k - 1u];
            B->tid = B->id[k - 1u];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    th->key = B->tkey;
    th->id = B->tid;
}

inline void step_end(__local cand_buffer *B, threshold *t, uint limit, uint k)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    uint c = B->count;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (c > limit) cut(B, t, c, k);
}

inline bool buffer_overflowed(__local cand_buffer *B)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    bool lost = B->count > FV_SAMPLE_BUFFER;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lost && get_local_id(0) == 0) B->count = 0u;
    barrier(CLK_LOCAL_MEM_FENCE);
    return lost;
}

/* empties the buffer; the threshold goes just below candidate (key, id) */
inline void buffer_restart(__local cand_buffer *B, threshold *t, uint key, uint id)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    if (get_local_id(0) == 0) {
        B->count = 0u;
        B->tkey = id == NO_ID ? 0u : key;
        B->tid = id == NO_ID ? NO_ID : id + 1u;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    t->key = B->tkey;
    t->id = B->tid;
}

inline uint buffer_sort(__local cand_buffer *B, threshold *t, uint k)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    uint c = B->count;
    barrier(CLK_LOCAL_MEM_FENCE);
    cut(B, t, c, k);
    return min(c, k);
}

/* two passes: the best of about 4k runs give a sound threshold, then one
 * pass offers what is not worse (see sample.comp, TOPK) */
__kernel void sample_topk_cl(FV_PARAMS, FV_ARG(const float, logits), FV_ARG(const uint, mask),
                             FV_ARG(uint2, partial), fv_pc_sample p)
{
    __local cand_buffer B;
    threshold t;
    __global const float *L = FV_PTR(const float, logits);
    __global const uint *M = FV_PTR(const uint, mask);
    const uint c = (uint)get_group_id(0), b = (uint)get_group_id(1), lid = (uint)get_local_id(0);
    const uint begin = c * p.chunk, end = min(begin + p.chunk, p.vocab);
    const uint run = (p.chunk + p.blocks * LOCAL - 1u) / (p.blocks * LOCAL);
    buffer_begin(&B, &t);
    for (uint q = 0u; q < p.blocks; q++) {
        uint bk = 0u, bi = NO_ID;
        uint i0 = begin + lid + q * run * LOCAL, i1 = min(end, i0 + run * LOCAL);
        for (uint i = i0; i < i1; i += LOCAL) {
            uint k = sample_key(logit_at(L, M, &p, b, i));
            if (k > bk || bi == NO_ID) {
                bk = k;
                bi = i;
            }
        }
        if (bi != NO_ID) offer(&B, &t, bk, bi);
    }
    buffer_sort(&B, &t, p.k);
    buffer_restart(&B, &t, B.tkey, B.tid);
    for (uint i = begin + lid; i < end; i += LOCAL) offer(&B, &t, sample_key(logit_at(L, M, &p, b, i)), i);
    if (buffer_overflowed(&B)) {
        for (uint base = begin; base < end; base += p.per_step * LOCAL) {
            for (uint e = 0u; e < p.per_step; e++) {
                uint i = base + e * LOCAL + lid;
                if (i < end) offer(&B, &t, sample_key(logit_at(L, M, &p, b, i)), i);
            }
            step_end(&B, &t, p.limit, p.k);
        }
    }
    uint n = buffer_sort(&B, &t, p.k);
    __global uint2 *out = FV_PTR(uint2, partial) + (b * p.chunks + c) * p.k;
    for (uint r = lid; r < p.k; r += LOCAL) out[r] = r < n ? (uint2)(B.key[r], B.id[r]) : (uint2)(0u, NO_ID);
}

/* ---- finish ---- */

/* e^d for d <= 0, as sample_exp in sample.comp */
inline float sample_exp(float d)
{
    if (!(d > -80.0f)) return 0.0f;
    float k = floor(d * 1.44269502f + 0.5f);
    float r = d - k * 0.693145752f;
    r = r - k * 1.42860677e-06f;
    float q = 0.000198412701f;
    q = q * r + 0.00138888892f;
    q = q * r + 0.00833333377f;
    q = q * r + 0.0416666679f;
    q = q * r + 0.166666672f;
    q = q * r + 0.5f;
    q = q * r + 1.0f;
    q = q * r + 1.0f;
    return q * as_float((uint)((int)k + 127) << 23);
}

inline uint4 philox(uint4 ctr, uint2 key)
{
    for (int round = 0; round < 10; round++) {
        if (round > 0) key += (uint2)(0x9E3779B9u, 0xBB67AE85u);
        uint hi0 = mul_hi(0xD2511F53u, ctr.x), lo0 = 0xD2511F53u * ctr.x;
        uint hi1 = mul_hi(0xCD9E8D57u, ctr.z), lo1 = 0xCD9E8D57u * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

inline uint draw(__global const int *fv_param, const fv_pc_sample *p, __local const float *w, uint b, uint n)
{
    uint step = p->step_slot > 0 ? (uint)fv_param[p->step_slot - 1] : 0u;
    uint4 r = philox((uint4)(step, b, 0u, 0u), (uint2)(p->seed_lo, p->seed_hi));
    float u = (float)(r.x >> 8) * 5.96046448e-08f;
    uint m = n;
    if (p->top_p > 0.0f) {
        float total = 0.0f;
        for (uint i = 0u; i < n; i++) total = total + w[i];
        float limit = p->top_p * total;
        float before = 0.0f;
        for (uint i = 1u; i < n; i++) {
            before = before + w[i - 1u];
            if (before >= limit) {
                m = i;
                break;
            }
        }
    }
    float kept = 0.0f;
    for (uint i = 0u; i < m; i++) kept = kept + w[i];
    float target = u * kept;
    float acc = 0.0f;
    for (uint i = 0u; i < m; i++) {
        acc = acc + w[i];
        if (target < acc) return i;
    }
    return m - 1u;
}

__kernel void sample_finish_cl(FV_PARAMS, FV_ARG(const uint2, partial), FV_ARG(int, token), fv_pc_sample p)
{
    __local cand_buffer B;
    __local float w[FV_SAMPLE_BUFFER / 4u];
    threshold t;
    __global const uint2 *P = FV_PTR(const uint2, partial);
    const uint b = (uint)get_group_id(1), lid = (uint)get_local_id(0);
    const uint entries = p.chunks * p.k;
    buffer_begin(&B, &t);
    /* the best of the chunks' k-th entries is a sound threshold */
    uint tk = 0u, ti = NO_ID;
    for (uint c = 0u; c < p.chunks; c++) {
        uint2 e = P[(b * p.chunks + c) * p.k + p.k - 1u];
        if (better(e.x, e.y, tk, ti)) {
            tk = e.x;
            ti = e.y;
        }
    }
    buffer_restart(&B, &t, tk, ti);
    for (uint j = lid; j < entries; j += LOCAL) {
        uint2 e = P[b * entries + j];
        offer(&B, &t, e.x, e.y);
    }
    if (buffer_overflowed(&B)) {
        for (uint base = 0u; base < entries; base += p.per_step * LOCAL) {
            for (uint e = 0u; e < p.per_step; e++) {
                uint j = base + e * LOCAL + lid;
                if (j < entries) {
                    uint2 c = P[b * entries + j];
                    offer(&B, &t, c.x, c.y);
                }
            }
            step_end(&B, &t, p.limit, p.k);
        }
    }
    uint n = buffer_sort(&B, &t, p.k);
    if (p.greedy) {
        if (lid == 0u) FV_PTR(int, token)[b] = (int)B.id[0];
        return;
    }
    float s0 = key_value(B.key[0]) * p.inv_temp;
    for (uint r = lid; r < n; r += LOCAL) {
        float sr = key_value(B.key[r]) * p.inv_temp;
        float d = sr - s0;
        w[r] = r == 0u ? 1.0f : sample_exp(d);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0u) FV_PTR(int, token)[b] = (int)B.id[draw(fv_param, &p, w, b, n)];
}
