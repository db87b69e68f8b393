/* tome: one step of ToMe's bipartite soft matching and size-weighted
 * merging. The reference is written here in double from the paper's
 * algorithm (cosine similarities of the keys, best b per a, the r best
 * edges, ToMe's output order: unmerged A in order, then B), independent of
 * ops/tome.c. Checked: the merged states (max |got - ref| / max(|ref|, 1)
 * <= 1e-5: means of values in [-1, 1]), the sizes (exact: sums of small
 * integers and halves), their logarithms (1e-6) and every token's
 * destination row (exact). Cases:
 * [CLS] protected or not, sizes given or all 1, r from 0 to its limit, odd
 * and even N (N = 1 and 3 included), batches, and keys with exact
 * duplicates, where the tie rules (lower b, then lower a) decide. */
#include "op_cases.h"
#include "th_util.h"

typedef struct tome_case {
    int B, N, C, Dk, r;
    bool protect, sized, dup;
} tome_case;

/* y [B, N-r, C], size [B, N-r], dest [B, N] */
static void ref_tome(const tome_case *k, const float *x, const float *keys, const float *size, double *y,
                     double *ysize, int32_t *dest)
{
    const int N = k->N, Na = (N + 1) / 2, Nb = N / 2, M = N - k->r;
    double *best = malloc((size_t)Na * sizeof *best);
    int *best_b = malloc((size_t)Na * sizeof *best_b), *merged = malloc((size_t)Na * sizeof *merged);
    for (int b = 0; b < k->B; b++) {
        const float *kb = keys + (size_t)b * N * k->Dk;
        for (int a = 0; a < Na; a++) {
            best[a] = -INFINITY;
            best_b[a] = 0;
            if (k->protect && a == 0) continue;
            for (int j = 0; j < Nb; j++) {
                double dot = 0, na = 0, nj = 0;
                for (int c = 0; c < k->Dk; c++) {
                    const double u = kb[(2 * a) * k->Dk + c], v = kb[(2 * j + 1) * k->Dk + c];
                    dot += u * v;
                    na += u * u;
                    nj += v * v;
                }
                const double s = dot / (sqrt(na) * sqrt(nj));
                if (s > best[a]) {
                    best[a] = s;
                    best_b[a] = j;
                }
            }
        }
        /* the r best edges, ties to the lower a: selection by repeated maximum */
        for (int a = 0; a < Na; a++) merged[a] = 0;
        for (int i = 0; i < k->r; i++) {
            int pick = -1;
            for (int a = 0; a < Na; a++)
                if (!merged[a] && (pick < 0 || best[a] > best[pick])) pick = a;
            merged[pick] = 1;
        }
        int32_t *db = dest + (size_t)b * N;
        int next = 0;
        for (int a = 0; a < Na; a++) db[2 * a] = merged[a] ? Na - k->r + best_b[a] : next++;
        for (int j = 0; j < Nb; j++) db[2 * j + 1] = Na - k->r + j;
        double *yb = y + (size_t)b * M * k->C, *sb = ysize + (size_t)b * M;
        for (int e = 0; e < M * k->C; e++) yb[e] = 0;
        for (int o = 0; o < M; o++) sb[o] = 0;
        for (int t = 0; t < N; t++) {
            const double s = size ? size[b * N + t] : 1.0;
            for (int c = 0; c < k->C; c++) yb[db[t] * k->C + c] += s * x[((size_t)b * N + t) * k->C + c];
            sb[db[t]] += s;
        }
        for (int o = 0; o < M; o++)
            for (int c = 0; c < k->C; c++) yb[o * k->C + c] /= sb[o];
    }
    free(best);
    free(best_b);
    free(merged);
}

