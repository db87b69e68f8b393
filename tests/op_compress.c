/* The building blocks of visual-token compression: order-preserving top-k,
 * token selection with a dilated prior mask (HiPrune) or tile quotas
 * (HiRED), greedy k-center (DivPrune) and VisionZip's assignment and
 * merge, against references written here in double precision. Selections
 * must match exactly (indices are integers); scores are drawn on a coarse
 * grid so that ties occur and the lower-index rule is exercised. */
#include "../runtime/internal.h"
#include "op_cases.h"
#include "th_topk.h"

/* scores on a grid of 1/32 so that equal scores occur */
static float *coarse(th_rng *rng, int n)
{
    float *s = malloc((size_t)n * sizeof *s);
    for (int i = 0; i < n; i++) s[i] = (float)(th_u32(rng) % 48u) / 32.0f + 0.03125f;
    return s;
}

static bool same_ints(th_runner *r, const th_backend *b, const char *name, const float *got_bits, const int *want,
                      int n)
{
    for (int i = 0; i < n; i++) {
        int32_t g;
        memcpy(&g, &got_bits[i], sizeof g);
        if (g != want[i]) {
            th_fail(r, b, name, "element %d is %d, want %d", i, (int)g, want[i]);
            return false;
        }
    }
    th_expect(r, b, name, true, "ok");
    return true;
}

