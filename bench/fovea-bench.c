/* fovea-bench: op benchmarks on every backend present, in one run, each
 * stated as an absolute rate and as a fraction of two ceilings — the
 * device's own (measured by its probe kernels) and the host's physical
 * limits (OpenBLAS SGEMM, STREAM copy). A roofline view: how far is each op
 * from what this device, and this machine, can do at all?
 *
 * usage: fovea-bench [--quick] [--backend SPEC[,SPEC]] [--ops LIST] [--json [FILE]]
 *                    [--threads N] [--validation]
 *   SPEC: cpu, vulkan, vulkan:1, vulkan:llvmpipe, opencl (as FOVEA_DEVICE); default: all
 *   LIST: matmul,matvec,softmax,layernorm,dispatch,encoder,lm,compress, or all, or none;
 *         default: all but encoder (a whole ViT forward pass, bench_encoder.c)
 *         and lm (a SmolLM2-135M-shaped decoder, bench_lm.c)
 *
 * Each figure is the median wall time of fv_graph_replay (submit + wait)
 * over several replays after one untimed replay. Uses the public API only. */
#include "fovea/fovea.h"
#include "host_limits.h"
/* -- vision -- */
#include "bench_encoder.h"
#include "bench_lm.h"
#include "bench_compress.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OP_MATMUL, OP_MATVEC, OP_SOFTMAX, OP_LAYERNORM, OP_DISPATCH, OP_ENCODER, OP_LM, OP_COMPRESS, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"matmul", "matvec", "softmax", "layernorm", "dispatch", "encoder",
                                                "lm", "compress"};
/* what runs without --ops: all but the (slow) encoder, language-model and compression sections */
#define OPS_DEFAULT (((1u << OP_COUNT) - 1) & ~(1u << OP_ENCODER) & ~(1u << OP_LM) & ~(1u << OP_COMPRESS))

#define MAX_SPECS 8
#define MAX_REPS 10
#define CPU_MATMUL_MAX 1024 /* the CPU backend is the plain-C reference, not a speed target */
#define DISPATCH_CHAIN 256

typedef struct options {
    bool quick;
    bool validation;
    bool json;
    const char *json_path; /* NULL or "-": stdout */
    unsigned ops;          /* bit per OP_* */
    const char *specs[MAX_SPECS];
    int nspecs;
    int threads;
} options;

typedef struct result {
    const char *op;
    const char *dtype;
    char shape[48];
    const char *unit;
    bool ok;
    char note[320];  /* why it did not run */
    double ms;       /* median replay wall time */
    int reps;
    double rate;     /* in unit */
    double of_device;/* fraction of the device ceiling; 0 where none */
    double of_host;  /* fraction of the host limit; 0 where none */
} result;

typedef struct device_run {
    fv_backend_type backend;
    int index;
    fv_device_info info;
    bool available;
    char reason[512];
    bool have_ceilings;
    fv_device_ceilings ceil;
    result *results;
    int nresults, cap;
    int validation_messages;
} device_run;

/* ---- small helpers -------------------------------------------------------- */

static FILE *table_out; /* stdout, or stderr when the JSON goes to stdout */

