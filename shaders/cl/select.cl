/* Token selection and mask compaction: the OpenCL twins of select.comp and
 * compact.comp (ops/topk.c), one work-item per candidate token, the same
 * counting and the same float steps, so that every backend keeps the same
 * tokens.
 *
 * select_cl arguments: scores (f32), prior (i32), tile scores (f32), flags
 * (i32). compact_cl: flags (i32), out (i32). */
inline uint sel_tile(const fv_pc_select *p, uint j)
{
    uint ty = (j / p->grid_w) * p->tiles_y / p->grid_h, tx = (j % p->grid_w) * p->tiles_x / p->grid_w;
    return ty * p->tiles_x + tx;
}

inline bool sel_prior(const fv_pc_select *p, __global const int *prior, uint j)
{
    if ((p->mode & FV_SELECT_PRIOR) == 0u) return false;
    if (prior[j] != 0) return true;
    if ((p->mode & FV_SELECT_DILATE) == 0u) return false;
    uint r = j / p->grid_w, c = j % p->grid_w;
    return (r > 0u && prior[j - p->grid_w] != 0) || (r + 1u < p->grid_h && prior[j + p->grid_w] != 0) ||
           (c > 0u && prior[j - 1u] != 0) || (c + 1u < p->grid_w && prior[j + 1u] != 0);
}

/* as tile_quota in select.comp */
inline uint sel_quota(const fv_pc_select *p, __global const float *ts, uint want)
{
    const uint nt = p->tiles_x * p->tiles_y;
    float sum[FV_SELECT_MAX_TILES], frac[FV_SELECT_MAX_TILES];
    uint size[FV_SELECT_MAX_TILES], quota[FV_SELECT_MAX_TILES];
    for (uint t = 0u; t < nt; t++) {
        sum[t] = 0.0f;
        size[t] = 0u;
    }
    for (uint j = 0u; j < p->n; j++) {
        uint t = sel_tile(p, j);
        sum[t] += ts[p->skip + j];
        size[t]++;
    }
    float total = 0.0f;
    for (uint t = 0u; t < nt; t++) total += sum[t];
    uint given = 0u;
    for (uint t = 0u; t < nt; t++) {
        float exact = total > 0.0f ? (float)p->k * sum[t] / total : (float)p->k * (float)size[t] / (float)p->n;
        float fl = floor(exact);
        quota[t] = min((uint)fl, size[t]);
        frac[t] = exact - fl;
        given += quota[t];
    }
    uint left = p->k > given ? p->k - given : 0u;
    while (left > 0u) {
        bool used[FV_SELECT_MAX_TILES];
        for (uint t = 0u; t < nt; t++) used[t] = false;
        for (uint r = 0u; r < nt && left > 0u; r++) {
            uint best = nt;
            for (uint t = 0u; t < nt; t++)
                if (!used[t] && (best == nt || frac[t] > frac[best])) best = t;
            used[best] = true;
            if (quota[best] < size[best]) {
                quota[best]++;
                left--;
            }
        }
    }
    return quota[want];
}

__kernel void select_cl(FV_PARAMS, FV_ARG(const float, scores), FV_ARG(const int, prior),
                        FV_ARG(const float, tile_scores), FV_ARG(int, flags), fv_pc_select p)
{
    __global const float *S = FV_PTR(const float, scores);
    __global const int *P = FV_PTR(const int, prior);
    __global const float *T = FV_PTR(const float, tile_scores);
    __global int *F = FV_PTR(int, flags);
    const uint i = fv_linear_id();
    if (i >= p.n) return;
    if (sel_prior(&p, P, i)) {
        F[i] = 1;
        return;
    }
    const bool tiles = (p.mode & FV_SELECT_TILES) != 0u;
    const uint ti = tiles ? sel_tile(&p, i) : 0u;
    uint q = p.k;
    if (tiles) {
        q = sel_quota(&p, T, ti);
    } else if ((p.mode & FV_SELECT_PRIOR) != 0u) {
        uint c = 0u;
        for (uint j = 0u; j < p.n; j++) c += sel_prior(&p, P, j) ? 1u : 0u;
        q = p.k > c ? p.k - c : 0u;
    }
    const float si = S[p.skip + i];
    uint rank = 0u;
    for (uint j = 0u; j < p.n; j++) {
        if (j == i || sel_prior(&p, P, j) || (tiles && sel_tile(&p, j) != ti)) continue;
        const float sj = S[p.skip + j];
        rank += (sj > si || (sj == si && j < i)) ? 1u : 0u;
    }
    F[i] = rank < q ? 1 : 0;
}

__kernel void compact_cl(FV_PARAMS, FV_ARG(const int, flags), FV_ARG(int, out), fv_pc_compact p)
{
    __global const int *F = FV_PTR(const int, flags);
    __global int *O = FV_PTR(int, out);
    const uint i = fv_linear_id();
    if (i >= p.n) return;
    if (i == 0u && p.lead != 0u) O[0] = 0;
    if (F[i] == 0) return;
    uint slot = 0u;
    for (uint j = 0u; j < i; j++) slot += F[j] != 0 ? 1u : 0u;
    if (slot < p.k) O[p.lead + slot] = (int)(i + p.offset);
}
