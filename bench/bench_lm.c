/* fovea-bench's language-model section: SmolLM2-135M's shape (hidden 576,
 * MLP 1536, 30 layers, 9 query / 3 KV heads of 64, vocabulary 49152, tied
 * embeddings, RoPE θ 100000) with random weights, so no download is
 * needed. Per weight dtype:
 *   prefill  a 128-token prompt (32 on the CPU backend, the plain-C
 *            reference) through one batched forward, tokens per second;
 *   decode   one recorded one-token graph replayed per token, sampling on
 *            the device, tokens per second over 32 tokens (8 with --quick
 *            or on the CPU backend).
 * Each figure is the best of a few runs (other work on a shared machine
 * only slows a run down). "% device": prefill's matrix FLOPs against the
 * device's FMA peak, decode's streamed weight bytes against its read
 * ceiling. */
#include "bench_lm.h"

#include "fovea/lm.h"

#include <stdio.h>
#include <string.h>

static const fv_lm_config smol = {.arch = FV_LM_ARCH_LLAMA,
                                  .hidden_size = 576,
                                  .intermediate_size = 1536,
                                  .layers = 30,
                                  .heads = 9,
                                  .kv_heads = 3,
                                  .head_dim = 64,
                                  .vocab_size = 49152,
                                  .rope_theta = 100000.0f,
                                  .tied_embeddings = true,
                                  .max_positions = 2048};

static bench_row *add(bench_row *rows, int *n, int cap, const char *op, fv_dtype dt, const char *shape)
{
    if (*n >= cap) return NULL;
    bench_row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->dtype = fv_dtype_name(dt);
    r->unit = "tok/s";
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    return r;
}

static void fail(bench_row *r, fv_context *ctx, fv_status st)
{
    if (!r) return;
    r->ok = false;
    snprintf(r->note, sizeof r->note, "%s: %s", st == FV_STATUS_INVALID_ARGUMENT || st == FV_STATUS_UNSUPPORTED
             ? "unsupported" : fv_status_name(st), fv_context_last_error(ctx));
}

static void one_dtype(fv_context *ctx, bool quick, bool cpu, const fv_device_ceilings *ceil, fv_dtype dt,
                      bench_row *rows, int *n, int cap)
{
    const int prompt_len = cpu ? 32 : 128, decode_len = quick || cpu ? 8 : 32, reps = quick || cpu ? 1 : 3;
    char shape_p[48], shape_d[48];
    snprintf(shape_p, sizeof shape_p, "smollm2-135m, %d-token prompt", prompt_len);
    snprintf(shape_d, sizeof shape_d, "smollm2-135m, %d tokens", decode_len);
    bench_row *rp = add(rows, n, cap, "lm prefill", dt, shape_p);
    bench_row *rd = add(rows, n, cap, "lm decode", dt, shape_d);
    const fv_lm_load_desc ld = {.convert = true, .weight_dtype = dt};
    fv_lm_model *m = NULL;
    fv_lm_session *s = NULL;
    fv_status st = fv_lm_model_create_random(ctx, &smol, &ld, 1, &m);
    const fv_lm_session_desc sd = {.context_length = 256};
    if (!st) st = fv_lm_session_create(m, &sd, &s);
    int32_t ids[128];
    for (int i = 0; i < prompt_len; i++) ids[i] = (int32_t)((i * 7919 + 13) % smol.vocab_size);
    const fv_lm_prompt p = {.ids = ids, .n = prompt_len};
    const fv_lm_generate_desc gd = {.max_new_tokens = decode_len, .n_stop_ids = 1, .stop_ids = {-1}};
    /* a first run builds and records the graphs */
    int count = 0;
    if (!st) st = fv_lm_generate(s, &p, &gd, NULL, 0, &count);
    if (st) {
        fail(rp, ctx, st);
        fail(rd, ctx, st);
    } else {
        double best_p = 0, best_d = 0, ms_p = 0, ms_d = 0;
        for (int k = 0; k < reps && !st; k++) {
            fv_lm_timings t;
            st = fv_lm_session_rewind(s, 0);
            if (!st) st = fv_lm_generate(s, &p, &gd, NULL, 0, &count);
            if (!st) st = fv_lm_session_timings(s, &t);
            if (st) break;
            if (t.prefill_tokens_per_s > best_p) best_p = t.prefill_tokens_per_s, ms_p = t.prefill_ms;
            if (t.decode_tokens_per_s > best_d) best_d = t.decode_tokens_per_s, ms_d = t.decode_ms / (count - 1);
        }
        /* roofline fractions: prefill as 2 FLOP per matrix weight per token against the
         * FMA peak; decode as the matrix bytes it streams per token (every matrix and
         * the output projection; the embedding table only gives one row) against the
         * read ceiling */
        fv_lm_model_info mi;
        fv_lm_model_get_info(m, &mi);
        const double D = mi.hidden_size, F = mi.intermediate_size, V = mi.vocab_size,
                     Q = (double)mi.heads * mi.head_dim, KV = (double)mi.kv_heads * mi.head_dim;
        const double weights = mi.layers * (2 * D * Q + 2 * D * KV + 3 * D * F) + V * D;
        const double table = mi.tied_embeddings && mi.embedding_dtype == mi.weight_dtype
                                 ? 0
                                 : V * D * (mi.embedding_dtype == FV_DTYPE_F16 ? 2 : 4);
        const double streamed = (double)mi.weight_bytes - table;
        if (st) {
            fail(rp, ctx, st);
            fail(rd, ctx, st);
        } else {
            if (rp) *rp = (bench_row){.op = rp->op, .dtype = rp->dtype, .unit = rp->unit, .ok = true, .ms = ms_p,
                                      .reps = reps, .rate = best_p};
            if (rp) snprintf(rp->shape, sizeof rp->shape, "%s", shape_p);
            if (rp && ceil && ceil->fma_gflops > 0) rp->of_device = 2 * weights * best_p / (ceil->fma_gflops * 1e9);
            if (rd) *rd = (bench_row){.op = rd->op, .dtype = rd->dtype, .unit = rd->unit, .ok = true, .ms = ms_d,
                                      .reps = reps, .rate = best_d};
            if (rd) snprintf(rd->shape, sizeof rd->shape, "%s", shape_d);
            if (rd && ceil && ceil->read_gbps > 0) rd->of_device = streamed * best_d / (ceil->read_gbps * 1e9);
        }
    }
    fv_lm_session_destroy(s);
    fv_lm_model_destroy(m);
}

int bench_lm(fv_context *ctx, bool quick, const fv_device_ceilings *ceil, bench_row *rows, int cap)
{
    fv_device_info info;
    fv_context_device_info(ctx, &info);
    const bool cpu = info.backend == FV_BACKEND_CPU;
    static const fv_dtype dts[] = {FV_DTYPE_F16, FV_DTYPE_Q8_0, FV_DTYPE_Q4_0};
    int n = 0;
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) one_dtype(ctx, quick, cpu, ceil, dts[d], rows, &n, cap);
    return n;
}
