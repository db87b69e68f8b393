/* The language model against Hugging Face transformers, on every backend
 * present.
 *
 * Fixtures (tests/fixtures/make_lm_fixtures.py): random-weight Llama, Qwen2
 * (q/k/v biases) and SmolLM2-like (tied embeddings) decoders saved by
 * transformers in f32, the Llama one also as llama.cpp GGUF in f16, q8_0
 * and q4_0 (q/k rows permuted: interleaved RoPE), the Qwen2 one in f16
 * (rotate-half RoPE), and a 1-layer Llama of the same vocabulary stored as
 * the text part of a LLaVA directory (the draft). The expected values are
 * transformers' float64 forward: the prompt's last logits, three decode
 * steps' logits, and a 32-token greedy continuation; for the GGUF files,
 * the same forward over the weights as the file stores them.
 *
 * Error measure: max |fovea - reference| over the logits divided by the
 * reference's largest magnitude. Tolerances:
 *   f32 weights, and GGUF f16 against its stored weights    1e-4
 *   f32 file converted to f16 at load, against f32          5e-3
 *   q8_0 / q4_0 against their stored (dequantised) weights  2e-2
 *     (the quantised matmul may round activations too)
 * Greedy continuations must match exactly where the reference's weights
 * are those fovea runs (f32, GGUF f16); for converted and quantised
 * weights the number of matching leading tokens is printed.
 *
 * Also: input embeddings replacing image-token rows, sampling (same seed,
 * same draw; the repetition penalty), stop ids and the streaming callback, speculative decoding (identical to
 * plain greedy for k = 1, 2, 4, with a 1-layer draft, the target as its
 * own draft (acceptance 1) and the target's q4_0 GGUF as draft), rewind, the bundled fovea-tiny's text part, and
 * damaged / unsupported files.
 *
 * usage: test-lm FIXTURES_DIR [PROJECT_ROOT] [filter] */
#include "harness.h"

#include "fovea/lm.h"

#include <unistd.h>

static const char *fixtures;
static const char *root;
static fv_safetensors *expected;

/* ---- helpers ------------------------------------------------------------------ */

static const void *ref(th_runner *r, const th_backend *b, const char *name, size_t *count)
{
    const fv_weight_info *w = fv_safetensors_find(expected, name);
    if (!w) {
        th_fail(r, b, name, "reference tensor missing");
        return NULL;
    }
    *count = w->nbytes / 4;
    return w->data;
}

static bool compare(th_runner *r, const th_backend *b, const char *name, const float *got, const void *refp, size_t n,
                    double tol)
{
    const float *rf = refp;
    double peak = 0, err = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) peak = fmax(peak, fabs((double)rf[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - rf[i]);
        if (!(e <= err)) err = e, at = i;
    }
    const double rel = peak > 0 ? err / peak : err;
    const bool ok = rel <= tol;
    if (ok) r->passed++;
    else r->failed++;
    printf("%s %-7s %-52s rel err %.2e (tol %.0e)", ok ? "ok  " : "FAIL", b->name, name, rel, tol);
    if (!ok) printf(" at %zu: %g vs %g", at, (double)got[at], (double)rf[at]);
    printf("\n");
    return ok;
}

static fv_lm_model *load(th_runner *r, const th_backend *b, const char *file, const fv_lm_load_desc *d)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures, file);
    fv_lm_model *m = NULL;
    fv_status st = fv_lm_model_load(b->ctx, path, d, &m);
    if (st == FV_STATUS_UNSUPPORTED) return NULL;
    th_ok(r, b, file, st);
    return m;
}

/* A session; NULL with a skip when the backend lacks an op (graphs are
 * built on first use, so this runs a one-token forward to find out). */
static fv_lm_session *session(th_runner *r, const th_backend *b, const char *name, fv_lm_model *m,
                              const fv_lm_session_desc *d)
{
    fv_lm_session *s = NULL;
    if (!th_ok(r, b, name, fv_lm_session_create(m, d, &s))) return NULL;
    const int32_t one = 1;
    const fv_lm_prompt p = {.ids = &one, .n = 1};
    fv_status st = fv_lm_prefill(s, &p, NULL);
    const char *msg = fv_context_last_error(b->ctx);
    if (st == FV_STATUS_UNSUPPORTED ||
        (st == FV_STATUS_INVALID_ARGUMENT && (strstr(msg, "q8_0") || strstr(msg, "q4_0")))) {
        /* a backend without the op, or without quantised matmuls */
        r->skipped++;
        printf("skip %-7s %-52s %s\n", b->name, name, fv_context_last_error(b->ctx));
        fv_lm_session_destroy(s);
        return NULL;
    }
    if (!th_ok(r, b, name, st) || !th_ok(r, b, name, fv_lm_session_rewind(s, 0))) {
        fv_lm_session_destroy(s);
        return NULL;
    }
    return s;
}

