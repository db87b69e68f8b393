/* matmul: Y = X · Wᵀ (+ bias), f32 and f16 weights, every kernel variant.
 *
 * The reference is a double-precision dot product of the values the device
 * sees (f16 weights rounded as uploaded). Tolerance: th_check's error is
 * |got - ref| / max(|ref|, 1); an f32 dot product of K terms in [-1, 1]
 * accumulates rounding that grows like sqrt(K), and a sum that cancels to a
 * small |ref| keeps the rounding of its larger partial sums, so the bound is
 * 3e-6 · (1 + sqrt(K)): at least 5x the worst error seen on any variant.
 *
 * On Vulkan and OpenCL each case runs with the device's own choice and then
 * with every variant of that backend that applies, forced through
 * FOVEA_MATMUL_VARIANT; cases with a `split` also force chunking with FOVEA_MATMUL_SPLIT_ROWS, so the range
 * binding of large tensors is exercised at small sizes. */
#include "op_cases.h"

typedef struct mm_case {
    int xnd;
    int64_t xs[3]; /* X's shape; its last dimension is K */
    int64_t N;
    bool bias;
    fv_dtype wtype;
    int split;     /* FOVEA_MATMUL_SPLIT_ROWS, 0 = none */
} mm_case;

static const mm_case cases[] = {
    {1, {1}, 1, false, FV_DTYPE_F32, 0},
    {2, {3, 17}, 5, true, FV_DTYPE_F32, 0},
    {2, {17, 3}, 255, false, FV_DTYPE_F16, 0},
    {2, {5, 4}, 7, true, FV_DTYPE_F32, 0},
    {3, {2, 3, 20}, 17, true, FV_DTYPE_F32, 0},
    {2, {1, 1000}, 1000, false, FV_DTYPE_F32, 0},
    {2, {1, 1000}, 1000, true, FV_DTYPE_F16, 0},
    {2, {1, 3}, 1000, true, FV_DTYPE_F32, 0},
    {2, {8, 1024}, 255, true, FV_DTYPE_F16, 0},
    {3, {2, 37, 1000}, 255, true, FV_DTYPE_F32, 0},
    {2, {255, 64}, 1000, true, FV_DTYPE_F16, 0},
    {2, {100, 255}, 33, true, FV_DTYPE_F16, 0},
    {2, {1000, 36}, 3, false, FV_DTYPE_F32, 0},
    {2, {128, 256}, 128, false, FV_DTYPE_F32, 0},
    /* chunked: at most 16 dispatches each */
    {2, {40, 64}, 100, true, FV_DTYPE_F32, 32},
    {2, {40, 64}, 100, false, FV_DTYPE_F16, 32},
    {2, {40, 33}, 70, true, FV_DTYPE_F16, 16},
    {2, {3, 64}, 100, true, FV_DTYPE_F32, 24},
    {2, {3, 68}, 100, false, FV_DTYPE_F16, 24},
    {2, {30, 72}, 50, true, FV_DTYPE_F16, 24},   /* chunks start inside a 256-byte block */
    {2, {30, 76}, 50, false, FV_DTYPE_F32, 24},
};

static const char *const vk_variants[] = {"texel", "texel_matvec", "tiled", "subgroup_matvec", "generic"};
static const char *const cl_variants[] = {"cl_tile2", "cl_tile8x2", "cl_matvec"};

static bool variant_applies(const char *v, int64_t M, int64_t K)
{
    bool k4 = K % 4 == 0, small = M <= 8;
    if (!strcmp(v, "texel")) return k4;
    if (!strcmp(v, "texel_matvec") || !strcmp(v, "subgroup_matvec")) return k4 && small;
    if (!strcmp(v, "cl_matvec")) return M < 8;
    return true;
}

static double tolerance(int64_t K) { return 3e-6 * (1.0 + sqrt((double)K)); }

/* ref[m, n] = sum_k x[m, k] w[n, k] (+ bias[n]) in double */
static void ref_matmul(const float *x, const float *w, const float *bias, int64_t M, int64_t N, int64_t K,
                       double *y)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)x[m * K + k] * w[n * K + k];
            y[m * N + n] = s;
        }
}

