/* Vision encoders: the ViT forward pass as one graph, built, planned and
 * recorded once per input size, replayed per image.
 *
 *   pixels [1, C, H, W] ─ patchify ─ matmul(patch kernel [D, C·p·p]) (+ bias)
 *     ─ [CLS] concat ─ + positions ─ pre-norm            = hidden state 0
 *   layer i: x += out_proj(attention(q, k, v of layernorm1(x)))
 *            x += fc2(act(fc1(layernorm2(x))))            = hidden state i
 *
 * The attention is fovea's fused kernel (fv_op_attention): q, k and v are
 * the projections' outputs viewed as [1, N, heads, head size] without a
 * copy, and the statistics token compression needs ([CLS] row, attention
 * received, mean keys) come out of the same node for the layers that ask.
 * The graph ends at the last layer anything needs, so a LLaVA encoder that
 * reads layer -2 never runs the last one.
 *
 * ToMe (desc.tome_r): after the attention's residual add, fv_op_tome merges
 * r tokens on the attention's mean keys (asked of the same node), and every
 * later attention gets log(size) as its key bias. The counts are known when
 * the graph is built (N - min(r, (N - cls) / 2) per layer), so it is still
 * recorded once; each layer's destination map stays readable and
 * fv_vision_encoder_token_groups composes them. */
#include "vit_internal.h"

#include <stdlib.h>
#include <string.h>

struct fv_vision_encoder {
    const fv_vision_model *m;
    fv_context *ctx;
    fv_graph *g;
    fv_tensor *input;   /* [1, C, H, W], owned */
    fv_tensor *pos;     /* a resized position table, owned; NULL: the model's */
    fv_tensor *index0;  /* i32 [1] = 0: selects [CLS] for CLIP's pooled output */
    fv_tensor *output, *pooled;
    fv_tensor *hidden[FV_VISION_MAX_LAYERS + 1];
    fv_attention_result stats[FV_VISION_MAX_LAYERS + 1]; /* by layer number */
    fv_tensor *tome_dest[FV_VISION_MAX_LAYERS + 1];       /* by layer number; NULL: no merge there */
    int tokens[FV_VISION_MAX_LAYERS + 1];                 /* by hidden-state number */
    fv_vision_encoder_info info;
    fv_vision_timings timings;
};

/* A hidden-state number (1 .. L, negative from the end, 0 = default) as 0 .. L; -1 when out of range. */
static int resolve_layer(int layer, int L, int if_zero)
{
    if (layer == 0) return if_zero;
    int l = layer < 0 ? L + 1 + layer : layer;
    return l >= 0 && l <= L ? l : -1;
}

fv_status fv_vision_encode_desc_stats(fv_vision_encode_desc *desc, const fv_vision_model *m, int layer, unsigned bits)
{
    if (!desc || !m) return FV_STATUS_INVALID_ARGUMENT;
    const int l = resolve_layer(layer, m->info.layers, -1);
    if (l < 1)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "vision: layer %d has no attention (the model has %d layers)", layer, m->info.layers);
    desc->stats[l - 1] |= bits;
    return FV_STATUS_OK;
}

/* ---- graph -------------------------------------------------------------------- */

static fv_status activation(fv_graph *g, vit_act act, fv_tensor *x, fv_tensor **y)
{
    switch (act) {
    case VIT_ACT_QUICK_GELU:
        return fv_op_quick_gelu(g, x, y);
    case VIT_ACT_GELU:
        return fv_op_gelu(g, x, y);
    case VIT_ACT_GELU_TANH:
        return fv_op_gelu_tanh(g, x, y);
    default:
        return fv_op_silu(g, x, y);
    }
}

/* fc2(act(fc1(x))) */
static fv_status mlp(fv_graph *g, vit_act act, fv_tensor *x, fv_tensor *w1, fv_tensor *b1, fv_tensor *w2,
                     fv_tensor *b2, fv_tensor **y)
{
    fv_tensor *h, *a;
    fv_status st = fv_op_matmul(g, x, w1, b1, &h);
    if (!st) st = activation(g, act, h, &a);
    if (!st) st = fv_op_matmul(g, a, w2, b2, y);
    return st;
}

