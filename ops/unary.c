/* scale, gelu (erf form), gelu_tanh, quick_gelu, silu: element-wise on f32.
 * One kernel for all five, the activation chosen by a push constant. */
#include "row_ops.h"

typedef struct unary_params {
    uint32_t op; /* FV_UNARY_* */
    float alpha; /* scale's factor */
} unary_params;

static float unary_ref(uint32_t op, float alpha, float x)
{
    switch (op) {
    case FV_UNARY_SCALE:
        return x * alpha;
    case FV_UNARY_GELU:
        return 0.5f * x * (1.0f + erff(x * 0.70710678f));
    case FV_UNARY_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456f * (x + 0.044715f * x * x * x)));
    case FV_UNARY_QUICK_GELU:
        return x / (1.0f + expf(-1.702f * x));
    default:
        return x / (1.0f + expf(-x)); /* FV_UNARY_SILU */
    }
}

static fv_status unary_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const unary_params *p = (const unary_params *)n->params;
    const float *x = fv_tensor_host(n->src[0]);
    float *y = fv_tensor_host(n->dst);
    int64_t count = fv_tensor_numel(n->dst);
    for (int64_t i = 0; i < count; i++) y[i] = unary_ref(p->op, p->alpha, x[i]);
    return FV_STATUS_OK;
}

/* Units of 8, 4 or 1 floats as the element count allows (8 only on CPU-type
 * devices, see row_ops.h), split into dispatches whose bindings each fit one
 * storage range and one texel view. Returns the units per dispatch, 0 when
 * that would take too many dispatches. */
static int64_t unary_split(const fv_node *n, const fv_device_info *dev, int *width, int64_t *units)
{
    int64_t count = fv_tensor_numel(n->dst);
    *width = fv_unit_width(dev, count, fv_is_cpu_device(dev));
    *units = count / *width;
    uint64_t limit = fv_range_limit(dev, fv_unit_texel_kind(FV_DTYPE_F32, *width));
    return fv_rows_per_dispatch(*units, (uint64_t)*width * 4, limit);
}

/* OpenCL: one dispatch over the whole tensor (shaders/cl/unary.cl) */
static fv_status unary_encode_cl(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const unary_params *p = (const unary_params *)n->params;
    fv_dispatch *d = fv_dispatch_push(out, "unary_cl");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_pc_unary pc = {.n = (uint32_t)fv_tensor_numel(n->dst), .alpha = p->alpha};
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_cl_size_elementwise(d, dev, pc.n);
    d->spec[2] = p->op;
    d->nspec = 3;
    return FV_STATUS_OK;
}

static fv_status unary_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    static const char *const kernels[3] = {"unary_f32", "unary_f32x4", "unary_f32x8"};
    const unary_params *p = (const unary_params *)n->params;
    if (dev->backend == FV_BACKEND_OPENCL) return unary_encode_cl(n, dev, out);
    int width;
    int64_t units, per = unary_split(n, dev, &width, &units);
    size_t unit_bytes = (size_t)width * 4;
    if (per == 0) return FV_STATUS_UNSUPPORTED;
    for (int64_t u0 = 0; u0 < units; u0 += per) {
        int64_t cnt = FV_MIN(per, units - u0);
        fv_dispatch *d = fv_dispatch_push(out, kernels[fv_unit_variant(width)]);
        if (!d) return FV_STATUS_UNSUPPORTED;
        size_t off = (size_t)u0 * unit_bytes, bytes = (size_t)cnt * unit_bytes;
        fv_dispatch_bind_range(d, n->src[0], off, bytes, fv_unit_texel_kind(FV_DTYPE_F32, width), false);
        fv_dispatch_bind_range(d, n->dst, off, bytes, FV_BIND_STORAGE, true);
        fv_pc_unary pc = {.n = (uint32_t)cnt, .alpha = p->alpha};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, (uint64_t)cnt, 256);
        d->spec[1] = p->op;
        d->nspec = 2;
    }
    return FV_STATUS_OK;
}

static const char *unary_unsupported(const fv_node *n, const fv_device_info *dev)
{
    if (dev->backend == FV_BACKEND_OPENCL) return fv_cl_unsupported_size((uint64_t)fv_tensor_numel(n->dst));
    int width;
    int64_t units;
    return unary_split(n, dev, &width, &units) ? NULL : "tensor needs more dispatches than a node may have";
}

static const fv_op_def op_scale = {"scale", unary_cpu, unary_encode, unary_unsupported};
static const fv_op_def op_gelu = {"gelu", unary_cpu, unary_encode, unary_unsupported};
static const fv_op_def op_gelu_tanh = {"gelu_tanh", unary_cpu, unary_encode, unary_unsupported};
static const fv_op_def op_quick_gelu = {"quick_gelu", unary_cpu, unary_encode, unary_unsupported};
static const fv_op_def op_silu = {"silu", unary_cpu, unary_encode, unary_unsupported};

static fv_status unary_build(fv_graph *g, const fv_op_def *op, uint32_t kind, float alpha, fv_tensor *x,
                             fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, op->name, "x", x);
    fv_status st = fv_op_require_dtype(g, op->name, "x", x, FV_DTYPE_F32);
    if (st) return st;
    unary_params p = {.op = kind, .alpha = alpha};
    return fv_graph_add_node(g, op, &x, 1, &p, sizeof p, FV_DTYPE_F32, x->ndim, x->shape, y);
}

fv_status fv_op_scale(fv_graph *g, fv_tensor *x, float s, fv_tensor **y)
{
    return unary_build(g, &op_scale, FV_UNARY_SCALE, s, x, y);
}
fv_status fv_op_gelu(fv_graph *g, fv_tensor *x, fv_tensor **y)
{
    return unary_build(g, &op_gelu, FV_UNARY_GELU, 0, x, y);
}
fv_status fv_op_gelu_tanh(fv_graph *g, fv_tensor *x, fv_tensor **y)
{
    return unary_build(g, &op_gelu_tanh, FV_UNARY_GELU_TANH, 0, x, y);
}
fv_status fv_op_quick_gelu(fv_graph *g, fv_tensor *x, fv_tensor **y)
{
    return unary_build(g, &op_quick_gelu, FV_UNARY_QUICK_GELU, 0, x, y);
}
fv_status fv_op_silu(fv_graph *g, fv_tensor *x, fv_tensor **y)
{
    return unary_build(g, &op_silu, FV_UNARY_SILU, 0, x, y);
}
