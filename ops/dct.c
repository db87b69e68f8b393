/* dct2d: the orthonormal 2D DCT-II of a grid of patch tokens over the two
 * grid axes, keeping the low-frequency kh x kw block (Fourier-VLM: Wang et
 * al., "Fourier-VLM: Compressing Vision Tokens in the Frequency Domain for
 * Large Vision-Language Models", 2025). Semantics: fovea.h, fv_op_dct2d.
 *
 *   y[b, u·kw + v, c] = Σ_i Σ_j Ch[u, i] · Cw[v, j] · x[b, i·gw + j, c]
 *   Cn[u, i] = s(u) · cos(π (2i + 1) u / 2n),  s(0) = √(1/n), s(u>0) = √(2/n)
 *
 * Paths:
 *   CPU backend  the separable sums in double (the reference).
 *   matrix       (Vulkan, OpenCL) the transform as two small matrix products,
 *                Ch · X then · Cwᵀ, restricted to the kept rows: two
 *                dispatches of one "apply a matrix along an axis" kernel
 *                (shaders/dct.comp, shaders/cl/dct.cl). The DCT matrices are
 *                graph constants computed in double on the host.
 *   vkfft        (Vulkan, OpenCL, where built with VkFFT) VkFFT's DCT-II
 *                over the full grid in a scratch copy, through VkFFT's
 *                backend for the context's API, then the kept block scaled
 *                to the orthonormal convention (ops/dct_vkfft_vulkan.c,
 *                ops/dct_vkfft_opencl.c; without VkFFT for a backend,
 *                ops/dct_vkfft_none.c says it is unavailable).
 * The dst is packed: y [B, kh·kw, C] | scratch; the caller gets a view of y.
 * The scratch holds the matrix path's intermediate [B, kh, gw, C] or
 * VkFFT's full-grid work buffer [B, gh, gw, C]. */
#include "dct_internal.h"

#include <pthread.h>
#include <stdlib.h>

/* ---- plain-C reference ---------------------------------------------------------- */

static fv_status dct_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const dct_params *p = (const dct_params *)n->params;
    const float *x = fv_tensor_host(n->src[0]), *ch = fv_tensor_host(n->src[1]), *cw = fv_tensor_host(n->src[2]);
    float *y = fv_tensor_host(n->dst);
    const int64_t GH = p->gh, GW = p->gw, KH = p->kh, KW = p->kw, C = p->c;
    /* t[u, j, c] = Σ_i Ch[u, i] x[i, j, c], one batch at a time */
    double *t = malloc((size_t)(KH * GW * C) * sizeof *t);
    if (!t) return fv_fail(n->dst->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "dct2d: out of host memory");
    for (int64_t b = 0; b < p->batch; b++) {
        const float *xb = x + b * GH * GW * C;
        for (int64_t e = 0; e < KH * GW * C; e++) t[e] = 0;
        for (int64_t u = 0; u < KH; u++)
            for (int64_t i = 0; i < GH; i++) {
                const double w = ch[u * GH + i];
                for (int64_t e = 0; e < GW * C; e++) t[u * GW * C + e] += w * xb[i * GW * C + e];
            }
        float *yb = y + b * KH * KW * C;
        for (int64_t u = 0; u < KH; u++)
            for (int64_t v = 0; v < KW; v++)
                for (int64_t c = 0; c < C; c++) {
                    double s = 0;
                    for (int64_t j = 0; j < GW; j++) s += (double)cw[v * GW + j] * t[(u * GW + j) * C + c];
                    yb[(u * KW + v) * C + c] = (float)s;
                }
    }
    free(t);
    return FV_STATUS_OK;
}

/* ---- path choice ------------------------------------------------------------------ *
 * Where VkFFT can run, the first node of each (device, shape) times both
 * paths on its context (a throw-away graph each, replayed until two runs
 * best of 5 replays after the first) and keeps the answer for the process:
 * on lavapipe the matrix path wins by an order of magnitude at 24x24 (a
 * dispatch costs ~30 us there and VkFFT's passes are many), on PoCL by
 * two orders at 24x24 with 1024 channels, while on GPUs VkFFT should take
 * over as grids and channel counts grow. The table is keyed by the device's
 * name, so contexts on one device share it. (The decision is the device's, not the node's: a batch of 1 per key.) */

