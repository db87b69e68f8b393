/* softmax: row softmax over the last dimension with an optional scale, a
 * causal mask and a live-column limit, both of which may come from graph
 * parameter slots so that one recorded graph serves every decode step.
 *
 * Masking rule (shared by the reference and the kernels): row i of a batch
 * of x[..., R, C] has live columns [0, live) with
 *   live = min(valid, i + offset + 1)   (causal)   or   valid   (not causal),
 * clamped to [0, C]; valid is C or the value of slot valid_cols_param - 1,
 * offset is C - R or the value of slot offset_param - 1. Masked columns are
 * 0. A row with no live column is all zeros: there is no distribution to
 * normalise, and zeros keep a following matmul (P·V) finite.
 *
 * Kernel layout per device type, see row_ops.h (FOVEA_ROW_VARIANT). */
#include "row_ops.h"

typedef struct softmax_params {
    float scale;
    int32_t causal;
    int32_t offset_param; /* slot + 1, or 0 */
    int32_t valid_param;  /* slot + 1, or 0 */
} softmax_params;

static int32_t default_offset(const fv_tensor *x)
{
    int64_t off = x->shape[x->ndim - 1] - fv_rows_per_batch(x);
    return (int32_t)FV_MAX(FV_MIN(off, INT32_MAX), INT32_MIN);
}

static int64_t live_columns(const softmax_params *p, const int32_t *params, int64_t i, int64_t cols,
                            int32_t offset)
{
    int64_t live = cols;
    if (p->valid_param) live = FV_MAX(0, FV_MIN(live, params[p->valid_param - 1]));
    if (p->causal) {
        int64_t off = p->offset_param ? params[p->offset_param - 1] : offset;
        live = FV_MAX(0, FV_MIN(live, i + off + 1));
    }
    return live;
}

static fv_status softmax_cpu(const fv_node *n, const int32_t *params)
{
    const softmax_params *p = (const softmax_params *)n->params;
    const fv_tensor *xt = n->src[0];
    const float *x = fv_tensor_host(xt);
    float *y = fv_tensor_host(n->dst);
    int64_t rows = fv_tensor_rows(xt), cols = xt->shape[xt->ndim - 1], per_batch = fv_rows_per_batch(xt);
    int32_t offset = default_offset(xt);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        int64_t live = live_columns(p, params, r % per_batch, cols, offset);
        float mx = -INFINITY;
        for (int64_t c = 0; c < live; c++) mx = fmaxf(mx, p->scale * xr[c]);
        double sum = 0;
        for (int64_t c = 0; c < live; c++) sum += yr[c] = expf(p->scale * xr[c] - mx);
        float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
        for (int64_t c = 0; c < live; c++) yr[c] *= inv;
        for (int64_t c = live; c < cols; c++) yr[c] = 0;
    }
    return FV_STATUS_OK;
}

/* OpenCL: one dispatch over all rows in the layout row_ops.h picks
 * (shaders/cl/softmax.cl) */
static fv_status softmax_encode_cl(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const softmax_params *p = (const softmax_params *)n->params;
    const fv_tensor *x = n->src[0];
    int64_t rows = fv_tensor_rows(x), cols = x->shape[x->ndim - 1];
    bool per_item = fv_cl_row_per_item(dev);
    fv_dispatch *d = fv_dispatch_push(out, per_item ? "softmax_cl_row" : "softmax_cl_group");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, x, FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_pc_softmax pc = {.rows = (uint32_t)rows,
                        .cols = (uint32_t)cols,
                        .rows_per_batch = (uint32_t)fv_rows_per_batch(x),
                        .scale = p->scale,
                        .causal = (uint32_t)p->causal,
                        .offset = default_offset(x),
                        .offset_slot = p->offset_param,
                        .valid_slot = p->valid_param,
                        .row0 = 0,
                        .rows_per_item = fv_cl_rows_per_item(rows, cols)};
    fv_dispatch_set_push(d, &pc, sizeof pc);
    if (per_item) {
        fv_dispatch_size_1d(d, ((uint64_t)rows + pc.rows_per_item - 1) / pc.rows_per_item, 1);
    } else {
        uint32_t local = fv_row_workgroup_size(dev, cols / 4);
        fv_dispatch_size_1d(d, (uint64_t)rows * local, local);
    }
    return FV_STATUS_OK;
}