static void progress(const char *fmt, ...)
{
    if (!isatty(STDERR_FILENO)) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\r\033[K");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void progress_done(void)
{
    if (isatty(STDERR_FILENO)) fprintf(stderr, "\r\033[K");
}

/* Library log: validation messages are counted (and fail the run); other
 * errors are reported through the result table; warnings pass through. */
static void on_log(fv_log_level level, const char *msg, void *user)
{
    device_run *r = user;
    if (strstr(msg, "validation")) {
        r->validation_messages++;
        fprintf(stderr, "%s\n", msg);
    } else if (level == FV_LOG_WARN) {
        fprintf(stderr, "%s\n", msg);
    }
}

static uint32_t rng_state = 0x2545F491u;
static float rng_uniform(void) /* xorshift32, in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

/* IEEE half from float, round to nearest even; bench data is in [-1, 1] but
 * the conversion is complete anyway. */
static uint16_t to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past the largest half */
    if (mag < 0x38800000u) {                                  /* subnormal half or zero */
        if (mag < 0x33000000u) return (uint16_t)sign;
        /* value = m·2^(e-150); in units of the smallest half, 2^-24 */
        uint32_t m = (mag & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(mag >> 23);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((mag - 0x38000000u) >> 13), rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* A tensor filled with uniform [-1, 1) values (as f16 for f16 tensors), or
 * for q8_0 / q4_0 with blocks of a random f16 scale below 0.01 and random
 * bytes. */
static fv_status random_tensor(fv_context *ctx, fv_dtype dtype, int64_t rows, int64_t cols, fv_tensor **out)
{
    int64_t shape[2] = {rows, cols};
    int ndim = rows > 0 ? 2 : 1;
    fv_status st = fv_tensor_create(ctx, dtype, ndim, ndim == 2 ? shape : shape + 1, out);
    if (st) return st;
    size_t n = (size_t)(rows > 0 ? rows : 1) * (size_t)cols;
    size_t bytes = fv_tensor_nbytes(*out);
    void *host = malloc(bytes);
    if (!host) return FV_STATUS_OUT_OF_HOST_MEMORY;
    if (fv_dtype_block_size(dtype) > 1) { /* q8_0 / q4_0 blocks: the f16 scale, then the values */
        uint8_t *blocks = host;
        const size_t bs = fv_dtype_block_bytes(dtype);
        for (size_t b = 0; b < bytes; b += bs) {
            uint16_t d = to_f16(0.01f * rng_uniform());
            memcpy(blocks + b, &d, 2);
            for (size_t j = 2; j < bs; j++) blocks[b + j] = (uint8_t)(rng_uniform() * 128.0f + 128.0f);
        }
    }
    for (size_t i = 0; fv_dtype_block_size(dtype) == 1 && i < n; i++) {
        float v = rng_uniform();
        if (dtype == FV_DTYPE_F16) ((uint16_t *)host)[i] = to_f16(v);
        else ((float *)host)[i] = v;
    }
    st = fv_tensor_upload(*out, host, bytes);
    free(host);
    return st;
}

/* One untimed replay (records, compiles pipelines, touches memory), then
 * up to max_reps timed replays within about budget_ms; median wall time. */
static fv_status time_graph(fv_graph *g, const options *o, double *ms, int *reps)
{
    int max_reps = o->quick ? 3 : MAX_REPS;
    double budget_ms = o->quick ? 300.0 : 2000.0, spent = 0, t[MAX_REPS];
    fv_status st = fv_graph_replay(g);
    int n = 0;
    while (!st && n < max_reps && (n == 0 || spent < budget_ms)) {
        st = fv_graph_replay(g);
        t[n] = fv_graph_last_replay_ms(g);
        spent += t[n++];
    }
    if (st) return st;
    *reps = n;
    *ms = bench_median(t, n);
    return FV_STATUS_OK;
}

static result *new_result(device_run *r, const char *op, const char *dtype, const char *unit)
{
    if (r->nresults == r->cap) {
        int cap = r->cap ? 2 * r->cap : 32;
        result *grown = realloc(r->results, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        r->results = grown;
        r->cap = cap;
    }
    result *res = &r->results[r->nresults++];
    memset(res, 0, sizeof *res);
    res->op = op;
    res->dtype = dtype;
    res->unit = unit;
    return res;
}

/* The context's message already starts with the status name. */
static void unavailable(result *res, fv_context *ctx, fv_status st)
{
    const char *msg = fv_context_last_error(ctx);
    snprintf(res->note, sizeof res->note, "unavailable: %s", msg[0] ? msg : fv_status_name(st));
}

/* ---- the op cases --------------------------------------------------------- */

/* Y[m, n] = X[m, k]·W[n, k]ᵀ. m = 1 is the matrix-vector (decode) case,
 * reported as bandwidth of W; otherwise as GFLOP/s. */
static void bench_matmul(fv_context *ctx, device_run *r, const options *o, const host_limits *h, int64_t m,
                         int64_t n, int64_t k, fv_dtype wt)
{
    bool matvec = m == 1;
    result *res = new_result(r, matvec ? "matvec" : "matmul", fv_dtype_name(wt), matvec ? "GB/s" : "GFLOP/s");
    if (!res) return;
    if (matvec)
        snprintf(res->shape, sizeof res->shape, "1x%lldx%lld", (long long)n, (long long)k);
    else
        snprintf(res->shape, sizeof res->shape, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
    if (!matvec && r->backend == FV_BACKEND_CPU && (m > CPU_MATMUL_MAX || n > CPU_MATMUL_MAX)) {
        snprintf(res->note, sizeof res->note, "skipped: the CPU backend is the reference (sizes up to %d)",
                 CPU_MATMUL_MAX);
        return;
    }
    progress("%s: %s %s %s", fv_backend_name(r->backend), res->op, res->dtype, res->shape);
    fv_tensor *x = NULL, *w = NULL, *y = NULL;
    fv_graph *g = NULL;
    fv_status st = random_tensor(ctx, FV_DTYPE_F32, m, k, &x);
    if (!st) st = random_tensor(ctx, wt, n, k, &w);
    if (!st) st = fv_graph_create(ctx, &g);
    if (!st) st = fv_op_matmul(g, x, w, NULL, &y);
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = time_graph(g, o, &res->ms, &res->reps);
    if (st) {
        unavailable(res, ctx, st);
    } else if (matvec) {
        res->ok = true;
        res->rate = (double)fv_tensor_nbytes(w) / (res->ms * 1e6);
        if (r->have_ceilings) res->of_device = res->rate / r->ceil.read_gbps;
        if (h->copy_gbps > 0) res->of_host = res->rate / h->copy_gbps;
    } else {
        res->ok = true;
        res->rate = 2.0 * (double)m * (double)n * (double)k / (res->ms * 1e6);
        if (r->have_ceilings) res->of_device = res->rate / r->ceil.fma_gflops;
        if (h->sgemm_best_gflops > 0) res->of_host = res->rate / h->sgemm_best_gflops;
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    fv_tensor_destroy(w);
}

/* Row softmax or layernorm of [rows, cols] f32, as bytes read + written. */
static void bench_rows(fv_context *ctx, device_run *r, const options *o, const host_limits *h, int op,
                       int64_t rows, int64_t cols)
{
    result *res = new_result(r, op_names[op], "f32", "GB/s");
    if (!res) return;
    snprintf(res->shape, sizeof res->shape, "%lldx%lld", (long long)rows, (long long)cols);
    progress("%s: %s %s", fv_backend_name(r->backend), res->op, res->shape);
    fv_tensor *x = NULL, *wt = NULL, *b = NULL, *y = NULL;
    fv_graph *g = NULL;
    fv_status st = random_tensor(ctx, FV_DTYPE_F32, rows, cols, &x);
    if (!st && op == OP_LAYERNORM) st = random_tensor(ctx, FV_DTYPE_F32, 0, cols, &wt);
    if (!st && op == OP_LAYERNORM) st = random_tensor(ctx, FV_DTYPE_F32, 0, cols, &b);
    if (!st) st = fv_graph_create(ctx, &g);
    if (!st && op == OP_SOFTMAX) {
        fv_softmax_desc d = {0};
        st = fv_op_softmax(g, x, &d, &y);
    } else if (!st) {
        st = fv_op_layernorm(g, x, wt, b, 1e-5f, &y);
    }
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = time_graph(g, o, &res->ms, &res->reps);
    if (st) {
        unavailable(res, ctx, st);
    } else {
        res->ok = true;
        res->rate = 2.0 * (double)fv_tensor_nbytes(x) / (res->ms * 1e6);
        if (r->have_ceilings) res->of_device = res->rate / r->ceil.read_gbps;
        if (h->copy_gbps > 0) res->of_host = res->rate / h->copy_gbps;
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    fv_tensor_destroy(wt);
    fv_tensor_destroy(b);
}

/* Replays of a chain of `len` dependent adds over 64 floats. */
static fv_status time_add_chain(fv_context *ctx, const options *o, fv_tensor *a, int len, double *ms, int *reps)
{
    fv_graph *g = NULL;
    fv_tensor *y = a;
    fv_status st = fv_graph_create(ctx, &g);
    for (int i = 0; i < len && !st; i++) st = fv_op_add(g, y, a, &y);
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = time_graph(g, o, ms, reps);
    fv_graph_destroy(g);
    return st;
}

/* What one more dependent op costs in a replayed graph, through a real op
 * (add) rather than the probe; its "of device" fraction is probe / this. */
static void bench_dispatch(fv_context *ctx, device_run *r, const options *o)
{
    result *res = new_result(r, "dispatch", "f32", "us/op");
    if (!res) return;
    snprintf(res->shape, sizeof res->shape, "chain of %d adds", DISPATCH_CHAIN);
    progress("%s: dispatch", fv_backend_name(r->backend));
    fv_tensor *a = NULL;
    double one = 0, many = 0;
    int reps = 0;
    fv_status st = random_tensor(ctx, FV_DTYPE_F32, 0, 64, &a);
    if (!st) st = time_add_chain(ctx, o, a, 1, &one, &reps);
    if (!st) st = time_add_chain(ctx, o, a, 1 + DISPATCH_CHAIN, &many, &res->reps);
    if (st) {
        unavailable(res, ctx, st);
    } else {
        res->ok = true;
        res->ms = many;
        res->rate = (many - one) * 1e3 / DISPATCH_CHAIN;
        if (res->rate < 0) res->rate = 0;
        if (r->have_ceilings && res->rate > 0) res->of_device = r->ceil.dispatch_us / res->rate;
    }
    fv_tensor_destroy(a);
}

/* -- vision -- */
/* Appends a section's rows (bench_encoder.c, bench_lm.c,
 * bench_compress.c) to the device's table. */
static void append_rows(device_run *r, const bench_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        result *res = new_result(r, rows[i].op, rows[i].dtype, rows[i].unit);
        if (!res) return;
        snprintf(res->shape, sizeof res->shape, "%s", rows[i].shape);
        snprintf(res->note, sizeof res->note, "%s", rows[i].note);
        res->ok = rows[i].ok;
        res->ms = rows[i].ms;
        res->reps = rows[i].reps;
        res->rate = rows[i].rate;
        res->of_device = rows[i].of_device;
    }
}

/* The encoder section's rows. */
static void bench_encoder_rows(fv_context *ctx, device_run *r, const options *o)
{
    bench_row rows[16];
    progress("%s: encoder", fv_backend_name(r->backend));
    append_rows(r, rows, bench_encoder(ctx, o->quick, r->have_ceilings ? &r->ceil : NULL, FOVEA_TINY_DIR, rows, 16));
}

/* -- language model -- */
/* The language-model section's rows. */
static void bench_lm_rows(fv_context *ctx, device_run *r, const options *o)
{
    bench_row rows[8];
    progress("%s: language model", fv_backend_name(r->backend));
    append_rows(r, rows, bench_lm(ctx, o->quick, r->have_ceilings ? &r->ceil : NULL, rows, 8));
}

/* -- compression -- */
/* The compression section's rows: the encoder's time ("ms") and each
 * method's, its rate column the percentage of the encoder's. */
static void bench_compress_rows(fv_context *ctx, device_run *r, const options *o)
{
    bench_row rows[32];
    progress("%s: compression", fv_backend_name(r->backend));
    append_rows(r, rows, bench_compress(ctx, o->quick, FOVEA_TINY_DIR, rows, 32));
}

static void bench_device(device_run *r, const options *o, const host_limits *h)
{
    fv_context_desc desc = {0};
    desc.backend = r->backend;
    desc.device_index = r->index;
    desc.validation = o->validation;
    desc.log = on_log;
    desc.log_user_data = r;
    desc.log_level = FV_LOG_WARN;
    fv_context *ctx = NULL;
    fv_status st = fv_context_create(&desc, &ctx, r->reason, sizeof r->reason);
    if (st) {
        r->available = false;
        return;
    }
    r->available = true;
    fv_context_device_info(ctx, &r->info);
    progress("%s: measuring the device's ceilings", fv_backend_name(r->backend));
    st = fv_context_measure_ceilings(ctx, &r->ceil);
    if (st)
        snprintf(r->reason, sizeof r->reason, "measuring ceilings failed: %s: %s", fv_status_name(st),
                 fv_context_last_error(ctx));
    r->have_ceilings = st == FV_STATUS_OK;

    if (o->ops & (1u << OP_MATMUL)) {
        static const int64_t full[] = {256, 512, 1024, 2048}, quick[] = {256, 512};
        const int64_t *sizes = o->quick ? quick : full;
        int nsizes = o->quick ? 2 : 4;
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < nsizes; i++)
                bench_matmul(ctx, r, o, h, sizes[i], sizes[i], sizes[i], d ? FV_DTYPE_F16 : FV_DTYPE_F32);
    }
    if (o->ops & (1u << OP_MATVEC)) {
        for (int d = 0; d < 2; d++) bench_matmul(ctx, r, o, h, 1, 4096, 4096, d ? FV_DTYPE_F16 : FV_DTYPE_F32);
        /* -- quantized matmul / matvec (q8_0, q4_0) -- */
        /* decode of SmolLM2-135M (hidden 576, FFN 1536, 9 query / 3 KV heads of
         * 64, vocabulary 49152): its weight shapes N x K, q/o, k/v, gate/up,
         * down and lm_head, with the weights f16 or GGUF-quantised; --quick
         * keeps gate/up and lm_head */
        static const int64_t smol[][2] = {{576, 576}, {192, 576}, {1536, 576}, {576, 1536}, {49152, 576}};
        static const fv_dtype wts[] = {FV_DTYPE_F16, FV_DTYPE_Q8_0, FV_DTYPE_Q4_0};
        for (size_t d = 0; d < sizeof wts / sizeof wts[0]; d++)
            for (size_t i = 0; i < sizeof smol / sizeof smol[0]; i++)
                if (!o->quick || i == 2 || i == 4) bench_matmul(ctx, r, o, h, 1, smol[i][0], smol[i][1], wts[d]);
    }
    int64_t rows = o->quick ? 1024 : 4096;
    if (o->ops & (1u << OP_SOFTMAX)) bench_rows(ctx, r, o, h, OP_SOFTMAX, rows, 4096);
    if (o->ops & (1u << OP_LAYERNORM)) bench_rows(ctx, r, o, h, OP_LAYERNORM, rows, 4096);
    if (o->ops & (1u << OP_DISPATCH)) bench_dispatch(ctx, r, o);
    if (o->ops & (1u << OP_ENCODER)) bench_encoder_rows(ctx, r, o);
    if (o->ops & (1u << OP_LM)) bench_lm_rows(ctx, r, o);
    if (o->ops & (1u << OP_COMPRESS)) bench_compress_rows(ctx, r, o);
    progress_done();
    fv_context_destroy(ctx);
}

/* ---- output --------------------------------------------------------------- */

static const char *device_type_name(fv_device_type t)
{
    switch (t) {
    case FV_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
    case FV_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
    case FV_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
    case FV_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static void print_host(FILE *f, const host_limits *h)
{
    fprintf(f, "host (%d threads):", h->threads);
    if (h->sgemm_best_gflops > 0) {
        fprintf(f, " OpenBLAS SGEMM");
        for (int i = 0; i < HOST_SGEMM_SIZES; i++)
            if (h->sgemm_n[i]) fprintf(f, " %d^3 %.1f", h->sgemm_n[i], h->sgemm_gflops[i]);
        fprintf(f, " GFLOP/s;");
    } else if (h->sgemm_note[0]) {
        fprintf(f, " %s;", h->sgemm_note);
    }
    if (h->copy_gbps > 0)
        fprintf(f, " STREAM copy %.1f, triad %.1f GB/s (%zu MiB arrays, read + write bytes)\n", h->copy_gbps,
                h->triad_gbps, h->stream_array_bytes >> 20);
    else
        fprintf(f, " %s\n", h->stream_note[0] ? h->stream_note : "STREAM not measured");
}

static void print_percent(FILE *f, double frac)
{
    if (frac > 0) fprintf(f, " %8.1f%%", 100.0 * frac);
    else fprintf(f, " %9s", "-");
}

static void print_device(FILE *f, const device_run *r)
{
    fprintf(f, "\n== %s:%d", fv_backend_name(r->backend), r->index);
    if (!r->available) {
        fprintf(f, " == unavailable: %s\n", r->reason);
        return;
    }
    fprintf(f, "  %s  [%s] ==\n", r->info.name, device_type_name(r->info.type));
    if (r->have_ceilings)
        fprintf(f, "ceilings: fp32 FMA %.1f GFLOP/s | read %.1f GB/s (%s) | %.2f us per dispatch | "
                   "replay of one dispatch %.1f us\n",
                r->ceil.fma_gflops, r->ceil.read_gbps, r->ceil.read_path, r->ceil.dispatch_us, r->ceil.replay_us);
    else
        fprintf(f, "ceilings: %s\n", r->reason);
    if (!r->nresults) return;
    fprintf(f, "%-10s %-5s %-18s %10s %12s %-8s %9s %9s\n", "op", "dtype", "shape", "ms", "rate", "",
            "% device", "% host");
    for (int i = 0; i < r->nresults; i++) {
        const result *res = &r->results[i];
        fprintf(f, "%-10s %-5s %-18s", res->op, res->dtype, res->shape);
        if (!res->ok) {
            fprintf(f, " %s\n", res->note);
            continue;
        }
        fprintf(f, " %10.3f %12.2f %-8s", res->ms, res->rate, res->unit);
        print_percent(f, res->of_device);
        print_percent(f, res->of_host);
        fprintf(f, "\n");
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const options *o, const host_limits *h, const device_run *runs, int nruns)
{
    fprintf(f, "{\n\"version\": \"%d.%d.%d\", \"quick\": %s,\n", FOVEA_VERSION_MAJOR, FOVEA_VERSION_MINOR,
            FOVEA_VERSION_PATCH, o->quick ? "true" : "false");
    fprintf(f, "\"host\": {\"threads\": %d, \"sgemm_gflops\": {", h->threads);
    int k = 0;
    for (int i = 0; i < HOST_SGEMM_SIZES; i++)
        if (h->sgemm_n[i]) fprintf(f, "%s\"%d\": %.3f", k++ ? ", " : "", h->sgemm_n[i], h->sgemm_gflops[i]);
    fprintf(f, "}, \"sgemm_best_gflops\": %.3f, \"sgemm_note\": ", h->sgemm_best_gflops);
    json_string(f, h->sgemm_note);
    fprintf(f, ", \"stream_array_bytes\": %zu, \"stream_copy_gbps\": %.3f, \"stream_triad_gbps\": %.3f},\n",
            h->stream_array_bytes, h->copy_gbps, h->triad_gbps);
    fprintf(f, "\"devices\": [");
    for (int d = 0; d < nruns; d++) {
        const device_run *r = &runs[d];
        fprintf(f, "%s\n {\"backend\": \"%s\", \"index\": %d, \"available\": %s", d ? "," : "",
                fv_backend_name(r->backend), r->index, r->available ? "true" : "false");
        if (!r->available) {
            fprintf(f, ", \"reason\": ");
            json_string(f, r->reason);
            fprintf(f, "}");
            continue;
        }
        fprintf(f, ", \"name\": ");
        json_string(f, r->info.name);
        fprintf(f, ", \"type\": \"%s\", \"driver\": ", device_type_name(r->info.type));
        json_string(f, r->info.driver);
        if (r->have_ceilings) {
            fprintf(f, ",\n  \"ceilings\": {\"fma_gflops\": %.3f, \"read_gbps\": %.3f, \"read_path\": ",
                    r->ceil.fma_gflops, r->ceil.read_gbps);
            json_string(f, r->ceil.read_path);
            fprintf(f, ", \"dispatch_us\": %.3f, \"replay_us\": %.3f}", r->ceil.dispatch_us, r->ceil.replay_us);
        } else {
            fprintf(f, ",\n  \"ceilings\": null, \"ceilings_error\": ");
            json_string(f, r->reason);
        }
        fprintf(f, ",\n  \"results\": [");
        for (int i = 0; i < r->nresults; i++) {
            const result *res = &r->results[i];
            fprintf(f, "%s\n   {\"op\": \"%s\", \"dtype\": \"%s\", \"shape\": \"%s\", \"ok\": %s", i ? "," : "",
                    res->op, res->dtype, res->shape, res->ok ? "true" : "false");
            if (res->ok)
                fprintf(f, ", \"ms\": %.4f, \"reps\": %d, \"rate\": %.4f, \"unit\": \"%s\", \"of_device\": %.4f"
                           ", \"of_host\": %.4f}",
                        res->ms, res->reps, res->rate, res->unit, res->of_device, res->of_host);
            else {
                fprintf(f, ", \"note\": ");
                json_string(f, res->note);
                fprintf(f, "}");
            }
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n]}\n");
}

/* ---- options and main ----------------------------------------------------- */

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--quick] [--backend SPEC[,SPEC]] [--ops LIST] [--json [FILE]] [--threads N]\n"
            "          [--validation]\n"
            "  --quick       small sizes, few replays\n"
            "  --backend     cpu, vulkan, vulkan:1, vulkan:NAME, opencl (default: every device)\n"
            "  --ops         matmul,matvec,softmax,layernorm,dispatch,encoder,lm,compress | all | none\n"
            "                (default: all but encoder and lm)\n"
            "  --json [FILE] also write the results as JSON (to stdout without FILE or with -)\n"
            "  --threads N   host threads for OpenBLAS and STREAM (default: online CPUs)\n"
            "  --validation  enable Vulkan validation; any message fails the run\n",
            argv0);
}

static bool parse_ops(const char *list, unsigned *ops)
{
    *ops = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "all") == 0) {
            *ops = (1u << OP_COUNT) - 1;
            continue;
        }
        if (strcmp(t, "none") == 0) continue;
        int k = 0;
        while (k < OP_COUNT && strcmp(t, op_names[k]) != 0) k++;
        if (k == OP_COUNT) return false;
        *ops |= 1u << k;
    }
    return true;
}

static bool parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->ops = OPS_DEFAULT;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus > 0 ? (int)cpus : 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc && (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0);
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(a, "--validation") == 0) {
            o->validation = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
            if (has_value) o->json_path = argv[++i];
        } else if (strcmp(a, "--ops") == 0 && has_value) {
            if (!parse_ops(argv[++i], &o->ops)) return false;
        } else if (strcmp(a, "--threads") == 0 && has_value) {
            o->threads = atoi(argv[++i]);
            if (o->threads < 1 || o->threads > 64) return false;
        } else if (strcmp(a, "--backend") == 0 && has_value) {
            /* comma-separated; the strings stay in argv */
            for (char *save = NULL, *t = strtok_r(argv[++i], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                fv_context_desc d = {0};
                if (o->nspecs == MAX_SPECS || fv_context_desc_parse_device(&d, t) != FV_STATUS_OK ||
                    d.backend == FV_BACKEND_AUTO)
                    return false;
                o->specs[o->nspecs++] = t;
            }
        } else {
            return false;
        }
    }
    return true;
}

/* Whether device i (named `name`) of a backend is what spec names: the
 * backend alone means all its devices; ":N" an index, ":text" a substring
 * of the device name. */
static bool spec_names(const char *spec, fv_backend_type backend, int i, const char *name)
{
    fv_context_desc d = {0};
    if (fv_context_desc_parse_device(&d, spec) != FV_STATUS_OK || d.backend != backend) return false;
    if (!strchr(spec, ':')) return true;
    return d.device_name ? strstr(name, d.device_name) != NULL : d.device_index == i;
}

/* The devices to run: every device of every backend, or those the specs
 * name; a backend that is absent, or a spec that names no device, becomes
 * an unavailable entry with its reason. */
static int plan_runs(const options *o, device_run *runs, int cap)
{
    static const fv_backend_type order[] = {FV_BACKEND_VULKAN, FV_BACKEND_OPENCL, FV_BACKEND_CPU};
    int n = 0;
    for (size_t b = 0; b < sizeof order / sizeof order[0] && n < cap; b++) {
        bool wanted = o->nspecs == 0;
        for (int s = 0; s < o->nspecs; s++) {
            fv_context_desc d = {0};
            wanted |= fv_context_desc_parse_device(&d, o->specs[s]) == FV_STATUS_OK && d.backend == order[b];
        }
        if (!wanted) continue;
        fv_device_info infos[16];
        int count = 0;
        char err[512] = "";
        fv_status st = fv_backend_list_devices(order[b], infos, 16, &count, err, sizeof err);
        if (count > 16) count = 16;
        if (st || count == 0) {
            runs[n] = (device_run){.backend = order[b], .available = false};
            snprintf(runs[n].reason, sizeof runs[n].reason, "%s", err[0] ? err : "no devices");
            n++;
            continue;
        }
        bool matched[MAX_SPECS] = {false};
        for (int i = 0; i < count && n < cap; i++) {
            bool run = o->nspecs == 0;
            for (int s = 0; s < o->nspecs; s++)
                if (spec_names(o->specs[s], order[b], i, infos[i].name)) run = matched[s] = true;
            if (run) runs[n++] = (device_run){.backend = order[b], .index = i, .info = infos[i], .available = true};
        }
        for (int s = 0; s < o->nspecs && n < cap; s++) {
            fv_context_desc d = {0};
            if (matched[s] || fv_context_desc_parse_device(&d, o->specs[s]) || d.backend != order[b]) continue;
            runs[n] = (device_run){.backend = order[b], .index = d.device_index, .available = false};
            snprintf(runs[n].reason, sizeof runs[n].reason, "no device matches \"%s\"", o->specs[s]);
            n++;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
#ifdef __SANITIZE_ADDRESS__
    /* Sanitizer builds only, as in tests/harness.c: keep Mesa's CPU Vulkan
     * driver loaded to the end, so its one-time allocations stay reachable
     * instead of being reported as leaks of an unloaded module. */
    dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
#endif
    options o;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        }
    if (!parse_args(argc, argv, &o)) {
        usage(stderr, argv[0]);
        return 2;
    }
    bool json_stdout = o.json && (!o.json_path || strcmp(o.json_path, "-") == 0);
    table_out = json_stdout ? stderr : stdout;

    host_limits h = {.threads = o.threads};
    progress("host: OpenBLAS SGEMM");
    host_measure_sgemm(&h, o.quick);
    progress("host: STREAM copy and triad");
    host_measure_stream(&h, o.quick);
    progress_done();
    print_host(table_out, &h);

    device_run runs[32];
    int nruns = plan_runs(&o, runs, 32);
    int failures = 0, measured = 0;
    for (int i = 0; i < nruns; i++) {
        if (runs[i].available) bench_device(&runs[i], &o, &h);
        print_device(table_out, &runs[i]);
        fflush(table_out);
        if (runs[i].available) {
            measured++;
            failures += !runs[i].have_ceilings;
        }
        if (runs[i].validation_messages) {
            fprintf(stderr, "%s:%d: %d validation messages\n", fv_backend_name(runs[i].backend), runs[i].index,
                    runs[i].validation_messages);
            failures++;
        }
    }
    if (o.json) {
        FILE *f = json_stdout ? stdout : fopen(o.json_path, "w");
        if (!f) {
            fprintf(stderr, "cannot write %s\n", o.json_path);
            failures++;
        } else {
            write_json(f, &o, &h, runs, nruns);
            if (f != stdout) fclose(f);
        }
    }
    for (int i = 0; i < nruns; i++) free(runs[i].results);
    if (!measured) fprintf(stderr, "no device could be benchmarked\n");
    return failures || !measured ? 1 : 0;
}
