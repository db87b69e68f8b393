/* decoder ops: rope, cache_write, sample.
 *
 * rope — rotate-half and interleaved, partial rotary, theta 1e4 and 1e6,
 * positions from a constant, a parameter slot (one graph replayed at several
 * bases) and i32 tensors [N] / [B, N], a caller's inv_freq table, positions
 * up to 200k. Two references, both here:
 *   exact: inv_freq, angle, sin/cos and rotation in double. The f32 angle
 *     (inv_freq rounded three times, then the f32 product, as in Hugging
 *     Face) is off by up to ~2e-7·p rad, so the tolerance is 4e-7·p_max + 2e-6
 *     (the error measure is relative to max(|ref|, 1) and |x| <= 1);
 *   hf: inv_freq and the angle rounded to f32 exactly as Hugging Face rounds
 *     them, then double sin/cos: this isolates the kernels' own sin/cos, held
 *     to 1e-6 at every position (the range reduction is what is tested).
 * cache_write — one graph replayed at positions inside, straddling both ends
 * of and outside the cache (rows out of range are skipped and nothing else
 * changes), rows of 1 and 4 floats, a constant position, the cache bound in
 * several ranges (a shrunken storage-binding limit), and a decode loop:
 * rope on q and k, k and v written into caches, attention over the live
 * length, one recorded graph replayed for 12 steps against a double
 * reference (1e-5). Cache contents are compared exactly.
 * sample — ids compared exactly:
 *   greedy over V = 1, 17, 1000 and 151936 (Qwen2's vocabulary), with planted
 *   ties (lowest id wins), -inf and NaN logits; greedy with a repetition
 *   penalty over a history with duplicates, ids out of range and a live
 *   length from a slot, and a loop whose graph appends each drawn id to
 *   that history itself (cache_write of i32); logits that are mostly equal
 *   or mostly -inf (thousands of ties with the kernels' threshold: their
 *   slow path);
 *   temperature / top-k / top-p / penalty against a reference written here
 *   (its own Philox, checked against the Random123 known answers; weights and
 *   sums in double). A draw whose u lands within 1e-5 (relative) of a
 *   cumulative boundary, or a row whose top-p cut is that close, could go
 *   either way between float and double and is not compared (counted and
 *   printed: none occur with these seeds). On GPU backends the same graphs
 *   also run on the CPU backend and every id must agree exactly, ambiguous
 *   draws included: the finish uses identical float arithmetic everywhere.
 *   Since a last-bit difference would only show near a boundary, 48 steps
 *   whose u·total lies within 2e-7 of a boundary (found with the reference's
 *   RNG) are replayed too: a target one ulp off flipped 10 of them when
 *   tried. On GPU backends the selection runs with both kernel plans
 *   (CPU-type: 64 invocations, chunks of 32768; GPU: 256 invocations,
 *   chunks of 4096);
 *   statistics: 10240 draws (256 rows × 40 steps) of a 50-token softmax
 *   at temperature 0.8, and of a top-k 10 / top-p 0.8 cut of it: every
 *   count within 5 standard deviations (+1) of its expectation, tokens
 *   outside the cut never drawn. */
#include "op_cases.h"
#include "th_util.h"

static fv_tensor *i32_tensor(th_runner *r, const th_backend *b, int ndim, const int64_t *shape, const int32_t *data)
{
    fv_tensor *t = NULL;
    if (!th_ok(r, b, "tensor create", fv_tensor_create(b->ctx, FV_DTYPE_I32, ndim, shape, &t))) return NULL;
    if (!th_ok(r, b, "tensor upload", fv_tensor_upload(t, data, fv_tensor_nbytes(t)))) {
        fv_tensor_destroy(t);
        return NULL;
    }
    return t;
}

/* the sampler's forced plan on GPU backends ("cpu", "gpu"), for labels */
static const char *g_variant = "";

static const th_backend *cpu_backend(const th_runner *r)
{
    for (int i = 0; i < r->nbackends; i++)
        if (fv_context_backend(r->backends[i].ctx) == FV_BACKEND_CPU) return &r->backends[i];
    return NULL;
}

/* ======================================================================
 * rope
 * ==================================================================== */

typedef struct rope_case {
    int64_t B, N, H, D, rot;
    float theta;
    fv_rope_layout layout;
    int positions;   /* 0: none, 1: [N], 2: [B, N] */
    bool scaled;     /* a caller's inv_freq table (Hugging Face inv_freq / 8) */
    int bases[3];    /* replays with these base positions (slot 3) */
    int nbases;
    int32_t pos_max; /* largest explicit position */
} rope_case;

/* y for one token row of x (H·D floats) at position pos; inv[i] per pair */
static void ref_rope_row(const rope_case *c, const float *x, const double *inv, bool f32_angle, int64_t pos,
                         double *y)
{
    const int64_t half = c->rot / 2;
    for (int64_t h = 0; h < c->H; h++) {
        const float *xr = x + h * c->D;
        double *yr = y + h * c->D;
        for (int64_t e = 0; e < c->D; e++) yr[e] = xr[e];
        for (int64_t i = 0; i < half; i++) {
            const double a = f32_angle ? (double)((float)pos * (float)inv[i]) : (double)pos * inv[i];
            const int64_t ia = c->layout == FV_ROPE_INTERLEAVED ? 2 * i : i;
            const int64_t ib = c->layout == FV_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
            yr[ia] = xr[ia] * cos(a) - xr[ib] * sin(a);
            yr[ib] = xr[ib] * cos(a) + xr[ia] * sin(a);
        }
    }
}