/* y = x · wᵀ + b viewed as [1, n, heads, head size] */
static fv_status project_heads(fv_graph *g, fv_tensor *x, fv_tensor *w, fv_tensor *b, int heads, fv_tensor **y)
{
    fv_tensor *p;
    fv_status st = fv_op_matmul(g, x, w, b, &p);
    if (st) return st;
    const int64_t n = fv_tensor_dim(p, -2), d = fv_tensor_dim(p, -1);
    const int64_t shape[4] = {1, n, heads, d / heads};
    return fv_op_reshape(g, p, 4, shape, y);
}

/* out_proj(attention(q_in → q, kv_in → k, v)), as [1, nq, D]; key_bias may be NULL */
static fv_status attention_block(fv_graph *g, int heads, fv_tensor *q_in, fv_tensor *kv_in, fv_tensor *const w[8],
                                 unsigned stats, fv_tensor *key_bias, fv_attention_result *res, fv_tensor **y)
{
    fv_tensor *q, *k, *v, *o;
    fv_status st = project_heads(g, q_in, w[0], w[1], heads, &q);
    if (!st) st = project_heads(g, kv_in, w[2], w[3], heads, &k);
    if (!st) st = project_heads(g, kv_in, w[4], w[5], heads, &v);
    fv_attention_desc ad = {.stats = stats, .key_bias = key_bias};
    if (!st) st = fv_op_attention(g, q, k, v, &ad, res);
    if (st) return st;
    const int64_t shape[3] = {1, fv_tensor_dim(q, 1), fv_tensor_dim(q_in, -1)};
    st = fv_op_reshape(g, res->out, 3, shape, &o);
    if (!st) st = fv_op_matmul(g, o, w[6], w[7], y);
    return st;
}

/* ToMe's state between layers: token sizes and their logarithms (NULL
 * before the first merge: all 1), and this layer's merge count. */
typedef struct tome_state {
    int r;
    fv_tensor *size, *log_size;
    fv_tensor *dest; /* out: this layer's destination map, or NULL */
} tome_state;

static fv_status encoder_layer(fv_graph *g, const fv_vision_model *m, const vit_layer *ly, fv_tensor *x,
                               unsigned stats, tome_state *tm, fv_attention_result *res, fv_tensor **y)
{
    fv_tensor *h, *a, *f;
    fv_tensor *const w[8] = {ly->q_w, ly->q_b, ly->k_w, ly->k_b, ly->v_w, ly->v_b, ly->o_w, ly->o_b};
    const unsigned asked = stats | (tm->r > 0 ? FV_ATTENTION_STAT_MEAN_KEYS : 0u);
    fv_status st = fv_op_layernorm(g, x, ly->ln1_w, ly->ln1_b, m->eps, &h);
    if (!st) st = attention_block(g, m->info.heads, h, h, w, asked, tm->log_size, res, &a);
    if (!st) st = fv_op_add(g, x, a, &x);
    tm->dest = NULL;
    if (!st && tm->r > 0) {
        fv_tome_result t;
        st = fv_op_tome(g, x, res->mean_keys, tm->size, tm->r, m->info.has_cls, &t);
        if (!st) {
            x = t.x;
            tm->size = t.size;
            tm->log_size = t.log_size;
            tm->dest = t.dest;
        }
        if (!(stats & FV_ATTENTION_STAT_MEAN_KEYS)) res->mean_keys = NULL; /* asked for ToMe only */
    }
    if (!st) st = fv_op_layernorm(g, x, ly->ln2_w, ly->ln2_b, m->eps, &h);
    if (!st) st = mlp(g, m->act, h, ly->fc1_w, ly->fc1_b, ly->fc2_w, ly->fc2_b, &f);
    if (!st) st = fv_op_add(g, x, f, y);
    return st;
}

/* hidden state 0: patches · kernel (+ bias), [CLS] in front, + positions, pre-norm */
static fv_status embeddings(fv_vision_encoder *e, fv_tensor **y)
{
    const fv_vision_model *m = e->m;
    fv_graph *g = e->g;
    fv_tensor *p, *x;
    fv_status st = fv_op_patchify(g, e->input, m->info.patch_size, &p);
    if (!st) st = fv_op_matmul(g, p, m->patch_w, m->patch_b, &x);
    if (!st && m->cls) st = fv_op_concat(g, m->cls, x, 1, &x);
    if (!st) st = fv_op_add(g, x, e->pos ? e->pos : m->pos, &x);
    if (!st && m->pre_w) st = fv_op_layernorm(g, x, m->pre_w, m->pre_b, m->eps, &x);
    if (!st) *y = x;
    return st;
}

