/* attention: encoder shapes (B 1-2, N 1/17/145/257, 1 or 4 heads, head sizes
 * 32/64/128 and padded ones), grouped-query heads, causal prefill, queries
 * fewer than keys, and decoding: one recorded graph replayed with several
 * live lengths and positions from parameter slots. Every case checks the
 * statistics too: the [CLS] row averaged over heads, the attention received
 * averaged over heads and queries, and the head-averaged keys.
 *
 * The reference is written here in double, from the definition (explicit
 * scores, exact softmax). Tolerances, as max |got - ref| / max(|ref|, 1):
 * out 1e-5 (values are convex mixes of v in [-1, 1]); mean keys 1e-6; the two
 * probability statistics are first multiplied by Nk, so that the error is
 * measured against the uniform probability 1/Nk, then held to 1e-5.
 * On Vulkan every case runs with both kernel layouts
 * (FOVEA_ATTENTION_VARIANT=cpu and gpu). */
#include "op_cases.h"
#include "th_util.h"

#define ALL_STATS (FV_ATTENTION_STAT_CLS | FV_ATTENTION_STAT_RECEIVED | FV_ATTENTION_STAT_MEAN_KEYS)

typedef struct attn_shape {
    int64_t B, nq, nk, hq, hkv, d;
} attn_shape;

typedef struct attn_ref {
    double *out, *cls, *received, *mean;
} attn_ref;

/* kvlen: live keys; pos: position of query 0 (used when causal); bias: NULL
 * or [B, Nk] added to key j's scores */
static void ref_attention(const attn_shape *s, const float *q, const float *k, const float *v, const float *bias,
                          double scale, bool causal, int64_t kvlen, int64_t pos, attn_ref *r)
{
    const int64_t G = s->hq / s->hkv, D = s->d, Nk = s->nk;
    double *p = malloc((size_t)(Nk ? Nk : 1) * sizeof *p);
    memset(r->cls, 0, (size_t)(s->B * Nk) * sizeof *r->cls);
    memset(r->received, 0, (size_t)(s->B * Nk) * sizeof *r->received);
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t i = 0; i < s->nq; i++)
            for (int64_t h = 0; h < s->hq; h++) {
                int64_t live = kvlen;
                if (causal && live > pos + i + 1) live = pos + i + 1;
                if (live < 0) live = 0;
                const float *qr = q + ((b * s->nq + i) * s->hq + h) * D;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < live; j++) {
                    const float *kr = k + ((b * Nk + j) * s->hkv + h / G) * D;
                    double dot = 0;
                    for (int64_t c = 0; c < D; c++) dot += (double)qr[c] * kr[c];
                    p[j] = scale * dot + (bias ? (double)bias[b * Nk + j] : 0.0);
                    if (p[j] > mx) mx = p[j];
                }
                for (int64_t j = 0; j < live; j++) sum += p[j] = exp(p[j] - mx);
                double *o = r->out + ((b * s->nq + i) * s->hq + h) * D;
                for (int64_t c = 0; c < D; c++) o[c] = 0;
                for (int64_t j = 0; j < live; j++) {
                    const double pj = p[j] / sum;
                    const float *vr = v + ((b * Nk + j) * s->hkv + h / G) * D;
                    for (int64_t c = 0; c < D; c++) o[c] += pj * vr[c];
                    r->received[b * Nk + j] += pj / (double)(s->hq * s->nq);
                    if (i == 0) r->cls[b * Nk + j] += pj / (double)s->hq;
                }
            }
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t j = 0; j < Nk; j++)
            for (int64_t c = 0; c < D; c++) {
                double m = 0;
                for (int64_t hk = 0; j < kvlen && hk < s->hkv; hk++) m += k[((b * Nk + j) * s->hkv + hk) * D + c];
                r->mean[(b * Nk + j) * D + c] = m / (double)s->hkv;
            }
    free(p);
}

/* Downloads t and checks it; probabilities are scaled by `mul` on both sides. */
static void check_tensor(th_runner *r, const th_backend *b, const char *name, const char *what, fv_tensor *t,
                         const double *ref, double mul, double tol)
{
    if (!t) return;
    const size_t n = (size_t)fv_tensor_numel(t);
    float *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    char label[200];
    snprintf(label, sizeof label, "%s %s", name, what);
    if (th_ok(r, b, label, fv_tensor_download(t, got, n * sizeof *got))) {
        for (size_t i = 0; i < n; i++) {
            got[i] = (float)(got[i] * mul);
            want[i] = ref[i] * mul;
        }
        th_check(r, b, label, got, want, n, tol);
    }
    free(got);
    free(want);
}

