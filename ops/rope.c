/* rope: rotary position embedding of x [B, N, H, D], rotate-half (Hugging
 * Face) or interleaved (GGUF) pairs, partial rotary, positions from a
 * constant, a graph parameter slot or an i32 tensor. Semantics: fovea.h,
 * fv_op_rope.
 *
 * Precision follows Hugging Face: inv_freq is computed on the host in f32
 * (1 / theta^(f32(2i) / f32(rotary_dim)), three f32 roundings) and kept as a
 * graph constant, and the angle is the f32 product position·inv_freq. What
 * the kernels add is an accurate sine and cosine of that f32 angle for any
 * position (shaders/rope.comp: a four-part Cody-Waite reduction by π/2, then
 * Taylor polynomials), where a driver's sin/cos is only specified to 2^-11
 * on [-π, π]. The CPU reference rounds the double-precision sin/cos of the
 * same f32 angle.
 *
 * Kernels: rope_f32 (Vulkan) and rope_cl (OpenCL), one work item per
 * (token, unit); a unit is one rotated pair or one pass-through element and
 * loops over the heads, so each angle's sine and cosine are computed once
 * per token. */
#include "op_common.h"

#include <stdlib.h>

typedef struct rope_params {
    int64_t batch, ntok, heads, dim, half;
    int32_t interleaved;
    int32_t pos0, pos_param; /* slot + 1, or 0 */
    int32_t has_positions;
    int64_t pos_stride;      /* 0 for positions [N], N for [B, N] */
} rope_params;

static int64_t rope_base(const rope_params *p, const int32_t *params)
{
    return p->pos_param ? params[p->pos_param - 1] : p->pos0;
}

static fv_status rope_cpu(const fv_node *n, const int32_t *params)
{
    const rope_params *p = (const rope_params *)n->params;
    const float *x = fv_tensor_host(n->src[0]), *inv = fv_tensor_host(n->src[1]);
    const int32_t *positions = p->has_positions ? fv_tensor_host(n->src[2]) : NULL;
    float *y = fv_tensor_host(n->dst);
    const int64_t H = p->heads, D = p->dim, half = p->half, base = rope_base(p, params);
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t t = 0; t < p->ntok; t++) {
            const int64_t pos = base + (positions ? positions[b * p->pos_stride + t] : t);
            const int64_t row0 = (b * p->ntok + t) * H * D;
            memcpy(y + row0, x + row0, (size_t)(H * D) * sizeof *y); /* pass-through part */
            for (int64_t i = 0; i < half; i++) {
                const float angle = (float)pos * inv[i];
                const double c = cos((double)angle), s = sin((double)angle);
                for (int64_t h = 0; h < H; h++) {
                    const int64_t r = row0 + h * D;
                    const int64_t ia = p->interleaved ? r + 2 * i : r + i;
                    const int64_t ib = p->interleaved ? ia + 1 : ia + half;
                    const double xa = x[ia], xb = x[ib];
                    y[ia] = (float)(xa * c - xb * s);
                    y[ib] = (float)(xb * c + xa * s);
                }
            }
        }
    return FV_STATUS_OK;
}

/* OpenCL on CPU devices: a work-item owns this many units in a row (its own
 * work-group), as the element-wise kernels there do */
#define ROPE_CL_CPU_BLOCK 256u

static fv_status rope_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const rope_params *p = (const rope_params *)n->params;
    const uint32_t units = (uint32_t)(p->half + p->dim - 2 * p->half);
    fv_pc_rope pc = {.n = (uint32_t)(p->batch * p->ntok) * units,
                     .ntok = (uint32_t)p->ntok,
                     .heads = (uint32_t)p->heads,
                     .dim = (uint32_t)p->dim,
                     .pairs = (uint32_t)p->half,
                     .units = units,
                     .interleaved = (uint32_t)p->interleaved,
                     .pos0 = p->pos0,
                     .pos_slot = p->pos_param,
                     .has_positions = (uint32_t)p->has_positions,
                     .pos_stride = (uint32_t)p->pos_stride};
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    fv_dispatch *d = fv_dispatch_push(out, cl ? "rope_cl" : "rope_f32");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->src[1], FV_BIND_STORAGE, false);
    /* without a positions tensor the frequencies stand in for its binding */
    fv_dispatch_bind(d, n->src[p->has_positions ? 2 : 1], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    if (cl) {
        /* spec 1: consecutive work items per work-item */
        const uint32_t block = fv_is_cpu_device(dev) ? ROPE_CL_CPU_BLOCK : 1u;
        fv_dispatch_size_1d(d, (pc.n + block - 1) / block, fv_is_cpu_device(dev) ? 1u : 64u);
        d->spec[1] = block;
        d->nspec = 2;
    } else {
        fv_dispatch_size_1d(d, pc.n, 64);
    }
    return FV_STATUS_OK;
}

