/* Tokenizer core: vocabulary tables, encoding, decoding.
 *
 * Encoding runs in four stages, as Hugging Face's tokenizers do:
 *   1. added tokens are found in the raw text (longest first at the
 *      leftmost position) and cut out; the text between them is a segment;
 *   2. each segment is normalised (NFC, when the tokenizer asks for it);
 *   3. the pre-tokenizer splits it into pieces (tokenizer_split.c);
 *   4. each piece is merged: byte-level BPE starts from one symbol per byte
 *      and repeatedly merges the adjacent pair of lowest merge rank;
 *      SentencePiece BPE starts from one symbol per character and merges
 *      the adjacent pair whose concatenation is the vocabulary token of
 *      highest score. Ties go to the leftmost pair. Candidate pairs sit in
 *      a binary heap; a popped pair whose symbols changed since it was
 *      pushed is stale and skipped, so a piece of n bytes takes
 *      O(n log n), and long unbroken runs stay fast.
 * Lookups are open-addressing hash tables: token text → id over the
 * tokenizer's text arena, and (left id, right id) → (rank, merged id). */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- GPT-2's byte ↔ character map ----------------------------------------- */

/* Printable Latin-1 bytes map to themselves; the other 68 (0x00-0x20,
 * 0x7F-0xA0 and 0xAD: controls, space, DEL, NBSP, soft hyphen) map to
 * U+0100..U+0143 in byte order. */
uint32_t tok_byte_to_char(uint8_t b)
{
    if (b <= 0x20) return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0) return 0x121 + (b - 0x7F);
    if (b == 0xAD) return 0x143;
    return b;
}

int tok_char_to_byte(uint32_t cp)
{
    if (cp < 0x100) return (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) ? -1 : (int)cp;
    if (cp <= 0x120) return (int)(cp - 0x100);
    if (cp <= 0x142) return (int)(0x7F + (cp - 0x121));
    if (cp == 0x143) return 0xAD;
    return -1;
}

/* ---- hash tables -------------------------------------------------------- */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t key)
{
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 31);
}

static uint32_t table_size(size_t n)
{
    uint32_t size = 16;
    while (size < n + n / 2) size *= 2; /* load factor at most 2/3 */
    return size;
}

static bool text_equals(const fv_tokenizer *tok, int32_t id, const char *s, size_t len)
{
    return tok->text_len[id] == len && memcmp(tok->arena + tok->text_off[id], s, len) == 0;
}

static bool slot_matches(const fv_tokenizer *tok, const tok_slot *slot, const char *s, size_t len)
{
    if (slot->len != (len < 255 ? len : 255)) return false;
    size_t head = len < TOK_SLOT_TEXT ? len : TOK_SLOT_TEXT;
    if (memcmp(slot->text, s, head) != 0) return false;
    return len <= TOK_SLOT_TEXT || text_equals(tok, (int32_t)(slot->id1 - 1), s, len);
}

int32_t tok_lookup(const fv_tokenizer *tok, const char *text, size_t len)
{
    if (!tok->vocab.slots) return -1;
    uint32_t mask = tok->vocab.mask;
    for (uint32_t i = (uint32_t)hash_bytes(text, len) & mask;; i = (i + 1) & mask) {
        const tok_slot *slot = &tok->vocab.slots[i];
        if (slot->id1 == 0) return -1;
        if (slot_matches(tok, slot, text, len)) return (int32_t)(slot->id1 - 1);
    }
}

/* Loading does hundreds of thousands of lookups at random places in a
 * table of megabytes; asking for a slot's cache line some lookups ahead
 * overlaps those memory waits instead of paying them one by one. */
#if defined(__GNUC__) || defined(__clang__)
#define TOK_PREFETCH(p) __builtin_prefetch(p)
#else
#define TOK_PREFETCH(p) ((void)(p))
#endif

void tok_prefetch(const fv_tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen)
{
    if (!tok->vocab.slots) return;
    TOK_PREFETCH(&tok->vocab.slots[hash_bytes(a, alen) & tok->vocab.mask]);
    TOK_PREFETCH(&tok->vocab.slots[hash_bytes(b, blen) & tok->vocab.mask]);
    char cat[64];
    if (alen + blen <= sizeof cat) {
        memcpy(cat, a, alen);
        memcpy(cat + alen, b, blen);
        TOK_PREFETCH(&tok->vocab.slots[hash_bytes(cat, alen + blen) & tok->vocab.mask]);
    }
}

