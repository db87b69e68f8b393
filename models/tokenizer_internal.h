/* The tokenizer's insides, shared by its three files:
 *   tokenizer.c        vocabulary tables, encode (BPE / SentencePiece merge
 *                      loops), decode, queries
 *   tokenizer_split.c  the pre-tokenizers: GPT-2 / Llama 3 / Qwen2 regular
 *                      expressions and digit splitting, written out by hand
 *   tokenizer_load.c   tokenizer.json, GPT-2's files, GGUF metadata
 * Nothing here is public API. */
#ifndef FOVEA_MODELS_TOKENIZER_INTERNAL_H
#define FOVEA_MODELS_TOKENIZER_INTERNAL_H

#include "fovea/tokenizer.h"
#include "load_internal.h"
#include "unicode.h"

/* How pieces are merged. */
typedef enum tok_kind {
    TOK_KIND_BPE = 0, /* byte-level BPE: byte symbols, merges by rank */
    TOK_KIND_SPM,     /* SentencePiece BPE: character symbols, merges by score */
} tok_kind;

/* Pre-tokenizer steps, applied in order; each splits every piece further. */
typedef enum tok_step {
    TOK_STEP_GPT2 = 0,    /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    TOK_STEP_LLAMA3,      /* (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|... */
    TOK_STEP_QWEN2,       /* the same with \p{N} alone */
    TOK_STEP_DIGITS,      /* every \p{N} character alone (Digits, individual_digits) */
    TOK_STEP_DIGIT_RUNS,  /* runs of \p{N} apart from the rest (Digits) */
    TOK_STEP_PREFIX_SPACE,/* a space before each piece that lacks one (ByteLevel add_prefix_space) */
} tok_step;

#define TOK_MAX_STEPS 8
#define TOK_MAX_TEMPLATE 8

/* Per-token attributes. */
enum {
    TOK_ATTR_PRESENT = 1u << 0,     /* the id has a token (vocabularies may have holes) */
    TOK_ATTR_ADDED = 1u << 1,       /* matched whole in the raw text */
    TOK_ATTR_SPECIAL = 1u << 2,     /* added and special (control) */
    TOK_ATTR_LSTRIP = 1u << 3,      /* swallows white space before it */
    TOK_ATTR_RSTRIP = 1u << 4,      /* swallows white space after it */
    TOK_ATTR_SINGLE_WORD = 1u << 5, /* only between non-word characters */
    TOK_ATTR_RAW = 1u << 6,         /* decodes to its text as written */
    TOK_ATTR_BYTE = 1u << 7,        /* SentencePiece <0xXX> byte token */
};

/* Open-addressing hash (linear probing) from token text to id. A slot
 * holds the first bytes of its text, so a probe usually settles inside
 * the one cache line it loads: loading Qwen's 151k merges does three
 * lookups each, and a lookup that chased each candidate's text through
 * the arena was most of the load time. */
#define TOK_SLOT_TEXT 11
typedef struct tok_slot {
    uint32_t id1;                /* id + 1; 0 = empty */
    uint8_t len;                 /* text length, 255 for 255 and longer */
    char text[TOK_SLOT_TEXT];    /* its first bytes; the rest are in the arena */
} tok_slot;

typedef struct tok_strmap {
    tok_slot *slots;
    uint32_t mask;
} tok_strmap;

/* Open-addressing hash from a pair of token ids to the merge's rank and the
 * merged token's id. */
typedef struct tok_pair_slot {
    uint64_t key;   /* (left << 32 | right) + 1; 0 = empty */
    uint32_t rank;
    int32_t merged;
} tok_pair_slot;

typedef struct tok_pairmap {
    tok_pair_slot *slots;
    uint32_t mask;
    size_t count;
} tok_pairmap;

struct fv_tokenizer {
    tok_kind kind;
    bool nfc;              /* normalise segments to NFC first */
    bool byte_fallback;    /* characters outside the vocabulary become <0xXX> */
    bool ignore_merges;    /* a whole piece in the vocabulary is one token */
    bool spm_space_prefix; /* SentencePiece: U+2581 at the start of the text */
    tok_step steps[TOK_MAX_STEPS];
    int nsteps;