static void case_topk(th_runner *r, const th_backend *b, th_rng *rng, int n, int k)
{
    char name[96];
    snprintf(name, sizeof name, "topk n=%d k=%d", n, k);
    float *s = coarse(rng, n);
    int *keep = calloc((size_t)n, sizeof *keep), *want = malloc((size_t)k * sizeof *want);
    th_topk(s, NULL, n, k, keep);
    for (int i = 0, m = 0; i < n; i++)
        if (keep[i]) want[m++] = i;
    const int64_t shape[2] = {1, n};
    fv_tensor *ts = th_tensor(r, b, FV_DTYPE_F32, 2, shape, s), *y = NULL;
    fv_graph *g = NULL;
    if (ts && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) && th_ok(r, b, name, fv_op_topk(g, ts, k, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) same_ints(r, b, name, got, want, k);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(ts);
    free(s);
    free(keep);
    free(want);
}

/* HiPrune's shape: anchors (top ka of a), their 4 grid neighbours, then
 * the top of b over the rest up to k. skip = 1: entry 0 is [CLS]. */
static void case_prior(th_runner *r, const th_backend *b, th_rng *rng, int gw, int gh, int ka, int k)
{
    char name[96];
    snprintf(name, sizeof name, "select prior+dilate %dx%d ka=%d k=%d", gw, gh, ka, k);
    const int n = gw * gh;
    float *a = coarse(rng, n + 1), *sb = coarse(rng, n + 1);
    int *anch = calloc((size_t)n, sizeof *anch), *keep = calloc((size_t)n, sizeof *keep);
    int *rest = malloc((size_t)n * sizeof *rest);
    th_topk(a + 1, NULL, n, ka, anch);
    int have = 0;
    for (int i = 0; i < n; i++) {
        int y = i / gw, x = i % gw;
        keep[i] = anch[i] || (y > 0 && anch[i - gw]) || (y + 1 < gh && anch[i + gw]) || (x > 0 && anch[i - 1]) ||
                  (x + 1 < gw && anch[i + 1]);
        rest[i] = !keep[i];
        have += keep[i];
    }
    th_topk(sb + 1, rest, n, k - have, keep);
    const int64_t shape[1] = {n + 1};
    fv_tensor *ta = th_tensor(r, b, FV_DTYPE_F32, 1, shape, a), *tb = th_tensor(r, b, FV_DTYPE_F32, 1, shape, sb);
    fv_tensor *f1 = NULL, *f2 = NULL;
    fv_graph *g = NULL;
    fv_token_select_desc d1 = {.n = n, .skip = 1, .k = ka}, d2 = d1;
    d2.k = k;
    d2.dilate = true;
    d2.grid_w = gw;
    d2.grid_h = gh;
    if (ta && tb && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_token_select(g, ta, &d1, &f1))) {
        d2.prior = f1;
        if (th_ok(r, b, name, fv_op_token_select(g, tb, &d2, &f2))) {
            float *got = th_run_and_fetch(r, b, name, g, f2);
            if (got) same_ints(r, b, name, got, keep, n);
            free(got);
        }
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(ta);
    fv_tensor_destroy(tb);
    free(a);
    free(sb);
    free(anch);
    free(keep);
    free(rest);
}

/* HiRED's shape: k shared out over tx x ty tiles by the tile sums of e
 * (largest remainders first), then the top of s inside each tile. */
static void case_tiles(th_runner *r, const th_backend *b, th_rng *rng, int gw, int gh, int tx, int ty, int k)
{
    char name[96];
    snprintf(name, sizeof name, "select tiles %dx%d in %dx%d k=%d", tx, ty, gw, gh, k);
    const int n = gw * gh, nt = tx * ty;
    float *e = coarse(rng, n), *s = coarse(rng, n);
    /* one tile gets most of the early attention, so quotas hit tile sizes */
    for (int i = 0; i < n; i++)
        if ((i / gw) * ty / gh == 0 && (i % gw) * tx / gw == 0) e[i] *= 8.0f;
    double sum[16] = {0}, total = 0, frac[16];
    int size[16] = {0}, quota[16], tile_of_i, given = 0;
    for (int i = 0; i < n; i++) {
        tile_of_i = ((i / gw) * ty / gh) * tx + (i % gw) * tx / gw;
        sum[tile_of_i] += e[i];
        size[tile_of_i]++;
    }
    for (int t = 0; t < nt; t++) total += sum[t];
    for (int t = 0; t < nt; t++) {
        double ex = k * sum[t] / total;
        quota[t] = (int)floor(ex) < size[t] ? (int)floor(ex) : size[t];
        frac[t] = ex - floor(ex);
        given += quota[t];
    }
    for (int left = k - given; left > 0;) {
        int order[16];
        for (int t = 0; t < nt; t++) order[t] = t;
        for (int i = 1; i < nt; i++) /* insertion sort: frac descending, ties by tile */
            for (int j = i; j > 0 && frac[order[j]] > frac[order[j - 1]]; j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (int i = 0; i < nt && left > 0; i++)
            if (quota[order[i]] < size[order[i]]) {
                quota[order[i]]++;
                left--;
            }
    }
    int *keep = calloc((size_t)n, sizeof *keep);
    int *in = malloc((size_t)n * sizeof *in);
    for (int t = 0; t < nt; t++) {
        for (int i = 0; i < n; i++) in[i] = ((i / gw) * ty / gh) * tx + (i % gw) * tx / gw == t;
        th_topk(s, in, n, quota[t], keep);
    }
    const int64_t shape[1] = {n};
    fv_tensor *te = th_tensor(r, b, FV_DTYPE_F32, 1, shape, e), *ts = th_tensor(r, b, FV_DTYPE_F32, 1, shape, s);
    fv_tensor *f = NULL;
    fv_graph *g = NULL;
    fv_token_select_desc d = {.n = n, .k = k, .grid_w = gw, .grid_h = gh, .tiles_x = tx, .tiles_y = ty,
                              .tile_scores = te};
    if (te && ts && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_token_select(g, ts, &d, &f))) {
        float *got = th_run_and_fetch(r, b, name, g, f);
        if (got) same_ints(r, b, name, got, keep, n);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(te);
    fv_tensor_destroy(ts);
    free(e);
    free(s);
    free(keep);
    free(in);
}

static double ref_cos_dist(const float *x, int dim, int i, int j)
{
    double d = 0, ni = 0, nj = 0;
    for (int c = 0; c < dim; c++) {
        d += (double)x[i * dim + c] * x[j * dim + c];
        ni += (double)x[i * dim + c] * x[i * dim + c];
        nj += (double)x[j * dim + c] * x[j * dim + c];
    }
    return 1.0 - d / (fmax(sqrt(ni), 1e-12) * fmax(sqrt(nj), 1e-12));
}

static void case_kcenter(th_runner *r, const th_backend *b, th_rng *rng, int n, int dim, int k)
{
    char name[96];
    snprintf(name, sizeof name, "kcenter n=%d D=%d k=%d", n, dim, k);
    float *x = th_random(rng, (size_t)n * dim, -1, 1);
    double *mind = malloc((size_t)n * sizeof *mind);
    int *keep = calloc((size_t)n, sizeof *keep), *want = malloc((size_t)k * sizeof *want);
    /* DivPrune: seed = the token farthest from its nearest neighbour */
    for (int j = 0; j < n; j++) {
        mind[j] = INFINITY;
        for (int i = 0; i < n; i++)
            if (i != j) mind[j] = fmin(mind[j], ref_cos_dist(x, dim, i, j));
    }
    for (int step = 0; step < k; step++) {
        int s = -1;
        for (int j = 0; j < n; j++)
            if (!keep[j] && (s < 0 || mind[j] > mind[s])) s = j;
        keep[s] = 1;
        for (int j = 0; j < n; j++) {
            double d = ref_cos_dist(x, dim, j, s);
            mind[j] = step == 0 ? d : fmin(mind[j], d);
        }
    }
    for (int i = 0, m = 0; i < n; i++)
        if (keep[i]) want[m++] = i;
    const int64_t shape[3] = {1, n, dim};
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 3, shape, x), *y = NULL;
    fv_graph *g = NULL;
    if (tx && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) && th_ok(r, b, name, fv_op_kcenter(g, tx, k, &y))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) same_ints(r, b, name, got, want, k);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    free(x);
    free(mind);
    free(keep);
    free(want);
}

/* VisionZip: targets at uniform steps over the non-dominant tokens, each
 * other one joins the most similar target key; contextual = target + mean */
