/* attention: fused scaled-dot-product attention with an online softmax, for
 * the vision encoder (bidirectional, [CLS] statistics) and the decoder
 * (causal, grouped-query, a KV cache whose live length and position come from
 * graph parameter slots). Semantics: fovea.h, fv_op_attention.
 *
 * One node, one dst. With statistics the dst is a packed f32 buffer, each
 * part starting at a multiple of FV_VIEW_ALIGN bytes:
 *   out [B, Nq, Hq, D] | cls [B, Nk] | received [B, Nk] | mean keys [B, Nk, D]
 *   | row stats [B, Hq, Nq] x (max, sum)
 * and the caller gets views of the parts it asked for. The row stats are the
 * final softmax maximum (log2 units) and normaliser of every query row: the
 * main pass writes them, the statistics pass (a second dispatch of the same
 * node) turns recomputed scores into exact probabilities with them. The
 * cost of each statistic is stated in shaders/attention.comp.
 *
 * Kernels (shaders/attention.comp), by device:
 *   sg     CPU-type devices (lavapipe): barrier-free; a subgroup owns 8 query
 *          rows, its lanes split the keys for Q·Kᵀ and the head dimension for
 *          P·V; K and V arrive as vec4 texel fetches. The subgroup size is a
 *          specialisation constant (the size the device reports; SPIR-V 1.5
 *          pipelines run with it).
 *   tiled  GPUs: a workgroup per 16 rows, K/V tiles in shared memory.
 * each with a statistics kernel of the same layout, in head-size classes
 * DMAX = 32, 64, 128 (the head size is padded up to the class; it must be a
 * multiple of 4). FOVEA_ATTENTION_VARIANT=cpu|gpu forces the sg or the tiled
 * kernels where the device can run them (the tests run both on one device).
 * The OpenCL backend gets its own kernels (shaders/cl/attention.cl: float16
 * vectors along the head, 8 rows per work-item; head sizes a multiple of 16),
 * chosen by dev->backend. */
#include "op_common.h"

#include <stdlib.h>

typedef struct attention_params {
    int64_t batch, nq, nk, hq, hkv, d;
    float scale;
    int32_t causal;
    int32_t kv_param, qpos_param; /* slot + 1, or 0 */
    uint32_t stats;               /* FV_ATTENTION_STAT_* */
    int32_t key_bias;             /* src[3] is a [B, Nk] bias on key j's scores */
    uint64_t off_cls, off_received, off_mean, off_rows; /* bytes into the packed dst */
} attention_params;

#define STAT_ALL (FV_ATTENTION_STAT_CLS | FV_ATTENTION_STAT_RECEIVED | FV_ATTENTION_STAT_MEAN_KEYS)
#define LOG2E 1.4426950408889634

static bool needs_row_stats(const attention_params *p)
{
    return (p->stats & (FV_ATTENTION_STAT_CLS | FV_ATTENTION_STAT_RECEIVED)) != 0;
}

static int64_t live_len(const attention_params *p, const int32_t *params)
{
    int64_t n = p->nk;
    if (p->kv_param) n = FV_MAX(0, FV_MIN(n, (int64_t)params[p->kv_param - 1]));
    return n;
}

static int64_t first_position(const attention_params *p, const int32_t *params, int64_t kvlen)
{
    return p->qpos_param ? (int64_t)params[p->qpos_param - 1] : kvlen - p->nq;
}

/* ---- plain-C reference: explicit scores per row, exact softmax ------------- */

