/* tome: one step of ToMe's bipartite soft matching (Bolya et al., "Token
 * Merging: Your ViT But Faster", ICLR 2023), between a block's attention and
 * its MLP. Semantics: fovea.h, fv_op_tome.
 *
 * Tokens alternate into A (even indices) and B (odd). Each a in A is joined
 * to its most similar b (cosine similarity of the keys; ties to the lower b),
 * the r best edges (ties to the lower a) are merged: a's state joins b's by
 * size-weighted mean and their sizes add. With `protect`, token 0 (in A) is
 * never merged. Output order, ToMe's own: the unmerged A tokens in their
 * order, then every B token in its order.
 *
 * Four kernels (shaders/tome.comp, shaders/cl/tome.cl), one dispatch each:
 *   match  one invocation per a: its best b and the similarity;
 *   rank   one invocation per a: how many edges beat its edge (a
 *          permutation of 0 .. Na-1; rank < r means merged);
 *   dest   one invocation per token: the output row it lands in; also the
 *          source lists the merge reads (order: a by rank; unm: the a of
 *          each unmerged output row), both written by unique index;
 *   merge  one invocation per (output row, 4 channels): sums its sources,
 *          the merged a's found among the r first entries of `order`.
 * Nothing is atomic, so every backend merges identically.
 *
 * The dst is packed (f32 words, parts at FV_VIEW_ALIGN):
 *   y [B, N-r, C] | size [B, N-r] | log size [B, N-r] | dest i32 [B, N]
 *   | best f32 [B, Na] | best_b i32 [B, Na] | rank i32 [B, Na] | order i32 [B, Na] | unm i32 [B, Na] */
#include "op_common.h"

#include <float.h>
#include <stdlib.h>

typedef struct tome_params {
    int64_t batch, n, c, dk, r;
    int32_t protect, has_size;
    uint64_t off[9]; /* y, size, log size, dest, best, best_b, rank, order, unm */
} tome_params;

enum { P_Y, P_SIZE, P_LOGSIZE, P_DEST, P_BEST, P_BESTB, P_RANK, P_ORDER, P_UNM, P_COUNT };

#define TOME_NONE (-FLT_MAX) /* a protected token's best similarity: below any cosine */

/* ---- plain-C reference --------------------------------------------------------- */

static fv_status tome_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const tome_params *p = (const tome_params *)n->params;
    const float *x = fv_tensor_host(n->src[0]), *k = fv_tensor_host(n->src[1]);
    const float *size = p->has_size ? fv_tensor_host(n->src[2]) : NULL;
    char *base = fv_tensor_host(n->dst);
    float *y = (float *)(base + p->off[P_Y]), *ysize = (float *)(base + p->off[P_SIZE]);
    float *ylog = (float *)(base + p->off[P_LOGSIZE]);
    int32_t *dest = (int32_t *)(base + p->off[P_DEST]);
    float *best = (float *)(base + p->off[P_BEST]);
    int32_t *best_b = (int32_t *)(base + p->off[P_BESTB]), *rank = (int32_t *)(base + p->off[P_RANK]);
    const int64_t N = p->n, C = p->c, Dk = p->dk, r = p->r, Na = (N + 1) / 2, Nb = N / 2, M = N - r;
    double *acc = malloc((size_t)(M * C + M) * sizeof *acc);
    if (!acc) return fv_fail(n->dst->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "tome: out of host memory");
    for (int64_t bt = 0; bt < p->batch; bt++) {
        const float *kb = k + bt * N * Dk, *xb = x + bt * N * C;
        float *bb = best + bt * Na;
        int32_t *ib = best_b + bt * Na, *rk = rank + bt * Na, *db = dest + bt * N;
        for (int64_t a = 0; a < Na; a++) {
            const float *ka = kb + 2 * a * Dk;
            double na = 0;
            for (int64_t c = 0; c < Dk; c++) na += (double)ka[c] * ka[c];
            bb[a] = TOME_NONE;
            ib[a] = 0;
            if (p->protect && a == 0) continue;
            for (int64_t j = 0; j < Nb; j++) {
                const float *kj = kb + (2 * j + 1) * Dk;
                double dot = 0, nj = 0;
                for (int64_t c = 0; c < Dk; c++) {
                    dot += (double)ka[c] * kj[c];
                    nj += (double)kj[c] * kj[c];
                }
                const float s = (float)(dot / (fmax(sqrt(na), 1e-12) * fmax(sqrt(nj), 1e-12)));
                if (s > bb[a]) { /* strictly greater: ties keep the lower b */
                    bb[a] = s;
                    ib[a] = (int32_t)j;
                }
            }
        }
        for (int64_t a = 0; a < Na; a++) {
            int32_t cnt = 0;
            for (int64_t o = 0; o < Na; o++) cnt += bb[o] > bb[a] || (bb[o] == bb[a] && o < a);
            rk[a] = cnt;
        }
        int64_t next = 0;
        for (int64_t a = 0; a < Na; a++) db[2 * a] = (int32_t)(rk[a] < r ? Na - r + ib[a] : next++);
        for (int64_t j = 0; j < Nb; j++) db[2 * j + 1] = (int32_t)(Na - r + j);
        for (int64_t e = 0; e < M * C + M; e++) acc[e] = 0;
        for (int64_t t = 0; t < N; t++) {
            const double s = size ? size[bt * N + t] : 1.0;
            for (int64_t c = 0; c < C; c++) acc[db[t] * C + c] += s * xb[t * C + c];
            acc[M * C + db[t]] += s;
        }
        for (int64_t o = 0; o < M; o++) {
            for (int64_t c = 0; c < C; c++) y[(bt * M + o) * C + c] = (float)(acc[o * C + c] / acc[M * C + o]);
            ysize[bt * M + o] = (float)acc[M * C + o];
            ylog[bt * M + o] = logf(ysize[bt * M + o]);
        }
    }
    free(acc);
    return FV_STATUS_OK;
}

