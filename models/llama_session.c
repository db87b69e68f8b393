/* Language-model sessions: the decoder's forward pass as graphs over a KV
 * cache in device memory, and generation (plain and speculative) on top.
 *
 *   ids [P] ─ gather(embedding table) (─ rows replaced by input embeddings)
 *   layer l: h = rmsnorm(x)
 *            q, k, v = h·Wq, h·Wk, h·Wv (+ biases) viewed [1, P, heads, d]
 *            RoPE(q), RoPE(k) at positions pos .. pos + P - 1
 *            cache_write(K_l, k), cache_write(V_l, v) at row pos
 *            x += Wo · attention(q, K_l, V_l)   causal, keys 0 .. pos + n - 1
 *            x += Wdown · (silu(h'·Wgate) · h'·Wup), h' = rmsnorm(x)
 *   logits = rmsnorm(x[last live row]) · Wheadᵀ  (every row for verification)
 *   token  = sample(logits)
 *
 * Graph parameter slots (set before each replay, so a recorded graph
 * serves every position): slot 0 = pos, the cache row of the first token;
 * slot 1 = pos + n, the live length after this forward (the attention's
 * key count, the repetition penalty's history length and the sampler's
 * step counter). P may exceed the live count n: the padding rows are
 * computed and their keys written past the live length, where nothing
 * reads them before they are overwritten. */
#include "llama_internal.h"

#include <stdlib.h>
#include <string.h>

#define LM_MAX_GRAPHS 32
#define LM_MIN_BUCKET 16
#define LM_MAX_BUCKET 512
#define LM_MAX_DRAFT 16

typedef struct lm_graph {
    int P;             /* token rows per forward */
    bool all_logits;   /* logits (and a greedy token) for every row */
    fv_graph *g;
    fv_tensor *ids;    /* i32 [P], owned */
    fv_tensor *row;    /* i32 [1]: the last live row; owned; NULL when not gathered */
    fv_tensor *sel;    /* i32 [P]: rows of [tokens; embeddings]; owned; with embeddings only */
    int64_t embed_rows; /* rows of the session's embeddings tensor it reads; 0 = ids only */
    fv_tensor *logits; /* [1 or P, V], graph-owned */
    fv_tensor *token;  /* i32 [1 or P], graph-owned */
} lm_graph;

struct fv_lm_session {
    const fv_lm_model *m;
    fv_context *ctx;
    int cap, len, image_id;
    fv_lm_sampler sampler;
    fv_tensor **kc, **vc; /* per layer [1, cap, kv_heads, head_dim] f32 */
    fv_tensor *history;   /* i32 [1, cap, 1, 1]: every token in the cache */
    lm_graph graphs[LM_MAX_GRAPHS];
    int ngraphs;
    fv_tensor *embeds;    /* f32 [rows, hidden]: a prompt's input embeddings, copied in
                             from the caller's tensor; graphs with embeddings read it */
    const lm_graph *last; /* whose logits fv_lm_session_logits reads */
    int last_row;
    fv_lm_timings timings;
};

static bool penalised(const fv_lm_sampler *s)
{
    return s->repetition_penalty > 0 && s->repetition_penalty != 1.0f;
}

static bool greedy(const fv_lm_sampler *s)
{
    return (s->temperature <= 0 || s->top_k == 1) && !penalised(s);
}

/* ---- graphs ------------------------------------------------------------------- */

static fv_status reshape(fv_graph *g, fv_tensor *x, int64_t a, int64_t b, int64_t c, int64_t d, int ndim,
                         fv_tensor **y)
{
    const int64_t s[4] = {a, b, c, d};
    return fv_op_reshape(g, x, ndim, s, y);
}

/* x·w (+ b) viewed as [1, P, heads, d], rotated */
static fv_status project(fv_lm_session *s, fv_graph *g, fv_tensor *h, fv_tensor *w, fv_tensor *b, int heads,
                         bool rope, fv_tensor **y)
{
    const fv_lm_model_info *i = &s->m->info;
    fv_tensor *p;
    fv_status st = fv_op_matmul(g, h, w, b, &p);
    if (!st) st = reshape(g, p, 1, fv_tensor_dim(h, 0), heads, i->head_dim, 4, &p);
    if (st || !rope) {
        *y = p;
        return st;
    }
    const fv_rope_desc rd = {.theta = i->rope_theta, .layout = i->rope_layout, .pos_param = 1};
    return fv_op_rope(g, p, &rd, y);
}

