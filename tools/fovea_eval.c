/* fovea eval — accuracy of a VLM on a held-out question set, per
 * visual-token compression method and budget.
 *
 *   fovea eval [--model DIR] [--set FILE.jsonl] [--methods all|M,M,...]
 *              [--keeps 1,0.5,0.25,0.11,0.05] [--speculative] [--shard i/n]
 *              [--limit N] [--out DIR] [--device SPEC] [--dtype T]
 *   fovea eval --merge A.json B.json ... [--out DIR]
 *
 * The set is JSON lines {"image", "question", "answer", "type"} (image
 * paths relative to the file); by default the model's eval/eval.jsonl.
 * Each answer is generated greedily and compared with the expected one
 * exactly (both stripped of surrounding whitespace). Per method x budget it
 * reports exact-match accuracy per question type and overall, retention (the
 * accuracy relative to all visual tokens), and the mean time to first token
 * and prefill time, and decode speed. Keep 1 is the full-token baseline, run
 * once. --speculative adds the baseline decoded speculatively with the
 * model's draft: its decode speed against greedy's, and how many of its
 * answers are identical to greedy's.
 *
 * Outputs in --out (default ./fovea-eval): eval.json (raw counts and sums,
 * so that shards merge exactly), eval.md (the table) and retention.png (one
 * line per method). --shard i/n takes every n-th question from the i-th
 * (0-based) so that n processes or machines split the set; --merge adds
 * their eval.json files up and writes the combined table and plot. */
#include "fovea_cli.h"
#include "plot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TYPES 16
#define MAX_CONFIGS 128
#define MAX_KEEPS 16

typedef struct item {
    char *image, *question, *answer, *type;
} item;

typedef struct tally {
    char method[32];
    double keep;                /* 1 for the full-token baseline */
    int count, correct;
    int type_count[MAX_TYPES], type_correct[MAX_TYPES];
    double visual_sum, ttft_sum, prefill_sum, total_sum;
    double decode_ms_sum;       /* tokens after each answer's first, and their time */
    long decode_tokens;
    int same_as_greedy;         /* speculative: answers identical to the baseline's */
    long draft_proposed, draft_accepted;
    char error[256];
} tally;

/* the configuration that decodes the full-token baseline speculatively */
#define SPECULATIVE "speculative"

typedef struct eval_state {
    char *types[MAX_TYPES];
    int ntypes;
    tally t[MAX_CONFIGS];
    int nt;
    int visual_full;            /* visual tokens per image without compression */
    char model[1024], device[256], set[1024], shard[32];
} eval_state;

static int type_index(eval_state *e, const char *type)
{
    for (int i = 0; i < e->ntypes; i++)
        if (strcmp(e->types[i], type) == 0) return i;
    if (e->ntypes == MAX_TYPES) return -1;
    e->types[e->ntypes] = strdup(type);
    return e->types[e->ntypes] ? e->ntypes++ : -1;
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap * 2 + 65536;
            char *g = realloc(buf, cap + 1);
            if (!g) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = g;
        }
        const size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (size) *size = n;
    return buf;
}

static char *dup_field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

