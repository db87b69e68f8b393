/* Tokenizer tests: token ids compared exactly with those Hugging Face's
 * `tokenizers` (and, for SentencePiece, the `sentencepiece` library)
 * produced for the same text and vocabulary (tests/fixtures/tokenizer,
 * written by make_tokenizer_fixtures.py), decoding compared with theirs,
 * streaming decode compared with whole decode, NFC against Python's
 * unicodedata, and bad input.
 *
 * The real vocabularies (GPT-2, Qwen3) are read from ../shared/data/tokenizers
 * beside the source tree; where that is absent those cases are skipped with
 * a message. The committed fixtures (a SentencePiece GGUF, the bundled
 * tokenizer as GGUF and with extra options) always run.
 *
 *   test-tokenizer SOURCE_ROOT */
#include "fovea/model.h"
#include "fovea/tokenizer.h"
#include "models/tokenizer_internal.h"
#include "models/unicode.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int passed, failed, skipped;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failed++;
}

static bool check(bool ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return true;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("  FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failed++;
    return false;
}

static void skip(const char *what)
{
    printf("  SKIP %s\n", what);
    skipped++;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    cJSON *j = cJSON_ParseWithLength(buf, got);
    free(buf);
    return j;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* ---- encode / decode helpers ------------------------------------------------ */

static int32_t *encode(const fv_tokenizer *tok, const char *text, uint32_t flags, size_t *n)
{
    size_t len = strlen(text), need = 0;
    fv_tokenizer_encode(tok, text, len, flags, NULL, 0, &need);
    int32_t *ids = malloc((need ? need : 1) * sizeof *ids);
    fv_status st = fv_tokenizer_encode(tok, text, len, flags, ids, need, n);
    if (st != FV_STATUS_OK) {
        free(ids);
        return NULL;
    }
    return ids;
}

static char *decode(const fv_tokenizer *tok, const int32_t *ids, size_t n, uint32_t flags)
{
    size_t len = 0;
    fv_tokenizer_decode(tok, ids, n, flags, NULL, 0, &len);
    char *text = malloc(len + 1);
    if (fv_tokenizer_decode(tok, ids, n, flags, text, len + 1, &len) != FV_STATUS_OK) {
        free(text);
        return NULL;
    }
    return text;
}

/* The same through the streaming decoder, one token at a time; every piece
 * must itself be valid UTF-8. */
static char *decode_stream(const fv_tokenizer *tok, const int32_t *ids, size_t n, uint32_t flags,
                           bool *pieces_valid)
{
    size_t cap = fv_tokenizer_max_piece(tok);
    char *piece = malloc(cap);
    size_t total = 0, tcap = 64;
    char *out = malloc(tcap);
    fv_tokenizer_stream stream = {0};
    *pieces_valid = true;
    for (size_t i = 0; i <= n; i++) {
        size_t len;
        fv_status st = i < n ? fv_tokenizer_decode_piece(tok, &stream, ids[i], flags, piece, cap, &len)
                             : fv_tokenizer_stream_flush(&stream, piece, cap, &len);
        if (st != FV_STATUS_OK) {
            free(piece);
            free(out);
            return NULL;
        }
        if (fv_utf8_check((const uint8_t *)piece, len) != len) *pieces_valid = false;
        while (total + len + 1 > tcap) out = realloc(out, tcap *= 2);
        memcpy(out + total, piece, len);
        total += len;
    }
    out[total] = 0;
    free(piece);
    return out;
}

static int32_t *json_ids(const cJSON *arr, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) ids[i++] = (int32_t)v->valuedouble;
    return ids;
}

/* Compares ids; on a mismatch prints where they part. */
static bool same_ids(const char *label, size_t index, const int32_t *got, size_t ngot, const cJSON *expected)
{
    size_t nexp;
    int32_t *exp = json_ids(expected, &nexp);
    size_t k = 0;
    while (k < ngot && k < nexp && got[k] == exp[k]) k++;
    bool ok = got && k == ngot && k == nexp;
    if (!ok) {
        fail("%s, text %zu: %zu ids, expected %zu; first difference at %zu", label, index, ngot, nexp, k);
        printf("       got:     ");
        for (size_t i = k > 3 ? k - 3 : 0; i < ngot && i < k + 6; i++) printf(" %d", (int)got[i]);
        printf("\n       expected:");
        for (size_t i = k > 3 ? k - 3 : 0; i < nexp && i < k + 6; i++) printf(" %d", (int)exp[i]);
        printf("\n");
    } else {
        passed++;
    }
    free(exp);
    return ok;
}

/* Encodes every text with `flags` and compares with expected[i]; checks
 * decode (whole and streamed) against decoded[i] when given. `only` (may
 * be NULL) selects texts. */
static void run_texts(const char *label, const fv_tokenizer *tok, const cJSON *texts, const cJSON *expected,
                      const cJSON *decoded, uint32_t flags, const bool *only)
{
    int before = failed;
    size_t i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, texts) {
        if (only && !only[i]) {
            i++;
            continue;
        }
        size_t n = 0;
        int32_t *ids = encode(tok, t->valuestring, flags, &n);
        same_ids(label, i, ids, n, cJSON_GetArrayItem(expected, (int)i));
        if (decoded && ids) {
            const char *want = cJSON_GetArrayItem(decoded, (int)i)->valuestring;
            char *text = decode(tok, ids, n, 0);
            check(text && strcmp(text, want) == 0, "%s, text %zu: decode differs: \"%s\"", label, i,
                  text ? text : "(error)");
            bool valid;
            char *streamed = decode_stream(tok, ids, n, 0, &valid);
            check(streamed && valid && strcmp(streamed, want) == 0,
                  "%s, text %zu: streamed decode differs or a piece is not UTF-8", label, i);
            free(text);
            free(streamed);
        }
        free(ids);
        i++;
    }
    printf("  %-44s %s\n", label, failed == before ? "ok" : "FAILED");
}

