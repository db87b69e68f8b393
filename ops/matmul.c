/* matmul: Y[..., N] = X[..., K] · W[N, K]ᵀ (+ bias[N]).
 *
 * X is f32 of any rank (its leading dimensions are the M rows), W is a 2-d f32
 * or f16 matrix, bias an f32 vector of N or absent; accumulation is f32.
 * Quantised W (q8_0, q4_0) goes to its own kernels: ops/matmul_q.c.
 *
 * Kernel variants (shaders/matmul.comp, shaders/matvec.comp; each states its
 * algorithm), chosen per device in choose_variant():
 *   texel            CPU-type devices (lavapipe): barrier-free 16x16 register
 *                    tiles per invocation, X and W read through uniform
 *                    texel buffers (f16 W as raw 16-byte texels of 8 halves).
 *   texel_matvec     CPU-type devices, M <= 8: two W rows per invocation
 *                    through a uniform texel buffer.
 *   tiled            GPUs: 64x64 shared-memory block tiles, 4x4 per invocation.
 *   subgroup_matvec  GPUs, M <= 8: one W row per subgroup, K across lanes.
 *   generic          one invocation per output; any shape (the fallback).
 * The texel and matvec variants need K % 4 == 0 (texels of 4 values); a
 * shape they cannot take goes to generic (CPU-type) or tiled (GPUs).
 *
 * On OpenCL (shaders/cl/matmul.cl, written for CPU devices such as PoCL) the
 * variants are its own; each takes any shape (float16 loads along K and a
 * scalar tail):
 *   cl_tile2, cl_tile8x2  M >= 8: a block of Y per work-item, 2x2, or 8 rows by
 *                         2 columns once M is 16 or more (cl_tile_variant()).
 *   cl_matvec             M < 8: one W row per work-item.
 *
 * Bindings larger than the device allows (maxStorageBufferRange,
 * maxTexelBufferElements) are split: Y is cut into chunks of rows and columns
 * so that each dispatch binds only its rows of X and W, and its part of Y.
 *
 * Two environment variables override the choice, for tests and measurements:
 *   FOVEA_MATMUL_VARIANT=texel|texel_matvec|tiled|subgroup_matvec|generic|matvec|
 *                        cl_tile2|cl_tile8x2|cl_matvec
 *     forces a variant where the shape and device allow it (else the usual
 *     choice); "matvec" means the device's own matrix-vector variant.
 *   FOVEA_MATMUL_SPLIT_ROWS=R  cuts Y into chunks of at most R rows and R
 *     columns, to exercise the splitting at small sizes. */
#include "matmul_q.h"
#include "matmul_split.h"
#include "op_common.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct matmul_params {
    int64_t M, N, K;
    int has_bias;
} matmul_params;

/* ---- plain-C reference -------------------------------------------------- */

typedef struct matmul_job {
    const matmul_params *p;
    const float *x, *bias;
    const void *w;
    bool w_f16;
    float *y;
    int64_t n_begin, n_end; /* the W rows (Y columns) this job computes */
    fv_status status;
} matmul_job;

