/* fovea-bench's language-model section (--ops lm): a random-weight decoder
 * of SmolLM2-135M's shape, prefill and decode in tokens per second, with
 * f16, q8_0 and q4_0 matrices. Hands back rows for the common table. */
#ifndef FOVEA_BENCH_LM_H
#define FOVEA_BENCH_LM_H

#include "bench_encoder.h"

/* Runs the section on ctx and writes up to `cap` rows; returns the count.
 * ceil may be NULL (no roofline fractions). */
int bench_lm(fv_context *ctx, bool quick, const fv_device_ceilings *ceil, bench_row *rows, int cap);

#endif
