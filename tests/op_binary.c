/* add and mul, with broadcasting and between equal shapes */
#include "op_cases.h"

static void ref_binary(bool add, const float *a, const int64_t *as, const float *b, const int64_t *bs,
                       const int64_t *ys, double *y)
{
    /* shapes are 4-d, padded with 1 on the left */
    int64_t i = 0;
    for (int64_t i0 = 0; i0 < ys[0]; i0++)
        for (int64_t i1 = 0; i1 < ys[1]; i1++)
            for (int64_t i2 = 0; i2 < ys[2]; i2++)
                for (int64_t i3 = 0; i3 < ys[3]; i3++, i++) {
                    int64_t ia = (((i0 % as[0]) * as[1] + i1 % as[1]) * as[2] + i2 % as[2]) * as[3] + i3 % as[3];
                    int64_t ib = (((i0 % bs[0]) * bs[1] + i1 % bs[1]) * bs[2] + i2 % bs[2]) * bs[3] + i3 % bs[3];
                    y[i] = add ? (double)a[ia] + b[ib] : (double)a[ia] * b[ib];
                }
}

void test_binary(th_runner *r, const th_backend *b)
{
    static const struct {
        int64_t a[4], bsh[4];
    } shapes[] = {
        {{1, 1, 1, 1}, {1, 1, 1, 1}},     {{1, 1, 3, 17}, {1, 1, 3, 17}}, {{1, 2, 5, 255}, {1, 1, 1, 255}},
        {{3, 1, 7, 1}, {1, 4, 1, 9}},     {{1, 1, 1000, 3}, {1, 1, 1000, 1}}, {{2, 3, 4, 5}, {1, 3, 1, 5}},
        /* equal shapes: the unit-wide kernels (units of 4 and 8 floats) */
        {{1, 1, 5, 20}, {1, 1, 5, 20}},   {{1, 3, 33, 128}, {1, 3, 33, 128}},
    };
    th_rng rng = th_seed(11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int op = 0; op < 2; op++) {
            const int64_t *as = shapes[s].a, *bs = shapes[s].bsh;
            int64_t ys[4], na = 1, nb = 1, ny = 1;
            for (int k = 0; k < 4; k++) {
                ys[k] = as[k] > bs[k] ? as[k] : bs[k];
                na *= as[k];
                nb *= bs[k];
                ny *= ys[k];
            }
            float *a = th_random(&rng, (size_t)na, -2, 2), *bv = th_random(&rng, (size_t)nb, -2, 2);
            double *ref = malloc((size_t)ny * sizeof *ref);
            ref_binary(op == 0, a, as, bv, bs, ys, ref);
            char name[96];
            snprintf(name, sizeof name, "%s [%lld,%lld,%lld,%lld]x[%lld,%lld,%lld,%lld]", op ? "mul" : "add",
                     (long long)as[0], (long long)as[1], (long long)as[2], (long long)as[3], (long long)bs[0],
                     (long long)bs[1], (long long)bs[2], (long long)bs[3]);
            /* b is given with fewer dims when its leading dims are 1: exercises rank broadcasting */
            int bnd = 4;
            while (bnd > 1 && bs[4 - bnd] == 1) bnd--;
            fv_tensor *ta = th_tensor(r, b, FV_DTYPE_F32, 4, as, a);
            fv_tensor *tb = th_tensor(r, b, FV_DTYPE_F32, bnd, bs + 4 - bnd, bv);
            fv_graph *g = NULL;
            fv_tensor *y = NULL;
            if (ta && tb && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
                th_ok(r, b, name, (op ? fv_op_mul : fv_op_add)(g, ta, tb, &y))) {
                float *got = th_run_and_fetch(r, b, name, g, y);
                if (got) th_check(r, b, name, got, ref, (size_t)ny, 1e-6);
                free(got);
            }
            fv_graph_destroy(g);
            fv_tensor_destroy(ta);
            fv_tensor_destroy(tb);
            free(a);
            free(bv);
            free(ref);
        }
    }
}
