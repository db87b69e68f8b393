/* Visual-token compression end to end: every method on the bundled
 * fovea-tiny encoder (an eval image, 12x12 grid + [CLS]) and on a random
 * CLIP-shaped encoder with a 24x24 grid, at keep 25%, 11% and 5%, on every
 * backend. The kept indices must equal a plain-C reference written here
 * from each paper's rule and fed the statistics and features this same
 * encoder run produced (downloaded to the host), and must be the same on
 * every backend; merged tokens (visionzip) and DCT coefficients (fourier)
 * are compared in double precision. Then bad input: budgets of 0 and above
 * the patch count, an unknown method, a [CLS] method on a model without
 * [CLS], an encoder not prepared for the method. Before all that, the
 * methods on random features and statistics (12x12 and 24x24 grids + [CLS])
 * against the numpy references of tests/fixtures/make_compress_fixtures.py.
 *
 * usage: test-compress PROJECT_ROOT [filter] */
#include "../models/compress_internal.h"
#include "fovea/vision.h"
#include "harness.h"
#include "th_topk.h"

#include <unistd.h>

static const char *root;

static double cosine(const float *a, const float *b, int d)
{
    double ab = 0, aa = 0, bb = 0;
    for (int c = 0; c < d; c++) ab += (double)a[c] * b[c], aa += (double)a[c] * a[c], bb += (double)b[c] * b[c];
    return ab / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12));
}

/* what one encoder run gives the references */
typedef struct run_data {
    int L, N, D, Dh, n, gw, gh, skip;
    float *feat;                         /* [N, D] */
    float *cls[FV_VISION_MAX_LAYERS + 1];  /* [N] by layer */
    float *recv[FV_VISION_MAX_LAYERS + 1];
    float *keys;                          /* [N, Dh] of layer L-1 */
} run_data;

/* the reference's kept patches (keep[n]) and, for visionzip, the
 * contextual tokens; returns false when the method has no index reference */
