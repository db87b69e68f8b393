/* UTF-8, character classes and NFC for the tokenizer (see unicode.h).
 *
 * The property tables are sorted ranges searched by bisection; ASCII, which
 * most tokenized text is, never reaches them. */
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ----------------------------------------------------------------- */

/* The range the second byte of a sequence must fall in, given its lead byte
 * (Unicode Table 3-7): what rules out overlong forms, surrogates and code
 * points past U+10FFFF. */
static bool second_byte_ok(uint8_t lead, uint8_t b)
{
    switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
    }
}

/* Sequence length announced by a lead byte; 0 for bytes that cannot lead. */
static size_t lead_length(uint8_t b)
{
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

size_t fv_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len = lead_length(b);
    if (len == 0 || len > n || !second_byte_ok(b, s[1])) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    uint32_t c = b & (0x7F >> len);
    for (size_t i = 1; i < len; i++) c = c << 6 | (s[i] & 0x3F);
    *cp = c;
    return len;
}

size_t fv_utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t fv_utf8_check(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = fv_utf8_decode(s + i, n - i, &cp);
        if (len == 0) return i;
        i += len;
    }
    return n;
}

static void put_bytes(const uint8_t *b, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (*len + n <= cap) memcpy(out + *len, b, n);
    *len += n;
}

static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

void fv_utf8_lossy_feed(fv_utf8_lossy *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                        size_t *len)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = in[i];
        if (st->count > 0) {
            bool ok = st->count == 1 ? second_byte_ok(st->pending[0], b) : (b & 0xC0) == 0x80;
            if (ok) {
                st->pending[st->count++] = b;
                if (st->count == lead_length(st->pending[0])) {
                    put_bytes(st->pending, st->count, out, cap, len);
                    st->count = 0;
                }
                continue;
            }
            /* The unfinished character is a maximal invalid subsequence;
             * b starts afresh. */
            put_bytes(replacement, 3, out, cap, len);
            st->count = 0;
        }
        size_t need = lead_length(b);
        if (need == 1)
            put_bytes(&b, 1, out, cap, len);
        else if (need == 0)
            put_bytes(replacement, 3, out, cap, len);
        else
            st->pending[st->count++] = b;
    }
}

void fv_utf8_lossy_finish(fv_utf8_lossy *st, uint8_t *out, size_t cap, size_t *len)
{
    if (st->count > 0) put_bytes(replacement, 3, out, cap, len);
    st->count = 0;
}

/* ---- property lookups ---------------------------------------------------- */

/* The value of the range holding cp in a {first, last | value << 24}
 * table, 0 outside every range. */
static int range_value(const uint32_t (*t)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < t[mid][0])
            hi = mid;
        else if (cp > (t[mid][1] & 0xFFFFFF))
            lo = mid + 1;
        else
            return (int)(t[mid][1] >> 24);
    }
    return 0;
}

int fv_uc_class_of(uint32_t cp)
{
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') return FV_UC_LETTER;
        if (cp >= 'A' && cp <= 'Z') return FV_UC_LETTER;
        if (cp >= '0' && cp <= '9') return FV_UC_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return FV_UC_SPACE;
        return FV_UC_OTHER;
    }
    return range_value(fv_uc_class, fv_uc_class_count, cp);
}

static int ccc_of(uint32_t cp)
{
    return cp < 0x300 ? 0 : range_value(fv_uc_ccc, fv_uc_ccc_count, cp);
}

static bool nfc_active(uint32_t cp)
{
    /* U+00C0 is the first code point with a decomposition. */
    return cp >= 0xC0 && range_value(fv_uc_nfc_active, fv_uc_nfc_active_count, cp) != 0;
}

/* ---- NFC ------------------------------------------------------------------- */

/* Hangul syllables decompose and compose arithmetically (Unicode 3.12). */
enum {
    HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
    HANGUL_LCOUNT = 19, HANGUL_VCOUNT = 21, HANGUL_TCOUNT = 28,
    HANGUL_NCOUNT = HANGUL_VCOUNT * HANGUL_TCOUNT, HANGUL_SCOUNT = HANGUL_LCOUNT * HANGUL_NCOUNT,
};

typedef struct cp_buf {
    uint32_t *v;
    size_t n, cap;
    bool failed;
} cp_buf;

static void cp_push(cp_buf *b, uint32_t cp)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        uint32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            b->failed = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = cp;
}

static const uint32_t *find_decomp(uint32_t cp)
{
    size_t lo = 0, hi = fv_uc_decomp_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < fv_uc_decomp[mid][0])
            hi = mid;
        else if (cp > fv_uc_decomp[mid][0])
            lo = mid + 1;
        else
            return fv_uc_decomp[mid];
    }
    return NULL;
}

