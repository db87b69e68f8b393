/* The vision encoder against Hugging Face transformers and fovea-tiny's
 * own torch definition, on every backend present.
 *
 * Fixtures (tests/fixtures/make_vit_fixtures.py): random-weight CLIP and
 * SigLIP vision models saved by transformers, the CLIP one also as
 * llama.cpp mmproj GGUF (current and older tensor names), a shrunk
 * fovea-tiny in its exported layout, and for each the input pixels, every
 * hidden state and the attention maps' [CLS] row and received mean.
 *
 * Error measure: max |fovea - reference| over a tensor, divided by the
 * reference's largest magnitude in that tensor (hidden states are checked
 * layer by layer). Tolerances:
 *   f32 weights                 1e-4  hidden states, pooled outputs
 *   f16 weights loaded as f16   5e-3  (weights rounded, f32 reference)
 *   attention statistics        1e-4  of the largest probability
 * A backend that lacks an op the encoder needs (OpenCL for now) is
 * skipped with its reason.
 *
 * ToMe ("tome", tests/fixtures/make_tome_fixtures.py): the CLIP fixture
 * with tome_r = 4 and 18 (the largest for 37 tokens) against ToMe's
 * algorithm run on the same Hugging Face modules: every hidden state (its
 * shrinking token count included) to 1e-4, as above, and the token groups
 * (which output token each input token ended in) exactly.
 *
 * usage: test-vit FIXTURES_DIR [PROJECT_ROOT] [filter] */
#include "harness.h"

#include "fovea/vision.h"

#include <stdarg.h>
#include <unistd.h>

static const char *fixtures;
static const char *root;

/* ---- reference tensors ------------------------------------------------------ */

/* A copy of an f32 tensor of a reference file; NULL (and a failure) when absent. */
static float *ref_tensor(th_runner *r, const th_backend *b, const char *test, fv_safetensors *st, const char *name,
                         size_t *count)
{
    const fv_weight_info *w = fv_safetensors_find(st, name);
    if (!w || w->dtype != FV_FILE_DTYPE_F32) {
        th_fail(r, b, test, "reference tensor %s missing", name);
        return NULL;
    }
    float *out = malloc(w->nbytes);
    memcpy(out, w->data, w->nbytes);
    *count = w->nbytes / sizeof(float);
    return out;
}

/* max |got - ref| / max |ref|, recorded as pass or fail against tol */
static bool compare(th_runner *r, const th_backend *b, const char *name, const float *got, const float *ref, size_t n,
                    double tol)
{
    double peak = 0, err = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) peak = fmax(peak, fabs((double)ref[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= err)) err = e, at = i; /* NaN counts as the worst */
    }
    double rel = peak > 0 ? err / peak : err;
    bool ok = rel <= tol;
    if (ok) r->passed++;
    else r->failed++;
    printf("%s %-7s %-52s rel err %.2e (tol %.0e)", ok ? "ok  " : "FAIL", b->name, name, rel, tol);
    if (!ok) printf(" at %zu: %g vs %g", at, (double)got[at], (double)ref[at]);
    printf("\n");
    return ok;
}

static float *download(th_runner *r, const th_backend *b, const char *name, const fv_tensor *t, size_t want)
{
    if (!t) {
        th_fail(r, b, name, "tensor not produced");
        return NULL;
    }
    size_t n = (size_t)fv_tensor_numel(t);
    if (want && n != want) {
        th_fail(r, b, name, "%zu elements, the reference has %zu", n, want);
        return NULL;
    }
    float *out = malloc(n * sizeof *out);
    if (!th_ok(r, b, name, fv_tensor_download(t, out, n * sizeof *out))) {
        free(out);
        return NULL;
    }
    return out;
}

/* Compares a device tensor with reference tensor `ref_name`. */
static void check_tensor(th_runner *r, const th_backend *b, const char *tag, fv_safetensors *ref, const char *ref_name,
                         const fv_tensor *t, double tol)
{
    char name[160];
    snprintf(name, sizeof name, "%s %s", tag, ref_name);
    size_t n = 0;
    float *want = ref_tensor(r, b, name, ref, ref_name, &n);
    float *got = want ? download(r, b, name, t, n) : NULL;
    if (got) compare(r, b, name, got, want, n, tol);
    free(want);
    free(got);
}