static void test_rope(th_runner *r, const th_backend *b)
{
    static const rope_case cases[] = {
        {1, 1, 1, 8, 8, 10000.0f, FV_ROPE_HALF, 0, false, {0}, 1, 0},
        {2, 17, 3, 64, 64, 10000.0f, FV_ROPE_HALF, 0, false, {0, 1000, 32000}, 3, 0},
        {1, 5, 14, 64, 64, 1000000.0f, FV_ROPE_INTERLEAVED, 0, false, {32760, 7}, 2, 0},
        {2, 3, 2, 80, 40, 10000.0f, FV_ROPE_HALF, 0, false, {11}, 1, 0},
        {1, 4, 3, 40, 24, 500000.0f, FV_ROPE_INTERLEAVED, 0, false, {255}, 1, 0},
        {1, 33, 2, 32, 32, 10000.0f, FV_ROPE_HALF, 1, false, {0}, 1, 32767},
        {2, 9, 2, 16, 12, 10000.0f, FV_ROPE_INTERLEAVED, 2, false, {7, 100}, 2, 4000},
        {1, 6, 4, 128, 128, 500000.0f, FV_ROPE_HALF, 0, true, {131000}, 1, 0},
        {1, 3, 2, 16, 16, 10000.0f, FV_ROPE_INTERLEAVED, 0, false, {200000}, 1, 0}, /* angles near 2^17·π/2 */
    };
    th_rng rng = th_seed(901);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const rope_case *c = &cases[ci];
        const int64_t shape[4] = {c->B, c->N, c->H, c->D}, half = c->rot / 2, row = c->H * c->D;
        const size_t n = (size_t)(c->B * c->N * row);
        float *x = th_random(&rng, n, -1, 1);
        /* the two frequency tables: exact, and Hugging Face's f32 rounding */
        double inv_exact[64], inv_hf[64];
        float inv_user[64];
        for (int64_t i = 0; i < half; i++) {
            inv_exact[i] = pow((double)c->theta, -(double)(2 * i) / (double)c->rot);
            inv_hf[i] = 1.0f / powf(c->theta, (float)(2 * i) / (float)c->rot);
            if (c->scaled) {
                inv_user[i] = (float)inv_hf[i] / 8.0f;
                inv_exact[i] /= 8.0;
                inv_hf[i] = inv_user[i];
            }
        }
        int32_t positions[64 * 2];
        const int64_t npos = c->positions == 2 ? c->B * c->N : c->N;
        for (int64_t i = 0; i < npos; i++) positions[i] = (int32_t)(th_u32(&rng) % (uint32_t)(c->pos_max + 1));
        if (c->positions) positions[npos - 1] = c->pos_max;
        char name[128];
        snprintf(name, sizeof name, "rope [%lld,%lld,%lld,%lld] rot %lld %s%s%s", (long long)c->B, (long long)c->N,
                 (long long)c->H, (long long)c->D, (long long)c->rot,
                 c->layout == FV_ROPE_HALF ? "half" : "interleaved",
                 c->positions == 1 ? " pos[N]" : c->positions == 2 ? " pos[B,N]" : "", c->scaled ? " inv_freq" : "");
        fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 4, shape, x), *tpos = NULL, *tinv = NULL;
        if (c->positions) {
            const int64_t ps[2] = {c->B, c->N};
            tpos = c->positions == 2 ? i32_tensor(r, b, 2, ps, positions) : i32_tensor(r, b, 1, ps + 1, positions);
        }
        if (c->scaled) tinv = th_tensor(r, b, FV_DTYPE_F32, 1, &half, inv_user);
        fv_graph *g = NULL;
        fv_tensor *y = NULL;
        fv_rope_desc d = {.theta = c->theta,
                          .rotary_dim = (int)(c->rot == c->D ? 0 : c->rot),
                          .layout = c->layout,
                          .pos_param = 4,
                          .positions = tpos,
                          .inv_freq = tinv};
        double *ref = malloc(n * sizeof *ref), *ref_hf = malloc(n * sizeof *ref_hf);
        float *got = malloc(n * sizeof *got);
        if (tx && (!c->positions || tpos) && (!c->scaled || tinv) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
            th_ok(r, b, name, fv_op_rope(g, tx, &d, &y)) && th_ok(r, b, name, fv_graph_output(g, y))) {
            for (int k = 0; k < c->nbases; k++) {
                const int base = c->bases[k];
                int64_t pmax = 0;
                for (int64_t bb = 0; bb < c->B; bb++)
                    for (int64_t t = 0; t < c->N; t++) {
                        int64_t pos = base + (c->positions == 1   ? positions[t]
                                              : c->positions == 2 ? positions[bb * c->N + t]
                                                                  : t);
                        pmax = pos > pmax ? pos : pmax;
                        const size_t o = (size_t)((bb * c->N + t) * row);
                        ref_rope_row(c, x + o, inv_exact, false, pos, ref + o);
                        ref_rope_row(c, x + o, inv_hf, true, pos, ref_hf + o);
                    }
                char label[200];
                fv_graph_set_param(g, 3, base);
                if (!th_replay(r, b, name, g)) break;
                if (!th_ok(r, b, name, fv_tensor_download(y, got, n * sizeof *got))) break;
                snprintf(label, sizeof label, "%s p<=%lld exact", name, (long long)pmax);
                th_check(r, b, label, got, ref, n, 4e-7 * (double)pmax + 2e-6);
                snprintf(label, sizeof label, "%s p<=%lld hf", name, (long long)pmax);
                th_check(r, b, label, got, ref_hf, n, 1e-6);
            }
        }
        fv_graph_destroy(g);
        fv_tensor_destroy(tx);
        fv_tensor_destroy(tpos);
        fv_tensor_destroy(tinv);
        free(x);
        free(ref);
        free(ref_hf);
        free(got);
    }
}

/* ======================================================================
 * cache_write
 * ==================================================================== */

/* expected[b, pos + t] = x[b, t] where 0 <= pos + t < cap */
static void ref_cache_write(double *cache, const float *x, int64_t B, int64_t N, int64_t cap, int64_t row, int64_t pos)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < N; t++)
            if (pos + t >= 0 && pos + t < cap)
                for (int64_t e = 0; e < row; e++) cache[(b * cap + pos + t) * row + e] = x[(b * N + t) * row + e];
}

