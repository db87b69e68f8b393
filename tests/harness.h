/* A small test harness: contexts for every backend present (Vulkan with
 * validation on; any validation message fails the run), seeded random data,
 * and comparison against a double-precision reference with a stated
 * tolerance, printing the worst error. */
#ifndef FOVEA_TEST_HARNESS_H
#define FOVEA_TEST_HARNESS_H

#include "fovea/fovea.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct th_backend {
    fv_context *ctx;
    const char *name;
    int validation_messages;
} th_backend;

typedef struct th_runner {
    th_backend backends[3];
    int nbackends;
    int passed, failed, skipped;
    const char *filter;
} th_runner;

/* Opens CPU, Vulkan and OpenCL (where present). Returns false when a backend
 * that FOVEA_TEST_REQUIRE lists ("vulkan,opencl") is absent. */
bool th_open(th_runner *r, int argc, char **argv);
int th_close(th_runner *r); /* prints the summary; returns the exit code */
/* Under AddressSanitizer, keeps the CPU Vulkan driver loaded (th_open does it). */
void th_pin_drivers(void);
bool th_selected(const th_runner *r, const char *name);

/* xorshift-based generator, deterministic across platforms */
typedef struct th_rng {
    uint64_t s;
} th_rng;
static inline th_rng th_seed(uint64_t seed)
{
    th_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull};
    return r;
}
static inline uint32_t th_u32(th_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}
/* uniform in [lo, hi) */
static inline float th_uniform(th_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)(th_u32(r) & 0xffffff) / 16777216.0f;
}
float *th_random(th_rng *rng, size_t n, float lo, float hi); /* malloc'd */

/* Compares got (float) against ref (double). The error measure is
 * max |got - ref| / max(|ref|, 1) over all elements. Records pass/fail. */
bool th_check(th_runner *r, const th_backend *b, const char *name, const float *got, const double *ref,
              size_t n, double tol);
/* Records a pass when cond holds, else a failure with the formatted message. */
void th_expect(th_runner *r, const th_backend *b, const char *what, bool cond, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Records a failure with a message. */
void th_fail(th_runner *r, const th_backend *b, const char *name, const char *fmt, ...);
/* Fails when st is not OK; prints the context's last error. */
bool th_ok(th_runner *r, const th_backend *b, const char *name, fv_status st);

/* Creates a tensor and uploads data (f32 converted to dtype for f16/bf16). */
fv_tensor *th_tensor(th_runner *r, const th_backend *b, fv_dtype dtype, int ndim, const int64_t *shape,
                     const float *data);
/* Marks y as output, replays g and downloads y into a new float buffer.
 * NULL on failure, or when the backend reports the op unsupported (a skip). */
float *th_run_and_fetch(th_runner *r, const th_backend *b, const char *name, fv_graph *g, fv_tensor *y);
/* Rounds through f16 as the device will see it. */
float th_round_f16(float x);

#endif
