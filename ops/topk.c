/* Token selection for visual-token compression: which of n candidate
 * tokens to keep, decided on the device so that the kept indices never
 * travel through the host.
 *
 *   token_select  scores -> a keep flag per candidate (i32 0/1): the top k
 *                 by score, ties to the lower index; optionally after a
 *                 prior mask (kept as is, its 4-neighbour dilation with
 *                 DILATE, the rest filling up to k: HiPrune's anchors,
 *                 buffers and registers), or with k shared out over grid
 *                 tiles by a second score (HiRED's partitions).
 *   mask_compact  flags -> the indices of the set flags in ascending order
 *                 (+ an offset; optionally a leading 0 for the [CLS] row).
 *   fv_op_topk    both: the order-preserving top-k of the public API.
 *
 * Both kernels give each invocation one candidate and let it count over
 * all n others (rank, or prefix count): O(n^2) work in one dispatch each,
 * which for the few hundred to few thousand tokens of a ViT is microseconds
 * and needs no sort, no shared memory and no barrier. Every backend counts
 * the same way, so every backend selects the same tokens. */
#include "op_common.h"
#include "row_ops.h"

#include <float.h>

typedef struct select_params {
    fv_pc_select pc;
} select_params;

typedef struct compact_params {
    fv_pc_compact pc;
} compact_params;

/* ---- the plain-C reference (the CPU backend runs it) -------------------- */

static int select_tile(const fv_pc_select *p, uint32_t j)
{
    uint32_t ty = (j / p->grid_w) * p->tiles_y / p->grid_h, tx = (j % p->grid_w) * p->tiles_x / p->grid_w;
    return (int)(ty * p->tiles_x + tx);
}

static bool select_prior(const fv_pc_select *p, const int32_t *prior, uint32_t j)
{
    if (!(p->mode & FV_SELECT_PRIOR)) return false;
    if (prior[j]) return true;
    if (!(p->mode & FV_SELECT_DILATE)) return false;
    uint32_t r = j / p->grid_w, c = j % p->grid_w;
    return (r > 0 && prior[j - p->grid_w]) || (r + 1 < p->grid_h && prior[j + p->grid_w]) ||
           (c > 0 && prior[j - 1]) || (c + 1 < p->grid_w && prior[j + 1]);
}

/* HiRED's budget split: tile t gets floor(k · share_t) (at most its size);
 * what is left goes one token at a time to the tiles in order of their
 * fractional parts, largest first (ties to the lower tile), skipping full
 * tiles, round after round. The kernels repeat exactly these float steps. */
static void select_quotas(const fv_pc_select *p, const float *tile_score, uint32_t *quota)
{
    const uint32_t nt = p->tiles_x * p->tiles_y;
    float sum[FV_SELECT_MAX_TILES] = {0}, frac[FV_SELECT_MAX_TILES];
    uint32_t size[FV_SELECT_MAX_TILES] = {0};
    for (uint32_t j = 0; j < p->n; j++) {
        int t = select_tile(p, j);
        sum[t] += tile_score[p->skip + j];
        size[t]++;
    }
    float total = 0.0f;
    for (uint32_t t = 0; t < nt; t++) total += sum[t];
    uint32_t given = 0;
    for (uint32_t t = 0; t < nt; t++) {
        float exact = total > 0.0f ? (float)p->k * sum[t] / total : (float)p->k * (float)size[t] / (float)p->n;
        float fl = floorf(exact);
        quota[t] = FV_MIN((uint32_t)fl, size[t]);
        frac[t] = exact - fl;
        given += quota[t];
    }
    uint32_t left = p->k > given ? p->k - given : 0;
    while (left > 0) {
        bool used[FV_SELECT_MAX_TILES] = {false};
        for (uint32_t r = 0; r < nt && left > 0; r++) {
            uint32_t best = nt;
            for (uint32_t t = 0; t < nt; t++)
                if (!used[t] && (best == nt || frac[t] > frac[best])) best = t;
            used[best] = true;
            if (quota[best] < size[best]) {
                quota[best]++;
                left--;
            }
        }
    }
}

