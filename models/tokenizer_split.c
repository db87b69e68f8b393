/* Pre-tokenizers: the regular expressions GPT-2, Llama 3 and Qwen2 split
 * text with, written out as code, plus digit splitting.
 *
 * Each expression is an alternation tried left to right at the current
 * position (the first alternative that matches wins, as in the backtracking
 * engines Hugging Face and llama.cpp use), and the text is cut into the
 * successive matches. Every alternative is a run of one character class
 * (\p{L} letters, \p{N} numbers, \s white space, or "other") with an
 * optional one-character prefix, so each becomes a few comparisons on a
 * per-character class array. The only lookahead, \s+(?!\S), means "a
 * white-space run, minus its last character when a non-space follows".
 * Characters no alternative matches (none, for the three expressions
 * here) would become pieces of their own, as Split's "Isolated" keeps the
 * gaps between matches. */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

bool tok_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2) return false;
        c *= 2;
    }
    if (c > SIZE_MAX / size) return false;
    void *q = realloc(*p, c * size);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

void tok_split_work_free(tok_split_work *w)
{
    free(w->text);
    free(w->cp);
    free(w->cls);
    free(w->off);
    free(w->a);
    free(w->b);
    memset(w, 0, sizeof *w);
}

/* ---- the expressions ------------------------------------------------------ */

/* A view of the code points of one piece: [0, n) with classes. */
typedef struct span {
    const uint32_t *cp;
    const uint8_t *cls;
    size_t n;
} span;

static size_t run_of(const span *s, size_t i, int cls)
{
    while (i < s->n && s->cls[i] == cls) i++;
    return i;
}

static uint32_t fold_ascii(uint32_t c, bool fold)
{
    return fold && c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's|'t|'re|'ve|'m|'ll|'d (ASCII case-insensitive when `fold`): the end
 * of the match at i, or i. */
static size_t match_contraction(const span *s, size_t i, bool fold)
{
    if (s->cp[i] != '\'' || i + 1 >= s->n) return i;
    uint32_t c = fold_ascii(s->cp[i + 1], fold);
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return i + 2;
    if (i + 2 >= s->n) return i;
    uint32_t c2 = fold_ascii(s->cp[i + 2], fold);
    if ((c == 'r' || c == 'v') && c2 == 'e') return i + 3;
    if (c == 'l' && c2 == 'l') return i + 3;
    return i;
}

/* \s+(?!\S)|\s+ at a white-space character i. */
static size_t match_space_run(const span *s, size_t i)
{
    size_t j = run_of(s, i, FV_UC_SPACE);
    /* Before a non-space, leave the run's last character to prefix it. */
    if (j < s->n && j - i >= 2) return j - 1;
    return j;
}

/* GPT-2:  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t match_gpt2(const span *s, size_t i)
{
    size_t e = match_contraction(s, i, false);
    if (e > i) return e;
    /* " ?X+" for the three non-space classes: the optional space is taken
     * when a character of some such class follows it. */
    size_t k = i;
    if (s->cp[i] == ' ' && i + 1 < s->n && s->cls[i + 1] != FV_UC_SPACE) k = i + 1;
    if (s->cls[k] != FV_UC_SPACE) return run_of(s, k, s->cls[k]);
    return match_space_run(s, i);
}

/* Llama 3 (digits 3 at a time) and Qwen2 (one at a time):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static bool is_newline(uint32_t c)
{
    return c == '\r' || c == '\n';
}

static size_t match_llama3(const span *s, size_t i, size_t max_digits)
{
    size_t e = match_contraction(s, i, true);
    if (e > i) return e;
    int c = s->cls[i];
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c == FV_UC_LETTER) return run_of(s, i, FV_UC_LETTER);
    if (c != FV_UC_NUMBER && !is_newline(s->cp[i]) && i + 1 < s->n && s->cls[i + 1] == FV_UC_LETTER)
        return run_of(s, i + 1, FV_UC_LETTER);
    /* \p{N}{1,max} */
    if (c == FV_UC_NUMBER) {
        size_t j = run_of(s, i, FV_UC_NUMBER);
        return j - i > max_digits ? i + max_digits : j;
    }
    /* " ?[^\s\p{L}\p{N}]+[\r\n]*" */
    size_t k = i;
    if (s->cp[i] == ' ' && i + 1 < s->n && s->cls[i + 1] == FV_UC_OTHER) k = i + 1;
    if (s->cls[k] == FV_UC_OTHER) {
        size_t j = run_of(s, k, FV_UC_OTHER);
        while (j < s->n && is_newline(s->cp[j])) j++;
        return j;
    }
    /* Only white space is left. \s*[\r\n]+ : the run up to and including
     * its last line break, when it has one. */
    size_t j = run_of(s, i, FV_UC_SPACE);
    for (size_t k2 = j; k2 > i; k2--)
        if (is_newline(s->cp[k2 - 1])) return k2;
    return match_space_run(s, i);
}

/* ---- driving the steps ---------------------------------------------------- */

static bool push_piece(tok_piece **v, size_t *cap, size_t *n, size_t a, size_t b)
{
    if (!tok_grow((void **)v, cap, *n + 1, sizeof **v)) return false;
    (*v)[*n].start = (uint32_t)a;
    (*v)[*n].end = (uint32_t)b;
    (*n)++;
    return true;
}