/* Decoding of id prefixes (cut UTF-8 characters, special tokens). */
static void run_decode_cases(const char *label, const fv_tokenizer *tok, const cJSON *cases)
{
    int before = failed;
    size_t k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        size_t n;
        int32_t *ids = json_ids(jget(c, "ids"), &n);
        static const struct {
            const char *key;
            uint32_t flags;
        } modes[2] = {{"text", 0}, {"text_skip_special", FV_DETOKENIZE_SKIP_SPECIAL}};
        for (int m = 0; m < 2; m++) {
            const char *want = jstr(c, modes[m].key);
            char *text = decode(tok, ids, n, modes[m].flags);
            check(text && strcmp(text, want) == 0, "%s %zu (%s): \"%s\", expected \"%s\"", label, k,
                  modes[m].key, text ? text : "(error)", want);
            bool valid;
            char *streamed = decode_stream(tok, ids, n, modes[m].flags, &valid);
            check(streamed && valid && strcmp(streamed, want) == 0, "%s %zu (%s): streamed \"%s\"", label,
                  k, modes[m].key, streamed ? streamed : "(error)");
            free(text);
            free(streamed);
        }
        free(ids);
        k++;
    }
    printf("  %-44s %s\n", label, failed == before ? "ok" : "FAILED");
}

/* ---- NFC ------------------------------------------------------------------------ */

static void test_nfc(const char *fixdir)
{
    char *p = path_join(fixdir, "nfc.json");
    cJSON *j = read_json(p);
    free(p);
    if (!check(j != NULL, "nfc.json is missing")) return;
    check(strcmp(jstr(j, "unicode"), fv_tokenizer_unicode_version()) == 0,
          "nfc.json is Unicode %s, the tables %s", jstr(j, "unicode"), fv_tokenizer_unicode_version());
    int before = failed, count = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, jget(j, "pairs")) {
        const char *in = cJSON_GetArrayItem(pair, 0)->valuestring;
        const char *want = cJSON_GetArrayItem(pair, 1)->valuestring;
        uint8_t *out;
        size_t n;
        bool ok = fv_uc_nfc((const uint8_t *)in, strlen(in), &out, &n);
        bool same = ok && n == strlen(want) && memcmp(out, want, n) == 0;
        /* the quick check may only say "unchanged" when it is */
        bool quick = fv_uc_nfc_maybe((const uint8_t *)in, strlen(in)) || strcmp(in, want) == 0;
        if (!same || !quick) {
            uint32_t cp = 0;
            fv_utf8_decode((const uint8_t *)in, strlen(in), &cp);
            fail("NFC of the sequence starting U+%04X differs from unicodedata's", (unsigned)cp);
        }
        if (ok) free(out);
        count++;
    }
    passed += failed == before;
    printf("  %-44s %s (%d sequences)\n", "NFC", failed == before ? "ok" : "FAILED", count);
    cJSON_Delete(j);
}

