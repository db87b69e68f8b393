/* The VLM end to end (fovea/vlm.h) against its torch definition: a shrunk,
 * random-weight model in fovea-tiny's LLaVA layout (fixtures/vlm, made by
 * fixtures/make_vlm_fixtures.py from models/fovea-tiny/model.py). For each
 * case, fovea must give the decoder the same visual tokens (kept indices)
 * and the same prompt length, and generate exactly the same 12 greedy
 * tokens as torch did; the fixture's greedy choices all win by a margin of
 * at least 0.05 in the logits, so f32 rounding on any backend cannot flip
 * them. The same tokens must come from speculative decoding with the
 * fixture's draft (greedy acceptance changes nothing), on every backend.
 * Bad requests fail cleanly and leave the session usable.
 *
 * usage: test-vlm FIXTURES_DIR [filter] */
#include "harness.h"

#include "fovea/vlm.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 64

static const char *fixtures;

static char *path_of(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (p) sprintf(p, "%s/%s", dir, name);
    return p;
}

static cJSON *load_expected(void)
{
    char *path = path_of(fixtures, "expected.json");
    FILE *f = path ? fopen(path, "rb") : NULL;
    free(path);
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    cJSON *j = NULL;
    if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = 0;
        j = cJSON_Parse(text);
    }
    free(text);
    fclose(f);
    return j;
}

static int int_array(const cJSON *a, int32_t *out, int capacity)
{
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (n < capacity) out[n] = v->valueint;
        n++;
    }
    return n;
}

typedef struct collected {
    int32_t ids[MAX_TOKENS];
    int n;
} collected;

static bool collect(void *user, int32_t token, const char *text, size_t length)
{
    (void)text, (void)length;
    collected *c = user;
    if (token >= 0 && c->n < MAX_TOKENS) c->ids[c->n++] = token;
    return true;
}

static void run_case(th_runner *r, const th_backend *b, fv_vlm_session *s, const cJSON *c, int new_tokens,
                     bool speculative)
{
    const char *image = cJSON_GetObjectItem(c, "image")->valuestring;
    const char *question = cJSON_GetObjectItem(c, "question")->valuestring;
    const char *method = cJSON_GetObjectItem(c, "method")->valuestring;
    const double keep = cJSON_GetObjectItem(c, "keep")->valuedouble;
    char name[160];
    snprintf(name, sizeof name, "vlm %s %s '%s'%s", image, method, question, speculative ? " speculative" : "");
    if (!th_selected(r, name)) return;
    int32_t want[MAX_TOKENS], kept_want[512], kept[512];
    const int nwant = int_array(cJSON_GetObjectItem(c, "tokens"), want, MAX_TOKENS);
    const int nkept_want = int_array(cJSON_GetObjectItem(c, "kept"), kept_want, 512);
    const int nprompt = cJSON_GetArraySize(cJSON_GetObjectItem(c, "prompt"));

    char *path = path_of(fixtures, image);
    collected got = {0};
    fv_vlm_request req = {.image_path = path, .prompt = question, .max_new_tokens = new_tokens,
                          .speculative = speculative, .draft_tokens = speculative ? 3 : 0, .on_token = collect,
                          .user = &got};
    if (strcmp(method, "none") != 0) {
        th_expect(r, b, name, fv_compress_method_from_name(method, &req.compress.method) == FV_STATUS_OK,
                  "unknown method %s", method);
        req.compress.keep = (float)keep;
    }
    char answer[1024];
    fv_vlm_timings t = {0};
    if (th_ok(r, b, name, fv_vlm_session_run(s, &req, answer, sizeof answer, &t))) {
        const int nkept = fv_vlm_session_kept(s, kept, 512);
        bool same_kept = nkept == nkept_want;
        for (int i = 0; same_kept && i < nkept; i++) same_kept = kept[i] == kept_want[i];
        int first_diff = -1;
        for (int i = 0; i < nwant && first_diff < 0; i++)
            if (i >= got.n || got.ids[i] != want[i]) first_diff = i;
        int kd = 0;
        while (kd < nkept && kd < nkept_want && kept[kd] == kept_want[kd]) kd++;
        if (!same_kept)
            th_fail(r, b, name, "kept %d visual tokens, torch %d; entry %d is %d, torch's %d", nkept, nkept_want, kd,
                    kd < nkept ? kept[kd] : -1, kd < nkept_want ? kept_want[kd] : -1);
        else if (t.prompt_tokens != nprompt)
            th_fail(r, b, name, "prompt of %d tokens, torch's has %d", t.prompt_tokens, nprompt);
        else if (got.n != nwant || first_diff >= 0)
            th_fail(r, b, name, "%d tokens; token %d is %d, torch's is %d", got.n, first_diff,
                    first_diff >= 0 && first_diff < got.n ? got.ids[first_diff] : -1,
                    first_diff >= 0 ? want[first_diff] : -1);
        else if (speculative && t.draft_proposed <= 0)
            th_fail(r, b, name, "speculative decoding proposed no draft tokens");
        else
            th_expect(r, b, name, t.visual_tokens == nkept_want && t.new_tokens == nwant,
                      "timings report %d visual and %d new tokens", t.visual_tokens, t.new_tokens);
    }
    free(path);
}