void tok_prefetch_merge(const fv_tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen)
{
    int32_t ia = tok_lookup(tok, a, alen), ib = tok_lookup(tok, b, blen);
    if (ia < 0 || ib < 0 || !tok->merges.slots) return;
    uint64_t key = ((uint64_t)(uint32_t)ia << 32 | (uint32_t)ib) + 1;
    TOK_PREFETCH(&tok->merges.slots[hash_pair(key) & tok->merges.mask]);
}

static void vocab_insert(fv_tokenizer *tok, int32_t id)
{
    const char *s = tok->arena + tok->text_off[id];
    size_t len = tok->text_len[id];
    uint32_t mask = tok->vocab.mask;
    for (uint32_t i = (uint32_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        tok_slot *slot = &tok->vocab.slots[i];
        if (slot->id1 == 0) {
            slot->len = (uint8_t)(len < 255 ? len : 255);
            memcpy(slot->text, s, len < TOK_SLOT_TEXT ? len : TOK_SLOT_TEXT);
        } else if (!slot_matches(tok, slot, s, len)) {
            continue;
        }
        slot->id1 = (uint32_t)id + 1; /* a later token of the same text wins */
        return;
    }
}

static bool pair_find(const tok_pairmap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged)
{
    if (!m->slots) return false;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    for (uint32_t i = (uint32_t)hash_pair(key) & m->mask;; i = (i + 1) & m->mask) {
        const tok_pair_slot *slot = &m->slots[i];
        if (slot->key == 0) return false;
        if (slot->key == key) {
            *rank = slot->rank;
            *merged = slot->merged;
            return true;
        }
    }
}

bool tok_merges_reserve(fv_tokenizer *tok, size_t n)
{
    tok_pairmap *m = &tok->merges;
    uint32_t size = table_size(n);
    free(m->slots);
    m->slots = calloc(size, sizeof *m->slots);
    m->mask = size - 1;
    m->count = 0;
    return m->slots != NULL;
}

fv_status tok_add_merge(fv_tokenizer *tok, uint32_t rank, const char *a, size_t alen,
                        const char *b, size_t blen, char *error, size_t error_size)
{
    tok_pairmap *m = &tok->merges;
    if (!m->slots || m->count + 1 > (size_t)m->mask * 2 / 3)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_STATE, "merge table full");
    int32_t ia = tok_lookup(tok, a, alen), ib = tok_lookup(tok, b, blen);
    char small[256];
    char *cat = alen + blen <= sizeof small ? small : malloc(alen + blen);
    if (!cat) return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    memcpy(cat, a, alen);
    memcpy(cat + alen, b, blen);
    int32_t im = tok_lookup(tok, cat, alen + blen);
    if (cat != small) free(cat);
    if (ia < 0 || ib < 0 || im < 0) {
        const char *what = ia < 0 ? a : ib < 0 ? b : "their concatenation";
        int wlen = ia < 0 ? (int)alen : ib < 0 ? (int)blen : (int)strlen(what);
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "merge %u (\"%.*s\" + \"%.*s\"): \"%.*s\" is not in the vocabulary",
                            rank + 1, (int)alen, a, (int)blen, b, wlen, what);
    }
    uint64_t key = ((uint64_t)(uint32_t)ia << 32 | (uint32_t)ib) + 1;
    for (uint32_t i = (uint32_t)hash_pair(key) & m->mask;; i = (i + 1) & m->mask) {
        tok_pair_slot *slot = &m->slots[i];
        if (slot->key == key) return FV_STATUS_OK; /* a repeated merge keeps its first rank */
        if (slot->key == 0) {
            *slot = (tok_pair_slot){key, rank, im};
            m->count++;
            return FV_STATUS_OK;
        }
    }
}

/* ---- building --------------------------------------------------------------- */

static bool arena_append(fv_tokenizer *tok, const void *s, size_t len, uint32_t *off)
{
    if (tok->arena_size + len + 1 > UINT32_MAX) return false;
    size_t cap = tok->arena_cap;
    if (!tok_grow((void **)&tok->arena, &cap, tok->arena_size + len + 1, 1)) return false;
    tok->arena_cap = cap;
    memcpy(tok->arena + tok->arena_size, s, len);
    tok->arena[tok->arena_size + len] = 0;
    *off = (uint32_t)tok->arena_size;
    tok->arena_size += len + 1;
    return true;
}

