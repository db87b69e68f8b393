/* Visual-token compression: the methods as graphs over a vision encoder's
 * outputs. Semantics and the [CLS] rule: include/fovea/compress.h.
 *
 * The compressor's graph reads the encoder's output and statistics
 * tensors where they lie: each is an fv_tensor_alias of the encoder's
 * tensor (the encoder's graph marked them as outputs, so that memory is
 * theirs alone and survives its replay). A run
 * is then one replay of a small graph, no data through the host.
 *
 * Every selection method ends the same way: a flag per patch (ops/topk.c,
 * ops/kcenter.c), compacted into ascending indices with [CLS] in front,
 * and a gather of those rows. */
#include "compress_internal.h"
#include "load_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALIASES 16

struct fv_compressor {
    fv_vision_encoder *enc;     /* or NULL, and the inputs in `in` */
    fv_compress_inputs in;
    fv_context *ctx;
    fv_compress_desc d;
    fv_graph *g;
    fv_tensor *alias[MAX_ALIASES];
    int naliases;
    int L, n, skip, gw, gh, N, D, k, K;
    int kd, kc;             /* visionzip: dominant and contextual counts */
    fv_tensor *tokens;      /* [1, K, D] */
    fv_tensor *indices;     /* i32 [K] (visionzip: the dominant part) or NULL */
    fv_tensor *assign;      /* visionzip: i32 [n + kc] */
    int32_t *host_idx;      /* [K] */
    int32_t *host_assign;   /* visionzip: [n + kc] */
    int32_t *host_const;    /* random / stride: the indices, known at build */
    double run_ms;
};

static const char *const method_names[FV_COMPRESS_COUNT_] = {
    [FV_COMPRESS_NONE] = NULL,          [FV_COMPRESS_FASTERVLM] = "fastervlm", [FV_COMPRESS_VTC_CLS] = "vtc-cls",
    [FV_COMPRESS_HIPRUNE] = "hiprune",  [FV_COMPRESS_DIVPRUNE] = "divprune",   [FV_COMPRESS_TODRE] = "todre",
    [FV_COMPRESS_HIRED] = "hired",      [FV_COMPRESS_VISIONZIP] = "visionzip", [FV_COMPRESS_TOME] = "tome",
    [FV_COMPRESS_FOURIER] = "fourier",  [FV_COMPRESS_RANDOM] = "random",       [FV_COMPRESS_STRIDE] = "stride",
};

const char *fv_compress_method_name(fv_compress_method m)
{
    return m > FV_COMPRESS_NONE && m < FV_COMPRESS_COUNT_ ? method_names[m] : NULL;
}

fv_status fv_compress_method_from_name(const char *name, fv_compress_method *out)
{
    if (!name || !out) return FV_STATUS_INVALID_ARGUMENT;
    for (int m = FV_COMPRESS_NONE + 1; m < FV_COMPRESS_COUNT_; m++)
        if (!strcmp(name, method_names[m])) {
            *out = (fv_compress_method)m;
            return FV_STATUS_OK;
        }
    return FV_STATUS_INVALID_ARGUMENT;
}

/* ---- the resolved plan of a method: budget and layers ----------------- */

typedef struct plan {
    int k;                 /* patch budget */
    int nlayers;           /* layers read, with their statistic bits */
    int layer[FV_COMPRESS_MAX_LAYERS + 2];
    unsigned bits[FV_COMPRESS_MAX_LAYERS + 2];
    int object, last, early, tiles;
    float alpha, contextual;
} plan;

/* 1 .. L, or 0 when out of range; `dflt` when layer is 0 */
static int resolve(int layer, int L, int dflt)
{
    if (layer == 0) layer = dflt;
    if (layer < 0) layer += L + 1;
    return layer >= 1 && layer <= L ? layer : 0;
}

static bool needs_cls(fv_compress_method m)
{
    return m == FV_COMPRESS_FASTERVLM || m == FV_COMPRESS_VTC_CLS || m == FV_COMPRESS_HIRED ||
           m == FV_COMPRESS_VISIONZIP;
}

static fv_status add_layer(fv_context *ctx, plan *p, int layer, int given, int L, unsigned bits)
{
    if (!layer)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: layer %d of a %d-layer encoder", given, L);
    p->layer[p->nlayers] = layer;
    p->bits[p->nlayers++] = bits;
    return FV_STATUS_OK;
}

