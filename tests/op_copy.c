/* permute, transpose, convert (f32 <-> f16), concat and gather_rows. These
 * move values without arithmetic, so results must match exactly (tolerance
 * 0), f32 -> f16 included: it must round to nearest even, as the reference
 * does. Also: out-of-range gather indices give zero
 * rows, and each op with its output bound in several ranges. */
#include "op_cases.h"
#include "th_util.h"

/* Downloads y (f32 or f16) as floats. */
static float *fetch_any(th_runner *r, const th_backend *b, const char *name, fv_graph *g, fv_tensor *y)
{
    if (!th_ok(r, b, name, fv_graph_output(g, y)) || !th_replay(r, b, name, g)) return NULL;
    size_t n = (size_t)fv_tensor_numel(y), bytes = fv_tensor_nbytes(y);
    void *raw = malloc(bytes);
    float *out = malloc(n * sizeof *out);
    if (!th_ok(r, b, name, fv_tensor_download(y, raw, bytes))) {
        free(raw);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = fv_tensor_dtype(y) == FV_DTYPE_F16 ? fv_f16_to_f32(((uint16_t *)raw)[i]) : ((float *)raw)[i];
    free(raw);
    return out;
}

static void finish(th_runner *r, const th_backend *b, const char *name, fv_graph *g, fv_tensor *y,
                   fv_status st, const double *ref, double tol)
{
    if (!th_ok(r, b, name, st)) return;
    float *got = fetch_any(r, b, name, g, y);
    if (got) th_check(r, b, name, got, ref, (size_t)fv_tensor_numel(y), tol);
    free(got);
}

static int64_t numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* values as the device holds them in dtype */
static float *random_in(th_rng *rng, int64_t n, fv_dtype dtype)
{
    float *x = th_random(rng, (size_t)n, -3, 3);
    if (dtype == FV_DTYPE_F16)
        for (int64_t i = 0; i < n; i++) x[i] = th_round_f16(x[i]);
    return x;
}

static void run_permute(th_runner *r, const th_backend *b, th_rng *rng, fv_dtype dtype, int ndim,
                        const int64_t *shape, const int *perm, const char *tag)
{
    int64_t n = numel(ndim, shape), ys[4], xstr[4], s = 1;
    for (int k = ndim - 1; k >= 0; k--) xstr[k] = s, s *= shape[k];
    for (int k = 0; k < ndim; k++) ys[k] = shape[perm[k]];
    float *x = random_in(rng, n, dtype);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < n; i++) { /* i is the output's linear index */
        int64_t rem = i, src = 0;
        for (int k = ndim - 1; k >= 0; k--) {
            src += (rem % ys[k]) * xstr[perm[k]];
            rem /= ys[k];
        }
        ref[i] = x[src];
    }
    char name[112];
    int len = snprintf(name, sizeof name, "permute %s [", fv_dtype_name(dtype));
    for (int k = 0; k < ndim; k++)
        len += snprintf(name + len, sizeof name - len, "%s%lld", k ? "," : "", (long long)shape[k]);
    len += snprintf(name + len, sizeof name - len, "] by (");
    for (int k = 0; k < ndim; k++)
        len += snprintf(name + len, sizeof name - len, "%s%d", k ? "," : "", perm[k]);
    snprintf(name + len, sizeof name - len, ")%s", tag);
    fv_tensor *tx = th_tensor(r, b, dtype, ndim, shape, x), *y = NULL;
    fv_graph *g = NULL;
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        /* a swap of two dims also goes through transpose (the second dim
         * given from the end, to cover negative dims) */
        int moved[2], nm = 0;
        for (int k = 0; k < ndim; k++)
            if (perm[k] != k && nm < 2) moved[nm++] = k;
        bool swap = nm == 2 && perm[moved[0]] == moved[1] && perm[moved[1]] == moved[0];
        for (int k = 0; swap && k < ndim; k++) swap = k == moved[0] || k == moved[1] || perm[k] == k;
        fv_status st =
            swap ? fv_op_transpose(g, tx, moved[0], moved[1] - ndim, &y) : fv_op_permute(g, tx, perm, &y);
        if (swap) strncat(name, " (transpose)", sizeof name - strlen(name) - 1);
        finish(r, b, name, g, y, st, ref, 0);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(ref);
}

