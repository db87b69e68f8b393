#version 450
/* Token sampling (ops/sample.c; semantics in fovea.h, fv_op_sample). One
 * source, five kernels:
 *
 *   MASK_CLEAR, MASK_SET  repetition penalty only: one bit per vocabulary
 *       entry marks the ids of the live history; cleared, then set with
 *       atomicOr by one invocation per history entry (duplicates are
 *       harmless, so each id is penalised once, as in Hugging Face).
 *   ARGMAX  (greedy) workgroup (c, b) owns chunk c of row b: each invocation
 *       keeps the best of a strided slice, then a tree in shared memory.
 *   TOPK    workgroup (c, b) owns chunk c of row b and writes its best k,
 *       sorted, to partial[b][c][0..k): two passes, see main() below.
 *   FINISH  workgroup b merges the chunks' lists into the row's best k,
 *       sorted; then weights and the draw.
 *
 * A candidate is (key, id), key the penalised logit's bits mapped so that
 * unsigned order is float order (NaN below everything). Candidates are
 * ordered by key descending, then id ascending: a total order, so which k
 * are chosen and in what order (ties: the lowest id first) does not depend
 * on the order in which invocations arrive.
 *
 * The candidate buffer (FV_SAMPLE_BUFFER entries in shared memory): an
 * element is offered if it beats the threshold, and appended with a shared
 * atomic; a cut sorts the buffer (bitonic, over the next power of two),
 * keeps the best k and makes the k-th the threshold. TOPK and FINISH both
 * start from a sound threshold (one that at least k candidates of their
 * input reach), so that a single pass without barriers usually appends few
 * elements; only if the buffer overflows is the pass redone in steps of
 * per_step offers per invocation, checking the fill level after each and
 * cutting above `limit` (which leaves room for one more step). Barriers are
 * few on the usual path: on CPU drivers each is a context switch.
 *
 * FINISH's arithmetic is exactly that of the CPU reference and the OpenCL
 * kernel: only correctly rounded operations, in a fixed order, marked
 * `precise` so that no compiler fuses or regroups them (sample_exp is a
 * polynomial, not the driver's exp). The weights are w_0 = 1 and
 * w_r = exp(l_r·(1/T) − l_0·(1/T)); invocation 0 sums them in order, cuts
 * the top-p prefix and draws u from Philox-4x32-10 (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011) with key = seed and
 * counter = (step, b, 0, 0). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_sample p; };

const uint NO_ID = 0xffffffffu; /* with key 0: worse than every candidate */