fv_status tok_create(int32_t n, tok_kind kind, fv_tokenizer **out, char *error, size_t error_size)
{
    *out = NULL;
    if (n <= 0 || n > (1 << 30))
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "vocabulary size %d out of range", (int)n);
    fv_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    tok->kind = kind;
    tok->n = n;
    tok->text_off = calloc((size_t)n, sizeof *tok->text_off);
    tok->text_len = calloc((size_t)n, sizeof *tok->text_len);
    tok->bytes_off = calloc((size_t)n, sizeof *tok->bytes_off);
    tok->bytes_len = calloc((size_t)n, sizeof *tok->bytes_len);
    tok->attr = calloc((size_t)n, 1);
    tok->bos = tok->eos = tok->pad = tok->unk = -1;
    for (int b = 0; b < 256; b++) tok->byte_id[b] = -1;
    /* an empty string at offset 0 for absent ids */
    uint32_t off;
    if (!tok->text_off || !tok->text_len || !tok->bytes_off || !tok->bytes_len || !tok->attr ||
        !arena_append(tok, "", 0, &off)) {
        fv_tokenizer_destroy(tok);
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    }
    *out = tok;
    return FV_STATUS_OK;
}

bool tok_set_text(fv_tokenizer *tok, int32_t id, const char *text, size_t len)
{
    uint32_t off;
    if (!arena_append(tok, text, len, &off)) return false;
    tok->text_off[id] = off;
    tok->text_len[id] = (uint32_t)len;
    tok->attr[id] |= TOK_ATTR_PRESENT;
    return true;
}

fv_status tok_index_vocab(fv_tokenizer *tok, char *error, size_t error_size)
{
    uint32_t size = table_size((size_t)tok->n);
    free(tok->vocab.slots);
    tok->vocab.slots = calloc(size, sizeof *tok->vocab.slots);
    if (!tok->vocab.slots)
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    tok->vocab.mask = size - 1;
    enum { AHEAD = 8 };
    for (int32_t id = 0; id < tok->n; id++) {
        int32_t next = id + AHEAD;
        if (next < tok->n)
            TOK_PREFETCH(&tok->vocab.slots[hash_bytes(tok->arena + tok->text_off[next], tok->text_len[next]) &
                                          tok->vocab.mask]);
        if (tok->attr[id] & TOK_ATTR_PRESENT) vocab_insert(tok, id);
    }
    return FV_STATUS_OK;
}

fv_status tok_add_token(fv_tokenizer *tok, int32_t id, const char *text, size_t len, uint8_t attr,
                        char *error, size_t error_size)
{
    if (id < 0 || id >= tok->n)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "added token \"%.*s\": id %d out of range", (int)len, text, (int)id);
    if (len == 0)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "added token %d is empty", (int)id);
    if (!(tok->attr[id] & TOK_ATTR_PRESENT) || !text_equals(tok, id, text, len))
        if (!tok_set_text(tok, id, text, len))
            return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    tok->attr[id] |= (uint8_t)(attr | TOK_ATTR_PRESENT | TOK_ATTR_ADDED);
    vocab_insert(tok, id);
    return FV_STATUS_OK;
}

/* Added tokens by first byte, longest first (then by id). */
typedef struct added_key {
    uint8_t first;
    uint32_t len;
    int32_t id;
} added_key;

static int cmp_added(const void *pa, const void *pb)
{
    const added_key *a = pa, *b = pb;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* What a token decodes to, into buf (at least text length + 1 bytes). */
static size_t decoded_bytes(const fv_tokenizer *tok, int32_t id, uint8_t *buf)
{
    const uint8_t *s = (const uint8_t *)tok->arena + tok->text_off[id];
    size_t n = tok->text_len[id], k = 0;
    uint8_t attr = tok->attr[id];
    if (attr & TOK_ATTR_RAW) {
        memcpy(buf, s, n);
        return n;
    }
    if (tok->kind == TOK_KIND_SPM) {
        if (attr & TOK_ATTR_BYTE) {
            buf[0] = (uint8_t)strtoul((const char *)s + 3, NULL, 16);
            return 1;
        }
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
                buf[k++] = ' ';
                i += 3;
            } else {
                buf[k++] = s[i++];
            }
        }
        return k;
    }
    /* Byte-level: each character is one byte. A token with a character
     * outside the map decodes to its text, as Hugging Face's ByteLevel
     * decoder does. */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = fv_utf8_decode(s + i, n - i, &cp);
        int b = len ? tok_char_to_byte(cp) : -1;
        if (b < 0) {
            memcpy(buf, s, n);
            return n;
        }
        buf[k++] = (uint8_t)b;
        i += len;
    }
    return k;
}