static fv_status make_plan(fv_context *ctx, const fv_compress_desc *d, const fv_vision_model_info *mi, int n, plan *p)
{
    memset(p, 0, sizeof *p);
    const int L = mi->layers;
    if (!fv_compress_method_name(d->method))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: unknown method %d", (int)d->method);
    const char *name = fv_compress_method_name(d->method);
    if (needs_cls(d->method) && !mi->has_cls)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "compress: %s scores tokens by [CLS] attention and this model has no [CLS] token", name);
    if (d->budget < 0 || d->budget > n || (d->budget == 0 && !(d->keep > 0.0f && d->keep <= 1.0f)))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "compress: budget %d / keep %g for %d patch tokens: give 0 < budget <= %d or 0 < keep <= 1",
                       d->budget, (double)d->keep, n, n);
    p->k = d->budget ? d->budget : (int)lround((double)d->keep * n);
    if (p->k < 1)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: keep %g of %d patch tokens rounds to none",
                       (double)d->keep, n);
    fv_status st = FV_STATUS_OK;
    switch (d->method) {
    case FV_COMPRESS_FASTERVLM:
        st = add_layer(ctx, p, resolve(d->layer, L, -2), d->layer ? d->layer : -2, L, FV_ATTENTION_STAT_CLS);
        break;
    case FV_COMPRESS_VTC_CLS: {
        bool any = false;
        for (int i = 0; i < FV_COMPRESS_MAX_LAYERS && !st; i++)
            if (d->layers[i]) {
                any = true;
                st = add_layer(ctx, p, resolve(d->layers[i], L, 0), d->layers[i], L, FV_ATTENTION_STAT_CLS);
            }
        for (int i = 0; !any && i < 4 && L + 1 - 2 - i >= 1; i++)
            st = add_layer(ctx, p, L - 1 - i, L - 1 - i, L, FV_ATTENTION_STAT_CLS);
        if (!st && p->nlayers == 0) st = add_layer(ctx, p, L, L, L, FV_ATTENTION_STAT_CLS);
        break;
    }
    case FV_COMPRESS_HIPRUNE:
        p->object = resolve(d->object_layer, L, FV_MAX(1, L / 2));
        p->last = resolve(d->layer, L, -1);
        p->alpha = d->alpha > 0.0f ? d->alpha : 0.1f;
        if (p->alpha > 1.0f)
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: hiprune alpha %g > 1", (double)p->alpha);
        st = add_layer(ctx, p, p->object, d->object_layer, L, FV_ATTENTION_STAT_RECEIVED);
        if (!st) st = add_layer(ctx, p, p->last, d->layer ? d->layer : -1, L, FV_ATTENTION_STAT_RECEIVED);
        break;
    case FV_COMPRESS_HIRED:
        p->early = resolve(d->early_layer, L, FV_MAX(1, L / 4));
        p->last = resolve(d->layer, L, -1);
        p->tiles = d->tiles ? d->tiles : 2;
        if (p->tiles < 1 || p->tiles * p->tiles > 16 /* token_select's tile limit */)
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: hired tiles %d (1 .. 4 per side)", d->tiles);
        st = add_layer(ctx, p, p->early, d->early_layer, L, FV_ATTENTION_STAT_CLS);
        if (!st) st = add_layer(ctx, p, p->last, d->layer ? d->layer : -1, L, FV_ATTENTION_STAT_CLS);
        break;
    case FV_COMPRESS_VISIONZIP:
        p->contextual = d->contextual > 0.0f ? d->contextual : 10.0f / 64.0f;
        if (p->contextual >= 1.0f)
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: visionzip contextual share %g >= 1",
                           (double)p->contextual);
        st = add_layer(ctx, p, resolve(d->layer, L, -2), d->layer ? d->layer : -2, L,
                       FV_ATTENTION_STAT_CLS | FV_ATTENTION_STAT_MEAN_KEYS);
        break;
    case FV_COMPRESS_FOURIER: {
        int kk = (int)lround(sqrt((double)p->k));
        p->k = FV_MAX(1, kk) * FV_MAX(1, kk);
        break;
    }
    default:
        break;
    }
    return st;
}

