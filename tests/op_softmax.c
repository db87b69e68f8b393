/* softmax: plain, scaled, causal (square, wide and tall), live-column
 * limits, and one recorded graph replayed with several parameter values.
 * On Vulkan every case runs with both kernel layouts (FOVEA_ROW_VARIANT=cpu
 * and gpu). Reference in double from the masking rule of fovea.h; tolerance
 * 1e-6 (|got - ref| / max(|ref|, 1); the probabilities are ≤ 1). */
#include "op_cases.h"
#include "th_util.h"

/* valid < 0 means all columns */
static void ref_softmax(const float *x, int64_t rows, int64_t per_batch, int64_t cols, double scale,
                        bool causal, int64_t offset, int64_t valid, double *y)
{
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = r % per_batch, live = valid < 0 ? cols : valid;
        if (live > cols) live = cols;
        if (causal && live > i + offset + 1) live = i + offset + 1;
        if (live < 0) live = 0;
        const float *xr = x + r * cols;
        double *yr = y + r * cols, mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < live; c++) mx = fmax(mx, scale * xr[c]);
        for (int64_t c = 0; c < live; c++) sum += yr[c] = exp(scale * xr[c] - mx);
        for (int64_t c = 0; c < live; c++) yr[c] /= sum;
        for (int64_t c = live; c < cols; c++) yr[c] = 0;
    }
}

typedef struct sm_case {
    int ndim;
    int64_t shape[3];
    float scale; /* 0: default (1) */
    bool causal;
} sm_case;

static void run_case(th_runner *r, const th_backend *b, th_rng *rng, const sm_case *c, const char *variant)
{
    int64_t n = 1;
    for (int i = 0; i < c->ndim; i++) n *= c->shape[i];
    int64_t cols = c->shape[c->ndim - 1], per_batch = c->ndim >= 2 ? c->shape[c->ndim - 2] : 1;
    float *x = th_random(rng, (size_t)n, -5, 5);
    double *ref = malloc((size_t)n * sizeof *ref);
    ref_softmax(x, n / cols, per_batch, cols, c->scale ? c->scale : 1.0, c->causal, cols - per_batch, -1,
                ref);
    char name[112];
    snprintf(name, sizeof name, "softmax%s [%lld,%lld,%lld] scale %g%s", c->causal ? " causal" : "",
             (long long)(c->ndim > 2 ? c->shape[0] : 1), (long long)per_batch, (long long)cols,
             (double)c->scale, variant);
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, c->ndim, c->shape, x);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    fv_softmax_desc d = {.scale = c->scale, .causal = c->causal};
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_softmax(g, tx, &d, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) th_check(r, b, name, got, ref, (size_t)n, 1e-6);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(ref);
}

/* One graph with the causal offset in slot 3 and the live columns in slot 5,
 * recorded once (by its first replay) and replayed with each (valid, offset)
 * pair: the kernels read the values per replay, nothing is re-recorded. */
static void run_replays(th_runner *r, const th_backend *b, th_rng *rng, int64_t batch, int64_t rows,
                        int64_t cols, bool causal, const char *variant)
{
    static const int32_t values[][2] = {
        {-1, 0}, /* valid: slot value as is; -1 → clamps to 0: all zeros */
        {1000, 1000}, {20, 15}, {37, 32}, {10, -3}, /* -3: the first rows have no live column */
        {19, 14},     {0, 5},   {36, 0},  {5, 2},
    };
    int64_t n = batch * rows * cols, shape[3] = {batch, rows, cols};
    float *x = th_random(rng, (size_t)n, -4, 4);
    double *ref = malloc((size_t)n * sizeof *ref);
    char name[112];
    snprintf(name, sizeof name, "softmax%s params [%lld,%lld,%lld]%s", causal ? " causal" : "",
             (long long)batch, (long long)rows, (long long)cols, variant);
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 3, shape, x);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    fv_softmax_desc d = {
        .scale = 0.75f, .causal = causal, .offset_param = causal ? 3 + 1 : 0, .valid_cols_param = 5 + 1};
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_softmax(g, tx, &d, &y)) && th_ok(r, b, name, fv_graph_output(g, y))) {
        float *got = malloc((size_t)n * sizeof *got);
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
            int32_t valid = values[k][0], offset = values[k][1];
            char what[160];
            snprintf(what, sizeof what, "%s valid %d offset %d", name, valid, offset);
            if (!th_ok(r, b, what, fv_graph_set_param(g, 5, valid)) ||
                !th_ok(r, b, what, fv_graph_set_param(g, 3, offset)) ||
                !th_replay(r, b, what, g) || /* the first replay records */
                !th_ok(r, b, what, fv_tensor_download(y, got, (size_t)n * sizeof *got)))
                break;
            ref_softmax(x, batch * rows, rows, cols, 0.75, causal, offset, valid < 0 ? 0 : valid, ref);
            th_check(r, b, what, got, ref, (size_t)n, 1e-6);
        }
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(ref);
}

void test_softmax(th_runner *r, const th_backend *b)
{
    static const sm_case cases[] = {
        {1, {1}, 0, false},
        {2, {1, 3}, 0, false},
        {2, {3, 17}, 0.5f, false},
        {3, {2, 5, 255}, 2.0f, false},
        {2, {7, 1000}, 0.125f, false},
        {2, {4, 36}, -0.7f, false},
        {2, {9, 64}, 1.0f, false},
        {3, {2, 5, 37}, 0, true},
        {3, {3, 17, 17}, 0.3f, true},
        {3, {2, 9, 4}, 0, true}, /* more rows than columns: the first 5 rows are all masked */
        {2, {12, 1024}, 0.1f, true},
    };
    /* the Vulkan backend runs both layouts; the CPU backend has one */
    static const char *const variants[] = {"cpu", "gpu"};
    int nvar = th_is_cpu_backend(b) ? 1 : 2;
    for (int v = 0; v < nvar; v++) {
        char tag[32] = "";
        if (!th_is_cpu_backend(b)) {
            setenv("FOVEA_ROW_VARIANT", variants[v], 1);
            snprintf(tag, sizeof tag, " (%s layout)", variants[v]);
        }
        th_rng rng = th_seed(31);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(r, b, &rng, &cases[i], tag);
        run_replays(r, b, &rng, 2, 5, 36, true, tag);
        run_replays(r, b, &rng, 3, 4, 37, true, tag);
        run_replays(r, b, &rng, 2, 3, 36, false, tag);
        run_replays(r, b, &rng, 2, 3, 40, true, tag);
        if (!th_is_cpu_backend(b)) {
            /* several dispatches, each with its own first row (the causal row index) */
            uint64_t old = th_set_storage_limit(b, 8192);
            static const sm_case split[] = {{3, {3, 100, 36}, 0, true}, {2, {150, 38}, 1.5f, true}};
            char stag[48];
            snprintf(stag, sizeof stag, "%s split", tag);
            for (size_t i = 0; i < sizeof split / sizeof split[0]; i++) run_case(r, b, &rng, &split[i], stag);
            th_set_storage_limit(b, old);
        }
    }
    if (!th_is_cpu_backend(b)) unsetenv("FOVEA_ROW_VARIANT");
}