/* Each W row is widened to f32 once, then dotted with every X row. */
static void *matmul_job_run(void *arg)
{
    matmul_job *j = arg;
    const int64_t M = j->p->M, N = j->p->N, K = j->p->K;
    float *wrow = malloc((size_t)K * sizeof *wrow);
    if (!wrow) {
        j->status = FV_STATUS_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    for (int64_t n = j->n_begin; n < j->n_end; n++) {
        for (int64_t k = 0; k < K; k++)
            wrow[k] = j->w_f16 ? fv_f16_to_f32(((const uint16_t *)j->w)[n * K + k])
                               : ((const float *)j->w)[n * K + k];
        for (int64_t m = 0; m < M; m++) {
            const float *xr = j->x + m * K;
            float s = 0;
            for (int64_t k = 0; k < K; k++) s += xr[k] * wrow[k];
            j->y[m * N + n] = j->bias ? s + j->bias[n] : s;
        }
    }
    free(wrow);
    j->status = FV_STATUS_OK;
    return NULL;
}

/* Columns are split across up to 4 threads when the product is big enough to
 * be worth it; a thread that cannot start runs its share inline. */
static fv_status matmul_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const matmul_params *p = (const matmul_params *)n->params;
    enum { MAX_THREADS = 4 };
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = (double)p->M * (double)p->N * (double)p->K < 4e6 ? 1 : (int)FV_MAX(1, FV_MIN(cores, MAX_THREADS));
    nthreads = (int)FV_MIN(nthreads, p->N);
    matmul_job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    for (int t = 0; t < nthreads; t++) {
        jobs[t] = (matmul_job){.p = p,
                               .x = fv_tensor_host(n->src[0]),
                               .w = fv_tensor_host(n->src[1]),
                               .w_f16 = n->src[1]->dtype == FV_DTYPE_F16,
                               .bias = p->has_bias ? fv_tensor_host(n->src[2]) : NULL,
                               .y = fv_tensor_host(n->dst),
                               .n_begin = p->N * t / nthreads,
                               .n_end = p->N * (t + 1) / nthreads};
        if (t > 0) started[t] = pthread_create(&tids[t], NULL, matmul_job_run, &jobs[t]) == 0;
    }
    matmul_job_run(&jobs[0]);
    fv_status st = jobs[0].status;
    for (int t = 1; t < nthreads; t++) {
        if (started[t]) pthread_join(tids[t], NULL);
        else matmul_job_run(&jobs[t]);
        if (!st) st = jobs[t].status;
    }
    return st ? fv_fail(n->dst->ctx, st, "matmul: out of host memory") : FV_STATUS_OK;
}

/* ---- variant choice -------------------------------------------------------- */

typedef enum mm_variant {
    MM_GENERIC = 0,
    MM_TILED,
    MM_TEXEL,
    MM_TEXEL_MATVEC,
    MM_SUBGROUP_MATVEC,
    MM_CL_TILE2,
    MM_CL_TILE8X2,
    MM_CL_MATVEC,
    MM_VARIANT_COUNT
} mm_variant;

static const char *const mm_variant_names[MM_VARIANT_COUNT] = {"generic", "tiled", "texel", "texel_matvec",
                                                               "subgroup_matvec", "cl_tile2", "cl_tile8x2",
                                                               "cl_matvec"};

/* geometry the shaders are written for */
#define MATVEC_MAX_ROWS 8 /* X rows the matvec kernels keep in registers      */
#define TEXEL_TM 16       /* texel tile: X rows per workgroup (shader's TM)   */
#define TEXEL_TN 16       /* texel tile: W rows per invocation (shader's TN)  */
#define TEXEL_LOCAL 16
#define TEXEL_MATVEC_RN 2 /* texel matvec: W rows per invocation            */
#define TEXEL_MATVEC_LOCAL 32
#define TILED_BM 64       /* tiled block: the shader's BM = BN                */
#define SUBGROUP_MATVEC_LOCAL 64
#define CL_MATVEC_MAX_ROWS 7 /* OpenCL matvec: X rows kept in float16 registers */
#define CL_LOCAL 16          /* OpenCL work-group size                           */
#define BIND_ALIGN 256    /* bindings start at multiples of this (≥ any offset alignment) */

static bool w_is_f16(const fv_node *n) { return n->src[1]->dtype == FV_DTYPE_F16; }

static bool variant_fits(mm_variant v, const matmul_params *p, const fv_node *n, const fv_device_info *dev)
{
    const bool k4 = p->K % 4 == 0, texels = dev->max_texel_elements > 0;
    /* f16 W through scalar storage loads needs 16-bit storage; vec4 paths read pairs of halves as u32 */
    const bool f16_scalar_ok = !w_is_f16(n) || dev->storage_16bit;
    /* each backend runs only the kernels written for it */
    const bool cl_variant = v == MM_CL_TILE2 || v == MM_CL_TILE8X2 || v == MM_CL_MATVEC;
    if (cl_variant != (dev->backend == FV_BACKEND_OPENCL)) return false;
    switch (v) {
    case MM_GENERIC: return f16_scalar_ok;
    case MM_TILED: return (k4 || f16_scalar_ok) && dev->max_workgroup_invocations >= 256;
    case MM_TEXEL: return k4 && texels;
    case MM_TEXEL_MATVEC: return k4 && texels && dev->subgroup_shuffle && p->M <= MATVEC_MAX_ROWS; /* X is shared by shuffles */
    case MM_SUBGROUP_MATVEC: return k4 && dev->subgroup_arithmetic && p->M <= MATVEC_MAX_ROWS;
    case MM_CL_TILE2:
    case MM_CL_TILE8X2: return true;
    case MM_CL_MATVEC: return p->M <= CL_MATVEC_MAX_ROWS;
    default: return false;
    }
}