static int common_prefix(const int32_t *a, const int32_t *b, int n)
{
    int k = 0;
    while (k < n && a[k] == b[k]) k++;
    return k;
}

/* ---- model cases -------------------------------------------------------------- */

typedef struct lm_case {
    const char *name; /* for the filter */
    const char *file;
    const char *ref;  /* expected.safetensors prefix of prompt / prefill / decode / greedy */
    const char *gref; /* prefix of the greedy / prefill of this file's stored weights, or NULL */
    bool convert;
    fv_dtype dtype;
    double tol;
    bool exact;       /* the greedy continuation must match */
    const char *arch, *layout;
} lm_case;

static const lm_case cases[] = {
    {"llama", "llama", "llama", NULL, false, 0, 1e-4, true, "llama", "hf"},
    {"qwen2", "qwen2", "qwen2", NULL, false, 0, 1e-4, true, "qwen2", "hf"},
    {"smol", "smol", "smol", NULL, false, 0, 1e-4, true, "llama", "hf"},
    {"llava", "llava_draft", "draft", NULL, false, 0, 1e-4, true, "llama", "llava"},
    {"gguf_f16", "llama_f16.gguf", "llama", "llama_f16", false, 0, 1e-4, true, "llama", "gguf"},
    {"gguf_qwen2", "qwen2_f16.gguf", "qwen2", "qwen2_f16", false, 0, 1e-4, true, "qwen2", "gguf"},
    {"gguf_q8_0", "llama_q8_0.gguf", "llama", "llama_q8_0", false, 0, 2e-2, false, "llama", "gguf"},
    {"gguf_q4_0", "llama_q4_0.gguf", "llama", "llama_q4_0", false, 0, 2e-2, false, "llama", "gguf"},
    {"convert_f16", "llama", "llama", NULL, true, FV_DTYPE_F16, 5e-3, false, "llama", "hf"},
    {"convert_q8_0", "llama", "llama", NULL, true, FV_DTYPE_Q8_0, 5e-2, false, "llama", "hf"},
};