/* Reads the JSON-lines set; image paths become relative to the set's folder. */
static item *load_set(const char *path, int *count)
{
    char *text = read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "fovea eval: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char folder[1024];
    snprintf(folder, sizeof folder, "%s", path);
    char *slash = strrchr(folder, '/');
    if (slash) slash[1] = 0;
    else folder[0] = 0;
    item *items = NULL;
    int n = 0, cap = 0, line = 0;
    bool ok = true;
    for (char *p = text, *next; ok && p && *p; p = next) {
        next = strchr(p, '\n');
        if (next) *next++ = 0;
        line++;
        if (strspn(p, " \t\r") == strlen(p)) continue;
        cJSON *o = cJSON_Parse(p);
        item it = {0};
        char *img = o ? dup_field(o, "image") : NULL;
        it.question = o ? dup_field(o, "question") : NULL;
        it.answer = o ? dup_field(o, "answer") : NULL;
        it.type = o ? dup_field(o, "type") : NULL;
        if (!it.type && o) it.type = strdup("all");
        cJSON_Delete(o);
        if (img) {
            it.image = malloc(strlen(folder) + strlen(img) + 1);
            if (it.image) sprintf(it.image, "%s%s", img[0] == '/' ? "" : folder, img);
        }
        free(img);
        if (!it.image || !it.question || !it.answer || !it.type) {
            fprintf(stderr, "fovea eval: %s:%d: need \"image\", \"question\" and \"answer\" strings\n", path, line);
            free(it.image), free(it.question), free(it.answer), free(it.type);
            ok = false;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            item *g = realloc(items, (size_t)cap * sizeof *g);
            if (!g) {
                ok = false;
                break;
            }
            items = g;
        }
        items[n++] = it;
    }
    free(text);
    if (!ok) {
        for (int i = 0; i < n; i++) free(items[i].image), free(items[i].question), free(items[i].answer), free(items[i].type);
        free(items);
        return NULL;
    }
    *count = n;
    return items;
}

static void strip(char *s)
{
    size_t a = strspn(s, " \t\r\n"), n = strlen(s);
    while (n > a && strchr(" \t\r\n", s[n - 1])) n--;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
}

/* ---- outputs -------------------------------------------------------------- */

static double pct(int a, int b) { return b ? 100.0 * a / b : NAN; }
static double decode_rate(const tally *t)
{
    return t->decode_ms_sum > 0 ? t->decode_tokens / t->decode_ms_sum * 1e3 : NAN;
}