static fv_status attention_cpu(const fv_node *n, const int32_t *params)
{
    const attention_params *p = (const attention_params *)n->params;
    const float *q = fv_tensor_host(n->src[0]), *k = fv_tensor_host(n->src[1]), *v = fv_tensor_host(n->src[2]);
    const float *bias = p->key_bias ? fv_tensor_host(n->src[3]) : NULL;
    char *base = fv_tensor_host(n->dst);
    float *out = (float *)base;
    const int64_t B = p->batch, Nq = p->nq, Nk = p->nk, Hq = p->hq, Hkv = p->hkv, D = p->d, G = Hq / Hkv;
    const int64_t kvlen = live_len(p, params), pos = first_position(p, params, kvlen);
    float *s = malloc((size_t)FV_MAX(Nk, 1) * sizeof *s);
    double *received = calloc((size_t)(B * Nk), sizeof *received);
    double *cls = calloc((size_t)(B * Nk), sizeof *cls);
    double *orow = malloc((size_t)D * sizeof *orow);
    if (!s || !received || !cls || !orow) {
        free(s);
        free(received);
        free(cls);
        free(orow);
        return fv_fail(n->dst->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "attention: out of host memory");
    }
    float *rows = needs_row_stats(p) ? (float *)(base + p->off_rows) : NULL;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < Nq; i++) {
            int64_t live = kvlen;
            if (p->causal) live = FV_MAX(0, FV_MIN(kvlen, pos + i + 1));
            for (int64_t h = 0; h < Hq; h++) {
                const float *qr = q + ((b * Nq + i) * Hq + h) * D;
                const int64_t hk = h / G;
                float mx = -INFINITY;
                for (int64_t j = 0; j < live; j++) {
                    const float *kr = k + ((b * Nk + j) * Hkv + hk) * D;
                    float dot = 0;
                    for (int64_t c = 0; c < D; c++) dot += qr[c] * kr[c];
                    s[j] = p->scale * dot;
                    if (bias) s[j] += bias[b * Nk + j];
                    mx = fmaxf(mx, s[j]);
                }
                double sum = 0;
                for (int64_t j = 0; j < live; j++) sum += s[j] = expf(s[j] - mx);
                for (int64_t c = 0; c < D; c++) orow[c] = 0;
                for (int64_t j = 0; j < live; j++) {
                    const double pj = s[j] / sum;
                    const float *vr = v + ((b * Nk + j) * Hkv + hk) * D;
                    for (int64_t c = 0; c < D; c++) orow[c] += pj * vr[c];
                    received[b * Nk + j] += pj;
                    if (i == 0) cls[b * Nk + j] += pj;
                }
                float *o = out + ((b * Nq + i) * Hq + h) * D;
                for (int64_t c = 0; c < D; c++) o[c] = (float)orow[c];
                if (rows) { /* the kernels' convention: log2 units */
                    float *r = rows + 2 * ((b * Hq + h) * Nq + i);
                    r[0] = live ? (float)(mx * LOG2E) : -3.402823466e38f;
                    r[1] = (float)sum;
                }
            }
        }
    }
    if (p->stats & FV_ATTENTION_STAT_CLS) {
        float *y = (float *)(base + p->off_cls);
        for (int64_t e = 0; e < B * Nk; e++) y[e] = (float)(cls[e] / (double)Hq);
    }
    if (p->stats & FV_ATTENTION_STAT_RECEIVED) {
        float *y = (float *)(base + p->off_received);
        for (int64_t e = 0; e < B * Nk; e++) y[e] = (float)(received[e] / ((double)Hq * (double)Nq));
    }
    if (p->stats & FV_ATTENTION_STAT_MEAN_KEYS) {
        float *y = (float *)(base + p->off_mean);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < Nk; j++)
                for (int64_t c = 0; c < D; c++) {
                    double sum = 0;
                    for (int64_t hk = 0; j < kvlen && hk < Hkv; hk++) sum += k[((b * Nk + j) * Hkv + hk) * D + c];
                    y[(b * Nk + j) * D + c] = (float)(sum / (double)Hkv);
                }
    }
    free(s);
    free(received);
    free(cls);
    free(orow);
    return FV_STATUS_OK;
}

/* ---- kernel choice ------------------------------------------------------------ */

typedef enum attn_layout { ATTN_SG = 0, ATTN_TILED, ATTN_CL } attn_layout;

