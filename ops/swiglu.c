/* swiglu: y = silu(gate) · up, from two tensors or from the two halves of
 * one tensor's last dimension (the fused gate_up projection of LLaMA-family
 * MLPs). */
#include "row_ops.h"

typedef struct swiglu_params {
    uint32_t split; /* 1: gate and up are the halves of src[0]'s rows */
} swiglu_params;

static fv_status swiglu_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const swiglu_params *p = (const swiglu_params *)n->params;
    const float *gate = fv_tensor_host(n->src[0]);
    const float *up = p->split ? gate : fv_tensor_host(n->src[1]);
    float *y = fv_tensor_host(n->dst);
    int64_t rows = fv_tensor_rows(n->dst), cols = n->dst->shape[n->dst->ndim - 1];
    for (int64_t r = 0; r < rows; r++) {
        const float *g = p->split ? gate + r * 2 * cols : gate + r * cols;
        const float *u = p->split ? g + cols : up + r * cols;
        for (int64_t c = 0; c < cols; c++) y[r * cols + c] = g[c] / (1.0f + expf(-g[c])) * u[c];
    }
    return FV_STATUS_OK;
}

/* Units of 8, 4 or 1 floats as the row length allows (8 only on CPU-type
 * devices, see row_ops.h); rows are split into dispatches whose bindings each
 * fit one storage range and one texel view. In split form the input rows
 * are twice as long: the split is sized by the output row so that output and
 * input rows both start 256-byte aligned. Returns rows per dispatch, 0 when
 * that would take too many dispatches. */
static int64_t swiglu_split(const fv_node *n, const fv_device_info *dev, int *width)
{
    const swiglu_params *p = (const swiglu_params *)n->params;
    int64_t rows = fv_tensor_rows(n->dst), cols = n->dst->shape[n->dst->ndim - 1];
    *width = fv_unit_width(dev, cols, fv_is_cpu_device(dev));
    uint64_t limit = fv_range_limit(dev, fv_unit_texel_kind(FV_DTYPE_F32, *width));
    return fv_rows_per_dispatch(rows, (uint64_t)cols * 4, limit / (p->split ? 2 : 1));
}

/* OpenCL: one dispatch over the whole tensor (shaders/cl/swiglu.cl); two
 * separate tensors are passed as one long row */
static fv_status swiglu_encode_cl(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const swiglu_params *p = (const swiglu_params *)n->params;
    int64_t rows = fv_tensor_rows(n->dst), cols = n->dst->shape[n->dst->ndim - 1];
    fv_dispatch *d = fv_dispatch_push(out, "swiglu_cl");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, p->split ? n->src[0] : n->src[1], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_pc_swiglu pc = {.rows = p->split ? (uint32_t)rows : 1u,
                       .cols = (uint32_t)(p->split ? cols : rows * cols),
                       .split = p->split};
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_cl_size_elementwise(d, dev, (uint64_t)rows * (uint64_t)cols);
    return FV_STATUS_OK;
}

static fv_status swiglu_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    static const char *const kernels[3] = {"swiglu_f32", "swiglu_f32x4", "swiglu_f32x8"};
    const swiglu_params *p = (const swiglu_params *)n->params;
    if (dev->backend == FV_BACKEND_OPENCL) return swiglu_encode_cl(n, dev, out);
    int64_t rows = fv_tensor_rows(n->dst), cols = n->dst->shape[n->dst->ndim - 1];
    size_t in_row = (size_t)cols * 4 * (p->split ? 2 : 1), out_row = (size_t)cols * 4;
    int width;
    int64_t per = swiglu_split(n, dev, &width);
    if (per == 0) return FV_STATUS_UNSUPPORTED;
    fv_bind_kind kind = fv_unit_texel_kind(FV_DTYPE_F32, width);
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t cnt = FV_MIN(per, rows - r0);
        fv_dispatch *d = fv_dispatch_push(out, kernels[fv_unit_variant(width)]);
        if (!d) return FV_STATUS_UNSUPPORTED;
        /* split: up is the same rows; the kernel steps half a row in */
        const fv_tensor *up = p->split ? n->src[0] : n->src[1];
        size_t in_off = (size_t)r0 * in_row, in_bytes = (size_t)cnt * in_row;
        fv_dispatch_bind_range(d, n->src[0], in_off, in_bytes, kind, false);
        fv_dispatch_bind_range(d, up, in_off, in_bytes, kind, false);
        fv_dispatch_bind_range(d, n->dst, (size_t)r0 * out_row, (size_t)cnt * out_row, FV_BIND_STORAGE, true);
        fv_pc_swiglu pc = {.rows = (uint32_t)cnt, .cols = (uint32_t)cols, .split = p->split};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, (uint64_t)cnt * (uint64_t)(cols / width), 256);
    }
    return FV_STATUS_OK;
}

static const char *swiglu_unsupported(const fv_node *n, const fv_device_info *dev)
{
    /* the split form reads rows twice as long */
    if (dev->backend == FV_BACKEND_OPENCL) return fv_cl_unsupported_size(2 * (uint64_t)fv_tensor_numel(n->dst));
    int width;
    return swiglu_split(n, dev, &width) ? NULL : "tensor needs more dispatches than a node may have";
}

static const fv_op_def op_swiglu = {"swiglu", swiglu_cpu, swiglu_encode, swiglu_unsupported};

fv_status fv_op_swiglu(fv_graph *g, fv_tensor *gate, fv_tensor *up, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "swiglu", "gate", gate);
    fv_status st = fv_op_require_dtype(g, "swiglu", "gate", gate, FV_DTYPE_F32);
    if (st) return st;
    char sa[96], sb[96];
    swiglu_params p = {.split = up == NULL};
    int64_t shape[FV_MAX_DIMS];
    memcpy(shape, gate->shape, sizeof shape);
    if (up) {
        FV_OP_CHECK_INPUT(g, "swiglu", "up", up);
        st = fv_op_require_dtype(g, "swiglu", "up", up, FV_DTYPE_F32);
        if (st) return st;
        bool same = up->ndim == gate->ndim;
        for (int i = 0; same && i < gate->ndim; i++) same = up->shape[i] == gate->shape[i];
        if (!same)
            return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                           "swiglu: gate %s and up %s must have the same shape",
                           fv_shape_str(gate, sa, sizeof sa), fv_shape_str(up, sb, sizeof sb));
        fv_tensor *src[2] = {gate, up};
        return fv_graph_add_node(g, &op_swiglu, src, 2, &p, sizeof p, FV_DTYPE_F32, gate->ndim, shape, y);
    }
    if (gate->shape[gate->ndim - 1] % 2)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "swiglu: without up, gate %s needs an even last dimension to split in halves",
                       fv_shape_str(gate, sa, sizeof sa));
    shape[gate->ndim - 1] /= 2;
    return fv_graph_add_node(g, &op_swiglu, &gate, 1, &p, sizeof p, FV_DTYPE_F32, gate->ndim, shape, y);
}