static const tally *baseline(const eval_state *e)
{
    for (int i = 0; i < e->nt; i++)
        if (strcmp(e->t[i].method, "full") == 0) return &e->t[i];
    return NULL;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static bool write_json(const eval_state *e, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return false;
    const char *keys[4] = {"model", "device", "set", "shard"}, *values[4] = {e->model, e->device, e->set, e->shard};
    fprintf(f, "{\n");
    for (int i = 0; i < 4; i++) {
        fprintf(f, "  \"%s\": ", keys[i]);
        json_string(f, values[i]);
        fprintf(f, ",\n");
    }
    fprintf(f, "  \"visual_tokens_full\": %d,\n  \"types\": [", e->visual_full);
    for (int i = 0; i < e->ntypes; i++) {
        if (i) fprintf(f, ", ");
        json_string(f, e->types[i]);
    }
    fprintf(f, "],\n  \"results\": [\n");
    for (int i = 0; i < e->nt; i++) {
        const tally *t = &e->t[i];
        fprintf(f, "    {\"method\": ");
        json_string(f, t->method);
        fprintf(f, ", \"keep\": %g, \"count\": %d, \"correct\": %d, \"type_count\": [", t->keep, t->count, t->correct);
        for (int k = 0; k < e->ntypes; k++) fprintf(f, "%s%d", k ? ", " : "", t->type_count[k]);
        fprintf(f, "], \"type_correct\": [");
        for (int k = 0; k < e->ntypes; k++) fprintf(f, "%s%d", k ? ", " : "", t->type_correct[k]);
        fprintf(f, "], \"visual_sum\": %.0f, \"ttft_ms_sum\": %.3f, \"prefill_ms_sum\": %.3f, \"total_ms_sum\": %.3f",
                t->visual_sum, t->ttft_sum, t->prefill_sum, t->total_sum);
        fprintf(f, ", \"decode_ms_sum\": %.3f, \"decode_tokens\": %ld", t->decode_ms_sum, t->decode_tokens);
        if (strcmp(t->method, SPECULATIVE) == 0)
            fprintf(f, ", \"same_as_greedy\": %d, \"draft_proposed\": %ld, \"draft_accepted\": %ld", t->same_as_greedy,
                    t->draft_proposed, t->draft_accepted);
        if (t->error[0]) {
            fprintf(f, ", \"error\": ");
            json_string(f, t->error);
        }
        fprintf(f, ", \"accuracy\": %.4f}%s\n", t->count ? (double)t->correct / t->count : 0.0,
                i + 1 < e->nt ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0;
}

static bool write_markdown(const eval_state *e, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return false;
    const tally *b = baseline(e);
    fprintf(f, "Model `%s` on %s, set `%s`%s%s. Exact match, greedy decoding.\n\n", e->model, e->device, e->set,
            e->shard[0] ? ", shard " : "", e->shard);
    fprintf(f, "| method | keep | visual tokens | accuracy | retention |");
    for (int k = 0; k < e->ntypes; k++) fprintf(f, " %s |", e->types[k]);
    fprintf(f, " time to first token (ms) | prefill (ms) | prefill vs full | decode (tokens/s) |\n|---|---|---|---|---|");
    for (int k = 0; k < e->ntypes; k++) fprintf(f, "---|");
    fprintf(f, "---|---|---|---|\n");
    for (int i = 0; i < e->nt; i++) {
        const tally *t = &e->t[i];
        if (t->error[0]) {
            fprintf(f, "| %s | %g | error: %s |\n", t->method, t->keep, t->error);
            continue;
        }
        const double acc = pct(t->correct, t->count);
        const double ret = b && b->correct ? 100.0 * ((double)t->correct / t->count) / ((double)b->correct / b->count)
                                           : NAN;
        const double pre = t->count ? t->prefill_sum / t->count : NAN;
        const double bpre = b && b->count ? b->prefill_sum / b->count : NAN;
        fprintf(f, "| %s | %g | %.1f | %.1f%% | %.1f%% |", t->method, t->keep, t->count ? t->visual_sum / t->count : 0,
                acc, ret);
        for (int k = 0; k < e->ntypes; k++) fprintf(f, " %.1f%% |", pct(t->type_correct[k], t->type_count[k]));
        fprintf(f, " %.2f | %.2f | %.0f%% | %.1f |\n", t->count ? t->ttft_sum / t->count : NAN, pre, 100.0 * pre / bpre,
                decode_rate(t));
    }
    fprintf(f, "\nRetention = accuracy / full-token accuracy. Visual tokens = mean tokens given to the decoder per "
               "image ([CLS] included where the model keeps it). Decode = tokens after each answer's first per "
               "second.\n");
    for (int i = 0; i < e->nt; i++) {
        const tally *t = &e->t[i];
        if (strcmp(t->method, SPECULATIVE) || t->error[0] || !b) continue;
        fprintf(f, "\nSpeculative decoding (all visual tokens, the model's draft proposing, the model verifying): "
                   "decode %.1f tokens/s against %.1f greedy, %.2fx; answers identical to greedy on %d of %d "
                   "questions; the model kept %ld of the %ld tokens the draft proposed (%.1f%%).\n",
                decode_rate(t), decode_rate(b), decode_rate(t) / decode_rate(b), t->same_as_greedy, t->count,
                t->draft_accepted, t->draft_proposed,
                t->draft_proposed ? 100.0 * (double)t->draft_accepted / (double)t->draft_proposed : NAN);
    }
    return fclose(f) == 0;
}

/* Retention against the full-token baseline; where the baseline answered
 * nothing right (a random-weight model), plain accuracy instead. */
static bool write_plot(const eval_state *e, const char *path)
{
    const tally *b = baseline(e);
    if (!b || !b->count) return false;
    const bool retention = b->correct > 0;
    const double base = retention ? (double)b->correct / b->count : 1.0;
    char names[MAX_CONFIGS][32];
    int nnames = 0;
    for (int i = 0; i < e->nt; i++) {
        bool seen = strcmp(e->t[i].method, "full") == 0 || strcmp(e->t[i].method, SPECULATIVE) == 0;
        for (int k = 0; k < nnames; k++) seen |= strcmp(names[k], e->t[i].method) == 0;
        if (!seen) snprintf(names[nnames++], sizeof names[0], "%s", e->t[i].method);
    }
    fv_plot_series series[MAX_CONFIGS];
    static double xs[MAX_CONFIGS][MAX_KEEPS + 1], ys[MAX_CONFIGS][MAX_KEEPS + 1];
    for (int s = 0; s < nnames; s++) {
        int n = 0;
        xs[s][n] = 1.0;
        ys[s][n++] = 100.0 * ((double)b->correct / b->count) / base;
        for (int i = 0; i < e->nt && n <= MAX_KEEPS; i++) {
            const tally *t = &e->t[i];
            if (strcmp(t->method, names[s]) || !t->count || t->error[0]) continue;
            xs[s][n] = t->keep;
            ys[s][n++] = 100.0 * ((double)t->correct / t->count) / base;
        }
        series[s] = (fv_plot_series){names[s], n, xs[s], ys[s]};
    }
    char title[600];
    snprintf(title, sizeof title, "%s vs visual tokens kept: %s", retention ? "retention" : "accuracy", e->device);
    const fv_plot_desc d = {.title = title, .x_label = "fraction of visual tokens kept",
                            .y_label = retention ? "retention (%)" : "accuracy (%)", .log_x = true};
    return fv_tool_plot_png(path, &d, series, nnames) != 0;
}

static bool write_outputs(const eval_state *e, const char *out_dir)
{
    mkdir(out_dir, 0777);
    char path[1024];
    snprintf(path, sizeof path, "%s/eval.json", out_dir);
    bool ok = write_json(e, path);
    snprintf(path, sizeof path, "%s/eval.md", out_dir);
    ok = write_markdown(e, path) && ok;
    snprintf(path, sizeof path, "%s/retention.png", out_dir);
    if (!write_plot(e, path)) fprintf(stderr, "fovea eval: no plot (no full-token baseline in the results)\n");
    if (ok) printf("wrote %s/eval.json, eval.md, retention.png\n", out_dir);
    else fprintf(stderr, "fovea eval: cannot write into %s\n", out_dir);
    return ok;
}

/* ---- merge ---------------------------------------------------------------- */

/* The first file's value of a descriptive field wins. */
static void copy_string(const cJSON *root, const char *key, char *dst, size_t size)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsString(s) && !dst[0]) snprintf(dst, size, "%s", s->valuestring);
}

static bool merge_file(eval_state *e, const char *path)
{
    char *text = read_file(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) {
        fprintf(stderr, "fovea eval: %s is not an eval.json\n", path);
        return false;
    }
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(root, "types");
    int map[MAX_TYPES];
    int nmap = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, types)
    {
        if (nmap < MAX_TYPES) map[nmap++] = cJSON_IsString(v) ? type_index(e, v->valuestring) : -1;
    }
    copy_string(root, "model", e->model, sizeof e->model);
    copy_string(root, "device", e->device, sizeof e->device);
    copy_string(root, "set", e->set, sizeof e->set);
    const cJSON *vf = cJSON_GetObjectItemCaseSensitive(root, "visual_tokens_full");
    if (cJSON_IsNumber(vf)) e->visual_full = vf->valueint;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(root, "results"))
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "method"), *k = cJSON_GetObjectItemCaseSensitive(r, "keep");
        if (!cJSON_IsString(m) || !cJSON_IsNumber(k)) continue;
        tally *t = NULL;
        for (int i = 0; i < e->nt && !t; i++)
            if (strcmp(e->t[i].method, m->valuestring) == 0 && fabs(e->t[i].keep - k->valuedouble) < 1e-9) t = &e->t[i];
        if (!t && e->nt < MAX_CONFIGS) {
            t = &e->t[e->nt++];
            snprintf(t->method, sizeof t->method, "%s", m->valuestring);
            t->keep = k->valuedouble;
        }
        if (!t) continue;
