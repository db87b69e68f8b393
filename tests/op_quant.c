/* Quantised weights (GGUF q8_0 and q4_0 blocks) in matmul and gather_rows.
 *
 * The blocks are made here from random bits: scales are random f16 values of
 * either sign with magnitudes in [2^-10, 2^-5) (the range trained weights
 * quantise to), q8_0 values random int8 in [-127, 127] without 0, q4_0
 * nibbles random in 0..15 without 8 (the nibble that decodes to 0). The
 * reference decodes them in double (d · q, d · (nibble - 8)) independently of
 * the library and sums in double.
 *
 * Tolerance of matmul: the error of each output is measured against the sum
 * of |x_k · w_k| over its dot product (a relative error that cannot blow up
 * where the sum cancels); an f32 accumulation of K products in any order is
 * within K·2^-24 of that, and in practice within sqrt(K)·2^-24. The bound,
 * 2e-7 · (1 + sqrt(K)), is several times the worst error seen on any
 * backend and variant. Gathered rows are exact: d · q needs at most 19
 * significant bits.
 *
 * On Vulkan each case also runs with each matrix-vector variant forced
 * (FOVEA_MATMUL_VARIANT: the texel one for CPU-type devices and the
 * subgroup one for GPUs; both take any M, more than 8 rows as more passes
 * over W), and some cases force chunking (FOVEA_MATMUL_SPLIT_ROWS), so
 * chunks start inside a block run and away from 16-byte boundaries. */
#include "op_cases.h"

typedef struct q_case {
    int64_t M, N, K;
    bool bias;
    fv_dtype wtype;
    int split; /* FOVEA_MATMUL_SPLIT_ROWS, 0 = none */
} q_case;

#define Q8 FV_DTYPE_Q8_0
#define Q4 FV_DTYPE_Q4_0

static const q_case cases[] = {
    {1, 1, 32, false, Q8, 0},     {1, 17, 96, true, Q4, 0},      {1, 255, 576, false, Q8, 0},
    {1, 1000, 576, true, Q4, 0},  {1, 17, 1536, true, Q8, 0},    {1, 255, 1536, false, Q4, 0},
    {2, 17, 32, true, Q4, 0},     {2, 255, 576, true, Q8, 0},    {3, 1, 96, false, Q8, 0},
    {3, 1000, 96, false, Q4, 0},  {7, 255, 1536, true, Q4, 0},   {7, 17, 576, false, Q8, 0},
    {33, 255, 96, true, Q8, 0},   {33, 17, 576, false, Q4, 0},   {100, 1000, 96, true, Q4, 0},
    {100, 17, 1536, false, Q8, 0}, {100, 1, 576, true, Q8, 0},   {8, 1000, 32, false, Q8, 0},
    /* chunked: every chunk but the first starts inside a 256-byte block */
    {33, 255, 96, true, Q4, 64},  {3, 255, 576, false, Q8, 100}, {100, 1000, 32, true, Q8, 256},
    {9, 1000, 96, false, Q4, 300},
};

static const char *const vk_variants[] = {"texel_matvec", "subgroup_matvec"};

static double tolerance(int64_t K) { return 2e-7 * (1.0 + sqrt((double)K)); }

static size_t block_bytes(fv_dtype t) { return t == Q8 ? 34 : 18; }

/* an f16 scale with a random sign, exponent and mantissa, |d| in [2^-10, 2^-5) */
static uint16_t random_scale(th_rng *rng)
{
    uint32_t u = th_u32(rng);
    return (uint16_t)((u & 1) << 15 | (5 + (u >> 1) % 5) << 10 | (u >> 4 & 0x3ff));
}

static double f16_value(uint16_t h)
{
    const int e = h >> 10 & 31, m = h & 0x3ff;
    const double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
    return h >> 15 ? -v : v;
}