static fv_status select_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_pc_select *p = &((const select_params *)n->params)->pc;
    const float *s = fv_tensor_host(n->src[0]);
    const int32_t *prior = fv_tensor_host(n->src[1]);
    const float *ts = fv_tensor_host(n->src[2]);
    int32_t *flag = fv_tensor_host(n->dst);
    uint32_t quota[FV_SELECT_MAX_TILES] = {0};
    uint32_t base = p->k;
    if (p->mode & FV_SELECT_TILES) select_quotas(p, ts, quota);
    if (p->mode & FV_SELECT_PRIOR) {
        uint32_t c = 0;
        for (uint32_t j = 0; j < p->n; j++) c += select_prior(p, prior, j);
        base = p->k > c ? p->k - c : 0;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        if (select_prior(p, prior, i)) {
            flag[i] = 1;
            continue;
        }
        const bool tiles = (p->mode & FV_SELECT_TILES) != 0;
        const int ti = tiles ? select_tile(p, i) : 0;
        const uint32_t q = tiles ? quota[ti] : base;
        const float si = s[p->skip + i];
        uint32_t rank = 0;
        for (uint32_t j = 0; j < p->n; j++) {
            if (j == i || select_prior(p, prior, j) || (tiles && select_tile(p, j) != ti)) continue;
            const float sj = s[p->skip + j];
            rank += sj > si || (sj == si && j < i);
        }
        flag[i] = rank < q;
    }
    return FV_STATUS_OK;
}

static fv_status compact_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_pc_compact *p = &((const compact_params *)n->params)->pc;
    const int32_t *flag = fv_tensor_host(n->src[0]);
    int32_t *out = fv_tensor_host(n->dst);
    if (p->lead) out[0] = 0;
    uint32_t slot = 0;
    for (uint32_t i = 0; i < p->n && slot < p->k; i++)
        if (flag[i]) out[p->lead + slot++] = (int32_t)(i + p->offset);
    return FV_STATUS_OK;
}

/* ---- dispatch ---------------------------------------------------------- */

static fv_status select_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const fv_pc_select *p = &((const select_params *)n->params)->pc;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    fv_dispatch *d = fv_dispatch_push(out, cl ? "select_cl" : "select");
    if (!d) return FV_STATUS_UNSUPPORTED;
    for (int i = 0; i < 3; i++) fv_dispatch_bind(d, n->src[i], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, p, sizeof *p);
    fv_dispatch_size_1d(d, p->n, 64);
    return FV_STATUS_OK;
}

static fv_status compact_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const fv_pc_compact *p = &((const compact_params *)n->params)->pc;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    fv_dispatch *d = fv_dispatch_push(out, cl ? "compact_cl" : "compact");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, p, sizeof *p);
    fv_dispatch_size_1d(d, p->n, 64);
    return FV_STATUS_OK;
}

/* Each invocation loops over all candidates (twice with a prior mask), and
 * llvmpipe (Mesa 22.3) silently stops an invocation after 65,535 loop
 * iterations in total: far above a ViT's token count, but checked. */
#define SELECT_MAX_N 20000

static const char *small_unsupported(const fv_node *n, const fv_device_info *dev)
{
    if (fv_tensor_numel(n->dst) > SELECT_MAX_N || fv_tensor_numel(n->src[0]) > SELECT_MAX_N + 1)
        return "more than 20000 candidate tokens";
    for (int i = 0; i < n->nsrc; i++)
        if (n->src[i]->nbytes > dev->max_storage_range) return "an input is larger than one storage binding";
    return NULL;
}

static const fv_op_def op_select = {"token_select", select_cpu, select_encode, small_unsupported};
static const fv_op_def op_compact = {"mask_compact", compact_cpu, compact_encode, small_unsupported};

/* ---- builders ---------------------------------------------------------- */

static fv_status check_scores(fv_graph *g, const char *op, const char *what, const fv_tensor *t, int64_t need)
{
    FV_OP_CHECK_INPUT(g, op, what, t);
    char s[96];
    if (t->dtype != FV_DTYPE_F32 || fv_tensor_numel(t) < need)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "%s: %s is %s %s; it must be f32 with %lld elements",
                       op, what, fv_dtype_name(t->dtype), fv_shape_str(t, s, sizeof s), (long long)need);
    return FV_STATUS_OK;
}