/* CLIP: post_layernorm of the last layer's [CLS]. SigLIP: the pooling head
 * over the post-normed last layer. [1, D]. */
static fv_status pooled_output(fv_vision_encoder *e, fv_tensor *last, fv_tensor **y)
{
    const fv_vision_model *m = e->m;
    fv_graph *g = e->g;
    const int64_t D = m->info.hidden_size, N = fv_tensor_dim(last, 1), flat[2] = {N, D}, row[2] = {1, D};
    fv_tensor *x, *t;
    fv_status st;
    if (m->info.arch == FV_VISION_ARCH_CLIP) {
        if (!m->post_w) return fv_fail(m->ctx, FV_STATUS_UNSUPPORTED, "vision: the model has no post_layernorm");
        const int64_t one = 1;
        const int32_t zero = 0;
        st = fv_tensor_create(m->ctx, FV_DTYPE_I32, 1, &one, &e->index0);
        if (!st) st = fv_tensor_upload(e->index0, &zero, sizeof zero);
        if (!st) st = fv_op_reshape(g, last, 2, flat, &x);
        if (!st) st = fv_op_gather_rows(g, x, e->index0, &t);
        if (!st) st = fv_op_layernorm(g, t, m->post_w, m->post_b, m->eps, y);
        return st;
    }
    const vit_head *h = &m->head;
    if (!h->probe || !m->post_w)
        return fv_fail(m->ctx, FV_STATUS_UNSUPPORTED, "vision: the model has no pooling head");
    fv_tensor *const w[8] = {h->q_w, h->q_b, h->k_w, h->k_b, h->v_w, h->v_b, h->o_w, h->o_b};
    fv_attention_result res;
    fv_tensor *a, *f;
    st = fv_op_layernorm(g, last, m->post_w, m->post_b, m->eps, &x);
    if (!st) st = attention_block(g, m->info.heads, h->probe, x, w, 0, NULL, &res, &a);
    if (!st) st = fv_op_layernorm(g, a, h->ln_w, h->ln_b, m->eps, &t);
    if (!st) st = mlp(g, m->act, t, h->fc1_w, h->fc1_b, h->fc2_w, h->fc2_b, &f);
    if (!st) st = fv_op_add(g, a, f, &t);
    if (!st) st = fv_op_reshape(g, t, 2, row, y);
    return st;
}

static fv_status build(fv_vision_encoder *e, const fv_vision_encode_desc *d, int out_layer, int run)
{
    const fv_vision_model *m = e->m;
    fv_graph *g = e->g;
    fv_tensor *x;
    fv_status st = embeddings(e, &x);
    if (st) return st;
    e->hidden[0] = x;
    e->tokens[0] = (int)fv_tensor_dim(x, 1);
    tome_state tm = {0};
    const int protect = m->info.has_cls ? 1 : 0;
    for (int l = 1; l <= run && !st; l++) {
        tm.r = FV_MIN(d->tome_r, (e->tokens[l - 1] - protect) / 2);
        st = encoder_layer(g, m, &m->layers[l - 1], x, d->stats[l - 1], &tm, &e->stats[l], &x);
        e->hidden[l] = x;
        e->tome_dest[l] = tm.dest;
        e->tokens[l] = e->tokens[l - 1] - FV_MAX(tm.r, 0);
        if (!st && tm.dest) st = fv_graph_output(g, tm.dest);
    }
    if (st) return st;
    e->output = e->hidden[out_layer];
    if (d->post_norm) {
        if (!m->post_w) return fv_fail(m->ctx, FV_STATUS_UNSUPPORTED, "vision: the model has no post_layernorm");
        st = fv_op_layernorm(g, e->output, m->post_w, m->post_b, m->eps, &e->output);
    }
    if (!st && d->pooled) st = pooled_output(e, e->hidden[run], &e->pooled);
    /* what the caller can read stays alive to the end of the graph */
    if (!st) st = fv_graph_output(g, e->output);
    if (!st && e->pooled) st = fv_graph_output(g, e->pooled);
    for (int l = 0; l <= run && !st; l++) {
        /* without keep_all only the output's own hidden state stays readable */
        if (d->keep_all) st = fv_graph_output(g, e->hidden[l]);
        else if (l != out_layer || d->post_norm) e->hidden[l] = NULL;
        fv_tensor *s[3] = {e->stats[l].cls_attention, e->stats[l].received, e->stats[l].mean_keys};
        for (int k = 0; k < 3 && !st; k++)
            if (s[k]) st = fv_graph_output(g, s[k]);
    }
    return st;
}