/* n values (a multiple of 32) of random blocks */
static uint8_t *random_blocks(th_rng *rng, fv_dtype t, int64_t n)
{
    const size_t bs = block_bytes(t), nb = (size_t)(n / 32);
    uint8_t *b = malloc(nb * bs);
    for (size_t i = 0; i < nb; i++) {
        uint8_t *blk = b + i * bs;
        const uint16_t d = random_scale(rng);
        blk[0] = (uint8_t)(d & 0xff);
        blk[1] = (uint8_t)(d >> 8);
        for (size_t j = 2; j < bs; j++) {
            if (t == Q8) {
                const int q = 1 + (int)(th_u32(rng) % 127); /* 1..127, then a sign */
                blk[j] = (uint8_t)(int8_t)(th_u32(rng) & 1 ? -q : q);
            } else {
                uint32_t lo = th_u32(rng) % 15, hi = th_u32(rng) % 15; /* 0..14, skipping 8 */
                blk[j] = (uint8_t)((lo + (lo >= 8)) | (hi + (hi >= 8)) << 4);
            }
        }
    }
    return b;
}

/* the n values of the blocks, in double */
static void decode_blocks(fv_dtype t, const uint8_t *b, int64_t n, double *v)
{
    const size_t bs = block_bytes(t);
    for (int64_t i = 0; i < n / 32; i++, b += bs, v += 32) {
        const double d = f16_value((uint16_t)(b[0] | b[1] << 8));
        for (int j = 0; j < 32; j++) {
            if (t == Q8) v[j] = d * (int8_t)b[2 + j];
            else v[j] = d * ((j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4) - 8);
        }
    }
}

static fv_tensor *block_tensor(th_runner *r, const th_backend *b, const char *name, fv_dtype t, int64_t rows,
                               int64_t cols, const uint8_t *blocks)
{
    int64_t shape[2] = {rows, cols};
    fv_tensor *tensor = NULL;
    if (!th_ok(r, b, name, fv_tensor_create(b->ctx, t, 2, shape, &tensor))) return NULL;
    if (!th_ok(r, b, name, fv_tensor_upload(tensor, blocks, (size_t)(rows * cols / 32) * block_bytes(t)))) {
        fv_tensor_destroy(tensor);
        return NULL;
    }
    return tensor;
}

static void set_env(const char *name, const char *value)
{
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

/* y = matmul(x, w, bias); the worst |got - ref| / Σ|x·w| must be within tol */
static void run_matmul(th_runner *r, const th_backend *b, const char *name, const q_case *c, const float *x,
                       const uint8_t *wq, const float *bias, const double *ref, const double *mag)
{
    int64_t xs[2] = {c->M, c->K}, bs[1] = {c->N};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, xs, x);
    fv_tensor *tw = block_tensor(r, b, name, c->wtype, c->N, c->K, wq);
    fv_tensor *tb = c->bias ? th_tensor(r, b, FV_DTYPE_F32, 1, bs, bias) : NULL;
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tx && tw && (tb || !c->bias) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_matmul(g, tx, tw, tb, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) {
            double worst = 0;
            size_t at = 0;
            for (size_t i = 0; i < (size_t)(c->M * c->N); i++) {
                const double e = fabs(got[i] - ref[i]) / mag[i];
                if (!(e <= worst)) worst = e, at = i; /* NaN counts as worst */
            }
            th_expect(r, b, name, worst <= tolerance(c->K), "error %.3g at %zu (got %.9g, ref %.9g), tolerance %.3g",
                      worst, at, got[at], ref[at], tolerance(c->K));
        }
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tw);
    fv_tensor_destroy(tb);
}