static void check_result(th_runner *r, const th_backend *b, const char *name, const attn_shape *s,
                         const fv_attention_result *res, const attn_ref *ref)
{
    check_tensor(r, b, name, "out", res->out, ref->out, 1.0, 1e-5);
    check_tensor(r, b, name, "cls", res->cls_attention, ref->cls, (double)s->nk, 1e-5);
    check_tensor(r, b, name, "received", res->received, ref->received, (double)s->nk, 1e-5);
    check_tensor(r, b, name, "mean keys", res->mean_keys, ref->mean, 1.0, 1e-6);
}

typedef struct attn_inputs {
    float *q, *k, *v;
    fv_tensor *tq, *tk, *tv;
    attn_ref ref;
} attn_inputs;

static bool make_inputs(th_runner *r, const th_backend *b, th_rng *rng, const attn_shape *s, float range,
                        attn_inputs *in)
{
    memset(in, 0, sizeof *in);
    const int64_t qshape[4] = {s->B, s->nq, s->hq, s->d}, kshape[4] = {s->B, s->nk, s->hkv, s->d};
    const size_t nq = (size_t)(s->B * s->nq * s->hq * s->d), nk = (size_t)(s->B * s->nk * s->hkv * s->d);
    in->q = th_random(rng, nq, -range, range);
    in->k = th_random(rng, nk, -range, range);
    in->v = th_random(rng, nk, -1, 1);
    in->ref.out = malloc(nq * sizeof(double));
    in->ref.cls = malloc((size_t)(s->B * s->nk) * sizeof(double));
    in->ref.received = malloc((size_t)(s->B * s->nk) * sizeof(double));
    in->ref.mean = malloc((size_t)(s->B * s->nk * s->d) * sizeof(double));
    in->tq = th_tensor(r, b, FV_DTYPE_F32, 4, qshape, in->q);
    in->tk = th_tensor(r, b, FV_DTYPE_F32, 4, kshape, in->k);
    in->tv = th_tensor(r, b, FV_DTYPE_F32, 4, kshape, in->v);
    return in->tq && in->tk && in->tv;
}

static void free_inputs(attn_inputs *in)
{
    fv_tensor_destroy(in->tq);
    fv_tensor_destroy(in->tk);
    fv_tensor_destroy(in->tv);
    free(in->q);
    free(in->k);
    free(in->v);
    free(in->ref.out);
    free(in->ref.cls);
    free(in->ref.received);
    free(in->ref.mean);
}

static bool mark_outputs(th_runner *r, const th_backend *b, const char *name, fv_graph *g,
                         const fv_attention_result *res)
{
    fv_tensor *const all[4] = {res->out, res->cls_attention, res->received, res->mean_keys};
    for (int i = 0; i < 4; i++)
        if (all[i] && !th_ok(r, b, name, fv_graph_output(g, all[i]))) return false;
    return true;
}

typedef struct attn_case {
    attn_shape s;
    bool causal;
    float scale;   /* 0: default */
    unsigned stats;
    float range;   /* q and k in [-range, range] */
    bool bias;     /* a key bias in [-2, 1] (ToMe's log(size) is >= 0; negatives test the sign) */
} attn_case;

static void run_case(th_runner *r, const th_backend *b, th_rng *rng, const attn_case *c, const char *tag)
{
    const attn_shape *s = &c->s;
    char name[160];
    snprintf(name, sizeof name, "attention%s B%lld q%lld k%lld h%lld/%lld d%lld%s%s", c->causal ? " causal" : "",
             (long long)s->B, (long long)s->nq, (long long)s->nk, (long long)s->hq, (long long)s->hkv,
             (long long)s->d, c->stats ? "" : " nostats", tag);
    if (c->bias) strncat(name, " key bias", sizeof name - strlen(name) - 1);
    attn_inputs in;
    fv_graph *g = NULL;
    fv_attention_result res;
    fv_attention_desc d = {.scale = c->scale, .causal = c->causal, .stats = c->stats};
    float *bias = NULL;
    fv_tensor *tbias = NULL;
    if (c->bias) {
        const int64_t bshape[2] = {s->B, s->nk};
        bias = th_random(rng, (size_t)(s->B * s->nk), -2, 1);
        tbias = th_tensor(r, b, FV_DTYPE_F32, 2, bshape, bias);
        d.key_bias = tbias;
    }
    if (make_inputs(r, b, rng, s, c->range, &in) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_attention(g, in.tq, in.tk, in.tv, &d, &res)) && mark_outputs(r, b, name, g, &res) &&
        th_replay(r, b, name, g)) {
        const double scale = c->scale ? c->scale : 1.0 / sqrt((double)s->d);
        ref_attention(s, in.q, in.k, in.v, bias, scale, c->causal, s->nk, s->nk - s->nq, &in.ref);
        check_result(r, b, name, s, &res, &in.ref);
    }
    fv_graph_destroy(g);
    free_inputs(&in);
    fv_tensor_destroy(tbias);
    free(bias);
}