#define SG_ROWS 8        /* sg main kernel: query rows per subgroup (TQ)      */
#define SG_STATS_KEYS 8  /* sg stats kernel: keys per lane (SKB)              */
#define CL_LOCAL 16       /* OpenCL: work-items per group                     */
#define CL_ROWS (CL_LOCAL * 8)        /* 8 rows per work-item (ATTN_ROWS)     */
#define CL_STATS_KEYS (CL_LOCAL * 8)  /* 8 keys per work-item (ATTN_SKEYS)    */
#define TILED_LOCAL 64
#define TILED_ROWS 16
#define TILED_STATS_KEYS 64 /* tiled stats kernel: keys per workgroup            */
#define TILED_SHARED_BYTES (25 * 1024 + 512) /* the largest tiled kernel's shared memory */

static int dmax_class(int64_t d) { return d <= 32 ? 32 : d <= 64 ? 64 : 128; }

static attn_layout choose_layout(const fv_device_info *dev)
{
    if (dev->backend == FV_BACKEND_OPENCL) return ATTN_CL;
    const bool sg_ok = dev->subgroup_arithmetic && dev->subgroup_size > 0 && dev->max_texel_elements > 0;
    const char *force = getenv("FOVEA_ATTENTION_VARIANT");
    if (force && strcmp(force, "cpu") == 0 && sg_ok) return ATTN_SG;
    if (force && strcmp(force, "gpu") == 0) return ATTN_TILED;
    return sg_ok && fv_is_cpu_device(dev) ? ATTN_SG : ATTN_TILED;
}

static const char *kernel_name(attn_layout L, bool stats, int dmax)
{
    static const char *const names[3][2][3] = {
        {{"attention_sg_d32", "attention_sg_d64", "attention_sg_d128"},
         {"attention_stats_sg_d32", "attention_stats_sg_d64", "attention_stats_sg_d128"}},
        {{"attention_tiled_d32", "attention_tiled_d64", "attention_tiled_d128"},
         {"attention_stats_tiled_d32", "attention_stats_tiled_d64", "attention_stats_tiled_d128"}},
        {{"attention_cl_d32", "attention_cl_d64", "attention_cl_d128"},
         {"attention_stats_cl_d32", "attention_stats_cl_d64", "attention_stats_cl_d128"}},
    };
    return names[L][stats][dmax == 32 ? 0 : dmax == 64 ? 1 : 2];
}

/* Workgroups along x: tiles of query rows (main) or of keys (stats). */
static uint64_t groups_x(const attention_params *p, attn_layout L, bool stats, const fv_device_info *dev)
{
    const uint64_t rows = (uint64_t)(p->nq * (p->hq / p->hkv)), keys = (uint64_t)p->nk;
    uint64_t per;
    if (L == ATTN_SG) per = stats ? (uint64_t)SG_STATS_KEYS * FV_MAX(1u, dev->subgroup_size) : SG_ROWS;
    else if (L == ATTN_TILED) per = stats ? TILED_STATS_KEYS : TILED_ROWS;
    else per = stats ? CL_STATS_KEYS : CL_ROWS;
    return ((stats ? keys : rows) + per - 1) / per;
}

static const char *attention_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const attention_params *p = (const attention_params *)n->params;
    if (p->d % 4 != 0 || p->d > 128) return "the GPU kernels need a head size that is a multiple of 4, at most 128";
    const attn_layout L = choose_layout(dev);
    if (L == ATTN_CL && p->d % 16 != 0) return "the OpenCL kernels need a head size that is a multiple of 16";
    const uint64_t limit = dev->max_storage_range;
    for (int i = 0; i < 3; i++) {
        const fv_tensor *t = n->src[i];
        if (t->nbytes > limit) return "q, k or v is larger than one storage binding";
        if (L == ATTN_SG && t->nbytes / 16 > dev->max_texel_elements) return "q, k or v has more texels than a view may";
    }
    if (n->dst->nbytes > limit) return "the outputs are larger than one storage binding";
    if (L == ATTN_TILED && (dev->shared_memory_bytes < TILED_SHARED_BYTES ||
                            (dev->max_workgroup_invocations && dev->max_workgroup_invocations < TILED_LOCAL)))
        return "the tiled kernel needs 26 KiB of shared memory and 64 invocations per workgroup";
    if (groups_x(p, L, false, dev) > 65535 || groups_x(p, L, true, dev) > 65535 ||
        (uint64_t)(p->batch * p->hkv) > 65535)
        return "more query rows or keys than one dispatch covers";
    return NULL;
}