static void run_case(th_runner *r, const th_backend *b, const lm_case *c)
{
    char name[128], key[64];
    fv_lm_load_desc d = {.convert = c->convert, .weight_dtype = c->dtype};
    fv_lm_model *m = load(r, b, c->file, &d);
    if (!m) return;
    fv_lm_model_info mi;
    fv_lm_model_get_info(m, &mi);
    snprintf(name, sizeof name, "%s info", c->name);
    th_expect(r, b, name, strcmp(mi.layout, c->layout) == 0 && mi.arch == (strcmp(c->arch, "qwen2") == 0),
              "layout %s arch %d", mi.layout, (int)mi.arch);
    fv_lm_session_desc sd = {.context_length = 64};
    fv_lm_session *s = session(r, b, c->name, m, &sd);
    if (!s) {
        fv_lm_model_destroy(m);
        return;
    }
    size_t np = 0, nv = 0, ng = 0;
    snprintf(key, sizeof key, "%s.prompt", c->ref);
    const int32_t *prompt = ref(r, b, key, &np);
    snprintf(key, sizeof key, "%s.prefill", c->gref ? c->gref : c->ref);
    const float *prefill = ref(r, b, key, &nv);
    snprintf(key, sizeof key, "%s.greedy", c->gref ? c->gref : c->ref);
    const int32_t *greedy = ref(r, b, key, &ng);
    snprintf(key, sizeof key, "%s.decode", c->ref);
    size_t nd = 0;
    const float *decode = ref(r, b, key, &nd);
    if (!prompt || !prefill || !greedy || !decode || nv != (size_t)mi.vocab_size) goto done;
    float *logits = malloc(nv * sizeof *logits);
    const fv_lm_prompt p = {.ids = prompt, .n = (int)np};
    int32_t tok;
    snprintf(name, sizeof name, "%s prefill logits", c->name);
    if (th_ok(r, b, name, fv_lm_prefill(s, &p, &tok)) && th_ok(r, b, name, fv_lm_session_logits(s, logits, nv)))
        compare(r, b, name, logits, prefill, nv, c->tol);
    /* decode steps fed the reference's greedy tokens (only the f32 reference has them) */
    for (int k = 0; k < 3 && !c->gref; k++) {
        snprintf(name, sizeof name, "%s decode %d logits", c->name, k + 1);
        if (th_ok(r, b, name, fv_lm_decode(s, greedy[k], &tok)) && th_ok(r, b, name, fv_lm_session_logits(s, logits, nv)))
            compare(r, b, name, logits, decode + (size_t)k * nv, nv, c->tol);
    }
    /* the 32-token greedy continuation */
    int32_t out[64];
    int n = 0;
    fv_lm_generate_desc gd = {.max_new_tokens = (int)ng, .n_stop_ids = 1, .stop_ids = {-1}};
    snprintf(name, sizeof name, "%s greedy %zu tokens", c->name, ng);
    if (th_ok(r, b, name, fv_lm_session_rewind(s, 0)) && th_ok(r, b, name, fv_lm_generate(s, &p, &gd, out, 64, &n))) {
        const int same = common_prefix(out, greedy, n < (int)ng ? n : (int)ng);
        if (c->exact) th_expect(r, b, name, same == (int)ng && n == (int)ng, "%d of %zu tokens match", same, ng);
        else printf("info %-7s %-52s %d of %zu leading tokens match the reference\n", b->name, name, same, ng);
        fv_lm_timings t;
        fv_lm_session_timings(s, &t);
        printf("info %-7s %-52s prefill %.2f ms, decode %.0f tok/s, graphs built in %.1f ms\n", b->name, name,
               t.prefill_ms, t.decode_tokens_per_s, t.build_ms);
    }
    free(logits);
done:
    fv_lm_session_destroy(s);
    fv_lm_model_destroy(m);
}

/* ---- input embeddings --------------------------------------------------------- */

/* The llama prompt with three rows given as embeddings (the embedding
 * table's rows of the ids they replace) must give the same logits. */
static void check_embeds(th_runner *r, const th_backend *b)
{
    fv_lm_model *m = load(r, b, "llama", NULL);
    if (!m) return;
    fv_lm_session_desc sd = {.context_length = 64, .image_token_id = 3};
    fv_lm_session *s = session(r, b, "embeds", m, &sd);
    char path[1024];
    snprintf(path, sizeof path, "%s/llama/model.safetensors", fixtures);
    fv_safetensors *st = NULL;
    char err[256];
    size_t np = 0, nv = 0;
    const int32_t *prompt = ref(r, b, "llama.prompt", &np);
    const float *prefill = ref(r, b, "llama.prefill", &nv);
    if (s && prompt && th_ok(r, b, "embeds open", fv_safetensors_open(path, &st, err, sizeof err))) {
        const fv_weight_info *emb = fv_safetensors_find(st, "model.embed_tokens.weight");
        const int D = 64, rows[3] = {2, 3, 7};
        float e[3 * 64];
        int32_t ids[64];
        memcpy(ids, prompt, np * sizeof *ids);
        for (int k = 0; k < 3; k++) {
            memcpy(e + k * D, (const float *)emb->data + (size_t)prompt[rows[k]] * D, D * sizeof(float));
            ids[rows[k]] = 3;
        }
        const int64_t shape[3] = {1, 3, D};
        fv_tensor *t = th_tensor(r, b, FV_DTYPE_F32, 3, shape, e);
        const fv_lm_prompt p = {.ids = ids, .n = (int)np, .embeds = t};
        float logits[256];
        if (t && th_ok(r, b, "embeds prefill", fv_lm_prefill(s, &p, NULL)) &&
            th_ok(r, b, "embeds logits", fv_lm_session_logits(s, logits, nv)))
            compare(r, b, "embeds: 3 rows from input embeddings", logits, prefill, nv, 1e-4);
        /* a count that does not match the image rows is refused */
        const fv_lm_prompt bad = {.ids = prompt, .n = (int)np, .embeds = t};
        th_expect(r, b, "embeds count mismatch", fv_lm_session_rewind(s, 0) == FV_STATUS_OK &&
                  fv_lm_prefill(s, &bad, NULL) == FV_STATUS_INVALID_ARGUMENT, "%s", fv_context_last_error(b->ctx));
        fv_tensor_destroy(t);
    }
    fv_safetensors_close(st);
    fv_lm_session_destroy(s);
    fv_lm_model_destroy(m);
}