static fv_status layer(fv_lm_session *s, fv_graph *g, int l, fv_tensor *x, fv_tensor **out)
{
    const fv_lm_model_info *i = &s->m->info;
    const lm_layer *y = &s->m->layers[l];
    const int64_t P = fv_tensor_dim(x, 0);
    fv_tensor *h, *q, *k, *v, *kv, *vv, *a, *gt, *up, *sw;
    fv_attention_result res;
    const fv_attention_desc ad = {.causal = true, .kv_len_param = 2, .q_pos_param = 1};
    fv_status st = fv_op_rmsnorm(g, x, y->attn_norm, i->rms_eps, &h);
    if (!st) st = project(s, g, h, y->q_w, y->q_b, i->heads, true, &q);
    if (!st) st = project(s, g, h, y->k_w, y->k_b, i->kv_heads, true, &k);
    if (!st) st = project(s, g, h, y->v_w, y->v_b, i->kv_heads, false, &v);
    if (!st) st = fv_op_cache_write(g, s->kc[l], k, 0, 1, &kv);
    if (!st) st = fv_op_cache_write(g, s->vc[l], v, 0, 1, &vv);
    if (!st) st = fv_op_attention(g, q, kv, vv, &ad, &res);
    if (!st) st = reshape(g, res.out, P, (int64_t)i->heads * i->head_dim, 0, 0, 2, &a);
    if (!st) st = fv_op_matmul(g, a, y->o_w, y->o_b, &a);
    if (!st) st = fv_op_add(g, x, a, &x);
    if (!st) st = fv_op_rmsnorm(g, x, y->ffn_norm, i->rms_eps, &h);
    if (!st) st = fv_op_matmul(g, h, y->gate_w, y->gate_b, &gt);
    if (!st) st = fv_op_matmul(g, h, y->up_w, y->up_b, &up);
    if (!st) st = fv_op_swiglu(g, gt, up, &sw);
    if (!st) st = fv_op_matmul(g, sw, y->down_w, y->down_b, &a);
    if (!st) st = fv_op_add(g, x, a, out);
    return st;
}

static void graph_free(lm_graph *G)
{
    fv_graph_destroy(G->g);
    fv_tensor_destroy(G->ids);
    fv_tensor_destroy(G->row);
    fv_tensor_destroy(G->sel);
    memset(G, 0, sizeof *G);
}

/* Builds, plans and records the forward over P rows; with `embeds`, rows
 * are picked from [token embeddings; embeds] by G->sel. */
