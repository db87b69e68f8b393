/* patchify: the im2col of a ViT patch embedding. Pure data movement, so the
 * result must match exactly (tolerance 0). Cases cover the 4-wide kernel
 * (patch and width multiples of 4), the scalar one (odd patches, odd
 * widths), a batch, one channel and five, and images whose size is not a
 * multiple of the patch (the strided convolution drops the remainder). */
#include "op_cases.h"

/* y[b, py*gw + px, (c*p + ky)*p + kx] = x[b, c, py*p + ky, px*p + kx],
 * written as the gather it is, independent of ops/patchify.c */
static void ref_patchify(const float *x, int64_t B, int64_t C, int64_t H, int64_t W, int64_t p, double *y)
{
    int64_t gh = H / p, gw = W / p, cols = C * p * p;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < gh * gw; t++)
            for (int64_t k = 0; k < cols; k++) {
                int64_t c = k / (p * p), ky = (k / p) % p, kx = k % p;
                int64_t yy = (t / gw) * p + ky, xx = (t % gw) * p + kx;
                y[(b * gh * gw + t) * cols + k] = x[((b * C + c) * H + yy) * W + xx];
            }
}

void test_patchify(th_runner *r, const th_backend *b)
{
    static const struct {
        int64_t shape[4];
        int patch;
    } cases[] = {
        {{1, 3, 32, 32}, 8},   {{1, 3, 48, 48}, 16},  {{2, 3, 28, 28}, 14}, {{1, 3, 17, 17}, 3},
        {{1, 1, 5, 7}, 1},     {{1, 5, 9, 12}, 4},    {{1, 3, 35, 37}, 8},  {{1, 3, 224, 224}, 16},
        {{1, 3, 30, 30}, 7},   {{3, 2, 20, 12}, 4},
    };
    th_rng rng = th_seed(71);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t *s = cases[i].shape;
        const int64_t p = cases[i].patch, n = s[0] * s[1] * s[2] * s[3];
        const int64_t ny = s[0] * (s[2] / p) * (s[3] / p) * s[1] * p * p;
        float *x = th_random(&rng, (size_t)n, -2, 2);
        double *ref = malloc((size_t)ny * sizeof *ref);
        ref_patchify(x, s[0], s[1], s[2], s[3], p, ref);
        char name[96];
        snprintf(name, sizeof name, "patchify [%lld,%lld,%lld,%lld] p%lld", (long long)s[0], (long long)s[1],
                 (long long)s[2], (long long)s[3], (long long)p);
        fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 4, s, x), *y = NULL;
        fv_graph *g = NULL;
        if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
            th_ok(r, b, name, fv_op_patchify(g, tx, (int)p, &y))) {
            if (fv_tensor_ndim(y) != 3 || fv_tensor_dim(y, 0) != s[0] ||
                fv_tensor_dim(y, 1) != (s[2] / p) * (s[3] / p) || fv_tensor_dim(y, 2) != s[1] * p * p) {
                th_fail(r, b, name, "wrong output shape");
            } else {
                float *got = th_run_and_fetch(r, b, name, g, y);
                if (got) th_check(r, b, name, got, ref, (size_t)ny, 0.0);
                free(got);
            }
        }
        fv_graph_destroy(g);
        fv_tensor_destroy(tx);
        free(x);
        free(ref);
    }

    /* bad arguments are errors naming the op */
    const int64_t bad_shape[3] = {3, 8, 8};
    float *x = th_random(&rng, 3 * 8 * 8, -1, 1);
    fv_tensor *t3 = th_tensor(r, b, FV_DTYPE_F32, 3, bad_shape, x), *y = NULL;
    fv_graph *g = NULL;
    if (t3 && th_ok(r, b, "patchify errors", fv_graph_create(b->ctx, &g))) {
        if (fv_op_patchify(g, t3, 4, &y) != FV_STATUS_INVALID_ARGUMENT ||
            !strstr(fv_context_last_error(b->ctx), "patchify"))
            th_fail(r, b, "patchify errors", "a 3-d image was accepted");
        else
            r->passed++;
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(t3);
    free(x);
}