static void check_bad_requests(th_runner *r, const th_backend *b, fv_vlm_session *s)
{
    const char *name = "vlm bad requests";
    if (!th_selected(r, name)) return;
    char answer[64];
    char *missing = path_of(fixtures, "no-such-image.png");
    const fv_vlm_request no_file = {.image_path = missing, .prompt = "hi"};
    fv_status st = fv_vlm_session_run(s, &no_file, answer, sizeof answer, NULL);
    th_expect(r, b, name, st == FV_STATUS_IO_ERROR, "a missing image gave %s", fv_status_name(st));
    char *image = path_of(fixtures, "scene0.png");
    fv_vlm_request zero_budget = {.image_path = image, .prompt = "hi"};
    zero_budget.compress.method = FV_COMPRESS_FASTERVLM; /* neither budget nor keep: 0 tokens */
    st = fv_vlm_session_run(s, &zero_budget, answer, sizeof answer, NULL);
    th_expect(r, b, name, st == FV_STATUS_INVALID_ARGUMENT, "a zero budget gave %s", fv_status_name(st));
    const fv_vlm_request no_prompt = {.image_path = image};
    st = fv_vlm_session_run(s, &no_prompt, answer, sizeof answer, NULL);
    th_expect(r, b, name, st == FV_STATUS_INVALID_ARGUMENT, "no prompt gave %s", fv_status_name(st));
    /* still usable */
    const fv_vlm_request fine = {.image_path = image, .prompt = "hi", .max_new_tokens = 2};
    th_ok(r, b, name, fv_vlm_session_run(s, &fine, answer, sizeof answer, NULL));
    free(missing);
    free(image);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURES_DIR [filter]\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    char *args[2] = {argv[0], argc > 2 ? argv[2] : NULL};
    th_runner r;
    bool ok = th_open(&r, argc > 2 ? 2 : 1, args);
    cJSON *expected = load_expected();
    char *model_dir = path_of(fixtures, "model");
    for (int i = 0; i < r.nbackends; i++) {
        const th_backend *b = &r.backends[i];
        if (!expected) {
            th_fail(&r, b, "vlm fixtures", "cannot read %s/expected.json", fixtures);
            continue;
        }
        fv_vlm *m = NULL;
        fv_vlm_session *s = NULL;
        if (!th_ok(&r, b, "vlm load", fv_vlm_load(b->ctx, model_dir, NULL, &m))) continue;
        fv_vlm_info info = {0};
        if (th_ok(&r, b, "vlm info", fv_vlm_get_info(m, &info)))
            th_expect(&r, b, "vlm info", info.visual_tokens == 17 && info.has_cls && info.has_draft && info.grid == 4,
                      "visual tokens %d, cls %d, draft %d, grid %d", info.visual_tokens, info.has_cls,
                      info.has_draft, info.grid);
        if (th_ok(&r, b, "vlm session", fv_vlm_session_create(m, NULL, &s))) {
            const int new_tokens = cJSON_GetObjectItem(expected, "new_tokens")->valueint;
            const cJSON *c;
            cJSON_ArrayForEach(c, cJSON_GetObjectItem(expected, "cases")) run_case(&r, b, s, c, new_tokens, false);
            cJSON_ArrayForEach(c, cJSON_GetObjectItem(expected, "cases")) run_case(&r, b, s, c, new_tokens, true);
            check_bad_requests(&r, b, s);
        }
        fv_vlm_session_destroy(s);
        fv_vlm_destroy(m);
    }
    free(model_dir);
    cJSON_Delete(expected);
    int rc = th_close(&r);
    return ok ? rc : 1;
}