/* Appends the full canonical decomposition of cp. */
static void decompose(uint32_t cp, cp_buf *b)
{
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SCOUNT) {
        uint32_t s = cp - HANGUL_S;
        cp_push(b, HANGUL_L + s / HANGUL_NCOUNT);
        cp_push(b, HANGUL_V + s % HANGUL_NCOUNT / HANGUL_TCOUNT);
        if (s % HANGUL_TCOUNT) cp_push(b, HANGUL_T + s % HANGUL_TCOUNT);
        return;
    }
    const uint32_t *d = cp >= 0xC0 ? find_decomp(cp) : NULL;
    if (!d) {
        cp_push(b, cp);
        return;
    }
    decompose(d[1], b);
    if (d[2]) decompose(d[2], b);
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LCOUNT && b >= HANGUL_V && b < HANGUL_V + HANGUL_VCOUNT)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VCOUNT + (b - HANGUL_V)) * HANGUL_TCOUNT;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SCOUNT && (a - HANGUL_S) % HANGUL_TCOUNT == 0 &&
        b > HANGUL_T && b < HANGUL_T + HANGUL_TCOUNT)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = fv_uc_comp_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const uint32_t *e = fv_uc_comp[mid];
        if (a < e[0] || (a == e[0] && b < e[1]))
            hi = mid;
        else if (a > e[0] || b > e[1])
            lo = mid + 1;
        else
            return e[2];
    }
    return 0;
}

/* Canonical ordering, then canonical composition (the algorithm of
 * UAX #15), of a decomposed run; the run's length shrinks in place. */
static void reorder_and_compose(cp_buf *b)
{
    uint32_t *v = b->v;
    size_t n = b->n;
    /* Stable insertion sort of each run of non-starters by class. */
    for (size_t i = 1; i < n; i++) {
        int c = ccc_of(v[i]);
        if (c == 0) continue;
        size_t j = i;
        uint32_t x = v[i];
        while (j > 0) {
            int p = ccc_of(v[j - 1]);
            if (p == 0 || p <= c) break;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    if (n < 2) return;
    size_t starter = 0, out = 1;
    /* A run that opens with a non-starter has nothing to compose with. */
    int last = ccc_of(v[0]) ? 256 : 0;
    for (size_t i = 1; i < n; i++) {
        uint32_t c = v[i];
        int cc = ccc_of(c);
        uint32_t comp = last == 256 ? 0 : compose(v[starter], c);
        /* Composes unless blocked: something between the starter and c
         * with a class of 0 or not below c's. */
        if (comp && (last < cc || last == 0)) {
            v[starter] = comp;
            continue;
        }
        if (cc == 0) {
            starter = out;
        }
        last = cc;
        v[out++] = c;
    }
    b->n = out;
}

bool fv_uc_nfc_maybe(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = fv_utf8_decode(s + i, n - i, &cp);
        if (len == 0) return true;
        if (nfc_active(cp)) return true;
        i += len;
    }
    return false;
}

/* Appends the NFC of a decomposed run to out. */
static bool flush_run(cp_buf *run, uint8_t **out, size_t *out_n, size_t *out_cap)
{
    reorder_and_compose(run);
    if (*out_n + run->n * 4 > *out_cap) {
        size_t cap = (*out_cap + run->n * 4) * 2;
        uint8_t *o = realloc(*out, cap);
        if (!o) return false;
        *out = o;
        *out_cap = cap;
    }
    for (size_t i = 0; i < run->n; i++) *out_n += fv_utf8_encode(run->v[i], *out + *out_n);
    run->n = 0;
    return true;
}

bool fv_uc_nfc(const uint8_t *s, size_t n, uint8_t **out, size_t *out_n)
{
    /* The text is cut into runs that each start at a character NFC cannot
     * touch (no decomposition, class 0, composes with nothing before it):
     * nothing reorders or composes across such a character, so each run
     * is normalised alone and the buffer stays a few characters long. */
    size_t cap = n + 16;
    uint8_t *o = malloc(cap);
    cp_buf run = {0};
    size_t on = 0;
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < n;) {
        uint32_t cp;
        size_t len = fv_utf8_decode(s + i, n - i, &cp);
        if (len == 0) { /* callers pass valid UTF-8; this only keeps the loop finite */
            cp = 0xFFFD;
            len = 1;
        }
        i += len;
        if (!nfc_active(cp)) {
            if (run.n) ok = flush_run(&run, &o, &on, &cap);
            cp_push(&run, cp);
        } else {
            decompose(cp, &run);
        }
        ok = ok && !run.failed;
    }
    if (ok && run.n) ok = flush_run(&run, &o, &on, &cap);
    free(run.v);
    if (!ok) {
        free(o);
        return false;
    }
    *out = o;
    *out_n = on;
    return true;
}