static fv_status build(fv_lm_session *s, lm_graph *G, int P, bool all_logits, fv_tensor *embeds)
{
    const fv_lm_model *m = s->m;
    const fv_lm_model_info *i = &m->info;
    const double t0 = fv_time_ms();
    memset(G, 0, sizeof *G);
    G->P = P;
    G->all_logits = all_logits;
    const int64_t p64 = P, one = 1;
    fv_graph *g;
    fv_tensor *x, *t;
    fv_status st = fv_graph_create(s->ctx, &G->g);
    g = G->g;
    if (!st) st = fv_tensor_create(s->ctx, FV_DTYPE_I32, 1, &p64, &G->ids);
    if (!st) st = fv_op_gather_rows(g, m->embed, G->ids, &x);
    if (!st && embeds) {
        const int64_t rows = fv_tensor_numel(embeds) / i->hidden_size;
        G->embed_rows = rows;
        st = fv_tensor_create(s->ctx, FV_DTYPE_I32, 1, &p64, &G->sel);
        if (!st) st = reshape(g, embeds, rows, i->hidden_size, 0, 0, 2, &t);
        if (!st) st = fv_op_concat(g, x, t, 0, &t);
        if (!st) st = fv_op_gather_rows(g, t, G->sel, &x);
    }
    fv_tensor *hist = NULL;
    if (!st && penalised(&s->sampler) && !all_logits) {
        st = reshape(g, G->ids, 1, P, 1, 1, 4, &t);
        if (!st) st = fv_op_cache_write(g, s->history, t, 0, 1, &hist);
        if (!st) st = reshape(g, hist, 1, s->cap, 0, 0, 2, &hist);
    }
    for (int l = 0; l < i->layers && !st; l++) st = layer(s, g, l, x, &x);
    if (!st && !all_logits && P > 1) {
        st = fv_tensor_create(s->ctx, FV_DTYPE_I32, 1, &one, &G->row);
        if (!st) st = fv_op_gather_rows(g, x, G->row, &x);
    }
    if (!st) st = fv_op_rmsnorm(g, x, m->norm, i->rms_eps, &x);
    if (!st) st = fv_op_matmul(g, x, m->head, NULL, &G->logits);
    fv_sample_desc sd = {0}; /* greedy for verification */
    if (!all_logits) {
        const fv_lm_sampler *sm = &s->sampler;
        sd = (fv_sample_desc){.temperature = sm->temperature, .top_k = sm->top_k, .top_p = sm->top_p,
                              .repetition_penalty = sm->repetition_penalty, .history = hist,
                              .history_len_param = hist ? 2 : 0, .seed = sm->seed, .step_param = 2};
    }
    if (!st) st = fv_op_sample(g, G->logits, &sd, &G->token);
    if (!st) st = fv_graph_output(g, G->logits);
    if (!st) st = fv_graph_output(g, G->token);
    if (!st) st = fv_graph_plan(g);
    if (!st) st = fv_graph_record(g);
    if (st) graph_free(G);
    s->timings.build_ms += fv_time_ms() - t0;
    return st;
}

/* The cached graph for P rows, built on first use; with_embeds: one that
 * takes rows from the session's embeddings tensor (at its current size). */
static fv_status get_graph(fv_lm_session *s, int P, bool all_logits, bool with_embeds, lm_graph **out)
{
    const int64_t er = with_embeds ? fv_tensor_dim(s->embeds, 0) : 0;
    for (int k = 0; k < s->ngraphs; k++)
        if (s->graphs[k].P == P && s->graphs[k].all_logits == all_logits && s->graphs[k].embed_rows == er) {
            *out = &s->graphs[k];
            return FV_STATUS_OK;
        }
    if (s->ngraphs == LM_MAX_GRAPHS) { /* full: start again (never in practice: buckets are few) */
        for (int k = 0; k < s->ngraphs; k++) graph_free(&s->graphs[k]);
        s->ngraphs = 0;
        s->last = NULL;
    }
    lm_graph *G = &s->graphs[s->ngraphs];
    fv_status st = build(s, G, P, all_logits, with_embeds ? s->embeds : NULL);
    if (st) return st;
    s->ngraphs++;
    *out = G;
    return FV_STATUS_OK;
}

/* One forward of n tokens at the session's length; tokens[] gets the
 * sampled id (one, or n with all_logits). */
static fv_status forward(fv_lm_session *s, lm_graph *G, const int32_t *ids, int n, int32_t *tokens)
{
    if (n < 1 || n > G->P) return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: %d tokens for a %d-row graph", n, G->P);
    if (s->len + n > s->cap)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: %d tokens after %d do not fit the %d-token context",
                       n, s->len, s->cap);
    const int V = s->m->info.vocab_size;
    for (int k = 0; k < n; k++)
        if (ids[k] < 0 || ids[k] >= V)
            return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: token id %d at %d is outside the vocabulary (%d)",
                           ids[k], k, V);
    int32_t stack[64], *buf = G->P <= 64 ? stack : calloc((size_t)G->P, sizeof *buf);
    if (!buf) return fv_fail(s->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    memcpy(buf, ids, (size_t)n * sizeof *buf);
    memset(buf + n, 0, (size_t)(G->P - n) * sizeof *buf);
    fv_status st = fv_tensor_upload(G->ids, buf, (size_t)G->P * sizeof *buf);
    if (buf != stack) free(buf);
    const int32_t last = n - 1;
    if (!st && G->row) st = fv_tensor_upload(G->row, &last, sizeof last);
    if (!st) st = fv_graph_set_param(G->g, 0, s->len);
    if (!st) st = fv_graph_set_param(G->g, 1, s->len + n);
    if (!st) st = fv_graph_replay(G->g);
    if (!st) st = fv_tensor_download(G->token, tokens, (size_t)fv_tensor_numel(G->token) * sizeof *tokens);
    if (st) return st;
    s->len += n;
    s->last = G;
    s->last_row = G->all_logits ? n - 1 : 0;
    return FV_STATUS_OK;
}

