/* The compression section of fovea-bench (see bench_compress.h).
 *
 * For each encoder (the bundled fovea-tiny on an image of its eval set;
 * a CLIP-B/16-shaped model with random weights on random pixels, 224²,
 * 196 patches + [CLS], skipped by --quick and on the plain-C CPU backend,
 * where one image takes tens of seconds): one encoder that writes every
 * statistic the methods read, its median replay as the "encoder" row, then
 * each method at keep 0.25 on that encoder's output: its compressor's
 * median replay, and that time as a percentage of the encoder's (the
 * methods' budget is 5%). tome merges inside the encoder: its row is the
 * whole encoder with ToMe at that budget, as a percentage of the plain
 * encoder's time (below 100 where merging pays for itself). */
#include "bench_compress.h"

#include "fovea/compress.h"
#include "host_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPS 9

static const fv_compress_method methods[] = {
    FV_COMPRESS_FASTERVLM, FV_COMPRESS_VTC_CLS,   FV_COMPRESS_HIPRUNE, FV_COMPRESS_DIVPRUNE, FV_COMPRESS_TODRE,
    FV_COMPRESS_HIRED,     FV_COMPRESS_VISIONZIP, FV_COMPRESS_FOURIER, FV_COMPRESS_RANDOM,   FV_COMPRESS_STRIDE,
};
#define NMETHODS (int)(sizeof methods / sizeof methods[0])

static bench_row *row(bench_row *rows, int cap, int *n, const char *op, const char *dtype, const char *shape)
{
    if (*n >= cap) return NULL;
    bench_row *r = &rows[(*n)++];
    memset(r, 0, sizeof *r);
    r->op = op;
    r->dtype = dtype;
    r->unit = "%";
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    return r;
}

/* median of `reps` runs of `run` after one untimed run; *ms */
static fv_status time_encoder(fv_vision_encoder *enc, const float *px, size_t npx, int reps, double *ms)
{
    double t[REPS];
    fv_status st = fv_vision_encoder_run(enc, px, npx);
    for (int i = 0; i < reps && !st; i++) {
        fv_vision_timings vt;
        st = fv_vision_encoder_run(enc, NULL, 0);
        fv_vision_encoder_timings(enc, &vt);
        t[i] = vt.encode_ms;
    }
    if (!st) *ms = bench_median(t, reps);
    return st;
}

static fv_status time_compressor(fv_compressor *c, int reps, double *ms)
{
    double t[REPS];
    fv_status st = fv_compressor_run(c);
    for (int i = 0; i < reps && !st; i++) {
        fv_compressor_info ci;
        st = fv_compressor_run(c);
        fv_compressor_get_info(c, &ci);
        t[i] = ci.run_ms;
    }
    if (!st) *ms = bench_median(t, reps);
    return st;
}