#define NUM(name) (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, name)) ? cJSON_GetObjectItemCaseSensitive(r, name)->valuedouble : 0)
        t->count += (int)NUM("count");
        t->correct += (int)NUM("correct");
        t->visual_sum += NUM("visual_sum");
        t->ttft_sum += NUM("ttft_ms_sum");
        t->prefill_sum += NUM("prefill_ms_sum");
        t->total_sum += NUM("total_ms_sum");
        t->decode_ms_sum += NUM("decode_ms_sum");
        t->decode_tokens += (long)NUM("decode_tokens");
        t->same_as_greedy += (int)NUM("same_as_greedy");
        t->draft_proposed += (long)NUM("draft_proposed");
        t->draft_accepted += (long)NUM("draft_accepted");
#undef NUM
        int j = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(r, "type_count"))
        {
            if (j < nmap && map[j] >= 0 && cJSON_IsNumber(v)) t->type_count[map[j]] += v->valueint;
            j++;
        }
        j = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(r, "type_correct"))
        {
            if (j < nmap && map[j] >= 0 && cJSON_IsNumber(v)) t->type_correct[map[j]] += v->valueint;
            j++;
        }
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(r, "error");
        if (cJSON_IsString(err)) snprintf(t->error, sizeof t->error, "%s", err->valuestring);
    }
    cJSON_Delete(root);
    return true;
}