fv_status fv_compress_prepare_encode(const fv_compress_desc *desc, const fv_vision_model *m,
                                     fv_vision_encode_desc *encode)
{
    if (!desc || !m || !encode) return FV_STATUS_INVALID_ARGUMENT;
    fv_vision_model_info mi;
    fv_status st = fv_vision_model_get_info(m, &mi);
    if (st) return st;
    fv_context *ctx = fv_vision_model_context(m);
    /* the grid of the encoder's input size */
    const int w = encode->width ? encode->width : mi.image_size, h = encode->height ? encode->height : mi.image_size;
    plan p;
    st = make_plan(ctx, desc, &mi, (w / mi.patch_size) * (h / mi.patch_size), &p);
    for (int i = 0; i < p.nlayers && !st; i++) st = fv_vision_encode_desc_stats(encode, m, p.layer[i], p.bits[i]);
    if (!st && desc->method == FV_COMPRESS_TOME) {
        /* ToMe's constant schedule: r tokens merged in each of the layers up
         * to the output, r = ceil((n - k) / layers), so the output never holds
         * more than k patch tokens (at most layers - 1 fewer) */
        const int layers = resolve(encode->layer, mi.layers, mi.layers), n = (w / mi.patch_size) * (h / mi.patch_size);
        if (!layers) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: output layer %d", encode->layer);
        encode->tome_r = (n - p.k + layers - 1) / layers;
    }
    return st;
}

/* ---- building the graph ------------------------------------------------ */

/* `t`, a tensor of the encoder's graph that it keeps alive (an output), as
 * an input this graph may read (fv_tensor_alias: the memory stays the
 * encoder's). */
static fv_status alias_of(fv_compressor *c, const fv_tensor *t, const char *what, fv_tensor **out)
{
    if (!t) return fv_fail(c->ctx, FV_STATUS_INVALID_ARGUMENT, "compress: the encoder has no %s", what);
    if (c->naliases == MAX_ALIASES) return fv_fail(c->ctx, FV_STATUS_INVALID_ARGUMENT, "compress: too many inputs");
    fv_status st = fv_tensor_alias(t, out);
    if (!st) c->alias[c->naliases++] = *out;
    return st;
}

static fv_status stat_input(fv_compressor *c, int layer, unsigned bit, fv_tensor **out)
{
    fv_tensor *t = c->enc ? fv_vision_encoder_attention_stat(c->enc, layer, bit)
                 : bit == FV_ATTENTION_STAT_CLS ? c->in.cls[layer]
                 : bit == FV_ATTENTION_STAT_RECEIVED ? c->in.received[layer] : c->in.mean_keys[layer];
    if (!t) {
        const char *what = bit == FV_ATTENTION_STAT_CLS ? "[CLS] attention"
                         : bit == FV_ATTENTION_STAT_RECEIVED ? "attention received" : "mean keys";
        return fv_fail(c->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "compress: %s needs the %s of layer %d, which the encoder does not write "
                       "(make its desc with fv_compress_prepare_encode)",
                       fv_compress_method_name(c->d.method), what, layer);
    }
    return alias_of(c, t, "statistic", out);
}