/* ---- pre-tokenizer splitting ------------------------------------------------------ */

static void test_splits(const char *fixdir)
{
    char *p = path_join(fixdir, "splits.json");
    cJSON *j = read_json(p);
    free(p);
    if (!check(j != NULL, "splits.json is missing")) return;
    static const struct {
        const char *name;
        tok_step step;
    } kinds[] = {{"gpt2", TOK_STEP_GPT2}, {"llama3", TOK_STEP_LLAMA3}, {"qwen2", TOK_STEP_QWEN2},
                 {"digits", TOK_STEP_DIGITS}, {"digit_runs", TOK_STEP_DIGIT_RUNS}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        /* a tokenizer that only splits */
        fv_tokenizer t = {.nsteps = 1, .steps = {kinds[k].step}};
        tok_split_work w = {0};
        int before = failed;
        size_t i = 0;
        const cJSON *text;
        cJSON_ArrayForEach(text, jget(j, "texts")) {
            const cJSON *want = cJSON_GetArrayItem(jget(j, kinds[k].name), (int)i);
            const uint8_t *out;
            const tok_piece *pieces;
            size_t np;
            const char *s = text->valuestring;
            bool ok = tok_pretokenize(&t, &w, (const uint8_t *)s, strlen(s), &out, &pieces, &np) &&
                      np == (size_t)cJSON_GetArraySize(want);
            for (size_t q = 0; ok && q < np; q++) {
                const char *piece = cJSON_GetArrayItem(want, (int)q)->valuestring;
                ok = pieces[q].end - pieces[q].start == strlen(piece) &&
                     memcmp(out + pieces[q].start, piece, strlen(piece)) == 0;
            }
            check(ok, "%s split of text %zu (\"%.30s\") differs from Hugging Face's", kinds[k].name, i, s);
            i++;
        }
        tok_split_work_free(&w);
        char label[64];
        snprintf(label, sizeof label, "pre-tokenizer split: %s", kinds[k].name);
        printf("  %-44s %s\n", label, failed == before ? "ok" : "FAILED");
    }
    cJSON_Delete(j);
}

/* ---- GGUF metadata built from a tokenizer.json ------------------------------------------ */

typedef struct kv_arrays {
    fv_tokenizer_gguf_kv kv;
    const char **tokens;
    int32_t *types;
    char **merges;
} kv_arrays;

/* tokenizer.json → the arrays llama.cpp's converter writes: tokens by id,
 * types (special added → CONTROL, other added → USER_DEFINED), merges as
 * "a b". */
static bool kv_from_hf(const cJSON *root, const char *pre, kv_arrays *a)
{
    const cJSON *vocab = jget(jget(root, "model"), "vocab");
    const cJSON *added = jget(root, "added_tokens");
    const cJSON *merges = jget(jget(root, "model"), "merges");
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vocab) n = (int)v->valuedouble + 1 > n ? (int)v->valuedouble + 1 : n;
    cJSON_ArrayForEach(v, added) {
        int id = (int)jget(v, "id")->valuedouble;
        n = id + 1 > n ? id + 1 : n;
    }
    memset(a, 0, sizeof *a);
    a->tokens = calloc((size_t)n, sizeof *a->tokens);
    a->types = malloc((size_t)n * sizeof *a->types);
    for (int i = 0; i < n; i++) {
        a->tokens[i] = "";
        a->types[i] = FV_GGUF_TOKEN_NORMAL;
    }
    cJSON_ArrayForEach(v, vocab) a->tokens[(int)v->valuedouble] = v->string;
    cJSON_ArrayForEach(v, added) {
        int id = (int)jget(v, "id")->valuedouble;
        a->tokens[id] = jstr(v, "content");
        a->types[id] = cJSON_IsTrue(jget(v, "special")) ? FV_GGUF_TOKEN_CONTROL : FV_GGUF_TOKEN_USER_DEFINED;
    }
    int nm = cJSON_GetArraySize(merges), k = 0;
    a->merges = malloc((size_t)nm * sizeof *a->merges);
    cJSON_ArrayForEach(v, merges) {
        if (cJSON_IsString(v)) {
            a->merges[k++] = strdup(v->valuestring);
        } else {
            const char *l = v->child->valuestring, *r = v->child->next->valuestring;
            a->merges[k] = malloc(strlen(l) + strlen(r) + 2);
            sprintf(a->merges[k++], "%s %s", l, r);
        }
    }
    a->kv.model = "gpt2";
    a->kv.pre = pre;
    a->kv.n_tokens = (size_t)n;
    a->kv.tokens = a->tokens;
    a->kv.token_types = a->types;
    a->kv.n_merges = (size_t)nm;
    a->kv.merges = (const char *const *)a->merges;
    return true;
}