static void run_convert(th_runner *r, const th_backend *b, th_rng *rng, fv_dtype from, fv_dtype to, int ndim,
                        const int64_t *shape, const char *tag)
{
    int64_t n = numel(ndim, shape);
    float *x = random_in(rng, n, from);
    double *ref = malloc((size_t)n * sizeof *ref);
    for (int64_t i = 0; i < n; i++) ref[i] = to == FV_DTYPE_F16 ? th_round_f16(x[i]) : x[i];
    char name[96];
    snprintf(name, sizeof name, "convert %s -> %s n=%lld%s", fv_dtype_name(from), fv_dtype_name(to),
             (long long)n, tag);
    fv_tensor *tx = th_tensor(r, b, from, ndim, shape, x), *y = NULL;
    fv_graph *g = NULL;
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        fv_status st = fv_op_convert(g, tx, to, &y);
        finish(r, b, name, g, y, st, ref, 0);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(ref);
}

static void run_concat(th_runner *r, const th_backend *b, th_rng *rng, fv_dtype dtype, int ndim,
                       const int64_t *as, const int64_t *bs, int dim, const char *tag)
{
    int d = dim < 0 ? dim + ndim : dim;
    int64_t na = numel(ndim, as), nb = numel(ndim, bs);
    float *xa = random_in(rng, na, dtype), *xb = random_in(rng, nb, dtype);
    double *ref = malloc((size_t)(na + nb) * sizeof *ref);
    /* outer = dims before d, inner = dims from d on, for a and b */
    int64_t outer = 1, ia = 1, ib = 1;
    for (int k = 0; k < d; k++) outer *= as[k];
    for (int k = d; k < ndim; k++) ia *= as[k], ib *= bs[k];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < ia; i++) ref[o * (ia + ib) + i] = xa[o * ia + i];
        for (int64_t i = 0; i < ib; i++) ref[o * (ia + ib) + ia + i] = xb[o * ib + i];
    }
    char name[112];
    snprintf(name, sizeof name, "concat %s dim %d: %lld + %lld elements%s", fv_dtype_name(dtype), dim,
             (long long)na, (long long)nb, tag);
    fv_tensor *ta = th_tensor(r, b, dtype, ndim, as, xa), *tb = th_tensor(r, b, dtype, ndim, bs, xb),
              *y = NULL;
    fv_graph *g = NULL;
    if (ta && tb && th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        fv_status st = fv_op_concat(g, ta, tb, dim, &y);
        finish(r, b, name, g, y, st, ref, 0);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(ta);
    fv_tensor_destroy(tb);
    free(xa);
    free(xb);
    free(ref);
}

static void run_gather(th_runner *r, const th_backend *b, th_rng *rng, fv_dtype dtype, int ndim,
                       const int64_t *shape, int64_t count, const char *tag)
{
    int64_t rows = shape[0], cols = numel(ndim, shape) / rows;
    float *table = random_in(rng, rows * cols, dtype);
    int32_t *index = malloc((size_t)count * sizeof *index);
    /* mostly valid indices, with every kind of invalid one mixed in */
    static const int32_t bad[] = {-1, INT32_MIN, INT32_MAX, 0x40000000};
    for (int64_t i = 0; i < count; i++) index[i] = (int32_t)(th_u32(rng) % (uint32_t)rows);
    for (int64_t i = 0; i < count; i += 5) index[i] = i / 5 % 5 == 4 ? (int32_t)rows : bad[i / 5 % 5];
    double *ref = malloc((size_t)(count * cols) * sizeof *ref);
    for (int64_t i = 0; i < count; i++)
        for (int64_t c = 0; c < cols; c++)
            ref[i * cols + c] = index[i] >= 0 && index[i] < rows ? table[index[i] * cols + c] : 0.0;
    char name[96];
    snprintf(name, sizeof name, "gather_rows %s %lld of [%lld x %lld]%s", fv_dtype_name(dtype),
             (long long)count, (long long)rows, (long long)cols, tag);
    fv_tensor *tt = th_tensor(r, b, dtype, ndim, shape, table), *ti = NULL, *y = NULL;
    int64_t is[1] = {count};
    if (th_ok(r, b, name, fv_tensor_create(b->ctx, FV_DTYPE_I32, 1, is, &ti)))
        th_ok(r, b, name, fv_tensor_upload(ti, index, (size_t)count * sizeof *index));
    fv_graph *g = NULL;
    if (tt && ti && th_ok(r, b, name, fv_graph_create(b->ctx, &g))) {
        fv_status st = fv_op_gather_rows(g, tt, ti, &y);
        finish(r, b, name, g, y, st, ref, 0);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tt);
    fv_tensor_destroy(ti);
    free(table);
    free(index);
    free(ref);
}

