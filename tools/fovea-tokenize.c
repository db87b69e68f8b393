/* fovea-tokenize: text to token ids and back.
 *
 *   fovea-tokenize --model PATH "text"          prints the ids
 *   fovea-tokenize --model PATH --decode 1 2 3  prints the text
 *
 * PATH is a tokenizer.json, a directory holding one, or a .gguf file.
 * Text "-" is read from standard input. */
#include "fovea/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fovea-tokenize --model PATH [options] TEXT\n"
            "       fovea-tokenize --model PATH --decode ID...\n"
            "  --model PATH        tokenizer.json, a directory holding one, or a .gguf file\n"
            "  --no-parse-special  tokenize \"<|im_start|>\" and the like as plain text\n"
            "  --add-special       add the bos/eos tokens the tokenizer asks for\n"
            "  --show              one line per token: id and the token as written\n"
            "  --skip-special      (--decode) leave out special tokens\n"
            "  --time              print load and encode times to stderr\n"
            "TEXT \"-\" reads standard input.\n");
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap) break;
        char *b = realloc(buf, cap *= 2);
        if (!b) free(buf);
        buf = b;
    }
    *len = n;
    return buf;
}

static int encode(const fv_tokenizer *tok, const char *text, size_t len, uint32_t flags, bool show,
                  bool timing)
{
    /* first call sizes the array */
    size_t count = 0;
    fv_status st = fv_tokenizer_encode(tok, text, len, flags, NULL, 0, &count);
    if (st != FV_STATUS_OK && count == 0) {
        fprintf(stderr, "fovea-tokenize: %s (is the text valid UTF-8?)\n", fv_status_name(st));
        return 1;
    }
    int32_t *ids = malloc((count ? count : 1) * sizeof *ids);
    if (!ids) return 1;
    double t1 = now_ms();
    st = fv_tokenizer_encode(tok, text, len, flags, ids, count, &count);
    double t2 = now_ms();
    if (st != FV_STATUS_OK) {
        fprintf(stderr, "fovea-tokenize: %s\n", fv_status_name(st));
        free(ids);
        return 1;
    }
    if (timing)
        fprintf(stderr, "encode: %zu bytes -> %zu tokens in %.2f ms (%.1f MB/s)\n", len, count, t2 - t1,
                len / ((t2 - t1) * 1e3));
    for (size_t i = 0; i < count; i++) {
        if (show) {
            size_t n;
            const char *s = fv_tokenizer_token_text(tok, ids[i], &n);
            printf("%d\t%.*s\n", (int)ids[i], (int)n, s ? s : "");
        } else {
            printf(i ? " %d" : "%d", (int)ids[i]);
        }
    }
    if (!show) printf("\n");
    free(ids);
    return 0;
}

static int decode(const fv_tokenizer *tok, char **argv, int argc, uint32_t flags)
{
    int32_t *ids = malloc((argc ? (size_t)argc : 1) * sizeof *ids);
    if (!ids) return 1;
    for (int i = 0; i < argc; i++) {
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (*end || end == argv[i] || v < 0 || v >= fv_tokenizer_vocab_size(tok)) {
            fprintf(stderr, "fovea-tokenize: \"%s\" is not a token id (0..%d)\n", argv[i],
                    (int)fv_tokenizer_vocab_size(tok) - 1);
            free(ids);
            return 1;
        }
        ids[i] = (int32_t)v;
    }
    size_t len = 0;
    fv_tokenizer_decode(tok, ids, (size_t)argc, flags, NULL, 0, &len);
    char *text = malloc(len + 1);
    fv_status st = text ? fv_tokenizer_decode(tok, ids, (size_t)argc, flags, text, len + 1, &len)
                        : FV_STATUS_OUT_OF_HOST_MEMORY;
    if (st == FV_STATUS_OK) printf("%s\n", text);
    free(text);
    free(ids);
    return st == FV_STATUS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *model = NULL;
    bool do_decode = false, show = false, timing = false;
    uint32_t eflags = FV_TOKENIZE_PARSE_SPECIAL, dflags = 0;
    /* options anywhere; the rest (the text, or the ids) in order */
    char **args = malloc((size_t)argc * sizeof *args);
    int nargs = 0;
    if (!args) return 1;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == 0) {
            args[nargs++] = argv[i];
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--decode") == 0) {
            do_decode = true;
        } else if (strcmp(argv[i], "--no-parse-special") == 0) {
            eflags &= ~(uint32_t)FV_TOKENIZE_PARSE_SPECIAL;
        } else if (strcmp(argv[i], "--add-special") == 0) {
            eflags |= FV_TOKENIZE_ADD_SPECIAL;
        } else if (strcmp(argv[i], "--skip-special") == 0) {
            dflags |= FV_DETOKENIZE_SKIP_SPECIAL;
        } else if (strcmp(argv[i], "--show") == 0) {
            show = true;
        } else if (strcmp(argv[i], "--time") == 0) {
            timing = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            free(args);
            return 0;
        } else {
            usage(stderr);
            free(args);
            return 2;
        }
    }
    if (!model || (!do_decode && nargs != 1)) {
        usage(stderr);
        free(args);
        return 2;
    }
    char error[512];
    fv_tokenizer *tok;
    double t0 = now_ms();
    fv_status st = fv_tokenizer_load(model, &tok, error, sizeof error);
    if (st != FV_STATUS_OK) {
        fprintf(stderr, "fovea-tokenize: %s: %s\n", fv_status_name(st), error);
        free(args);
        return 1;
    }
    if (timing)
        fprintf(stderr, "load: %.1f ms, %d tokens\n", now_ms() - t0, (int)fv_tokenizer_vocab_size(tok));
    int rc;
    if (do_decode) {
        rc = decode(tok, args, nargs, dflags);
    } else if (strcmp(args[0], "-") == 0) {
        size_t len;
        char *text = read_stdin(&len);
        rc = text ? encode(tok, text, len, eflags, show, timing) : 1;
        free(text);
    } else {
        rc = encode(tok, args[0], strlen(args[0]), eflags, show, timing);
    }
    free(args);
    fv_tokenizer_destroy(tok);
    return rc;
}