uint sample_key(float v)
{
    uint b = floatBitsToUint(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0u; /* NaN */
    return (b & 0x80000000u) != 0u ? ~b : b | 0x80000000u;
}

float key_value(uint k)
{
    return uintBitsToFloat((k & 0x80000000u) != 0u ? k & 0x7fffffffu : ~k);
}

bool better(uint ka, uint ia, uint kb, uint ib)
{
    return ka > kb || (ka == kb && ia < ib);
}

#if defined(MASK_CLEAR)

layout(std430, binding = 1) writeonly buffer M { uint mask[]; };

void main()
{
    uint i = fv_linear_id();
    if (i < p.batch * p.mask_words) mask[i] = 0u;
}

#elif defined(MASK_SET)

layout(std430, binding = 1) readonly buffer H { int hist[]; };
layout(std430, binding = 2) buffer M { uint mask[]; };

void main()
{
    uint i = fv_linear_id();
    if (i >= p.batch * p.hist_len) return;
    uint b = i / p.hist_len, j = i - b * p.hist_len;
    int live = p.hist_slot > 0 ? clamp(fv_param[p.hist_slot - 1], 0, int(p.hist_len)) : int(p.hist_len);
    int id = hist[i];
    if (int(j) >= live || id < 0 || uint(id) >= p.vocab) return;
    atomicOr(mask[b * p.mask_words + (uint(id) >> 5)], 1u << (uint(id) & 31u));
}

#else /* ARGMAX, TOPK, FINISH */

#if defined(FINISH)
layout(std430, binding = 1) readonly buffer Part { uvec2 partial[]; };
layout(std430, binding = 2) writeonly buffer T { int token[]; };
#else
layout(std430, binding = 1) readonly buffer L { float logits[]; };
layout(std430, binding = 2) readonly buffer M { uint mask[]; };
layout(std430, binding = 3) writeonly buffer Part { uvec2 partial[]; };

float logit_at(uint b, uint i)
{
    float v = logits[b * p.vocab + i];
    if (p.penalize != 0u && ((mask[b * p.mask_words + (i >> 5)] >> (i & 31u)) & 1u) != 0u)
        v = v < 0.0 ? v * p.penalty : v * p.inv_penalty;
    return v;
}
#endif

#if defined(ARGMAX)

shared uint s_key[FV_LOCAL_X];
shared uint s_id[FV_LOCAL_X];

void main()
{
    const uint c = gl_WorkGroupID.x, b = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    const uint begin = c * p.chunk, end = min(begin + p.chunk, p.vocab);
    uint bk = 0u, bi = NO_ID;
    for (uint i = begin + lid; i < end; i += FV_LOCAL_X) {
        uint k = sample_key(logit_at(b, i));
        if (k > bk || bi == NO_ID) { /* ids rise: a tie keeps the earlier */
            bk = k;
            bi = i;
        }
    }
    s_key[lid] = bk;
    s_id[lid] = bi;
    barrier();
    for (uint s = FV_LOCAL_X / 2u; s > 0u; s >>= 1) {
        if (lid < s && better(s_key[lid + s], s_id[lid + s], s_key[lid], s_id[lid])) {
            s_key[lid] = s_key[lid + s];
            s_id[lid] = s_id[lid + s];
        }
        barrier();
    }
    if (lid == 0u) partial[b * p.chunks + c] = uvec2(s_key[0], s_id[0]);
}

#else /* TOPK, FINISH: the candidate buffer */

shared uint s_key[FV_SAMPLE_BUFFER];
shared uint s_id[FV_SAMPLE_BUFFER];
shared uint s_count;
shared uint s_tkey, s_tid; /* threshold: the k-th best kept, or (0, NO_ID) */
uint g_tkey, g_tid;        /* each invocation's copy of it, refreshed after a cut */

void buffer_begin()
{
    if (gl_LocalInvocationID.x == 0u) {
        s_count = 0u;
        s_tkey = 0u;
        s_tid = NO_ID;
    }
    g_tkey = 0u;
    g_tid = NO_ID;
    barrier();
}

/* Appends (key, id) if it beats the threshold. Past the end of the buffer
 * only the count grows: see buffer_overflowed. */
void offer(uint key, uint id)
{
    if (better(key, id, g_tkey, g_tid)) {
        uint at = atomicAdd(s_count, 1u);
        if (at < FV_SAMPLE_BUFFER) {
            s_key[at] = key;
            s_id[at] = id;
        }
    }
}

/* Sorts the c entries in front by the candidate order (bitonic over the
 * next power of two, padded with (0, NO_ID)), keeps the best k and takes
 * the k-th as the threshold once there are k. */
void cut(uint c)
{
    const uint lid = gl_LocalInvocationID.x;
    uint n = 1u;
    while (n < c) n <<= 1;
    for (uint t = c + lid; t < n; t += FV_LOCAL_X) {
        s_key[t] = 0u;
        s_id[t] = NO_ID;
    }
    barrier();
    for (uint size = 2u; size <= n; size <<= 1)
        for (uint j = size >> 1; j > 0u; j >>= 1) {
            for (uint t = lid; t < n / 2u; t += FV_LOCAL_X) {
                uint i = 2u * t - (t & (j - 1u)), q = i + j;
                bool down = (i & size) == 0u; /* this block ends best first */
                if (down == better(s_key[q], s_id[q], s_key[i], s_id[i])) {
                    uint k = s_key[i], d = s_id[i];
                    s_key[i] = s_key[q];
                    s_id[i] = s_id[q];
                    s_key[q] = k;
                    s_id[q] = d;
                }
            }
            barrier();
        }
    if (lid == 0u) {
        s_count = min(c, p.k);
        if (c >= p.k) {
            s_tkey = s_key[p.k - 1u];
            s_tid = s_id[p.k - 1u];
        }
    }
    barrier();
    g_tkey = s_tkey;
    g_tid = s_tid;
}

/* After each step: all offers are in; cut when the next step might overflow. */
void step_end()
{
    barrier();
    uint c = s_count;
    barrier();
    if (c > p.limit) cut(c);
}

/* Whether offers were lost since the buffer was last emptied or cut (then
 * it is emptied again, keeping the threshold). */
bool buffer_overflowed()
{
    barrier();
    bool lost = s_count > FV_SAMPLE_BUFFER;
    barrier();
    if (lost && gl_LocalInvocationID.x == 0u) s_count = 0u;
    barrier();
    return lost;
}

/* Empties the buffer and sets the threshold just below the candidate
 * (key, id) (id + 1: the candidate itself still passes), or to none. */
void buffer_restart(uint key, uint id)
{
    barrier();
    if (gl_LocalInvocationID.x == 0u) {
        s_count = 0u;
        s_tkey = id == NO_ID ? 0u : key;
        s_tid = id == NO_ID ? NO_ID : id + 1u;
    }
    barrier();
    g_tkey = s_tkey;
    g_tid = s_tid;
}

/* A cut of everything offered so far: returns how many sorted candidates
 * lead the buffer. */
uint buffer_sort()
{
    barrier();
    uint c = s_count;
    barrier();
    cut(c);
    return min(c, p.k);
}

#if defined(TOPK)

/* Two passes over the chunk. Each invocation's slice (every FV_LOCAL_X-th
 * logit) is cut into p.blocks runs, about 4k runs in all (at most the
 * buffer's size). Pass 1 offers each run's best; the k-th best of these,
 * tau, is a sound threshold (k runs hold an element at least that good),
 * and with 4k runs only a small fraction of the elements reach it. The
 * buffer is emptied and pass 2 offers every element not worse than tau,
 * with no barrier in the loop. Only if more than the buffer holds pass
 * (ties with tau in the thousands, e.g. masked logits) is pass 2 redone in
 * steps with cuts in between. So a chunk costs two reads, two small sorts
 * and a handful of barriers. */
void main()
{
    const uint c = gl_WorkGroupID.x, b = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    const uint begin = c * p.chunk, end = min(begin + p.chunk, p.vocab);
    const uint run = (p.chunk + p.blocks * FV_LOCAL_X - 1u) / (p.blocks * FV_LOCAL_X); /* elements per run */
    buffer_begin();
    for (uint q = 0u; q < p.blocks; q++) {
        uint bk = 0u, bi = NO_ID;
        uint i0 = begin + lid + q * run * FV_LOCAL_X, i1 = min(end, i0 + run * FV_LOCAL_X);
        for (uint i = i0; i < i1; i += FV_LOCAL_X) {
            uint k = sample_key(logit_at(b, i));
            if (k > bk || bi == NO_ID) { /* ids rise: a tie keeps the earlier */
                bk = k;
                bi = i;
            }
        }
        if (bi != NO_ID) offer(bk, bi);
    }
    buffer_sort();
    buffer_restart(s_tkey, s_tid);
    for (uint i = begin + lid; i < end; i += FV_LOCAL_X) offer(sample_key(logit_at(b, i)), i);
    if (buffer_overflowed()) {
        for (uint base = begin; base < end; base += p.per_step * FV_LOCAL_X) {
            for (uint e = 0u; e < p.per_step; e++) {
                uint i = base + e * FV_LOCAL_X + lid;
                if (i < end) offer(sample_key(logit_at(b, i)), i);
            }
            step_end();
        }
    }
    uint n = buffer_sort();
    for (uint r = lid; r < p.k; r += FV_LOCAL_X)
        partial[(b * p.chunks + c) * p.k + r] = r < n ? uvec2(s_key[r], s_id[r]) : uvec2(0u, NO_ID);
}

#else /* FINISH */

shared float s_w[FV_SAMPLE_BUFFER / 4u]; /* weights of the <= 256 candidates */

/* e^d for d <= 0 with +, −, ×, floor only (identical bits on every backend):
 * 0 below -80 (and for NaN); else 2^k·P(r), k = round(d·log2 e),
 * r = d − k·ln2 in [-0.35, 0.35] with ln2 in two parts (k·LN2_HI is exact),
 * P the degree-7 Taylor polynomial (truncation < 6e-9). */
float sample_exp(float d)
{
    if (!(d > -80.0)) return 0.0;
    precise float k = floor(d * 1.44269502 + 0.5);
    precise float r = d - k * 0.693145752;
    r = r - k * 1.42860677e-06;
    precise float q = 0.000198412701;
    q = q * r + 0.00138888892;
    q = q * r + 0.00833333377;
    q = q * r + 0.0416666679;
    q = q * r + 0.166666672;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    return q * uintBitsToFloat(uint(int(k) + 127) << 23);
}

uvec4 philox(uvec4 ctr, uvec2 key)
{
    for (int round = 0; round < 10; round++) {
        if (round > 0) key += uvec2(0x9E3779B9u, 0xBB67AE85u);
        uint hi0, lo0, hi1, lo1;
        umulExtended(0xD2511F53u, ctr.x, hi0, lo0);
        umulExtended(0xCD9E8D57u, ctr.z, hi1, lo1);
        ctr = uvec4(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

/* Invocation 0: the index among the n sorted candidates that row b draws. */
uint draw(uint b, uint n)
{
    uint step = p.step_slot > 0 ? uint(fv_param[p.step_slot - 1]) : 0u;
    uvec4 r = philox(uvec4(step, b, 0u, 0u), uvec2(p.seed_lo, p.seed_hi));
    precise float u = float(r.x >> 8) * 5.96046448e-08;
    uint m = n;
    if (p.top_p > 0.0) { /* keep candidate i while the mass before it is below top_p of the total */
        precise float total = 0.0;
        for (uint i = 0u; i < n; i++) total = total + s_w[i];
        precise float limit = p.top_p * total;
        precise float before = 0.0;
        for (uint i = 1u; i < n; i++) {
            before = before + s_w[i - 1u];
            if (before >= limit) {
                m = i;
                break;
            }
        }
    }
    precise float kept = 0.0;
    for (uint i = 0u; i < m; i++) kept = kept + s_w[i];
    precise float target = u * kept;
    precise float acc = 0.0;
    for (uint i = 0u; i < m; i++) {
        acc = acc + s_w[i];
        if (target < acc) return i;
    }
    return m - 1u;
}

void main()
{
    const uint b = gl_WorkGroupID.y, lid = gl_LocalInvocationID.x;
    const uint entries = p.chunks * p.k;
    buffer_begin();
    /* a sound threshold: the best of the chunks' k-th entries (that chunk
     * alone has k candidates at least as good); then, as in TOPK, one
     * pass without barriers and steps only if the buffer overflowed */
    uint tk = 0u, ti = NO_ID;
    for (uint c = 0u; c < p.chunks; c++) {
        uvec2 e = partial[(b * p.chunks + c) * p.k + p.k - 1u];
        if (better(e.x, e.y, tk, ti)) {
            tk = e.x;
            ti = e.y;
        }
    }
    buffer_restart(tk, ti);
    for (uint j = lid; j < entries; j += FV_LOCAL_X) {
        uvec2 e = partial[b * entries + j];
        offer(e.x, e.y);
    }
    if (buffer_overflowed()) {
        for (uint base = 0u; base < entries; base += p.per_step * FV_LOCAL_X) {
            for (uint e = 0u; e < p.per_step; e++) {
                uint j = base + e * FV_LOCAL_X + lid;
                if (j < entries) {
                    uvec2 c = partial[b * entries + j];
                    offer(c.x, c.y);
                }
            }
            step_end();
        }
    }
    uint n = buffer_sort();
    if (p.greedy != 0u) {
        if (lid == 0u) token[b] = int(s_id[0]);
        return;
    }
    precise float s0 = key_value(s_key[0]) * p.inv_temp;
    for (uint r = lid; r < n; r += FV_LOCAL_X) {
        precise float sr = key_value(s_key[r]) * p.inv_temp;
        precise float d = sr - s0;
        s_w[r] = r == 0u ? 1.0 : sample_exp(d);
    }
    barrier();
    if (lid == 0u) token[b] = int(s_id[draw(b, n)]);
}

#endif
#endif
#endif