/* ---- sampling ------------------------------------------------------------------ */

static void check_sampling(th_runner *r, const th_backend *b)
{
    fv_lm_model *m = load(r, b, "llama", NULL);
    if (!m) return;
    size_t np = 0;
    const int32_t *prompt = ref(r, b, "llama.prompt", &np);
    const fv_lm_prompt p = {.ids = prompt, .n = (int)np};
    fv_lm_session_desc sd = {.context_length = 64,
                             .sampler = {.temperature = 1.5f, .top_k = 40, .top_p = 0.95f, .seed = 7}};
    fv_lm_session *s = session(r, b, "sampling", m, &sd);
    int32_t a[16], c[16], e[16];
    int na = 0, nc = 0, ne = 0;
    const fv_lm_generate_desc gd = {.max_new_tokens = 16, .n_stop_ids = 1, .stop_ids = {-1}};
    if (s && th_ok(r, b, "sampling run 1", fv_lm_generate(s, &p, &gd, a, 16, &na)) &&
        th_ok(r, b, "sampling rewind", fv_lm_session_rewind(s, 0)) &&
        th_ok(r, b, "sampling run 2", fv_lm_generate(s, &p, &gd, c, 16, &nc))) {
        th_expect(r, b, "sampling: same seed, same tokens", na == 16 && nc == 16 && common_prefix(a, c, 16) == 16,
                  "%d / %d tokens, %d equal", na, nc, common_prefix(a, c, 16));
        fv_lm_sampler other = sd.sampler;
        other.seed = 8;
        other.repetition_penalty = 1.3f;
        bool ok = th_ok(r, b, "sampler change", fv_lm_session_set_sampler(s, &other)) &&
                  th_ok(r, b, "sampling rewind", fv_lm_session_rewind(s, 0)) &&
                  th_ok(r, b, "sampling run 3", fv_lm_generate(s, &p, &gd, e, 16, &ne));
        bool valid = ok;
        for (int k = 0; k < ne && valid; k++) valid = e[k] >= 0 && e[k] < 160;
        th_expect(r, b, "sampling: another seed + repetition penalty", valid && common_prefix(a, e, 16) < 16,
                  "%d tokens, %d equal to the first run", ne, common_prefix(a, e, 16));
    }
    fv_lm_session_destroy(s);
    fv_lm_model_destroy(m);
}

/* Stop ids and the streaming callback: generation ends at the first stop id
 * (which is written and counted) or when the callback says no. */
typedef struct counter {
    int calls, stop_at;
    int32_t seen[64];
} counter;

static bool on_token(int32_t token, void *user)
{
    counter *c = user;
    if (c->calls < 64) c->seen[c->calls] = token;
    return ++c->calls < c->stop_at;
}

static void check_stops(th_runner *r, const th_backend *b)
{
    fv_lm_model *m = load(r, b, "llama", NULL);
    fv_lm_session_desc sd = {.context_length = 64};
    fv_lm_session *s = m ? session(r, b, "stops", m, &sd) : NULL;
    size_t np = 0, ng = 0;
    const int32_t *prompt = ref(r, b, "llama.prompt", &np), *greedy = ref(r, b, "llama.greedy", &ng);
    if (s && prompt && greedy) {
        const fv_lm_prompt p = {.ids = prompt, .n = (int)np};
        int first = 0; /* where greedy[5] first occurs */
        while (greedy[first] != greedy[5]) first++;
        int32_t out[32];
        int n = 0;
        fv_lm_generate_desc gd = {.max_new_tokens = 32, .n_stop_ids = 2, .stop_ids = {-7, greedy[5]}};
        if (th_ok(r, b, "stops: stop id", fv_lm_generate(s, &p, &gd, out, 32, &n)))
            th_expect(r, b, "stops: stop id ends generation", n == first + 1 && out[first] == greedy[5],
                      "%d tokens, expected %d", n, first + 1);
        counter c = {.stop_at = 4};
        gd = (fv_lm_generate_desc){.max_new_tokens = 32, .n_stop_ids = 1, .stop_ids = {-1}, .on_token = on_token,
                                   .user_data = &c};
        if (th_ok(r, b, "stops: callback", fv_lm_session_rewind(s, 0)) &&
            th_ok(r, b, "stops: callback", fv_lm_generate(s, &p, &gd, out, 2, &n)))
            th_expect(r, b, "stops: callback streams and stops",
                      n == 4 && c.calls == 4 && common_prefix(c.seen, greedy, 4) == 4 && common_prefix(out, greedy, 2) == 2 &&
                          fv_lm_session_length(s) == (int)np + 3,
                      "%d tokens, %d calls, length %d", n, c.calls, fv_lm_session_length(s));
    }
    fv_lm_session_destroy(s);
    fv_lm_model_destroy(m);
}