static void test_cache_positions(th_runner *r, const th_backend *b, const int64_t *cs, int64_t N, bool constant,
                                 uint64_t storage_limit)
{
    th_rng rng = th_seed(77 + (uint64_t)cs[3]);
    const int64_t B = cs[0], cap = cs[1], row = cs[2] * cs[3], xs[4] = {B, N, cs[2], cs[3]};
    const size_t ncache = (size_t)(B * cap * row), nx = (size_t)(B * N * row);
    float *init = th_random(&rng, ncache, -1, 1), *got = malloc(ncache * sizeof *got);
    double *want = malloc(ncache * sizeof *want);
    for (size_t i = 0; i < ncache; i++) want[i] = init[i];
    char name[128];
    snprintf(name, sizeof name, "cache_write [%lld,%lld,%lld,%lld] N=%lld%s%s", (long long)cs[0], (long long)cs[1],
             (long long)cs[2], (long long)cs[3], (long long)N, constant ? " const pos" : "",
             storage_limit ? " ranges" : "");
    fv_tensor *cache = th_tensor(r, b, FV_DTYPE_F32, 4, cs, init), *x = th_tensor(r, b, FV_DTYPE_F32, 4, xs, init);
    uint64_t old_limit = storage_limit ? th_set_storage_limit(b, storage_limit) : 0;
    fv_graph *g = NULL;
    fv_tensor *view = NULL;
    /* inside, straddling the end, straddling the start, fully outside, the last row */
    const int positions[] = {0, (int)N, (int)(cap - N / 2), -(int)(N / 2) - 1, (int)cap + 3, -1000, (int)cap - 1};
    const int nruns = constant ? 1 : (int)(sizeof positions / sizeof positions[0]);
    const int const_pos = (int)(cap - N + 1); /* the last row falls outside */
    if (cache && x && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_cache_write(g, cache, x, const_pos, constant ? 0 : 2, &view)) &&
        th_ok(r, b, name, fv_graph_output(g, view))) {
        for (int k = 0; k < nruns; k++) {
            const int pos = constant ? const_pos : positions[k];
            float *xv = th_random(&rng, nx, -1, 1);
            fv_graph_set_param(g, 1, pos);
            bool ok = th_ok(r, b, name, fv_tensor_upload(x, xv, nx * sizeof *xv)) && th_replay(r, b, name, g) &&
                      th_ok(r, b, name, fv_tensor_download(view, got, ncache * sizeof *got));
            ref_cache_write(want, xv, B, N, cap, row, pos);
            free(xv);
            if (!ok) break;
            char label[160];
            snprintf(label, sizeof label, "%s pos %d", name, pos);
            th_check(r, b, label, got, want, ncache, 0);
        }
    }
    if (storage_limit) th_set_storage_limit(b, old_limit);
    fv_graph_destroy(g);
    fv_tensor_destroy(cache);
    fv_tensor_destroy(x);
    free(init);
    free(got);
    free(want);
}

/* One decode step per replay: q and the new k rotated at position t (slot
 * 0), k and v written at t, attention over the t + 1 live keys (slot 1). */
static void test_decode_loop(th_runner *r, const th_backend *b)
{
    enum { CAP = 16, HQ = 4, HKV = 2, D = 16, STEPS = 12 };
    const char *name = "cache_write+rope+attention decode loop";
    th_rng rng = th_seed(4242);
    const int64_t cs[4] = {1, CAP, HKV, D}, qs[4] = {1, 1, HQ, D}, ks[4] = {1, 1, HKV, D};
    float *garbage = th_random(&rng, CAP * HKV * D, 50, 60); /* never attended: beyond the live length */
    fv_tensor *kc = th_tensor(r, b, FV_DTYPE_F32, 4, cs, garbage), *vc = th_tensor(r, b, FV_DTYPE_F32, 4, cs, garbage);
    fv_tensor *q = th_tensor(r, b, FV_DTYPE_F32, 4, qs, garbage), *k = th_tensor(r, b, FV_DTYPE_F32, 4, ks, garbage);
    fv_tensor *v = th_tensor(r, b, FV_DTYPE_F32, 4, ks, garbage);
    fv_graph *g = NULL;
    fv_tensor *qr = NULL, *kr = NULL, *kview = NULL, *vview = NULL;
    fv_attention_result res = {0};
    const fv_rope_desc rd = {.pos_param = 1};
    const fv_attention_desc ad = {.causal = true, .kv_len_param = 2, .q_pos_param = 1};
    bool built = kc && vc && q && k && v && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
                 th_ok(r, b, name, fv_op_rope(g, q, &rd, &qr)) && th_ok(r, b, name, fv_op_rope(g, k, &rd, &kr)) &&
                 th_ok(r, b, name, fv_op_cache_write(g, kc, kr, 0, 1, &kview)) &&
                 th_ok(r, b, name, fv_op_cache_write(g, vc, v, 0, 1, &vview)) &&
                 th_ok(r, b, name, fv_op_attention(g, qr, kview, vview, &ad, &res)) &&
                 th_ok(r, b, name, fv_graph_output(g, res.out));
    double kref[CAP][HKV][D], vref[CAP][HKV][D], out[HQ * D];
    double worst = 0;
    bool ok = built;
    for (int t = 0; ok && t < STEPS; t++) {
        float *qv = th_random(&rng, HQ * D, -1, 1), *kv = th_random(&rng, HKV * D, -1, 1),
              *vv = th_random(&rng, HKV * D, -1, 1), got[HQ * D];
        ok = th_ok(r, b, name, fv_tensor_upload(q, qv, sizeof(float) * HQ * D)) &&
             th_ok(r, b, name, fv_tensor_upload(k, kv, sizeof(float) * HKV * D)) &&
             th_ok(r, b, name, fv_tensor_upload(v, vv, sizeof(float) * HKV * D));
        fv_graph_set_param(g, 0, t);
        fv_graph_set_param(g, 1, t + 1);
        ok = ok && th_replay(r, b, name, g) && th_ok(r, b, name, fv_tensor_download(res.out, got, sizeof got));
        /* reference: rotate-half RoPE in double at position t, then attention */
        double qrot[HQ][D];
        for (int h = 0; h < HQ + HKV; h++) {
            const float *src = h < HQ ? qv + h * D : kv + (h - HQ) * D;
            double *dst = h < HQ ? qrot[h] : kref[t][h - HQ];
            for (int i = 0; i < D / 2; i++) {
                const double a = t * pow(10000.0, -2.0 * i / D);
                dst[i] = src[i] * cos(a) - src[i + D / 2] * sin(a);
                dst[i + D / 2] = src[i + D / 2] * cos(a) + src[i] * sin(a);
            }
        }
        for (int h = 0; h < HKV; h++)
            for (int e = 0; e < D; e++) vref[t][h][e] = vv[h * D + e];
        for (int h = 0; h < HQ; h++) {
            const int hk = h / (HQ / HKV);
            double s[CAP], mx = -INFINITY, sum = 0;
            for (int j = 0; j <= t; j++) {
                s[j] = 0;
                for (int e = 0; e < D; e++) s[j] += qrot[h][e] * kref[j][hk][e];
                s[j] /= sqrt((double)D);
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j <= t; j++) sum += s[j] = exp(s[j] - mx);
            for (int e = 0; e < D; e++) {
                out[h * D + e] = 0;
                for (int j = 0; j <= t; j++) out[h * D + e] += s[j] / sum * vref[j][hk][e];
            }
        }
        for (int i = 0; ok && i < HQ * D; i++) {
            const double e = fabs(got[i] - out[i]) / fmax(fabs(out[i]), 1.0);
            worst = e > worst || isnan(e) ? (isnan(e) ? INFINITY : e) : worst;
        }
        free(qv);
        free(kv);
        free(vv);
    }
    if (ok) {
        if (worst <= 1e-5) {
            r->passed++;
            printf("ok   %-7s %-44s max err %.2e (tol 1e-05)\n", b->name, name, worst);
        } else {
            th_fail(r, b, name, "max err %.2e > tol 1e-05", worst);
        }
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(kc);
    fv_tensor_destroy(vc);
    fv_tensor_destroy(q);
    fv_tensor_destroy(k);
    fv_tensor_destroy(v);
    free(garbage);
}

static void test_cache_write(th_runner *r, const th_backend *b)
{
    const int64_t s1[4] = {2, 37, 3, 8}, s2[4] = {1, 20, 3, 5}, s3[4] = {2, 64, 2, 16}, s4[4] = {3, 9, 1, 3};
    test_cache_positions(r, b, s1, 5, false, 0);  /* rows of 24 floats: 4-wide */
    test_cache_positions(r, b, s2, 4, false, 0);  /* rows of 15 floats */
    test_cache_positions(r, b, s4, 1, false, 0);  /* one token per step */
    test_cache_positions(r, b, s1, 5, true, 0);
    test_cache_positions(r, b, s3, 3, false, 4096); /* 4 ranges of 32 rows */
    test_decode_loop(r, b);
}

/* ======================================================================
 * sample
 * ==================================================================== */

/* Philox-4x32-10 (Salmon et al. 2011), written from the paper's definition */
static void ref_philox(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = (uint32_t)p1;
        c[2] = n2;
        c[3] = (uint32_t)p0;
    }
}

