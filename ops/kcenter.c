/* kcenter: greedy k-center selection on cosine distance, DivPrune's
 * max-min diversity rule (Alvar et al., "DivPrune: Diversity-based Visual
 * Token Pruning for Large Multimodal Models", CVPR 2025; ToDRE's diversity
 * stage is the same greedy step). Semantics: fovea.h, fv_op_kcenter.
 *
 * Three nodes: the candidates' unit rows (kcenter_normalize), their Gram
 * matrix by the matmul op (the device's fastest path for the O(n^2 D)
 * part), and the selection over it (kcenter: the seed scores, every
 * candidate's distance to its nearest other one, then the k dependent
 * steps in one workgroup, cut into ranges of steps: one dispatch per range,
 * not one per step; the ranges keep every invocation under llvmpipe's
 * limit of 65,535 loop iterations). The selection's output is i32 [2n]:
 * flags, then nearest-pick distances as float bits; callers see the flags
 * through a view. */
#include "op_common.h"

#include <stdlib.h>

#define KC_LANES 256u
/* loop iterations one invocation may spend in one dispatch */
#define KC_ITER_BUDGET 60000u

typedef struct kcenter_params {
    fv_pc_kcenter pc;
} kcenter_params;

/* ---- normalize: unit rows for the Gram matrix --------------------------- */

static fv_status normalize_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_pc_kcenter *p = &((const kcenter_params *)n->params)->pc;
    const float *x = fv_tensor_host(n->src[0]);
    float *y = fv_tensor_host(n->dst);
    for (uint32_t j = 0; j < p->n; j++) {
        const float *a = x + (size_t)(p->skip + j) * p->dim;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        uint32_t c = 0;
        for (; c + 4 <= p->dim; c += 4) {
            s0 += a[c] * a[c];
            s1 += a[c + 1] * a[c + 1];
            s2 += a[c + 2] * a[c + 2];
            s3 += a[c + 3] * a[c + 3];
        }
        float s = (s0 + s1) + (s2 + s3);
        for (; c < p->dim; c++) s += a[c] * a[c];
        const float nrm = fmaxf(sqrtf(s), 1e-12f);
        for (c = 0; c < p->dim; c++) y[(size_t)j * p->dim + c] = a[c] / nrm;
    }
    return FV_STATUS_OK;
}

static fv_status normalize_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const fv_pc_kcenter *p = &((const kcenter_params *)n->params)->pc;
    fv_dispatch *d = fv_dispatch_push(out, dev->backend == FV_BACKEND_OPENCL ? "kcenter_norm_cl" : "kcenter_norm");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, p, sizeof *p);
    fv_dispatch_size_1d(d, p->n, 64);
    return FV_STATUS_OK;
}

/* ---- the selection over the Gram matrix -------------------------------- */

/* the kernels' distance: the upper triangle, so d(i, j) == d(j, i) */
static float kc_dist(const float *gram, uint32_t n, uint32_t i, uint32_t j)
{
    return 1.0f - gram[(size_t)FV_MIN(i, j) * n + FV_MAX(i, j)];
}

static fv_status kcenter_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_pc_kcenter *p = &((const kcenter_params *)n->params)->pc;
    const float *gram = fv_tensor_host(n->src[0]);
    int32_t *flag = fv_tensor_host(n->dst);
    float *mind = malloc((size_t)p->n * sizeof *mind);
    if (!mind) return fv_fail(n->dst->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "kcenter: out of host memory");
    for (uint32_t j = 0; j < p->n; j++) {
        float best = INFINITY;
        for (uint32_t i = 0; i < p->n; i++)
            if (i != j) best = fminf(best, kc_dist(gram, p->n, i, j));
        mind[j] = best;
        flag[j] = 0;
    }
    for (uint32_t step = 0; step < p->k; step++) {
        uint32_t s = p->n;
        for (uint32_t j = 0; j < p->n; j++)
            if (!flag[j] && (s == p->n || mind[j] > mind[s])) s = j;
        flag[s] = 1;
        for (uint32_t j = 0; j < p->n; j++) {
            if (flag[j]) continue;
            const float d = kc_dist(gram, p->n, j, s);
            mind[j] = step == 0 ? d : fminf(mind[j], d);
        }
    }
    memcpy(flag + p->n, mind, (size_t)p->n * sizeof *mind);
    free(mind);
    return FV_STATUS_OK;
}

/* steps per dispatch: lane 0's scan of the lanes plus its candidates */
static uint32_t kcenter_lanes(const fv_pc_kcenter *p) { return p->n <= 512 ? 64u : KC_LANES; }