static bool is_byte_token(const char *s, size_t n)
{
    /* "<0xXX>" with upper-case hex digits, as SentencePiece writes them */
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return false;
    for (int i = 3; i < 5; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F'))) return false;
    return true;
}

fv_status tok_finish(fv_tokenizer *tok, char *error, size_t error_size)
{
    size_t longest = 0;
    for (int32_t id = 0; id < tok->n; id++) longest = tok->text_len[id] > longest ? tok->text_len[id] : longest;
    uint8_t *buf = malloc(longest + 1);
    if (!buf) return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    size_t nadded = 0;
    for (int32_t id = 0; id < tok->n; id++) {
        if (!(tok->attr[id] & TOK_ATTR_PRESENT)) continue;
        if (tok->attr[id] & TOK_ATTR_ADDED) nadded++;
        const char *text = tok->arena + tok->text_off[id];
        tok->attr[id] &= (uint8_t)~TOK_ATTR_BYTE;
        if (tok->kind == TOK_KIND_SPM && !(tok->attr[id] & (TOK_ATTR_ADDED | TOK_ATTR_RAW)) &&
            is_byte_token(text, tok->text_len[id])) {
            tok->attr[id] |= TOK_ATTR_BYTE;
            tok->byte_id[strtoul(text + 3, NULL, 16)] = id;
        }
        size_t n = decoded_bytes(tok, id, buf);
        if (n == tok->text_len[id] && memcmp(buf, text, n) == 0) {
            tok->bytes_off[id] = tok->text_off[id]; /* most tokens decode to their text */
        } else if (!arena_append(tok, buf, n, &tok->bytes_off[id])) {
            free(buf);
            return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
        }
        tok->bytes_len[id] = (uint32_t)n;
        if (n > tok->max_bytes) tok->max_bytes = n;
    }
    free(buf);
    if (tok->kind == TOK_KIND_BPE) {
        for (int b = 0; b < 256; b++) {
            uint8_t u[4];
            size_t len = fv_utf8_encode(tok_byte_to_char((uint8_t)b), u);
            tok->byte_id[b] = tok_lookup(tok, (const char *)u, len);
        }
    }
    free(tok->added);
    tok->added = malloc((nadded ? nadded : 1) * sizeof *tok->added);
    added_key *keys = malloc((nadded ? nadded : 1) * sizeof *keys);
    if (!tok->added || !keys) {
        free(keys);
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    }
    size_t k = 0;
    for (int32_t id = 0; id < tok->n; id++)
        if (tok->attr[id] & TOK_ATTR_ADDED)
            keys[k++] = (added_key){(uint8_t)tok->arena[tok->text_off[id]], tok->text_len[id], id};
    qsort(keys, nadded, sizeof *keys, cmp_added);
    memset(tok->added_first, 0, sizeof tok->added_first);
    for (size_t i = 0; i < nadded; i++) {
        tok->added[i] = keys[i].id;
        tok->added_first[keys[i].first + 1]++;
    }
    free(keys);
    for (int b = 0; b < 256; b++) tok->added_first[b + 1] += tok->added_first[b];
    return FV_STATUS_OK;
}

void fv_tokenizer_destroy(fv_tokenizer *tok)
{
    if (!tok) return;
    free(tok->text_off);
    free(tok->text_len);
    free(tok->bytes_off);
    free(tok->bytes_len);
    free(tok->attr);
    free(tok->score);
    free(tok->arena);
    free(tok->vocab.slots);
    free(tok->merges.slots);
    free(tok->added);
    free(tok);
}

/* ---- merging ---------------------------------------------------------------- */

typedef struct sym {
    int32_t id;          /* -1: a SentencePiece character outside the vocabulary */
    int32_t prev, next;  /* neighbours still alive; -1 at the ends */
    uint32_t off, len;   /* bytes of the piece it covers; len 0 once merged away */
} sym;

/* A candidate merge of symbols left and right (adjacent when pushed). */
typedef struct cand {
    double key;          /* BPE: the merge's rank; SentencePiece: minus the score */
    int32_t left, right;
    uint32_t len;        /* left.len + right.len when pushed */
    int32_t merged;
} cand;

typedef struct encoder {
    const fv_tokenizer *tok;
    int32_t *ids;
    size_t cap, n;
    sym *syms;
    size_t syms_cap;
    cand *heap;
    size_t heap_cap, nheap;
    uint8_t *buf;        /* the byte-level text of a piece; escaped SentencePiece text */
    size_t buf_cap;
    tok_split_work split;
    bool oom;
} encoder;

static void emit(encoder *e, int32_t id)
{
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

static bool cand_less(const cand *a, const cand *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void heap_push(encoder *e, cand c)
{
    if (!tok_grow((void **)&e->heap, &e->heap_cap, e->nheap + 1, sizeof *e->heap)) {
        e->oom = true;
        return;
    }
    size_t i = e->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &e->heap[parent])) break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = c;
}

static cand heap_pop(encoder *e)
{
    cand top = e->heap[0], last = e->heap[--e->nheap];
    size_t i = 0, n = e->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_less(&e->heap[c + 1], &e->heap[c])) c++;
        if (!cand_less(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0) e->heap[i] = last;
    return top;
}

/* Pushes the merge of symbol l with its right neighbour, if there is one. */
static void push_pair(encoder *e, const uint8_t *text, int32_t l)
{
    const fv_tokenizer *tok = e->tok;
    if (l < 0) return;
    int32_t r = e->syms[l].next;
    if (r < 0) return;
    const sym *a = &e->syms[l], *b = &e->syms[r];
    cand c = {0, l, r, a->len + b->len, -1};
    if (tok->kind == TOK_KIND_BPE) {
        uint32_t rank;
        if (a->id < 0 || b->id < 0 || !pair_find(&tok->merges, a->id, b->id, &rank, &c.merged)) return;
        c.key = rank;
    } else {
        c.merged = tok_lookup(tok, (const char *)text + a->off, c.len);
        if (c.merged < 0) return;
        c.key = -(double)tok->score[c.merged];
    }
    heap_push(e, c);
}

/* Runs the merge loop over e->syms[0..n). */
static void merge_symbols(encoder *e, const uint8_t *text, size_t n)
{
    e->nheap = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(e, text, (int32_t)i);
    while (e->nheap > 0 && !e->oom) {
        cand c = heap_pop(e);
        sym *a = &e->syms[c.left], *b = &e->syms[c.right];
        /* stale: one side was merged into something else since the push */
        if (a->len == 0 || b->len == 0 || a->next != c.right || a->len + b->len != c.len) continue;
        a->id = c.merged;
        a->len = c.len;
        b->len = 0;
        a->next = b->next;
        if (b->next >= 0) e->syms[b->next].prev = c.left;
        push_pair(e, text, a->prev);
        push_pair(e, text, c.left);
    }
}

static bool reserve_syms(encoder *e, size_t n)
{
    if (tok_grow((void **)&e->syms, &e->syms_cap, n, sizeof *e->syms)) return true;
    e->oom = true;
    return false;
}

/* Byte-level BPE of one piece. */
static void encode_bpe_piece(encoder *e, const uint8_t *p, size_t len)
{
    const fv_tokenizer *tok = e->tok;
    if (len == 0) return;
    if (tok->ignore_merges) {
        /* Llama 3: a piece that is itself a token is not merged. */
        if (!tok_grow((void **)&e->buf, &e->buf_cap, len * 2, 1)) {
            e->oom = true;
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < len; i++) k += fv_utf8_encode(tok_byte_to_char(p[i]), e->buf + k);
        int32_t id = tok_lookup(tok, (const char *)e->buf, k);
        if (id >= 0) {
            emit(e, id);
            return;
        }
    }
    if (!reserve_syms(e, len)) return;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = tok->byte_id[p[i]];
        if (id < 0) id = tok->unk; /* a byte missing from the vocabulary */
        if (id < 0) continue;      /* and no unknown token: dropped, as Hugging Face does */
        e->syms[n] = (sym){id, (int32_t)n - 1, (int32_t)n + 1, (uint32_t)i, 1};
        n++;
    }
    if (n == 0) return;
    e->syms[n - 1].next = -1;
    merge_symbols(e, p, n);
    for (int32_t i = 0; i >= 0; i = e->syms[i].next) emit(e, e->syms[i].id);
}