/* ---- eval ----------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: fovea eval [--model DIR] [--set FILE.jsonl] [--methods all|M,M,...]\n"
               "                  [--keeps 1,0.5,0.25,0.11,0.05] [--speculative] [--shard i/n] [--limit N]\n"
               "                  [--out DIR]\n"
               "                  [--device SPEC] [--dtype f16|q8_0|q4_0]\n"
               "       fovea eval --merge A.json B.json ... [--out DIR]\n");
}

int fovea_eval_main(int argc, char **argv)
{
    cli_common common = {.quiet = true};
    const char *set = NULL, *methods = "all", *keeps = "1,0.5,0.25,0.11,0.05", *out_dir = "fovea-eval";
    int shard_i = 0, shard_n = 1, limit = 0;
    bool bad = false, merge = false, speculative = false;
    const char *merge_files[256];
    int nmerge = 0;
    for (int i = 0; i < argc && !bad; i++) {
        const char *a = argv[i];
        const bool more = i + 1 < argc;
        if (merge && a[0] != '-') {
            if (nmerge < 256) merge_files[nmerge++] = a;
            continue;
        }
        if (cli_common_arg(&common, argc, argv, &i, &bad)) continue;
        if (strcmp(a, "--set") == 0 && more) set = argv[++i];
        else if (strcmp(a, "--methods") == 0 && more) methods = argv[++i];
        else if (strcmp(a, "--keeps") == 0 && more) keeps = argv[++i];
        else if (strcmp(a, "--out") == 0 && more) out_dir = argv[++i];
        else if (strcmp(a, "--limit") == 0 && more) limit = atoi(argv[++i]);
        else if (strcmp(a, "--merge") == 0) merge = true;
        else if (strcmp(a, "--speculative") == 0) speculative = true;
        else if (strcmp(a, "--shard") == 0 && more) {
            if (sscanf(argv[++i], "%d/%d", &shard_i, &shard_n) != 2 || shard_n < 1 || shard_i < 0 || shard_i >= shard_n) {
                fprintf(stderr, "fovea eval: --shard i/n with 0 <= i < n\n");
                bad = true;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "fovea eval: unknown or incomplete argument '%s'\n", a);
            bad = true;
        }
    }
    if (bad) {
        usage(stderr);
        return 2;
    }
    static eval_state e;
    if (merge) {
        if (!nmerge) {
            usage(stderr);
            return 2;
        }
        for (int i = 0; i < nmerge; i++)
            if (!merge_file(&e, merge_files[i])) return 1;
        snprintf(e.shard, sizeof e.shard, "%s", "");
        return write_outputs(&e, out_dir) ? 0 : 1;
    }

    /* the configurations: full once, then each method at each keep < 1 */
    double keep_list[MAX_KEEPS];
    int nkeeps = 0;
    for (const char *p = keeps; *p && nkeeps < MAX_KEEPS;) {
        char *end;
        const double k = strtod(p, &end);
        if (end == p || !(k > 0 && k <= 1)) {
            fprintf(stderr, "fovea eval: --keeps: fractions in (0, 1], comma-separated\n");
            return 2;
        }
        keep_list[nkeeps++] = k;
        p = *end == ',' ? end + 1 : end;
    }
    snprintf(e.t[e.nt].method, sizeof e.t[0].method, "full");
    e.t[e.nt++].keep = 1;
    if (speculative) {
        snprintf(e.t[e.nt].method, sizeof e.t[0].method, SPECULATIVE);
        e.t[e.nt++].keep = 1;
    }
    for (int m = 1; m < FV_COMPRESS_COUNT_; m++) {
        const char *name = fv_compress_method_name((fv_compress_method)m);
        if (!name) continue;
        bool wanted = strcmp(methods, "all") == 0;
        for (const char *p = methods; !wanted && (p = strstr(p, name)); p += strlen(name))
            wanted = (p == methods || p[-1] == ',') && (p[strlen(name)] == ',' || p[strlen(name)] == 0);
        for (int k = 0; wanted && k < nkeeps && e.nt < MAX_CONFIGS; k++) {
            if (keep_list[k] >= 1) continue;
            snprintf(e.t[e.nt].method, sizeof e.t[0].method, "%s", name);
            e.t[e.nt++].keep = keep_list[k];
        }
    }
    for (const char *p = methods; strcmp(methods, "all") != 0 && *p;) { /* names that matched nothing */
        const size_t n = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        fv_compress_method mm;
        if (strcmp(name, "full") != 0 && strcmp(name, "none") != 0 &&
            fv_compress_method_from_name(name, &mm) != FV_STATUS_OK) {
            fprintf(stderr, "fovea eval: unknown method '%s'\n", name);
            return 2;
        }
        p += n + (p[n] == ',');
    }

    fv_context *ctx = NULL;
    fv_vlm *vlm = NULL;
    if (!cli_open(&common, &ctx, &vlm)) return 1;
    const char *model_dir = common.model ? common.model : cli_default_model();
    char set_path[1024];
    snprintf(set_path, sizeof set_path, "%s/eval/eval.jsonl", model_dir);
    if (!set) set = set_path;
    int nitems = 0;
    item *items = load_set(set, &nitems);
    fv_vlm_session *s = NULL;
    int rc = items ? 0 : 1;
    if (!rc && fv_vlm_session_create(vlm, NULL, &s) != FV_STATUS_OK) {
        fprintf(stderr, "fovea eval: %s\n", fv_context_last_error(ctx));
        rc = 1;
    }
    if (!rc) {
        fv_device_info di = {0};
        fv_context_device_info(ctx, &di);
        fv_vlm_info vi = {0};
        fv_vlm_get_info(vlm, &vi);
        e.visual_full = vi.visual_tokens;
        snprintf(e.model, sizeof e.model, "%s", model_dir);
        snprintf(e.device, sizeof e.device, "%s", di.name);
        snprintf(e.set, sizeof e.set, "%s", set);
        if (shard_n > 1) snprintf(e.shard, sizeof e.shard, "%d/%d", shard_i, shard_n);
        /* the questions of this run: an even subset (--limit), then every n-th (--shard) */
        const int step = limit > 0 && limit < nitems ? nitems / limit : 1;
        /* Question by question, each under every configuration back to back:
         * the image is decoded and encoded once per question (the session
         * keeps the encoder's output for the same pixels), and load that comes
         * and goes on the machine during the run falls on every configuration
         * alike instead of on whichever ran at the time. */
        fv_vlm_request req[MAX_CONFIGS];
        double wall[MAX_CONFIGS] = {0};
        for (int c = 0; c < e.nt; c++) {
            const bool spec = strcmp(e.t[c].method, SPECULATIVE) == 0;
            req[c] = (fv_vlm_request){.max_new_tokens = 16, .speculative = spec};
            cli_compress_desc(spec || strcmp(e.t[c].method, "full") == 0 ? NULL : e.t[c].method, e.t[c].keep,
                              &req[c].compress);
        }
        int seen = 0, total = 0;
        for (int i = 0, taken = 0; i < nitems; i += step, taken++) {
            if (limit > 0 && taken >= limit) break;
            if (taken % shard_n == shard_i) total++;
        }
        for (int i = 0, taken = 0; i < nitems; i += step, taken++) {
            if (limit > 0 && taken >= limit) break;
            if (taken % shard_n != shard_i) continue;
            const item *it = &items[i];
            char expected[512];
            snprintf(expected, sizeof expected, "%s", it->answer);
            strip(expected);
            const int ty = type_index(&e, it->type);
            char greedy[512] = ""; /* the baseline's answer (configuration 0) */
            for (int c = 0; c < e.nt; c++) {
                tally *t = &e.t[c];
                if (t->error[0]) continue;
                char answer[512];
                fv_vlm_timings tm = {0};
                req[c].image_path = it->image;
                req[c].prompt = it->question;
                const double t0 = cli_now_ms();
                const fv_status st = fv_vlm_session_run(s, &req[c], answer, sizeof answer, &tm);
                if (st) {
                    snprintf(t->error, sizeof t->error, "%s", fv_context_last_error(ctx));
                    for (char *q = t->error; *q; q++)
                        if (*q == '"' || *q == '\\' || *q == '|' || *q < ' ') *q = ' ';
                    fprintf(stderr, "%-10s keep %-5g error: %s\n", t->method, t->keep, t->error);
                    continue;
                }
                const bool ok = strcmp(answer, expected) == 0;
                t->count++;
                t->correct += ok;
                if (ty >= 0) {
                    t->type_count[ty]++;
                    t->type_correct[ty] += ok;
                }
                t->visual_sum += tm.visual_tokens;
                t->ttft_sum += tm.first_token_ms;
                t->prefill_sum += tm.prefill_ms;
                t->total_sum += cli_now_ms() - t0;
                wall[c] += cli_now_ms() - t0;
                if (tm.new_tokens > 1) {
                    t->decode_ms_sum += tm.decode_ms;
                    t->decode_tokens += tm.new_tokens - 1;
                }
                if (c == 0) snprintf(greedy, sizeof greedy, "%s", answer);
                if (strcmp(t->method, SPECULATIVE) == 0) {
                    t->same_as_greedy += !e.t[0].error[0] && strcmp(answer, greedy) == 0;
                    t->draft_proposed += tm.draft_proposed;
                    t->draft_accepted += tm.draft_accepted;
                }
            }
            if (++seen % 100 == 0 && seen < total)
                fprintf(stderr, "%d/%d questions\n", seen, total);
        }
        for (int c = 0; c < e.nt; c++) {
            const tally *t = &e.t[c];
            if (!t->error[0])
                fprintf(stderr, "%-10s keep %-5g %4d questions  accuracy %5.1f%%  visual tokens %5.1f  prefill %6.2f ms  (%.1f s)\n",
                        t->method, t->keep, t->count, pct(t->correct, t->count), t->count ? t->visual_sum / t->count : 0,
                        t->count ? t->prefill_sum / t->count : 0, wall[c] / 1e3);
        }
        rc = write_outputs(&e, out_dir) ? 0 : 1;
    }
    for (int i = 0; i < nitems; i++) free(items[i].image), free(items[i].question), free(items[i].answer), free(items[i].type);
    free(items);
    for (int i = 0; i < e.ntypes; i++) free(e.types[i]);
    fv_vlm_session_destroy(s);
    fv_vlm_destroy(vlm);
    fv_context_destroy(ctx);
    return rc;
}