static bool reference(const run_data *d, fv_compress_method m, int k, int *keep, double **ctx_tokens, int *kc_out)
{
    const int n = d->n, s = d->skip, L = d->L;
    memset(keep, 0, (size_t)n * sizeof *keep);
    switch (m) {
    case FV_COMPRESS_FASTERVLM: /* [CLS] attention of layer -2 */
        th_topk(d->cls[L - 1] + s, NULL, n, k, keep);
        return true;
    case FV_COMPRESS_VTC_CLS: { /* summed over layers -2 .. -5, added in that order in f32 */
        float *sum = malloc((size_t)n * sizeof *sum);
        for (int i = 0; i < n; i++) {
            float a = d->cls[L - 1][s + i];
            for (int l = L - 2; l >= 1 && l >= L - 4; l--) a += d->cls[l][s + i];
            sum[i] = a;
        }
        th_topk(sum, NULL, n, k, keep);
        free(sum);
        return true;
    }
    case FV_COMPRESS_HIPRUNE: { /* anchors (10%) at L/2, their 4 neighbours, registers by layer L */
        int ka = (int)lround(0.1 * k), have = 0;
        ka = ka < 1 ? 1 : ka;
        int *anch = calloc((size_t)n, sizeof *anch), *rest = malloc((size_t)n * sizeof *rest);
        th_topk(d->recv[L / 2 > 0 ? L / 2 : 1] + s, NULL, n, ka, anch);
        for (int i = 0; i < n; i++) {
            int y = i / d->gw, x = i % d->gw;
            keep[i] = anch[i] || (y > 0 && anch[i - d->gw]) || (y + 1 < d->gh && anch[i + d->gw]) ||
                      (x > 0 && anch[i - 1]) || (x + 1 < d->gw && anch[i + 1]);
            rest[i] = !keep[i];
            have += keep[i];
        }
        th_topk(d->recv[L] + s, rest, n, k - have, keep);
        free(anch);
        free(rest);
        return true;
    }
    case FV_COMPRESS_DIVPRUNE:
    case FV_COMPRESS_TODRE: { /* greedy k-center, DivPrune's seed */
        double *mind = malloc((size_t)n * sizeof *mind);
        const float *x = d->feat + (size_t)s * d->D;
        for (int j = 0; j < n; j++) {
            mind[j] = INFINITY;
            for (int i = 0; i < n; i++)
                if (i != j) mind[j] = fmin(mind[j], 1.0 - cosine(x + (size_t)i * d->D, x + (size_t)j * d->D, d->D));
        }
        for (int step = 0; step < k; step++) {
            int p = -1;
            for (int j = 0; j < n; j++)
                if (!keep[j] && (p < 0 || mind[j] > mind[p])) p = j;
            keep[p] = 1;
            for (int j = 0; j < n; j++) {
                double dj = 1.0 - cosine(x + (size_t)j * d->D, x + (size_t)p * d->D, d->D);
                mind[j] = step == 0 ? dj : fmin(mind[j], dj);
            }
        }
        free(mind);
        return true;
    }
    case FV_COMPRESS_HIRED: { /* 2x2 tiles; early layer max(1, L/4) splits k; layer L picks */
        const int early = L / 4 > 0 ? L / 4 : 1, tx = 2, ty = 2, nt = 4;
        double sum[4] = {0}, total = 0, frac[4];
        int size[4] = {0}, quota[4], given = 0;
        int *tile = malloc((size_t)n * sizeof *tile), *in = malloc((size_t)n * sizeof *in);
        for (int i = 0; i < n; i++) {
            tile[i] = ((i / d->gw) * ty / d->gh) * tx + (i % d->gw) * tx / d->gw;
            sum[tile[i]] += d->cls[early][s + i];
            size[tile[i]]++;
        }
        for (int t = 0; t < nt; t++) total += sum[t];
        for (int t = 0; t < nt; t++) {
            double e = k * sum[t] / total;
            quota[t] = (int)floor(e) < size[t] ? (int)floor(e) : size[t];
            frac[t] = e - floor(e);
            given += quota[t];
        }
        for (int left = k - given; left > 0;) {
            int order[4] = {0, 1, 2, 3};
            for (int i = 1; i < nt; i++)
                for (int j = i; j > 0 && frac[order[j]] > frac[order[j - 1]]; j--) {
                    int t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
            for (int i = 0; i < nt && left > 0; i++)
                if (quota[order[i]] < size[order[i]]) quota[order[i]]++, left--;
        }
        for (int t = 0; t < nt; t++) {
            for (int i = 0; i < n; i++) in[i] = tile[i] == t;
            th_topk(d->cls[L] + s, in, n, quota[t], keep);
        }
        free(tile);
        free(in);
        return true;
    }
    case FV_COMPRESS_VISIONZIP: { /* dominant by [CLS] (-2) + contextual merged by keys */
        int kc = k >= 2 ? (int)lround(k * 10.0 / 64.0) : 0;
        kc = k >= 2 ? (kc < 1 ? 1 : kc > k - 1 ? k - 1 : kc) : 0;
        const int kd = k - kc;
        th_topk(d->cls[L - 1] + s, NULL, n, kd, keep);
        *kc_out = kc;
        if (!kc) return true;
        int rem = n - kd, step = rem / kc > 1 ? rem / kc : 1, q = 0;
        int *tgt = malloc((size_t)kc * sizeof *tgt), *cnt = calloc((size_t)kc, sizeof *cnt);
        double *acc = calloc((size_t)kc * d->D, sizeof *acc);
        for (int j = 0; j < n; j++)
            if (!keep[j]) {
                if (q % step == 0 && q / step < kc) tgt[q / step] = j;
                q++;
            }
        for (int j = 0; j < n; j++) {
            if (keep[j]) continue;
            int g = -1;
            for (int t = 0; t < kc; t++)
                if (tgt[t] == j) g = t;
            if (g >= 0) continue;
            double best = -INFINITY;
            for (int t = 0; t < kc; t++) {
                double c = cosine(d->keys + (size_t)(s + j) * d->Dh, d->keys + (size_t)(s + tgt[t]) * d->Dh, d->Dh);
                if (c > best) best = c, g = t;
            }
            cnt[g]++;
            for (int c = 0; c < d->D; c++) acc[(size_t)g * d->D + c] += d->feat[(size_t)(s + j) * d->D + c];
        }
        for (int t = 0; t < kc; t++)
            for (int c = 0; c < d->D; c++)
                acc[(size_t)t * d->D + c] = d->feat[(size_t)(s + tgt[t]) * d->D + c] +
                                            acc[(size_t)t * d->D + c] / (cnt[t] ? cnt[t] : 1);
        /* the targets are reported as the contextual tokens' indices */
        for (int t = 0; t < kc; t++) keep[tgt[t]] = 2;
        *ctx_tokens = acc;
        free(tgt);
        free(cnt);
        return true;
    }
    case FV_COMPRESS_STRIDE:
        for (int i = 0; i < k; i++) keep[(int)((int64_t)i * n / k)] = 1;
        return true;
    default:
        return false;
    }
}

/* orthonormal DCT-II of the patch grid, the low kk x kk block, in double */
static double *ref_dct(const run_data *d, int kk)
{
    double *y = calloc((size_t)kk * kk * d->D, sizeof *y);
    for (int u = 0; u < kk; u++)
        for (int v = 0; v < kk; v++)
            for (int py = 0; py < d->gh; py++)
                for (int px = 0; px < d->gw; px++) {
                    double w = cos(M_PI * (2 * py + 1) * u / (2.0 * d->gh)) *
                               cos(M_PI * (2 * px + 1) * v / (2.0 * d->gw)) *
                               (u ? sqrt(2.0 / d->gh) : sqrt(1.0 / d->gh)) *
                               (v ? sqrt(2.0 / d->gw) : sqrt(1.0 / d->gw));
                    const float *x = d->feat + (size_t)(d->skip + py * d->gw + px) * d->D;
                    for (int c = 0; c < d->D; c++) y[((size_t)u * kk + v) * d->D + c] += w * x[c];
                }
    return y;
}

static float *fetch(th_runner *r, const th_backend *b, const char *name, const fv_tensor *t)
{
    if (!t) {
        th_fail(r, b, name, "missing tensor");
        return NULL;
    }
    float *h = malloc(fv_tensor_nbytes(t));
    if (!th_ok(r, b, name, fv_tensor_download(t, h, fv_tensor_nbytes(t)))) {
        free(h);
        return NULL;
    }
    return h;
}

/* the CPU backend's indices per (model, method, keep), for the other backends */
#define MAX_SAVED 128
static struct {
    char key[96];
    int32_t *idx;
    int count;
} saved[MAX_SAVED];
static int nsaved;

static void compare_backends(th_runner *r, const th_backend *b, const char *key, const int32_t *idx, int count)
{
    for (int i = 0; i < nsaved; i++)
        if (!strcmp(saved[i].key, key)) {
            bool same = saved[i].count == count && !memcmp(saved[i].idx, idx, (size_t)count * sizeof *idx);
            char name[128];
            snprintf(name, sizeof name, "%s = cpu", key);
            th_expect(r, b, name, same, "indices differ from the CPU backend's");
            return;
        }
    if (nsaved < MAX_SAVED) {
        snprintf(saved[nsaved].key, sizeof saved[nsaved].key, "%s", key);
        saved[nsaved].idx = malloc((size_t)count * sizeof *idx);
        memcpy(saved[nsaved].idx, idx, (size_t)count * sizeof *idx);
        saved[nsaved++].count = count;
    }
}

static const fv_compress_method methods[] = {
    FV_COMPRESS_FASTERVLM, FV_COMPRESS_VTC_CLS,   FV_COMPRESS_HIPRUNE, FV_COMPRESS_DIVPRUNE, FV_COMPRESS_TODRE,
    FV_COMPRESS_HIRED,     FV_COMPRESS_VISIONZIP, FV_COMPRESS_RANDOM,  FV_COMPRESS_STRIDE,   FV_COMPRESS_FOURIER,
    FV_COMPRESS_TOME,
};

static void run_method(th_runner *r, const th_backend *b, const char *model_name, fv_vision_model *m,
                       const float *px, size_t npx, fv_compress_method method, float keep)
{
    char name[96];
    snprintf(name, sizeof name, "%s %s keep %.2f", model_name, fv_compress_method_name(method), (double)keep);
    fv_compress_desc cd = {.method = method, .keep = keep, .seed = 7};
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    const int L = mi.layers;
    fv_vision_encode_desc ed = {.layer = -2};
    fv_vision_encoder *enc = NULL;
    fv_compressor *c = NULL;
    run_data d = {0};
    int32_t *idx = NULL, *groups = NULL;
    int *kp = NULL;
    float *tok = NULL;
    double *ctx_ref = NULL;
    /* the statistics every reference reads, on top of the method's own */
    if (method != FV_COMPRESS_TOME) { /* with ToMe the statistics have fewer tokens */
        for (int l = 1; l <= L; l++)
            fv_vision_encode_desc_stats(&ed, m, l, FV_ATTENTION_STAT_CLS | FV_ATTENTION_STAT_RECEIVED);
        fv_vision_encode_desc_stats(&ed, m, -2, FV_ATTENTION_STAT_MEAN_KEYS);
    }
    if (!th_ok(r, b, name, fv_compress_prepare_encode(&cd, m, &ed)) ||
        !th_ok(r, b, name, fv_vision_encoder_create(m, &ed, &enc)) ||
        !th_ok(r, b, name, fv_vision_encoder_run(enc, px, npx)))
        goto done;
    fv_status st = fv_compressor_create(m, enc, &cd, &c);
    if (st == FV_STATUS_UNSUPPORTED) {
        r->skipped++;
        printf("skip %-7s %-52s %s\n", b->name, name, fv_context_last_error(b->ctx));
        goto done;
    }
    if (!th_ok(r, b, name, st) || !th_ok(r, b, name, fv_compressor_run(c))) goto done;
    fv_vision_encoder_info ei;
    fv_compressor_info ci;
    fv_vision_encoder_get_info(enc, &ei);
    fv_compressor_get_info(c, &ci);
    d = (run_data){.L = L, .N = ei.tokens, .D = ei.hidden_size, .Dh = mi.hidden_size / mi.heads,
                   .n = ei.grid_w * ei.grid_h, .gw = ei.grid_w, .gh = ei.grid_h, .skip = mi.has_cls ? 1 : 0};
    if (method == FV_COMPRESS_TOME) {
        /* the merging is tested with ToMe itself; here: the budget, the
         * groups (every input token in one output token, each output token
         * holding some) and the same groups on every backend */
        const int n = ei.grid_w * ei.grid_h, k = (int)lround(keep * n), layers = L - 1;
        /* r = ceil((n - k) / layers) per layer up to -2, at most half of them each time */
        int left = n;
        const int r_per_layer = (n - k + layers - 1) / layers;
        for (int l = 0; l < layers; l++) left -= r_per_layer < left / 2 ? r_per_layer : left / 2;
        groups = malloc((size_t)ei.input_tokens * sizeof *groups);
        int *members = calloc((size_t)ci.tokens, sizeof *members);
        bool ok = ci.tokens == ei.tokens && ci.budget == left && fv_tensor_dim(fv_compressor_tokens(c), 1) == ci.tokens;
        th_expect(r, b, name, ok, "%d tokens out for a budget of %d, want %d + [CLS]", ci.tokens, k, left);
        ok = true;
        if (th_ok(r, b, name, fv_compressor_groups(c, groups, (size_t)ei.input_tokens))) {
            for (int i = 0; i < ei.input_tokens; i++)
                if (groups[i] >= 0 && groups[i] < ci.tokens) members[groups[i]]++;
                else ok = false;
            for (int j = 0; j < ci.tokens; j++) ok &= members[j] > 0;
            th_expect(r, b, name, ok && groups[0] == 0, "groups do not cover the output tokens");
            compare_backends(r, b, name, groups, ei.input_tokens);
        }
        free(members);
        goto done;
    }
    d.feat = fetch(r, b, name, fv_vision_encoder_output(enc));
    d.keys = fetch(r, b, name, fv_vision_encoder_attention_stat(enc, -2, FV_ATTENTION_STAT_MEAN_KEYS));
    for (int l = 1; l <= L; l++) {
        d.cls[l] = fetch(r, b, name, fv_vision_encoder_attention_stat(enc, l, FV_ATTENTION_STAT_CLS));
        d.recv[l] = fetch(r, b, name, fv_vision_encoder_attention_stat(enc, l, FV_ATTENTION_STAT_RECEIVED));
        if (!d.cls[l] || !d.recv[l]) goto done;
    }
    tok = fetch(r, b, name, fv_compressor_tokens(c));
    if (!d.feat || !d.keys || !tok) goto done;
    const int k = ci.budget, K = ci.tokens;
    th_expect(r, b, name, fv_tensor_dim(fv_compressor_tokens(c), 1) == K && K == k + d.skip,
              "tokens [1, %lld, D], budget %d, K %d", (long long)fv_tensor_dim(fv_compressor_tokens(c), 1), k, K);
    if (method == FV_COMPRESS_FOURIER) {
        const int kk = (int)lround(sqrt((double)k));
        double *ref = ref_dct(&d, kk);
        char nm[160];
        snprintf(nm, sizeof nm, "%s coefficients", name);
        th_check(r, b, nm, tok + (size_t)d.skip * d.D, ref, (size_t)kk * kk * d.D, 1e-4);
        free(ref);
        goto done;
    }
    idx = malloc((size_t)K * sizeof *idx);
    groups = malloc((size_t)d.N * sizeof *groups);
    kp = malloc((size_t)d.n * sizeof *kp);
    if (!th_ok(r, b, name, fv_compressor_read_indices(c, idx, (size_t)K)) ||
        !th_ok(r, b, name, fv_compressor_groups(c, groups, (size_t)d.N)))
        goto done;
    compare_backends(r, b, name, idx, K);
    /* ascending (the contextual part of visionzip separately), [CLS] first */
    bool order = !d.skip || idx[0] == 0;
    int kc = 0;
    bool has_ref = reference(&d, method, k, kp, &ctx_ref, &kc);
    for (int i = d.skip + 1; i < K; i++)
        if (i != K - kc && idx[i] <= idx[i - 1]) order = false;
    th_expect(r, b, name, order, "indices not ascending with [CLS] first");
    if (has_ref) {
        int *want = malloc((size_t)K * sizeof *want), w = 0;
        if (d.skip) want[w++] = 0;
        for (int pass = 1; pass <= 2; pass++)
            for (int i = 0; i < d.n; i++)
                if (kp[i] == pass) want[w++] = i + d.skip;
        bool same = w == K;
        for (int i = 0; same && i < K; i++) same = want[i] == idx[i];
        int first = -1;
        for (int i = 0; first < 0 && i < K && i < w; i++)
            if (want[i] != idx[i]) first = i;
        th_expect(r, b, name, same, "indices differ from the reference at %d (%d vs %d), %d of %d", first,
                  first >= 0 ? idx[first] : -1, first >= 0 ? want[first] : -1, w, K);
        free(want);
    } else {
        /* random: distinct, in range; its draw is checked against the CPU backend's */
        bool ok = true;
        for (int i = d.skip; i < K; i++) ok &= idx[i] >= d.skip && idx[i] < d.N;
        th_expect(r, b, name, ok, "indices out of range");
    }
    /* pruned tokens are the encoder's rows, exactly */
    bool rows = true;
    for (int j = 0; j < K - kc; j++)
        rows &= !memcmp(tok + (size_t)j * d.D, d.feat + (size_t)idx[j] * d.D, (size_t)d.D * sizeof *tok);
    th_expect(r, b, name, rows, "kept tokens are not the encoder's rows");
    if (kc && ctx_ref) {
        char nm[160];
        snprintf(nm, sizeof nm, "%s contextual tokens", name);
        th_check(r, b, nm, tok + (size_t)(K - kc) * d.D, ctx_ref, (size_t)kc * d.D, 1e-5);
    }
    bool grp = true;
    for (int j = 0; j < K; j++) grp &= groups[idx[j]] == j;
    th_expect(r, b, name, grp, "groups do not map kept tokens to themselves");
done:
    free(idx);
    free(groups);
    free(kp);
    free(tok);
    free(ctx_ref);
    free(d.feat);
    free(d.keys);
    for (int l = 0; l <= FV_VISION_MAX_LAYERS; l++) free(d.cls[l]), free(d.recv[l]);
    fv_compressor_destroy(c);
    fv_vision_encoder_destroy(enc);
}

static void bad_input(th_runner *r, const th_backend *b, fv_vision_model *clip)
{
    fv_vision_encode_desc ed = {.layer = -2};
    fv_compress_desc cd = {.method = FV_COMPRESS_FASTERVLM};
    th_expect(r, b, "bad: budget 0", fv_compress_prepare_encode(&cd, clip, &ed) == FV_STATUS_INVALID_ARGUMENT,
              "accepted");
    cd.budget = 100000;
    th_expect(r, b, "bad: budget above n", fv_compress_prepare_encode(&cd, clip, &ed) == FV_STATUS_INVALID_ARGUMENT,
              "accepted");
    cd.budget = 0;
    cd.keep = 1.5f;
    th_expect(r, b, "bad: keep 1.5", fv_compress_prepare_encode(&cd, clip, &ed) == FV_STATUS_INVALID_ARGUMENT,
              "accepted");
    cd = (fv_compress_desc){.method = (fv_compress_method)99, .keep = 0.25f};
    th_expect(r, b, "bad: unknown method", fv_compress_prepare_encode(&cd, clip, &ed) == FV_STATUS_INVALID_ARGUMENT,
              "accepted");
    fv_compress_method mm;
    th_expect(r, b, "bad: unknown name", fv_compress_method_from_name("nope", &mm) == FV_STATUS_INVALID_ARGUMENT,
              "accepted");
    /* an encoder without the statistics the method reads */
    fv_vision_encoder *enc = NULL;
    fv_compressor *c = NULL;
    cd = (fv_compress_desc){.method = FV_COMPRESS_HIPRUNE, .keep = 0.25f};
    if (th_ok(r, b, "bad: unprepared encoder", fv_vision_encoder_create(clip, &ed, &enc))) {
        fv_status st = fv_compressor_create(clip, enc, &cd, &c);
        th_expect(r, b, "bad: unprepared encoder", st == FV_STATUS_INVALID_ARGUMENT && !c, "status %s",
                  fv_status_name(st));
        printf("     %-7s %s\n", b->name, fv_context_last_error(b->ctx));
    }
    fv_compressor_destroy(c);
    fv_vision_encoder_destroy(enc);
    /* [CLS] methods on SigLIP */
    fv_vision_config sc = {.arch = FV_VISION_ARCH_SIGLIP, .image_size = 32, .patch_size = 8, .hidden_size = 32,
                           .intermediate_size = 64, .layers = 2, .heads = 2};
    fv_vision_model *sig = NULL;
    if (th_ok(r, b, "bad: siglip", fv_vision_model_create_random(b->ctx, &sc, NULL, 3, &sig))) {
        cd = (fv_compress_desc){.method = FV_COMPRESS_VISIONZIP, .keep = 0.25f};
        fv_vision_encode_desc sd = {0};
        th_expect(r, b, "bad: visionzip on siglip",
                  fv_compress_prepare_encode(&cd, sig, &sd) == FV_STATUS_INVALID_ARGUMENT, "accepted");
        printf("     %-7s %s\n", b->name, fv_context_last_error(b->ctx));
        /* a method without [CLS] runs there */
        cd.method = FV_COMPRESS_DIVPRUNE;
        if (th_ok(r, b, "siglip divprune", fv_compress_prepare_encode(&cd, sig, &sd)) &&
            th_ok(r, b, "siglip divprune", fv_vision_encoder_create(sig, &sd, &enc))) {
            float px[3 * 32 * 32];
            th_rng rng = th_seed(5);
            for (int i = 0; i < 3 * 32 * 32; i++) px[i] = th_uniform(&rng, -1, 1);
            int32_t idx[4];
            if (th_ok(r, b, "siglip divprune", fv_vision_encoder_run(enc, px, 3 * 32 * 32)) &&
                th_ok(r, b, "siglip divprune", fv_compressor_create(sig, enc, &cd, &c)) &&
                th_ok(r, b, "siglip divprune", fv_compressor_run(c)) &&
                th_ok(r, b, "siglip divprune", fv_compressor_read_indices(c, idx, 4)))
                th_expect(r, b, "siglip divprune", idx[0] >= 0 && idx[3] < 16 && idx[0] < idx[1], "indices %d %d %d %d",
                          idx[0], idx[1], idx[2], idx[3]);
        }
        fv_compressor_destroy(c);
        fv_vision_encoder_destroy(enc);
    }
    fv_vision_model_destroy(sig);
}

/* tests/fixtures/compress/<name>.{txt,bin}: see make_compress_fixtures.py */
static void fixture_case(th_runner *r, const th_backend *b, const char *name)
{
    char path[1024], line[65536];
    snprintf(path, sizeof path, "%s/tests/fixtures/compress/%s.txt", root, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        th_fail(r, b, name, "cannot open %s (run make_compress_fixtures.py)", path);
        return;
    }
    int gw = 0, gh = 0, L = 0, D = 0, Dk = 0;
    if (fscanf(f, "grid %d %d\nlayers %d\ndim %d\nkeydim %d\ncls 1\n", &gw, &gh, &L, &D, &Dk) != 5) {
        th_fail(r, b, name, "bad header in %s", path);
        fclose(f);
        return;
    }
    const int N = gw * gh + 1;
    const size_t nfloats = (size_t)N * D + (size_t)2 * L * N + (size_t)N * Dk;
    float *blob = malloc(nfloats * sizeof *blob);
    snprintf(path, sizeof path, "%s/tests/fixtures/compress/%s.bin", root, name);
    FILE *fb = fopen(path, "rb");
    size_t got = fb ? fread(blob, sizeof *blob, nfloats, fb) : 0;
    if (fb) fclose(fb);
    fv_compress_inputs in = {.layers = L, .grid_w = gw, .grid_h = gh, .has_cls = true};
    fv_tensor *owned[2 * FV_VISION_MAX_LAYERS + 2] = {0};
    int nowned = 0;
    if (got != nfloats) {
        th_fail(r, b, name, "%s: %zu of %zu floats", path, got, nfloats);
        goto done;
    }
    const int64_t fs[3] = {1, N, D}, ss[2] = {1, N}, ks[3] = {1, N, Dk};
    const float *q = blob;
    owned[nowned++] = in.features = th_tensor(r, b, FV_DTYPE_F32, 3, fs, q);
    q += (size_t)N * D;
    for (int l = 1; l <= L; l++, q += 2 * (size_t)N) {
        owned[nowned++] = in.cls[l] = th_tensor(r, b, FV_DTYPE_F32, 2, ss, q);
        owned[nowned++] = in.received[l] = th_tensor(r, b, FV_DTYPE_F32, 2, ss, q + N);
    }
    owned[nowned++] = in.mean_keys[L - 1] = th_tensor(r, b, FV_DTYPE_F32, 3, ks, q);
    char method[32];
    int k;
    while (fscanf(f, "expect %31s %d", method, &k) == 2) {
        char nm[96];
        snprintf(nm, sizeof nm, "fixture %s %s k=%d", name, method, k);
        int32_t *want = malloc((size_t)(k + 1) * sizeof *want), *idx = malloc((size_t)(k + 1) * sizeof *idx);
        for (int i = 0; i <= k; i++)
            if (fscanf(f, "%d", &want[i]) != 1) want[i] = -2;
        for (int ch = fgetc(f); ch != '\n' && ch != EOF; ch = fgetc(f)) {
        }
        fv_compress_desc cd = {.budget = k};
        fv_compressor *c = NULL;
        float *tok = NULL;
        if (th_ok(r, b, nm, fv_compress_method_from_name(method, &cd.method)) &&
            th_ok(r, b, nm, fv_compressor_create_on(b->ctx, &in, &cd, &c)) && th_ok(r, b, nm, fv_compressor_run(c)) &&
            th_ok(r, b, nm, fv_compressor_read_indices(c, idx, (size_t)k + 1))) {
            int first = -1;
            for (int i = 0; i <= k && first < 0; i++)
                if (idx[i] != want[i]) first = i;
            th_expect(r, b, nm, first < 0, "index %d is %d, numpy's %d", first, first >= 0 ? idx[first] : 0,
                      first >= 0 ? want[first] : 0);
            tok = !strcmp(method, "visionzip") ? fetch(r, b, nm, fv_compressor_tokens(c)) : NULL;
        }
        if (!strcmp(method, "visionzip")) {
            /* the contextual tokens: the last kc rows */
            int kt;
            if (fscanf(f, "tokens %d", &kt) == 1 && fgets(line, sizeof line, f) && tok) {
                double *ref = malloc((size_t)k * D * sizeof *ref);
                int nv = 0;
                for (char *p = line, *e; nv < k * D; p = e, nv++) {
                    ref[nv] = strtod(p, &e);
                    if (e == p) break;
                }
                const int kc = nv / D;
                char tn[112];
                snprintf(tn, sizeof tn, "%s contextual", nm);
                th_check(r, b, tn, tok + (size_t)(k + 1 - kc) * D, ref, (size_t)kc * D, 1e-5);
                free(ref);
            }
        }
        free(tok);
        free(want);
        free(idx);
        fv_compressor_destroy(c);
    }
done:
    for (int i = 0; i < nowned; i++) fv_tensor_destroy(owned[i]);
    free(blob);
    fclose(f);
}

static float *load_pixels(th_runner *r, const th_backend *b, fv_vision_model *m, size_t *npx)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/models/fovea-tiny/eval/images/00000.png", root);
    fv_image img = {0};
    fv_preprocess_desc pd;
    fv_vision_model_preprocess_desc(m, &pd);
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    *npx = (size_t)3 * mi.image_size * mi.image_size;
    float *px = malloc(*npx * sizeof *px);
    if (fv_image_load(path, &img, err, sizeof err) || fv_image_preprocess(&img, &pd, px, *npx, err, sizeof err)) {
        th_fail(r, b, "load image", "%s", err);
        free(px);
        px = NULL;
    }
    fv_image_free(&img);
    return px;
}