/* SentencePiece BPE of one segment: spaces become U+2581 (and one leads the
 * text when `space_prefix`), characters merge by score, characters left
 * outside the vocabulary become byte tokens (or the unknown token). */
static void encode_spm(encoder *e, const uint8_t *s, size_t len, bool space_prefix)
{
    const fv_tokenizer *tok = e->tok;
    static const uint8_t mark[3] = {0xE2, 0x96, 0x81}; /* U+2581 */
    if (!tok_grow((void **)&e->buf, &e->buf_cap, len * 3 + 3, 1)) {
        e->oom = true;
        return;
    }
    uint8_t *t = e->buf;
    size_t k = 0;
    if (space_prefix) {
        memcpy(t, mark, 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(t + k, mark, 3);
            k += 3;
        } else {
            t[k++] = s[i];
        }
    }
    if (!reserve_syms(e, k)) return;
    size_t n = 0;
    for (size_t i = 0; i < k;) {
        uint32_t cp;
        size_t cl = fv_utf8_decode(t + i, k - i, &cp);
        if (cl == 0) cl = 1;
        int32_t id = tok_lookup(tok, (const char *)t + i, cl);
        e->syms[n] = (sym){id, (int32_t)n - 1, (int32_t)n + 1, (uint32_t)i, (uint32_t)cl};
        n++;
        i += cl;
    }
    if (n == 0) return;
    e->syms[n - 1].next = -1;
    merge_symbols(e, t, n);
    for (int32_t i = 0; i >= 0; i = e->syms[i].next) {
        const sym *y = &e->syms[i];
        if (y->id >= 0) {
            emit(e, y->id);
            continue;
        }
        /* a character outside the vocabulary: its bytes, or one unknown token */
        bool bytes = tok->byte_fallback;
        for (uint32_t b = 0; b < y->len; b++) bytes = bytes && tok->byte_id[t[y->off + b]] >= 0;
        if (bytes)
            for (uint32_t b = 0; b < y->len; b++) emit(e, tok->byte_id[t[y->off + b]]);
        else if (tok->unk >= 0)
            emit(e, tok->unk);
    }
}

