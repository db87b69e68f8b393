/* fovea-bench's encoder section (--ops encoder): vision encoders in images
 * per second, and the fused attention's effective GFLOP/s at ViT sequence
 * lengths next to fovea's own f32 matmul rate in the same run. Kept apart
 * from fovea-bench.c; it hands back rows for the common table. */
#ifndef FOVEA_BENCH_ENCODER_H
#define FOVEA_BENCH_ENCODER_H

#include "fovea/fovea.h"

#include <stdbool.h>

typedef struct bench_row {
    const char *op;      /* "encoder", "attention", "matmul", "attn/mm" */
    const char *dtype;
    char shape[48];
    const char *unit;    /* "img/s", "GFLOP/s", "%" */
    bool ok;
    char note[320];      /* why it did not run */
    double ms;           /* median wall time of one image / replay */
    int reps;
    double rate;
    double of_device;    /* fraction of the device's fp32 FMA ceiling; 0 where none */
} bench_row;

/* Runs the section on ctx and writes up to `cap` rows; returns the count.
 * ceil may be NULL. tiny_dir: the bundled fovea-tiny (skipped without its
 * weights). */
int bench_encoder(fv_context *ctx, bool quick, const fv_device_ceilings *ceil, const char *tiny_dir,
                  bench_row *rows, int cap);

#endif
