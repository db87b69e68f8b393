/* The host's physical limits, measured outside fovea: SGEMM through OpenBLAS
 * (when it is installed) and a STREAM-like copy and triad. fovea-bench
 * states every op as a fraction of these as well as of the device's own
 * ceilings. */
#ifndef FOVEA_BENCH_HOST_LIMITS_H
#define FOVEA_BENCH_HOST_LIMITS_H

#include <stdbool.h>
#include <stddef.h>

#define HOST_SGEMM_SIZES 2

typedef struct host_limits {
    int threads;
    /* SGEMM C[n,n] = A[n,n]·B[n,n]ᵀ; 0 where not measured */
    int sgemm_n[HOST_SGEMM_SIZES];
    double sgemm_gflops[HOST_SGEMM_SIZES];
    double sgemm_best_gflops;
    char sgemm_note[256];   /* why SGEMM was not measured, "" otherwise */
    /* STREAM-like, bytes read + written per second over three arrays */
    size_t stream_array_bytes;
    double copy_gbps;       /* c = a          (16 bytes per element) */
    double triad_gbps;      /* a = b + s·c    (24 bytes per element) */
    char stream_note[256];
} host_limits;

/* Both return false only when nothing could be measured (note says why). */
bool host_measure_sgemm(host_limits *h, bool quick);
bool host_measure_stream(host_limits *h, bool quick);

/* Median of n values (sorts them in place). */
double bench_median(double *v, int n);
/* Monotonic wall clock in milliseconds. */
double bench_now_ms(void);

#endif