/* ---- sessions ----------------------------------------------------------------- */

fv_status fv_lm_session_create(const fv_lm_model *m, const fv_lm_session_desc *desc, fv_lm_session **out)
{
    if (!m || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    const fv_lm_session_desc d = desc ? *desc : (fv_lm_session_desc){0};
    const fv_lm_model_info *i = &m->info;
    int cap = d.context_length ? d.context_length : (i->max_positions < 2048 ? i->max_positions : 2048);
    if (cap < 1 || cap > (1 << 24))
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: context length %d", d.context_length);
    const fv_lm_sampler *sm = &d.sampler;
    if (sm->top_k < 0 || sm->top_k > FV_SAMPLE_MAX_CANDIDATES || sm->repetition_penalty < 0)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: sampler top_k %d, repetition penalty %g", sm->top_k,
                       (double)sm->repetition_penalty);
    fv_lm_session *s = calloc(1, sizeof *s);
    if (!s) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    s->m = m;
    s->ctx = m->ctx;
    s->cap = cap;
    s->sampler = *sm;
    s->image_id = d.image_token_id == 0 ? i->image_token_id : d.image_token_id;
    s->kc = calloc((size_t)i->layers, sizeof *s->kc);
    s->vc = calloc((size_t)i->layers, sizeof *s->vc);
    fv_status st = s->kc && s->vc ? FV_STATUS_OK : fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    const int64_t cs[4] = {1, cap, i->kv_heads, i->head_dim}, hs[4] = {1, cap, 1, 1};
    for (int l = 0; l < i->layers && !st; l++) {
        st = fv_tensor_create(m->ctx, FV_DTYPE_F32, 4, cs, &s->kc[l]);
        if (!st) st = fv_tensor_create(m->ctx, FV_DTYPE_F32, 4, cs, &s->vc[l]);
    }
    if (!st) st = fv_tensor_create(m->ctx, FV_DTYPE_I32, 4, hs, &s->history);
    /* The KV caches are not cleared: the attention kernels never read past the
     * live keys (not even to weight a row by zero). The history is, so that a
     * sampler's first steps see no stale ids. */
    void *zero = st ? NULL : calloc(1, fv_tensor_nbytes(s->history));
    if (!st && !zero) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    if (!st) st = fv_tensor_upload(s->history, zero, fv_tensor_nbytes(s->history));
    free(zero);
    if (st) {
        fv_lm_session_destroy(s);
        return st;
    }
    *out = s;
    return FV_STATUS_OK;
}

static void drop_graphs(fv_lm_session *s)
{
    for (int k = 0; k < s->ngraphs; k++) graph_free(&s->graphs[k]);
    s->ngraphs = 0;
    s->last = NULL;
}

void fv_lm_session_destroy(fv_lm_session *s)
{
    if (!s) return;
    drop_graphs(s);
    for (int l = 0; l < s->m->info.layers; l++) {
        if (s->kc) fv_tensor_destroy(s->kc[l]);
        if (s->vc) fv_tensor_destroy(s->vc[l]);
    }
    fv_tensor_destroy(s->history);
    fv_tensor_destroy(s->embeds);
    free(s->kc);
    free(s->vc);
    free(s);
}

fv_status fv_lm_session_set_sampler(fv_lm_session *s, const fv_lm_sampler *sampler)
{
    if (!s || !sampler) return FV_STATUS_INVALID_ARGUMENT;
    if (sampler->top_k < 0 || sampler->top_k > FV_SAMPLE_MAX_CANDIDATES || sampler->repetition_penalty < 0)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: sampler top_k %d, repetition penalty %g",
                       sampler->top_k, (double)sampler->repetition_penalty);
    drop_graphs(s);
    s->sampler = *sampler;
    return FV_STATUS_OK;
}

