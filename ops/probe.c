/* Device ceilings: probe graphs that measure a device's peak fp32 FMA rate,
 * its read bandwidth through the fastest path it has, and what one more
 * dispatch costs inside a replayed graph (fv_context_measure_ceilings).
 *
 * The probes are ordinary graph nodes with internal op definitions, so they
 * run through exactly the machinery the real ops use: record once, replay,
 * time the replay's wall clock (submit + wait). The kernels are in
 * shaders/probe.comp; the plain-C versions below are what the CPU backend
 * runs, on one thread like every CPU-backend op. */
#include "op_common.h"

#include <stdlib.h>

#define PROBE_ITERS_SLOT 0
#define PROBE_MUL 0.999f /* |c·mul + add| stays bounded: no overflow, no denormals */
#define PROBE_ADD 0.001f
/* 8× the last-level cache of the CPUs we run on and 5× an H100's L2: reads
 * come from memory, not from a cache that a 64 MiB buffer might partly fit */
#define PROBE_READ_BYTES ((size_t)256 << 20)
#define PROBE_STEP_ELEMS 64
#define PROBE_STEPS 256     /* dependent dispatches in the overhead graph */
#define PROBE_REPS 9        /* timed replays per figure; the fastest is kept */
#define PROBE_TARGET_MS 10.0 /* per FMA replay: long enough to hide submit, short enough
                                to find the quiet moments of a shared machine */

/* How the read probe reads its input. */
typedef enum probe_read_path {
    PROBE_READ_HOST,    /* CPU backend: a plain C loop */
    PROBE_READ_STORAGE, /* vec4 storage buffer */
    PROBE_READ_TEXEL,   /* vec4 uniform texel buffer (Vulkan) */
} probe_read_path;

static const char *const read_path_names[] = {"host", "storage-vec4", "texel-f32x4"};

typedef struct probe_params {
    uint32_t lanes;      /* fma, read: invocations per dispatch */
    uint32_t path;       /* read: a probe_read_path */
    uint32_t team;       /* read: lanes that walk one contiguous block together */
    uint64_t chunk;      /* read: bytes bound per dispatch */
} probe_params;

/* ---- peak FMA ---------------------------------------------------------- */

static fv_status fma_cpu(const fv_node *n, const int32_t *params)
{
    const probe_params *p = (const probe_params *)n->params;
    int32_t iters = params[PROBE_ITERS_SLOT];
    float *y = fv_tensor_host(n->dst);
    for (uint32_t i = 0; i < p->lanes; i++) {
        /* 8 chains × 4 lanes, as in the kernel; the compiler vectorises the lanes */
        float c[8][4];
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 4; l++) c[j][l] = (float)(i & 1023u) / 1024.0f + 0.25f * (float)l + (float)j;
        for (int32_t k = 0; k < iters; k++)
            for (int j = 0; j < 8; j++)
                for (int l = 0; l < 4; l++) c[j][l] = c[j][l] * PROBE_MUL + PROBE_ADD;
        float t = 0;
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 4; l++) t += c[j][l];
        y[i] = t;
    }
    return FV_STATUS_OK;
}

static fv_status fma_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    const probe_params *p = (const probe_params *)n->params;
    fv_pc_probe pc = {.n = p->lanes, .team = 1, .iters_slot = PROBE_ITERS_SLOT, .mul = PROBE_MUL, .add = PROBE_ADD};
    fv_dispatch *d = fv_dispatch_push(out, "probe_fma");
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_dispatch_size_1d(d, p->lanes, 64);
    return FV_STATUS_OK;
}

static const fv_op_def op_probe_fma = {"probe_fma", fma_cpu, fma_encode, NULL};

/* ---- read bandwidth ---------------------------------------------------- */

