/* ToMe's bipartite soft matching: the OpenCL twins of tome.comp's four
 * kernels (see there for what each work-item owns and ops/tome.c for the
 * algorithm), one work-item per a, token or (output row, 4 channels). */
#define TOME_NONE (-3.402823466e38f)

__kernel void tome_match_cl(FV_PARAMS, FV_ARG(const float, keys), FV_ARG(float, best), FV_ARG(int, best_b),
                            fv_pc_tome p)
{
    __global const float *K = FV_PTR(const float, keys);
    const uint id = fv_linear_id();
    if (id >= p.batch * p.na) return;
    const uint b = id / p.na, a = id % p.na;
    __global const float *ka = K + (b * p.n + 2u * a) * p.dk;
    float na = 0.0f;
    for (uint c = 0u; c < p.dk; c++) na += ka[c] * ka[c];
    float bs = TOME_NONE;
    int bi = 0;
    if (p.protect == 0u || a != 0u) {
        const float ia = 1.0f / fmax(sqrt(na), 1e-12f);
        for (uint j = 0u; j < p.nb; j++) {
            __global const float *kj = K + (b * p.n + 2u * j + 1u) * p.dk;
            float dot = 0.0f, nj = 0.0f;
            for (uint c = 0u; c < p.dk; c++) {
                dot += ka[c] * kj[c];
                nj += kj[c] * kj[c];
            }
            const float s = dot * ia / fmax(sqrt(nj), 1e-12f);
            if (s > bs) {
                bs = s;
                bi = (int)j;
            }
        }
    }
    FV_PTR(float, best)[id] = bs;
    FV_PTR(int, best_b)[id] = bi;
}

__kernel void tome_rank_cl(FV_PARAMS, FV_ARG(const float, best), FV_ARG(int, rank), fv_pc_tome p)
{
    __global const float *B = FV_PTR(const float, best);
    const uint id = fv_linear_id();
    if (id >= p.batch * p.na) return;
    const uint b = id / p.na, a = id % p.na, row = b * p.na;
    const float m = B[id];
    int cnt = 0;
    for (uint o = 0u; o < p.na; o++) {
        const float v = B[row + o];
        cnt += (v > m || (v == m && o < a)) ? 1 : 0;
    }
    FV_PTR(int, rank)[id] = cnt;
}

__kernel void tome_dest_cl(FV_PARAMS, FV_ARG(const int, best_b), FV_ARG(const int, rank), FV_ARG(int, dest),
                           FV_ARG(int, order), FV_ARG(int, unm), fv_pc_tome p)
{
    __global const int *BB = FV_PTR(const int, best_b), *R = FV_PTR(const int, rank);
    __global int *D = FV_PTR(int, dest);
    const uint id = fv_linear_id();
    if (id >= p.batch * p.n) return;
    const uint b = id / p.n, t = id % p.n, row = b * p.na;
    const int kept = (int)(p.na - p.r);
    if (t & 1u) {
        D[id] = kept + (int)(t / 2u);
        return;
    }
    const uint a = t / 2u;
    const int rk = R[row + a];
    FV_PTR(int, order)[row + (uint)rk] = (int)a;
    if (rk < (int)p.r) {
        D[id] = kept + BB[row + a];
        return;
    }
    int pos = 0;
    for (uint o = 0u; o < a; o++) pos += R[row + o] >= (int)p.r ? 1 : 0;
    D[id] = pos;
    FV_PTR(int, unm)[row + (uint)pos] = (int)a;
}

inline float4 tome_load4(__global const float *X, const fv_pc_tome *p, uint b, uint t, uint c0)
{
    __global const float *row = X + (b * p->n + t) * p->c;
    float4 v = (float4)(0.0f);
    if (c0 + 0u < p->c) v.x = row[c0];
    if (c0 + 1u < p->c) v.y = row[c0 + 1u];
    if (c0 + 2u < p->c) v.z = row[c0 + 2u];
    if (c0 + 3u < p->c) v.w = row[c0 + 3u];
    return v;
}

__kernel void tome_merge_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const float, size), FV_ARG(const int, best_b),
                            FV_ARG(const int, order), FV_ARG(const int, unm), FV_ARG(float, y),
                            FV_ARG(float, size_out), FV_ARG(float, log_size), fv_pc_tome p)
{
    __global const float *X = FV_PTR(const float, x), *S = FV_PTR(const float, size);
    __global const int *BB = FV_PTR(const int, best_b), *OR = FV_PTR(const int, order), *U = FV_PTR(const int, unm);
    const uint c4 = (p.c + 3u) / 4u, m = p.n - p.r, kept = p.na - p.r;
    const uint id = fv_linear_id();
    if (id >= p.batch * m * c4) return;
    const uint q = id % c4, rowid = id / c4, b = rowid / m, o = rowid % m, c0 = 4u * q;
    float4 acc;
    float total;
    if (o < kept) {
        const uint t = 2u * (uint)U[b * p.na + o];
        total = p.has_size ? S[b * p.n + t] : 1.0f;
        acc = total * tome_load4(X, &p, b, t, c0);
    } else {
        const uint j = o - kept, t = 2u * j + 1u;
        total = p.has_size ? S[b * p.n + t] : 1.0f;
        acc = total * tome_load4(X, &p, b, t, c0);
        for (uint k = 0u; k < p.r; k++) {
            const uint a = (uint)OR[b * p.na + k];
            if ((uint)BB[b * p.na + a] != j) continue;
            const float s = p.has_size ? S[b * p.n + 2u * a] : 1.0f;
            total += s;
            acc += s * tome_load4(X, &p, b, 2u * a, c0);
        }
    }
    __global float *Y = FV_PTR(float, y) + rowid * p.c;
    const float4 v = acc / total;
    if (c0 + 0u < p.c) Y[c0] = v.x;
    if (c0 + 1u < p.c) Y[c0 + 1u] = v.y;
    if (c0 + 2u < p.c) Y[c0 + 2u] = v.z;
    if (c0 + 3u < p.c) Y[c0 + 3u] = v.w;
    if (q == 0u) {
        FV_PTR(float, size_out)[rowid] = total;
        FV_PTR(float, log_size)[rowid] = log(total);
    }
}