static void test_matmul_cases(th_runner *r, const th_backend *b)
{
    const bool vulkan = !strcmp(b->name, "vulkan");
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const q_case *c = &cases[ci];
        th_rng rng = th_seed(500 + ci);
        float *x = th_random(&rng, (size_t)(c->M * c->K), -1, 1);
        float *bias = th_random(&rng, (size_t)c->N, -1, 1);
        uint8_t *wq = random_blocks(&rng, c->wtype, c->N * c->K);
        double *w = malloc((size_t)(c->N * c->K) * sizeof *w);
        double *ref = malloc((size_t)(c->M * c->N) * sizeof *ref), *mag = malloc((size_t)(c->M * c->N) * sizeof *mag);
        decode_blocks(c->wtype, wq, c->N * c->K, w);
        for (int64_t m = 0; m < c->M; m++)
            for (int64_t n = 0; n < c->N; n++) {
                double s = c->bias ? bias[n] : 0.0, a = c->bias ? fabs(bias[n]) : 0.0;
                for (int64_t k = 0; k < c->K; k++) {
                    const double p = (double)x[m * c->K + k] * w[n * c->K + k];
                    s += p;
                    a += fabs(p);
                }
                ref[m * c->N + n] = s;
                mag[m * c->N + n] = a;
            }
        char splitv[16];
        snprintf(splitv, sizeof splitv, "%d", c->split);
        set_env("FOVEA_MATMUL_SPLIT_ROWS", c->split ? splitv : NULL);
        const int nvariants = vulkan ? (int)(sizeof vk_variants / sizeof vk_variants[0]) : 0;
        for (int v = -1; v < nvariants; v++) { /* -1: the device's own choice */
            char name[128];
            snprintf(name, sizeof name, "matmul [%lld,%lld]·%s[%lld,%lld]%s %s%s%s", (long long)c->M,
                     (long long)c->K, fv_dtype_name(c->wtype), (long long)c->N, (long long)c->K, c->bias ? "+b" : "",
                     v < 0 ? "auto" : vk_variants[v], c->split ? " split" : "", c->split ? splitv : "");
            set_env("FOVEA_MATMUL_VARIANT", v < 0 ? NULL : vk_variants[v]);
            run_matmul(r, b, name, c, x, wq, bias, ref, mag);
        }
        set_env("FOVEA_MATMUL_VARIANT", NULL);
        set_env("FOVEA_MATMUL_SPLIT_ROWS", NULL);
        free(x);
        free(bias);
        free(wq);
        free(w);
        free(ref);
        free(mag);
    }
}

/* Two products in a row: the second reads X from the graph's arena. */
static void test_chain(th_runner *r, const th_backend *b)
{
    const int64_t M = 5, K0 = 96, K1 = 64, N = 33;
    const char *name = "matmul chain [5,96]·q4_0[64,96]ᵀ·q8_0[33,64]ᵀ";
    th_rng rng = th_seed(77);
    float *x = th_random(&rng, (size_t)(M * K0), -1, 1);
    uint8_t *w1q = random_blocks(&rng, Q4, K1 * K0), *w2q = random_blocks(&rng, Q8, N * K1);
    double *w1 = malloc((size_t)(K1 * K0) * sizeof *w1), *w2 = malloc((size_t)(N * K1) * sizeof *w2);
    double *mid = malloc((size_t)(M * K1) * sizeof *mid), *ref = malloc((size_t)(M * N) * sizeof *ref);
    decode_blocks(Q4, w1q, K1 * K0, w1);
    decode_blocks(Q8, w2q, N * K1, w2);
    double worst_mag = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < K1; n++) {
            double s = 0;
            for (int64_t k = 0; k < K0; k++) s += x[m * K0 + k] * w1[n * K0 + k];
            mid[m * K1 + n] = s;
        }
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0, a = 0;
            for (int64_t k = 0; k < K1; k++) s += mid[m * K1 + k] * w2[n * K1 + k], a += fabs(mid[m * K1 + k] * w2[n * K1 + k]);
            ref[m * N + n] = s;
            worst_mag = fmax(worst_mag, a);
        }
    int64_t xs[2] = {M, K0};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, xs, x);
    fv_tensor *t1 = block_tensor(r, b, name, Q4, K1, K0, w1q), *t2 = block_tensor(r, b, name, Q8, N, K1, w2q);
    fv_graph *g = NULL;
    fv_tensor *y1 = NULL, *y2 = NULL;
    if (tx && t1 && t2 && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_matmul(g, tx, t1, NULL, &y1)) && th_ok(r, b, name, fv_op_matmul(g, y1, t2, NULL, &y2))) {
        float *got = th_run_and_fetch(r, b, name, g, y2);
        /* both products' rounding, against the largest Σ|x·w| of the second */
        if (got) th_check(r, b, name, got, ref, (size_t)(M * N), 4 * tolerance(K0) * fmax(worst_mag, 1.0));
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(t1);
    fv_tensor_destroy(t2);
    free(x);
    free(w1q);
    free(w2q);
    free(w1);
    free(w2);
    free(mid);
    free(ref);
}