#define DCT_CHOICES 64

typedef struct dct_choice {
    char device[256];
    int64_t batch, gh, gw, kh, kw, c;
    bool vkfft;
} dct_choice;

static dct_choice choices[DCT_CHOICES];
static int nchoices;
static pthread_mutex_t choices_lock = PTHREAD_MUTEX_INITIALIZER;
/* set while a measurement graph is built: 1 forces the matrix path, 2 VkFFT */
static _Thread_local int measuring;

/* Milliseconds of one replay of a dct2d graph of p's shape on ctx taking
 * path `path` (1 matrix, 2 VkFFT); the best of `reps`. Negative on failure. */
static double time_path(fv_context *ctx, const dct_params *p, int path, int reps)
{
    const int64_t shape[3] = {p->batch, p->gh * p->gw, p->c};
    fv_tensor *x = NULL, *y = NULL;
    fv_graph *g = NULL;
    double best = -1;
    measuring = path;
    fv_status st = fv_tensor_create(ctx, FV_DTYPE_F32, 3, shape, &x);
    if (!st) st = fv_graph_create(ctx, &g);
    if (!st) st = fv_op_dct2d(g, x, (int)p->gh, (int)p->gw, (int)p->kh, (int)p->kw, &y);
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = fv_graph_replay(g); /* records: plans VkFFT, makes pipelines */
    for (int i = 0; i < reps && !st; i++) {
        st = fv_graph_replay(g);
        const double ms = fv_graph_last_replay_ms(g);
        if (!st && (best < 0 || ms < best)) best = ms;
    }
    measuring = 0;
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    return st ? -1 : best;
}

static bool vkfft_faster(fv_context *ctx, const fv_node *n, const fv_device_info *dev)
{
    const dct_params *p = (const dct_params *)n->params;
    bool found = false, vkfft = false;
    pthread_mutex_lock(&choices_lock);
    for (int i = 0; i < nchoices && !found; i++) {
        const dct_choice *c = &choices[i];
        if (strcmp(c->device, dev->name) == 0 && c->batch == p->batch && c->gh == p->gh && c->gw == p->gw &&
            c->kh == p->kh && c->kw == p->kw && c->c == p->c)
            found = true, vkfft = c->vkfft;
    }
    pthread_mutex_unlock(&choices_lock);
    if (found) return vkfft;
    const double matrix_ms = time_path(ctx, p, 1, 5), vkfft_ms = time_path(ctx, p, 2, 5);
    vkfft = vkfft_ms >= 0 && (matrix_ms < 0 || vkfft_ms < matrix_ms);
    fv_log(ctx, FV_LOG_INFO, "dct2d: %lldx%lld grid, %lld channels on %s: matrix %.3f ms, vkfft %.3f ms: %s",
           (long long)p->gh, (long long)p->gw, (long long)p->c, dev->name, matrix_ms, vkfft_ms,
           vkfft ? "vkfft" : "matrix");
    pthread_mutex_lock(&choices_lock);
    dct_choice *c = &choices[nchoices < DCT_CHOICES ? nchoices++ : (int)(p->c % DCT_CHOICES)];
    snprintf(c->device, sizeof c->device, "%s", dev->name);
    c->batch = p->batch, c->gh = p->gh, c->gw = p->gw, c->kh = p->kh, c->kw = p->kw, c->c = p->c;
    c->vkfft = vkfft;
    pthread_mutex_unlock(&choices_lock);
    return vkfft;
}

/* Whether m > 1 factors into VkFFT's radices 2..13 (no Bluestein). */
static bool smooth(int64_t m)
{
    static const int radix[] = {2, 3, 5, 7, 11, 13};
    for (size_t i = 0; i < sizeof radix / sizeof radix[0]; i++)
        while (m % radix[i] == 0) m /= radix[i];
    return m == 1;
}

