/* dct2d: the orthonormal 2D DCT-II of a token grid, low-frequency block.
 * The reference is the direct double sum over every grid position per
 * output coefficient (no separation, no matrices shared with the op), so it
 * is independent of both the matrix path and VkFFT. On GPU backends every
 * case runs with each path forced (FOVEA_DCT_PATH; VkFFT through its Vulkan
 * or OpenCL backend, where the build and the shape allow it: the name says
 * which path ran). Tolerance: the
 * issue's 1e-4, as max |got - ref| / max(|ref|, 1). */
#include "op_cases.h"
#include "th_util.h"

typedef struct dct_case {
    int batch, gh, gw, kh, kw, c;
} dct_case;

/* y[b, u·kw + v, c] = Σ_i Σ_j a_u a_v cos(π(2i+1)u/2gh) cos(π(2j+1)v/2gw) x[b, i·gw + j, c] */
static void ref_dct(const dct_case *k, const float *x, double *y)
{
    const double pi = 3.14159265358979323846;
    for (int b = 0; b < k->batch; b++)
        for (int u = 0; u < k->kh; u++)
            for (int v = 0; v < k->kw; v++) {
                const double au = sqrt((u ? 2.0 : 1.0) / k->gh), av = sqrt((v ? 2.0 : 1.0) / k->gw);
                for (int c = 0; c < k->c; c++) {
                    double s = 0;
                    for (int i = 0; i < k->gh; i++)
                        for (int j = 0; j < k->gw; j++)
                            s += cos(pi * (2 * i + 1) * u / (2.0 * k->gh)) * cos(pi * (2 * j + 1) * v / (2.0 * k->gw)) *
                                 (double)x[((size_t)(b * k->gh + i) * k->gw + j) * k->c + c];
                    y[((size_t)(b * k->kh + u) * k->kw + v) * k->c + c] = au * av * s;
                }
            }
}

static void run_case(th_runner *r, const th_backend *b, th_rng *rng, const dct_case *k, bool gpu)
{
    char name[128], tag[48] = "";
    if (gpu) /* the path that runs: VkFFT where forced and the device and shape allow it */
        snprintf(tag, sizeof tag, " (%s: %s)", getenv("FOVEA_DCT_PATH"),
                 fv_dct2d_path(b->ctx, k->gh, k->gw, k->kh, k->kw, k->c));
    snprintf(name, sizeof name, "dct2d b%d %dx%d keep %dx%d c%d%s", k->batch, k->gh, k->gw, k->kh, k->kw, k->c, tag);
    const size_t nx = (size_t)k->batch * k->gh * k->gw * k->c, ny = (size_t)k->batch * k->kh * k->kw * k->c;
    float *x = th_random(rng, nx, -1, 1);
    double *ref = malloc(ny * sizeof *ref);
    ref_dct(k, x, ref);
    const int64_t shape[3] = {k->batch, (int64_t)k->gh * k->gw, k->c};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 3, shape, x);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_dct2d(g, tx, k->gh, k->gw, k->kh, k->kw, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) th_check(r, b, name, got, ref, ny, 1e-4); /* the bar */
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(ref);
}

/* Shapes that are not a grid, keeps outside it: INVALID_ARGUMENT. */
static void run_invalid(th_runner *r, const th_backend *b)
{
    const char *name = "dct2d invalid arguments";
    const int64_t shape[3] = {1, 12, 4};
    fv_tensor *x = NULL;
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_F32, 3, shape, &x)) &&
        th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        const fv_status st[3] = {fv_op_dct2d(g, x, 3, 5, 1, 1, &y), fv_op_dct2d(g, x, 3, 4, 4, 1, &y),
                                 fv_op_dct2d(g, x, 3, 4, 1, 0, &y)};
        th_expect(r, b, name,
                  st[0] == FV_STATUS_INVALID_ARGUMENT && st[1] == FV_STATUS_INVALID_ARGUMENT &&
                      st[2] == FV_STATUS_INVALID_ARGUMENT,
                  "statuses %s %s %s", fv_status_name(st[0]), fv_status_name(st[1]), fv_status_name(st[2]));
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
}

void test_dct(th_runner *r, const th_backend *b)
{
    static const dct_case cases[] = {
        {1, 12, 12, 4, 4, 17}, {1, 12, 12, 12, 12, 8}, {2, 24, 24, 8, 8, 64}, {1, 24, 24, 6, 10, 33},
        {1, 24, 24, 24, 24, 16}, {1, 7, 5, 7, 5, 9}, {2, 7, 5, 3, 2, 20}, {1, 1, 1, 1, 1, 1},
        {3, 1, 1, 1, 1, 255}, {1, 5, 7, 5, 1, 3},
        /* grid sides with a prime factor above 13: VkFFT's Bluestein algorithm */
        {1, 17, 12, 5, 4, 8}, {2, 7, 23, 3, 9, 16},
    };
    static const char *const paths[] = {"matrix", "vkfft"};
    const bool gpu = !th_is_cpu_backend(b);
    run_invalid(r, b);
    for (int p = 0; p < (gpu ? 2 : 1); p++) {
        if (gpu) setenv("FOVEA_DCT_PATH", paths[p], 1);
        th_rng rng = th_seed(31);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(r, b, &rng, &cases[i], gpu);
    }
    if (gpu) unsetenv("FOVEA_DCT_PATH");
}