typedef struct ref_cand {
    float l;
    int32_t id;
} ref_cand;

static int cmp_cand(const void *a, const void *b)
{
    const ref_cand *x = a, *y = b;
    /* NaN below everything, then larger first, then lower id first */
    if (isnan(x->l) != isnan(y->l)) return isnan(x->l) ? 1 : -1;
    if (!isnan(x->l) && x->l != y->l) return x->l > y->l ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct sample_cfg {
    const char *label;
    int64_t B, V;
    fv_sample_desc d; /* history set by the test */
    int hist_len, live; /* history [B, hist_len], live length (slot 5) */
    int pattern;        /* 0 random; 1 all equal but 20; 2 all -inf but 100 */
} sample_cfg;

/* The id row b draws at `step`; *ambiguous when the float and double
 * arithmetic could disagree (a boundary within 1e-5 of the decision). */
static int32_t ref_sample(const sample_cfg *c, const float *logits, const int32_t *hist, int64_t b, uint32_t step,
                          ref_cand *cand, bool *ambiguous)
{
    const int64_t V = c->V;
    const fv_sample_desc *d = &c->d;
    *ambiguous = false;
    for (int64_t i = 0; i < V; i++) cand[i] = (ref_cand){logits[b * V + i], (int32_t)i};
    if (d->repetition_penalty != 0 && d->repetition_penalty != 1) {
        const float pen = d->repetition_penalty, inv = 1.0f / pen;
        bool *seen = calloc((size_t)V, 1);
        for (int j = 0; j < c->live; j++) {
            const int32_t t = hist[b * c->hist_len + j];
            if (t >= 0 && t < V && !seen[t]) {
                seen[t] = true;
                cand[t].l = cand[t].l < 0 ? cand[t].l * pen : cand[t].l * inv;
            }
        }
        free(seen);
    }
    qsort(cand, (size_t)V, sizeof *cand, cmp_cand);
    if (d->temperature <= 0 || d->top_k == 1) return cand[0].id;
    int64_t K = d->top_k ? d->top_k : FV_SAMPLE_MAX_CANDIDATES;
    if (K > V) K = V;
    double w[FV_SAMPLE_MAX_CANDIDATES], total = 0;
    for (int64_t r = 0; r < K; r++) {
        /* relative to the top candidate (1 even when it is +inf) */
        w[r] = r == 0 ? 1.0 : exp(((double)cand[r].l - cand[0].l) / d->temperature);
        if (isnan(w[r])) w[r] = 0;
        total += w[r];
    }
    int64_t m = K;
    if (d->top_p > 0 && d->top_p < 1) {
        double before = 0, limit = d->top_p * total;
        for (int64_t r = 1; r < K; r++) {
            before += w[r - 1];
            if (fabs(before - limit) < 1e-5 * total) *ambiguous = true;
            if (before >= limit) {
                m = r;
                break;
            }
        }
    }
    uint32_t ctr[4] = {step, (uint32_t)b, 0, 0};
    ref_philox(ctr, (uint32_t)d->seed, (uint32_t)(d->seed >> 32));
    const double u = (double)(ctr[0] >> 8) / 16777216.0;
    double kept = 0;
    for (int64_t r = 0; r < m; r++) kept += w[r];
    const double target = u * kept;
    double acc = 0;
    int64_t pick = m - 1;
    for (int64_t r = 0; r < m; r++) {
        acc += w[r];
        if (fabs(target - acc) < 1e-5 * kept) *ambiguous = true;
        if (target < acc) {
            pick = r;
            break;
        }
    }
    return cand[pick].id;
}

/* Builds the sampler for config c on backend b; history may be NULL. */
static bool build_sampler(th_runner *r, const th_backend *b, const sample_cfg *c, const float *logits,
                          const int32_t *hist, fv_graph **g, fv_tensor **tl, fv_tensor **th, fv_tensor **tok)
{
    const int64_t ls[2] = {c->B, c->V}, hs[2] = {c->B, c->hist_len};
    *g = NULL;
    *th = NULL;
    *tl = th_tensor(r, b, FV_DTYPE_F32, 2, ls, logits);
    if (hist) *th = i32_tensor(r, b, 2, hs, hist);
    fv_sample_desc d = c->d;
    d.history = *th;
    d.history_len_param = hist ? 6 : 0;
    d.step_param = 3;
    return *tl && (!hist || *th) && th_ok(r, b, c->label, fv_graph_create(b->ctx, g)) &&
           th_ok(r, b, c->label, fv_op_sample(*g, *tl, &d, tok)) && th_ok(r, b, c->label, fv_graph_output(*g, *tok));
}

/* Draws `steps` times (step s+3 on replay s) into ids [steps][B]. */
static bool run_sampler(th_runner *r, const th_backend *b, const sample_cfg *c, fv_graph *g, fv_tensor *tok, int steps,
                        int32_t *ids)
{
    fv_graph_set_param(g, 5, c->live);
    for (int s = 0; s < steps; s++) {
        fv_graph_set_param(g, 2, s + 3);
        if (!th_replay(r, b, c->label, g)) return false;
        if (!th_ok(r, b, c->label, fv_tensor_download(tok, ids + (size_t)s * (size_t)c->B, (size_t)c->B * 4)))
            return false;
    }
    return true;
}

static void test_sample_exact(th_runner *r, const th_backend *b)
{
    enum { STEPS = 24 };
    const float NaN = nanf(""), INF = INFINITY;
    static const sample_cfg cfgs[] = {
        {"sample greedy V=1", 2, 1, {0}, 0, 0},
        {"sample greedy V=17", 3, 17, {0}, 0, 0},
        {"sample greedy V=1000", 4, 1000, {0}, 0, 0},
        {"sample greedy V=151936", 2, 151936, {0}, 0, 0},
        {"sample greedy penalty 1.5", 3, 1000, {.repetition_penalty = 1.5f}, 8, 6},
        {"sample greedy penalty 0.7 live 8", 3, 1000, {.repetition_penalty = 0.7f}, 8, 8},
        {"sample T0.7 top-k 40", 4, 1000, {.temperature = 0.7f, .top_k = 40, .seed = 1}, 0, 0},
        {"sample T1 top-p 0.9", 4, 1000, {.temperature = 1.0f, .top_p = 0.9f, .seed = 0x123456789abcdefull}, 0, 0},
        {"sample T1.3 top-k 256 top-p 0.5 penalty", 3, 3000,
         {.temperature = 1.3f, .top_k = 256, .top_p = 0.5f, .repetition_penalty = 1.2f, .seed = 99}, 40, 33},
        {"sample T0.5 top-k 7", 5, 333, {.temperature = 0.5f, .top_k = 7, .seed = 5}, 0, 0},
        {"sample T0.8 top-k 50 top-p 0.95 V=151936", 2, 151936,
         {.temperature = 0.8f, .top_k = 50, .top_p = 0.95f, .seed = 7}, 0, 0},
        {"sample T2 V=100 all candidates", 3, 100, {.temperature = 2.0f, .seed = 11}, 0, 0},
        {"sample T1 V=1", 2, 1, {.temperature = 1.0f, .seed = 12}, 0, 0},
        {"sample T1 V=3 top-p 0.6", 3, 3, {.temperature = 1.0f, .top_p = 0.6f, .seed = 13}, 0, 0},
        /* thousands of ties with the threshold: the kernels' slow path */
        {"sample greedy ties V=20000", 2, 20000, {0}, 0, 0, 1},
        {"sample T1 top-k 256 ties V=70000", 2, 70000, {.temperature = 1.0f, .seed = 3}, 0, 0, 1},
        {"sample T0.9 top-k 200 masked V=5000", 2, 5000, {.temperature = 0.9f, .top_k = 200, .seed = 4}, 0, 0, 2},
    };
    const th_backend *cpu = cpu_backend(r);
    th_rng rng = th_seed(5150);
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const sample_cfg *c = &cfgs[ci];
        const int64_t V = c->V, B = c->B;
        const bool greedy = c->d.temperature <= 0;
        float *logits = th_random(&rng, (size_t)(B * V), -8, 8);
        /* sampling: a softer spread so that many candidates carry weight */
        if (!greedy)
            for (int64_t i = 0; i < B * V; i++) logits[i] *= 0.4f;
        for (int64_t i = 0; c->pattern && i < B * V; i++) {
            /* 20 (or 100) random logits above a sea of equal (or -inf) ones */
            const bool keep = th_u32(&rng) % (uint32_t)V < (c->pattern == 1 ? 20u : 100u);
            if (!keep) logits[i] = c->pattern == 1 ? 0.5f : -INF;
            else logits[i] = c->pattern == 1 ? 1.0f + fabsf(logits[i]) : logits[i];
        }
        if (V >= 17 && !c->pattern) { /* planted ties (the lowest id must win), -inf and NaN */
            logits[1 * V + 5] = logits[1 * V + V - 3] = 9.5f;
            logits[0 * V + 2] = -INF;
            logits[0 * V + 3] = NaN;
            if (B > 2) logits[2 * V + 1] = INF;
        }
        int32_t *hist = NULL;
        if (c->hist_len) {
            hist = malloc((size_t)(B * c->hist_len) * sizeof *hist);
            for (int64_t bb = 0; bb < B; bb++) {
                int32_t *h = hist + bb * c->hist_len;
                /* the row's best id twice, ids out of range, random ids */
                int32_t best = 0;
                for (int32_t i = 1; i < V; i++)
                    if (logits[bb * V + i] > logits[bb * V + best]) best = i;
                for (int j = 0; j < c->hist_len; j++) h[j] = (int32_t)(th_u32(&rng) % (uint32_t)V);
                h[0] = h[3] = best;
                h[1] = -1;
                h[2] = (int32_t)V + 5;
                /* beyond the live length: an id that must not be penalised */
                if (c->live < c->hist_len) h[c->hist_len - 1] = (int32_t)((best + 1) % V);
            }
        }
        const int steps = greedy ? 1 : STEPS;
        int32_t *got = malloc((size_t)(steps * B) * sizeof *got), *want = malloc((size_t)(steps * B) * sizeof *want);
        int32_t *on_cpu = malloc((size_t)(steps * B) * sizeof *on_cpu);
        bool *amb = calloc((size_t)(steps * B), 1);
        ref_cand *cand = malloc((size_t)V * sizeof *cand);
        int namb = 0;
        for (int s = 0; s < steps; s++)
            for (int64_t bb = 0; bb < B; bb++) {
                want[s * B + bb] = ref_sample(c, logits, hist, bb, (uint32_t)(s + 3), cand, &amb[s * B + bb]);
                namb += amb[s * B + bb];
            }
        fv_graph *g = NULL, *gc = NULL;
        fv_tensor *tl = NULL, *th = NULL, *tok = NULL, *tlc = NULL, *thc = NULL, *tokc = NULL;
        bool ok = build_sampler(r, b, c, logits, hist, &g, &tl, &th, &tok) && run_sampler(r, b, c, g, tok, steps, got);
        /* on a GPU backend, the CPU backend's ids for the same graph must agree exactly */
        bool cross = ok && cpu && cpu != b && build_sampler(r, cpu, c, logits, hist, &gc, &tlc, &thc, &tokc) &&
                     run_sampler(r, cpu, c, gc, tokc, steps, on_cpu);
        if (ok) {
            int bad = -1, bad_cpu = -1;
            for (int i = 0; i < steps * B; i++) {
                if (!amb[i] && got[i] != want[i] && bad < 0) bad = i;
                if (cross && got[i] != on_cpu[i] && bad_cpu < 0) bad_cpu = i;
            }
            char label[160];
            snprintf(label, sizeof label, "%s%s (%d draws)", c->label, g_variant, steps * (int)B);
            if (bad >= 0)
                th_fail(r, b, label, "draw %d (step %d row %d): id %d, reference %d", bad, bad / (int)B + 3,
                        bad % (int)B, got[bad], want[bad]);
            else if (bad_cpu >= 0)
                th_fail(r, b, label, "draw %d: id %d, the CPU backend drew %d", bad_cpu, got[bad_cpu], on_cpu[bad_cpu]);
            else {
                r->passed++;
                printf("ok   %-7s %-44s ids exact, %d ambiguous%s\n", b->name, label, namb,
                       cross ? ", = cpu" : "");
            }
        }
        fv_graph_destroy(g);
        fv_graph_destroy(gc);
        fv_tensor_destroy(tl);
        fv_tensor_destroy(th);
        fv_tensor_destroy(tlc);
        fv_tensor_destroy(thc);
        free(logits);
        free(hist);
        free(got);
        free(want);
        free(on_cpu);
        free(amb);
        free(cand);
    }
}