void test_copy(th_runner *r, const th_backend *b)
{
    const fv_dtype F32 = FV_DTYPE_F32, F16 = FV_DTYPE_F16;
    th_rng rng = th_seed(51);
    {
        static const int64_t s4[4] = {2, 3, 5, 7}, s3[3] = {17, 3, 5}, s2[2] = {255, 3}, s1[1] = {1};
        static const int64_t t3[3] = {3, 255, 17}, t2[2] = {6, 7}, f3[3] = {4, 5, 6};
        static const int p4a[4] = {3, 1, 0, 2}, p4b[4] = {0, 2, 1, 3}, p3[3] = {2, 0, 1}, p2[2] = {1, 0},
                         p1[1] = {0};
        static const int t3p[3] = {0, 2, 1}, id3[3] = {0, 1, 2};
        run_permute(r, b, &rng, F32, 4, s4, p4a, "");
        run_permute(r, b, &rng, F32, 4, s4, p4b, "");
        run_permute(r, b, &rng, F32, 3, s3, p3, "");
        run_permute(r, b, &rng, F32, 2, s2, p2, "");
        run_permute(r, b, &rng, F32, 1, s1, p1, "");
        run_permute(r, b, &rng, F32, 3, t3, t3p, "");
        run_permute(r, b, &rng, F32, 2, t2, p2, "");
        run_permute(r, b, &rng, F16, 3, f3, p3, "");
        run_permute(r, b, &rng, F16, 3, f3, id3, "");
        /* the last dim kept and a multiple of 4: 4-wide items */
        static const int64_t v3[3] = {3, 5, 8}, w3[3] = {4, 6, 12};
        static const int p102[3] = {1, 0, 2};
        run_permute(r, b, &rng, F32, 3, v3, p102, "");
        run_permute(r, b, &rng, F16, 3, w3, p102, "");
    }
    {
        static const int64_t c1[1] = {1000}, c2[2] = {3, 17}, c3[1] = {255}, c4[1] = {5};
        run_convert(r, b, &rng, F32, F16, 1, c1, "");
        run_convert(r, b, &rng, F32, F16, 2, c2, "");
        run_convert(r, b, &rng, F16, F32, 1, c3, "");
        run_convert(r, b, &rng, F32, F32, 1, c4, "");
        run_convert(r, b, &rng, F16, F16, 2, c2, "");
    }
    {
        static const int64_t a1[2] = {3, 4}, b1[2] = {3, 5}, a2[3] = {2, 3, 4}, b2[3] = {5, 3, 4},
                             b3[3] = {2, 1, 4};
        static const int64_t a4[2] = {7, 3}, b4[2] = {7, 9}, a5[1] = {1}, b5[1] = {3};
        static const int64_t a6[4] = {2, 3, 4, 5}, b6[4] = {2, 3, 1, 5};
        run_concat(r, b, &rng, F32, 2, a1, b1, 1, "");
        run_concat(r, b, &rng, F32, 3, a2, b2, 0, "");
        run_concat(r, b, &rng, F32, 3, a2, b3, -2, "");
        run_concat(r, b, &rng, F16, 2, a4, b4, 1, "");
        run_concat(r, b, &rng, F32, 1, a5, b5, 0, "");
        run_concat(r, b, &rng, F32, 4, a6, b6, 2, "");
        static const int64_t a7[2] = {2, 8}, b7[2] = {3, 8}, a8[2] = {3, 8}, b8[2] = {3, 12};
        run_concat(r, b, &rng, F16, 2, a7, b7, 0, "");
        run_concat(r, b, &rng, F32, 2, a8, b8, 1, "");
    }
    {
        static const int64_t g1[2] = {10, 17}, g2[2] = {50, 64}, g3[3] = {9, 3, 4}, g4[1] = {5},
                             g5[2] = {7, 3}, g6[2] = {9, 16};
        run_gather(r, b, &rng, F32, 2, g1, 23, "");
        run_gather(r, b, &rng, F32, 2, g2, 40, "");
        run_gather(r, b, &rng, F16, 3, g3, 11, "");
        run_gather(r, b, &rng, F32, 1, g4, 12, "");
        run_gather(r, b, &rng, F16, 2, g5, 1, "");
        run_gather(r, b, &rng, F16, 2, g6, 30, "");
    }
    if (!th_is_cpu_backend(b)) {
        uint64_t old = th_set_storage_limit(b, 4096);
        static const int64_t ps[3] = {40, 3, 30}, cs[1] = {3000}, ca[2] = {50, 20}, cb[2] = {50, 30},
                             gs[2] = {60, 36};
        static const int pp[3] = {2, 0, 1}, pv[3] = {1, 0, 2};
        static const int64_t pw[3] = {32, 3, 16};
        run_permute(r, b, &rng, F32, 3, ps, pp, " split");
        run_permute(r, b, &rng, F32, 3, pw, pv, " split");
        run_convert(r, b, &rng, F32, F16, 1, cs, " split");
        run_concat(r, b, &rng, F32, 2, ca, cb, 1, " split");
        run_gather(r, b, &rng, F32, 2, gs, 100, " split");
        th_set_storage_limit(b, old);
    }
}