int fv_lm_session_length(const fv_lm_session *s) { return s ? s->len : 0; }

fv_status fv_lm_session_rewind(fv_lm_session *s, int length)
{
    if (!s) return FV_STATUS_INVALID_ARGUMENT;
    if (length < 0 || length > s->len)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: rewind to %d of a %d-token session", length, s->len);
    s->len = length;
    s->last = NULL; /* those logits belong to a position no longer there */
    return FV_STATUS_OK;
}

/* ---- prefill and decode ------------------------------------------------------- */

/* Rows of the prefill graph for n tokens: n rounded up to a multiple of
 * LM_MIN_BUCKET, so a prompt computes at most 15 padding rows and a few
 * graphs serve every prompt length of a workload. */
static int bucket(int n)
{
    return (n + LM_MIN_BUCKET - 1) / LM_MIN_BUCKET * LM_MIN_BUCKET;
}

/* Copies the caller's embeddings e (m rows) into the session's embeddings
 * tensor, growing it (to a power of two, at least 64 rows) when m does not
 * fit: graphs that read the old one are dropped. The copy is a one-node
 * graph made for the call, because e may be any tensor, another graph's
 * output included (read through fv_tensor_alias); the prefill graphs
 * themselves are cached per length bucket. */
static fv_status copy_embeds(fv_lm_session *s, const fv_tensor *e, int64_t m)
{
    const int64_t D = s->m->info.hidden_size;
    if (!s->embeds || fv_tensor_dim(s->embeds, 0) < m) {
        int64_t rows = 64;
        while (rows < m) rows *= 2;
        drop_graphs(s);
        fv_tensor_destroy(s->embeds);
        s->embeds = NULL;
        const int64_t shape[2] = {rows, D};
        fv_status st = fv_tensor_create(s->ctx, FV_DTYPE_F32, 2, shape, &s->embeds);
        if (st) return st;
    }
    fv_graph *g = NULL;
    fv_tensor *src = NULL, *x = NULL, *dst = NULL, *view = NULL;
    fv_status st = fv_tensor_alias(e, &src);
    if (!st) st = fv_graph_create(s->ctx, &g);
    if (!st) st = reshape(g, src, 1, m, 1, D, 4, &x);
    if (!st) st = reshape(g, s->embeds, 1, fv_tensor_dim(s->embeds, 0), 1, D, 4, &dst);
    if (!st) st = fv_op_cache_write(g, dst, x, 0, 0, &view);
    if (!st) st = fv_graph_output(g, view);
    if (!st) st = fv_graph_plan(g);
    if (!st) st = fv_graph_record(g);
    if (!st) st = fv_graph_replay(g);
    fv_graph_destroy(g);
    fv_tensor_destroy(src);
    return st;
}

/* The prompt with input embeddings: its rows of the image token id take the
 * caller's embeddings, in order (one forward; the graph is the length
 * bucket's, cached like those of plain prompts). */
static fv_status prefill_embeds(fv_lm_session *s, const fv_lm_prompt *p, int32_t *next)
{
    const fv_lm_model_info *i = &s->m->info;
    const fv_tensor *e = p->embeds;
    const int64_t D = i->hidden_size;
    const int nd = fv_tensor_ndim(e);
    const int64_t rows = nd == 2 ? fv_tensor_dim(e, 0) : nd == 3 && fv_tensor_dim(e, 0) == 1 ? fv_tensor_dim(e, 1) : -1;
    if (fv_tensor_dtype(e) != FV_DTYPE_F32 || rows < 1 || fv_tensor_dim(e, -1) != D)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: input embeddings must be f32 [m, %lld] or [1, m, %lld]", (long long)D, (long long)D);
    int count = 0;
    for (int k = 0; k < p->n; k++) count += p->ids[k] == s->image_id;
    if (s->image_id < 0 || count != rows)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: %lld input embeddings for %d prompt tokens of the image token id %d", (long long)rows,
                       count, s->image_id);
    if (s->len + p->n > s->cap)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: %d tokens after %d do not fit the %d-token context",
                       p->n, s->len, s->cap);
    /* one forward over the whole prompt, however long: its bucket */
    const int P = bucket(p->n);
    fv_status st = copy_embeds(s, e, rows);
    lm_graph *G = NULL;
    if (!st) st = get_graph(s, P, false, true, &G);
    int32_t *sel = st ? NULL : malloc((size_t)P * sizeof *sel);
    if (!st && !sel) st = fv_fail(s->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    if (!st) {
        /* rows of [token embeddings (P); the session's embeddings]: image
         * rows take P + j, the others (padding included) their own row */
        for (int k = 0, j = 0; k < P; k++) sel[k] = k < p->n && p->ids[k] == s->image_id ? P + j++ : k;
        st = fv_tensor_upload(G->sel, sel, (size_t)P * sizeof *sel);
    }
    free(sel);
    int32_t tok;
    if (!st) st = forward(s, G, p->ids, p->n, &tok);
    if (!st && next) *next = tok;
    return st;
}