static void set_env(const char *name, const char *value)
{
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

/* One graph: y = matmul(x, w, bias), checked against ref. */
static void run_one(th_runner *r, const th_backend *b, const char *name, const mm_case *c, const float *x,
                    const float *w, const float *bias, const double *ref, int64_t M, int64_t K)
{
    int64_t wshape[2] = {c->N, K}, bshape[1] = {c->N};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, c->xnd, c->xs, x);
    fv_tensor *tw = th_tensor(r, b, c->wtype, 2, wshape, w);
    fv_tensor *tb = c->bias ? th_tensor(r, b, FV_DTYPE_F32, 1, bshape, bias) : NULL;
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tx && tw && (tb || !c->bias) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_matmul(g, tx, tw, tb, &y))) {
        if (fv_tensor_ndim(y) != c->xnd || fv_tensor_dim(y, -1) != c->N) {
            th_fail(r, b, name, "output has the wrong shape");
        } else {
            float *got = th_run_and_fetch(r, b, name, g, y);
            if (got) th_check(r, b, name, got, ref, (size_t)(M * c->N), tolerance(K));
            free(got);
        }
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tw);
    fv_tensor_destroy(tb);
}

static void test_cases(th_runner *r, const th_backend *b)
{
    /* the backends with kernel variants to force; the CPU backend has one path */
    const char *const *variants = NULL;
    int nvariants = 0;
    if (!strcmp(b->name, "vulkan")) {
        variants = vk_variants;
        nvariants = (int)(sizeof vk_variants / sizeof vk_variants[0]);
    } else if (!strcmp(b->name, "opencl")) {
        variants = cl_variants;
        nvariants = (int)(sizeof cl_variants / sizeof cl_variants[0]);
    }
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const mm_case *c = &cases[ci];
        int64_t K = c->xs[c->xnd - 1], M = 1;
        for (int i = 0; i < c->xnd - 1; i++) M *= c->xs[i];
        th_rng rng = th_seed(100 + ci);
        float *x = th_random(&rng, (size_t)(M * K), -1, 1);
        float *w = th_random(&rng, (size_t)(c->N * K), -1, 1);
        float *bias = th_random(&rng, (size_t)c->N, -1, 1);
        if (c->wtype == FV_DTYPE_F16)
            for (int64_t i = 0; i < c->N * K; i++) w[i] = th_round_f16(w[i]);
        double *ref = malloc((size_t)(M * c->N) * sizeof *ref);
        ref_matmul(x, w, c->bias ? bias : NULL, M, c->N, K, ref);
        char shape[64], split[24] = "";
        if (c->xnd == 1) snprintf(shape, sizeof shape, "[%lld]", (long long)c->xs[0]);
        else if (c->xnd == 2) snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)c->xs[0], (long long)c->xs[1]);
        else
            snprintf(shape, sizeof shape, "[%lld,%lld,%lld]", (long long)c->xs[0], (long long)c->xs[1],
                     (long long)c->xs[2]);
        if (c->split) snprintf(split, sizeof split, " split%d", c->split);
        char splitv[16];
        snprintf(splitv, sizeof splitv, "%d", c->split);
        set_env("FOVEA_MATMUL_SPLIT_ROWS", c->split && variants ? splitv : NULL);
        /* -1: the device's own choice; then each forced variant */
        for (int v = -1; v < nvariants; v++) {
            if (v >= 0 && !variant_applies(variants[v], M, K)) continue;
            char name[128];
            snprintf(name, sizeof name, "matmul %s·[%lld,%lld]%s%s %s%s", shape, (long long)c->N, (long long)K,
                     c->wtype == FV_DTYPE_F16 ? "h" : "", c->bias ? "+b" : "", v < 0 ? "auto" : variants[v], split);
            set_env("FOVEA_MATMUL_VARIANT", v < 0 ? NULL : variants[v]);
            run_one(r, b, name, c, x, w, bias, ref, M, K);
        }
        set_env("FOVEA_MATMUL_VARIANT", NULL);
        set_env("FOVEA_MATMUL_SPLIT_ROWS", NULL);
        free(x);
        free(w);
        free(bias);
        free(ref);
    }
}

/* Two products in a row: the second reads the first's output from the
 * graph's arena (an intermediate at a non-zero offset). */
