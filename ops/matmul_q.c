/* matmul with quantised weights: Y[..., N] = X[..., K] · W[N, K]ᵀ (+ bias[N])
 * where W holds GGUF q8_0 or q4_0 blocks (K a multiple of 32), X, bias and
 * Y are f32 and the weights are dequantised inside the kernels, so only the
 * blocks are ever read: decode is bound by reading W once per token.
 *
 * Kernel variants (shaders/quant.comp, shaders/cl/quant.cl; each states its
 * algorithm and what a workgroup owns), chosen by device:
 *   texel  CPU-type Vulkan devices (lavapipe): W through a raw u32x4 texel
 *          view, two blocks per run of fetches, a W row per invocation.
 *   sg     other Vulkan devices: a W row per subgroup, blocks across lanes.
 *   cl     OpenCL: a W row per work-item, blocks read in place.
 * Every variant takes up to 8 rows of X per pass over W: M <= 8 (decode) is
 * one pass, and a longer X (prefill) is more workgroups along y, each
 * re-reading W and decoding it again. FOVEA_MATMUL_VARIANT=texel_matvec or
 * subgroup_matvec forces a Vulkan variant where the device allows it, and
 * FOVEA_MATMUL_SPLIT_ROWS=R cuts Y into chunks of at most R rows and R
 * columns (both as for f32 / f16 weights, ops/matmul.c).
 *
 * Bindings larger than the device allows are split as in matmul.c: each
 * dispatch binds only its rows of X and W and its part of Y. */
#include "matmul_q.h"
#include "matmul_split.h"

#include <stdlib.h>

typedef struct matmul_q_params {
    int64_t M, N, K;
    int has_bias;
} matmul_q_params;

/* ---- plain-C reference -------------------------------------------------- */

void fv_quant_to_f32(fv_dtype dtype, const void *blocks, int64_t n, float *y)
{
    const uint8_t *b = blocks;
    const size_t bs = fv_dtype_block_bytes(dtype);
    for (int64_t i = 0; i < n; i += 32, b += bs, y += 32) {
        const float d = fv_f16_to_f32((uint16_t)(b[0] | b[1] << 8)); /* little-endian f16 */
        for (int j = 0; j < 32; j++) {
            if (dtype == FV_DTYPE_Q8_0) y[j] = d * (float)(int8_t)b[2 + j];
            else y[j] = d * (float)((j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4) - 8);
        }
    }
}

/* Each W row is decoded to f32 once, then dotted with every X row. */
static fv_status matmul_q_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const matmul_q_params *p = (const matmul_q_params *)n->params;
    const fv_tensor *w = n->src[1];
    const float *x = fv_tensor_host(n->src[0]), *bias = p->has_bias ? fv_tensor_host(n->src[2]) : NULL;
    const uint8_t *wb = fv_tensor_host(w);
    float *y = fv_tensor_host(n->dst);
    const size_t row_bytes = (size_t)(p->K / 32) * fv_dtype_block_bytes(w->dtype);
    float *wrow = malloc((size_t)p->K * sizeof *wrow);
    if (!wrow) return fv_fail(n->dst->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "matmul: out of host memory");
    for (int64_t c = 0; c < p->N; c++) {
        fv_quant_to_f32(w->dtype, wb + (size_t)c * row_bytes, p->K, wrow);
        for (int64_t m = 0; m < p->M; m++) {
            const float *xr = x + m * p->K;
            float s = 0;
            for (int64_t k = 0; k < p->K; k++) s += xr[k] * wrow[k];
            y[m * p->N + c] = bias ? s + bias[c] : s;
        }
    }
    free(wrow);
    return FV_STATUS_OK;
}

/* ---- variants and chunks ------------------------------------------------- */

typedef enum mq_variant { MQ_TEXEL, MQ_SG, MQ_CL } mq_variant;