static const char *rope_unsupported(const fv_node *n, const fv_device_info *dev)
{
    if (dev->backend != FV_BACKEND_OPENCL && n->dst->nbytes > dev->max_storage_range)
        return "x is larger than one storage binding";
    return NULL;
}

static const fv_op_def op_rope = {"rope", rope_cpu, rope_encode, rope_unsupported};

/* Hugging Face's frequencies, rounded as its f32 tensors round them:
 * inv_freq = 1.0 / (theta ** (arange(0, dim, 2).float() / dim)) */
static void rope_inv_freq(float theta, int64_t rotary_dim, float *out)
{
    for (int64_t i = 0; i < rotary_dim / 2; i++) {
        const float e = (float)(2 * i) / (float)rotary_dim;
        out[i] = 1.0f / powf(theta, e);
    }
}

fv_status fv_op_rope(fv_graph *g, fv_tensor *x, const fv_rope_desc *desc, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "rope", "x", x);
    fv_status st = fv_op_require_dtype(g, "rope", "x", x, FV_DTYPE_F32);
    if (st) return st;
    fv_context *ctx = fv_graph_context(g);
    fv_rope_desc dd = {0};
    if (desc) dd = *desc;
    char sx[96], sp[96];
    fv_shape_str(x, sx, sizeof sx);
    if (x->ndim != 4) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: x %s must be [B, N, H, D]", sx);
    const int64_t B = x->shape[0], N = x->shape[1], D = x->shape[3];
    const int64_t rot = dd.rotary_dim ? dd.rotary_dim : D;
    if (rot < 2 || rot > D || rot % 2)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: rotary_dim %lld must be even, in 2..D (x %s)",
                       (long long)rot, sx);
    if (dd.layout != FV_ROPE_HALF && dd.layout != FV_ROPE_INTERLEAVED)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: unknown layout %d", (int)dd.layout);
    if (dd.pos_param < 0 || dd.pos_param > FV_GRAPH_PARAM_SLOTS)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: pos_param %d must be a slot + 1 in 1..%d, or 0",
                       dd.pos_param, FV_GRAPH_PARAM_SLOTS);
    const float theta = dd.theta != 0 ? dd.theta : 10000.0f;
    if (!(theta > 1.0f) || !isfinite(theta))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: theta %g must be finite and > 1", (double)theta);
    /* the kernels index with 32-bit integers */
    if (fv_tensor_numel(x) > INT32_MAX)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: x %s is too large", sx);

    rope_params p = {.batch = B,
                     .ntok = N,
                     .heads = x->shape[2],
                     .dim = D,
                     .half = rot / 2,
                     .interleaved = dd.layout == FV_ROPE_INTERLEAVED,
                     .pos0 = dd.pos0,
                     .pos_param = dd.pos_param};
    fv_tensor *src[3] = {x, dd.inv_freq, dd.positions};
    if (dd.positions) {
        FV_OP_CHECK_INPUT(g, "rope", "positions", dd.positions);
        fv_tensor *t = dd.positions;
        fv_shape_str(t, sp, sizeof sp);
        const bool flat = t->ndim == 1 && t->shape[0] == N;
        const bool batched = t->ndim == 2 && t->shape[0] == B && t->shape[1] == N;
        if (t->dtype != FV_DTYPE_I32 || (!flat && !batched))
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                           "rope: positions %s (%s) must be i32 [N] or [B, N] for x %s",
                           sp, fv_dtype_name(t->dtype), sx);
        p.has_positions = 1;
        p.pos_stride = batched ? N : 0;
    }
    if (dd.inv_freq) {
        FV_OP_CHECK_INPUT(g, "rope", "inv_freq", dd.inv_freq);
        fv_tensor *t = dd.inv_freq;
        fv_shape_str(t, sp, sizeof sp);
        if (t->dtype != FV_DTYPE_F32 || t->ndim != 1 || t->shape[0] != rot / 2)
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "rope: inv_freq %s (%s) must be f32 [%lld]", sp,
                           fv_dtype_name(t->dtype), (long long)(rot / 2));
    } else {
        float *table = malloc((size_t)(rot / 2) * sizeof *table);
        if (!table) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "rope: out of host memory");
        rope_inv_freq(theta, rot, table);
        const int64_t shape = rot / 2;
        st = fv_graph_constant(g, FV_DTYPE_F32, 1, &shape, table, &src[1]);
        free(table);
        if (st) return st;
    }
    return fv_graph_add_node(g, &op_rope, src, dd.positions ? 3 : 2, &p, sizeof p, FV_DTYPE_F32, 4, x->shape, y);
}
