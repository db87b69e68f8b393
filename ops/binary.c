/* add, mul: element-wise with numpy broadcasting (shapes aligned right);
 * inputs of the output's shape take a unit-wide kernel on Vulkan. */
#include "op_common.h"
#include "row_ops.h"

typedef struct binary_params {
    uint32_t op;
    int64_t shape[4];  /* output, padded to 4-d on the left */
    int64_t astr[4], bstr[4];
} binary_params;

static void padded_strides(const fv_tensor *t, const int64_t *out_shape, int64_t *str)
{
    /* contiguous strides of t aligned right to 4-d; 0 where t broadcasts */
    int64_t s = 1;
    for (int k = 3; k >= 0; k--) {
        int td = t->ndim - (4 - k);
        int64_t dim = td >= 0 ? t->shape[td] : 1;
        str[k] = (dim == 1 && out_shape[k] != 1) ? 0 : s;
        s *= dim;
    }
}

static fv_status binary_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const binary_params *p = (const binary_params *)n->params;
    const float *a = fv_tensor_host(n->src[0]), *b = fv_tensor_host(n->src[1]);
    float *y = fv_tensor_host(n->dst);
    int64_t i = 0;
    for (int64_t i0 = 0; i0 < p->shape[0]; i0++)
        for (int64_t i1 = 0; i1 < p->shape[1]; i1++)
            for (int64_t i2 = 0; i2 < p->shape[2]; i2++)
                for (int64_t i3 = 0; i3 < p->shape[3]; i3++, i++) {
                    float va = a[i0 * p->astr[0] + i1 * p->astr[1] + i2 * p->astr[2] + i3 * p->astr[3]];
                    float vb = b[i0 * p->bstr[0] + i1 * p->bstr[1] + i2 * p->bstr[2] + i3 * p->bstr[3]];
                    y[i] = p->op == FV_BINARY_ADD ? va + vb : va * vb;
                }
    return FV_STATUS_OK;
}

/* Whether neither input broadcasts: a, b and y are then three runs of the
 * same length */
static bool binary_same_shape(const fv_node *n)
{
    return fv_tensor_numel(n->src[0]) == fv_tensor_numel(n->dst) &&
           fv_tensor_numel(n->src[1]) == fv_tensor_numel(n->dst);
}

/* Rows per dispatch of the same-shape kernels (0: too many dispatches) */
static int64_t binary_same_split(const fv_node *n, const fv_device_info *dev, int *width)
{
    const int64_t cols = n->dst->shape[n->dst->ndim - 1];
    *width = fv_unit_width(dev, cols, fv_is_cpu_device(dev));
    return fv_rows_per_dispatch(fv_tensor_rows(n->dst), (uint64_t)cols * 4,
                                fv_range_limit(dev, fv_unit_texel_kind(FV_DTYPE_F32, *width)));
}

/* Same shapes on Vulkan: units of 8, 4 or 1 floats read through texel views,
 * rows split into dispatches that each fit one binding */
static fv_status binary_encode_same(const fv_node *n, fv_dispatch_list *out, int64_t per, int width)
{
    static const char *const kernels[3] = {"binary_same_f32", "binary_same_f32x4", "binary_same_f32x8"};
    const binary_params *p = (const binary_params *)n->params;
    const int64_t rows = fv_tensor_rows(n->dst), cols = n->dst->shape[n->dst->ndim - 1];
    const size_t row = (size_t)cols * 4;
    const fv_bind_kind kind = fv_unit_texel_kind(FV_DTYPE_F32, width);
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        const int64_t cnt = FV_MIN(per, rows - r0);
        fv_dispatch *d = fv_dispatch_push(out, kernels[fv_unit_variant(width)]);
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind_range(d, n->src[0], (size_t)r0 * row, (size_t)cnt * row, kind, false);
        fv_dispatch_bind_range(d, n->src[1], (size_t)r0 * row, (size_t)cnt * row, kind, false);
        fv_dispatch_bind_range(d, n->dst, (size_t)r0 * row, (size_t)cnt * row, FV_BIND_STORAGE, true);
        fv_pc_binary pc = {.n = (uint32_t)((uint64_t)cnt * (uint64_t)cols / (uint64_t)width), .op = p->op};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, pc.n, 256);
    }
    return FV_STATUS_OK;
}