int main(int argc, char **argv)
{
    root = argc > 1 ? argv[1] : ".";
    char *args[2] = {argv[0], argc > 2 ? argv[2] : NULL};
    th_runner r;
    bool ok = th_open(&r, argc > 2 ? 2 : 1, args);
    static const float keeps[] = {0.25f, 0.11f, 0.05f};
    for (int i = 0; i < r.nbackends; i++) {
        const th_backend *b = &r.backends[i];
        if (th_selected(&r, "fixture")) {
            fixture_case(&r, b, "grid12");
            fixture_case(&r, b, "grid24");
        }
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/models/fovea-tiny", root);
        fv_vision_model *tiny = NULL, *grid24 = NULL;
        fv_vision_load_desc ld = {.progress = -1};
        if (th_selected(&r, "tiny") && th_ok(&r, b, "load fovea-tiny", fv_vision_model_load(b->ctx, dir, &ld, &tiny))) {
            size_t npx;
            float *px = load_pixels(&r, b, tiny, &npx);
            for (size_t mth = 0; px && mth < sizeof methods / sizeof methods[0]; mth++)
                for (size_t kq = 0; kq < 3; kq++) run_method(&r, b, "tiny", tiny, px, npx, methods[mth], keeps[kq]);
            free(px);
        }
        /* a 24x24 grid: a random CLIP-shaped encoder, patch 4 on 96 pixels */
        fv_vision_config gc = {.arch = FV_VISION_ARCH_CLIP, .image_size = 96, .patch_size = 4, .hidden_size = 64,
                               .intermediate_size = 128, .layers = 4, .heads = 4};
        if (th_selected(&r, "grid24") &&
            th_ok(&r, b, "random 24x24", fv_vision_model_create_random(b->ctx, &gc, NULL, 11, &grid24))) {
            size_t npx = 3 * 96 * 96;
            float *px = malloc(npx * sizeof *px);
            th_rng rng = th_seed(13);
            for (size_t p = 0; p < npx; p++) px[p] = th_uniform(&rng, -1, 1);
            for (size_t mth = 0; mth < sizeof methods / sizeof methods[0]; mth++)
                for (size_t kq = 0; kq < 3; kq++) run_method(&r, b, "grid24", grid24, px, npx, methods[mth], keeps[kq]);
            free(px);
        }
        fv_vision_config sc = {.arch = FV_VISION_ARCH_CLIP, .image_size = 32, .patch_size = 8, .hidden_size = 32,
                               .intermediate_size = 64, .layers = 3, .heads = 2};
        fv_vision_model *small = NULL;
        if (th_selected(&r, "bad") &&
            th_ok(&r, b, "random 4x4", fv_vision_model_create_random(b->ctx, &sc, NULL, 17, &small)))
            bad_input(&r, b, small);
        fv_vision_model_destroy(small);
        fv_vision_model_destroy(tiny);
        fv_vision_model_destroy(grid24);
    }
    for (int i = 0; i < nsaved; i++) free(saved[i].idx);
    int rc = th_close(&r);
    return ok ? rc : 1;
}