static void kv_free(kv_arrays *a)
{
    for (size_t i = 0; i < a->kv.n_merges; i++) free(a->merges[i]);
    free(a->merges);
    free(a->tokens);
    free(a->types);
}

/* ---- the real vocabularies --------------------------------------------------------- */

static fv_tokenizer *load_checked(fv_status st, fv_tokenizer *tok, const char *what, const char *error)
{
    if (!check(st == FV_STATUS_OK, "%s: %s: %s", what, fv_status_name(st), error)) return NULL;
    return tok;
}

static void run_vocabulary(const char *name, const fv_tokenizer *tok, const cJSON *cases, const bool *only)
{
    const cJSON *texts = jget(cases, "texts"), *v = jget(cases, name);
    char label[96];
    snprintf(label, sizeof label, "%s: special tokens parsed", name);
    run_texts(label, tok, texts, jget(v, "ids"), jget(v, "decoded"), FV_TOKENIZE_PARSE_SPECIAL, only);
    snprintf(label, sizeof label, "%s: special tokens as text", name);
    run_texts(label, tok, texts, jget(v, "ids_no_special"), NULL, 0, only);
    if (!only) {
        snprintf(label, sizeof label, "%s: decode of id prefixes", name);
        run_decode_cases(label, tok, jget(v, "decode"));
    }
}

static void bench(const fv_tokenizer *tok, const cJSON *texts, const char *name)
{
    /* ~1 MB of the test texts, over and over */
    size_t cap = 1 << 20, len = 0;
    char *big = malloc(cap + 4096);
    while (len < cap) {
        const cJSON *t;
        cJSON_ArrayForEach(t, texts) {
            size_t n = strlen(t->valuestring);
            if (len + n > cap) break;
            memcpy(big + len, t->valuestring, n);
            len += n;
        }
        if (len + 4096 > cap) break;
    }
    big[len] = 0;
    double t0 = now_s(), c0 = cpu_s();
    size_t n;
    int32_t *ids = encode(tok, big, FV_TOKENIZE_PARSE_SPECIAL, &n);
    double t1 = now_s(), c1 = cpu_s();
    char *back = ids ? decode(tok, ids, n, 0) : NULL;
    double t2 = now_s();
    printf("  %s: encode %.2f MB in %.0f ms wall / %.0f ms CPU (%.1f MB/s, %.2f M tokens/s CPU); "
           "decode %.1f ms\n", name, len / 1e6, (t1 - t0) * 1e3, (c1 - c0) * 1e3, len / 1e6 / (c1 - c0),
           n / 1e6 / (c1 - c0), (t2 - t1) * 1e3);
    free(ids);
    free(back);
    free(big);
    /* one unbroken piece of 100k bytes: the merge loop must stay n log n */
    size_t run = 100000;
    char *one = malloc(run + 1);
    for (size_t i = 0; i < run; i++) one[i] = "abcdefgh"[(i * 7 + i / 5) % 8];
    one[run] = 0;
    c0 = cpu_s();
    ids = encode(tok, one, 0, &n);
    c1 = cpu_s();
    back = ids ? decode(tok, ids, n, 0) : NULL;
    check(back && strcmp(back, one) == 0, "%s: a 100 kB word does not round-trip", name);
    printf("  %s: one 100 kB word: %zu tokens in %.1f ms CPU\n", name, n, (c1 - c0) * 1e3);
    free(ids);
    free(back);
    free(one);
}

