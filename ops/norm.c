/* layernorm and rmsnorm over the last dimension, with an optional weight
 * (and, for layernorm, bias) of that length in f32 or f16. One kernel for
 * both; the layout per device type is chosen as row_ops.h describes
 * (FOVEA_ROW_VARIANT). */
#include "row_ops.h"

typedef struct norm_params {
    uint32_t kind; /* FV_NORM_* */
    float eps;
    int32_t weight; /* source index, or -1 */
    int32_t bias;   /* source index, or -1 */
} norm_params;

static float load_f(const fv_tensor *t, int64_t i)
{
    const void *h = fv_tensor_host(t);
    return t->dtype == FV_DTYPE_F16 ? fv_f16_to_f32(((const uint16_t *)h)[i]) : ((const float *)h)[i];
}

static fv_status norm_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const norm_params *p = (const norm_params *)n->params;
    const fv_tensor *xt = n->src[0];
    const fv_tensor *wt = p->weight >= 0 ? n->src[p->weight] : NULL,
                    *bt = p->bias >= 0 ? n->src[p->bias] : NULL;
    const float *x = fv_tensor_host(xt);
    float *y = fv_tensor_host(n->dst);
    int64_t rows = fv_tensor_rows(xt), cols = xt->shape[xt->ndim - 1];
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        double mean = 0, var = 0;
        if (p->kind == FV_NORM_LAYER) {
            for (int64_t c = 0; c < cols; c++) mean += xr[c];
            mean /= (double)cols;
        }
        for (int64_t c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= (double)cols;
        float rstd = (float)(1.0 / sqrt(var + p->eps));
        for (int64_t c = 0; c < cols; c++) {
            float v = (float)(xr[c] - mean) * rstd;
            if (wt) v *= load_f(wt, c);
            if (bt) v += load_f(bt, c);
            y[r * cols + c] = v;
        }
    }
    return FV_STATUS_OK;
}

/* OpenCL: one dispatch over all rows in the layout row_ops.h picks
 * (shaders/cl/norm.cl) */
static fv_status norm_encode_cl(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const norm_params *p = (const norm_params *)n->params;
    const fv_tensor *x = n->src[0];
    int64_t rows = fv_tensor_rows(x), cols = x->shape[x->ndim - 1];
    /* an absent weight or bias binds x in its place; the kernel never reads it */
    const fv_tensor *w = p->weight >= 0 ? n->src[p->weight] : x, *b = p->bias >= 0 ? n->src[p->bias] : x;
    bool per_item = fv_cl_row_per_item(dev);
    fv_dispatch *d = fv_dispatch_push(out, per_item ? "norm_cl_row" : "norm_cl_group");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, x, FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, w, FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, b, FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_pc_norm pc = {.rows = (uint32_t)rows, .cols = (uint32_t)cols, .eps = p->eps,
                     .rows_per_item = fv_cl_rows_per_item(rows, cols)};
    fv_dispatch_set_push(d, &pc, sizeof pc);
    if (per_item) {
        fv_dispatch_size_1d(d, ((uint64_t)rows + pc.rows_per_item - 1) / pc.rows_per_item, 1);
    } else {
        uint32_t local = fv_row_workgroup_size(dev, cols / 4);
        fv_dispatch_size_1d(d, (uint64_t)rows * local, local);
    }
    d->spec[1] = p->kind;
    d->spec[2] = (p->weight >= 0 ? FV_NORM_WEIGHT : 0) | (p->bias >= 0 ? FV_NORM_BIAS : 0);
    d->spec[3] = w->dtype == FV_DTYPE_F16;
    d->spec[4] = b->dtype == FV_DTYPE_F16;
    d->nspec = 5;
    return FV_STATUS_OK;
}

