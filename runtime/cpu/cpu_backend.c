/* The CPU backend: host memory and the ops' plain-C references, run in node
 * order. Simple and correct; the oracle the GPU backends are tested against. */
#include "../internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fv_recording {
    fv_node *nodes;
    int count;
    double *ms;
};

static fv_status cpu_init(fv_context *ctx)
{
    fv_device_info *info = &ctx->info;
    info->type = FV_DEVICE_TYPE_CPU;
    snprintf(info->name, sizeof info->name, "CPU (plain C reference)");
    snprintf(info->driver, sizeof info->driver, "fovea %d.%d.%d", FOVEA_VERSION_MAJOR,
             FOVEA_VERSION_MINOR, FOVEA_VERSION_PATCH);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    info->max_alloc_bytes = info->memory_bytes;
    info->max_storage_range = info->memory_bytes;
    info->unified_memory = true;
    info->fp16_arithmetic = info->storage_16bit = info->storage_8bit = true;
    return FV_STATUS_OK;
}

static void cpu_destroy(fv_context *ctx) { (void)ctx; }

static fv_status cpu_buffer_alloc(fv_context *ctx, size_t bytes, fv_buffer **out)
{
    if (ctx->info.memory_bytes && bytes > ctx->info.memory_bytes)
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "cpu: %zu bytes requested; the machine has %llu",
                       bytes, (unsigned long long)ctx->info.memory_bytes);
    fv_buffer *b = calloc(1, sizeof *b);
    /* 64-byte alignment for vector loads; round up to keep aligned_alloc happy */
    void *p = b ? aligned_alloc(64, FV_ALIGN_UP(bytes ? bytes : 1, 64)) : NULL;
    if (!p) {
        free(b);
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "cpu: cannot allocate %zu bytes", bytes);
    }
    b->host = p;
    b->size = bytes;
    *out = b;
    return FV_STATUS_OK;
}

static void cpu_buffer_free(fv_context *ctx, fv_buffer *b)
{
    (void)ctx;
    if (!b) return;
    free(b->host);
    free(b);
}

static fv_status cpu_buffer_write(fv_context *ctx, fv_buffer *b, size_t off, const void *src, size_t n)
{
    (void)ctx;
    memcpy((char *)b->host + off, src, n);
    return FV_STATUS_OK;
}

static fv_status cpu_buffer_read(fv_context *ctx, fv_buffer *b, size_t off, void *dst, size_t n)
{
    (void)ctx;
    memcpy(dst, (const char *)b->host + off, n);
    return FV_STATUS_OK;
}

static const char *cpu_supports_op(fv_context *ctx, const fv_node *n)
{
    (void)ctx;
    return n->op->cpu ? NULL : "the op has no CPU reference";
}

static fv_status cpu_record(fv_context *ctx, fv_node *nodes, int count, fv_recording **out)
{
    fv_recording *r = calloc(1, sizeof *r);
    double *ms = calloc((size_t)count + 1, sizeof *ms);
    if (!r || !ms) {
        free(r);
        free(ms);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "cpu: out of host memory");
    }
    r->nodes = nodes;
    r->count = count;
    r->ms = ms;
    for (int i = 0; i < count; i++) nodes[i].kernel = "c";
    *out = r;
    return FV_STATUS_OK;
}

static fv_status cpu_replay(fv_context *ctx, fv_recording *r, const int32_t *params)
{
    for (int i = 0; i < r->count; i++) {
        double t0 = ctx->profile ? fv_time_ms() : 0;
        fv_status st = r->nodes[i].op->cpu(&r->nodes[i], params);
        if (st) return fv_fail(ctx, st, "cpu: %s (node %d) failed", r->nodes[i].op->name, i);
        if (ctx->profile) r->ms[i] = fv_time_ms() - t0;
    }
    return FV_STATUS_OK;
}

static void cpu_release(fv_context *ctx, fv_recording *r)
{
    (void)ctx;
    if (!r) return;
    free(r->ms);
    free(r);
}

static int cpu_timings(fv_context *ctx, fv_recording *r, double *ms, int cap)
{
    (void)ctx;
    int n = FV_MIN(cap, r->count);
    memcpy(ms, r->ms, (size_t)n * sizeof *ms);
    return n;
}

static fv_status cpu_list_devices(fv_device_info *infos, int cap, int *count, char *err, size_t es)
{
    (void)err, (void)es;
    *count = 1;
    if (cap > 0) {
        fv_context tmp;
        memset(&tmp, 0, sizeof tmp);
        cpu_init(&tmp);
        infos[0] = tmp.info;
        infos[0].backend = FV_BACKEND_CPU;
    }
    return FV_STATUS_OK;
}

const fv_backend_vtbl fv_cpu_backend = {
    .type = FV_BACKEND_CPU,
    .init = cpu_init,
    .destroy = cpu_destroy,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .buffer_write = cpu_buffer_write,
    .buffer_read = cpu_buffer_read,
    .supports_op = cpu_supports_op,
    .record = cpu_record,
    .replay = cpu_replay,
    .release = cpu_release,
    .timings = cpu_timings,
    .list_devices = cpu_list_devices,
};
