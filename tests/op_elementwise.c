/* scale, gelu, gelu_tanh, quick_gelu, silu and swiglu against double
 * references. Tolerances (max |got - ref| / max(|ref|, 1)): 1e-6 for scale
 * (one rounding), 1e-5 for the transcendental ones (f32 exp/erf). */
#include "op_cases.h"
#include "th_util.h"

enum { U_SCALE, U_GELU, U_GELU_TANH, U_QUICK_GELU, U_SILU, U_COUNT };
static const char *const unary_names[U_COUNT] = {"scale", "gelu", "gelu_tanh", "quick_gelu", "silu"};
static const float scale_factor = -1.7f;

static double ref_unary(int op, double x)
{
    switch (op) {
    case U_SCALE:
        return x * (double)scale_factor;
    case U_GELU:
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case U_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case U_QUICK_GELU:
        return x / (1.0 + exp(-1.702 * x));
    default:
        return x / (1.0 + exp(-x));
    }
}

static fv_status build_unary(fv_graph *g, int op, fv_tensor *x, fv_tensor **y)
{
    switch (op) {
    case U_SCALE:
        return fv_op_scale(g, x, scale_factor, y);
    case U_GELU:
        return fv_op_gelu(g, x, y);
    case U_GELU_TANH:
        return fv_op_gelu_tanh(g, x, y);
    case U_QUICK_GELU:
        return fv_op_quick_gelu(g, x, y);
    default:
        return fv_op_silu(g, x, y);
    }
}

/* one graph: y = op(x) for x of `shape`, values uniform in [lo, hi) */
static void run_unary(th_runner *r, const th_backend *b, th_rng *rng, int op, int ndim, const int64_t *shape,
                      float lo, float hi, const char *tag)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *x = th_random(rng, (size_t)n, lo, hi);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < n; i++) ref[i] = ref_unary(op, x[i]);
    char name[96];
    snprintf(name, sizeof name, "%s n=%lld [%g,%g)%s", unary_names[op], (long long)n, lo, hi, tag);
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, ndim, shape, x);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, build_unary(g, op, tx, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) th_check(r, b, name, got, ref, (size_t)n, op == U_SCALE ? 1e-6 : 1e-5);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(ref);
}

/* swiglu from two tensors (split = false) or from one of width 2·cols */
static void run_swiglu(th_runner *r, const th_backend *b, th_rng *rng, int64_t rows, int64_t cols, bool split,
                       const char *tag)
{
    int64_t n = rows * cols;
    float *gate = th_random(rng, (size_t)(split ? 2 * n : n), -6, 6);
    float *up = split ? NULL : th_random(rng, (size_t)n, -3, 3);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < cols; c++) {
            double g = split ? gate[i * 2 * cols + c] : gate[i * cols + c];
            double u = split ? gate[i * 2 * cols + cols + c] : up[i * cols + c];
            ref[i * cols + c] = g / (1.0 + exp(-g)) * u;
        }
    char name[96];
    snprintf(name, sizeof name, "swiglu%s [%lld,%lld]%s", split ? " split" : "", (long long)rows,
             (long long)cols, tag);
    int64_t gshape[2] = {rows, split ? 2 * cols : cols}, ushape[2] = {rows, cols};
    fv_tensor *tg = th_tensor(r, b, FV_DTYPE_F32, 2, gshape, gate);
    fv_tensor *tu = split ? NULL : th_tensor(r, b, FV_DTYPE_F32, 2, ushape, up);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tg && (split || tu) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_swiglu(g, tg, tu, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) th_check(r, b, name, got, ref, (size_t)n, 1e-5);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tg);
    fv_tensor_destroy(tu);
    free(gate);
    free(up);
    free(ref);
}

void test_elementwise(th_runner *r, const th_backend *b)
{
    static const struct {
        int ndim;
        int64_t shape[3];
    } shapes[] = {{1, {1}}, {1, {3}}, {2, {1, 17}}, {1, {255}}, {2, {10, 100}}, {3, {3, 5, 68}}};
    th_rng rng = th_seed(21);
    for (int op = 0; op < U_COUNT; op++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            run_unary(r, b, &rng, op, shapes[s].ndim, shapes[s].shape, -6, 6, "");
        /* far tails: exp overflow, erf saturating to ±1, the tanh clamp */
        int64_t wide[1] = {1000};
        run_unary(r, b, &rng, op, 1, wide, -60, 60, "");
    }
    static const int64_t sw[][2] = {{1, 1}, {3, 17}, {5, 64}, {7, 255}};
    for (size_t s = 0; s < sizeof sw / sizeof sw[0]; s++) {
        run_swiglu(r, b, &rng, sw[s][0], sw[s][1], false, "");
        run_swiglu(r, b, &rng, sw[s][0], sw[s][1], true, "");
    }
    /* tensors bound in several ranges, as when larger than a storage binding */
    if (!th_is_cpu_backend(b)) {
        uint64_t old = th_set_storage_limit(b, 4096);
        int64_t big[2] = {40, 103}, big4[2] = {40, 100};
        run_unary(r, b, &rng, U_GELU, 2, big, -6, 6, " split");
        run_unary(r, b, &rng, U_SILU, 2, big4, -6, 6, " split");
        th_set_storage_limit(b, 8192);
        run_swiglu(r, b, &rng, 100, 36, false, " split");
        run_swiglu(r, b, &rng, 100, 36, true, " split");
        run_swiglu(r, b, &rng, 300, 7, true, " split");
        th_set_storage_limit(b, old);
    }
}