#define MQ_MAX_ROWS 8    /* X rows per pass over W (the kernels' MV)          */
/* W rows per invocation / work-item: one measured best on lavapipe and PoCL
 * (weights streamed from memory, 49152 x 576: 1.2 against 1.0 GB/s for q8_0
 * on lavapipe; 8.6 against 4.5 on PoCL), whose X is read from cache anyway */
#define TEXEL_RN 1
#define TEXEL_LOCAL 32   /* texel: a multiple of the 8 lanes X is shared over */
#define SG_LOCAL 64
#define CL_LOCAL 16
#define CL_RN 1
#define BIND_ALIGN 256   /* bindings start at multiples of this (≥ any offset alignment) */

typedef struct mq_layout {
    mq_variant v;
    const char *kernel;
    fv_bind_kind xkind, wkind;
    size_t xunit;            /* bytes per unit of x_off */
    uint64_t wround;         /* W's binding ends on a multiple of this: whole texels / words */
    int64_t mrows, ncols;    /* the chunk of Y each dispatch covers */
    int64_t mchunks, nchunks;
} mq_layout;

static uint64_t row_bytes_of(const fv_node *n)
{
    const matmul_q_params *p = (const matmul_q_params *)n->params;
    return (uint64_t)(p->K / 32) * fv_dtype_block_bytes(n->src[1]->dtype);
}

static mq_variant choose_variant(const fv_device_info *dev, const char **why)
{
    *why = NULL;
    if (dev->backend == FV_BACKEND_OPENCL) return MQ_CL;
    const bool texel_ok = dev->subgroup_shuffle; /* the shader declares shuffles, used where lanes are 8 */
    const bool sg_ok = dev->subgroup_arithmetic && dev->subgroup_size > 0;
    const char *force = getenv("FOVEA_MATMUL_VARIANT");
    if (force && strcmp(force, "texel_matvec") == 0 && texel_ok) return MQ_TEXEL;
    if (force && strcmp(force, "subgroup_matvec") == 0 && sg_ok) return MQ_SG;
    if (fv_is_cpu_device(dev)) return MQ_TEXEL;
    if (sg_ok) return MQ_SG;
    if (texel_ok) return MQ_TEXEL;
    *why = "quantised weights need subgroup arithmetic or shuffles";
    return MQ_SG;
}

/* Largest bytes one binding may cover, less the slack of aligning its start
 * down to BIND_ALIGN and its end up to whole texels; at most 2 GiB, so the
 * kernels' 32-bit byte offsets cannot wrap. */
static uint64_t binding_limit(const fv_device_info *dev, fv_bind_kind kind)
{
    uint64_t lim = kind == FV_BIND_STORAGE ? dev->max_storage_range : dev->max_texel_elements * 16;
    lim = FV_MIN(lim, (uint64_t)1 << 31);
    return lim > BIND_ALIGN + 16 ? lim - BIND_ALIGN - 16 : 0;
}