static void run_case(th_runner *r, const th_backend *b, th_rng *rng, const tome_case *k)
{
    char name[128];
    snprintf(name, sizeof name, "tome b%d n%d c%d dk%d r%d%s%s%s", k->B, k->N, k->C, k->Dk, k->r,
             k->protect ? " cls" : "", k->sized ? " sized" : "", k->dup ? " duplicate keys" : "");
    const int N = k->N, M = N - k->r;
    float *x = th_random(rng, (size_t)k->B * N * k->C, -1, 1);
    float *keys = th_random(rng, (size_t)k->B * N * k->Dk, -1, 1);
    float *size = NULL;
    if (k->dup) /* token t's key repeats token t mod 6's: equal similarities, exactly */
        for (int bt = 0; bt < k->B; bt++)
            for (int t = 6; t < N; t++)
                memcpy(keys + ((size_t)bt * N + t) * k->Dk, keys + ((size_t)bt * N + t % 6) * k->Dk,
                       (size_t)k->Dk * sizeof *keys);
    if (k->sized) {
        size = malloc((size_t)k->B * N * sizeof *size);
        for (int i = 0; i < k->B * N; i++) size[i] = (float)(1 + th_u32(rng) % 7) * 0.5f;
    }
    double *ry = malloc((size_t)k->B * M * k->C * sizeof *ry), *rs = malloc((size_t)k->B * M * sizeof *rs);
    int32_t *rd = malloc((size_t)k->B * N * sizeof *rd), *gd = malloc((size_t)k->B * N * sizeof *gd);
    ref_tome(k, x, keys, size, ry, rs, rd);
    const int64_t xs[3] = {k->B, N, k->C}, ks[3] = {k->B, N, k->Dk}, ss[2] = {k->B, N};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 3, xs, x), *tk = th_tensor(r, b, FV_DTYPE_F32, 3, ks, keys);
    fv_tensor *ts = size ? th_tensor(r, b, FV_DTYPE_F32, 2, ss, size) : NULL;
    fv_graph *g = NULL;
    fv_tome_result res;
    if (tx && tk && (!size || ts) && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_tome(g, tx, tk, ts, k->r, k->protect, &res)) &&
        th_ok(r, b, name, fv_graph_output(g, res.size)) && th_ok(r, b, name, fv_graph_output(g, res.log_size)) &&
        th_ok(r, b, name, fv_graph_output(g, res.dest))) {
        float *got = th_run_and_fetch(r, b, name, g, res.x);
        if (got) {
            char what[160];
            snprintf(what, sizeof what, "%s states", name);
            th_check(r, b, what, got, ry, (size_t)k->B * M * k->C, 1e-5);
            float *gs = malloc((size_t)k->B * M * sizeof *gs);
            snprintf(what, sizeof what, "%s sizes", name);
            if (th_ok(r, b, what, fv_tensor_download(res.size, gs, (size_t)k->B * M * sizeof *gs)))
                th_check(r, b, what, gs, rs, (size_t)k->B * M, 0);
            snprintf(what, sizeof what, "%s log sizes", name);
            for (int i = 0; i < k->B * M; i++) rs[i] = log(rs[i]);
            if (th_ok(r, b, what, fv_tensor_download(res.log_size, gs, (size_t)k->B * M * sizeof *gs)))
                th_check(r, b, what, gs, rs, (size_t)k->B * M, 1e-6);
            free(gs);
            snprintf(what, sizeof what, "%s destinations", name);
            if (th_ok(r, b, what, fv_tensor_download(res.dest, gd, (size_t)k->B * N * sizeof *gd))) {
                int bad = -1;
                for (int i = 0; i < k->B * N && bad < 0; i++)
                    if (gd[i] != rd[i]) bad = i;
                th_expect(r, b, what, bad < 0, "token %d went to row %d; expected %d", bad, bad < 0 ? 0 : gd[bad],
                          bad < 0 ? 0 : rd[bad]);
            }
        }
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tk);
    fv_tensor_destroy(ts);
    free(x);
    free(keys);
    free(size);
    free(ry);
    free(rs);
    free(rd);
    free(gd);
}

void test_tome(th_runner *r, const th_backend *b)
{
    static const tome_case cases[] = {
        {1, 17, 33, 8, 5, true, false, false},   {2, 145, 64, 16, 36, true, true, false},
        {1, 145, 64, 16, 72, true, true, false}, {1, 10, 7, 4, 5, false, true, false},
        {1, 3, 5, 4, 1, true, false, false},     {1, 1, 4, 4, 0, true, false, false},
        {1, 50, 20, 8, 0, true, true, false},    {1, 257, 128, 64, 64, true, true, false},
        {2, 33, 16, 8, 10, true, true, true},    {1, 40, 9, 5, 20, false, false, true},
    };
    th_rng rng = th_seed(97);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(r, b, &rng, &cases[i]);
}