fv_status fv_lm_prefill(fv_lm_session *s, const fv_lm_prompt *p, int32_t *next)
{
    if (!s || !p || !p->ids || p->n < 1) return s ? fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: empty prompt")
                                                  : FV_STATUS_INVALID_ARGUMENT;
    const double t0 = fv_time_ms(), build0 = s->timings.build_ms;
    fv_status st = FV_STATUS_OK;
    int32_t tok = 0;
    if (p->embeds) {
        st = prefill_embeds(s, p, &tok);
    } else {
        for (int done = 0; done < p->n && !st;) {
            const int n = p->n - done < LM_MAX_BUCKET ? p->n - done : LM_MAX_BUCKET;
            const int P = n == 1 ? 1 : bucket(n);
            lm_graph *G;
            st = get_graph(s, P, false, false, &G);
            if (!st) st = forward(s, G, p->ids + done, n, &tok);
            done += n;
        }
    }
    if (st) return st;
    if (next) *next = tok;
    s->timings.prompt_tokens = p->n;
    /* building a graph on first use is a one-off, counted in build_ms only */
    s->timings.prefill_ms = fv_time_ms() - t0 - (s->timings.build_ms - build0);
    s->timings.prefill_tokens_per_s = s->timings.prefill_ms > 0 ? p->n / s->timings.prefill_ms * 1e3 : 0;
    return FV_STATUS_OK;
}

fv_status fv_lm_decode(fv_lm_session *s, int32_t token, int32_t *next)
{
    if (!s) return FV_STATUS_INVALID_ARGUMENT;
    lm_graph *G;
    int32_t tok;
    fv_status st = get_graph(s, 1, false, false, &G);
    if (!st) st = forward(s, G, &token, 1, &tok);
    if (!st && next) *next = tok;
    return st;
}