/* Whether the VkFFT path can run the node on the device. VkFFT 1.2.26
 * rejects axes of length 1 (error 3001), and for the channel axis, which is
 * not transformed (omitDimension), it still binds a Bluestein buffer it never
 * allocates when the length has a prime factor above 13 (on Vulkan a null
 * buffer in vkUpdateDescriptorSets): those shapes take the matrix path, on
 * either backend. Grid sides may be any length above 1 on OpenCL; on Vulkan
 * a grid side with a prime factor above 13 (VkFFT's Bluestein algorithm)
 * fails (validation errors and zeros in the output at 17x12 and 7x23, where
 * the OpenCL backend is exact), so on Vulkan both sides must be smooth. */
static bool vkfft_available(const fv_node *n, const fv_device_info *dev)
{
    const dct_params *p = (const dct_params *)n->params;
    const bool built = dev->backend == FV_BACKEND_VULKAN   ? fv_dct_vkfft_vulkan_built()
                       : dev->backend == FV_BACKEND_OPENCL ? fv_dct_vkfft_opencl_built()
                                                           : false;
    const bool sides = dev->backend == FV_BACKEND_OPENCL || (smooth(p->gh) && smooth(p->gw));
    return built && p->gh > 1 && p->gw > 1 && p->c > 1 && smooth(p->c) && sides;
}

/* FOVEA_DCT_PATH=vkfft|matrix forces a path where the device has it. */
static bool use_vkfft(fv_context *ctx, const fv_node *n, const fv_device_info *dev)
{
    if (measuring) return measuring == 2 && vkfft_available(n, dev);
    const char *force = getenv("FOVEA_DCT_PATH");
    if (force && strcmp(force, "matrix") == 0) return false;
    if (!vkfft_available(n, dev)) return false;
    if (force && strcmp(force, "vkfft") == 0) return true;
    return vkfft_faster(ctx, n, dev);
}

/* ---- matrix path ------------------------------------------------------------------ */

#define DCT_LOCAL 64

#define DCT_UB 8 /* rows per invocation of the vec4 kernels (UB in dct.comp) */

/* y[o, u, t] = Σ_i m[u, i] x[o, i, t]: one dispatch of dct_axis, or of
 * dct_axis4 (4 t and 8 u per invocation) when inner is a multiple of 4. */
