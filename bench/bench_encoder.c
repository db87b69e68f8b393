/* The encoder section of fovea-bench (see bench_encoder.h).
 *
 *   encoder    images/s of a whole ViT forward pass (upload excluded: the
 *              median replay of the encoder's recorded graph), for a
 *              CLIP-B/16-shaped model with random weights built here (224²,
 *              12 layers, width 768, MLP 3072, 12 heads: 197 tokens) in f32
 *              and f16 weights, and the bundled fovea-tiny where its weights
 *              were exported. "% device" is the pass's FLOPs per second over
 *              the device's FMA ceiling.
 *   attention  the fused kernel alone, ViT-B's 12 heads of 64, at 256, 577
 *              (ViT-L/14 at 336²) and 1024 tokens; effective GFLOP/s counts
 *              4·N²·D per head (Q·Kᵀ and P·V), as flash-attention papers do.
 *   matmul     fovea's f32 matmul at 1024³ (512³ on the plain-C CPU
 *              backend) in the same run: the yardstick for attention;
 *   attn/mm    attention's GFLOP/s as a percentage of that matmul's.
 *   tome       the same CLIP-B/16 (f32) encoder with ToMe merging r tokens in
 *              every block, r = 25% of the 197 input tokens (49; fewer where
 *              ToMe's limit (N - 1) / 2 binds), and tome/base: its img/s
 *              over the plain encoder's, the speed-up. */
#include "bench_encoder.h"

#include "fovea/vision.h"
#include "host_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REPS 10

static uint32_t rng_state = 0x9E3779B9u;
static float rng_uniform(void) /* xorshift32, in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

static fv_status random_f32(fv_context *ctx, int ndim, const int64_t *shape, fv_tensor **out)
{
    fv_status st = fv_tensor_create(ctx, FV_DTYPE_F32, ndim, shape, out);
    if (st) return st;
    size_t n = (size_t)fv_tensor_numel(*out);
    float *host = malloc(n * sizeof *host);
    if (!host) return FV_STATUS_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < n; i++) host[i] = rng_uniform();
    st = fv_tensor_upload(*out, host, n * sizeof *host);
    free(host);
    return st;
}

static bench_row *add_row(bench_row *rows, int cap, int *n, const char *op, const char *dtype, const char *unit)
{
    if (*n >= cap) return NULL;
    bench_row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->dtype = dtype;
    r->unit = unit;
    return r;
}

static void unavailable(bench_row *r, fv_context *ctx, fv_status st)
{
    const char *msg = fv_context_last_error(ctx);
    snprintf(r->note, sizeof r->note, "unavailable: %s", msg[0] ? msg : fv_status_name(st));
}

/* One untimed replay, then up to `reps` timed ones within ~budget_ms; the median. */
static fv_status time_graph(fv_graph *g, int reps, double budget_ms, double *ms, int *done)
{
    double t[MAX_REPS], spent = 0;
    fv_status st = fv_graph_replay(g);
    int n = 0;
    while (!st && n < reps && (n == 0 || spent < budget_ms)) {
        st = fv_graph_replay(g);
        t[n] = fv_graph_last_replay_ms(g);
        spent += t[n++];
    }
    if (st) return st;
    *done = n;
    *ms = bench_median(t, n);
    return FV_STATUS_OK;
}

static void set_rate(bench_row *r, double flops, const fv_device_ceilings *ceil)
{
    double gflops = flops / (r->ms * 1e6);
    if (strcmp(r->unit, "GFLOP/s") == 0) r->rate = gflops;
    if (ceil && ceil->fma_gflops > 0) r->of_device = gflops / ceil->fma_gflops;
}