/* Decoding: a KV cache of capacity nk, nq new queries. The live length is
 * in slot 2 and the position of the first query in slot 7; the graph is
 * recorded once (first replay) and replayed for every pair. With `poison`,
 * the cache rows past each step's live length hold NaN, as a cache's
 * never-written rows may: nothing past the live keys may reach the results,
 * not even weighted by zero. */
static void run_decode(th_runner *r, const th_backend *b, th_rng *rng, const attn_shape *s, const char *tag,
                       bool poison)
{
    static const int32_t steps[][2] = {
        /* kv_len, q_pos */
        {1, 0}, {37, 36}, {100, 99}, {64, 60}, {50, 20}, /* pos < kv_len - nq: a shorter prefix */
        {0, 0},                                         /* an empty cache: zeros */
        {500, 99},                                      /* kv_len clamps to the capacity */
        {12, -1},                                       /* the first query sees no key */
        {100, 1000},                                    /* all keys */
        {7, 6},
    };
    char name[160];
    snprintf(name, sizeof name, "attention decode q%lld cap%lld h%lld/%lld d%lld%s%s", (long long)s->nq,
             (long long)s->nk, (long long)s->hq, (long long)s->hkv, (long long)s->d, poison ? " NaN past live" : "",
             tag);
    attn_inputs in;
    fv_graph *g = NULL;
    fv_attention_result res;
    fv_attention_desc d = {.causal = true, .kv_len_param = 2 + 1, .q_pos_param = 7 + 1, .stats = ALL_STATS};
    const size_t row = (size_t)(s->hkv * s->d), nkv = (size_t)(s->B * s->nk) * row;
    float *poisoned = poison ? malloc(nkv * sizeof *poisoned) : NULL;
    if (make_inputs(r, b, rng, s, 1.5f, &in) && (!poison || poisoned) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_attention(g, in.tq, in.tk, in.tv, &d, &res)) && mark_outputs(r, b, name, g, &res)) {
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            if (poison) { /* rows from the live length on: NaN */
                const size_t live = (size_t)(steps[i][0] < s->nk ? steps[i][0] : s->nk);
                bool ok = true;
                for (int t = 0; t < 2 && ok; t++) {
                    const float *src = t ? in.v : in.k;
                    for (size_t e = 0; e < nkv; e++) poisoned[e] = (e / row) % (size_t)s->nk >= live ? NAN : src[e];
                    ok = th_ok(r, b, name, fv_tensor_upload(t ? in.tv : in.tk, poisoned, nkv * sizeof(float)));
                }
                if (!ok) break;
            }
            char what[200];
            snprintf(what, sizeof what, "%s len %d pos %d", name, steps[i][0], steps[i][1]);
            if (!th_ok(r, b, what, fv_graph_set_param(g, 2, steps[i][0])) ||
                !th_ok(r, b, what, fv_graph_set_param(g, 7, steps[i][1])) || !th_replay(r, b, what, g))
                break;
            const int64_t kvlen = steps[i][0] < s->nk ? steps[i][0] : s->nk;
            ref_attention(s, in.q, in.k, in.v, NULL, 1.0 / sqrt((double)s->d), true, kvlen, steps[i][1], &in.ref);
            check_result(r, b, what, s, &res, &in.ref);
        }
    }
    fv_graph_destroy(g);
    free_inputs(&in);
    free(poisoned);
}

/* Bad shapes and arguments are refused with INVALID_ARGUMENT. */
static void run_invalid(th_runner *r, const th_backend *b)
{
    const int64_t q4[4] = {1, 5, 6, 32}, k4[4] = {1, 9, 4, 32}, k3[3] = {1, 9, 32};
    fv_tensor *q = NULL, *k = NULL, *k2 = NULL;
    fv_graph *g = NULL;
    fv_attention_result res;
    const char *name = "attention invalid arguments";
    if (th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_F32, 4, q4, &q)) &&
        th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_F32, 4, k4, &k)) &&
        th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_F32, 3, k3, &k2)) &&
        th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        fv_attention_desc bad_slot = {.kv_len_param = FV_GRAPH_PARAM_SLOTS + 1};
        fv_attention_desc bad_stats = {.stats = 1u << 5};
        const fv_status st[4] = {fv_op_attention(g, q, k, k, NULL, &res), /* 6 heads over 4 KV heads */
                                 fv_op_attention(g, q, k2, k2, NULL, &res), fv_op_attention(g, q, q, q, &bad_slot, &res),
                                 fv_op_attention(g, q, q, q, &bad_stats, &res)};
        bool ok = true;
        for (int i = 0; i < 4; i++) ok &= st[i] == FV_STATUS_INVALID_ARGUMENT;
        if (ok) {
            r->passed++;
            printf("ok   %-7s %s\n", b->name, name);
        } else {
            th_fail(r, b, name, "statuses %s %s %s %s", fv_status_name(st[0]), fv_status_name(st[1]),
                    fv_status_name(st[2]), fv_status_name(st[3]));
        }
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(q);
    fv_tensor_destroy(k);
    fv_tensor_destroy(k2);
}