static fv_status read_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const probe_params *p = (const probe_params *)n->params;
    const float *x = fv_tensor_host(n->src[0]);
    float *y = fv_tensor_host(n->dst);
    /* each lane sums one contiguous slice; 16 accumulators keep the adds
     * independent so the loop is bound by loads, not by add latency */
    size_t count = n->src[0]->nbytes / sizeof(float), slice = count / p->lanes;
    for (uint32_t lane = 0; lane < p->lanes; lane++) {
        const float *s = x + (size_t)lane * slice;
        float acc[16] = {0};
        for (size_t j = 0; j + 16 <= slice; j += 16)
            for (int l = 0; l < 16; l++) acc[l] += s[j + l];
        float t = 0;
        for (int l = 0; l < 16; l++) t += acc[l];
        y[lane] = t;
    }
    return FV_STATUS_OK;
}

/* One dispatch per chunk of the input; each writes its own slice of y, so
 * no barrier separates them. */
static fv_status read_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    const probe_params *p = (const probe_params *)n->params;
    const fv_tensor *x = n->src[0];
    const char *kernel = p->path == PROBE_READ_TEXEL ? "probe_read_texel" : "probe_read_storage";
    fv_bind_kind kind = p->path == PROBE_READ_TEXEL ? FV_BIND_TEXEL_F32X4 : FV_BIND_STORAGE;
    size_t lane_bytes = p->lanes * sizeof(float);
    for (size_t off = 0, k = 0; off < x->nbytes; off += p->chunk, k++) {
        size_t size = FV_MIN((size_t)p->chunk, x->nbytes - off);
        fv_pc_probe pc = {.n = p->lanes, .count = (uint32_t)(size / 16), .team = p->team};
        fv_dispatch *d = fv_dispatch_push(out, kernel);
        if (!d) return fv_fail(x->ctx, FV_STATUS_INVALID_ARGUMENT, "probe_read: too many chunks");
        fv_dispatch_bind_range(d, x, off, size, kind, false);
        fv_dispatch_bind_range(d, n->dst, k * lane_bytes, lane_bytes, FV_BIND_STORAGE, true);
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, p->lanes, 64);
    }
    return FV_STATUS_OK;
}

static const fv_op_def op_probe_read = {"probe_read", read_cpu, read_encode, NULL};

/* ---- per-dispatch overhead --------------------------------------------- */

static fv_status step_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const float *x = fv_tensor_host(n->src[0]);
    float *y = fv_tensor_host(n->dst);
    int64_t count = fv_tensor_numel(n->dst);
    for (int64_t i = 0; i < count; i++) y[i] = x[i] + 1.0f;
    return FV_STATUS_OK;
}

static fv_status step_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    fv_pc_probe pc = {.n = (uint32_t)fv_tensor_numel(n->dst), .team = 1};
    fv_dispatch *d = fv_dispatch_push(out, "probe_step");
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_dispatch_size_1d(d, pc.n, 64);
    return FV_STATUS_OK;
}

static const fv_op_def op_probe_step = {"probe_step", step_cpu, step_encode, NULL};

/* ---- measurement ------------------------------------------------------- */

/* One untimed replay (it records, compiles pipelines and warms caches),
 * then the fastest of `reps` replays in milliseconds. A ceiling is what the
 * device can reach, and other work on a shared machine only slows a replay
 * down, so the fastest is the figure (fovea-bench states ops by medians). */
static fv_status replay_fastest(fv_graph *g, int reps, double *ms)
{
    fv_status st = fv_graph_replay(g);
    for (int i = 0; i < reps && !st; i++) {
        st = fv_graph_replay(g);
        double t = fv_graph_last_replay_ms(g);
        if (i == 0 || t < *ms) *ms = t;
    }
    return st;
}