/* Draws whose u·kept lies within 2e-7 (relative) of a cumulative boundary,
 * a few ulps of float: found by searching steps with the reference's RNG.
 * A float result one ulp away from the CPU backend's would flip some of
 * them, so GPU ids must equal the CPU backend's on every one. */
static void test_sample_boundaries(th_runner *r, const th_backend *b)
{
    enum { B = 4, V = 1000, K = 64, WANT = 48 };
    const th_backend *cpu = cpu_backend(r);
    if (!cpu || cpu == b) return;
    const sample_cfg c = {"sample near-boundary draws", B, V, {.temperature = 1.0f, .top_k = K, .seed = 424242}, 0, 0};
    th_rng rng = th_seed(8080);
    float *logits = th_random(&rng, (size_t)B * V, -2, 2);
    ref_cand *cand = malloc(sizeof *cand * V);
    double cum[B][K];
    for (int bb = 0; bb < B; bb++) {
        for (int i = 0; i < V; i++) cand[i] = (ref_cand){logits[bb * V + i], i};
        qsort(cand, V, sizeof *cand, cmp_cand);
        double acc = 0;
        for (int k = 0; k < K; k++) cum[bb][k] = acc += exp((double)cand[k].l - cand[0].l);
    }
    int32_t steps[WANT];
    int found = 0;
    for (uint32_t s = 0; s < 2000000 && found < WANT; s++)
        for (int bb = 0; bb < B && found < WANT; bb++) {
            uint32_t ctr[4] = {s, (uint32_t)bb, 0, 0};
            ref_philox(ctr, (uint32_t)c.d.seed, 0);
            const double target = (double)(ctr[0] >> 8) / 16777216.0 * cum[bb][K - 1];
            for (int k = 0; k < K - 1; k++)
                if (fabs(target - cum[bb][k]) < 2e-7 * cum[bb][K - 1]) {
                    steps[found++] = (int32_t)s;
                    break;
                }
        }
    fv_graph *g = NULL, *gc = NULL;
    fv_tensor *tl = NULL, *th = NULL, *tok = NULL, *tlc = NULL, *thc = NULL, *tokc = NULL;
    int mismatch = 0;
    if (build_sampler(r, b, &c, logits, NULL, &g, &tl, &th, &tok) &&
        build_sampler(r, cpu, &c, logits, NULL, &gc, &tlc, &thc, &tokc)) {
        for (int i = 0; i < found; i++) {
            int32_t got[B], want[B];
            fv_graph_set_param(g, 2, steps[i]);
            fv_graph_set_param(gc, 2, steps[i]);
            if (!th_replay(r, b, c.label, g) || !th_replay(r, cpu, c.label, gc) ||
                !th_ok(r, b, c.label, fv_tensor_download(tok, got, sizeof got)) ||
                !th_ok(r, cpu, c.label, fv_tensor_download(tokc, want, sizeof want))) {
                mismatch = -1;
                break;
            }
            mismatch += memcmp(got, want, sizeof got) != 0;
        }
        char label[160];
        snprintf(label, sizeof label, "%s%s (%d steps)", c.label, g_variant, found);
        if (mismatch > 0) th_fail(r, b, label, "%d of %d steps drew other ids than the CPU backend", mismatch, found);
        else if (mismatch == 0) {
            r->passed++;
            printf("ok   %-7s %-44s ids = cpu\n", b->name, label);
        }
    }
    fv_graph_destroy(g);
    fv_graph_destroy(gc);
    fv_tensor_destroy(tl);
    fv_tensor_destroy(tlc);
    free(logits);
    free(cand);
}