/* OpenCL's block size by shape. An 8x2 block keeps 16 independent FMA
 * chains, and per 16 of them reads 2 vectors of W (from L2) and 8 of X
 * (from L1: see matmul.cl); 4x4 reads 4 and 4 and measured a little slower
 * (best of three at 1024³ on PoCL, 2 cores: 31 against 26 GFLOP/s). 2x2
 * blocks have only 4 chains, which the FMA latency leaves short of the
 * unit's throughput (about 10 against 14 GFLOP/s), but waste less on the
 * edges of products too small to fill 8-row blocks. */
static mm_variant cl_tile_variant(const matmul_params *p)
{
    return p->M >= 16 ? MM_CL_TILE8X2 : MM_CL_TILE2;
}

/* The variants to try, best first: a forced one (if it fits), then the
 * device type's order. Returns the count. */
static int variant_order(const fv_node *n, const fv_device_info *dev, mm_variant *order)
{
    const matmul_params *p = (const matmul_params *)n->params;
    const bool cpu = fv_is_cpu_device(dev);
    const mm_variant own_matvec = cpu ? MM_TEXEL_MATVEC : MM_SUBGROUP_MATVEC;
    int count = 0;
    const char *force = getenv("FOVEA_MATMUL_VARIANT");
    if (force && *force) {
        for (int v = 0; v < MM_VARIANT_COUNT; v++)
            if (strcmp(force, mm_variant_names[v]) == 0) order[count++] = (mm_variant)v;
        if (strcmp(force, "matvec") == 0) order[count++] = own_matvec;
    }
    static const mm_variant cpu_order[] = {MM_TEXEL_MATVEC, MM_TEXEL, MM_GENERIC};
    static const mm_variant gpu_order[] = {MM_SUBGROUP_MATVEC, MM_TILED, MM_GENERIC};
    if (dev->backend == FV_BACKEND_OPENCL) {
        order[count++] = MM_CL_MATVEC;
        order[count++] = cl_tile_variant(p);
    } else {
        for (int i = 0; i < 3; i++) order[count++] = cpu ? cpu_order[i] : gpu_order[i];
    }
    /* keep the ones that can take this shape on this device */
    int kept = 0;
    for (int i = 0; i < count; i++)
        if (variant_fits(order[i], p, n, dev)) order[kept++] = order[i];
    return kept;
}

/* ---- splitting into chunks ----------------------------------------------------- */

typedef struct mm_layout {
    mm_variant v;
    const char *kernel;
    fv_bind_kind xkind, wkind;
    size_t xunit, wunit;     /* bytes per unit of x_off / w_off in the push constants */
    int64_t mrows, ncols;    /* the chunk of Y each dispatch covers       */
    int64_t mchunks, nchunks;
} mm_layout;

static size_t texel_bytes(fv_bind_kind k) { return k == FV_BIND_TEXEL_F16X4 ? 8 : 16; }

/* Largest bytes one binding of this kind may cover, less the slack of
 * aligning its start down to BIND_ALIGN. */
static uint64_t binding_limit(const fv_device_info *dev, fv_bind_kind kind)
{
    uint64_t lim = kind == FV_BIND_STORAGE ? dev->max_storage_range : dev->max_texel_elements * texel_bytes(kind);
    return lim > BIND_ALIGN ? lim - BIND_ALIGN : 0;
}

/* Bindings of variant v and the chunks that keep every binding within the
 * device's limits. Returns a reason when there are none. */