static fv_status softmax_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const softmax_params *p = (const softmax_params *)n->params;
    const fv_tensor *x = n->src[0];
    int64_t rows = fv_tensor_rows(x), cols = x->shape[x->ndim - 1];
    if (dev->backend == FV_BACKEND_OPENCL) return softmax_encode_cl(n, dev, out);
    static const char *const sg_kernels[3] = {"softmax_sg_f32", "softmax_sg_f32x4", "softmax_sg_f32x8"};
    static const char *const wg_kernels[2] = {"softmax_wg_f32", "softmax_wg_f32x4"};
    bool sg;
    int width;
    int64_t per = fv_row_plan(dev, x, &sg, &width);
    if (per == 0) return FV_STATUS_UNSUPPORTED;
    const char *kernel = sg ? sg_kernels[fv_unit_variant(width)] : wg_kernels[fv_unit_variant(width)];
    size_t row_bytes = (size_t)cols * 4;
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t cnt = FV_MIN(per, rows - r0);
        fv_dispatch *d = fv_dispatch_push(out, kernel);
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind_range(d, x, (size_t)r0 * row_bytes, (size_t)cnt * row_bytes,
                               fv_unit_texel_kind(FV_DTYPE_F32, width), false);
        fv_dispatch_bind_range(d, n->dst, (size_t)r0 * row_bytes, (size_t)cnt * row_bytes, FV_BIND_STORAGE,
                               true);
        fv_pc_softmax pc = {.rows = (uint32_t)cnt,
                            .cols = (uint32_t)cols,
                            .rows_per_batch = (uint32_t)fv_rows_per_batch(x),
                            .scale = p->scale,
                            .causal = (uint32_t)p->causal,
                            .offset = default_offset(x),
                            .offset_slot = p->offset_param,
                            .valid_slot = p->valid_param,
                            .row0 = (uint32_t)r0};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        if (sg) {
            uint32_t local = fv_row_subgroup_local(dev), rpg = fv_row_subgroup_rows(dev);
            fv_dispatch_size_1d(d, ((uint64_t)cnt + rpg - 1) / rpg * local, local);
            d->spec[1] = rpg;
            d->nspec = 2;
        } else {
            uint32_t local = fv_row_workgroup_size(dev, cols / width);
            fv_dispatch_size_1d(d, (uint64_t)cnt * local, local);
        }
    }
    return FV_STATUS_OK;
}

static const char *softmax_unsupported(const fv_node *n, const fv_device_info *dev)
{
    if (dev->backend == FV_BACKEND_OPENCL) return fv_cl_unsupported_size((uint64_t)fv_tensor_numel(n->dst));
    bool sg;
    int width;
    return fv_row_plan(dev, n->src[0], &sg, &width) ? NULL
                                                    : "tensor needs more dispatches than a node may have";
}

static const fv_op_def op_softmax = {"softmax", softmax_cpu, softmax_encode, softmax_unsupported};

fv_status fv_op_softmax(fv_graph *g, fv_tensor *x, const fv_softmax_desc *desc, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "softmax", "x", x);
    fv_status st = fv_op_require_dtype(g, "softmax", "x", x, FV_DTYPE_F32);
    if (st) return st;
    fv_softmax_desc dd = {0};
    if (desc) dd = *desc;
    if (dd.offset_param < 0 || dd.offset_param > FV_GRAPH_PARAM_SLOTS || dd.valid_cols_param < 0 ||
        dd.valid_cols_param > FV_GRAPH_PARAM_SLOTS)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "softmax: offset_param %d / valid_cols_param %d must be a slot + 1 in 1..%d, or 0",
                       dd.offset_param, dd.valid_cols_param, FV_GRAPH_PARAM_SLOTS);
    if (!isfinite(dd.scale))
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT, "softmax: scale %g is not finite",
                       (double)dd.scale);
    softmax_params p = {.scale = dd.scale != 0 ? dd.scale : 1.0f,
                        .causal = dd.causal,
                        .offset_param = dd.offset_param,
                        .valid_param = dd.valid_cols_param};
    return fv_graph_add_node(g, &op_softmax, &x, 1, &p, sizeof p, FV_DTYPE_F32, x->ndim, x->shape, y);
}