/* Normalises, pre-tokenizes and merges one segment of text between added
 * tokens. */
static void encode_segment(encoder *e, const uint8_t *s, size_t len)
{
    const fv_tokenizer *tok = e->tok;
    if (len == 0) return;
    uint8_t *norm = NULL;
    if (tok->nfc && fv_uc_nfc_maybe(s, len)) {
        if (!fv_uc_nfc(s, len, &norm, &len)) {
            e->oom = true;
            return;
        }
        s = norm;
    }
    if (tok->kind == TOK_KIND_SPM) {
        /* Every segment gets the leading U+2581, as llama.cpp (after each
         * special token) and Hugging Face's Prepend normaliser (per segment)
         * both do. */
        encode_spm(e, s, len, tok->spm_space_prefix);
    } else {
        const uint8_t *text;
        const tok_piece *pieces;
        size_t np;
        if (!tok_pretokenize(tok, &e->split, s, len, &text, &pieces, &np)) {
            e->oom = true;
        } else {
            for (size_t i = 0; i < np && !e->oom; i++)
                encode_bpe_piece(e, text + pieces[i].start, pieces[i].end - pieces[i].start);
        }
    }
    free(norm);
}

/* ---- added tokens ------------------------------------------------------- */

/* The longest added token at text[i..n), or -1. */
static int32_t added_at(const fv_tokenizer *tok, const uint8_t *text, size_t i, size_t n)
{
    uint8_t b = text[i];
    for (uint32_t k = tok->added_first[b]; k < tok->added_first[b + 1]; k++) {
        int32_t id = tok->added[k];
        size_t len = tok->text_len[id];
        if (len <= n - i && memcmp(text + i, tok->arena + tok->text_off[id], len) == 0) return id;
    }
    return -1;
}

/* The class of the character before / at byte i (-1 at the ends). */
static int class_before(const uint8_t *t, size_t i, uint32_t *cp_out, size_t *len_out)
{
    if (i == 0) return -1;
    size_t j = i - 1;
    while (j > 0 && (t[j] & 0xC0) == 0x80 && i - j < 4) j--;
    uint32_t cp;
    size_t len = fv_utf8_decode(t + j, i - j, &cp);
    if (len != i - j) return -1;
    *cp_out = cp;
    *len_out = len;
    return fv_uc_class_of(cp);
}

static int class_at(const uint8_t *t, size_t i, size_t n, uint32_t *cp_out, size_t *len_out)
{
    if (i >= n) return -1;
    uint32_t cp;
    size_t len = fv_utf8_decode(t + i, n - i, &cp);
    if (len == 0) return -1;
    *cp_out = cp;
    *len_out = len;
    return fv_uc_class_of(cp);
}

static bool is_word_char(int cls, uint32_t cp)
{
    return cls == FV_UC_LETTER || cls == FV_UC_NUMBER || cp == '_';
}