static const char *plan_variant(const fv_node *n, const fv_device_info *dev, mm_variant v, mm_layout *L)
{
    const matmul_params *p = (const matmul_params *)n->params;
    const bool f16 = w_is_f16(n);
    memset(L, 0, sizeof *L);
    L->v = v;
    const bool texel = L->v == MM_TEXEL || L->v == MM_TEXEL_MATVEC;
    /* f16 rows of whole 16-byte texels are read 8 values per fetch, as raw u32x4 */
    const bool h8 = texel && f16 && p->K % 8 == 0;
    L->xkind = texel ? FV_BIND_TEXEL_F32X4 : FV_BIND_STORAGE;
    L->wkind = !texel ? FV_BIND_STORAGE : h8 ? FV_BIND_TEXEL_U32X4 : f16 ? FV_BIND_TEXEL_F16X4 : FV_BIND_TEXEL_F32X4;
    L->xunit = texel ? 16 : 4;
    L->wunit = texel ? texel_bytes(L->wkind) : f16 ? 2 : 4;
    switch (L->v) {
    case MM_GENERIC: L->kernel = f16 ? "matmul_f16" : "matmul_f32"; break;
    case MM_TILED:
        L->kernel = p->K % 4 ? (f16 ? "matmul_tiled_f16" : "matmul_tiled_f32")
                             : (f16 ? "matmul_tiled_f16_vec4" : "matmul_tiled_f32_vec4");
        break;
    case MM_TEXEL: L->kernel = h8 ? "matmul_texel_h8" : "matmul_texel"; break;
    case MM_TEXEL_MATVEC: L->kernel = h8 ? "matvec_texel_h8" : "matvec_texel"; break;
    case MM_CL_TILE2:
    case MM_CL_TILE8X2: L->kernel = "matmul_cl_tile"; break;
    case MM_CL_MATVEC: L->kernel = "matvec_cl"; break;
    default: L->kernel = f16 ? "matvec_f16" : "matvec_f32"; break;
    }

    const uint64_t xrow = (uint64_t)p->K * 4, wrow = (uint64_t)p->K * (f16 ? 2 : 4), yrow = (uint64_t)p->N * 4;
    int64_t mrows, ncols;
    const char *why = fv_mm_split_fit(p->M, p->N, xrow, wrow, yrow, binding_limit(dev, L->xkind),
                                      binding_limit(dev, L->wkind), binding_limit(dev, FV_BIND_STORAGE), BIND_ALIGN,
                                      &mrows, &ncols);
    if (why) return why;
    /* workgroup counts stay within the 65535 every device allows */
    if (L->v == MM_TEXEL) {
        mrows = FV_MIN(mrows, 65535 * TEXEL_TM);
        ncols = FV_MIN(ncols, (int64_t)65535 * TEXEL_TN * TEXEL_LOCAL);
    } else if (L->v == MM_TILED) {
        mrows = FV_MIN(mrows, 65535 * TILED_BM);
        ncols = FV_MIN(ncols, 65535 * TILED_BM);
    }
    /* OpenCL kernels number their blocks of Y with 32-bit work-item ids */
    if (L->v == MM_CL_TILE2 || L->v == MM_CL_TILE8X2 || L->v == MM_CL_MATVEC)
        mrows = FV_MIN(mrows, FV_MAX(1, ((int64_t)1 << 31) / ncols));
    why = fv_mm_split_finish(p->M, p->N, &mrows, &ncols, &L->mchunks, &L->nchunks);
    L->mrows = mrows;
    L->ncols = ncols;
    return why;
}

/* The first variant, in order of preference, whose bindings fit. */
static const char *plan_layout(const fv_node *n, const fv_device_info *dev, mm_layout *L)
{
    mm_variant order[MM_VARIANT_COUNT + 4];
    const int count = variant_order(n, dev, order);
    const char *why = "f16 weights with K % 4 != 0 need 16-bit storage buffers";
    for (int i = 0; i < count; i++)
        if (!(why = plan_variant(n, dev, order[i], L))) return NULL;
    return why;
}

/* ---- encoding ---------------------------------------------------------------- */

/* Binds bytes [begin, end) of t from the BIND_ALIGN boundary at or below
 * begin; returns begin's offset inside the binding in units of `unit`. */
static uint32_t bind_from(fv_dispatch *d, const fv_tensor *t, uint64_t begin, uint64_t end, size_t unit,
                          fv_bind_kind kind, bool write)
{
    uint64_t base = begin / BIND_ALIGN * BIND_ALIGN;
    fv_dispatch_bind_range(d, t, (size_t)base, (size_t)(end - base), kind, write);
    return (uint32_t)((begin - base) / unit);
}