/* ---- speculative decoding ----------------------------------------------------- */

static void check_speculative(th_runner *r, const th_backend *b)
{
    fv_lm_model *target = load(r, b, "llama", NULL), *small = load(r, b, "llava_draft", NULL),
                *q4 = load(r, b, "llama_q4_0.gguf", NULL);
    fv_lm_session_desc sd = {.context_length = 96};
    fv_lm_session *t = target ? session(r, b, "speculative target", target, &sd) : NULL;
    fv_lm_session *ds = small ? session(r, b, "speculative draft", small, &sd) : NULL;
    fv_lm_session *self = target ? session(r, b, "speculative self-draft", target, &sd) : NULL;
    /* the target's weights in q4_0: a draft that agrees often but not always (NULL where the
     * backend lacks q4_0 matmuls) */
    fv_lm_session *qd = q4 ? session(r, b, "speculative q4_0 draft", q4, &sd) : NULL;
    size_t np = 0;
    const int32_t *ref_prompt = ref(r, b, "llama.prompt", &np);
    if (!t || !ds || !self || !ref_prompt) goto done;
    int32_t prompts[3][16];
    int lens[3] = {(int)np, 5, 13};
    memcpy(prompts[0], ref_prompt, np * sizeof(int32_t));
    th_rng rng = th_seed(11);
    for (int q = 1; q < 3; q++)
        for (int k = 0; k < lens[q]; k++) prompts[q][k] = k == 0 ? 1 : 4 + (int32_t)(th_u32(&rng) % 156);
    const fv_lm_generate_desc plain = {.max_new_tokens = 32, .n_stop_ids = 1, .stop_ids = {-1}};
    for (int q = 0; q < 3; q++) {
        const fv_lm_prompt p = {.ids = prompts[q], .n = lens[q]};
        int32_t want[32], got[32];
        int nw = 0, ng = 0;
        fv_lm_timings pt;
        /* twice, so that the timing of the second leaves out the building of graphs */
        bool ok = true;
        for (int rep = 0; rep < 2 && ok; rep++)
            ok = th_ok(r, b, "speculative plain", fv_lm_session_rewind(t, 0)) &&
                 th_ok(r, b, "speculative plain", fv_lm_generate(t, &p, &plain, want, 32, &nw));
        if (!ok ||
            !th_ok(r, b, "speculative plain", fv_lm_session_timings(t, &pt)))
            continue;
        static const char *const dnames[3] = {"1-layer", "self", "q4_0"};
        for (int dk = 0; dk < 3; dk++) {
            fv_lm_session *d = dk == 0 ? ds : dk == 1 ? self : qd;
            if (!d) continue;
            static const int ks[3] = {1, 2, 4};
            for (int ki = 0; ki < 3; ki++) {
                char name[96];
                snprintf(name, sizeof name, "speculative prompt %d, %s draft, k=%d", q, dnames[dk], ks[ki]);
                fv_lm_generate_desc gd = plain;
                gd.draft_tokens = ks[ki];
                if (!th_ok(r, b, name, fv_lm_session_rewind(t, 0)) || !th_ok(r, b, name, fv_lm_session_rewind(d, 0)) ||
                    !th_ok(r, b, name, fv_lm_generate_speculative(t, d, &p, NULL, &gd, got, 32, &ng)))
                    continue;
                fv_lm_timings tm;
                fv_lm_session_timings(t, &tm);
                const bool same = ng == nw && common_prefix(got, want, nw) == nw;
                const bool lengths = fv_lm_session_length(t) == lens[q] + ng - 1;
                th_expect(r, b, name, same && lengths && (dk != 1 || tm.acceptance_rate == 1.0),
                          "%d / %d tokens equal, length %d, acceptance %.2f", common_prefix(got, want, nw), nw,
                          fv_lm_session_length(t), tm.acceptance_rate);
                /* again with every graph built, for the timing */
                if (q == 0 && ki == 2 && fv_lm_session_rewind(t, 0) == FV_STATUS_OK &&
                    fv_lm_session_rewind(d, 0) == FV_STATUS_OK &&
                    fv_lm_generate_speculative(t, d, &p, NULL, &gd, got, 32, &ng) == FV_STATUS_OK) {
                    fv_lm_session_timings(t, &tm);
                    printf("info %-7s %-52s acceptance %.2f over %d rounds; %.2f ms vs %.2f ms plain\n", b->name,
                           name, tm.acceptance_rate, tm.rounds, tm.first_token_ms + tm.decode_ms,
                           pt.first_token_ms + pt.decode_ms);
                }
            }
        }
    }
done:
    fv_lm_session_destroy(qd);
    fv_lm_session_destroy(self);
    fv_lm_session_destroy(ds);
    fv_lm_session_destroy(t);
    fv_lm_model_destroy(q4);
    fv_lm_model_destroy(small);
    fv_lm_model_destroy(target);
}