/* A decode loop with no host step but reading the ids: greedy with a
 * repetition penalty over a history that the same graph appends the drawn
 * token to (cache_write of i32 into the history reshaped to [B, Nh, 1, 1]);
 * one slot is both the live length and the write position. */
static void test_sample_history_loop(th_runner *r, const th_backend *b)
{
    enum { B = 2, V = 1000, NH = 8 };
    const char *name = "sample+cache_write history loop";
    th_rng rng = th_seed(999);
    float *logits = th_random(&rng, B * V, -4, 4);
    int32_t hist[B * NH], got[B], want_hist[B * NH];
    for (int i = 0; i < B * NH; i++) hist[i] = want_hist[i] = -1;
    const int64_t ls[2] = {B, V}, hs[2] = {B, NH}, h4[4] = {B, NH, 1, 1}, t4[4] = {B, 1, 1, 1};
    fv_tensor *tl = th_tensor(r, b, FV_DTYPE_F32, 2, ls, logits), *th = i32_tensor(r, b, 2, hs, hist);
    fv_graph *g = NULL;
    fv_tensor *tok = NULL, *tok4 = NULL, *hist4 = NULL, *written = NULL;
    const fv_sample_desc d = {.repetition_penalty = 1.5f, .history = th, .history_len_param = 1};
    bool ok = tl && th && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
              th_ok(r, b, name, fv_op_sample(g, tl, &d, &tok)) &&
              th_ok(r, b, name, fv_op_reshape(g, tok, 4, t4, &tok4)) &&
              th_ok(r, b, name, fv_op_reshape(g, th, 4, h4, &hist4)) &&
              th_ok(r, b, name, fv_op_cache_write(g, hist4, tok4, 0, 1, &written)) &&
              th_ok(r, b, name, fv_graph_output(g, tok)) && th_ok(r, b, name, fv_graph_output(g, written));
    ref_cand *cand = malloc(sizeof *cand * V);
    int step = 0;
    for (; ok && step < NH; step++) {
        fv_graph_set_param(g, 0, step);
        int32_t hist_got[B * NH];
        ok = th_replay(r, b, name, g) && th_ok(r, b, name, fv_tensor_download(tok, got, sizeof got)) &&
             th_ok(r, b, name, fv_tensor_download(written, hist_got, sizeof hist_got));
        const sample_cfg c = {name, B, V, {.repetition_penalty = 1.5f}, NH, step, 0};
        for (int bb = 0; ok && bb < B; bb++) {
            bool amb;
            const int32_t id = ref_sample(&c, logits, want_hist, bb, 0, cand, &amb);
            want_hist[bb * NH + step] = id;
            if (got[bb] != id) {
                th_fail(r, b, name, "step %d row %d: id %d, reference %d", step, bb, got[bb], id);
                ok = false;
            }
        }
        if (ok && memcmp(hist_got, want_hist, sizeof hist_got) != 0) {
            th_fail(r, b, name, "step %d: the history on the device differs", step);
            ok = false;
        }
    }
    if (ok) {
        r->passed++;
        printf("ok   %-7s %-44s %d steps\n", b->name, name, step);
    }
    free(cand);
    fv_graph_destroy(g);
    fv_tensor_destroy(tl);
    fv_tensor_destroy(th);
    free(logits);
}