static const char *plan_layout(const fv_node *n, const fv_device_info *dev, mq_layout *L)
{
    const matmul_q_params *p = (const matmul_q_params *)n->params;
    const bool q8 = n->src[1]->dtype == FV_DTYPE_Q8_0;
    const char *why;
    memset(L, 0, sizeof *L);
    L->v = choose_variant(dev, &why);
    if (why) return why;
    switch (L->v) {
    case MQ_TEXEL:
        L->kernel = q8 ? "matvec_q8_0_texel" : "matvec_q4_0_texel";
        L->xkind = FV_BIND_TEXEL_F32X4;
        L->wkind = FV_BIND_TEXEL_U32X4;
        L->xunit = 16;
        L->wround = 16;
        break;
    case MQ_SG:
        L->kernel = q8 ? "matvec_q8_0_sg" : "matvec_q4_0_sg";
        L->xunit = 4;
        L->wround = 4;
        break;
    case MQ_CL:
        L->kernel = "matvec_q_cl";
        L->xunit = 4;
        L->wround = 1;
        break;
    }
    const uint64_t xrow = (uint64_t)p->K * 4, wrow = row_bytes_of(n), yrow = (uint64_t)p->N * 4;
    int64_t mrows, ncols;
    const char *fit = fv_mm_split_fit(p->M, p->N, xrow, wrow, yrow, binding_limit(dev, L->xkind),
                                      binding_limit(dev, L->wkind), binding_limit(dev, FV_BIND_STORAGE), BIND_ALIGN,
                                      &mrows, &ncols);
    if (fit) return fit;
    /* workgroup counts stay within the 65535 every device allows; OpenCL
     * numbers its work-items with 32 bits */
    mrows = FV_MIN(mrows, (int64_t)65535 * MQ_MAX_ROWS);
    if (L->v == MQ_TEXEL) ncols = FV_MIN(ncols, (int64_t)65535 * TEXEL_RN * TEXEL_LOCAL);
    if (L->v == MQ_SG) ncols = FV_MIN(ncols, (int64_t)65535);
    if (L->v == MQ_CL) mrows = FV_MIN(mrows, FV_MAX(1, ((int64_t)1 << 31) / ncols * MQ_MAX_ROWS));
    fit = fv_mm_split_finish(p->M, p->N, &mrows, &ncols, &L->mchunks, &L->nchunks);
    L->mrows = mrows;
    L->ncols = ncols;
    return fit;
}

/* ---- encoding ---------------------------------------------------------------- */

/* Binds bytes [begin, end) of t from the BIND_ALIGN boundary at or below
 * begin, the end rounded up to a multiple of `round` (the allocation covers
 * it: buffers are whole multiples of 256 bytes); returns begin's offset
 * inside the binding in units of `unit`, and the bound bytes in *bound. */
static uint32_t bind_from(fv_dispatch *d, const fv_tensor *t, uint64_t begin, uint64_t end, size_t unit,
                          uint64_t round, fv_bind_kind kind, bool write, uint64_t *bound)
{
    const uint64_t base = begin / BIND_ALIGN * BIND_ALIGN;
    end = (end + round - 1) / round * round;
    fv_dispatch_bind_range(d, t, (size_t)base, (size_t)(end - base), kind, write);
    if (bound) *bound = end - base;
    return (uint32_t)((begin - base) / unit);
}