static fv_status norm_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const norm_params *p = (const norm_params *)n->params;
    const fv_tensor *x = n->src[0];
    int64_t rows = fv_tensor_rows(x), cols = x->shape[x->ndim - 1];
    if (dev->backend == FV_BACKEND_OPENCL) return norm_encode_cl(n, dev, out);
    static const char *const sg_kernels[3] = {"norm_sg_f32", "norm_sg_f32x4", "norm_sg_f32x8"};
    static const char *const wg_kernels[2] = {"norm_wg_f32", "norm_wg_f32x4"};
    bool sg;
    int width;
    int64_t per = fv_row_plan(dev, x, &sg, &width);
    if (per == 0) return FV_STATUS_UNSUPPORTED;
    const char *kernel = sg ? sg_kernels[fv_unit_variant(width)] : wg_kernels[fv_unit_variant(width)];
    size_t row_bytes = (size_t)cols * 4;
    /* an absent weight or bias binds x in its place; the kernel never reads it */
    const fv_tensor *w = p->weight >= 0 ? n->src[p->weight] : x, *b = p->bias >= 0 ? n->src[p->bias] : x;
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t cnt = FV_MIN(per, rows - r0);
        fv_dispatch *d = fv_dispatch_push(out, kernel);
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind_range(d, x, (size_t)r0 * row_bytes, (size_t)cnt * row_bytes,
                               fv_unit_texel_kind(x->dtype, width), false);
        fv_dispatch_bind_range(d, w, 0, fv_dtype_row_bytes(w->dtype, cols),
                               fv_unit_texel_kind(w->dtype, width), false);
        fv_dispatch_bind_range(d, b, 0, fv_dtype_row_bytes(b->dtype, cols),
                               fv_unit_texel_kind(b->dtype, width), false);
        fv_dispatch_bind_range(d, n->dst, (size_t)r0 * row_bytes, (size_t)cnt * row_bytes, FV_BIND_STORAGE,
                               true);
        fv_pc_norm pc = {.rows = (uint32_t)cnt, .cols = (uint32_t)cols, .eps = p->eps};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        if (sg) {
            /* each subgroup takes FV_NORM_SUBGROUP_ROWS rows at a time */
            uint32_t local = fv_row_subgroup_local(dev),
                     rpg = fv_row_subgroup_rows(dev) * FV_NORM_SUBGROUP_ROWS;
            fv_dispatch_size_1d(d, ((uint64_t)cnt + rpg - 1) / rpg * local, local);
            d->spec[1] = rpg;
        } else {
            uint32_t local = fv_row_workgroup_size(dev, cols / width);
            fv_dispatch_size_1d(d, (uint64_t)cnt * local, local);
        }
        d->spec[2] = p->kind;
        d->spec[3] = (p->weight >= 0 ? FV_NORM_WEIGHT : 0) | (p->bias >= 0 ? FV_NORM_BIAS : 0);
        d->nspec = 4;
    }
    return FV_STATUS_OK;
}

static const char *norm_unsupported(const fv_node *n, const fv_device_info *dev)
{
    if (dev->backend == FV_BACKEND_OPENCL) return fv_cl_unsupported_size((uint64_t)fv_tensor_numel(n->dst));
    bool sg;
    int width;
    return fv_row_plan(dev, n->src[0], &sg, &width) ? NULL
                                                    : "tensor needs more dispatches than a node may have";
}

static const fv_op_def op_layernorm = {"layernorm", norm_cpu, norm_encode, norm_unsupported};
static const fv_op_def op_rmsnorm = {"rmsnorm", norm_cpu, norm_encode, norm_unsupported};

static fv_status check_affine(fv_graph *g, const char *op, const char *what, const fv_tensor *x,
                              const fv_tensor *t)
{
    FV_OP_CHECK_INPUT(g, op, what, t);
    char sx[96], st[96];
    if (t->dtype != FV_DTYPE_F32 && t->dtype != FV_DTYPE_F16)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "%s: %s is %s %s; it must be f32 or f16", op, what, fv_dtype_name(t->dtype),
                       fv_shape_str(t, st, sizeof st));
    if (fv_tensor_numel(t) != x->shape[x->ndim - 1])
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "%s: %s %s must hold one value per column of x %s", op, what,
                       fv_shape_str(t, st, sizeof st), fv_shape_str(x, sx, sizeof sx));
    return FV_STATUS_OK;
}

static fv_status norm_build(fv_graph *g, const fv_op_def *op, uint32_t kind, fv_tensor *x, fv_tensor *weight,
                            fv_tensor *bias, float eps, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, op->name, "x", x);
    fv_status st = fv_op_require_dtype(g, op->name, "x", x, FV_DTYPE_F32);
    if (!st && weight) st = check_affine(g, op->name, "weight", x, weight);
    if (!st && bias) st = check_affine(g, op->name, "bias", x, bias);
    if (st) return st;
    if (!(eps >= 0) || !isfinite(eps))
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT, "%s: eps %g must be finite and >= 0",
                       op->name, (double)eps);
    norm_params p = {.kind = kind, .eps = eps, .weight = -1, .bias = -1};
    fv_tensor *src[3] = {x};
    int nsrc = 1;
    if (weight) {
        p.weight = nsrc;
        src[nsrc++] = weight;
    }
    if (bias) {
        p.bias = nsrc;
        src[nsrc++] = bias;
    }
    return fv_graph_add_node(g, op, src, nsrc, &p, sizeof p, FV_DTYPE_F32, x->ndim, x->shape, y);
}

fv_status fv_op_layernorm(fv_graph *g, fv_tensor *x, fv_tensor *weight, fv_tensor *bias, float eps,
                          fv_tensor **y)
{
    return norm_build(g, &op_layernorm, FV_NORM_LAYER, x, weight, bias, eps, y);
}

fv_status fv_op_rmsnorm(fv_graph *g, fv_tensor *x, fv_tensor *weight, float eps, fv_tensor **y)
{
    return norm_build(g, &op_rmsnorm, FV_NORM_RMS, x, weight, NULL, eps, y);
}