/* ---- GPU ------------------------------------------------------------------------ */

#define TOME_LOCAL 64

static void bind_part(fv_dispatch *d, const fv_node *n, int part, size_t bytes, bool write)
{
    const tome_params *p = (const tome_params *)n->params;
    fv_dispatch_bind_range(d, n->dst, p->off[part], bytes, FV_BIND_STORAGE, write);
}

static fv_status tome_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const tome_params *p = (const tome_params *)n->params;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    const int64_t N = p->n, Na = (N + 1) / 2, M = N - p->r;
    const size_t a_bytes = (size_t)(p->batch * Na) * 4;
    fv_pc_tome pc = {.batch = (uint32_t)p->batch, .n = (uint32_t)N, .na = (uint32_t)Na, .nb = (uint32_t)(N / 2),
                     .c = (uint32_t)p->c, .dk = (uint32_t)p->dk, .r = (uint32_t)p->r,
                     .protect = (uint32_t)p->protect, .has_size = (uint32_t)p->has_size};
    static const char *const vk_names[4] = {"tome_match", "tome_rank", "tome_dest", "tome_merge"};
    static const char *const cl_names[4] = {"tome_match_cl", "tome_rank_cl", "tome_dest_cl", "tome_merge_cl"};
    fv_dispatch *d[4];
    for (int i = 0; i < 4; i++) {
        d[i] = fv_dispatch_push(out, cl ? cl_names[i] : vk_names[i]);
        if (!d[i]) return FV_STATUS_UNSUPPORTED;
    }
    /* match: keys → best, best_b */
    fv_dispatch_bind(d[0], n->src[1], FV_BIND_STORAGE, false);
    bind_part(d[0], n, P_BEST, a_bytes, true);
    bind_part(d[0], n, P_BESTB, a_bytes, true);
    fv_dispatch_size_1d(d[0], (uint64_t)(p->batch * Na), TOME_LOCAL);
    /* rank: best → rank */
    bind_part(d[1], n, P_BEST, a_bytes, false);
    bind_part(d[1], n, P_RANK, a_bytes, true);
    fv_dispatch_size_1d(d[1], (uint64_t)(p->batch * Na), TOME_LOCAL);
    /* dest: best_b, rank → dest, order, unm */
    bind_part(d[2], n, P_BESTB, a_bytes, false);
    bind_part(d[2], n, P_RANK, a_bytes, false);
    bind_part(d[2], n, P_DEST, (size_t)(p->batch * N) * 4, true);
    bind_part(d[2], n, P_ORDER, a_bytes, true);
    bind_part(d[2], n, P_UNM, a_bytes, true);
    fv_dispatch_size_1d(d[2], (uint64_t)(p->batch * N), TOME_LOCAL);
    /* merge: x, size, best_b, order, unm → y, size out */
    fv_dispatch_bind(d[3], n->src[0], FV_BIND_STORAGE, false);
    if (p->has_size) fv_dispatch_bind(d[3], n->src[2], FV_BIND_STORAGE, false);
    else fv_dispatch_bind_range(d[3], n->src[0], 0, 16, FV_BIND_STORAGE, false); /* stand-in, not read */
    bind_part(d[3], n, P_BESTB, a_bytes, false);
    bind_part(d[3], n, P_ORDER, a_bytes, false);
    bind_part(d[3], n, P_UNM, a_bytes, false);
    bind_part(d[3], n, P_Y, (size_t)(p->batch * M * p->c) * 4, true);
    bind_part(d[3], n, P_SIZE, (size_t)(p->batch * M) * 4, true);
    bind_part(d[3], n, P_LOGSIZE, (size_t)(p->batch * M) * 4, true);
    fv_dispatch_size_1d(d[3], (uint64_t)(p->batch * M) * (uint64_t)((p->c + 3) / 4), TOME_LOCAL);
    for (int i = 0; i < 4; i++) fv_dispatch_set_push(d[i], &pc, sizeof pc);
    return FV_STATUS_OK;
}