fv_status fv_op_token_select(fv_graph *g, fv_tensor *scores, const fv_token_select_desc *desc, fv_tensor **flags)
{
    if (!g || !desc || !flags) return FV_STATUS_INVALID_ARGUMENT;
    fv_context *ctx = fv_graph_context(g);
    const fv_token_select_desc *q = desc;
    if (q->n <= 0 || q->skip < 0 || q->k <= 0 || q->k > q->n)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "token_select: keep %d of %d candidates", q->k, q->n);
    fv_status st = check_scores(g, "token_select", "scores", scores, (int64_t)q->skip + q->n);
    if (st) return st;
    const bool grid = q->prior && q->dilate, tiles = q->tiles_x > 0;
    if ((grid || tiles) && (q->grid_w <= 0 || q->grid_h <= 0 || (int64_t)q->grid_w * q->grid_h != q->n))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "token_select: grid %dx%d for %d candidates", q->grid_w,
                       q->grid_h, q->n);
    if (tiles && (q->tiles_y <= 0 || q->tiles_x * q->tiles_y > FV_SELECT_MAX_TILES || q->tiles_x > q->grid_w ||
                  q->tiles_y > q->grid_h))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "token_select: %dx%d tiles on a %dx%d grid (at most %d tiles)",
                       q->tiles_x, q->tiles_y, q->grid_w, q->grid_h, FV_SELECT_MAX_TILES);
    if (tiles && q->prior)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "token_select: a prior mask and tiles together");
    if (q->prior) {
        FV_OP_CHECK_INPUT(g, "token_select", "prior", q->prior);
        char s[96];
        if (q->prior->dtype != FV_DTYPE_I32 || fv_tensor_numel(q->prior) != q->n)
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                           "token_select: prior is %s %s; it must be i32 with %d elements",
                           fv_dtype_name(q->prior->dtype), fv_shape_str(q->prior, s, sizeof s), q->n);
    }
    if (tiles) {
        st = check_scores(g, "token_select", "tile_scores", q->tile_scores, (int64_t)q->skip + q->n);
        if (st) return st;
    }
    select_params p = {{.n = (uint32_t)q->n,
                        .skip = (uint32_t)q->skip,
                        .k = (uint32_t)q->k,
                        .mode = (q->prior ? FV_SELECT_PRIOR : 0u) | (grid ? FV_SELECT_DILATE : 0u) |
                                (tiles ? FV_SELECT_TILES : 0u),
                        .grid_w = (uint32_t)FV_MAX(q->grid_w, 1),
                        .grid_h = (uint32_t)FV_MAX(q->grid_h, 1),
                        .tiles_x = (uint32_t)FV_MAX(q->tiles_x, 1),
                        .tiles_y = (uint32_t)FV_MAX(q->tiles_y, 1)}};
    /* unused inputs stand in for their bindings with the scores */
    fv_tensor *src[3] = {scores, q->prior ? q->prior : scores, tiles ? q->tile_scores : scores};
    const int64_t shape[1] = {q->n};
    return fv_graph_add_node(g, &op_select, src, 3, &p, sizeof p, FV_DTYPE_I32, 1, shape, flags);
}

fv_status fv_op_mask_compact(fv_graph *g, fv_tensor *flags, int k, int offset, bool lead, fv_tensor **indices)
{
    if (!g || !indices) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "mask_compact", "flags", flags);
    char s[96];
    const int64_t n = fv_tensor_numel(flags);
    if (flags->dtype != FV_DTYPE_I32 || k <= 0 || k > n || offset < 0)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "mask_compact: flags %s %s, k %d, offset %d: need i32 flags and 0 < k <= n",
                       fv_dtype_name(flags->dtype), fv_shape_str(flags, s, sizeof s), k, offset);
    compact_params p = {{.n = (uint32_t)n, .k = (uint32_t)k, .offset = (uint32_t)offset, .lead = lead ? 1u : 0u}};
    fv_tensor *src[1] = {flags};
    const int64_t shape[1] = {k + (lead ? 1 : 0)};
    return fv_graph_add_node(g, &op_compact, src, 1, &p, sizeof p, FV_DTYPE_I32, 1, shape, indices);
}

fv_status fv_op_topk(fv_graph *g, fv_tensor *scores, int k, fv_tensor **indices)
{
    if (!g || !indices) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "topk", "scores", scores);
    const int64_t n = fv_tensor_numel(scores);
    char s[96];
    if (scores->dtype != FV_DTYPE_F32 || n > INT32_MAX || fv_tensor_rows(scores) != 1 || k <= 0 || k > n)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "topk: scores %s %s, k %d: need f32 [n] or [1, n] and 0 < k <= n", fv_dtype_name(scores->dtype),
                       fv_shape_str(scores, s, sizeof s), k);
    fv_token_select_desc d = {.n = (int)n, .k = k};
    fv_tensor *flags;
    fv_status st = fv_op_token_select(g, scores, &d, &flags);
    if (!st) st = fv_op_mask_compact(g, flags, k, 0, false, indices);
    return st;
}