static void test_sample_statistics(th_runner *r, const th_backend *b)
{
    enum { B = 256, V = 50, STEPS = 40 };
    static const fv_sample_desc descs[2] = {{.temperature = 0.8f, .seed = 2024},
                                            {.temperature = 0.8f, .top_k = 10, .top_p = 0.8f, .seed = 77}};
    th_rng rng = th_seed(31337);
    float row[V], *logits = malloc(sizeof(float) * B * V);
    for (int i = 0; i < V; i++) row[i] = th_uniform(&rng, -3, 3);
    for (int bb = 0; bb < B; bb++) memcpy(logits + bb * V, row, sizeof row);
    for (int k = 0; k < 2; k++) {
        sample_cfg c = {k ? "sample stats top-k 10 top-p 0.8" : "sample stats T0.8", B, V, descs[k], 0, 0};
        /* expected probabilities, in double: softmax(l/T), restricted to the cut */
        ref_cand cand[V];
        for (int i = 0; i < V; i++) cand[i] = (ref_cand){row[i], i};
        qsort(cand, V, sizeof *cand, cmp_cand);
        double w[V], total = 0, prob[V] = {0};
        int K = c.d.top_k ? c.d.top_k : V, m = K;
        for (int r2 = 0; r2 < K; r2++) total += w[r2] = exp((cand[r2].l - (double)cand[0].l) / c.d.temperature);
        if (c.d.top_p > 0) {
            double before = 0;
            for (int r2 = 1; r2 < K; r2++) {
                before += w[r2 - 1];
                if (before >= c.d.top_p * total) {
                    m = r2;
                    break;
                }
            }
        }
        double kept = 0;
        for (int r2 = 0; r2 < m; r2++) kept += w[r2];
        for (int r2 = 0; r2 < m; r2++) prob[cand[r2].id] = w[r2] / kept;
        int32_t *ids = malloc(sizeof(int32_t) * B * STEPS);
        fv_graph *g = NULL;
        fv_tensor *tl = NULL, *th = NULL, *tok = NULL;
        if (build_sampler(r, b, &c, logits, NULL, &g, &tl, &th, &tok) && run_sampler(r, b, &c, g, tok, STEPS, ids)) {
            int count[V] = {0}, bad = -1;
            for (int i = 0; i < B * STEPS; i++)
                if (ids[i] >= 0 && ids[i] < V) count[ids[i]]++;
                else bad = i;
            double worst = 0; /* in standard deviations */
            int at = 0;
            const double n = B * STEPS;
            for (int i = 0; i < V; i++) {
                const double sd = sqrt(n * prob[i] * (1 - prob[i]));
                const double z = (fabs(count[i] - n * prob[i]) - 1) / fmax(sd, 1e-9);
                if ((prob[i] == 0 && count[i] > 0) || z > worst) {
                    worst = prob[i] == 0 && count[i] > 0 ? INFINITY : z;
                    at = i;
                }
            }
            char label[160];
            snprintf(label, sizeof label, "%s (%d draws, %d kept)", c.label, B * STEPS, m);
            if (bad >= 0) th_fail(r, b, label, "id %d out of range", ids[bad]);
            else if (!(worst <= 5)) {
                th_fail(r, b, label, "token %d drawn %d times, expected %.1f (%.1f sd)", at, count[at], n * prob[at],
                        worst);
            } else {
                r->passed++;
                printf("ok   %-7s %-44s worst %.2f sd (tol 5)\n", b->name, label, worst);
            }
        }
        fv_graph_destroy(g);
        fv_tensor_destroy(tl);
        free(ids);
    }
    free(logits);
}