fv_status fv_vision_encoder_create(const fv_vision_model *m, const fv_vision_encode_desc *desc,
                                   fv_vision_encoder **out)
{
    if (!m || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    fv_vision_encode_desc d = {0};
    if (desc) d = *desc;
    const fv_vision_model_info *mi = &m->info;
    const int L = mi->layers, p = mi->patch_size;
    const int W = d.width ? d.width : mi->image_size, H = d.height ? d.height : mi->image_size;
    if (W < p || H < p || W > 65536 || H > 65536)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: input %dx%d for patch size %d", W, H, p);
    if (d.tome_r < 0) return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: tome_r %d is negative", d.tome_r);
    const int out_layer = resolve_layer(d.layer, L, L);
    if (out_layer < 0)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: output layer %d of a %d-layer model", d.layer, L);
    int run = d.keep_all || d.pooled ? L : out_layer;
    for (int l = 1; l <= FV_VISION_MAX_LAYERS; l++) {
        if (!d.stats[l - 1]) continue;
        if (l > L)
            return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                           "vision: statistics asked of layer %d of a %d-layer model", l, L);
        run = FV_MAX(run, l);
    }
    const double t0 = fv_time_ms();
    fv_vision_encoder *e = calloc(1, sizeof *e);
    if (!e) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    e->m = m;
    e->ctx = m->ctx;
    const int gw = W / p, gh = H / p;
    const int64_t in_shape[4] = {1, mi->channels, H, W};
    fv_status st = fv_tensor_create(m->ctx, FV_DTYPE_F32, 4, in_shape, &e->input);
    if (!st && (gw != mi->grid || gh != mi->grid)) st = fv_vit_position_table(m, gh, gw, &e->pos);
    if (!st) st = fv_graph_create(m->ctx, &e->g);
    if (!st) st = build(e, &d, out_layer, run);
    if (!st) st = fv_graph_plan(e->g);
    if (!st) st = fv_graph_record(e->g);
    if (st) {
        fv_vision_encoder_destroy(e);
        return st;
    }
    e->info = (fv_vision_encoder_info){.width = W,
                                       .height = H,
                                       .grid_w = gw,
                                       .grid_h = gh,
                                       .tokens = e->tokens[out_layer],
                                       .input_tokens = gw * gh + (mi->has_cls ? 1 : 0),
                                       .hidden_size = mi->hidden_size,
                                       .output_layer = out_layer,
                                       .layers_run = run,
                                       .nodes = fv_graph_node_count(e->g),
                                       .arena_bytes = fv_graph_arena_bytes(e->g)};
    e->timings.build_ms = fv_time_ms() - t0;
    *out = e;
    return FV_STATUS_OK;
}

void fv_vision_encoder_destroy(fv_vision_encoder *enc)
{
    if (!enc) return;
    fv_graph_destroy(enc->g);
    fv_tensor_destroy(enc->input);
    fv_tensor_destroy(enc->pos);
    fv_tensor_destroy(enc->index0);
    free(enc);
}

/* ---- running and reading ------------------------------------------------------ */

fv_status fv_vision_encoder_run(fv_vision_encoder *enc, const float *pixels, size_t count)
{
    if (!enc) return FV_STATUS_INVALID_ARGUMENT;
    const double t0 = fv_time_ms();
    if (pixels) {
        const size_t want = (size_t)fv_tensor_numel(enc->input);
        if (count != want)
            return fv_fail(enc->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: %zu pixel values given; the %dx%d input "
                           "takes %zu", count, enc->info.width, enc->info.height, want);
        fv_status st = fv_tensor_upload(enc->input, pixels, want * sizeof *pixels);
        if (st) return st;
    }
    const double t1 = fv_time_ms();
    fv_status st = fv_graph_replay(enc->g);
    if (st) return st;
    enc->timings.upload_ms = t1 - t0;
    enc->timings.encode_ms = fv_graph_last_replay_ms(enc->g);
    return FV_STATUS_OK;
}