static void test_real(const char *shared, const char *fixdir)
{
    char *p = path_join(fixdir, "cases.json");
    cJSON *cases = read_json(p);
    free(p);
    if (!check(cases != NULL, "cases.json is missing")) return;
    char error[512] = "";
    const cJSON *texts = jget(cases, "texts");

    /* GPT-2 from encoder.json + vocab.bpe */
    char *enc = path_join(shared, "gpt2/encoder.json"), *bpe = path_join(shared, "gpt2/vocab.bpe");
    fv_tokenizer *tok = NULL;
    fv_status st = fv_tokenizer_load_gpt2(enc, bpe, &tok, error, sizeof error);
    if (load_checked(st, tok, "GPT-2", error)) {
        run_vocabulary("gpt2", tok, cases, NULL);
        check(fv_tokenizer_vocab_size(tok) == 50257, "gpt2: vocab size %d", (int)fv_tokenizer_vocab_size(tok));
        int32_t eot = fv_tokenizer_token_id(tok, "<|endoftext|>");
        check(eot >= 0 && fv_tokenizer_eos_id(tok) == eot && fv_tokenizer_bos_id(tok) == eot &&
              fv_tokenizer_is_special(tok, eot), "gpt2: <|endoftext|> is not the special bos/eos");
        bench(tok, texts, "gpt2");
    }
    fv_tokenizer_destroy(tok);
    free(enc);
    free(bpe);

    /* Qwen3 from tokenizer.json (+ tokenizer_config.json), through the
     * directory; timing the load */
    char *qdir = path_join(shared, "qwen3"), *qjson = path_join(qdir, "tokenizer.json");
    double best_wall = 1e9, best_cpu = 1e9;
    tok = NULL;
    for (int rep = 0; rep < 3; rep++) {
        fv_tokenizer_destroy(tok);
        tok = NULL;
        double t0 = now_s(), c0 = cpu_s();
        st = fv_tokenizer_load(qdir, &tok, error, sizeof error);
        double t1 = now_s(), c1 = cpu_s();
        if (st) break;
        best_wall = t1 - t0 < best_wall ? t1 - t0 : best_wall;
        best_cpu = c1 - c0 < best_cpu ? c1 - c0 : best_cpu;
    }
    if (load_checked(st, tok, "Qwen3", error)) {
        printf("  qwen3: load (tokenizer.json, 151k merges) best of 3: %.0f ms wall, %.0f ms CPU\n",
               best_wall * 1e3, best_cpu * 1e3);
        run_vocabulary("qwen3", tok, cases, NULL);
        check(fv_tokenizer_vocab_size(tok) == 151669, "qwen3: vocab size %d", (int)fv_tokenizer_vocab_size(tok));
        check(fv_tokenizer_token_id(tok, "<|image_pad|>") == 151655, "qwen3: <|image_pad|> id");
        check(fv_tokenizer_token_id(tok, "<|no such token|>") == -1, "qwen3: a missing token has an id");
        check(fv_tokenizer_eos_id(tok) == fv_tokenizer_token_id(tok, "<|im_end|>") &&
              fv_tokenizer_bos_id(tok) == -1, "qwen3: eos is not <|im_end|> (tokenizer_config.json)");
        check(fv_tokenizer_is_special(tok, 151655) && !fv_tokenizer_is_special(tok, 151667) &&
              !fv_tokenizer_is_special(tok, 100), "qwen3: special flags");
        size_t len;
        const char *s = fv_tokenizer_token_text(tok, 151655, &len);
        check(s && strcmp(s, "<|image_pad|>") == 0 && len == 13, "qwen3: token text of 151655");
        bench(tok, texts, "qwen3");
    }
    fv_tokenizer_destroy(tok);

    /* Qwen3 as GGUF metadata (model gpt2, pre qwen2). llama.cpp applies no
     * normaliser, so texts NFC changes are left out. */
    cJSON *qroot = read_json(qjson);
    if (check(qroot != NULL, "qwen3 tokenizer.json unreadable")) {
        kv_arrays a;
        kv_from_hf(qroot, "qwen2", &a);
        tok = NULL;
        st = fv_tokenizer_load_gguf_kv(&a.kv, &tok, error, sizeof error);
        if (load_checked(st, tok, "Qwen3 as GGUF metadata", error)) {
            int n = cJSON_GetArraySize(texts);
            bool *only = calloc((size_t)n, 1);
            for (int i = 0; i < n; i++)
                only[i] = strcmp(cJSON_GetArrayItem(texts, i)->valuestring,
                                 cJSON_GetArrayItem(jget(jget(cases, "qwen3"), "decoded"), i)->valuestring) == 0;
            const cJSON *v = jget(cases, "qwen3");
            run_texts("qwen3 via GGUF metadata", tok, texts, jget(v, "ids"), jget(v, "decoded"),
                      FV_TOKENIZE_PARSE_SPECIAL, only);
            run_texts("qwen3 via GGUF metadata, specials as text", tok, texts, jget(v, "ids_no_special"), NULL,
                      0, only);
            free(only);
        }
        fv_tokenizer_destroy(tok);
        kv_free(&a);
        cJSON_Delete(qroot);
    }
    free(qdir);
    free(qjson);
    cJSON_Delete(cases);
}