/* Workgroup counts and specialisation constants of one dispatch. */
static void size_dispatch(fv_dispatch *d, mm_variant v, uint64_t rows, uint64_t cols, bool f16,
                          const fv_device_info *dev)
{
    const uint32_t sg = dev->subgroup_size ? dev->subgroup_size : 32;
    switch (v) {
    case MM_CL_TILE2:
    case MM_CL_TILE8X2: { /* spec: local size, TM, TN, W is f16 */
        const uint32_t tm = v == MM_CL_TILE8X2 ? 8 : 2, tn = 2;
        /* a work-group per block row of each band of CL_LOCAL block columns */
        const uint64_t bands = fv_mm_div_up(fv_mm_div_up(cols, tn), CL_LOCAL);
        fv_dispatch_size_1d(d, (uint64_t)fv_mm_div_up(rows, tm) * bands * CL_LOCAL, CL_LOCAL);
        d->spec[1] = tm;
        d->spec[2] = tn;
        d->spec[3] = f16;
        d->nspec = 4;
        break;
    }
    case MM_CL_MATVEC: /* spec: local size, X rows, 1 (a TN for the tile kernel of the same program), W f16 */
        fv_dispatch_size_1d(d, cols, CL_LOCAL);
        d->spec[1] = (uint32_t)rows;
        d->spec[2] = 1;
        d->spec[3] = f16;
        d->nspec = 4;
        break;
    case MM_GENERIC: fv_dispatch_size_1d(d, rows * cols, 64); break;
    case MM_TILED:
        d->spec[0] = 256;
        d->nspec = 1;
        d->groups[0] = fv_mm_div_up(cols, TILED_BM);
        d->groups[1] = fv_mm_div_up(rows, TILED_BM);
        break;
    case MM_TEXEL:
        d->spec[0] = TEXEL_LOCAL;
        d->nspec = 1;
        d->groups[0] = fv_mm_div_up(cols, TEXEL_TN * TEXEL_LOCAL);
        d->groups[1] = fv_mm_div_up(rows, TEXEL_TM);
        break;
    case MM_TEXEL_MATVEC:
        fv_dispatch_size_1d(d, fv_mm_div_up(cols, TEXEL_MATVEC_RN), TEXEL_MATVEC_LOCAL);
        d->spec[1] = (uint32_t)rows;
        d->spec[2] = TEXEL_MATVEC_RN;
        /* X texels shared round subgroups of 8 (the shader's XS) */
        d->spec[3] = dev->subgroup_size == 8 && dev->subgroup_shuffle ? 8 : 0;
        d->nspec = 4;
        break;
    default: { /* subgroup matvec: a W row per subgroup, ROWS_PER_GROUP per workgroup */
        const uint32_t local = FV_MAX(SUBGROUP_MATVEC_LOCAL, sg), rpg = local / FV_MIN(sg, local);
        const uint32_t groups = fv_mm_div_up(cols, rpg);
        d->spec[0] = local;
        d->spec[1] = (uint32_t)rows;
        d->spec[2] = rpg;
        d->nspec = 3;
        d->groups[0] = FV_MIN(groups, 65535u);
        d->groups[1] = fv_mm_div_up(groups, d->groups[0]);
        break;
    }
    }
}