static uint32_t kcenter_steps_per_dispatch(const fv_pc_kcenter *p)
{
    const uint32_t lanes = kcenter_lanes(p), per_step = ((p->n + lanes - 1) / lanes) * 2 + lanes + 4;
    return FV_MAX(1u, KC_ITER_BUDGET / per_step);
}

static fv_status kcenter_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const fv_pc_kcenter *p = &((const kcenter_params *)n->params)->pc;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    fv_dispatch *d = fv_dispatch_push(out, cl ? "kcenter_seed_cl" : "kcenter_seed");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, p, sizeof *p);
    fv_dispatch_size_1d(d, p->n, 64);
    const uint32_t chunk = kcenter_steps_per_dispatch(p);
    for (uint32_t lo = 0; lo < p->k; lo += chunk) {
        d = fv_dispatch_push(out, cl ? "kcenter_steps_cl" : "kcenter_steps");
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_pc_kcenter pc = *p;
        pc.lo = lo;
        pc.hi = FV_MIN(p->k, lo + chunk);
        fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
        fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, kcenter_lanes(p), kcenter_lanes(p));
    }
    return FV_STATUS_OK;
}

static const char *kcenter_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const fv_pc_kcenter *p = &((const kcenter_params *)n->params)->pc;
    const uint32_t chunk = kcenter_steps_per_dispatch(p);
    if (1 + (p->k + chunk - 1) / chunk > FV_MAX_DISPATCHES_PER_NODE) return "too many steps for one node";
    if (p->n > KC_ITER_BUDGET) return "more candidates than one invocation may loop over";
    if (dev->max_workgroup_invocations < KC_LANES) return "workgroups of 256 invocations are needed";
    for (int i = 0; i < n->nsrc; i++)
        if (n->src[i]->nbytes > dev->max_storage_range) return "an input is larger than one storage binding";
    return NULL;
}

static const fv_op_def op_normalize = {"kcenter_normalize", normalize_cpu, normalize_encode, kcenter_unsupported};
static const fv_op_def op_kcenter = {"kcenter", kcenter_cpu, kcenter_encode, kcenter_unsupported};

fv_status fv_op_kcenter_flags(fv_graph *g, fv_tensor *x, int skip, int n, int k, fv_tensor **flags)
{
    if (!g || !flags) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "kcenter", "x", x);
    char s[96];
    const int64_t dim = x->shape[x->ndim - 1], rows = fv_tensor_rows(x);
    if (x->dtype != FV_DTYPE_F32 || skip < 0 || n <= 0 || k <= 0 || k > n || skip + (int64_t)n > rows ||
        rows * dim > UINT32_MAX || (int64_t)n * n > INT32_MAX)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "kcenter: x %s %s, rows %d .. %d, k %d: need f32 rows in range and 0 < k <= n",
                       fv_dtype_name(x->dtype), fv_shape_str(x, s, sizeof s), skip, skip + n - 1, k);
    kcenter_params p = {{.n = (uint32_t)n, .skip = (uint32_t)skip, .dim = (uint32_t)dim, .k = (uint32_t)k}};
    fv_tensor *src[1] = {x}, *unit, *gram, *all;
    const int64_t ushape[2] = {n, dim}, shape[1] = {2 * (int64_t)n}, part[1] = {n};
    /* unit rows, their Gram matrix by the matmul op, then the selection */
    fv_status st = fv_graph_add_node(g, &op_normalize, src, 1, &p, sizeof p, FV_DTYPE_F32, 2, ushape, &unit);
    if (!st) st = fv_op_matmul(g, unit, unit, NULL, &gram);
    if (!st) st = fv_graph_add_node(g, &op_kcenter, &gram, 1, &p, sizeof p, FV_DTYPE_I32, 1, shape, &all);
    if (!st) st = fv_graph_view(g, all, 0, FV_DTYPE_I32, 1, part, flags);
    return st;
}

fv_status fv_op_kcenter(fv_graph *g, fv_tensor *x, int k, fv_tensor **indices)
{
    if (!g || !indices) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "kcenter", "x", x);
    char s[96];
    const int64_t rows = fv_tensor_rows(x);
    if (x->ndim < 2 || (x->ndim == 3 && x->shape[0] != 1) || x->ndim > 3 || rows > INT32_MAX)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT, "kcenter: x %s must be [n, D] or [1, n, D]",
                       fv_shape_str(x, s, sizeof s));
    fv_tensor *flags;
    fv_status st = fv_op_kcenter_flags(g, x, 0, (int)rows, k, &flags);
    if (!st) st = fv_op_mask_compact(g, flags, k, 0, false, indices);
    return st;
}