fv_status fv_tokenizer_encode(const fv_tokenizer *tok, const char *text, size_t length,
                              uint32_t flags, int32_t *ids, size_t capacity, size_t *count)
{
    if (count) *count = 0;
    if (!tok || (!text && length) || (!ids && capacity) || !count) return FV_STATUS_INVALID_ARGUMENT;
    const uint8_t *t = (const uint8_t *)text;
    /* offsets inside the text are 32-bit; SentencePiece's escaping triples spaces */
    if (length > UINT32_MAX / 4) return FV_STATUS_INVALID_ARGUMENT;
    if (length && fv_utf8_check(t, length) != length) return FV_STATUS_INVALID_ARGUMENT;
    encoder e = {.tok = tok, .ids = ids, .cap = capacity};
    if (flags & FV_TOKENIZE_ADD_SPECIAL)
        for (int i = 0; i < tok->nprefix; i++) emit(&e, tok->prefix[i]);
    size_t seg = 0, i = 0;
    while (i < length && !e.oom) {
        int32_t id = tok->added_first[t[i]] == tok->added_first[t[i] + 1] ? -1 : added_at(tok, t, i, length);
        if (id < 0) {
            i++;
            continue;
        }
        uint8_t attr = tok->attr[id];
        size_t end = i + tok->text_len[id];
        uint32_t cp;
        size_t cl;
        bool skip = (attr & TOK_ATTR_SPECIAL) && !(flags & FV_TOKENIZE_PARSE_SPECIAL);
        if (!skip && (attr & TOK_ATTR_SINGLE_WORD)) {
            int before = class_before(t, i, &cp, &cl);
            bool wb = before >= 0 && is_word_char(before, cp);
            int after = class_at(t, end, length, &cp, &cl);
            bool wa = after >= 0 && is_word_char(after, cp);
            skip = wb || wa;
        }
        if (skip) { /* left in the text, as Hugging Face does with a match it discards */
            i = end;
            continue;
        }
        size_t seg_end = i;
        if (attr & TOK_ATTR_LSTRIP)
            while (seg_end > seg && class_before(t, seg_end, &cp, &cl) == FV_UC_SPACE) seg_end -= cl;
        if (attr & TOK_ATTR_RSTRIP)
            while (class_at(t, end, length, &cp, &cl) == FV_UC_SPACE) end += cl;
        encode_segment(&e, t + seg, seg_end - seg);
        emit(&e, id);
        seg = i = end;
    }
    if (!e.oom) encode_segment(&e, t + seg, length - seg);
    if (flags & FV_TOKENIZE_ADD_SPECIAL)
        for (int k = 0; k < tok->nsuffix; k++) emit(&e, tok->suffix[k]);
    free(e.syms);
    free(e.heap);
    free(e.buf);
    tok_split_work_free(&e.split);
    *count = e.n;
    if (e.oom) return FV_STATUS_OUT_OF_HOST_MEMORY;
    return e.n > capacity ? FV_STATUS_INVALID_ARGUMENT : FV_STATUS_OK;
}

/* ---- decoding ----------------------------------------------------------- */

static bool valid_id(const fv_tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->n && (tok->attr[id] & TOK_ATTR_PRESENT);
}

/* The bytes token `id` contributes to the output, or NULL for none; drops
 * SentencePiece's leading space before the first text. */
static const uint8_t *piece_bytes(const fv_tokenizer *tok, int32_t id, uint32_t flags, bool started,
                                  size_t *len)
{
    *len = 0;
    if ((flags & FV_DETOKENIZE_SKIP_SPECIAL) && (tok->attr[id] & TOK_ATTR_SPECIAL)) return NULL;
    const uint8_t *b = (const uint8_t *)tok->arena + tok->bytes_off[id];
    size_t n = tok->bytes_len[id];
    if (!started && tok->kind == TOK_KIND_SPM && tok->spm_space_prefix && n > 0 && b[0] == ' ' &&
        !(tok->attr[id] & TOK_ATTR_ADDED)) {
        b++;
        n--;
    }
    *len = n;
    return b;
}