static fv_status push_axis(fv_dispatch_list *out, const fv_device_info *dev, const fv_tensor *x, size_t xoff,
                           size_t xbytes, const fv_tensor *m, const fv_tensor *y, size_t yoff, size_t ybytes,
                           int64_t outer, int64_t rows, int64_t n, int64_t inner)
{
    const bool cl = dev->backend == FV_BACKEND_OPENCL, vec4 = inner % 4 == 0;
    fv_dispatch *d = fv_dispatch_push(out, vec4 ? (cl ? "dct_axis4_cl" : "dct_axis4") : (cl ? "dct_axis_cl" : "dct_axis"));
    if (!d) return FV_STATUS_UNSUPPORTED;
    const int64_t work = vec4 ? outer * ((rows + DCT_UB - 1) / DCT_UB) * (inner / 4) : outer * rows * inner;
    fv_pc_dct pc = {.total = (uint32_t)work, .rows = (uint32_t)rows, .n = (uint32_t)n, .inner = (uint32_t)inner};
    fv_dispatch_bind_range(d, x, xoff, xbytes, cl ? FV_BIND_STORAGE : vec4 ? FV_BIND_TEXEL_F32X4 : FV_BIND_TEXEL_F32,
                           false);
    fv_dispatch_bind(d, m, FV_BIND_STORAGE, false);
    fv_dispatch_bind_range(d, y, yoff, ybytes, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_dispatch_size_1d(d, pc.total, DCT_LOCAL);
    return FV_STATUS_OK;
}

static fv_status encode_matrix(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const dct_params *p = (const dct_params *)n->params;
    const size_t y_bytes = (size_t)(p->batch * p->kh * p->kw * p->c) * 4;
    const size_t t_bytes = (size_t)(p->batch * p->kh * p->gw * p->c) * 4;
    /* pass 1 along the grid rows: outer = batch, n = gh, inner = gw·C */
    fv_status st = push_axis(out, dev, n->src[0], 0, 0, n->src[1], n->dst, p->off_scratch, t_bytes, p->batch, p->kh,
                             p->gh, p->gw * p->c);
    /* pass 2 along the grid columns: outer = batch·kh, n = gw, inner = C */
    if (!st)
        st = push_axis(out, dev, n->dst, p->off_scratch, t_bytes, n->src[2], n->dst, 0, y_bytes, p->batch * p->kh,
                       p->kw, p->gw, p->c);
    return st;
}

static const char *dct_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const dct_params *p = (const dct_params *)n->params;
    if (dev->backend == FV_BACKEND_CPU) return NULL;
    const uint64_t limit = dev->max_storage_range;
    if (n->dst->nbytes > limit || n->src[0]->nbytes > limit) return "x or y is larger than one storage binding";
    if (dev->backend != FV_BACKEND_OPENCL && (uint64_t)fv_tensor_numel(n->src[0]) / (p->c % 4 == 0 ? 4 : 1) >
                                                 dev->max_texel_elements)
        return "x has more elements than a texel view may";
    if ((uint64_t)(p->batch * p->gh * p->gw * p->c) >= (1ull << 31) / 2) return "x is too large for 32-bit indexing";
    return NULL;
}

/* ---- the VkFFT path's last step ------------------------------------------------ */

fv_status fv_dct_push_crop(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out, double factor)
{
    const dct_params *p = (const dct_params *)n->params;
    fv_dispatch *d = fv_dispatch_push(out, dev->backend == FV_BACKEND_OPENCL ? "dct_crop_cl" : "dct_crop");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_pc_dct_crop pc = {.total = (uint32_t)(p->batch * p->kh * p->kw * p->c),
                         .kh = (uint32_t)p->kh,
                         .kw = (uint32_t)p->kw,
                         .gh = (uint32_t)p->gh,
                         .gw = (uint32_t)p->gw,
                         .c = (uint32_t)p->c,
                         .wh0 = (float)(sqrt(1.0 / (double)p->gh) / factor),
                         .wh = (float)(sqrt(2.0 / (double)p->gh) / factor),
                         .ww0 = (float)(sqrt(1.0 / (double)p->gw) / factor),
                         .ww = (float)(sqrt(2.0 / (double)p->gw) / factor)};
    fv_dispatch_bind_range(d, n->dst, p->off_scratch, (size_t)fv_dct_scratch_bytes(p), FV_BIND_STORAGE, false);
    fv_dispatch_bind_range(d, n->dst, 0, (size_t)pc.total * 4, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_dispatch_size_1d(d, pc.total, DCT_LOCAL);
    return FV_STATUS_OK;
}

fv_status fv_dct_push_vkfft(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out,
                            const fv_external *fft, double factor)
{
    fv_dispatch *d = fv_dispatch_push(out, fft->name);
    if (!d) return FV_STATUS_UNSUPPORTED;
    d->external = fft;
    return fv_dct_push_crop(n, dev, out, factor);
}

static fv_status dct_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const char *why = dct_unsupported(n, dev);
    if (why) return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "dct2d: %s", why);
    if (use_vkfft(n->dst->ctx, n, dev))
        return dev->backend == FV_BACKEND_OPENCL ? fv_dct_vkfft_opencl_encode(n, dev, out)
                                                 : fv_dct_vkfft_vulkan_encode(n, dev, out);
    return encode_matrix(n, dev, out);
}

static const fv_op_def op_dct2d = {"dct2d", dct_cpu, dct_encode, dct_unsupported};

/* ---- builder ---------------------------------------------------------------------- */