/* ---- committed fixtures ------------------------------------------------------------- */

static fv_tokenizer *load_gguf_file(const char *path, char *error, size_t error_size)
{
    fv_tokenizer *tok = NULL;
    fv_status st = fv_tokenizer_load(path, &tok, error, error_size);
    return load_checked(st, tok, path, error);
}

static void test_spm(const char *fixdir)
{
    char *gp = path_join(fixdir, "spm.gguf"), *jp = path_join(fixdir, "spm.json"), error[512] = "";
    cJSON *j = read_json(jp);
    fv_tokenizer *tok = load_gguf_file(gp, error, sizeof error);
    if (tok && check(j != NULL, "spm.json is missing")) {
        int before = failed;
        size_t i = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, jget(j, "cases")) {
            const char *text = jstr(c, "text"), *want = jstr(c, "decoded");
            size_t n;
            int32_t *ids = encode(tok, text, 0, &n);
            same_ids("sentencepiece (GGUF llama)", i, ids, n, jget(c, "ids"));
            char *back = ids ? decode(tok, ids, n, 0) : NULL;
            check(back && strcmp(back, want) == 0, "sentencepiece %zu: decoded \"%s\"", i, back ? back : "?");
            bool valid;
            char *streamed = ids ? decode_stream(tok, ids, n, 0, &valid) : NULL;
            check(streamed && valid && strcmp(streamed, want) == 0, "sentencepiece %zu: streamed", i);
            free(back);
            free(streamed);
            /* add_bos_token: bos in front, nothing else changes */
            size_t nb;
            int32_t *with_bos = encode(tok, text, FV_TOKENIZE_ADD_SPECIAL, &nb);
            int32_t bos = (int32_t)jget(j, "bos")->valuedouble;
            check(with_bos && nb == n + 1 && with_bos[0] == bos && memcmp(with_bos + 1, ids, n * sizeof *ids) == 0,
                  "sentencepiece %zu: FV_TOKENIZE_ADD_SPECIAL does not add just bos", i);
            free(with_bos);
            free(ids);
            i++;
        }
        check(fv_tokenizer_bos_id(tok) == (int32_t)jget(j, "bos")->valuedouble &&
              fv_tokenizer_eos_id(tok) == (int32_t)jget(j, "eos")->valuedouble, "sentencepiece: bos/eos ids");
        printf("  %-44s %s\n", "sentencepiece BPE from GGUF", failed == before ? "ok" : "FAILED");
    }
    fv_tokenizer_destroy(tok);
    cJSON_Delete(j);
    free(gp);
    free(jp);
}

static void test_tiny_gguf(const char *fixdir)
{
    char *gp = path_join(fixdir, "tiny.gguf"), *jp = path_join(fixdir, "tiny.json"), error[512] = "";
    cJSON *j = read_json(jp);
    fv_tokenizer *tok = load_gguf_file(gp, error, sizeof error);
    if (tok && check(j != NULL, "tiny.json is missing"))
        run_texts("bundled tokenizer as GGUF gpt2 metadata", tok, jget(j, "texts"), jget(j, "ids"), NULL,
                  FV_TOKENIZE_PARSE_SPECIAL, NULL);
    fv_tokenizer_destroy(tok);
    cJSON_Delete(j);
    free(gp);
    free(jp);
}