/* ---- the bundled model -------------------------------------------------------- */

static void check_bundled(th_runner *r, const th_backend *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/fovea-tiny", root);
    if (access(path, R_OK) != 0) return;
    fv_lm_model *m = NULL;
    if (!th_ok(r, b, "fovea-tiny load", fv_lm_model_load(b->ctx, path, NULL, &m))) return;
    fv_lm_model_info i;
    fv_lm_model_get_info(m, &i);
    th_expect(r, b, "fovea-tiny text config",
              strcmp(i.layout, "llava") == 0 && i.hidden_size == 128 && i.layers == 4 && i.kv_heads == 2 &&
                  i.vocab_size == 401 && i.image_token_id == 3 && i.eos_id == 2 && !i.tied_embeddings &&
                  i.weight_dtype == FV_DTYPE_F16,
              "layout %s, %d x %d, vocab %d, image id %d", i.layout, i.layers, i.hidden_size, i.vocab_size,
              i.image_token_id);
    fv_lm_session *s = session(r, b, "fovea-tiny", m, NULL);
    const int32_t ids[4] = {1, 40, 41, 42};
    const fv_lm_prompt p = {.ids = ids, .n = 4};
    float logits[401];
    int32_t next;
    if (s && th_ok(r, b, "fovea-tiny prefill", fv_lm_prefill(s, &p, &next)) &&
        th_ok(r, b, "fovea-tiny logits", fv_lm_session_logits(s, logits, 401))) {
        int best = 0;
        bool finite = true;
        for (int k = 0; k < 401; k++) {
            finite = finite && isfinite(logits[k]);
            if (logits[k] > logits[best]) best = k;
        }
        th_expect(r, b, "fovea-tiny: finite logits, greedy = argmax", finite && next == best, "next %d, argmax %d",
                  next, best);
    }
    fv_lm_session_destroy(s);
    fv_lm_model_destroy(m);
}

/* ---- bad files ---------------------------------------------------------------- */

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*n);
    if (p && fread(p, 1, *n, f) != *n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static unsigned char *find(unsigned char *p, size_t n, const char *s)
{
    const size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0) return p + i;
    return NULL;
}

/* Loads `bytes` written to a temporary file; the load must fail with `want`
 * and a message containing `words`, and leave *out NULL. */
static void expect_bad(th_runner *r, const th_backend *b, const char *what, const unsigned char *bytes, size_t n,
                       fv_status want, const char *words)
{
    char path[] = "/tmp/fovea-lm-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0 || write(fd, bytes, n) != (ssize_t)n) {
        th_fail(r, b, what, "cannot write a temporary file");
        if (fd >= 0) close(fd);
        return;
    }
    close(fd);
    char gpath[64];
    snprintf(gpath, sizeof gpath, "%s.gguf", path);
    rename(path, gpath);
    fv_lm_model *m = (fv_lm_model *)1;
    const fv_status st = fv_lm_model_load(b->ctx, gpath, NULL, &m);
    const char *msg = fv_context_last_error(b->ctx);
    th_expect(r, b, what, st == want && m == NULL && strstr(msg, words), "%s: %s", fv_status_name(st), msg);
    if (st == FV_STATUS_OK) fv_lm_model_destroy(m);
    unlink(gpath);
}

