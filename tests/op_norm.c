/* layernorm and rmsnorm: with and without weight / bias, f32 and f16
 * weights, odd row lengths, and rows whose mean is large against their
 * spread. On Vulkan every case runs with both kernel layouts
 * (FOVEA_ROW_VARIANT=cpu and gpu). Reference in double. Tolerance
 * (|got - ref| / max(|ref|, 1)): 1e-5; 1e-4 where |mean| / std = 200, as f32
 * keeps x itself only to 7 digits of its mean. */
#include "op_cases.h"
#include "th_util.h"

typedef struct norm_case {
    bool rms;
    int64_t rows, cols;
    bool weight, bias;
    fv_dtype wdtype;
    float center; /* data: center + U(-spread, spread) */
    float spread;
    bool outlier; /* each row's first value is 1000: no cancellation allowed */
} norm_case;

static void run_case(th_runner *r, const th_backend *b, th_rng *rng, const norm_case *c, const char *tag)
{
    int64_t n = c->rows * c->cols;
    const float eps = 1e-5f;
    float *x = th_random(rng, (size_t)n, c->center - c->spread, c->center + c->spread);
    for (int64_t i = 0; c->outlier && i < c->rows; i++) x[i * c->cols] = 1000;
    float *w = th_random(rng, (size_t)c->cols, 0.5f, 1.5f), *bias = th_random(rng, (size_t)c->cols, -1, 1);
    if (c->wdtype == FV_DTYPE_F16)
        for (int64_t i = 0; i < c->cols; i++) w[i] = th_round_f16(w[i]), bias[i] = th_round_f16(bias[i]);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < c->rows; i++) {
        const float *xr = x + i * c->cols;
        double mean = 0, var = 0;
        if (!c->rms) {
            for (int64_t k = 0; k < c->cols; k++) mean += xr[k];
            mean /= (double)c->cols;
        }
        for (int64_t k = 0; k < c->cols; k++) var += (xr[k] - mean) * (xr[k] - mean);
        var /= (double)c->cols;
        for (int64_t k = 0; k < c->cols; k++) {
            double v = (xr[k] - mean) / sqrt(var + eps);
            if (c->weight) v *= w[k];
            if (c->bias) v += bias[k];
            ref[i * c->cols + k] = v;
        }
    }
    char name[128];
    snprintf(name, sizeof name, "%s [%lld,%lld]%s%s %s x~%g%s%s", c->rms ? "rmsnorm" : "layernorm",
             (long long)c->rows, (long long)c->cols, c->weight ? " w" : "", c->bias ? " b" : "",
             fv_dtype_name(c->wdtype), (double)c->center, c->outlier ? " outlier" : "", tag);
    int64_t xs[2] = {c->rows, c->cols}, ws[1] = {c->cols};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, xs, x);
    fv_tensor *tw = c->weight ? th_tensor(r, b, c->wdtype, 1, ws, w) : NULL;
    fv_tensor *tb = c->bias ? th_tensor(r, b, c->wdtype, 1, ws, bias) : NULL;
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tx && (!c->weight || tw) && (!c->bias || tb) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name,
              c->rms ? fv_op_rmsnorm(g, tx, tw, eps, &y) : fv_op_layernorm(g, tx, tw, tb, eps, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) th_check(r, b, name, got, ref, (size_t)n, fabsf(c->center) > 10 ? 1e-4 : 1e-5);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tw);
    fv_tensor_destroy(tb);
    free(x);
    free(w);
    free(bias);
    free(ref);
}

void test_norm(th_runner *r, const th_backend *b)
{
    const fv_dtype F32 = FV_DTYPE_F32, F16 = FV_DTYPE_F16;
    const norm_case cases[] = {
        {false, 1, 1, true, true, F32, 0, 2},          {false, 3, 17, true, true, F32, 0.5f, 2},
        {false, 5, 255, false, false, F32, 0, 3},      {false, 6, 1000, true, false, F32, -1, 2},
        {false, 4, 256, false, true, F32, 0, 2},       {false, 7, 768, true, true, F16, 0, 2},
        {false, 3, 33, true, true, F16, 0, 2},         {false, 5, 512, true, true, F32, 100, 0.5f},
        {true, 1, 1, true, false, F32, 0, 2},          {true, 3, 17, false, false, F32, 0, 2},
        {true, 5, 255, true, false, F32, 1, 2},        {true, 4, 4096, true, false, F32, 0, 2},
        {true, 6, 64, true, false, F16, 0, 2},         {true, 2, 1000, false, false, F32, 0, 0.01f},
        {false, 4, 20, true, true, F16, 0, 2},         {true, 3, 20, true, false, F32, 0, 2},
        {false, 6, 1000, true, true, F32, 0, 1, true}, {false, 9, 64, false, false, F32, 0, 1, true},
    };
    static const char *const variants[] = {"cpu", "gpu"};
    int nvar = th_is_cpu_backend(b) ? 1 : 2;
    for (int v = 0; v < nvar; v++) {
        char tag[32] = "";
        if (!th_is_cpu_backend(b)) {
            setenv("FOVEA_ROW_VARIANT", variants[v], 1);
            snprintf(tag, sizeof tag, " (%s layout)", variants[v]);
        }
        th_rng rng = th_seed(41);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(r, b, &rng, &cases[i], tag);
        if (!th_is_cpu_backend(b)) {
            uint64_t old = th_set_storage_limit(b, 8192);
            const norm_case split[] = {{false, 300, 36, true, true, F32, 0, 2},
                                       {true, 150, 38, true, false, F16, 0, 2}};
            char stag[48];
            snprintf(stag, sizeof stag, "%s split", tag);
            for (size_t i = 0; i < sizeof split / sizeof split[0]; i++) run_case(r, b, &rng, &split[i], stag);
            th_set_storage_limit(b, old);
        }
    }
    if (!th_is_cpu_backend(b)) unsetenv("FOVEA_ROW_VARIANT");
}