static void case_visionzip(th_runner *r, const th_backend *b, th_rng *rng, int n, int dk, int dh, int kd, int kc)
{
    char name[96];
    snprintf(name, sizeof name, "visionzip n=%d kd=%d kc=%d", n, kd, kc);
    const int rows = n + 1; /* row 0: [CLS], skipped */
    float *cls = coarse(rng, rows), *key = th_random(rng, (size_t)rows * dk, -1, 1);
    float *hid = th_random(rng, (size_t)rows * dh, -2, 2);
    int *dom = calloc((size_t)n, sizeof *dom), *want = malloc((size_t)(n + kc) * sizeof *want);
    th_topk(cls + 1, NULL, n, kd, dom);
    int *tgt = want + n, q = 0, rem = n - kd, step = rem / kc > 1 ? rem / kc : 1;
    for (int j = 0; j < n; j++)
        if (!dom[j]) {
            if (q % step == 0 && q / step < kc) tgt[q / step] = j;
            q++;
        }
    for (int j = 0; j < n; j++) {
        want[j] = -1;
        if (dom[j]) continue;
        for (int m = 0; m < kc; m++)
            if (tgt[m] == j) want[j] = m;
        if (want[j] >= 0) continue;
        double best = -INFINITY;
        for (int m = 0; m < kc; m++) {
            double sim = 1.0 - ref_cos_dist(key, dk, 1 + j, 1 + tgt[m]);
            if (sim > best) {
                best = sim;
                want[j] = m;
            }
        }
    }
    double *ctx_ref = calloc((size_t)kc * dh, sizeof *ctx_ref);
    for (int m = 0; m < kc; m++) {
        int cnt = 0;
        for (int j = 0; j < n; j++)
            if (want[j] == m && j != tgt[m]) {
                cnt++;
                for (int c = 0; c < dh; c++) ctx_ref[m * dh + c] += hid[(1 + j) * dh + c];
            }
        for (int c = 0; c < dh; c++)
            ctx_ref[m * dh + c] = hid[(1 + tgt[m]) * dh + c] + ctx_ref[m * dh + c] / (cnt > 0 ? cnt : 1);
    }
    const int64_t s1[1] = {rows}, sk[2] = {rows, dk}, sh[2] = {rows, dh};
    fv_tensor *tc = th_tensor(r, b, FV_DTYPE_F32, 1, s1, cls), *tk = th_tensor(r, b, FV_DTYPE_F32, 2, sk, key);
    fv_tensor *th = th_tensor(r, b, FV_DTYPE_F32, 2, sh, hid), *fd = NULL, *as = NULL, *y = NULL;
    fv_graph *g = NULL;
    fv_token_select_desc d = {.n = n, .skip = 1, .k = kd};
    if (tc && tk && th && th_ok(r, b, name, fv_graph_create(b->ctx, &g)) &&
        th_ok(r, b, name, fv_op_token_select(g, tc, &d, &fd)) &&
        th_ok(r, b, name, fv_op_visionzip_assign(g, fd, tk, 1, kc, &as)) &&
        th_ok(r, b, name, fv_op_visionzip_merge(g, th, as, 1, n, kc, &y)) &&
        th_ok(r, b, name, fv_graph_output(g, as))) {
        float *got = th_run_and_fetch(r, b, name, g, y);
        if (got) {
            char an[112];
            snprintf(an, sizeof an, "%s assign", name);
            float *ga = malloc((size_t)(n + kc) * sizeof *ga);
            if (th_ok(r, b, an, fv_tensor_download(as, ga, (size_t)(n + kc) * 4)))
                same_ints(r, b, an, ga, want, n + kc);
            free(ga);
            th_check(r, b, name, got, ctx_ref, (size_t)kc * dh, 1e-5);
        }
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tc);
    fv_tensor_destroy(tk);
    fv_tensor_destroy(th);
    free(cls);
    free(key);
    free(hid);
    free(dom);
    free(want);
    free(ctx_ref);
}

void test_compress_ops(th_runner *r, const th_backend *b)
{
    th_rng rng = th_seed(97);
    static const int tk[][2] = {{1, 1}, {3, 2}, {17, 5}, {255, 64}, {577, 144}, {1000, 1000}, {1000, 1}};
    for (size_t i = 0; i < sizeof tk / sizeof tk[0]; i++) case_topk(r, b, &rng, tk[i][0], tk[i][1]);
    case_prior(r, b, &rng, 12, 12, 4, 36);
    case_prior(r, b, &rng, 24, 24, 14, 144);
    case_prior(r, b, &rng, 7, 5, 1, 3);
    case_tiles(r, b, &rng, 12, 12, 2, 2, 36);
    case_tiles(r, b, &rng, 24, 24, 4, 4, 63);
    case_tiles(r, b, &rng, 5, 7, 3, 2, 30);
    case_kcenter(r, b, &rng, 1, 17, 1);
    case_kcenter(r, b, &rng, 144, 64, 36);
    case_kcenter(r, b, &rng, 300, 33, 299);
    case_kcenter(r, b, &rng, 300, 1000, 150); /* several seed and step dispatches */
    case_visionzip(r, b, &rng, 144, 32, 128, 31, 5);
    case_visionzip(r, b, &rng, 576, 64, 96, 120, 22);
    case_visionzip(r, b, &rng, 17, 4, 3, 1, 16);
    case_visionzip(r, b, &rng, 576, 64, 64, 243, 45);
}