static const char *tome_unsupported(const fv_node *n, const fv_device_info *dev)
{
    if (dev->backend == FV_BACKEND_CPU) return NULL;
    const tome_params *p = (const tome_params *)n->params;
    if (n->src[0]->nbytes > dev->max_storage_range || n->dst->nbytes > dev->max_storage_range)
        return "x or the outputs are larger than one storage binding";
    if ((uint64_t)(p->batch * p->n * p->c) >= (1ull << 31)) return "x is too large for 32-bit indexing";
    return NULL;
}

static const fv_op_def op_tome = {"tome", tome_cpu, tome_encode, tome_unsupported};

/* ---- builder ---------------------------------------------------------------------- */

fv_status fv_op_tome(fv_graph *g, fv_tensor *x, fv_tensor *keys, fv_tensor *size, int r, bool protect,
                     fv_tome_result *res)
{
    if (!g || !res) return FV_STATUS_INVALID_ARGUMENT;
    memset(res, 0, sizeof *res);
    FV_OP_CHECK_INPUT(g, "tome", "x", x);
    FV_OP_CHECK_INPUT(g, "tome", "keys", keys);
    if (size) FV_OP_CHECK_INPUT(g, "tome", "size", size);
    fv_status st = fv_op_require_dtype(g, "tome", "x", x, FV_DTYPE_F32);
    if (!st) st = fv_op_require_dtype(g, "tome", "keys", keys, FV_DTYPE_F32);
    if (!st && size) st = fv_op_require_dtype(g, "tome", "size", size, FV_DTYPE_F32);
    if (st) return st;
    fv_context *ctx = fv_graph_context(g);
    char sx[96], sk[96];
    fv_shape_str(x, sx, sizeof sx);
    fv_shape_str(keys, sk, sizeof sk);
    if (x->ndim != 3 || keys->ndim != 3 || keys->shape[0] != x->shape[0] || keys->shape[1] != x->shape[1])
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "tome: x %s and keys %s must be [B, N, C] and [B, N, Dk]", sx,
                       sk);
    if (size && (size->ndim != 2 || size->shape[0] != x->shape[0] || size->shape[1] != x->shape[1])) {
        char ss[96];
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "tome: size %s must be [B, N] for x %s",
                       fv_shape_str(size, ss, sizeof ss), sx);
    }
    const int64_t N = x->shape[1], limit = (N - (protect ? 1 : 0)) / 2;
    if (r < 0 || r > limit)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "tome: r = %d; %lld tokens allow 0 .. %lld merges", r,
                       (long long)N, (long long)limit);
    tome_params p = {.batch = x->shape[0], .n = N, .c = x->shape[2], .dk = keys->shape[2], .r = r,
                     .protect = protect, .has_size = size != NULL};
    const int64_t Na = (N + 1) / 2, M = N - r;
    const uint64_t rows = (uint64_t)(p.batch * M) * 4, tokens = (uint64_t)(p.batch * N) * 4,
                   as = (uint64_t)(p.batch * Na) * 4;
    const uint64_t bytes[P_COUNT] = {rows * (uint64_t)p.c, rows, rows, tokens, as, as, as, as, as};
    uint64_t top = 0;
    for (int i = 0; i < P_COUNT; i++) {
        p.off[i] = top;
        top += FV_ALIGN_UP(bytes[i], FV_VIEW_ALIGN);
    }
    fv_tensor *src[3] = {x, keys, size}, *packed = NULL;
    const int64_t total = (int64_t)(top / 4);
    st = fv_graph_add_node(g, &op_tome, src, size ? 3 : 2, &p, sizeof p, FV_DTYPE_F32, 1, &total, &packed);
    const int64_t yshape[3] = {p.batch, M, p.c}, sshape[2] = {p.batch, M}, dshape[2] = {p.batch, N};
    if (!st) st = fv_graph_view(g, packed, p.off[P_Y], FV_DTYPE_F32, 3, yshape, &res->x);
    if (!st) st = fv_graph_view(g, packed, p.off[P_SIZE], FV_DTYPE_F32, 2, sshape, &res->size);
    if (!st) st = fv_graph_view(g, packed, p.off[P_LOGSIZE], FV_DTYPE_F32, 2, sshape, &res->log_size);
    if (!st) st = fv_graph_view(g, packed, p.off[P_DEST], FV_DTYPE_I32, 2, dshape, &res->dest);
    if (st) memset(res, 0, sizeof *res);
    return st;
}