/* splitmix64: the random baseline's draw, the same on every platform */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* random / stride: indices known now, a constant of the graph */
static fv_status fixed_indices(fv_compressor *c, fv_tensor **idx)
{
    const int n = c->n, k = c->k, s = c->skip;
    int32_t *all = malloc((size_t)n * sizeof *all);
    c->host_const = malloc((size_t)c->K * sizeof *c->host_const);
    if (!all || !c->host_const) {
        free(all);
        return fv_fail(c->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "compress: out of host memory");
    }
    if (c->d.method == FV_COMPRESS_RANDOM) {
        /* the first k of a Fisher-Yates shuffle, then in index order */
        uint64_t st = c->d.seed;
        for (int i = 0; i < n; i++) all[i] = i;
        for (int i = 0; i < k; i++) {
            int j = i + (int)(splitmix64(&st) % (uint64_t)(n - i));
            int32_t t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        qsort(all, (size_t)k, sizeof *all, cmp_i32);
    } else {
        for (int i = 0; i < k; i++) all[i] = (int32_t)((int64_t)i * n / k);
    }
    if (s) c->host_const[0] = 0;
    for (int i = 0; i < k; i++) c->host_const[s + i] = all[i] + s;
    free(all);
    const int64_t shape[1] = {c->K};
    return fv_graph_constant(c->g, FV_DTYPE_I32, 1, shape, c->host_const, idx);
}

static fv_status build(fv_compressor *c, const plan *p, fv_tensor *out2d)
{
    fv_graph *g = c->g;
    const int n = c->n, s = c->skip, k = c->k;
    fv_tensor *flags = NULL, *a, *b;
    fv_token_select_desc sd = {.n = n, .skip = s, .k = k, .grid_w = c->gw, .grid_h = c->gh};
    fv_status st = FV_STATUS_OK;
    switch (c->d.method) {
    case FV_COMPRESS_FASTERVLM: /* Zhang et al., "[CLS] Attention is All You Need for Training-Free Visual
                                   Token Pruning: Make VLM Inference Faster" (FasterVLM), 2024 */
        st = stat_input(c, p->layer[0], FV_ATTENTION_STAT_CLS, &a);
        if (!st) st = fv_op_token_select(g, a, &sd, &flags);
        break;
    case FV_COMPRESS_VTC_CLS: /* Wang et al., "[CLS] Token Tells Everything Needed for Training-free
                                 Efficient MLLMs" (VTC-CLS), 2024: the layers' [CLS] attention summed */
        st = stat_input(c, p->layer[0], FV_ATTENTION_STAT_CLS, &a);
        for (int i = 1; i < p->nlayers && !st; i++) {
            st = stat_input(c, p->layer[i], FV_ATTENTION_STAT_CLS, &b);
            if (!st) st = fv_op_add(g, a, b, &a);
        }
        if (!st) st = fv_op_token_select(g, a, &sd, &flags);
        break;
    case FV_COMPRESS_HIPRUNE: { /* Liu et al., "HiPrune: Training-Free Visual Token Pruning via
                                  Hierarchical Attention in Vision Encoders", 2025 */
        fv_tensor *anchors = NULL;
        fv_token_select_desc ad = sd;
        ad.k = FV_MAX(1, (int)lround((double)p->alpha * k));
        st = stat_input(c, p->object, FV_ATTENTION_STAT_RECEIVED, &a);
        if (!st) st = fv_op_token_select(g, a, &ad, &anchors);
        if (!st) st = stat_input(c, p->last, FV_ATTENTION_STAT_RECEIVED, &b);
        sd.prior = anchors;
        sd.dilate = true;
        if (!st) st = fv_op_token_select(g, b, &sd, &flags);
        break;
    }
    case FV_COMPRESS_DIVPRUNE: /* Alvar et al., "DivPrune", CVPR 2025 */
    case FV_COMPRESS_TODRE:    /* Li et al., "ToDRE: Visual Token Pruning via Diversity and Task
                                  Awareness", 2025: its diversity stage is the same greedy step */
        st = fv_op_kcenter_flags(g, out2d, s, n, k, &flags);
        break;
    case FV_COMPRESS_HIRED: /* Arif et al., "HiRED: Attention-Guided Token Dropping for Efficient
                               Inference of High-Resolution Vision-Language Models", AAAI 2025 */
        st = stat_input(c, p->early, FV_ATTENTION_STAT_CLS, &a);
        if (!st) st = stat_input(c, p->last, FV_ATTENTION_STAT_CLS, &b);
        sd.tiles_x = FV_MIN(p->tiles, c->gw);
        sd.tiles_y = FV_MIN(p->tiles, c->gh);
        sd.tile_scores = a;
        if (!st) st = fv_op_token_select(g, b, &sd, &flags);
        break;
    case FV_COMPRESS_VISIONZIP: { /* Yang et al., "VisionZip", CVPR 2025 */
        fv_tensor *keys, *dom, *ctx_tokens, *dom_tokens;
        sd.k = c->kd;
        st = stat_input(c, p->layer[0], FV_ATTENTION_STAT_CLS, &a);
        if (!st) st = stat_input(c, p->layer[0], FV_ATTENTION_STAT_MEAN_KEYS, &keys);
        if (!st) st = fv_op_token_select(g, a, &sd, &dom);
        if (!st) st = fv_op_mask_compact(g, dom, c->kd, s, s != 0, &c->indices);
        if (!st) st = fv_op_gather_rows(g, out2d, c->indices, &dom_tokens);
        if (c->kc == 0) {
            if (!st) st = fv_graph_output(g, dom_tokens);
            c->tokens = dom_tokens;
            break;
        }
        if (!st) {
            const int64_t kshape[2] = {c->N, fv_tensor_dim(keys, -1)};
            st = fv_op_reshape(g, keys, 2, kshape, &keys);
        }
        if (!st) st = fv_op_visionzip_assign(g, dom, keys, s, c->kc, &c->assign);
        if (!st) st = fv_op_visionzip_merge(g, out2d, c->assign, s, n, c->kc, &ctx_tokens);
        if (!st) st = fv_op_concat(g, dom_tokens, ctx_tokens, 0, &c->tokens);
        if (!st) st = fv_graph_output(g, c->assign);
        if (!st) st = fv_graph_output(g, c->tokens);
        break;
    }
    case FV_COMPRESS_RANDOM:
    case FV_COMPRESS_STRIDE:
        st = fixed_indices(c, &c->indices);
        if (!st) st = fv_op_gather_rows(g, out2d, c->indices, &c->tokens);
        if (!st) st = fv_graph_output(g, c->tokens);
        break;
    case FV_COMPRESS_FOURIER: { /* 2D DCT-II low-pass over the patch grid (ops/dct.c) */
        const int kk = (int)lround(sqrt((double)k));
        fv_tensor *patches, *coef;
        const int64_t pshape[3] = {1, n, c->D};
        if (((size_t)s * (size_t)c->D * 4) % FV_VIEW_ALIGN == 0) {
            st = fv_graph_view(g, out2d, (size_t)s * (size_t)c->D * 4, FV_DTYPE_F32, 3, pshape, &patches);
        } else {
            int32_t *rows = malloc((size_t)n * sizeof *rows);
            if (!rows) return fv_fail(c->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "compress: out of host memory");
            for (int i = 0; i < n; i++) rows[i] = i + s;
            const int64_t ishape[1] = {n};
            fv_tensor *ri;
            st = fv_graph_constant(g, FV_DTYPE_I32, 1, ishape, rows, &ri);
            free(rows);
            if (!st) st = fv_op_gather_rows(g, out2d, ri, &patches);
            if (!st) st = fv_op_reshape(g, patches, 3, pshape, &patches);
        }
        if (!st) st = fv_op_dct2d(g, patches, c->gh, c->gw, FV_MIN(kk, c->gh), FV_MIN(kk, c->gw), &coef);
        if (!st) {
            const int64_t cshape[2] = {fv_tensor_dim(coef, 1), c->D};
            st = fv_op_reshape(g, coef, 2, cshape, &coef);
        }
        if (!st && s) {
            const int32_t zero = 0;
            const int64_t one[1] = {1};
            fv_tensor *z, *cls;
            st = fv_graph_constant(g, FV_DTYPE_I32, 1, one, &zero, &z);
            if (!st) st = fv_op_gather_rows(g, out2d, z, &cls);
            if (!st) st = fv_op_concat(g, cls, coef, 0, &coef);
        }
        c->tokens = coef;
        if (!st) st = fv_graph_output(g, c->tokens);
        break;
    }
    default:
        return fv_fail(c->ctx, FV_STATUS_UNSUPPORTED, "compress: %s is not built in",
                       fv_compress_method_name(c->d.method));
    }
    if (!st && flags) {
        st = fv_op_mask_compact(g, flags, k, s, s != 0, &c->indices);
        if (!st) st = fv_op_gather_rows(g, out2d, c->indices, &c->tokens);
        if (!st) st = fv_graph_output(g, c->tokens);
    }
    /* random / stride: a graph constant, alive as long as the graph */
    if (!st && c->indices && !c->host_const) st = fv_graph_output(g, c->indices);
    if (st) return st;
    const int64_t tshape[3] = {1, fv_tensor_dim(c->tokens, 0), c->D};
    return fv_op_reshape(g, c->tokens, 3, tshape, &c->tokens);
}

/* What both entry points share: the plan, the aliases, the graph. ei
 * describes the tensors (grid, tokens in and out, width); o is the tensor
 * to compress, [1, tokens, D]. */
static fv_status create(fv_context *ctx, const fv_vision_model_info *mi, const fv_vision_encoder_info *ei,
                        fv_vision_encoder *enc, const fv_compress_inputs *in, const fv_tensor *output,
                        const fv_compress_desc *desc, fv_compressor **out)
{
    plan p;
    fv_status st = make_plan(ctx, desc, mi, ei->grid_w * ei->grid_h, &p);
    if (!st && desc->method != FV_COMPRESS_TOME && ei->tokens != ei->input_tokens)
        st = fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                     "compress: the encoder merges tokens (tome_r); only tome compresses its output");
    if (!st && desc->method == FV_COMPRESS_TOME && !enc)
        st = fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: tome merges inside an encoder");
    if (st) return st;
    fv_compressor *c = calloc(1, sizeof *c);
    if (!c) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "compress: out of host memory");
    c->enc = enc;
    if (in) c->in = *in;
    c->ctx = ctx;
    c->d = *desc;
    c->L = mi->layers;
    c->gw = ei->grid_w;
    c->gh = ei->grid_h;
    c->n = ei->grid_w * ei->grid_h;
    c->skip = mi->has_cls ? 1 : 0;
    c->N = ei->input_tokens;
    c->D = ei->hidden_size;
    c->k = desc->method == FV_COMPRESS_TOME ? ei->tokens - c->skip : p.k;
    if (desc->method == FV_COMPRESS_VISIONZIP) {
        c->kc = c->k >= 2 ? FV_MIN(c->k - 1, FV_MAX(1, (int)lround((double)p.contextual * c->k))) : 0;
        c->kd = c->k - c->kc;
    }
    c->K = c->k + c->skip;
    fv_tensor *o = NULL, *out2d = NULL;
    st = fv_graph_create(ctx, &c->g);
    if (!st) st = alias_of(c, output, "output", &o);
    if (!st) {
        const int64_t shape[2] = {ei->tokens, c->D};
        st = fv_op_reshape(c->g, o, 2, shape, &out2d);
    }
    if (!st && desc->method == FV_COMPRESS_TOME) {
        /* the encoder already merged: its output [1, N', D] is the result,
         * and there is no graph to record */
        c->tokens = o;
    } else if (!st) {
        st = build(c, &p, out2d);
        if (!st) st = fv_graph_plan(c->g);
        if (!st) st = fv_graph_record(c->g);
    }
    if (!st) {
        c->host_idx = calloc((size_t)c->K, sizeof *c->host_idx);
        c->host_assign = c->assign ? calloc((size_t)(c->n + c->kc), sizeof *c->host_assign) : NULL;
        if (!c->host_idx || (c->assign && !c->host_assign))
            st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "compress: out of host memory");
    }
    if (st) {
        fv_compressor_destroy(c);
        return st;
    }
    *out = c;
    return FV_STATUS_OK;
}