void test_attention(th_runner *r, const th_backend *b)
{
    static const attn_case cases[] = {
        /* encoder: B, Nq = Nk, heads, head size */
        {{1, 1, 1, 1, 1, 32}, false, 0, ALL_STATS, 1},
        {{1, 17, 17, 1, 1, 32}, false, 0, ALL_STATS, 1},
        {{2, 17, 17, 4, 4, 64}, false, 0, ALL_STATS, 1},
        {{1, 17, 17, 4, 4, 128}, false, 0, ALL_STATS, 1},
        {{1, 145, 145, 4, 4, 64}, false, 0, ALL_STATS, 1.5f}, /* 12x12 patches + [CLS] */
        {{1, 145, 145, 4, 4, 32}, false, 0, ALL_STATS, 1},
        {{2, 145, 145, 1, 1, 128}, false, 0, ALL_STATS, 1},
        {{1, 257, 257, 4, 4, 64}, false, 0, ALL_STATS, 1},
        {{2, 257, 257, 4, 4, 32}, false, 0.3f, ALL_STATS, 1},
        {{1, 257, 257, 1, 1, 128}, false, 0, ALL_STATS, 2},
        {{1, 145, 145, 4, 4, 64}, false, 0, 0, 1},
        {{1, 145, 145, 4, 4, 64}, false, 0, FV_ATTENTION_STAT_CLS, 1},
        {{2, 60, 60, 2, 2, 64}, false, 0, FV_ATTENTION_STAT_MEAN_KEYS, 1},
        /* head sizes padded up to the kernels' class; 6 is not a multiple of 4 */
        {{1, 40, 40, 2, 2, 80}, false, 0, ALL_STATS, 1},
        {{2, 19, 19, 3, 3, 20}, false, 0, ALL_STATS, 1},
        {{1, 9, 9, 2, 2, 6}, false, 0, ALL_STATS, 1},
        /* grouped-query heads */
        {{1, 33, 33, 8, 2, 64}, false, 0, ALL_STATS, 1},
        {{2, 40, 40, 8, 2, 64}, true, 0, ALL_STATS, 1},
        /* causal prefill, and queries fewer than keys (position Nk - Nq) */
        {{1, 70, 70, 4, 4, 64}, true, 0, ALL_STATS, 1.5f},
        {{1, 257, 257, 2, 2, 32}, true, 0, ALL_STATS, 1},
        {{1, 7, 50, 4, 2, 64}, true, 0, ALL_STATS, 1},
        {{1, 5, 300, 4, 4, 64}, false, 0, ALL_STATS, 1}, /* cross-attention */
        /* a key bias (ToMe's proportional attention), with and without statistics */
        {{1, 17, 17, 4, 4, 64}, false, 0, ALL_STATS, 1, true},
        {{2, 145, 145, 4, 4, 32}, false, 0, ALL_STATS, 1, true},
        {{1, 97, 97, 2, 2, 128}, false, 0, 0, 1, true},
        {{1, 40, 40, 8, 2, 64}, true, 0, ALL_STATS, 1, true},
    };
    static const char *const variants[] = {"cpu", "gpu"};
    const bool vulkan = fv_context_backend(b->ctx) == FV_BACKEND_VULKAN;
    run_invalid(r, b);
    for (int v = 0; v < (vulkan ? 2 : 1); v++) {
        char tag[32] = "";
        if (vulkan) {
            setenv("FOVEA_ATTENTION_VARIANT", variants[v], 1);
            snprintf(tag, sizeof tag, " (%s)", variants[v]);
        }
        th_rng rng = th_seed(77);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(r, b, &rng, &cases[i], tag);
        const attn_shape dec1 = {1, 1, 100, 8, 2, 64}, dec3 = {2, 3, 100, 4, 4, 32};
        run_decode(r, b, &rng, &dec1, tag, false);
        run_decode(r, b, &rng, &dec3, tag, false);
        run_decode(r, b, &rng, &dec1, tag, true);
        run_decode(r, b, &rng, &dec3, tag, true);
    }
    if (vulkan) unsetenv("FOVEA_ATTENTION_VARIANT");
}