static void check_bad(th_runner *r, const th_backend *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/llama_f16.gguf", fixtures);
    size_t n;
    unsigned char *good = read_all(path, &n);
    if (!good) {
        th_fail(r, b, "bad files", "cannot read %s", path);
        return;
    }
    unsigned char *p = malloc(n);
    unsigned char *at;
    /* general.architecture = "llama" -> "mamba" */
    memcpy(p, good, n);
    at = find(p, n, "general.architecture");
    at = at ? find(at, n - (size_t)(at - p), "llama") : NULL;
    if (at) memcpy(at, "mamba", 5);
    expect_bad(r, b, "bad: unknown architecture", p, n, FV_STATUS_INVALID_ARGUMENT, "mamba");
    /* a tensor renamed: blk.1.ffn_up.weight goes missing */
    memcpy(p, good, n);
    at = find(p, n, "blk.1.ffn_up.weight");
    if (at) memcpy(at, "blk.1.ffn_uq.weight", 19);
    expect_bad(r, b, "bad: missing tensor", p, n, FV_STATUS_INVALID_ARGUMENT, "blk.1.ffn_up.weight");
    /* llama.feed_forward_length 96 -> 80: every MLP matrix misshaped */
    memcpy(p, good, n);
    at = find(p, n, "llama.feed_forward_length");
    if (at) {
        unsigned char *v = at + strlen("llama.feed_forward_length") + 4; /* after the u32 type */
        const uint32_t ff = 80;
        memcpy(v, &ff, 4);
    }
    expect_bad(r, b, "bad: wrong shape", p, n, FV_STATUS_INVALID_ARGUMENT, "ffn_gate");
    /* the tensor info of output_norm.weight says ggml type 3 (q4_1) */
    memcpy(p, good, n);
    at = find(p, n, "output_norm.weight");
    if (at) {
        unsigned char *q = at + strlen("output_norm.weight");
        uint32_t nd;
        memcpy(&nd, q, 4);
        const uint32_t t = 3;
        memcpy(q + 4 + 8 * nd, &t, 4);
    }
    expect_bad(r, b, "bad: unknown dtype", p, n, FV_STATUS_INVALID_ARGUMENT, "output_norm.weight");
    /* wrong magic, truncated file */
    memcpy(p, good, n);
    p[0] = 'X';
    expect_bad(r, b, "bad: wrong magic", p, n, FV_STATUS_INVALID_ARGUMENT, "");
    expect_bad(r, b, "bad: truncated", good, n / 2, FV_STATUS_INVALID_ARGUMENT, "");
    free(p);
    free(good);
    /* a bad descriptor */
    fv_lm_model *m = NULL;
    const fv_lm_load_desc d = {.convert = true, .weight_dtype = FV_DTYPE_I32};
    snprintf(path, sizeof path, "%s/llama", fixtures);
    th_expect(r, b, "bad: weight dtype i32",
              fv_lm_model_load(b->ctx, path, &d, &m) == FV_STATUS_INVALID_ARGUMENT && m == NULL, "%s",
              fv_context_last_error(b->ctx));
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
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/expected.safetensors", fixtures);
    if (fv_safetensors_open(path, &expected, err, sizeof err) != FV_STATUS_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (int i = 0; i < r.nbackends; i++) {
        const th_backend *b = &r.backends[i];
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            if (th_selected(&r, cases[c].name)) run_case(&r, b, &cases[c]);
        if (th_selected(&r, "embeds")) check_embeds(&r, b);
        if (th_selected(&r, "sampling")) check_sampling(&r, b);
        if (th_selected(&r, "stops")) check_stops(&r, b);
        if (th_selected(&r, "speculative")) check_speculative(&r, b);
        if (th_selected(&r, "bundled")) check_bundled(&r, b);
        if (th_selected(&r, "bad")) check_bad(&r, b);
    }
    fv_safetensors_close(expected);
    int rc = th_close(&r);
    return ok ? rc : 1;
}