    int32_t n;             /* vocabulary size (ids 0 .. n-1) */
    uint32_t *text_off, *text_len;   /* the token as written, in `arena` */
    uint32_t *bytes_off, *bytes_len; /* what it decodes to, in `arena` */
    uint8_t *attr;
    float *score;          /* SentencePiece scores (NULL for BPE) */
    char *arena;
    size_t arena_size, arena_cap;

    tok_strmap vocab;      /* token text → id, added tokens included */
    tok_pairmap merges;

    /* Added tokens by first byte, longest first within a byte: the ids of
     * byte b are added[added_first[b] .. added_first[b + 1]). */
    int32_t *added;
    uint32_t added_first[257];

    int32_t byte_id[256];  /* BPE: the token of each byte alone; SPM: <0xXX> (-1 absent) */
    int32_t bos, eos, pad, unk;
    int32_t prefix[TOK_MAX_TEMPLATE], suffix[TOK_MAX_TEMPLATE];
    int nprefix, nsuffix;  /* what FV_TOKENIZE_ADD_SPECIAL puts around the ids */
    size_t max_bytes;      /* longest decoded token */
};

/* ---- building (tokenizer.c) -------------------------------------------------- */

/* A tokenizer with ids 0 .. n-1, all absent, and no steps. */
fv_status tok_create(int32_t n, tok_kind kind, fv_tokenizer **out, char *error, size_t error_size);
/* Sets the text of id (copied into the arena). False when out of memory. */
bool tok_set_text(fv_tokenizer *tok, int32_t id, const char *text, size_t len);
/* Builds the text → id map over every present token. Tokens with the
 * same text: the higher attribute (added) or the later id wins. */
fv_status tok_index_vocab(fv_tokenizer *tok, char *error, size_t error_size);
/* Makes a present token an added one with attributes `attr` and puts it
 * in the map (overriding any token of the same text). */
fv_status tok_add_token(fv_tokenizer *tok, int32_t id, const char *text, size_t len, uint8_t attr,
                        char *error, size_t error_size);
int32_t tok_lookup(const fv_tokenizer *tok, const char *text, size_t len);
/* A hint that a, b and a + b will be looked up soon (loaders call it some
 * merges ahead). */
void tok_prefetch(const fv_tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen);
/* The same for the merge table slot of a + b (their own slots should be
 * cached by now). */
void tok_prefetch_merge(const fv_tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen);
/* Reserves the merge table for n merges. */
bool tok_merges_reserve(fv_tokenizer *tok, size_t n);
/* Adds merge `rank` of the tokens written a and b; their concatenation must
 * be a token too. */
fv_status tok_add_merge(fv_tokenizer *tok, uint32_t rank, const char *a, size_t alen,
                        const char *b, size_t blen, char *error, size_t error_size);
/* After everything above: decoded bytes, byte tokens, the added-token
 * index. */
fv_status tok_finish(fv_tokenizer *tok, char *error, size_t error_size);

/* The GPT-2 byte ↔ character map: bytes that are printable stay themselves,
 * the rest become U+0100 onwards, so every byte is a visible character. */
uint32_t tok_byte_to_char(uint8_t b);
int tok_char_to_byte(uint32_t cp); /* -1 when cp is not in the map */

/* ---- pre-tokenizing (tokenizer_split.c) ------------------------------------ */

typedef struct tok_piece {
    uint32_t start, end; /* byte offsets */
} tok_piece;

/* Growable work areas, reused across the segments of one encode call. */
typedef struct tok_split_work {
    uint8_t *text;        /* the text after PREFIX_SPACE steps */
    size_t text_cap;
    uint32_t *cp;         /* code points, their classes and byte offsets */
    uint8_t *cls;
    uint32_t *off;
    size_t cp_cap;
    tok_piece *a, *b;     /* pieces (in code point indices while splitting) */
    size_t a_cap, b_cap;
} tok_split_work;

/* Splits text[0..n) (valid UTF-8) by the tokenizer's steps. *pieces (byte
 * offsets into *out_text, which is `text` or a work copy) and *npieces are
 * valid until the next call. False when out of memory. */
bool tok_pretokenize(const fv_tokenizer *tok, tok_split_work *w, const uint8_t *text, size_t n,
                     const uint8_t **out_text, const tok_piece **pieces, size_t *npieces);
void tok_split_work_free(tok_split_work *w);

/* Grows *p (elements of `size` bytes, *cap of them) to hold `need`. */
bool tok_grow(void **p, size_t *cap, size_t need, size_t size);

#endif
