/* Host limits: OpenBLAS SGEMM (loaded at run time, so the bench builds and
 * runs without it) and a STREAM-like copy and triad over arrays far larger
 * than any cache, on `threads` threads. */
#include "host_limits.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- SGEMM through OpenBLAS ---------------------------------------------- */

/* CBLAS's enum values, so that no cblas.h is needed at build time */
#define CBLAS_ROW_MAJOR 101
#define CBLAS_NO_TRANS 111
#define CBLAS_TRANS 112
typedef void (*cblas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta, float *c,
                               int ldc);
typedef void (*openblas_set_num_threads_fn)(int n);

#define MAX_REPS 10

bool host_measure_sgemm(host_limits *h, bool quick)
{
    /* OpenBLAS reads the variable when it loads; the call below covers a
     * library that was already loaded by someone else */
    char threads[16];
    snprintf(threads, sizeof threads, "%d", h->threads);
    setenv("OPENBLAS_NUM_THREADS", threads, 1);
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(h->sgemm_note, sizeof h->sgemm_note, "libopenblas.so.0 not found; SGEMM not measured");
        return false;
    }
    /* POSIX's way to turn dlsym's object pointer into a function pointer */
    cblas_sgemm_fn sgemm;
    openblas_set_num_threads_fn set_threads;
    *(void **)&sgemm = dlsym(lib, "cblas_sgemm");
    *(void **)&set_threads = dlsym(lib, "openblas_set_num_threads");
    if (!sgemm) {
        snprintf(h->sgemm_note, sizeof h->sgemm_note, "libopenblas.so.0 has no cblas_sgemm");
        return false;
    }
    if (set_threads) set_threads(h->threads);
    static const int sizes[HOST_SGEMM_SIZES] = {1024, 2048};
    int reps = quick ? 3 : 5;
    for (int s = 0; s < (quick ? 1 : HOST_SGEMM_SIZES); s++) {
        int n = sizes[s];
        size_t count = (size_t)n * (size_t)n;
        float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b), *c = malloc(count * sizeof *c);
        if (!a || !b || !c) {
            free(a), free(b), free(c);
            snprintf(h->sgemm_note, sizeof h->sgemm_note, "out of host memory at %d^3", n);
            break;
        }
        for (size_t i = 0; i < count; i++) {
            a[i] = (float)((i * 7) % 13) * 0.0625f - 0.375f;
            b[i] = (float)((i * 5) % 11) * 0.0625f - 0.3125f;
        }
        /* C = A·Bᵀ: the layout of fovea's matmul, Y = X·Wᵀ */
        double t[MAX_REPS];
        sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now_ms();
            sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            t[r] = bench_now_ms() - t0;
        }
        double ms = bench_median(t, reps);
        h->sgemm_n[s] = n;
        h->sgemm_gflops[s] = 2.0 * n * (double)n * n / (ms * 1e6);
        if (h->sgemm_gflops[s] > h->sgemm_best_gflops) h->sgemm_best_gflops = h->sgemm_gflops[s];
        free(a), free(b), free(c);
    }
    /* the library stays loaded: unloading OpenBLAS while its thread pool
     * exists is not safe on every version */
    return h->sgemm_best_gflops > 0;
}

/* ---- STREAM-like copy and triad ------------------------------------------ */

enum { STREAM_INIT, STREAM_COPY, STREAM_TRIAD };

typedef struct stream_part {
    double *a, *b, *c;
    size_t begin, end;
    int kernel;
} stream_part;

static void *stream_worker(void *arg)
{
    stream_part *p = arg;
    double *restrict a = p->a, *restrict b = p->b, *restrict c = p->c;
    const double s = 3.0;
    switch (p->kernel) {
    case STREAM_INIT: /* first touch by the thread that will use the pages */
        for (size_t i = p->begin; i < p->end; i++) a[i] = 1.0, b[i] = 2.0, c[i] = 0.0;
        break;
    case STREAM_COPY:
        for (size_t i = p->begin; i < p->end; i++) c[i] = a[i];
        break;
    case STREAM_TRIAD:
        for (size_t i = p->begin; i < p->end; i++) a[i] = b[i] + s * c[i];
        break;
    }
    return NULL;
}

/* Runs one kernel on all parts (thread 0 is the caller); wall milliseconds. */
static double stream_run(stream_part *parts, int threads, int kernel)
{
    pthread_t tid[64];
    bool started[64] = {false};
    double t0 = bench_now_ms();
    for (int i = 0; i < threads; i++) parts[i].kernel = kernel;
    for (int i = 1; i < threads; i++) {
        started[i] = pthread_create(&tid[i], NULL, stream_worker, &parts[i]) == 0;
        if (!started[i]) stream_worker(&parts[i]); /* correct, only slower */
    }
    stream_worker(&parts[0]);
    for (int i = 1; i < threads; i++)
        if (started[i]) pthread_join(tid[i], NULL);
    return bench_now_ms() - t0;
}

bool host_measure_stream(host_limits *h, bool quick)
{
    int threads = h->threads < 1 ? 1 : h->threads > 64 ? 64 : h->threads;
    size_t bytes = (size_t)256 << 20; /* per array: ≥ 8× the largest last-level cache we run on */
    size_t n = bytes / sizeof(double);
    double *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    stream_part *parts = calloc((size_t)threads, sizeof *parts);
    if (!a || !b || !c || !parts) {
        free(a), free(b), free(c), free(parts);
        snprintf(h->stream_note, sizeof h->stream_note, "out of host memory for 3 x %zu MiB", bytes >> 20);
        return false;
    }
    for (int i = 0; i < threads; i++)
        parts[i] = (stream_part){a, b, c, n * (size_t)i / (size_t)threads, n * (size_t)(i + 1) / (size_t)threads, 0};
    stream_run(parts, threads, STREAM_INIT);
    int reps = quick ? 4 : MAX_REPS;
    double copy[MAX_REPS], triad[MAX_REPS];
    stream_run(parts, threads, STREAM_COPY); /* warm-up */
    for (int r = 0; r < reps; r++) {
        copy[r] = stream_run(parts, threads, STREAM_COPY);
        triad[r] = stream_run(parts, threads, STREAM_TRIAD);
    }
    /* STREAM's convention: count the bytes each kernel names (reads and writes) */
    h->stream_array_bytes = bytes;
    h->copy_gbps = 2.0 * (double)bytes / (bench_median(copy, reps) * 1e6);
    h->triad_gbps = 3.0 * (double)bytes / (bench_median(triad, reps) * 1e6);
    free(a), free(b), free(c), free(parts);
    return true;
}