static void one_model(fv_context *ctx, fv_vision_model *m, const float *px, size_t npx, const char *label, int reps,
                      bench_row *rows, int cap, int *n)
{
    fv_vision_encode_desc ed = {.layer = -2};
    fv_vision_encoder *enc = NULL;
    char shape[48];
    bench_row *er = row(rows, cap, n, "compress", "encoder", label);
    if (!er) return;
    er->unit = "ms";
    fv_status st = FV_STATUS_OK;
    for (int i = 0; i < NMETHODS && !st; i++) {
        fv_compress_desc cd = {.method = methods[i], .keep = 0.25f};
        st = fv_compress_prepare_encode(&cd, m, &ed);
    }
    if (!st) st = fv_vision_encoder_create(m, &ed, &enc);
    if (!st) st = time_encoder(enc, px, npx, reps, &er->ms);
    if (st) {
        snprintf(er->note, sizeof er->note, "unavailable: %s", fv_context_last_error(ctx));
        fv_vision_encoder_destroy(enc);
        return;
    }
    er->ok = true;
    er->reps = reps;
    er->rate = er->ms;
    for (int i = 0; i < NMETHODS; i++) {
        fv_compress_desc cd = {.method = methods[i], .keep = 0.25f};
        fv_compressor *c = NULL;
        fv_compressor_info ci = {0};
        st = fv_compressor_create(m, enc, &cd, &c);
        if (!st) fv_compressor_get_info(c, &ci);
        snprintf(shape, sizeof shape, "%s k=%d", label, ci.budget);
        bench_row *r = row(rows, cap, n, "compress", fv_compress_method_name(methods[i]), shape);
        if (!r) break;
        if (!st) st = time_compressor(c, reps, &r->ms);
        if (st) {
            snprintf(r->note, sizeof r->note, "unavailable: %s", fv_context_last_error(ctx));
        } else {
            r->ok = true;
            r->reps = reps;
            r->rate = 100.0 * r->ms / er->ms;
        }
        fv_compressor_destroy(c);
    }
    fv_vision_encoder_destroy(enc);
    enc = NULL;
    fv_vision_encode_desc td = {.layer = -2};
    fv_compress_desc cd = {.method = FV_COMPRESS_TOME, .keep = 0.25f};
    snprintf(shape, sizeof shape, "%s r=?", label);
    st = fv_compress_prepare_encode(&cd, m, &td);
    if (!st) snprintf(shape, sizeof shape, "%s r=%d", label, td.tome_r);
    bench_row *r = row(rows, cap, n, "compress", "tome", shape);
    if (!r) return;
    if (!st) st = fv_vision_encoder_create(m, &td, &enc);
    if (!st) st = time_encoder(enc, px, npx, reps, &r->ms);
    if (st) {
        snprintf(r->note, sizeof r->note, "unavailable: %s", fv_context_last_error(ctx));
    } else {
        r->ok = true;
        r->reps = reps;
        r->rate = 100.0 * r->ms / er->ms;
    }
    fv_vision_encoder_destroy(enc);
}

int bench_compress(fv_context *ctx, bool quick, const char *tiny_dir, bench_row *rows, int cap)
{
    int n = 0;
    const int reps = quick ? 3 : REPS;
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/model.safetensors", tiny_dir);
    if (access(path, R_OK) == 0) {
        fv_vision_model *m = NULL;
        fv_vision_load_desc ld = {.progress = -1};
        fv_image img = {0};
        float *px = NULL;
        size_t npx = 0;
        if (!fv_vision_model_load(ctx, tiny_dir, &ld, &m)) {
            fv_vision_model_info mi;
            fv_preprocess_desc pd;
            fv_vision_model_get_info(m, &mi);
            fv_vision_model_preprocess_desc(m, &pd);
            npx = (size_t)3 * mi.image_size * mi.image_size;
            px = malloc(npx * sizeof *px);
            snprintf(path, sizeof path, "%s/eval/images/00000.png", tiny_dir);
            if (px && !fv_image_load(path, &img, err, sizeof err) &&
                !fv_image_preprocess(&img, &pd, px, npx, err, sizeof err))
                one_model(ctx, m, px, npx, "fovea-tiny 12x12", reps, rows, cap, &n);
        }
        fv_image_free(&img);
        free(px);
        fv_vision_model_destroy(m);
    }
    if (quick || fv_context_backend(ctx) == FV_BACKEND_CPU) return n;
    fv_vision_config cfg = {.arch = FV_VISION_ARCH_CLIP, .image_size = 224, .patch_size = 16, .hidden_size = 768,
                            .intermediate_size = 3072, .layers = 12, .heads = 12};
    fv_vision_model *m = NULL;
    if (!fv_vision_model_create_random(ctx, &cfg, NULL, 1, &m)) {
        const size_t npx = (size_t)3 * 224 * 224;
        float *px = malloc(npx * sizeof *px);
        uint32_t s = 12345;
        for (size_t i = 0; px && i < npx; i++) {
            s ^= s << 13, s ^= s >> 17, s ^= s << 5;
            px[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
        }
        if (px) one_model(ctx, m, px, npx, "CLIP-B/16 14x14", quick ? 3 : 5, rows, cap, &n);
        free(px);
    }
    fv_vision_model_destroy(m);
    return n;
}
