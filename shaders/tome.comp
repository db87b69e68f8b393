#version 450
/* ToMe's bipartite soft matching, one step (ops/tome.c has the algorithm
 * and the output order). Tokens: x [B, N, C], keys [B, N, Dk]; A = even
 * tokens (a = t/2, Na of them), B = odd (Nb); M = N - r output rows.
 *
 * MATCH  one invocation per (batch, a): cosine similarity of a's key with
 *        every b's key, norms and dot product in one pass over Dk; keeps
 *        the best (strictly greater wins: ties to the lower b). A protected
 *        a (token 0) gets the lowest float.
 * RANK   one invocation per (batch, a): rank = #{a' : best[a'] > best[a]
 *        or (equal and a' < a)}; a permutation, rank < r = merged.
 * DEST   one invocation per (batch, token): the output row of the token,
 *        unmerged a: the count of unmerged a' < a; merged a: Na - r + its
 *        best b; b: Na - r + b. Also order[rank[a]] = a and unm[row] = a for
 *        unmerged a: each slot has exactly one writer.
 * MERGE  one invocation per (batch, output row, 4 channels): the row's
 *        sources are one unmerged a (row < Na - r) or b itself plus the a's
 *        among order[0 .. r) whose best is b; the loop over them is uniform
 *        across the invocations of a row, only the vec4 sums differ.
 *        y = Σ size·x / Σ size, size_out = Σ size.
 *
 * Bindings: MATCH 1 keys, 2 best, 3 best_b. RANK 1 best, 2 rank.
 * DEST 1 best_b, 2 rank, 3 dest, 4 order, 5 unm. MERGE 1 x, 2 size,
 * 3 best_b, 4 order, 5 unm, 6 y, 7 size out, 8 log(size out). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_tome p; };
const float NONE = -3.402823466e38;

#if defined(MATCH)
layout(std430, binding = 1) readonly buffer Keys { float keys[]; };
layout(std430, binding = 2) writeonly buffer Best { float best[]; };
layout(std430, binding = 3) writeonly buffer BestB { int best_b[]; };

void main()
{
    const uint id = fv_linear_id();
    if (id >= p.batch * p.na) return;
    const uint b = id / p.na, a = id % p.na;
    const uint ka = (b * p.n + 2u * a) * p.dk;
    float na = 0.0;
    for (uint c = 0u; c < p.dk; c++) na += keys[ka + c] * keys[ka + c];
    float bs = NONE;
    int bi = 0;
    if (p.protect == 0u || a != 0u) {
        const float ia = 1.0 / max(sqrt(na), 1e-12);
        for (uint j = 0u; j < p.nb; j++) {
            const uint kj = (b * p.n + 2u * j + 1u) * p.dk;
            float dot = 0.0, nj = 0.0;
            for (uint c = 0u; c < p.dk; c++) {
                dot += keys[ka + c] * keys[kj + c];
                nj += keys[kj + c] * keys[kj + c];
            }
            const float s = dot * ia / max(sqrt(nj), 1e-12);
            if (s > bs) {
                bs = s;
                bi = int(j);
            }
        }
    }
    best[id] = bs;
    best_b[id] = bi;
}

#elif defined(RANK)
layout(std430, binding = 1) readonly buffer Best { float best[]; };
layout(std430, binding = 2) writeonly buffer Rank { int rank[]; };

void main()
{
    const uint id = fv_linear_id();
    if (id >= p.batch * p.na) return;
    const uint b = id / p.na, a = id % p.na, row = b * p.na;
    const float m = best[id];
    int cnt = 0;
    for (uint o = 0u; o < p.na; o++) {
        const float v = best[row + o];
        cnt += (v > m || (v == m && o < a)) ? 1 : 0;
    }
    rank[id] = cnt;
}

#elif defined(DEST)
layout(std430, binding = 1) readonly buffer BestB { int best_b[]; };
layout(std430, binding = 2) readonly buffer Rank { int rank[]; };
layout(std430, binding = 3) writeonly buffer Dest { int dest[]; };
layout(std430, binding = 4) writeonly buffer Order { int order[]; };
layout(std430, binding = 5) writeonly buffer Unm { int unm[]; };

void main()
{
    const uint id = fv_linear_id();
    if (id >= p.batch * p.n) return;
    const uint b = id / p.n, t = id % p.n, row = b * p.na;
    const int kept = int(p.na - p.r);
    if ((t & 1u) != 0u) {
        dest[id] = kept + int(t / 2u);
        return;
    }
    const uint a = t / 2u;
    const int rk = rank[row + a];
    order[row + uint(rk)] = int(a);
    if (rk < int(p.r)) {
        dest[id] = kept + best_b[row + a];
        return;
    }
    int pos = 0;
    for (uint o = 0u; o < a; o++) pos += rank[row + o] >= int(p.r) ? 1 : 0;
    dest[id] = pos;
    unm[row + uint(pos)] = int(a);
}

#elif defined(MERGE)
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Size { float size[]; };
layout(std430, binding = 3) readonly buffer BestB { int best_b[]; };
layout(std430, binding = 4) readonly buffer Order { int order[]; };
layout(std430, binding = 5) readonly buffer Unm { int unm[]; };
layout(std430, binding = 6) writeonly buffer Y { float y[]; };
layout(std430, binding = 7) writeonly buffer SizeOut { float size_out[]; };
layout(std430, binding = 8) writeonly buffer LogSize { float log_size[]; };

float token_size(uint b, uint t) { return p.has_size != 0u ? size[b * p.n + t] : 1.0; }

/* acc += s · x[b, t, c0 .. c0+3] (channels past C are not read) */
void add_token(inout vec4 acc, uint b, uint t, uint c0, float s)
{
    const uint base = (b * p.n + t) * p.c;
    for (uint k = 0u; k < 4u; k++)
        if (c0 + k < p.c) acc[k] += s * x[base + c0 + k];
}

void main()
{
    const uint c4 = (p.c + 3u) / 4u, m = p.n - p.r, kept = p.na - p.r;
    const uint id = fv_linear_id();
    if (id >= p.batch * m * c4) return;
    const uint q = id % c4, rowid = id / c4, b = rowid / m, o = rowid % m, c0 = 4u * q;
    vec4 acc = vec4(0.0);
    float total = 0.0;
    if (o < kept) {
        const uint t = 2u * uint(unm[b * p.na + o]);
        total = token_size(b, t);
        add_token(acc, b, t, c0, total);
    } else {
        const uint j = o - kept, t = 2u * j + 1u;
        total = token_size(b, t);
        add_token(acc, b, t, c0, total);
        for (uint k = 0u; k < p.r; k++) {
            const uint a = uint(order[b * p.na + k]);
            if (uint(best_b[b * p.na + a]) != j) continue;
            const float s = token_size(b, 2u * a);
            total += s;
            add_token(acc, b, 2u * a, c0, s);
        }
    }
    const uint out_base = rowid * p.c;
    for (uint k = 0u; k < 4u; k++)
        if (c0 + k < p.c) y[out_base + c0 + k] = acc[k] / total;
    if (q == 0u) {
        size_out[rowid] = total;
        log_size[rowid] = log(total);
    }
}
#endif