static fv_status matmul_q_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const matmul_q_params *p = (const matmul_q_params *)n->params;
    const fv_tensor *x = n->src[0], *w = n->src[1], *y = n->dst;
    mq_layout L;
    const char *why = plan_layout(n, dev, &L);
    if (why) return fv_fail(y->ctx, FV_STATUS_UNSUPPORTED, "matmul: %s", why);
    const uint64_t K = (uint64_t)p->K, N = (uint64_t)p->N, rb = row_bytes_of(n);
    const bool q4 = w->dtype == FV_DTYPE_Q4_0;
    for (int64_t mc = 0; mc < L.mchunks; mc++) {
        for (int64_t nc = 0; nc < L.nchunks; nc++) {
            const uint64_t m0 = (uint64_t)(mc * L.mrows), n0 = (uint64_t)(nc * L.ncols);
            const uint64_t rows = FV_MIN((uint64_t)p->M - m0, (uint64_t)L.mrows);
            const uint64_t cols = FV_MIN(N - n0, (uint64_t)L.ncols);
            const uint32_t mv = (uint32_t)FV_MIN(rows, (uint64_t)MQ_MAX_ROWS);
            fv_dispatch *d = fv_dispatch_push(out, L.kernel);
            if (!d) return fv_fail(y->ctx, FV_STATUS_UNSUPPORTED, "matmul: too many dispatches");
            fv_pc_matmul_q pc = {.M = (uint32_t)rows, .N = (uint32_t)cols, .K = (uint32_t)K, .ldy = (uint32_t)N,
                                 .n0 = (uint32_t)n0, .has_bias = (uint32_t)p->has_bias,
                                 .row_bytes = (uint32_t)rb};
            uint64_t wbound = 0;
            pc.x_off = bind_from(d, x, m0 * K * 4, (m0 + rows) * K * 4, L.xunit, 1, L.xkind, false, NULL);
            pc.w_off = bind_from(d, w, n0 * rb, (n0 + cols) * rb, 1, L.wround, L.wkind, false, &wbound);
            pc.w_last = (uint32_t)(wbound / 16 - 1);
            /* without a bias, a few bytes of X stand in for the binding */
            if (p->has_bias) fv_dispatch_bind(d, n->src[2], FV_BIND_STORAGE, false);
            else fv_dispatch_bind_range(d, x, 0, FV_MIN(x->nbytes, 16), FV_BIND_STORAGE, false);
            pc.y_off = bind_from(d, y, (m0 * N + n0) * 4, ((m0 + rows - 1) * N + n0 + cols) * 4, 4, 1,
                                 FV_BIND_STORAGE, true, NULL);
            fv_dispatch_set_push(d, &pc, sizeof pc);
            const uint32_t passes = fv_mm_div_up(rows, mv); /* blocks of mv X rows, each a pass over W */
            switch (L.v) {
            case MQ_TEXEL: /* spec: local size, MV, RN, XS (X shared by shuffles round 8 lanes) */
                d->spec[0] = TEXEL_LOCAL;
                d->spec[1] = mv;
                d->spec[2] = TEXEL_RN;
                d->spec[3] = dev->subgroup_size == 8 && dev->subgroup_shuffle ? 8 : 0;
                d->nspec = 4;
                d->groups[0] = fv_mm_div_up(cols, TEXEL_RN * TEXEL_LOCAL);
                d->groups[1] = passes;
                d->groups[2] = 1;
                break;
            case MQ_SG: { /* spec: local size, MV, W rows per workgroup (one per subgroup) */
                const uint32_t sg = dev->subgroup_size, local = FV_MAX(SG_LOCAL, sg);
                d->spec[0] = local;
                d->spec[1] = mv;
                d->spec[2] = local / FV_MIN(sg, local);
                d->nspec = 3;
                d->groups[0] = fv_mm_div_up(cols, d->spec[2]);
                d->groups[1] = passes;
                d->groups[2] = 1;
                break;
            }
            case MQ_CL: { /* spec: local size, MV, layout (0 q8_0, 1 q4_0), RN */
                fv_dispatch_size_1d(d, (uint64_t)passes * fv_mm_div_up(cols, CL_RN), CL_LOCAL);
                d->spec[1] = mv;
                d->spec[2] = q4;
                d->spec[3] = CL_RN;
                d->nspec = 4;
                break;
            }
            }
        }
    }
    return FV_STATUS_OK;
}

static const char *matmul_q_unsupported(const fv_node *n, const fv_device_info *dev)
{
    mq_layout L;
    return plan_layout(n, dev, &L);
}

static const fv_op_def op_matmul_q = {"matmul", matmul_q_cpu, matmul_q_encode, matmul_q_unsupported};

fv_status fv_matmul_q_add(fv_graph *g, fv_tensor *x, fv_tensor *w, fv_tensor *bias, int64_t M, int64_t N,
                          int64_t K, int ndim, const int64_t *shape, fv_tensor **y)
{
    char sx[96], sw[96];
    if (K % 32)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "matmul: x %s and w %s %s: K = %lld must be a multiple of 32 for quantised weights",
                       fv_shape_str(x, sx, sizeof sx), fv_shape_str(w, sw, sizeof sw), fv_dtype_name(w->dtype),
                       (long long)K);
    matmul_q_params p = {.M = M, .N = N, .K = K, .has_bias = bias != NULL};
    fv_tensor *src[3] = {x, w, bias};
    return fv_graph_add_node(g, &op_matmul_q, src, bias ? 3 : 2, &p, sizeof p, FV_DTYPE_F32, ndim, shape, y);
}