/* Cn[u, i] for u < keep, i < n, rounded to f32 from double */
static float *dct_matrix(int64_t keep, int64_t n)
{
    float *m = malloc((size_t)(keep * n) * sizeof *m);
    if (!m) return NULL;
    const double pi = 3.14159265358979323846;
    for (int64_t u = 0; u < keep; u++)
        for (int64_t i = 0; i < n; i++) {
            const double s = sqrt((u == 0 ? 1.0 : 2.0) / (double)n);
            m[u * n + i] = (float)(s * cos(pi * (double)((2 * i + 1) * u) / (double)(2 * n)));
        }
    return m;
}

fv_status fv_op_dct2d(fv_graph *g, fv_tensor *x, int grid_h, int grid_w, int keep_h, int keep_w, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "dct2d", "x", x);
    fv_status st = fv_op_require_dtype(g, "dct2d", "x", x, FV_DTYPE_F32);
    if (st) return st;
    fv_context *ctx = fv_graph_context(g);
    char sx[96];
    fv_shape_str(x, sx, sizeof sx);
    if (x->ndim != 3 || grid_h < 1 || grid_w < 1 || x->shape[1] != (int64_t)grid_h * grid_w)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "dct2d: x %s must be [B, %d·%d, C]", sx, grid_h, grid_w);
    if (keep_h < 1 || keep_w < 1 || keep_h > grid_h || keep_w > grid_w)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "dct2d: keep %dx%d must be within the grid %dx%d", keep_h,
                       keep_w, grid_h, grid_w);
    dct_params p = {.batch = x->shape[0], .gh = grid_h, .gw = grid_w, .kh = keep_h, .kw = keep_w, .c = x->shape[2]};
    const uint64_t y_bytes = (uint64_t)(p.batch * p.kh * p.kw * p.c) * 4;
    const uint64_t scratch_bytes = (uint64_t)(p.batch * p.gh * p.gw * p.c) * 4; /* ≥ the matrix path's [B,kh,gw,C] */
    p.off_scratch = FV_ALIGN_UP(y_bytes, FV_VIEW_ALIGN);
    fv_tensor *src[3] = {x, NULL, NULL};
    float *mh = dct_matrix(p.kh, p.gh), *mw = dct_matrix(p.kw, p.gw);
    if (!mh || !mw) st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "dct2d: out of host memory");
    const int64_t sh[2] = {p.kh, p.gh}, sw[2] = {p.kw, p.gw};
    if (!st) st = fv_graph_constant(g, FV_DTYPE_F32, 2, sh, mh, &src[1]);
    if (!st) st = fv_graph_constant(g, FV_DTYPE_F32, 2, sw, mw, &src[2]);
    free(mh);
    free(mw);
    if (st) return st;
    fv_tensor *packed = NULL;
    const int64_t total = (int64_t)((p.off_scratch + scratch_bytes) / 4);
    st = fv_graph_add_node(g, &op_dct2d, src, 3, &p, sizeof p, FV_DTYPE_F32, 1, &total, &packed);
    const int64_t shape[3] = {p.batch, p.kh * p.kw, p.c};
    if (!st) st = fv_graph_view(g, packed, 0, FV_DTYPE_F32, 3, shape, y);
    return st;
}

const char *fv_dct2d_path(fv_context *ctx, int grid_h, int grid_w, int keep_h, int keep_w, int channels)
{
    if (!ctx || fv_context_backend(ctx) == FV_BACKEND_CPU) return "cpu";
    if (grid_h < 1 || grid_w < 1 || keep_h < 1 || keep_w < 1 || keep_h > grid_h || keep_w > grid_w || channels < 1)
        return "matrix";
    fv_node n = {.op = &op_dct2d};
    const dct_params p = {.batch = 1, .gh = grid_h, .gw = grid_w, .kh = keep_h, .kw = keep_w, .c = channels};
    memcpy(n.params, &p, sizeof p);
    return use_vkfft(ctx, &n, &ctx->info) ? "vkfft" : "matrix";
}