fv_status fv_lm_session_logits(const fv_lm_session *s, float *dst, size_t count)
{
    if (!s) return FV_STATUS_INVALID_ARGUMENT;
    const size_t V = (size_t)s->m->info.vocab_size;
    if (!s->last) return fv_fail(s->ctx, FV_STATUS_INVALID_STATE, "lm: no logits (nothing run since the last rewind)");
    if (!dst || count != V)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: the logits are %zu floats; %zu asked for", V, count);
    const size_t rows = (size_t)fv_tensor_dim(s->last->logits, 0);
    if (rows == 1) return fv_tensor_download(s->last->logits, dst, V * sizeof *dst);
    float *all = malloc(rows * V * sizeof *all);
    if (!all) return fv_fail(s->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    fv_status st = fv_tensor_download(s->last->logits, all, rows * V * sizeof *all);
    if (!st) memcpy(dst, all + (size_t)s->last_row * V, V * sizeof *dst);
    free(all);
    return st;
}

/* ---- generation --------------------------------------------------------------- */

typedef struct emitter {
    const fv_lm_generate_desc *d;
    int32_t stop[FV_LM_MAX_STOP_IDS];
    int nstop, max;
    int32_t *out;
    int capacity, count;
    bool done;
} emitter;

static fv_status emitter_init(const fv_lm_session *s, const fv_lm_generate_desc *desc, fv_lm_generate_desc *d,
                              emitter *e, int32_t *out, int capacity)
{
    *d = desc ? *desc : (fv_lm_generate_desc){0};
    if (d->max_new_tokens < 0 || d->n_stop_ids < 0 || d->n_stop_ids > FV_LM_MAX_STOP_IDS || capacity < 0 ||
        d->draft_tokens < 0 || d->draft_tokens > LM_MAX_DRAFT)
        return fv_fail(s->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: generate with max_new_tokens %d, %d stop ids, capacity %d, %d draft tokens (at most %d)",
                       d->max_new_tokens, d->n_stop_ids, capacity, d->draft_tokens, LM_MAX_DRAFT);
    memset(e, 0, sizeof *e);
    e->d = d;
    e->max = d->max_new_tokens ? d->max_new_tokens : 64;
    e->out = out;
    e->capacity = out ? capacity : 0;
    if (d->n_stop_ids) {
        e->nstop = d->n_stop_ids;
        memcpy(e->stop, d->stop_ids, sizeof e->stop);
    } else if (s->m->info.eos_id >= 0) {
        e->nstop = 1;
        e->stop[0] = s->m->info.eos_id;
    }
    return FV_STATUS_OK;
}

static bool is_stop(const emitter *e, int32_t tok)
{
    for (int k = 0; k < e->nstop; k++)
        if (tok == e->stop[k]) return true;
    return false;
}

/* Records a new token; sets e->done at a stop id, the limit, or a callback's no. */
static void emit(emitter *e, int32_t tok)
{
    if (e->count < e->capacity) e->out[e->count] = tok;
    e->count++;
    bool go = !e->d->on_token || e->d->on_token(tok, e->d->user_data);
    for (int k = 0; k < e->nstop; k++) go = go && tok != e->stop[k];
    if (!go || e->count >= e->max) e->done = true;
}

/* build_ms_since_first: graph building after the first token (one-offs, not
 * decoding) */
static void finish_timings(fv_lm_timings *t, double t0, double t_first, int count, double build_ms_since_first)
{
    t->new_tokens = count;
    t->first_token_ms = t_first - t0;
    t->decode_ms = fv_time_ms() - t_first - build_ms_since_first;
    t->decode_tokens_per_s = count > 1 && t->decode_ms > 0 ? (count - 1) / t->decode_ms * 1e3 : 0;
}

fv_status fv_lm_generate(fv_lm_session *s, const fv_lm_prompt *prompt, const fv_lm_generate_desc *desc,
                         int32_t *out, int capacity, int *count)
{
    if (!s || !prompt) return FV_STATUS_INVALID_ARGUMENT;
    if (count) *count = 0;
    fv_lm_generate_desc d;
    emitter e;
    fv_status st = emitter_init(s, desc, &d, &e, out, capacity);
    if (st) return st;
    const double t0 = fv_time_ms();
    int32_t tok;
    st = fv_lm_prefill(s, prompt, &tok);
    if (st) return st;
    const double t_first = fv_time_ms();
    const fv_lm_timings pre = s->timings;
    s->timings = (fv_lm_timings){.build_ms = pre.build_ms, .prompt_tokens = pre.prompt_tokens, .prefill_ms = pre.prefill_ms,
                                 .prefill_tokens_per_s = pre.prefill_tokens_per_s};
    emit(&e, tok);
    /* the last token is only fed back when another one is wanted */
    while (!e.done && s->len < s->cap && !st) {
        st = fv_lm_decode(s, tok, &tok);
        if (!st) emit(&e, tok);
    }
    finish_timings(&s->timings, t0, t_first, e.count, s->timings.build_ms - pre.build_ms);
    if (count) *count = e.count;
    return st;
}

fv_status fv_lm_generate_speculative(fv_lm_session *target, fv_lm_session *draft, const fv_lm_prompt *prompt,
                                     const fv_tensor *draft_embeds, const fv_lm_generate_desc *desc, int32_t *out,
                                     int capacity, int *count)
{
    if (!target || !draft || !prompt) return FV_STATUS_INVALID_ARGUMENT;
    if (count) *count = 0;
    fv_lm_session *T = target, *Dr = draft;
    if (!greedy(&T->sampler) || !greedy(&Dr->sampler))
        return fv_fail(T->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: speculative decoding needs greedy sessions (temperature 0, no repetition penalty)");
    if (T->len != Dr->len || T->m->info.vocab_size != Dr->m->info.vocab_size || T->ctx != Dr->ctx)
        return fv_fail(T->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: draft and target differ (lengths %d / %d, vocabularies %d / %d, or contexts)", T->len,
                       Dr->len, T->m->info.vocab_size, Dr->m->info.vocab_size);
    fv_lm_generate_desc d;
    emitter e;
    fv_status st = emitter_init(T, desc, &d, &e, out, capacity);
    if (st) return st;
    const int k = d.draft_tokens ? d.draft_tokens : 4;
    const double t0 = fv_time_ms();
    int32_t cur, ignored;
    st = fv_lm_prefill(T, prompt, &cur);
    fv_lm_prompt dp = *prompt;
    dp.embeds = draft_embeds;
    if (!st) st = fv_lm_prefill(Dr, &dp, &ignored);
    if (st) return st;
    const double t_first = fv_time_ms();
    fv_lm_timings *t = &T->timings;
    const fv_lm_timings pre = *t;
    const double draft_build0 = Dr->timings.build_ms;
    *t = (fv_lm_timings){.build_ms = pre.build_ms, .prompt_tokens = pre.prompt_tokens, .prefill_ms = pre.prefill_ms,
                         .prefill_tokens_per_s = pre.prefill_tokens_per_s};
    emit(&e, cur);
    int32_t prop[LM_MAX_DRAFT + 1], ver[LM_MAX_DRAFT + 1];
    while (!e.done && !st) {
        const int L = T->len, room = T->cap - L - 1 < Dr->cap - Dr->len - 1 ? T->cap - L - 1 : Dr->cap - Dr->len - 1;
        if ((k < room ? k : room) < 1) break; /* the context is full */
        /* the draft proposes up to k tokens after cur: no more than the
         * answer may still take, and none past a stop token of its own */
        const int left = e.max - e.count;
        int kk = k < room ? k : room;
        kk = kk < left ? kk : left > 1 ? left : 1;
        double ta = fv_time_ms();
        prop[0] = cur;
        for (int j = 1; j <= kk && !st; j++) {
            st = fv_lm_decode(Dr, prop[j - 1], &prop[j]);
            if (!st && is_stop(&e, prop[j])) kk = j;
        }
        double tb = fv_time_ms();
        t->draft_ms += tb - ta;
        /* the target's greedy choice after each of cur, prop[1..kk] in one forward */
        lm_graph *G;
        if (!st) st = get_graph(T, kk + 1, true, false, &G);
        if (!st) st = forward(T, G, prop, kk + 1, ver);
        t->verify_ms += fv_time_ms() - tb;
        if (st) break;
        int a = 0;
        while (a < kk && prop[a + 1] == ver[a]) a++;
        t->rounds++;
        t->drafted += kk;
        t->accepted += a;
        /* the caches hold cur, prop[1..a] (valid) and the rest (rolled back) */
        int emitted = 0;
        for (int j = 1; j <= a && !e.done; j++, emitted++) emit(&e, prop[j]);
        if (!e.done) emit(&e, ver[a]), emitted++;
        cur = ver[a];
        T->len = L + emitted;
        if (!e.done && a == kk) {
            /* every proposal was kept: the draft has not seen prop[kk] yet */
            Dr->len = L + kk;
            st = fv_lm_decode(Dr, prop[kk], &ignored);
        } else {
            Dr->len = L + emitted < L + kk ? L + emitted : L + kk;
        }
        T->last = Dr->last = NULL;
    }
    t->acceptance_rate = t->drafted ? (double)t->accepted / t->drafted : 0;
    finish_timings(t, t0, t_first, e.count, t->build_ms - pre.build_ms + Dr->timings.build_ms - draft_build0);
    if (count) *count = e.count;
    return st;
}

fv_status fv_lm_session_timings(const fv_lm_session *s, fv_lm_timings *out)
{
    if (!s || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = s->timings;
    return FV_STATUS_OK;
}