/* gather_rows of a quantised table: exact f32 rows, zeros for indices
 * outside the table. */
static void test_gather(th_runner *r, const th_backend *b, fv_dtype t, int64_t rows, int64_t cols, uint64_t seed)
{
    char name[96];
    snprintf(name, sizeof name, "gather_rows %s [%lld,%lld]", fv_dtype_name(t), (long long)rows, (long long)cols);
    th_rng rng = th_seed(seed);
    uint8_t *tq = random_blocks(&rng, t, rows * cols);
    double *table = malloc((size_t)(rows * cols) * sizeof *table);
    decode_blocks(t, tq, rows * cols, table);
    enum { NI = 9 };
    const int32_t index[NI] = {0, (int32_t)rows - 1, 3 % (int32_t)rows, -1, (int32_t)rows, 1 % (int32_t)rows,
                               (int32_t)rows / 2, 0, 7 % (int32_t)rows};
    double *ref = malloc((size_t)(NI * cols) * sizeof *ref);
    for (int i = 0; i < NI; i++)
        for (int64_t c = 0; c < cols; c++)
            ref[i * cols + c] = index[i] >= 0 && index[i] < rows ? table[index[i] * cols + c] : 0.0;
    int64_t is[1] = {NI};
    fv_tensor *tt = block_tensor(r, b, name, t, rows, cols, tq), *ti = NULL;
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tt && th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_I32, 1, is, &ti)) &&
        th_ok(r, b, name, fv_tensor_upload(ti, index, sizeof index)) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_gather_rows(g, tt, ti, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) th_check(r, b, name, got, ref, (size_t)(NI * cols), 0.0);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tt);
    fv_tensor_destroy(ti);
    free(tq);
    free(table);
    free(ref);
}

/* K not a multiple of 32 cannot make a quantised W, and an X whose K is
 * not W's is refused: both FV_STATUS_INVALID_ARGUMENT. */
static void test_errors(th_runner *r, const th_backend *b)
{
    const char *name = "matmul q8_0 bad shapes";
    int64_t ws[2] = {3, 40}, ws64[2] = {3, 64}, xs[2] = {2, 40};
    fv_tensor *w = NULL, *w64 = NULL, *x = NULL, *y = NULL;
    fv_graph *g = NULL;
    fv_status st = fv_tensor_create(b->ctx, Q8, 2, ws, &w);
    th_expect(r, b, name, st == FV_STATUS_INVALID_ARGUMENT, "q8_0 [3, 40] gave %s", fv_status_name(st));
    fv_tensor_destroy(w);
    if (th_ok(r, b, name, fv_tensor_create(b->ctx, Q4, 2, ws64, &w64)) &&
        th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_F32, 2, xs, &x)) &&
        th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        st = fv_op_matmul(g, x, w64, NULL, &y);
        th_expect(r, b, name, st == FV_STATUS_INVALID_ARGUMENT && strstr(fv_context_last_error(b->ctx), "matmul"),
                  "x [2, 40] · q4_0 [3, 64] gave %s (%s)", fv_status_name(st), fv_context_last_error(b->ctx));
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    fv_tensor_destroy(w64);
}

void test_quant(th_runner *r, const th_backend *b)
{
    test_matmul_cases(r, b);
    test_chain(r, b);
    test_gather(r, b, Q8, 50, 96, 61);
    test_gather(r, b, Q4, 50, 96, 62);
    test_gather(r, b, Q8, 17, 576, 63);
    test_gather(r, b, Q4, 13, 1536, 64);
    test_errors(r, b);
}