static fv_status attention_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const attention_params *p = (const attention_params *)n->params;
    const char *why = attention_unsupported(n, dev);
    if (why) return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "attention: %s", why);
    const fv_tensor *q = n->src[0], *k = n->src[1], *v = n->src[2], *y = n->dst;
    const attn_layout L = choose_layout(dev);
    const int dmax = dmax_class(p->d);
    const fv_bind_kind in_kind = L == ATTN_SG ? FV_BIND_TEXEL_F32X4 : FV_BIND_STORAGE;
    const uint32_t local = L == ATTN_SG ? dev->subgroup_size : L == ATTN_TILED ? TILED_LOCAL : CL_LOCAL;
    const size_t out_bytes = (size_t)(p->batch * p->nq * p->hq * p->d) * 4;
    const size_t key_bytes = (size_t)(p->batch * p->nk) * 4;
    const size_t rows_bytes = (size_t)(p->batch * p->hq * p->nq) * 8;
    const bool row_stats = needs_row_stats(p);
    fv_pc_attention pc = {.batch = (uint32_t)p->batch,
                          .nq = (uint32_t)p->nq,
                          .nk = (uint32_t)p->nk,
                          .hq = (uint32_t)p->hq,
                          .hkv = (uint32_t)p->hkv,
                          .d = (uint32_t)p->d,
                          .scale_log2 = (float)(p->scale * LOG2E),
                          .causal = (uint32_t)p->causal,
                          .kv_slot = p->kv_param,
                          .qpos_slot = p->qpos_param,
                          .stats = row_stats ? FV_ATTN_ROW_STATS : 0};

    fv_dispatch *d = fv_dispatch_push(out, kernel_name(L, false, dmax));
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, q, in_kind, false);
    fv_dispatch_bind(d, k, in_kind, false);
    fv_dispatch_bind(d, v, in_kind, false);
    fv_dispatch_bind_range(d, y, 0, out_bytes, FV_BIND_STORAGE, true);
    /* where a part is not written, a few bytes of q stand in for its binding */
    if (row_stats) fv_dispatch_bind_range(d, y, p->off_rows, rows_bytes, FV_BIND_STORAGE, true);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    if (p->key_bias) fv_dispatch_bind(d, n->src[3], FV_BIND_STORAGE, false);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    if (p->key_bias) pc.stats |= FV_ATTN_KEY_BIAS;
    fv_dispatch_set_push(d, &pc, sizeof pc);
    d->spec[0] = local;
    d->spec[1] = local; /* sg: the subgroup size, for loops over lanes */
    d->nspec = 2;
    d->groups[0] = (uint32_t)groups_x(p, L, false, dev);
    d->groups[1] = (uint32_t)(p->batch * p->hkv);
    if (!p->stats) return FV_STATUS_OK;

    pc.stats = 0;
    if (p->stats & FV_ATTENTION_STAT_CLS) pc.stats |= FV_ATTN_CLS;
    if (p->stats & FV_ATTENTION_STAT_RECEIVED) pc.stats |= FV_ATTN_RECEIVED;
    if (p->stats & FV_ATTENTION_STAT_MEAN_KEYS) pc.stats |= FV_ATTN_MEAN_KEYS;
    if (p->key_bias) pc.stats |= FV_ATTN_KEY_BIAS;
    d = fv_dispatch_push(out, kernel_name(L, true, dmax));
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, q, in_kind, false);
    fv_dispatch_bind(d, k, in_kind, false);
    if (row_stats) fv_dispatch_bind_range(d, y, p->off_rows, rows_bytes, FV_BIND_STORAGE, false);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    if (p->stats & FV_ATTENTION_STAT_CLS) fv_dispatch_bind_range(d, y, p->off_cls, key_bytes, FV_BIND_STORAGE, true);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    if (p->stats & FV_ATTENTION_STAT_RECEIVED)
        fv_dispatch_bind_range(d, y, p->off_received, key_bytes, FV_BIND_STORAGE, true);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    if (p->stats & FV_ATTENTION_STAT_MEAN_KEYS)
        fv_dispatch_bind_range(d, y, p->off_mean, key_bytes * (size_t)p->d, FV_BIND_STORAGE, true);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    if (p->key_bias) fv_dispatch_bind(d, n->src[3], FV_BIND_STORAGE, false);
    else fv_dispatch_bind_range(d, q, 0, 16, FV_BIND_STORAGE, false);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    d->spec[0] = local;
    d->spec[1] = local;
    d->nspec = 2;
    d->groups[0] = (uint32_t)groups_x(p, L, true, dev);
    d->groups[1] = (uint32_t)p->batch;
    return FV_STATUS_OK;
}