static void test_variant(const char *fixdir)
{
    char *tp = path_join(fixdir, "variant.json"), *jp = path_join(fixdir, "variant_cases.json");
    char error[512] = "";
    cJSON *j = read_json(jp);
    fv_tokenizer *tok = NULL;
    fv_status st = fv_tokenizer_load_hf(tp, &tok, error, sizeof error);
    if (load_checked(st, tok, "variant.json", error) && check(j != NULL, "variant_cases.json is missing")) {
        const cJSON *texts = jget(j, "texts");
        run_texts("lstrip/rstrip/single_word/Digits/NFC/pairs", tok, texts, jget(j, "ids"), jget(j, "decoded"),
                  FV_TOKENIZE_PARSE_SPECIAL, NULL);
        run_texts("TemplateProcessing (add special tokens)", tok, texts, jget(j, "ids_template"), NULL,
                  FV_TOKENIZE_PARSE_SPECIAL | FV_TOKENIZE_ADD_SPECIAL, NULL);
    }
    fv_tokenizer_destroy(tok);
    cJSON_Delete(j);
    free(tp);
    free(jp);
}

/* The bundled model's tokenizer: loads, and text survives the round trip. */
static void test_bundled(const char *root, const char *fixdir)
{
    char *p = path_join(root, "models/fovea-tiny/tokenizer.json");
    if (!exists(p)) {
        skip("models/fovea-tiny/tokenizer.json is absent");
        free(p);
        return;
    }
    char *jp = path_join(fixdir, "cases.json"), error[512] = "";
    cJSON *j = read_json(jp);
    fv_tokenizer *tok = NULL;
    fv_status st = fv_tokenizer_load(p, &tok, error, sizeof error);
    if (load_checked(st, tok, "fovea-tiny", error) && j) {
        int before = failed;
        const cJSON *t;
        cJSON_ArrayForEach(t, jget(j, "texts")) {
            size_t n;
            int32_t *ids = encode(tok, t->valuestring, FV_TOKENIZE_PARSE_SPECIAL, &n);
            char *back = ids ? decode(tok, ids, n, 0) : NULL;
            check(back && strcmp(back, t->valuestring) == 0, "fovea-tiny: \"%.40s\" does not round-trip",
                  t->valuestring);
            free(ids);
            free(back);
        }
        int32_t image = fv_tokenizer_token_id(tok, "<image>");
        check(image >= 0 && fv_tokenizer_is_special(tok, image), "fovea-tiny: <image> is not special");
        printf("  %-44s %s\n", "bundled fovea-tiny tokenizer round trip", failed == before ? "ok" : "FAILED");
    }
    fv_tokenizer_destroy(tok);
    cJSON_Delete(j);
    free(jp);
    free(p);
}

/* ---- bad input ------------------------------------------------------------------------ */

#define MINI_MODEL "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"<s>\":3},\"merges\":[\"a b\"]}"
#define MINI_DEC "\"decoder\":{\"type\":\"ByteLevel\"}"
#define MINI_PRE "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"

static void expect_load(const char *json, fv_status want, const char *needle)
{
    char error[512] = "";
    fv_tokenizer *tok = NULL;
    fv_status st = fv_tokenizer_parse_hf(json, strlen(json), NULL, 0, &tok, error, sizeof error);
    check(st == want && (!needle || strstr(error, needle)) && (st != FV_STATUS_OK) == (tok == NULL),
          "load of %.60s...: %s \"%s\", expected %s naming \"%s\"", json, fv_status_name(st), error,
          fv_status_name(want), needle ? needle : "");
    fv_tokenizer_destroy(tok);
}