static fv_status measure_fma(fv_context *ctx, double *gflops)
{
    /* enough invocations to fill a large GPU; a CPU-type device needs far
     * fewer, and the CPU backend runs them one after another */
    uint32_t lanes = ctx->type == FV_BACKEND_CPU ? 64
                     : ctx->info.type == FV_DEVICE_TYPE_CPU ? (1u << 14) : (1u << 20);
    probe_params p = {.lanes = lanes};
    int64_t shape[1] = {lanes};
    fv_graph *g = NULL;
    fv_tensor *y;
    fv_status st = fv_graph_create(ctx, &g);
    if (!st) st = fv_graph_add_node(g, &op_probe_fma, NULL, 0, &p, sizeof p, FV_DTYPE_F32, 1, shape, &y);
    if (!st) st = fv_graph_output(g, y);
    /* scale the iteration count until one replay takes about the target
     * time, so submit overhead is a small part of what is timed */
    int32_t iters = 16;
    double ms = 0;
    if (!st) st = fv_graph_set_param(g, PROBE_ITERS_SLOT, iters);
    if (!st) st = replay_fastest(g, 1, &ms);
    while (!st && ms < 0.5 * PROBE_TARGET_MS && iters < (1 << 24)) {
        double grow = ms > 0 ? PROBE_TARGET_MS / ms : 16.0;
        iters = (int32_t)FV_MIN((double)(1 << 24), iters * FV_MIN(grow, 16.0));
        st = fv_graph_set_param(g, PROBE_ITERS_SLOT, iters);
        if (!st) st = replay_fastest(g, 1, &ms);
    }
    if (!st) st = replay_fastest(g, PROBE_REPS, &ms);
    if (!st) *gflops = (double)lanes * (double)iters * 64.0 / (ms * 1e6);
    fv_graph_destroy(g);
    return st;
}

static fv_status measure_read_path(fv_context *ctx, fv_tensor *x, probe_read_path path, double *gbps)
{
    /* GPUs: enough lanes to fill the device, reading side by side (one
     * team: a grid stride). CPU-type devices: each subgroup streams through
     * a block of its own (see probe.comp; on llvmpipe 18 GB/s against 7 for
     * a grid stride), 2048 lanes giving both of llvmpipe's threads plenty of
     * workgroups to share. PoCL has no subgroups: a team is one work-item. */
    bool cpu_type = ctx->info.type == FV_DEVICE_TYPE_CPU;
    uint32_t lanes = path == PROBE_READ_HOST ? 64 : cpu_type ? 2048 : (1u << 18);
    uint32_t team = cpu_type ? FV_MAX(ctx->info.subgroup_size, 1u) : lanes;
    if (lanes % team) team = lanes;
    uint64_t limit = path == PROBE_READ_TEXEL ? ctx->info.max_texel_elements * 16
                     : path == PROBE_READ_HOST ? x->nbytes
                                               : ctx->info.max_storage_range;
    size_t chunk = (size_t)FV_MIN((uint64_t)x->nbytes, limit);
    chunk -= chunk % ((size_t)lanes * 64); /* whole blocks per lane; whole 16-byte elements */
    if (chunk == 0)
        return fv_fail(ctx, FV_STATUS_UNSUPPORTED, "probe_read: the device's bindings are too small");
    size_t nchunks = (x->nbytes + chunk - 1) / chunk;
    if (nchunks > FV_MAX_DISPATCHES_PER_NODE)
        return fv_fail(ctx, FV_STATUS_UNSUPPORTED, "probe_read: bindings of %zu bytes are too small", chunk);
    probe_params p = {.lanes = lanes, .path = (uint32_t)path, .team = team, .chunk = chunk};
    int64_t shape[1] = {(int64_t)(lanes * nchunks)};
    fv_graph *g = NULL;
    fv_tensor *y;
    double ms = 0;
    fv_status st = fv_graph_create(ctx, &g);
    if (!st) st = fv_graph_add_node(g, &op_probe_read, &x, 1, &p, sizeof p, FV_DTYPE_F32, 1, shape, &y);
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = replay_fastest(g, PROBE_REPS, &ms);
    if (!st) *gbps = (double)x->nbytes / (ms * 1e6);
    fv_graph_destroy(g);
    return st;
}