fv_status fv_compressor_create(const fv_vision_model *m, fv_vision_encoder *enc, const fv_compress_desc *desc,
                               fv_compressor **out)
{
    if (!m || !enc || !desc || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    fv_vision_model_info mi;
    fv_vision_encoder_info ei;
    fv_status st = fv_vision_model_get_info(m, &mi);
    if (!st) st = fv_vision_encoder_get_info(enc, &ei);
    if (st) return st;
    return create(fv_vision_model_context(m), &mi, &ei, enc, NULL, fv_vision_encoder_output(enc), desc, out);
}

fv_status fv_compressor_create_on(fv_context *ctx, const fv_compress_inputs *in, const fv_compress_desc *desc,
                                  fv_compressor **out)
{
    if (!ctx || !in || !in->features || !desc || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    if (in->layers < 1 || in->layers > FV_VISION_MAX_LAYERS || in->grid_w < 1 || in->grid_h < 1 ||
        fv_tensor_ndim(in->features) != 3 ||
        fv_tensor_dim(in->features, 1) != (int64_t)in->grid_w * in->grid_h + (in->has_cls ? 1 : 0))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "compress: inputs do not describe a %dx%d grid",
                       in->grid_w, in->grid_h);
    fv_vision_model_info mi = {.layers = in->layers, .has_cls = in->has_cls};
    const int tokens = (int)fv_tensor_dim(in->features, 1);
    fv_vision_encoder_info ei = {.grid_w = in->grid_w,
                                 .grid_h = in->grid_h,
                                 .tokens = tokens,
                                 .input_tokens = tokens,
                                 .hidden_size = (int)fv_tensor_dim(in->features, 2)};
    return create(ctx, &mi, &ei, NULL, in, in->features, desc, out);
}

void fv_compressor_destroy(fv_compressor *c)
{
    if (!c) return;
    fv_graph_destroy(c->g);
    for (int i = 0; i < c->naliases; i++) fv_tensor_destroy(c->alias[i]);
    free(c->host_idx);
    free(c->host_assign);
    free(c->host_const);
    free(c);
}

fv_status fv_compressor_run(fv_compressor *c)
{
    if (!c) return FV_STATUS_INVALID_ARGUMENT;
    if (c->d.method == FV_COMPRESS_TOME) return FV_STATUS_OK; /* nothing left to do */
    fv_status st = fv_graph_replay(c->g);
    if (st) return st;
    c->run_ms = fv_graph_last_replay_ms(c->g);
    if (c->d.method == FV_COMPRESS_FOURIER || c->d.method == FV_COMPRESS_TOME) return FV_STATUS_OK;
    if (c->indices) st = fv_tensor_download(c->indices, c->host_idx, c->indices->nbytes);
    if (!st && c->assign) {
        st = fv_tensor_download(c->assign, c->host_assign, c->assign->nbytes);
        /* the contextual tokens stand where their targets stood */
        for (int m = 0; !st && m < c->kc; m++) c->host_idx[c->skip + c->kd + m] = c->host_assign[c->n + m] + c->skip;
    }
    return st;
}

fv_tensor *fv_compressor_tokens(const fv_compressor *c) { return c ? c->tokens : NULL; }

fv_tensor *fv_compressor_indices(const fv_compressor *c)
{
    return c ? c->indices : NULL; /* NULL for fourier and tome */
}

fv_status fv_compressor_read_indices(const fv_compressor *c, int32_t *dst, size_t count)
{
    if (!c || !dst) return FV_STATUS_INVALID_ARGUMENT;
    if (c->d.method == FV_COMPRESS_FOURIER || c->d.method == FV_COMPRESS_TOME)
        return fv_fail(c->ctx, FV_STATUS_UNSUPPORTED, "compress: %s's tokens are not encoder tokens",
                       fv_compress_method_name(c->d.method));
    if (count != (size_t)c->K)
        return fv_fail(c->ctx, FV_STATUS_INVALID_ARGUMENT, "compress: %zu indices asked, the output has %d", count,
                       c->K);
    memcpy(dst, c->host_idx, count * sizeof *dst);
    return FV_STATUS_OK;
}

fv_status fv_compressor_groups(const fv_compressor *c, int32_t *group, size_t count)
{
    if (!c || !group) return FV_STATUS_INVALID_ARGUMENT;
    if (c->d.method == FV_COMPRESS_FOURIER)
        return fv_fail(c->ctx, FV_STATUS_UNSUPPORTED, "compress: fourier's tokens are not encoder tokens");
    if (count != (size_t)c->N)
        return fv_fail(c->ctx, FV_STATUS_INVALID_ARGUMENT, "compress: %zu groups asked, the encoder has %d tokens",
                       count, c->N);
    if (c->d.method == FV_COMPRESS_TOME) return fv_vision_encoder_token_groups(c->enc, group, count);
    for (size_t i = 0; i < count; i++) group[i] = -1;
    for (int j = 0; j < c->K; j++) group[c->host_idx[j]] = j;
    for (int i = 0; c->assign && i < c->n; i++)
        if (c->host_assign[i] >= 0) group[c->skip + i] = c->skip + c->kd + c->host_assign[i];
    return FV_STATUS_OK;
}

fv_status fv_compressor_get_info(const fv_compressor *c, fv_compressor_info *out)
{
    if (!c || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = (fv_compressor_info){.method = c->d.method,
                                .budget = c->k,
                                .tokens = c->K,
                                .has_cls = c->skip != 0,
                                .grid_w = c->gw,
                                .grid_h = c->gh,
                                .nodes = fv_graph_node_count(c->g),
                                .run_ms = c->run_ms};
    return FV_STATUS_OK;
}
