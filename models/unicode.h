/* Unicode for the tokenizer: UTF-8, the character classes the
 * pre-tokenizer regular expressions test (\p{L}, \p{N}, \s) and NFC.
 * The tables are generated (models/unicode_tables.c, by
 * scripts/gen_unicode_tables.py). Nothing here is public API. */
#ifndef FOVEA_MODELS_UNICODE_H
#define FOVEA_MODELS_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- generated tables ----------------------------------------------------- */
extern const char fv_uc_version[];
extern const uint32_t fv_uc_class[][2];      /* {first, last | class << 24} */
extern const size_t fv_uc_class_count;
extern const uint32_t fv_uc_ccc[][2];        /* {first, last | ccc << 24} */
extern const size_t fv_uc_ccc_count;
extern const uint32_t fv_uc_nfc_active[][2]; /* {first, last | 1 << 24} */
extern const size_t fv_uc_nfc_active_count;
extern const uint32_t fv_uc_decomp[][3];     /* {cp, first, second or 0} */
extern const size_t fv_uc_decomp_count;
extern const uint32_t fv_uc_comp[][3];       /* {first, second, composite} */
extern const size_t fv_uc_comp_count;

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Decodes one well-formed UTF-8 character at s[0..n): its length (1-4),
 * or 0 when the bytes there are not well-formed (overlong forms,
 * surrogates and values past U+10FFFF included). */
size_t fv_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Writes cp (a scalar value) as UTF-8; returns its length. */
size_t fv_utf8_encode(uint32_t cp, uint8_t out[4]);
/* Offset of the first byte that is not well-formed UTF-8, or n. */
size_t fv_utf8_check(const uint8_t *s, size_t n);

/* Lossy UTF-8 decoding, fed a byte at a time: complete characters pass
 * through, each maximal invalid subsequence becomes U+FFFD (the practice
 * Unicode recommends, which Python and Rust follow). The state is the
 * start of a character still waiting for its continuation bytes. */
typedef struct fv_utf8_lossy {
    uint8_t pending[4];
    uint8_t count;
} fv_utf8_lossy;

/* Feeds bytes; the valid text produced is appended to out[*len..cap)
 * (*len grows past cap when it does not fit, so the caller learns the size
 * needed). */
void fv_utf8_lossy_feed(fv_utf8_lossy *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                        size_t *len);
/* U+FFFD for a pending unfinished character; resets the state. */
void fv_utf8_lossy_finish(fv_utf8_lossy *st, uint8_t *out, size_t cap, size_t *len);

/* ---- classes ---------------------------------------------------------------- */

enum {
    FV_UC_OTHER = 0,
    FV_UC_LETTER = 1, /* \p{L} */
    FV_UC_NUMBER = 2, /* \p{N} */
    FV_UC_SPACE = 3,  /* \s: the White_Space property */
};

int fv_uc_class_of(uint32_t cp);

/* ---- NFC -------------------------------------------------------------------- */

/* True when s[0..n) (valid UTF-8) might change under NFC; false means it is
 * already normalised. */
bool fv_uc_nfc_maybe(const uint8_t *s, size_t n);
/* NFC of s[0..n) (valid UTF-8) into a malloc'd buffer *out of *out_n bytes:
 * full canonical decomposition (Hangul algorithmically), canonical
 * ordering by combining class, canonical composition. False when out of
 * memory. */
bool fv_uc_nfc(const uint8_t *s, size_t n, uint8_t **out, size_t *out_n);

#endif