static bool bench_matmul_ref(fv_context *ctx, bool quick, const fv_device_ceilings *ceil, bench_row *r)
{
    const int64_t n = fv_context_backend(ctx) == FV_BACKEND_CPU || quick ? 512 : 1024;
    snprintf(r->shape, sizeof r->shape, "%lldx%lldx%lld", (long long)n, (long long)n, (long long)n);
    const int64_t s[2] = {n, n};
    fv_tensor *x = NULL, *w = NULL, *y = NULL;
    fv_graph *g = NULL;
    fv_status st = random_f32(ctx, 2, s, &x);
    if (!st) st = random_f32(ctx, 2, s, &w);
    if (!st) st = fv_graph_create(ctx, &g);
    if (!st) st = fv_op_matmul(g, x, w, NULL, &y);
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = time_graph(g, quick ? 3 : MAX_REPS, quick ? 300 : 2000, &r->ms, &r->reps);
    if (st) unavailable(r, ctx, st);
    else {
        r->ok = true;
        set_rate(r, 2.0 * (double)n * n * n, ceil);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    fv_tensor_destroy(w);
    return r->ok;
}

static void bench_attention(fv_context *ctx, bool quick, const fv_device_ceilings *ceil, int64_t tokens,
                            bench_row *r)
{
    const int64_t heads = 12, d = 64, s[4] = {1, tokens, heads, d};
    snprintf(r->shape, sizeof r->shape, "N=%lld H=%lld D=%lld", (long long)tokens, (long long)heads, (long long)d);
    fv_tensor *q = NULL, *k = NULL, *v = NULL;
    fv_graph *g = NULL;
    fv_attention_result res;
    fv_status st = random_f32(ctx, 4, s, &q);
    if (!st) st = random_f32(ctx, 4, s, &k);
    if (!st) st = random_f32(ctx, 4, s, &v);
    if (!st) st = fv_graph_create(ctx, &g);
    if (!st) st = fv_op_attention(g, q, k, v, NULL, &res);
    if (!st) st = fv_graph_output(g, res.out);
    if (!st) st = time_graph(g, quick ? 3 : MAX_REPS, quick ? 300 : 2000, &r->ms, &r->reps);
    if (st) unavailable(r, ctx, st);
    else {
        r->ok = true;
        set_rate(r, 4.0 * (double)heads * (double)tokens * (double)tokens * (double)d, ceil);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(q);
    fv_tensor_destroy(k);
    fv_tensor_destroy(v);
}

/* FLOPs of one forward pass through `layers` layers. */
static double encoder_flops(const fv_vision_model_info *i, const fv_vision_encoder_info *e)
{
    const double N = e->tokens, D = i->hidden_size, F = i->intermediate_size;
    const double P = (double)e->grid_w * e->grid_h, K = (double)i->channels * i->patch_size * i->patch_size;
    return 2 * P * K * D + e->layers_run * (8 * N * D * D + 4 * N * D * F + 4 * N * N * D);
}

/* Images per second of m's encoder (all layers, output = the last); desc
 * may be NULL. The device fraction is left out for ToMe, whose FLOPs shrink
 * layer by layer. */
static void bench_model(fv_context *ctx, const fv_vision_model *m, const fv_vision_encode_desc *desc, bool quick,
                        int reps, const fv_device_ceilings *ceil, bench_row *r)
{
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    fv_vision_encoder *enc = NULL;
    fv_status st = fv_vision_encoder_create(m, desc, &enc);
    fv_vision_encoder_info ei;
    float *px = NULL;
    size_t n = 0;
    if (!st) {
        fv_vision_encoder_get_info(enc, &ei);
        n = (size_t)3 * ei.width * ei.height;
        px = malloc(n * sizeof *px);
        if (!px) st = FV_STATUS_OUT_OF_HOST_MEMORY;
        for (size_t i = 0; px && i < n; i++) px[i] = rng_uniform();
    }
    /* one untimed run (pipelines, first touch), then the median */
    if (!st) st = fv_vision_encoder_run(enc, px, n);
    double t[MAX_REPS], spent = 0;
    int done = 0;
    while (!st && done < reps && (done == 0 || spent < (quick ? 1000 : 4000))) {
        fv_vision_timings tm;
        st = fv_vision_encoder_run(enc, px, n);
        fv_vision_encoder_timings(enc, &tm);
        t[done] = tm.encode_ms;
        spent += t[done++];
    }
    if (st) unavailable(r, ctx, st);
    else {
        r->ok = true;
        r->reps = done;
        r->ms = bench_median(t, done);
        r->rate = 1000.0 / r->ms;
        if (!desc || !desc->tome_r) set_rate(r, encoder_flops(&mi, &ei), ceil);
    }
    free(px);
    fv_vision_encoder_destroy(enc);
}

int bench_encoder(fv_context *ctx, bool quick, const fv_device_ceilings *ceil, const char *tiny_dir,
                  bench_row *rows, int cap)
{
    int n = 0;
    const bool cpu = fv_context_backend(ctx) == FV_BACKEND_CPU;
    bench_row *mm = add_row(rows, cap, &n, "matmul", "f32", "GFLOP/s");
    if (!mm) return n;
    bench_matmul_ref(ctx, quick, ceil, mm);
    static const int64_t lengths[3] = {256, 577, 1024};
    bench_row *att[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        att[i] = add_row(rows, cap, &n, "attention", "f32", "GFLOP/s");
        if (att[i]) bench_attention(ctx, quick, ceil, lengths[i], att[i]);
    }
    /* the yardstick, as rows of the table: attention's rate over matmul's */
    for (int i = 0; i < 3; i++) {
        bench_row *r = add_row(rows, cap, &n, "attn/mm", "f32", "%");
        if (!r) return n;
        snprintf(r->shape, sizeof r->shape, "N=%lld", (long long)lengths[i]);
        if (!mm->ok || !att[i] || !att[i]->ok) {
            snprintf(r->note, sizeof r->note, "unavailable: attention or matmul did not run");
            continue;
        }
        r->ok = true;
        r->ms = att[i]->ms;
        r->reps = att[i]->reps;
        r->rate = 100.0 * att[i]->rate / mm->rate;
    }

    /* CLIP-B/16 with random weights, f32 and f16 matrices */
    const fv_vision_config clip_b = {.arch = FV_VISION_ARCH_CLIP, .image_size = 224, .patch_size = 16,
                                     .hidden_size = 768, .intermediate_size = 3072, .layers = 12, .heads = 12};
    bench_row *base = NULL;
    for (int h = 0; h < 2; h++) {
        bench_row *r = add_row(rows, cap, &n, "encoder", h ? "f16" : "f32", "img/s");
        if (!h) base = r;
        if (!r) return n;
        snprintf(r->shape, sizeof r->shape, "clip-b/16 224");
        if (cpu && (quick || h)) { /* about a minute per image on the plain-C reference */
            snprintf(r->note, sizeof r->note, "skipped: the CPU backend is the plain-C reference%s",
                     quick ? " (--quick)" : " (f32 only)");
            continue;
        }
        fv_vision_load_desc ld = {.weight_dtype = h ? FV_DTYPE_F16 : FV_DTYPE_F32};
        fv_vision_model *m = NULL;
        fv_status st = fv_vision_model_create_random(ctx, &clip_b, &ld, 1, &m);
        if (st) unavailable(r, ctx, st);
        else bench_model(ctx, m, NULL, quick, cpu ? 1 : quick ? 3 : MAX_REPS, ceil, r);
        fv_vision_model_destroy(m);
    }

    /* the same f32 encoder with ToMe at r = 25% of its tokens, and the speed-up */
    const int tokens = (224 / 16) * (224 / 16) + 1, tome_r = tokens / 4;
    bench_row *tr = add_row(rows, cap, &n, "tome", "f32", "img/s");
    bench_row *ratio = add_row(rows, cap, &n, "tome/base", "f32", "x");
    if (!tr || !ratio) return n;
    snprintf(tr->shape, sizeof tr->shape, "clip-b/16 224 r=%d", tome_r);
    snprintf(ratio->shape, sizeof ratio->shape, "clip-b/16 224 r=%d", tome_r);
    if (cpu) {
        snprintf(tr->note, sizeof tr->note, "skipped: the CPU backend is the plain-C reference");
        snprintf(ratio->note, sizeof ratio->note, "skipped: the CPU backend is the plain-C reference");
    } else {
        fv_vision_load_desc ld = {.weight_dtype = FV_DTYPE_F32};
        fv_vision_model *m = NULL;
        fv_status st = fv_vision_model_create_random(ctx, &clip_b, &ld, 1, &m);
        const fv_vision_encode_desc td = {.tome_r = tome_r};
        if (st) unavailable(tr, ctx, st);
        else bench_model(ctx, m, &td, quick, quick ? 3 : MAX_REPS, ceil, tr);
        fv_vision_model_destroy(m);
        if (tr->ok && base && base->ok) {
            ratio->ok = true;
            ratio->ms = tr->ms;
            ratio->reps = tr->reps;
            ratio->rate = tr->rate / base->rate;
        } else {
            snprintf(ratio->note, sizeof ratio->note, "unavailable: the encoder with or without ToMe did not run");
        }
    }

    /* the bundled fovea-tiny, where its weights were exported */
    bench_row *r = add_row(rows, cap, &n, "encoder", "f32", "img/s");
    if (!r) return n;
    snprintf(r->shape, sizeof r->shape, "fovea-tiny 96");
    char weights[4096];
    snprintf(weights, sizeof weights, "%s/model.safetensors", tiny_dir ? tiny_dir : "");
    if (!tiny_dir || access(weights, R_OK) != 0) {
        snprintf(r->note, sizeof r->note, "skipped: no exported weights in %s", tiny_dir ? tiny_dir : "(none)");
        return n;
    }
    fv_vision_load_desc ld = {.progress = -1};
    fv_vision_model *m = NULL;
    fv_status st = fv_vision_model_load(ctx, tiny_dir, &ld, &m);
    if (st) unavailable(r, ctx, st);
    else bench_model(ctx, m, NULL, quick, quick ? 3 : MAX_REPS, ceil, r);
    fv_vision_model_destroy(m);
    return n;
}