static char *path_of(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- cases -------------------------------------------------------------------- */

typedef struct model_case {
    const char *name;       /* test name */
    const char *model;      /* under fixtures */
    const char *ref;        /* reference file under fixtures */
    fv_dtype weight_dtype;
    fv_vision_pos_resize pos_resize;
    double tol;
    bool resized;           /* the reference has resized.* (another input size) */
    bool pooled;            /* the reference's pooled output applies */
    bool last;              /* the reference has SigLIP's last_hidden_state */
    int resized_size;
} model_case;

static const model_case cases[] = {
    {"clip", "clip", "clip_ref.safetensors", FV_DTYPE_F32, FV_VISION_POS_BILINEAR, 1e-4, true, true, false, 64},
    {"clip-f16", "clip", "clip_ref.safetensors", FV_DTYPE_F16, FV_VISION_POS_BILINEAR, 5e-3, false, true, false, 0},
    {"clip-gguf", "clip.gguf", "clip_gguf_ref.safetensors", FV_DTYPE_F32, 0, 1e-4, false, false, false, 0},
    {"clip-gguf-legacy", "clip_legacy.gguf", "clip_gguf_ref.safetensors", FV_DTYPE_F32, 0, 1e-4, false, false, false,
     0},
    {"siglip", "siglip", "siglip_ref.safetensors", FV_DTYPE_F32, FV_VISION_POS_BICUBIC, 1e-4, true, true, true, 48},
    {"fovea-tiny", "fovea_tiny", "fovea_tiny_ref.safetensors", FV_DTYPE_F32, 0, 1e-4, false, true, false, 0},
};

/* Creates an encoder; false (a skip) when the backend lacks an op. */
static bool make_encoder(th_runner *r, const th_backend *b, const char *name, const fv_vision_model *m,
                         const fv_vision_encode_desc *d, fv_vision_encoder **enc)
{
    fv_status st = fv_vision_encoder_create(m, d, enc);
    if (st == FV_STATUS_UNSUPPORTED) {
        r->skipped++;
        printf("skip %-7s %-52s %s\n", b->name, name, fv_context_last_error(b->ctx));
        return false;
    }
    return th_ok(r, b, name, st);
}

/* Runs the encoder on reference tensor `pixels_name`. */
static bool run_on(th_runner *r, const th_backend *b, const char *name, fv_vision_encoder *enc, fv_safetensors *ref,
                   const char *pixels_name)
{
    size_t n = 0;
    float *px = ref_tensor(r, b, name, ref, pixels_name, &n);
    if (!px) return false;
    bool ok = th_ok(r, b, name, fv_vision_encoder_run(enc, px, n));
    free(px);
    return ok;
}

/* Every hidden state, the attention statistics of every layer and the pooled output. */
static void check_all_layers(th_runner *r, const th_backend *b, const model_case *c, const fv_vision_model *m,
                             fv_safetensors *ref)
{
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    fv_vision_encode_desc d = {.keep_all = true, .pooled = c->pooled};
    for (int l = 1; l <= mi.layers; l++)
        fv_vision_encode_desc_stats(&d, m, l, FV_ATTENTION_STAT_CLS | FV_ATTENTION_STAT_RECEIVED);
    fv_vision_encoder *enc = NULL;
    if (!make_encoder(r, b, c->name, m, &d, &enc)) return;
    if (run_on(r, b, c->name, enc, ref, "pixel_values")) {
        char key[64];
        for (int l = 0; l <= mi.layers; l++) {
            snprintf(key, sizeof key, "hidden.%d", l);
            check_tensor(r, b, c->name, ref, key, fv_vision_encoder_hidden_state(enc, l), c->tol);
        }
        if (c->weight_dtype == FV_DTYPE_F32) { /* the statistics of the exact model */
            for (int l = 1; l <= mi.layers; l++) {
                snprintf(key, sizeof key, "cls.%d", l);
                check_tensor(r, b, c->name, ref, key, fv_vision_encoder_attention_stat(enc, l, FV_ATTENTION_STAT_CLS),
                             1e-4);
                snprintf(key, sizeof key, "received.%d", l);
                check_tensor(r, b, c->name, ref, key,
                             fv_vision_encoder_attention_stat(enc, l, FV_ATTENTION_STAT_RECEIVED), 1e-4);
            }
        }
        if (c->pooled) check_tensor(r, b, c->name, ref, "pooled", fv_vision_encoder_pooled(enc), c->tol);
    }
    fv_vision_encoder_destroy(enc);
}

/* LLaVA's choice: layer -2 alone, the graph stopping before the last layer. */
static void check_layer_minus_2(th_runner *r, const th_backend *b, const model_case *c, const fv_vision_model *m,
                                fv_safetensors *ref)
{
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    char name[96];
    snprintf(name, sizeof name, "%s layer -2", c->name);
    fv_vision_encode_desc d = {.layer = -2};
    fv_vision_encode_desc_stats(&d, m, -2, FV_ATTENTION_STAT_CLS);
    fv_vision_encoder *enc = NULL;
    if (!make_encoder(r, b, name, m, &d, &enc)) return;
    fv_vision_encoder_info ei;
    fv_vision_encoder_get_info(enc, &ei);
    if (ei.output_layer != mi.layers - 1 || ei.layers_run != mi.layers - 1 ||
        fv_vision_encoder_hidden_state(enc, mi.layers) != NULL)
        th_fail(r, b, name, "output layer %d, %d layers run (want %d and %d)", ei.output_layer, ei.layers_run,
                mi.layers - 1, mi.layers - 1);
    if (run_on(r, b, name, enc, ref, "pixel_values")) {
        char key[32];
        snprintf(key, sizeof key, "hidden.%d", mi.layers - 1);
        check_tensor(r, b, name, ref, key, fv_vision_encoder_output(enc), c->tol);
        /* the host copy helpers read the same values */
        size_t n = 0;
        snprintf(key, sizeof key, "cls.%d", mi.layers - 1);
        float *want = ref_tensor(r, b, name, ref, key, &n);
        float *got = malloc((n ? n : 1) * sizeof *got);
        if (want && th_ok(r, b, name, fv_vision_encoder_read_stat(enc, -2, FV_ATTENTION_STAT_CLS, got, n)))
            compare(r, b, "read_stat layer -2", got, want, n, 1e-4);
        if (fv_vision_encoder_read_stat(enc, -2, FV_ATTENTION_STAT_RECEIVED, got, n) != FV_STATUS_INVALID_ARGUMENT)
            th_fail(r, b, name, "a statistic not asked for was readable");
        else
            r->passed++;
        free(want);
        free(got);
    }
    fv_vision_encoder_destroy(enc);
}

/* Another input size: the position table resized at encoder creation. */
static void check_resized(th_runner *r, const th_backend *b, const model_case *c, const fv_vision_model *m,
                          fv_safetensors *ref)
{
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    char name[96];
    snprintf(name, sizeof name, "%s at %dx%d", c->name, c->resized_size, c->resized_size);
    fv_vision_encode_desc d = {.width = c->resized_size, .height = c->resized_size, .keep_all = true};
    fv_vision_encoder *enc = NULL;
    if (!make_encoder(r, b, name, m, &d, &enc)) return;
    if (run_on(r, b, name, enc, ref, "resized.pixel_values")) {
        char key[64];
        for (int l = 0; l <= mi.layers; l++) {
            snprintf(key, sizeof key, "resized.hidden.%d", l);
            check_tensor(r, b, name, ref, key, fv_vision_encoder_hidden_state(enc, l), c->tol);
        }
    }
    fv_vision_encoder_destroy(enc);
}

/* SigLIP's last_hidden_state: the last layer through post_layernorm. */
static void check_post_norm(th_runner *r, const th_backend *b, const model_case *c, const fv_vision_model *m,
                            fv_safetensors *ref)
{
    char name[96];
    snprintf(name, sizeof name, "%s post-norm", c->name);
    fv_vision_encode_desc d = {.post_norm = true};
    fv_vision_encoder *enc = NULL;
    if (!make_encoder(r, b, name, m, &d, &enc)) return;
    if (run_on(r, b, name, enc, ref, "pixel_values"))
        check_tensor(r, b, name, ref, "last", fv_vision_encoder_output(enc), c->tol);
    fv_vision_encoder_destroy(enc);
}

static void run_case(th_runner *r, const th_backend *b, const model_case *c)
{
    char *mpath = path_of(fixtures, c->model), *rpath = path_of(fixtures, c->ref);
    fv_safetensors *ref = NULL;
    char err[512];
    fv_vision_model *m = NULL;
    fv_vision_load_desc ld = {.weight_dtype = c->weight_dtype, .pos_resize = c->pos_resize, .progress = -1};
    if (fv_safetensors_open(rpath, &ref, err, sizeof err)) {
        th_fail(r, b, c->name, "%s", err);
    } else if (th_ok(r, b, c->name, fv_vision_model_load(b->ctx, mpath, &ld, &m))) {
        /* a backend without some op skips the whole case at once */
        fv_vision_encoder *probe = NULL;
        if (!make_encoder(r, b, c->name, m, NULL, &probe)) goto done;
        fv_vision_encoder_destroy(probe);
        check_all_layers(r, b, c, m, ref);
        if (c->weight_dtype == FV_DTYPE_F32) check_layer_minus_2(r, b, c, m, ref);
        if (c->resized) check_resized(r, b, c, m, ref);
        if (c->last) check_post_norm(r, b, c, m, ref);
    }
done:
    fv_vision_model_destroy(m);
    fv_safetensors_close(ref);
    free(mpath);
    free(rpath);
}

/* ---- ToMe ----------------------------------------------------------------------- */

static void check_tome(th_runner *r, const th_backend *b)
{
    char *mpath = path_of(fixtures, "clip"), *rpath = path_of(fixtures, "clip_tome_ref.safetensors");
    fv_safetensors *ref = NULL;
    char err[512];
    fv_vision_model *m = NULL;
    fv_vision_load_desc ld = {.progress = -1};
    if (fv_safetensors_open(rpath, &ref, err, sizeof err)) {
        th_fail(r, b, "tome", "%s", err);
    } else if (th_ok(r, b, "tome", fv_vision_model_load(b->ctx, mpath, &ld, &m))) {
        static const int rs[2] = {4, 18};
        for (int i = 0; i < 2; i++) {
            char name[64], key[64];
            snprintf(name, sizeof name, "tome r%d", rs[i]);
            fv_vision_encode_desc d = {.keep_all = true, .tome_r = rs[i]};
            fv_vision_encoder *enc = NULL;
            if (!make_encoder(r, b, name, m, &d, &enc)) continue;
            fv_vision_encoder_info info;
            fv_vision_encoder_get_info(enc, &info);
            if (run_on(r, b, name, enc, ref, "pixel_values")) {
                for (int l = 0; l <= 3; l++) {
                    snprintf(key, sizeof key, "r%d.hidden.%d", rs[i], l);
                    check_tensor(r, b, name, ref, key, fv_vision_encoder_hidden_state(enc, l), 1e-4);
                }
                snprintf(key, sizeof key, "r%d.groups", rs[i]);
                size_t n = 0;
                float *want = ref_tensor(r, b, name, ref, key, &n);
                int32_t *got = want ? malloc(n * sizeof *got) : NULL;
                if (got && th_ok(r, b, key, fv_vision_encoder_token_groups(enc, got, n))) {
                    size_t bad = n;
                    for (size_t t = 0; t < n && bad == n; t++)
                        if (got[t] != (int32_t)want[t]) bad = t;
                    char what[96];
                    snprintf(what, sizeof what, "%s groups (%d -> %d tokens)", name, info.input_tokens, info.tokens);
                    th_expect(r, b, what, bad == n && info.input_tokens == (int)n, "token %zu is in group %d, not %d",
                              bad, bad < n ? got[bad] : 0, bad < n ? (int)want[bad] : 0);
                }
                free(want);
                free(got);
            }
            fv_vision_encoder_destroy(enc);
        }
    }
    fv_vision_model_destroy(m);
    fv_safetensors_close(ref);
    free(mpath);
    free(rpath);
}

/* ---- layouts and errors ------------------------------------------------------- */

static void expect_info(th_runner *r, const th_backend *b, const char *what, const char *model, const char *layout,
                        const char *act, int layers, bool has_cls, int feature_layer)
{
    char *path = path_of(fixtures, model);
    fv_vision_model *m = NULL;
    fv_vision_load_desc ld = {.progress = -1};
    char name[96];
    snprintf(name, sizeof name, "layout %s", what);
    if (th_ok(r, b, name, fv_vision_model_load(b->ctx, path, &ld, &m))) {
        fv_vision_model_info i;
        fv_vision_model_get_info(m, &i);
        if (strcmp(i.layout, layout) || strcmp(i.activation, act) || i.layers != layers || i.has_cls != has_cls ||
            i.feature_layer != feature_layer || i.hidden_size != 64 || i.grid != i.image_size / i.patch_size)
            th_fail(r, b, name, "layout %s, activation %s, %d layers, cls %d, feature layer %d", i.layout, i.activation,
                    i.layers, i.has_cls, i.feature_layer);
        else
            r->passed++;
    }
    fv_vision_model_destroy(m);
    free(path);
}

/* A directory beside the fixture's weights with its own config.json. */
static void expect_load_error(th_runner *r, const th_backend *b, const char *what, const char *config,
                              const char *must_name)
{
    char dir[] = "/tmp/fovea-vit-XXXXXX";
    if (!mkdtemp(dir)) {
        th_fail(r, b, what, "mkdtemp failed");
        return;
    }
    char *cfg = path_of(dir, "config.json"), *link = path_of(dir, "model.safetensors");
    char *src0 = path_of(fixtures, "clip/model.safetensors");
    char *src = realpath(src0, NULL);
    FILE *f = fopen(cfg, "w");
    if (f) {
        fputs(config, f);
        fclose(f);
    }
    if (!f || !src || symlink(src, link) != 0) {
        th_fail(r, b, what, "cannot prepare %s", dir);
    } else {
        fv_vision_model *m = NULL;
        fv_vision_load_desc ld = {.progress = -1};
        fv_status st = fv_vision_model_load(b->ctx, dir, &ld, &m);
        const char *msg = fv_context_last_error(b->ctx);
        if (st != FV_STATUS_INVALID_ARGUMENT || !strstr(msg, must_name))
            th_fail(r, b, what, "status %s, message \"%s\" (wanted one naming %s)", fv_status_name(st), msg,
                    must_name);
        else {
            r->passed++;
            printf("ok   %-7s %-52s %s\n", b->name, what, msg);
        }
        fv_vision_model_destroy(m);
    }
    unlink(link);
    unlink(cfg);
    rmdir(dir);
    free(cfg);
    free(link);
    free(src0);
    free(src);
}

static void check_layouts(th_runner *r, const th_backend *b)
{
    expect_info(r, b, "hf-clip", "clip", "hf-clip", "quick_gelu", 3, true, 0);
    expect_info(r, b, "hf-siglip", "siglip", "hf-siglip", "gelu_tanh", 2, false, 0);
    expect_info(r, b, "gguf", "clip.gguf", "gguf-mmproj", "quick_gelu", 3, true, 0);
    expect_info(r, b, "fovea-tiny", "fovea_tiny", "llava", "gelu", 2, true, -2);
    static const char base[] = "{\"model_type\": \"clip_vision_model\", \"hidden_size\": %d, \"intermediate_size\": "
                               "128, \"num_hidden_layers\": %d, \"num_attention_heads\": 4, \"image_size\": 48, "
                               "\"patch_size\": 8, \"hidden_act\": \"%s\"}";
    char cfg[512];
    snprintf(cfg, sizeof cfg, base, 64, 4, "quick_gelu");
    expect_load_error(r, b, "missing tensor (config says 4 layers)", cfg, "encoder.layers.3.layer_norm1.weight");
    snprintf(cfg, sizeof cfg, base, 32, 3, "quick_gelu");
    expect_load_error(r, b, "misshaped tensor (config says width 32)", cfg, "patch_embedding.weight");
    snprintf(cfg, sizeof cfg, base, 64, 3, "relu6");
    expect_load_error(r, b, "unknown activation", cfg, "relu6");
}

/* The bundled fovea-tiny, where its weights were exported: one eval image
 * through the model's own preprocessing, every backend agreeing with the
 * CPU reference backend on layer -2 and its [CLS] attention. */
static float *tiny_cpu_features, *tiny_cpu_cls;

static void check_bundled(th_runner *r, const th_backend *b)
{
    char *dir = path_of(root, "models/fovea-tiny"), *weights = path_of(dir, "model.safetensors");
    char *image_path = path_of(dir, "eval/images/00000.png");
    const char *name = "bundled fovea-tiny layer -2";
    if (access(weights, R_OK) != 0 || access(image_path, R_OK) != 0) {
        r->skipped++;
        printf("skip %-7s %-52s no exported weights in models/fovea-tiny\n", b->name, name);
        goto done;
    }
    fv_vision_model *m = NULL;
    fv_vision_encoder *enc = NULL;
    fv_image img = {0};
    float *px = NULL, *feat = NULL, *cls = NULL;
    char err[256];
    fv_vision_load_desc ld = {.progress = -1};
    if (!th_ok(r, b, name, fv_vision_model_load(b->ctx, dir, &ld, &m))) goto cleanup;
    fv_preprocess_desc pd;
    fv_vision_model_preprocess_desc(m, &pd);
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    if (fv_image_load(image_path, &img, err, sizeof err)) {
        th_fail(r, b, name, "%s", err);
        goto cleanup;
    }
    size_t npx = (size_t)3 * mi.image_size * mi.image_size;
    px = malloc(npx * sizeof *px);
    if (fv_image_preprocess(&img, &pd, px, npx, err, sizeof err)) {
        th_fail(r, b, name, "%s", err);
        goto cleanup;
    }
    fv_vision_encode_desc d = {.layer = mi.feature_layer ? mi.feature_layer : -2};
    fv_vision_encode_desc_stats(&d, m, d.layer, FV_ATTENTION_STAT_CLS);
    if (!make_encoder(r, b, name, m, &d, &enc) || !th_ok(r, b, name, fv_vision_encoder_run(enc, px, npx)))
        goto cleanup;
    fv_vision_encoder_info ei;
    fv_vision_encoder_get_info(enc, &ei);
    size_t nf = (size_t)ei.tokens * (size_t)ei.hidden_size;
    feat = download(r, b, name, fv_vision_encoder_output(enc), nf);
    cls = download(r, b, name, fv_vision_encoder_attention_stat(enc, d.layer, FV_ATTENTION_STAT_CLS),
                   (size_t)ei.tokens);
    if (!feat || !cls) goto cleanup;
    if (fv_context_backend(b->ctx) == FV_BACKEND_CPU) {
        bool finite = true;
        for (size_t i = 0; i < nf; i++) finite &= isfinite(feat[i]) != 0;
        if (!finite) th_fail(r, b, name, "non-finite features");
        else {
            r->passed++;
            printf("ok   %-7s %-52s [1, %d, %d]\n", b->name, name, ei.tokens, ei.hidden_size);
        }
        free(tiny_cpu_features);
        free(tiny_cpu_cls);
        tiny_cpu_features = feat, tiny_cpu_cls = cls;
        feat = cls = NULL;
    } else if (tiny_cpu_features) {
        compare(r, b, "bundled fovea-tiny vs cpu: layer -2", feat, tiny_cpu_features, nf, 1e-4);
        compare(r, b, "bundled fovea-tiny vs cpu: [CLS] attention", cls, tiny_cpu_cls, (size_t)ei.tokens, 1e-4);
    }
cleanup:
    free(px);
    free(feat);
    free(cls);
    fv_image_free(&img);
    fv_vision_encoder_destroy(enc);
    fv_vision_model_destroy(m);
done:
    free(dir);
    free(weights);
    free(image_path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURES_DIR [PROJECT_ROOT] [filter]\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    root = argc > 2 ? argv[2] : ".";
    char *args[2] = {argv[0], argc > 3 ? argv[3] : NULL};
    th_runner r;
    bool ok = th_open(&r, argc > 3 ? 2 : 1, args);
    for (int i = 0; i < r.nbackends; i++) {
        const th_backend *b = &r.backends[i];
        if (th_selected(&r, "layout")) check_layouts(&r, b);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            if (th_selected(&r, cases[c].name)) run_case(&r, b, &cases[c]);
        if (th_selected(&r, "bundled")) check_bundled(&r, b);
        if (th_selected(&r, "tome")) check_tome(&r, b);
    }
    free(tiny_cpu_features);
    free(tiny_cpu_cls);
    int rc = th_close(&r);
    return ok ? rc : 1;
}
