/* cache_write: x [B, N, Hkv, D] into a KV cache [B, Ncap, Hkv, D] at a
 * position known at replay time, in place (fv_graph_add_node_inplace: the
 * node's dst is the cache itself). Semantics: fovea.h, fv_op_cache_write.
 * The kernels copy 32-bit words as raw bits, so i32 works as f32 does (a
 * token history for the sampler's repetition penalty).
 *
 * Kernels: cache_write_b32 / cache_write_b32x4 (Vulkan; x4 when a row is a
 * multiple of 4 words) and cache_write_cl (OpenCL), one work item per unit
 * of x, a unit being 1 or 4 words. The rows of x land in cache rows that
 * depend on the position, so a Vulkan dispatch cannot bind just those: a
 * cache larger than one storage binding is bound in ranges of whole rows,
 * one dispatch per range, and each dispatch writes only the x rows that land
 * in its range (reading all of x, which is small next to the cache). */
#include "op_common.h"

typedef struct cache_write_params {
    int64_t batch, ntok, cap, row; /* row: words per token (Hkv·D) */
    int32_t pos0, pos_param;       /* slot + 1, or 0 */
} cache_write_params;

static fv_status cache_write_cpu(const fv_node *n, const int32_t *params)
{
    const cache_write_params *p = (const cache_write_params *)n->params;
    const uint32_t *x = fv_tensor_host(n->src[0]); /* f32 or i32: 32-bit words */
    uint32_t *cache = fv_tensor_host(n->dst);
    const int64_t pos = p->pos_param ? params[p->pos_param - 1] : p->pos0;
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t t = 0; t < p->ntok; t++) {
            const int64_t slot = pos + t;
            if (slot < 0 || slot >= p->cap) continue; /* out of range: skipped */
            memcpy(cache + (b * p->cap + slot) * p->row, x + (b * p->ntok + t) * p->row,
                   (size_t)p->row * sizeof *cache);
        }
    return FV_STATUS_OK;
}

/* Cache rows per Vulkan dispatch: as many as one storage binding holds,
 * rounded down so that every range starts at a multiple of 256 bytes (the
 * largest offset alignment a device may require). 0 if not even one fits. */
static int64_t rows_per_binding(const cache_write_params *p, const fv_device_info *dev)
{
    const int64_t row_bytes = p->row * 4, total = p->batch * p->cap;
    if ((uint64_t)(total * row_bytes) <= dev->max_storage_range) return total;
    int64_t step = 1; /* rows whose bytes are a multiple of 256 */
    while ((step * row_bytes) % 256) step++;
    return ((int64_t)(dev->max_storage_range / (uint64_t)row_bytes) / step) * step;
}

static fv_status cache_write_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const cache_write_params *p = (const cache_write_params *)n->params;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    const uint32_t width = !cl && p->row % 4 == 0 ? 4u : 1u;
    fv_pc_cache_write pc = {.n = (uint32_t)(p->batch * p->ntok * p->row / width),
                            .row_units = (uint32_t)(p->row / width),
                            .ntok = (uint32_t)p->ntok,
                            .cap = (uint32_t)p->cap,
                            .pos0 = p->pos0,
                            .pos_slot = p->pos_param};
    const int64_t total = p->batch * p->cap;
    /* OpenCL binds whole buffers: one range */
    const int64_t per = cl ? total : rows_per_binding(p, dev);
    if (per <= 0) return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "cache_write: a cache row exceeds one binding");
    for (int64_t r0 = 0; r0 < total; r0 += per) {
        const int64_t rows = FV_MIN(per, total - r0);
        const char *kernel = cl ? "cache_write_cl" : width == 4 ? "cache_write_b32x4" : "cache_write_b32";
        fv_dispatch *d = fv_dispatch_push(out, kernel);
        if (!d) return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "cache_write: the cache needs too many bindings");
        pc.row0 = (uint32_t)r0;
        pc.rows = (uint32_t)rows;
        fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
        fv_dispatch_bind_range(d, n->dst, (size_t)(r0 * p->row * 4), (size_t)(rows * p->row * 4), FV_BIND_STORAGE,
                               true);
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, pc.n, 64);
    }
    return FV_STATUS_OK;
}

static const char *cache_write_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const cache_write_params *p = (const cache_write_params *)n->params;
    if (dev->backend == FV_BACKEND_OPENCL) return NULL;
    if (n->src[0]->nbytes > dev->max_storage_range) return "x is larger than one storage binding";
    const int64_t per = rows_per_binding(p, dev);
    if (per <= 0 || (p->batch * p->cap + per - 1) / per > FV_MAX_DISPATCHES_PER_NODE)
        return "the cache needs more storage bindings than one node may use";
    return NULL;
}

static const fv_op_def op_cache_write = {"cache_write", cache_write_cpu, cache_write_encode, cache_write_unsupported};

fv_status fv_op_cache_write(fv_graph *g, fv_tensor *cache, fv_tensor *x, int pos, int pos_param, fv_tensor **view)
{
    if (!g || !view) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "cache_write", "cache", cache);
    FV_OP_CHECK_INPUT(g, "cache_write", "x", x);
    fv_context *ctx = fv_graph_context(g);
    char sc[96], sx[96];
    fv_shape_str(cache, sc, sizeof sc);
    fv_shape_str(x, sx, sizeof sx);
    if ((cache->dtype != FV_DTYPE_F32 && cache->dtype != FV_DTYPE_I32) || x->dtype != cache->dtype)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "cache_write: cache %s (%s) and x %s (%s) must both be f32 or i32", sc,
                       fv_dtype_name(cache->dtype), sx, fv_dtype_name(x->dtype));
    if (cache->ndim != 4 || x->ndim != 4 || cache->shape[0] != x->shape[0] || cache->shape[2] != x->shape[2] ||
        cache->shape[3] != x->shape[3])
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "cache_write: cache %s and x %s must be [B, Ncap, Hkv, D] and [B, N, Hkv, D]", sc, sx);
    if (pos_param < 0 || pos_param > FV_GRAPH_PARAM_SLOTS)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "cache_write: pos_param %d must be a slot + 1 in 1..%d, or 0",
                       pos_param, FV_GRAPH_PARAM_SLOTS);
    /* the kernels index with 32-bit integers */
    if (fv_tensor_numel(cache) > INT32_MAX || fv_tensor_numel(x) > INT32_MAX)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "cache_write: cache %s or x %s is too large", sc, sx);
    cache_write_params p = {.batch = x->shape[0],
                            .ntok = x->shape[1],
                            .cap = cache->shape[1],
                            .row = x->shape[2] * x->shape[3],
                            .pos0 = pos,
                            .pos_param = pos_param};
    return fv_graph_add_node_inplace(g, &op_cache_write, &x, 1, &p, sizeof p, cache, view);
}