static fv_status matmul_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const matmul_params *p = (const matmul_params *)n->params;
    const fv_tensor *x = n->src[0], *w = n->src[1], *y = n->dst;
    mm_layout L;
    const char *why = plan_layout(n, dev, &L);
    if (why) return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "matmul: %s", why);
    const uint64_t K = (uint64_t)p->K, N = (uint64_t)p->N, wes = w_is_f16(n) ? 2 : 4;
    for (int64_t mc = 0; mc < L.mchunks; mc++) {
        for (int64_t nc = 0; nc < L.nchunks; nc++) {
            const uint64_t m0 = (uint64_t)(mc * L.mrows), n0 = (uint64_t)(nc * L.ncols);
            const uint64_t rows = FV_MIN((uint64_t)p->M - m0, (uint64_t)L.mrows);
            const uint64_t cols = FV_MIN(N - n0, (uint64_t)L.ncols);
            fv_dispatch *d = fv_dispatch_push(out, L.kernel);
            if (!d) return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "matmul: too many dispatches");
            fv_pc_matmul pc = {.M = (uint32_t)rows, .N = (uint32_t)cols, .K = (uint32_t)K, .ldy = (uint32_t)N,
                               .n0 = (uint32_t)n0, .has_bias = (uint32_t)p->has_bias};
            pc.x_off = bind_from(d, x, m0 * K * 4, (m0 + rows) * K * 4, L.xunit, L.xkind, false);
            pc.w_off = bind_from(d, w, n0 * K * wes, (n0 + cols) * K * wes, L.wunit, L.wkind, false);
            /* without a bias, a few bytes of X stand in for the binding */
            if (p->has_bias) fv_dispatch_bind(d, n->src[2], FV_BIND_STORAGE, false);
            else fv_dispatch_bind_range(d, x, 0, FV_MIN(x->nbytes, 16), FV_BIND_STORAGE, false);
            pc.y_off = bind_from(d, y, (m0 * N + n0) * 4, ((m0 + rows - 1) * N + n0 + cols) * 4, 4,
                                 FV_BIND_STORAGE, true);
            fv_dispatch_set_push(d, &pc, sizeof pc);
            size_dispatch(d, L.v, rows, cols, w_is_f16(n), dev);
        }
    }
    return FV_STATUS_OK;
}

static const char *matmul_unsupported(const fv_node *n, const fv_device_info *dev)
{
    mm_layout L;
    return plan_layout(n, dev, &L);
}

static const fv_op_def op_matmul = {"matmul", matmul_cpu, matmul_encode, matmul_unsupported};

/* ---- builder -------------------------------------------------------------------- */

fv_status fv_op_matmul(fv_graph *g, fv_tensor *x, fv_tensor *w, fv_tensor *bias, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "matmul", "x", x);
    FV_OP_CHECK_INPUT(g, "matmul", "w", w);
    if (bias) FV_OP_CHECK_INPUT(g, "matmul", "bias", bias);
    fv_context *ctx = fv_graph_context(g);
    char sx[96], sw[96], sb[96];
    fv_status st = fv_op_require_dtype(g, "matmul", "x", x, FV_DTYPE_F32);
    if (!st && bias) st = fv_op_require_dtype(g, "matmul", "bias", bias, FV_DTYPE_F32);
    if (st) return st;
    if (w->dtype != FV_DTYPE_F32 && w->dtype != FV_DTYPE_F16 && !fv_dtype_is_quantized(w->dtype))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "matmul: w is %s %s; it must be f32, f16, q8_0 or q4_0",
                       fv_shape_str(w, sw, sizeof sw), fv_dtype_name(w->dtype));
    const int64_t K = x->shape[x->ndim - 1];
    if (w->ndim != 2 || w->shape[1] != K)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "matmul: x %s and w %s: w must be [N, %lld]",
                       fv_shape_str(x, sx, sizeof sx), fv_shape_str(w, sw, sizeof sw), (long long)K);
    const int64_t N = w->shape[0];
    if (bias && (bias->ndim != 1 || bias->shape[0] != N))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "matmul: bias %s must be [%lld] for w %s",
                       fv_shape_str(bias, sb, sizeof sb), (long long)N, fv_shape_str(w, sw, sizeof sw));
    const int64_t M = fv_tensor_rows(x);
    /* kernels index within one binding with 32-bit integers */
    if (K > INT32_MAX / 4 || N > INT32_MAX / 4 || M > INT32_MAX / 4)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "matmul: x %s and w %s are too large",
                       fv_shape_str(x, sx, sizeof sx), fv_shape_str(w, sw, sizeof sw));
    matmul_params p = {.M = M, .N = N, .K = K, .has_bias = bias != NULL};
    int64_t shape[FV_MAX_DIMS];
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = N;
    if (fv_dtype_is_quantized(w->dtype)) return fv_matmul_q_add(g, x, w, bias, M, N, K, x->ndim, shape, y);
    fv_tensor *src[3] = {x, w, bias};
    return fv_graph_add_node(g, &op_matmul, src, bias ? 3 : 2, &p, sizeof p, FV_DTYPE_F32, x->ndim, shape, y);
}