fv_status fv_tokenizer_decode(const fv_tokenizer *tok, const int32_t *ids, size_t count,
                              uint32_t flags, char *text, size_t capacity, size_t *length)
{
    if (length) *length = 0;
    if (!tok || (!ids && count) || (!text && capacity) || !length) return FV_STATUS_INVALID_ARGUMENT;
    fv_utf8_lossy st = {0};
    size_t len = 0;
    bool started = false;
    for (size_t i = 0; i < count; i++) {
        if (!valid_id(tok, ids[i])) return FV_STATUS_INVALID_ARGUMENT;
        size_t n;
        const uint8_t *b = piece_bytes(tok, ids[i], flags, started, &n);
        if (!b) continue;
        started = true;
        fv_utf8_lossy_feed(&st, b, n, (uint8_t *)text, capacity, &len);
    }
    fv_utf8_lossy_finish(&st, (uint8_t *)text, capacity, &len);
    *length = len;
    if (len < capacity) text[len] = 0;
    return len > capacity ? FV_STATUS_INVALID_ARGUMENT : FV_STATUS_OK;
}

fv_status fv_tokenizer_decode_piece(const fv_tokenizer *tok, fv_tokenizer_stream *stream,
                                    int32_t id, uint32_t flags, char *text, size_t capacity,
                                    size_t *length)
{
    if (length) *length = 0;
    if (!tok || !stream || (!text && capacity) || !length || !valid_id(tok, id) ||
        stream->pending_count > 3)
        return FV_STATUS_INVALID_ARGUMENT;
    fv_utf8_lossy st;
    memcpy(st.pending, stream->pending, sizeof st.pending);
    st.count = stream->pending_count;
    size_t n, len = 0;
    const uint8_t *b = piece_bytes(tok, id, flags, stream->started, &n);
    if (b) fv_utf8_lossy_feed(&st, b, n, (uint8_t *)text, capacity, &len);
    *length = len;
    if (len > capacity) return FV_STATUS_INVALID_ARGUMENT;
    if (len < capacity) text[len] = 0;
    memcpy(stream->pending, st.pending, sizeof st.pending);
    stream->pending_count = st.count;
    if (b) stream->started = 1;
    return FV_STATUS_OK;
}

fv_status fv_tokenizer_stream_flush(fv_tokenizer_stream *stream, char *text, size_t capacity,
                                    size_t *length)
{
    if (length) *length = 0;
    if (!stream || (!text && capacity) || !length) return FV_STATUS_INVALID_ARGUMENT;
    fv_utf8_lossy st = {.count = stream->pending_count > 3 ? 3 : stream->pending_count};
    memcpy(st.pending, stream->pending, sizeof st.pending);
    size_t len = 0;
    fv_utf8_lossy_finish(&st, (uint8_t *)text, capacity, &len);
    *length = len;
    if (len > capacity) return FV_STATUS_INVALID_ARGUMENT;
    if (len < capacity) text[len] = 0;
    memset(stream, 0, sizeof *stream);
    return FV_STATUS_OK;
}

size_t fv_tokenizer_max_piece(const fv_tokenizer *tok)
{
    /* every byte of the token and of the pending start may become U+FFFD */
    return tok ? 3 * (tok->max_bytes + 4) + 1 : 0;
}

/* ---- queries ------------------------------------------------------------ */

int32_t fv_tokenizer_vocab_size(const fv_tokenizer *tok)
{
    return tok ? tok->n : 0;
}

int32_t fv_tokenizer_token_id(const fv_tokenizer *tok, const char *text)
{
    return tok && text ? tok_lookup(tok, text, strlen(text)) : -1;
}

const char *fv_tokenizer_token_text(const fv_tokenizer *tok, int32_t id, size_t *length)
{
    if (!tok || !valid_id(tok, id)) return NULL;
    if (length) *length = tok->text_len[id];
    return tok->arena + tok->text_off[id];
}

const uint8_t *fv_tokenizer_token_bytes(const fv_tokenizer *tok, int32_t id, size_t *length)
{
    if (!tok || !valid_id(tok, id)) return NULL;
    if (length) *length = tok->bytes_len[id];
    return (const uint8_t *)tok->arena + tok->bytes_off[id];
}

bool fv_tokenizer_is_special(const fv_tokenizer *tok, int32_t id)
{
    return tok && valid_id(tok, id) && (tok->attr[id] & TOK_ATTR_SPECIAL);
}

int32_t fv_tokenizer_bos_id(const fv_tokenizer *tok)
{
    return tok ? tok->bos : -1;
}

int32_t fv_tokenizer_eos_id(const fv_tokenizer *tok)
{
    return tok ? tok->eos : -1;
}

int32_t fv_tokenizer_pad_id(const fv_tokenizer *tok)
{
    return tok ? tok->pad : -1;
}

const char *fv_tokenizer_unicode_version(void)
{
    return fv_uc_version;
}