static void test_sample_kat(th_runner *r, const th_backend *b)
{
    /* Random123's known answers for philox4x32-10, so that the reference
     * RNG above is the published one */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {~0u, ~0u, ~0u, ~0u, ~0u, ~0u, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t c[4] = {kat[i][0], kat[i][1], kat[i][2], kat[i][3]};
        ref_philox(c, kat[i][4], kat[i][5]);
        if (memcmp(c, kat[i] + 6, sizeof c) != 0) {
            th_fail(r, b, "philox4x32-10 known answers", "vector %d differs", i);
            return;
        }
    }
    r->passed++;
    printf("ok   %-7s %-44s 3 vectors\n", b->name, "test's philox4x32-10 = Random123 answers");
}

/* Builder checks: bad arguments are statuses, not crashes. */
static void test_decoder_args(th_runner *r, const th_backend *b)
{
    const int64_t xs[4] = {1, 2, 2, 8}, ls[2] = {1, 10}, odd[4] = {1, 2, 2, 7};
    fv_tensor *x = NULL, *l = NULL, *xo = NULL, *y = NULL;
    fv_graph *g = NULL;
    if (!th_ok(r, b, "args", fv_tensor_create(b->ctx, FV_DTYPE_F32, 4, xs, &x)) ||
        !th_ok(r, b, "args", fv_tensor_create(b->ctx, FV_DTYPE_F32, 2, ls, &l)) ||
        !th_ok(r, b, "args", fv_tensor_create(b->ctx, FV_DTYPE_F32, 4, odd, &xo)) ||
        !th_ok(r, b, "args", fv_graph_create(b->ctx, &g)))
        goto done;
    const fv_rope_desc bad_rot = {.rotary_dim = 5};
    const fv_sample_desc bad_k = {.temperature = 1, .top_k = 300};
    const fv_sample_desc no_hist = {.repetition_penalty = 1.3f};
    fv_tensor *inter = NULL;
    struct {
        const char *what;
        fv_status st;
    } checks[] = {
        {"rope odd rotary_dim", fv_op_rope(g, x, &bad_rot, &y)},
        {"rope odd head size", fv_op_rope(g, xo, NULL, &y)},
        {"sample top_k 300", fv_op_sample(g, l, &bad_k, &y)},
        {"sample penalty without history", fv_op_sample(g, l, &no_hist, &y)},
        {"sample 4-d logits", fv_op_sample(g, x, NULL, &y)},
        {"cache_write shape mismatch", fv_op_cache_write(g, x, xo, 0, 0, &y)},
        {"cache_write into an intermediate",
         fv_op_scale(g, x, 2.0f, &inter) ? FV_STATUS_OK : fv_op_cache_write(g, inter, x, 0, 0, &y)},
    };
    int good = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (checks[i].st == FV_STATUS_INVALID_ARGUMENT) good++;
        else
            th_fail(r, b, checks[i].what, "status %s, expected FV_STATUS_INVALID_ARGUMENT",
                    fv_status_name(checks[i].st));
    }
    if (good == (int)(sizeof checks / sizeof checks[0])) {
        r->passed++;
        printf("ok   %-7s %-44s %d rejected\n", b->name, "decoder ops: bad arguments", good);
    }
done:
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    fv_tensor_destroy(l);
    fv_tensor_destroy(xo);
}

void test_decoder(th_runner *r, const th_backend *b)
{
    test_decoder_args(r, b);
    test_rope(r, b);
    test_cache_write(r, b);
    test_sample_kat(r, b);
    /* on GPU backends both kernel plans (FOVEA_SAMPLE_VARIANT) */
    const bool gpu = fv_context_backend(b->ctx) != FV_BACKEND_CPU;
    for (int v = 0; v < (gpu ? 2 : 1); v++) {
        if (gpu) setenv("FOVEA_SAMPLE_VARIANT", v ? "gpu" : "cpu", 1);
        g_variant = gpu ? (v ? " [gpu]" : " [cpu]") : "";
        test_sample_exact(r, b);
        test_sample_boundaries(r, b);
    }
    if (gpu) unsetenv("FOVEA_SAMPLE_VARIANT");
    g_variant = "";
    test_sample_history_loop(r, b);
    test_sample_statistics(r, b);
}
