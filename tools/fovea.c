/* fovea — ask a vision-language model about an image.
 *
 *   fovea run --image IMG --prompt "how many red shapes?"
 *             [--model DIR] [--method M --keep 0.25] [--speculative]
 *             [--device vulkan:0|opencl:0|cpu] [--json] [--max-new N]
 *             [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *   fovea eval ...   (fovea_eval.c: the held-out set, per method x budget)
 *
 * The answer streams to stdout as it is decoded; a one-line timing
 * breakdown follows on stderr (or everything as one JSON object with
 * --json). The model defaults to the bundled fovea-tiny. */
#include "fovea_cli.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef FOVEA_DEFAULT_MODEL
#define FOVEA_DEFAULT_MODEL "models/fovea-tiny"
#endif

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ./models/fovea-tiny when run from a checkout, else the source tree's
 * copy the build was configured from. */
const char *cli_default_model(void)
{
    struct stat sb;
    return stat("models/fovea-tiny/config.json", &sb) == 0 ? "models/fovea-tiny" : FOVEA_DEFAULT_MODEL;
}

bool cli_common_arg(cli_common *c, int argc, char **argv, int *i, bool *bad)
{
    const char *a = argv[*i];
    const char **slot = strcmp(a, "--model") == 0    ? &c->model
                        : strcmp(a, "--device") == 0 ? &c->device
                        : strcmp(a, "--dtype") == 0  ? &c->dtype
                                                     : NULL;
    if (strcmp(a, "--quiet") == 0) {
        c->quiet = true;
        return true;
    }
    if (!slot) return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "fovea: %s needs a value\n", a);
        *bad = true;
        return true;
    }
    *slot = argv[++*i];
    return true;
}

bool cli_open(const cli_common *c, fv_context **ctx, fv_vlm **vlm)
{
    fv_context_desc cd = {0};
    if (c->device && fv_context_desc_parse_device(&cd, c->device) != FV_STATUS_OK) {
        fprintf(stderr, "fovea: unknown device '%s' (try vulkan:0, opencl:0, cpu)\n", c->device);
        return false;
    }
    char err[512] = "";
    fv_status st = fv_context_create(&cd, ctx, err, sizeof err);
    if (st) {
        fprintf(stderr, "fovea: no device: %s (%s)\n", err, fv_status_name(st));
        return false;
    }
    fv_vlm_load_desc ld = {.progress = c->quiet ? -1 : 0};
    if (c->dtype) {
        static const struct { const char *name; fv_dtype dtype; } dts[] = {
            {"f32", FV_DTYPE_F32}, {"f16", FV_DTYPE_F16}, {"q8_0", FV_DTYPE_Q8_0}, {"q4_0", FV_DTYPE_Q4_0}};
        bool found = false;
        for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++)
            if (strcmp(c->dtype, dts[i].name) == 0) {
                ld.convert_text = true;
                ld.text_dtype = dts[i].dtype;
                found = true;
            }
        if (!found) {
            fprintf(stderr, "fovea: --dtype %s: one of f32, f16, q8_0, q4_0\n", c->dtype);
            fv_context_destroy(*ctx);
            return false;
        }
    }
    const char *dir = c->model ? c->model : cli_default_model();
    st = fv_vlm_load(*ctx, dir, &ld, vlm);
    if (st) {
        fprintf(stderr, "fovea: cannot load %s: %s (%s)\n", dir, fv_context_last_error(*ctx), fv_status_name(st));
        fv_context_destroy(*ctx);
        return false;
    }
    return true;
}

bool cli_compress_desc(const char *method, double keep, fv_compress_desc *out)
{
    memset(out, 0, sizeof *out);
    if (!method || strcmp(method, "none") == 0 || strcmp(method, "full") == 0) return true;
    if (fv_compress_method_from_name(method, &out->method) != FV_STATUS_OK) return false;
    out->keep = (float)keep;
    return true;
}