fv_tensor *fv_vision_encoder_input(const fv_vision_encoder *enc) { return enc ? enc->input : NULL; }
fv_tensor *fv_vision_encoder_output(const fv_vision_encoder *enc) { return enc ? enc->output : NULL; }
fv_tensor *fv_vision_encoder_pooled(const fv_vision_encoder *enc) { return enc ? enc->pooled : NULL; }

fv_tensor *fv_vision_encoder_hidden_state(const fv_vision_encoder *enc, int layer)
{
    if (!enc) return NULL;
    const int l = resolve_layer(layer, enc->m->info.layers, 0); /* here 0 is hidden state 0 */
    return l < 0 || l > enc->info.layers_run ? NULL : enc->hidden[l];
}

fv_tensor *fv_vision_encoder_attention_stat(const fv_vision_encoder *enc, int layer, unsigned bit)
{
    if (!enc) return NULL;
    const int l = resolve_layer(layer, enc->m->info.layers, -1);
    if (l < 1 || l > enc->info.layers_run) return NULL;
    const fv_attention_result *r = &enc->stats[l];
    return bit == FV_ATTENTION_STAT_CLS        ? r->cls_attention
           : bit == FV_ATTENTION_STAT_RECEIVED ? r->received
           : bit == FV_ATTENTION_STAT_MEAN_KEYS ? r->mean_keys
                                                : NULL;
}

static fv_status read_tensor(const fv_vision_encoder *enc, const fv_tensor *t, const char *what, float *dst,
                             size_t count)
{
    if (!t) return fv_fail(enc->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: %s was not asked for", what);
    if (!dst || count != (size_t)fv_tensor_numel(t))
        return fv_fail(enc->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: %s holds %lld floats; %zu asked for", what,
                       (long long)fv_tensor_numel(t), count);
    return fv_tensor_download(t, dst, count * sizeof *dst);
}

fv_status fv_vision_encoder_read_output(const fv_vision_encoder *enc, float *dst, size_t count)
{
    if (!enc) return FV_STATUS_INVALID_ARGUMENT;
    return read_tensor(enc, enc->output, "the output", dst, count);
}

fv_status fv_vision_encoder_read_stat(const fv_vision_encoder *enc, int layer, unsigned bit, float *dst, size_t count)
{
    if (!enc) return FV_STATUS_INVALID_ARGUMENT;
    return read_tensor(enc, fv_vision_encoder_attention_stat(enc, layer, bit), "that attention statistic", dst, count);
}

fv_status fv_vision_encoder_get_info(const fv_vision_encoder *enc, fv_vision_encoder_info *out)
{
    if (!enc || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = enc->info;
    return FV_STATUS_OK;
}

fv_status fv_vision_encoder_token_groups(const fv_vision_encoder *enc, int32_t *group, size_t count)
{
    if (!enc || !group) return FV_STATUS_INVALID_ARGUMENT;
    const int n0 = enc->info.input_tokens;
    if (count != (size_t)n0)
        return fv_fail(enc->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: %zu groups asked for; the input has %d tokens",
                       count, n0);
    for (int i = 0; i < n0; i++) group[i] = i;
    int32_t *dest = malloc((size_t)n0 * sizeof *dest);
    if (!dest) return fv_fail(enc->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    fv_status st = FV_STATUS_OK;
    /* compose the layers' maps up to the output's layer: token i sits in row group[i] */
    for (int l = 1; l <= enc->info.output_layer && !st; l++) {
        if (!enc->tome_dest[l]) continue;
        const int n = enc->tokens[l - 1];
        st = fv_tensor_download(enc->tome_dest[l], dest, (size_t)n * sizeof *dest);
        for (int i = 0; i < n0 && !st; i++) group[i] = dest[group[i]];
    }
    free(dest);
    return st;
}

fv_status fv_vision_encoder_timings(const fv_vision_encoder *enc, fv_vision_timings *out)
{
    if (!enc || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = enc->timings;
    return FV_STATUS_OK;
}