static void test_chain(th_runner *r, const th_backend *b)
{
    const int64_t M = 9, K0 = 20, K1 = 36, N = 13;
    const char *name = "matmul chain [9,20]·[36,20]ᵀ·[13,36]ᵀ";
    th_rng rng = th_seed(7);
    float *x = th_random(&rng, (size_t)(M * K0), -1, 1), *w1 = th_random(&rng, (size_t)(K1 * K0), -1, 1);
    float *w2 = th_random(&rng, (size_t)(N * K1), -1, 1);
    double *mid = malloc((size_t)(M * K1) * sizeof *mid), *ref = malloc((size_t)(M * N) * sizeof *ref);
    ref_matmul(x, w1, NULL, M, K1, K0, mid);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = 0;
            for (int64_t k = 0; k < K1; k++) s += mid[m * K1 + k] * w2[n * K1 + k];
            ref[m * N + n] = s;
        }
    int64_t xs[2] = {M, K0}, w1s[2] = {K1, K0}, w2s[2] = {N, K1};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, xs, x), *t1 = th_tensor(r, b, FV_DTYPE_F32, 2, w1s, w1);
    fv_tensor *t2 = th_tensor(r, b, FV_DTYPE_F32, 2, w2s, w2);
    fv_graph *g = NULL;
    fv_tensor *y1 = NULL, *y2 = NULL;
    if (tx && t1 && t2 && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_matmul(g, tx, t1, NULL, &y1)) && th_ok(r, b, name, fv_op_matmul(g, y1, t2, NULL, &y2))) {
        float *got = th_run_and_fetch(r, b, name, g, y2);
        if (got) th_check(r, b, name, got, ref, (size_t)(M * N), 1e-5);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(t1);
    fv_tensor_destroy(t2);
    free(x);
    free(w1);
    free(w2);
    free(mid);
    free(ref);
}

/* Wrong shapes and dtypes are refused with FV_STATUS_INVALID_ARGUMENT. */
static void test_errors(th_runner *r, const th_backend *b)
{
    const char *name = "matmul rejects bad shapes";
    int64_t xs[2] = {3, 8}, ws[2] = {5, 9}, w3[3] = {1, 5, 8}, bs[1] = {4};
    float data[64] = {0.5f};
    fv_tensor *x = th_tensor(r, b, FV_DTYPE_F32, 2, xs, data), *wk = th_tensor(r, b, FV_DTYPE_F32, 2, ws, data);
    fv_tensor *wd = th_tensor(r, b, FV_DTYPE_F32, 3, w3, data), *bias = th_tensor(r, b, FV_DTYPE_F32, 1, bs, data);
    fv_tensor *wi = th_tensor(r, b, FV_DTYPE_I32, 2, ws, data);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (x && wk && wd && bias && wi && th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        int64_t good_s[2] = {5, 8};
        fv_tensor *good = th_tensor(r, b, FV_DTYPE_F32, 2, good_s, data);
        fv_status s1 = fv_op_matmul(g, x, wk, NULL, &y);   /* K differs   */
        fv_status s2 = fv_op_matmul(g, x, wd, NULL, &y);   /* W not 2-d    */
        fv_status s3 = fv_op_matmul(g, x, good, bias, &y); /* bias not [N] */
        fv_status s4 = fv_op_matmul(g, wi, good, NULL, &y);/* X not f32    */
        if (s1 == FV_STATUS_INVALID_ARGUMENT && s2 == FV_STATUS_INVALID_ARGUMENT &&
            s3 == FV_STATUS_INVALID_ARGUMENT && s4 == FV_STATUS_INVALID_ARGUMENT) {
            r->passed++;
            printf("ok   %-7s %s\n", b->name, name);
        } else {
            th_fail(r, b, name, "statuses %s %s %s %s", fv_status_name(s1), fv_status_name(s2), fv_status_name(s3),
                    fv_status_name(s4));
        }
        fv_tensor_destroy(good);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    fv_tensor_destroy(wk);
    fv_tensor_destroy(wd);
    fv_tensor_destroy(bias);
    fv_tensor_destroy(wi);
}

void test_matmul(th_runner *r, const th_backend *b)
{
    test_cases(r, b);
    test_chain(r, b);
    test_errors(r, b);
}