/* ---- run ------------------------------------------------------------------ */

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: fovea run --image IMG --prompt TEXT [--model DIR] [--method M --keep F]\n"
            "                 [--speculative] [--device vulkan:0|opencl:0|cpu] [--dtype f16|q8_0|q4_0]\n"
            "                 [--json] [--max-new N] [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
            "methods: none (all visual tokens)");
    for (int m = 1; m < FV_COMPRESS_COUNT_; m++) fprintf(f, ", %s", fv_compress_method_name((fv_compress_method)m));
    fprintf(f, "\n");
}

typedef struct run_out {
    bool json;
    bool started; /* printed something other than leading whitespace */
} run_out;

/* Streams the answer as it is decoded, without the leading space the first
 * answer token carries (the final answer is stripped the same way). */
static bool print_piece(void *user, int32_t token, const char *text, size_t length)
{
    (void)token;
    run_out *o = user;
    if (o->json) return true;
    while (!o->started && length && (*text == ' ' || *text == '\n' || *text == '\t')) text++, length--;
    if (length) {
        o->started = true;
        fwrite(text, 1, length, stdout);
        fflush(stdout);
    }
    return true;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static int run_main(int argc, char **argv)
{
    cli_common common = {0};
    const char *image = NULL, *prompt = NULL, *method = NULL;
    double keep = 0.25;
    bool json = false, bad = false;
    fv_vlm_request req = {0};
    for (int i = 0; i < argc && !bad; i++) {
        const char *a = argv[i];
        const bool more = i + 1 < argc;
        if (cli_common_arg(&common, argc, argv, &i, &bad)) continue;
        if (strcmp(a, "--image") == 0 && more) image = argv[++i];
        else if (strcmp(a, "--prompt") == 0 && more) prompt = argv[++i];
        else if (strcmp(a, "--method") == 0 && more) method = argv[++i];
        else if (strcmp(a, "--keep") == 0 && more) keep = atof(argv[++i]);
        else if (strcmp(a, "--speculative") == 0) req.speculative = true;
        else if (strcmp(a, "--draft-tokens") == 0 && more) req.draft_tokens = atoi(argv[++i]);
        else if (strcmp(a, "--json") == 0) json = true;
        else if (strcmp(a, "--max-new") == 0 && more) req.max_new_tokens = atoi(argv[++i]);
        else if (strcmp(a, "--temperature") == 0 && more) req.sample.temperature = (float)atof(argv[++i]);
        else if (strcmp(a, "--top-k") == 0 && more) req.sample.top_k = atoi(argv[++i]);
        else if (strcmp(a, "--top-p") == 0 && more) req.sample.top_p = (float)atof(argv[++i]);
        else if (strcmp(a, "--seed") == 0 && more) req.sample.seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            run_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "fovea run: unknown or incomplete argument '%s'\n", a);
            bad = true;
        }
    }
    if (bad || !image || !prompt) {
        if (!bad) fprintf(stderr, "fovea run: --image and --prompt are required\n");
        run_usage(stderr);
        return 2;
    }
    if (!cli_compress_desc(method, keep, &req.compress)) {
        fprintf(stderr, "fovea run: unknown method '%s'\n", method);
        run_usage(stderr);
        return 2;
    }
    if (method && req.compress.method != FV_COMPRESS_NONE && !(keep > 0 && keep <= 1)) {
        fprintf(stderr, "fovea run: --keep must be in (0, 1]\n");
        return 2;
    }
    fv_context *ctx = NULL;
    fv_vlm *vlm = NULL;
    if (!cli_open(&common, &ctx, &vlm)) return 1;
    fv_vlm_session *s = NULL;
    fv_status st = fv_vlm_session_create(vlm, NULL, &s);
    run_out o = {.json = json};
    req.image_path = image;
    req.prompt = prompt;
    req.on_token = print_piece;
    req.user = &o;
    char answer[4096] = "";
    fv_vlm_timings t = {0};
    const double t0 = cli_now_ms();
    if (!st) st = fv_vlm_session_run(s, &req, answer, sizeof answer, &t);
    const double total = cli_now_ms() - t0;
    int rc = 0;
    if (st) {
        if (!json) fputc('\n', stdout);
        fprintf(stderr, "fovea run: %s (%s)\n", fv_context_last_error(ctx), fv_status_name(st));
        rc = 1;
    } else {
        fv_device_info di = {0};
        fv_context_device_info(ctx, &di);
        fv_vlm_info vi = {0};
        fv_vlm_get_info(vlm, &vi);
        const char *mname = req.compress.method ? fv_compress_method_name(req.compress.method) : "none";
        if (json) {
            printf("{\"answer\": ");
            json_string(stdout, answer);
            printf(", \"device\": ");
            json_string(stdout, di.name);
            printf(", \"method\": \"%s\", \"keep\": %g, \"visual_tokens\": %d, \"visual_tokens_full\": %d, "
                   "\"prompt_tokens\": %d, \"new_tokens\": %d, \"speculative\": %s, \"draft_proposed\": %d, "
                   "\"draft_accepted\": %d, \"ms\": {\"preprocess\": %.3f, \"encode\": %.3f, \"compress\": %.3f, "
                   "\"project\": %.3f, \"prefill\": %.3f, \"first_token\": %.3f, \"decode\": %.3f, \"total\": %.3f}, "
                   "\"decode_tokens_per_s\": %.2f}\n",
                   mname, req.compress.method ? keep : 1.0, t.visual_tokens, vi.visual_tokens, t.prompt_tokens,
                   t.new_tokens, req.speculative ? "true" : "false", t.draft_proposed, t.draft_accepted,
                   t.preprocess_ms, t.encode_ms, t.compress_ms, t.project_ms, t.prefill_ms, t.first_token_ms,
                   t.decode_ms, total, t.decode_tokens_per_s);
        } else {
            fputc('\n', stdout);
            fprintf(stderr,
                    "[%s | %s%s | visual tokens %d/%d | encode %.1f ms, compress %.1f ms, project %.1f ms, "
                    "prefill %.1f ms (%d tokens), first token %.1f ms, decode %.1f tok/s (%d tokens)",
                    di.name, mname, req.speculative ? " + speculative" : "", t.visual_tokens, vi.visual_tokens,
                    t.encode_ms, t.compress_ms, t.project_ms, t.prefill_ms, t.prompt_tokens, t.first_token_ms,
                    t.decode_tokens_per_s, t.new_tokens);
            if (req.speculative && t.draft_proposed)
                fprintf(stderr, ", draft accepted %d/%d", t.draft_accepted, t.draft_proposed);
            fprintf(stderr, "]\n");
        }
    }
    fv_vlm_session_destroy(s);
    fv_vlm_destroy(vlm);
    fv_context_destroy(ctx);
    return rc;
}

int main(int argc, char **argv)
{
#ifdef __SANITIZE_ADDRESS__
    /* Sanitizer builds only, as in fovea-bench: keep Mesa's CPU Vulkan
     * driver loaded to the end, so its one-time allocations stay reachable
     * instead of being reported as leaks of an unloaded module. */
    dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
#endif
    if (argc >= 2 && strcmp(argv[1], "run") == 0) return run_main(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "eval") == 0) return fovea_eval_main(argc - 2, argv + 2);
    FILE *f = argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) ? stdout : stderr;
    fprintf(f, "usage: fovea run --image IMG --prompt TEXT [options]   (fovea run --help)\n"
               "       fovea eval [--model DIR] [--methods all|M,M] [--keeps 1,0.5,0.25,0.11,0.05]\n"
               "                  [--shard i/n] [--out DIR]                (fovea eval --help)\n");
    return f == stdout ? 0 : 2;
}