/* Decodes text into the work arrays: code points, classes, and the byte
 * offset of each (off[ncp] = n). */
static bool decode_text(tok_split_work *w, const uint8_t *text, size_t n, size_t *ncp)
{
    size_t cap = w->cp_cap;
    if (!tok_grow((void **)&w->cp, &cap, n + 1, sizeof *w->cp)) return false;
    if (cap != w->cp_cap || !w->cls) {
        /* cls and off follow cp's capacity */
        void *p = realloc(w->cls, cap * sizeof *w->cls);
        if (!p) return false;
        w->cls = p;
        p = realloc(w->off, (cap + 1) * sizeof *w->off);
        if (!p) return false;
        w->off = p;
        w->cp_cap = cap;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = text[i];
        size_t len = 1;
        if (cp >= 0x80 && (len = fv_utf8_decode(text + i, n - i, &cp)) == 0) {
            cp = 0xFFFD; /* callers pass valid UTF-8; this only keeps the loop finite */
            len = 1;
        }
        w->cp[k] = cp;
        w->cls[k] = (uint8_t)fv_uc_class_of(cp);
        w->off[k] = (uint32_t)i;
        k++;
        i += len;
    }
    w->off[k] = (uint32_t)n;
    *ncp = k;
    return true;
}

/* Applies one splitting step to every piece of `in` (code point indices),
 * writing `out`. */
static bool split_step(tok_step step, const tok_split_work *w, const tok_piece *in, size_t nin,
                       tok_piece **out, size_t *out_cap, size_t *nout)
{
    *nout = 0;
    for (size_t p = 0; p < nin; p++) {
        span s = {w->cp + in[p].start, w->cls + in[p].start, in[p].end - in[p].start};
        size_t base = in[p].start, i = 0;
        while (i < s.n) {
            size_t e = s.n;
            switch (step) {
            case TOK_STEP_GPT2: e = match_gpt2(&s, i); break;
            case TOK_STEP_LLAMA3: e = match_llama3(&s, i, 3); break;
            case TOK_STEP_QWEN2: e = match_llama3(&s, i, 1); break;
            case TOK_STEP_DIGITS:
            case TOK_STEP_DIGIT_RUNS:
                if (s.cls[i] == FV_UC_NUMBER) {
                    e = step == TOK_STEP_DIGITS ? i + 1 : run_of(&s, i, FV_UC_NUMBER);
                } else {
                    for (e = i + 1; e < s.n && s.cls[e] != FV_UC_NUMBER;) e++;
                }
                break;
            case TOK_STEP_PREFIX_SPACE: break; /* handled by the caller */
            }
            if (e <= i) e = i + 1; /* unmatched: a piece of its own */
            if (!push_piece(out, out_cap, nout, base + i, base + e)) return false;
            i = e;
        }
    }
    return true;
}

/* ByteLevel's add_prefix_space: a copy of the text with a space before
 * every piece that does not start with one; the pieces are moved onto the
 * copy (still in code point indices). */
static bool prefix_spaces(tok_split_work *w, const uint8_t *text, tok_piece *pieces, size_t npieces)
{
    size_t n = 0;
    for (size_t p = 0; p < npieces; p++) n += w->off[pieces[p].end] - w->off[pieces[p].start] + 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return false;
    size_t k = 0, cps = 0;
    for (size_t p = 0; p < npieces; p++) {
        uint32_t a = w->off[pieces[p].start], b = w->off[pieces[p].end];
        size_t start = cps;
        if (text[a] != ' ') {
            buf[k++] = ' ';
            cps++;
        }
        memcpy(buf + k, text + a, b - a);
        k += b - a;
        cps += pieces[p].end - pieces[p].start;
        pieces[p].start = (uint32_t)start;
        pieces[p].end = (uint32_t)cps;
    }
    free(w->text);
    w->text = buf;
    w->text_cap = k;
    size_t ncp;
    return decode_text(w, buf, k, &ncp);
}

bool tok_pretokenize(const fv_tokenizer *tok, tok_split_work *w, const uint8_t *text, size_t n,
                     const uint8_t **out_text, const tok_piece **pieces, size_t *npieces)
{
    size_t ncp, na = 0, nb = 0;
    if (!decode_text(w, text, n, &ncp)) return false;
    if (ncp > 0 && !push_piece(&w->a, &w->a_cap, &na, 0, ncp)) return false;
    *out_text = text;
    for (int s = 0; s < tok->nsteps; s++) {
        if (tok->steps[s] == TOK_STEP_PREFIX_SPACE) {
            if (!prefix_spaces(w, *out_text, w->a, na)) return false;
            *out_text = w->text;
            continue;
        }
        if (!split_step(tok->steps[s], w, w->a, na, &w->b, &w->b_cap, &nb)) return false;
        tok_piece *t = w->a;
        w->a = w->b;
        w->b = t;
        size_t tc = w->a_cap;
        w->a_cap = w->b_cap;
        w->b_cap = tc;
        na = nb;
    }
    /* code point indices to byte offsets */
    for (size_t p = 0; p < na; p++) {
        w->a[p].start = w->off[w->a[p].start];
        w->a[p].end = w->off[w->a[p].end];
    }
    *pieces = w->a;
    *npieces = na;
    return true;
}