static const fv_op_def op_attention = {"attention", attention_cpu, attention_encode, attention_unsupported};

/* ---- builder --------------------------------------------------------------------- */

fv_status fv_op_attention(fv_graph *g, fv_tensor *q, fv_tensor *k, fv_tensor *v, const fv_attention_desc *desc,
                          fv_attention_result *res)
{
    if (!g || !res) return FV_STATUS_INVALID_ARGUMENT;
    memset(res, 0, sizeof *res);
    FV_OP_CHECK_INPUT(g, "attention", "q", q);
    FV_OP_CHECK_INPUT(g, "attention", "k", k);
    FV_OP_CHECK_INPUT(g, "attention", "v", v);
    fv_status st = fv_op_require_dtype(g, "attention", "q", q, FV_DTYPE_F32);
    if (!st) st = fv_op_require_dtype(g, "attention", "k", k, FV_DTYPE_F32);
    if (!st) st = fv_op_require_dtype(g, "attention", "v", v, FV_DTYPE_F32);
    if (st) return st;
    fv_context *ctx = fv_graph_context(g);
    char sq[96], sk[96], sv[96];
    fv_shape_str(q, sq, sizeof sq);
    fv_shape_str(k, sk, sizeof sk);
    fv_shape_str(v, sv, sizeof sv);
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "attention: q %s, k %s, v %s must be [B, Nq, Hq, D] and [B, Nk, Hkv, D]", sq, sk, sv);
    bool same_kv = true;
    for (int i = 0; i < 4; i++) same_kv &= k->shape[i] == v->shape[i];
    if (!same_kv || q->shape[0] != k->shape[0] || q->shape[3] != k->shape[3] || k->shape[2] < 1 ||
        q->shape[2] % k->shape[2] != 0)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "attention: q %s, k %s, v %s: k and v must be [B, Nk, Hkv, D] with Hq a multiple of Hkv", sq,
                       sk, sv);
    fv_attention_desc dd = {0};
    if (desc) dd = *desc;
    if (dd.kv_len_param < 0 || dd.kv_len_param > FV_GRAPH_PARAM_SLOTS || dd.q_pos_param < 0 ||
        dd.q_pos_param > FV_GRAPH_PARAM_SLOTS)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "attention: kv_len_param %d / q_pos_param %d must be a slot + 1 in 1..%d, or 0",
                       dd.kv_len_param, dd.q_pos_param, FV_GRAPH_PARAM_SLOTS);
    if (!isfinite(dd.scale))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "attention: scale %g is not finite", (double)dd.scale);
    if (dd.stats & ~STAT_ALL)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "attention: unknown statistics bits 0x%x", dd.stats & ~STAT_ALL);
    if (dd.key_bias) {
        FV_OP_CHECK_INPUT(g, "attention", "key_bias", dd.key_bias);
        st = fv_op_require_dtype(g, "attention", "key_bias", dd.key_bias, FV_DTYPE_F32);
        if (st) return st;
        if (dd.key_bias->ndim != 2 || dd.key_bias->shape[0] != k->shape[0] || dd.key_bias->shape[1] != k->shape[1]) {
            char sb[96];
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "attention: key_bias %s must be [B, Nk] for k %s",
                           fv_shape_str(dd.key_bias, sb, sizeof sb), sk);
        }
    }
    /* the kernels index with 32-bit integers */
    if (fv_tensor_numel(q) > INT32_MAX / 2 || fv_tensor_numel(k) > INT32_MAX / 2)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "attention: q %s or k %s is too large", sq, sk);

    attention_params p = {.batch = q->shape[0],
                          .nq = q->shape[1],
                          .hq = q->shape[2],
                          .d = q->shape[3],
                          .nk = k->shape[1],
                          .hkv = k->shape[2],
                          .scale = dd.scale != 0 ? dd.scale : (float)(1.0 / sqrt((double)q->shape[3])),
                          .causal = dd.causal,
                          .kv_param = dd.kv_len_param,
                          .qpos_param = dd.q_pos_param,
                          .stats = dd.stats,
                          .key_bias = dd.key_bias != NULL};
    fv_tensor *src[4] = {q, k, v, dd.key_bias};
    const int nsrc = dd.key_bias ? 4 : 3;
    if (!p.stats) return fv_graph_add_node(g, &op_attention, src, nsrc, &p, sizeof p, FV_DTYPE_F32, 4, q->shape, &res->out);

    /* packed dst: out | cls | received | mean keys | row stats */
    const uint64_t key_bytes = (uint64_t)(p.batch * p.nk) * 4;
    uint64_t top = FV_ALIGN_UP(q->nbytes, FV_VIEW_ALIGN);
    if (p.stats & FV_ATTENTION_STAT_CLS) {
        p.off_cls = top;
        top += FV_ALIGN_UP(key_bytes, FV_VIEW_ALIGN);
    }
    if (p.stats & FV_ATTENTION_STAT_RECEIVED) {
        p.off_received = top;
        top += FV_ALIGN_UP(key_bytes, FV_VIEW_ALIGN);
    }
    if (p.stats & FV_ATTENTION_STAT_MEAN_KEYS) {
        p.off_mean = top;
        top += FV_ALIGN_UP(key_bytes * (uint64_t)p.d, FV_VIEW_ALIGN);
    }
    if (needs_row_stats(&p)) {
        p.off_rows = top;
        top += (uint64_t)(p.batch * p.hq * p.nq) * 8;
    }
    fv_tensor *packed = NULL;
    const int64_t total = (int64_t)(top / 4);
    st = fv_graph_add_node(g, &op_attention, src, nsrc, &p, sizeof p, FV_DTYPE_F32, 1, &total, &packed);
    if (!st) st = fv_graph_view(g, packed, 0, FV_DTYPE_F32, 4, q->shape, &res->out);
    const int64_t keys_shape[2] = {p.batch, p.nk}, mean_shape[3] = {p.batch, p.nk, p.d};
    if (!st && (p.stats & FV_ATTENTION_STAT_CLS))
        st = fv_graph_view(g, packed, p.off_cls, FV_DTYPE_F32, 2, keys_shape, &res->cls_attention);
    if (!st && (p.stats & FV_ATTENTION_STAT_RECEIVED))
        st = fv_graph_view(g, packed, p.off_received, FV_DTYPE_F32, 2, keys_shape, &res->received);
    if (!st && (p.stats & FV_ATTENTION_STAT_MEAN_KEYS))
        st = fv_graph_view(g, packed, p.off_mean, FV_DTYPE_F32, 3, mean_shape, &res->mean_keys);
    if (st) memset(res, 0, sizeof *res);
    return st;
}