static fv_status binary_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const binary_params *p = (const binary_params *)n->params;
    if (dev->backend == FV_BACKEND_VULKAN && binary_same_shape(n)) {
        int width;
        const int64_t per = binary_same_split(n, dev, &width);
        if (per > 0) return binary_encode_same(n, out, per, width);
    }
    fv_pc_binary pc = {.n = (uint32_t)fv_tensor_numel(n->dst), .op = p->op,
                       .shape0 = (uint32_t)p->shape[0], .shape1 = (uint32_t)p->shape[1],
                       .shape2 = (uint32_t)p->shape[2], .shape3 = (uint32_t)p->shape[3],
                       .astride0 = (uint32_t)p->astr[0], .astride1 = (uint32_t)p->astr[1],
                       .astride2 = (uint32_t)p->astr[2], .astride3 = (uint32_t)p->astr[3],
                       .bstride0 = (uint32_t)p->bstr[0], .bstride1 = (uint32_t)p->bstr[1],
                       .bstride2 = (uint32_t)p->bstr[2], .bstride3 = (uint32_t)p->bstr[3]};
    fv_dispatch *d = fv_dispatch_push(out, "binary_f32");
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->src[1], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_dispatch_size_1d(d, pc.n, 256);
    return FV_STATUS_OK;
}

static const char *binary_unsupported(const fv_node *n, const fv_device_info *dev)
{
    int width;
    if (dev->backend == FV_BACKEND_VULKAN && binary_same_shape(n) && binary_same_split(n, dev, &width) > 0)
        return NULL;
    if ((uint64_t)n->dst->nbytes > dev->max_storage_range) return "tensor larger than one storage binding";
    return NULL;
}

static const fv_op_def op_add = {"add", binary_cpu, binary_encode, binary_unsupported};
static const fv_op_def op_mul = {"mul", binary_cpu, binary_encode, binary_unsupported};

static fv_status binary_build(fv_graph *g, const fv_op_def *op, uint32_t kind, fv_tensor *a,
                              fv_tensor *b, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, op->name, "a", a);
    FV_OP_CHECK_INPUT(g, op->name, "b", b);
    fv_status st = fv_op_require_dtype(g, op->name, "a", a, FV_DTYPE_F32);
    if (!st) st = fv_op_require_dtype(g, op->name, "b", b, FV_DTYPE_F32);
    if (st) return st;
    binary_params p = {.op = kind};
    int nd = FV_MAX(a->ndim, b->ndim);
    int64_t shape[4];
    for (int k = 0; k < 4; k++) {
        int ia = a->ndim - (4 - k), ib = b->ndim - (4 - k);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                           "%s: shapes %s and %s do not broadcast", op->name, fv_shape_str(a, sa, sizeof sa),
                           fv_shape_str(b, sb, sizeof sb));
        }
        p.shape[k] = FV_MAX(da, db);
    }
    for (int k = 0; k < nd; k++) shape[k] = p.shape[4 - nd + k];
    padded_strides(a, p.shape, p.astr);
    padded_strides(b, p.shape, p.bstr);
    fv_tensor *src[2] = {a, b};
    return fv_graph_add_node(g, op, src, 2, &p, sizeof p, FV_DTYPE_F32, nd, shape, y);
}

fv_status fv_op_add(fv_graph *g, fv_tensor *a, fv_tensor *b, fv_tensor **y)
{
    return binary_build(g, &op_add, FV_BINARY_ADD, a, b, y);
}

fv_status fv_op_mul(fv_graph *g, fv_tensor *a, fv_tensor *b, fv_tensor **y)
{
    return binary_build(g, &op_mul, FV_BINARY_MUL, a, b, y);
}
