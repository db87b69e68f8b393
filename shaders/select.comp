#version 450
/* Token selection (ops/topk.c): one invocation per candidate token i owns
 * its keep flag. It ranks itself against every other candidate (a higher
 * score, or an equal one at a lower index, ranks ahead) and is kept when
 * fewer than its quota rank ahead: k; k minus the prior mask's size with
 * PRIOR (prior tokens, grown by their 4 grid neighbours with DILATE, are
 * kept and not ranked); its tile's share of k with TILES (HiRED's budget
 * split, repeated by every invocation: O(n) each, cheaper than a second
 * dispatch). O(n) reads per invocation, no shared memory, no barrier.
 *
 * Bindings: 1 scores (f32, read at skip + i), 2 prior (i32 [n]),
 * 3 tile scores (f32, as the scores), 4 flags (i32 [n]). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_select p; };
layout(std430, binding = 1) readonly buffer S { float score[]; };
layout(std430, binding = 2) readonly buffer P { int prior[]; };
layout(std430, binding = 3) readonly buffer T { float tile_score[]; };
layout(std430, binding = 4) writeonly buffer F { int flag[]; };

uint tile_of(uint j)
{
    uint ty = (j / p.grid_w) * p.tiles_y / p.grid_h, tx = (j % p.grid_w) * p.tiles_x / p.grid_w;
    return ty * p.tiles_x + tx;
}

bool in_prior(uint j)
{
    if ((p.mode & FV_SELECT_PRIOR) == 0u) return false;
    if (prior[j] != 0) return true;
    if ((p.mode & FV_SELECT_DILATE) == 0u) return false;
    uint r = j / p.grid_w, c = j % p.grid_w;
    return (r > 0u && prior[j - p.grid_w] != 0) || (r + 1u < p.grid_h && prior[j + p.grid_w] != 0) ||
           (c > 0u && prior[j - 1u] != 0) || (c + 1u < p.grid_w && prior[j + 1u] != 0);
}

/* the quota of tile `want`: floor(k * share), then the rest one at a time
 * by largest fractional part (ties to the lower tile), skipping full tiles */
uint tile_quota(uint want)
{
    const uint nt = p.tiles_x * p.tiles_y;
    float sum[FV_SELECT_MAX_TILES], frac[FV_SELECT_MAX_TILES];
    uint size[FV_SELECT_MAX_TILES], quota[FV_SELECT_MAX_TILES];
    for (uint t = 0u; t < nt; t++) {
        sum[t] = 0.0;
        size[t] = 0u;
    }
    for (uint j = 0u; j < p.n; j++) {
        uint t = tile_of(j);
        sum[t] += tile_score[p.skip + j];
        size[t]++;
    }
    float total = 0.0;
    for (uint t = 0u; t < nt; t++) total += sum[t];
    uint given = 0u;
    for (uint t = 0u; t < nt; t++) {
        float exact = total > 0.0 ? float(p.k) * sum[t] / total : float(p.k) * float(size[t]) / float(p.n);
        float fl = floor(exact);
        quota[t] = min(uint(fl), size[t]);
        frac[t] = exact - fl;
        given += quota[t];
    }
    uint left = p.k > given ? p.k - given : 0u;
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

void main()
{
    const uint i = fv_linear_id();
    if (i >= p.n) return;
    if (in_prior(i)) {
        flag[i] = 1;
        return;
    }
    const bool tiles = (p.mode & FV_SELECT_TILES) != 0u;
    const uint ti = tiles ? tile_of(i) : 0u;
    uint q = p.k;
    if (tiles) {
        q = tile_quota(ti);
    } else if ((p.mode & FV_SELECT_PRIOR) != 0u) {
        uint c = 0u;
        for (uint j = 0u; j < p.n; j++) c += in_prior(j) ? 1u : 0u;
        q = p.k > c ? p.k - c : 0u;
    }
    const float si = score[p.skip + i];
    uint rank = 0u;
    for (uint j = 0u; j < p.n; j++) {
        if (j == i || in_prior(j) || (tiles && tile_of(j) != ti)) continue;
        const float sj = score[p.skip + j];
        rank += (sj > si || (sj == si && j < i)) ? 1u : 0u;
    }
    flag[i] = rank < q ? 1 : 0;
}