static void test_errors(void)
{
    int before = failed;
    expect_load("{" MINI_MODEL "," MINI_PRE "," MINI_DEC "}", FV_STATUS_OK, NULL);
    expect_load("{\"model\": ", FV_STATUS_INVALID_ARGUMENT, "JSON");
    expect_load("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}", FV_STATUS_UNSUPPORTED, "WordPiece");
    expect_load("{" MINI_MODEL "," MINI_DEC ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                "\"\\\\w+\"},\"behavior\":\"Isolated\"}}", FV_STATUS_UNSUPPORTED, "\\w+");
    expect_load("{" MINI_MODEL "," MINI_PRE "," MINI_DEC ",\"normalizer\":{\"type\":\"NFKC\"}}",
                FV_STATUS_UNSUPPORTED, "NFKC");
    expect_load("{" MINI_MODEL "," MINI_PRE "}", FV_STATUS_UNSUPPORTED, "decoder");
    expect_load("{" MINI_MODEL "," MINI_DEC ",\"pre_tokenizer\":{\"type\":\"Metaspace\"}}", FV_STATUS_UNSUPPORTED,
                "Metaspace");
    expect_load("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a c\"]}," MINI_PRE "," MINI_DEC "}",
                FV_STATUS_INVALID_ARGUMENT, "\"c\" is not in the vocabulary");
    expect_load("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}," MINI_PRE "," MINI_DEC "}",
                FV_STATUS_INVALID_ARGUMENT, "twice");

    char error[256] = "";
    fv_tokenizer *tok = NULL;
    fv_tokenizer_gguf_kv kv = {.model = "bert"};
    check(fv_tokenizer_load_gguf_kv(&kv, &tok, error, sizeof error) == FV_STATUS_UNSUPPORTED &&
          strstr(error, "bert"), "GGUF model bert: %s", error);
    const char *toks[] = {"a", "b", "ab"}, *merges[] = {"a b"};
    kv = (fv_tokenizer_gguf_kv){.model = "gpt2", .pre = "default", .n_tokens = 3, .tokens = toks,
                                .n_merges = 1, .merges = merges};
    check(fv_tokenizer_load_gguf_kv(&kv, &tok, error, sizeof error) == FV_STATUS_UNSUPPORTED &&
          strstr(error, "default"), "GGUF pre default: %s", error);
    check(fv_tokenizer_load("/nonexistent/tokenizer.json", &tok, error, sizeof error) == FV_STATUS_IO_ERROR,
          "a missing file: %s", error);

    const char *mini = "{" MINI_MODEL "," MINI_PRE "," MINI_DEC "}";
    if (fv_tokenizer_parse_hf(mini, strlen(mini), NULL, 0, &tok, error, sizeof error) == FV_STATUS_OK) {
        int32_t ids[8];
        size_t n = 99;
        check(fv_tokenizer_encode(tok, "a\xC3(b", 5, 0, ids, 8, &n) == FV_STATUS_INVALID_ARGUMENT,
              "invalid UTF-8 is accepted");
        check(fv_tokenizer_encode(tok, "ababab", 6, 0, ids, 2, &n) == FV_STATUS_INVALID_ARGUMENT && n == 3,
              "a short id array: count %zu", n);
        check(fv_tokenizer_encode(tok, "ababab", 6, 0, ids, 3, &n) == FV_STATUS_OK && n == 3 &&
              ids[0] == fv_tokenizer_token_id(tok, "ab"), "merges in a tiny vocabulary");
        int32_t bad[2] = {0, 4};
        char text[16];
        check(fv_tokenizer_decode(tok, bad, 2, 0, text, sizeof text, &n) == FV_STATUS_INVALID_ARGUMENT,
              "an id out of range decodes");
        check(fv_tokenizer_decode(tok, ids, 3, 0, text, 3, &n) == FV_STATUS_INVALID_ARGUMENT && n == 6,
              "a short text buffer: length %zu", n);
        check(fv_tokenizer_encode(tok, "", 0, 0, ids, 8, &n) == FV_STATUS_OK && n == 0, "empty text");
        fv_tokenizer_destroy(tok);
    }
    fv_tokenizer_destroy(NULL);
    printf("  %-44s %s\n", "bad input", failed == before ? "ok" : "FAILED");
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : ".";
    char *fixdir = path_join(root, "tests/fixtures/tokenizer");
    char *shared = path_join(root, "../shared/data/tokenizers");
    printf("tokenizer tests (Unicode %s tables)\n", fv_tokenizer_unicode_version());
    test_nfc(fixdir);
    test_splits(fixdir);
    test_errors();
    test_spm(fixdir);
    test_tiny_gguf(fixdir);
    test_variant(fixdir);
    test_bundled(root, fixdir);
    char *q = path_join(shared, "qwen3/tokenizer.json"), *g = path_join(shared, "gpt2/vocab.bpe");
    if (exists(q) && exists(g))
        test_real(shared, fixdir);
    else
        skip("../shared/data/tokenizers (GPT-2, Qwen3) is absent: the real-vocabulary cases did not run");
    free(q);
    free(g);
    free(fixdir);
    free(shared);
    printf("tokenizer: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