static fv_status measure_read(fv_context *ctx, fv_device_ceilings *out)
{
    int64_t shape[1] = {(int64_t)(PROBE_READ_BYTES / sizeof(float))};
    fv_tensor *x = NULL;
    fv_status st = fv_tensor_create(ctx, FV_DTYPE_F32, 1, shape, &x);
    if (st) return st;
    /* small, normal values: the sums neither overflow nor go denormal */
    float *host = malloc(PROBE_READ_BYTES);
    if (!host) {
        fv_tensor_destroy(x);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "measure ceilings: out of host memory");
    }
    for (size_t i = 0; i < PROBE_READ_BYTES / sizeof(float); i++) host[i] = (float)(i % 7) * 0.125f;
    st = fv_tensor_upload(x, host, PROBE_READ_BYTES);
    free(host);
    /* the fastest path each kind of device has: uniform texel buffers on
     * CPU-type Vulkan devices (storage buffers are measured too, and the
     * faster one is the ceiling), storage buffers on GPUs and on OpenCL,
     * plain C on the CPU backend. */
    probe_read_path paths[2];
    int npaths = 0;
    bool texel_views = ctx->type == FV_BACKEND_VULKAN && ctx->info.type == FV_DEVICE_TYPE_CPU &&
                       ctx->info.max_texel_elements * 16 * FV_MAX_DISPATCHES_PER_NODE >= PROBE_READ_BYTES;
    if (ctx->type == FV_BACKEND_CPU) {
        paths[npaths++] = PROBE_READ_HOST;
    } else {
        if (texel_views) paths[npaths++] = PROBE_READ_TEXEL;
        paths[npaths++] = PROBE_READ_STORAGE;
    }
    for (int i = 0; i < npaths && !st; i++) {
        double gbps = 0;
        st = measure_read_path(ctx, x, paths[i], &gbps);
        if (!st && gbps > out->read_gbps) {
            out->read_gbps = gbps;
            snprintf(out->read_path, sizeof out->read_path, "%s", read_path_names[paths[i]]);
        }
    }
    fv_tensor_destroy(x);
    return st;
}

/* A chain of dependent tiny dispatches against a single one: the slope is
 * what each further dispatch (with its barrier) costs. */
static fv_status replay_steps(fv_context *ctx, fv_tensor *x, int steps, double *ms)
{
    probe_params p = {0};
    int64_t shape[1] = {PROBE_STEP_ELEMS};
    fv_graph *g = NULL;
    fv_tensor *t = x;
    fv_status st = fv_graph_create(ctx, &g);
    for (int i = 0; i < steps && !st; i++)
        st = fv_graph_add_node(g, &op_probe_step, &t, 1, &p, sizeof p, FV_DTYPE_F32, 1, shape, &t);
    if (!st) st = fv_graph_output(g, t);
    if (!st) st = replay_fastest(g, PROBE_REPS, ms);
    fv_graph_destroy(g);
    return st;
}

static fv_status measure_dispatch(fv_context *ctx, fv_device_ceilings *out)
{
    int64_t shape[1] = {PROBE_STEP_ELEMS};
    float host[PROBE_STEP_ELEMS];
    for (int i = 0; i < PROBE_STEP_ELEMS; i++) host[i] = (float)i;
    fv_tensor *x = NULL;
    fv_status st = fv_tensor_create(ctx, FV_DTYPE_F32, 1, shape, &x);
    if (!st) st = fv_tensor_upload(x, host, sizeof host);
    double one = 0, many = 0;
    if (!st) st = replay_steps(ctx, x, 1, &one);
    if (!st) st = replay_steps(ctx, x, 1 + PROBE_STEPS, &many);
    if (!st) {
        out->replay_us = one * 1e3;
        out->dispatch_us = FV_MAX(0.0, (many - one) * 1e3 / PROBE_STEPS);
    }
    fv_tensor_destroy(x);
    return st;
}

fv_status fv_context_measure_ceilings(fv_context *ctx, fv_device_ceilings *out)
{
    if (!ctx || !out) return FV_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    fv_status st = measure_fma(ctx, &out->fma_gflops);
    if (!st) st = measure_read(ctx, out);
    if (!st) st = measure_dispatch(ctx, out);
    return st;
}
