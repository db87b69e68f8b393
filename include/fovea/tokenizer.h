/* fovea — tokenizers.
 *
 * Text to token ids and back, on the host, for the language models fovea
 * runs. Two families:
 *
 *   byte-level BPE  GPT-2, Llama 3, Qwen2/Qwen3, SmolLM2: the UTF-8 bytes of
 *                   each pre-tokenized piece are merged by rank. Loaded from
 *                   a Hugging Face tokenizer.json, from GPT-2's encoder.json
 *                   + vocab.bpe, or from GGUF metadata (model "gpt2").
 *   SentencePiece   Llama 2 style BPE (GGUF model "llama"): spaces become
 *                   U+2581, pieces merge by score, characters outside the
 *                   vocabulary fall back to <0xXX> byte tokens.
 *
 * What a tokenizer.json may contain (anything else fails the load with
 * FV_STATUS_UNSUPPORTED and a message naming it):
 *   model          BPE (merges as "a b" strings or [a, b] pairs), with
 *                  byte_fallback, ignore_merges and unk_token honoured
 *   normalizer     none or NFC (full canonical decomposition, canonical
 *                  ordering and composition, from generated Unicode tables)
 *   pre_tokenizer  ByteLevel (with or without its GPT-2 regex), or a
 *                  Sequence of Split (the regex of GPT-2, Llama 3 or Qwen2,
 *                  recognised by its exact text, behaviour Isolated),
 *                  Digits and a final ByteLevel
 *   decoder        ByteLevel
 *   post_processor none, ByteLevel, TemplateProcessing (special tokens
 *                  around the single sequence) or a Sequence of these
 *   added_tokens   matched in the raw text, longest first, before
 *                  normalisation, also those marked "normalized" (lstrip,
 *                  rstrip and single_word honoured; single_word counts
 *                  letters, numbers and '_' as word characters)
 * GGUF metadata names no normaliser, so none is applied to GGUF
 * tokenizers (as llama.cpp does).
 * The pre-tokenizer regular expressions are implemented by hand with
 * Unicode tables generated from Python's unicodedata (the version is
 * fv_tokenizer_unicode_version()); code points assigned after that
 * version count as "other".
 *
 * A tokenizer is immutable once loaded: any number of threads may encode
 * and decode with it at once.
 *
 * Errors: loaders write the reason into `error`/`error_size` (either may be
 * NULL/0). Encode and decode only fail on bad arguments, which their
 * statuses describe.
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_TOKENIZER_H
#define FOVEA_TOKENIZER_H

#include "fovea/fovea.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fv_tokenizer fv_tokenizer;
typedef struct fv_gguf fv_gguf; /* fovea/model.h */

/* ---- loading ------------------------------------------------------------- */

/* `path` is a tokenizer.json, a directory holding one, or a .gguf file.
 * For a tokenizer.json, a tokenizer_config.json beside it supplies the
 * bos/eos/pad tokens. The caller owns *out. */
FV_API fv_status fv_tokenizer_load(const char *path, fv_tokenizer **out, char *error,
                                   size_t error_size);

/* A Hugging Face tokenizer.json (and tokenizer_config.json beside it, when
 * present). */
FV_API fv_status fv_tokenizer_load_hf(const char *tokenizer_json_path, fv_tokenizer **out,
                                      char *error, size_t error_size);
/* The same from the text of a tokenizer.json (and, optionally, of a
 * tokenizer_config.json; NULL when there is none). */
FV_API fv_status fv_tokenizer_parse_hf(const char *json, size_t json_length,
                                       const char *config_json, size_t config_length,
                                       fv_tokenizer **out, char *error, size_t error_size);

/* GPT-2 as OpenAI published it: encoder.json (token → id) and vocab.bpe
 * (the merges). <|endoftext|> is the special bos/eos token. */
FV_API fv_status fv_tokenizer_load_gpt2(const char *encoder_json_path, const char *vocab_bpe_path,
                                        fv_tokenizer **out, char *error, size_t error_size);

/* The tokenizer.ggml.* metadata of a GGUF file, as plain arrays (the caller
 * keeps them alive during the call only). Zero-initialised fields mean
 * "absent". */
typedef struct fv_tokenizer_gguf_kv {
    const char *model;            /* tokenizer.ggml.model: "gpt2" or "llama" */
    const char *pre;              /* tokenizer.ggml.pre (gpt2 only): "gpt-2", "llama-bpe",
                                     "qwen2", "smollm", ...; NULL = absent */
    size_t n_tokens;
    const char *const *tokens;    /* tokenizer.ggml.tokens */
    const size_t *token_lengths;  /* NULL: the tokens are NUL-terminated */
    const float *scores;          /* tokenizer.ggml.scores; NULL = absent */
    const int32_t *token_types;   /* tokenizer.ggml.token_type; NULL = all normal */
    size_t n_merges;
    const char *const *merges;    /* tokenizer.ggml.merges, "a b" (gpt2) */
    const size_t *merge_lengths;  /* NULL: NUL-terminated */
    bool has_bos, has_eos, has_unk, has_pad;
    int32_t bos_id, eos_id, unk_id, pad_id;
    int add_bos;                  /* tokenizer.ggml.add_bos_token: 1 yes, -1 no, 0 absent */
    int add_eos;                  /* tokenizer.ggml.add_eos_token: likewise */
    int add_space_prefix;         /* tokenizer.ggml.add_space_prefix: likewise ("llama":
                                     absent means yes) */
} fv_tokenizer_gguf_kv;

/* GGUF token types (tokenizer.ggml.token_type), as llama.cpp writes them. */
enum {
    FV_GGUF_TOKEN_NORMAL = 1,
    FV_GGUF_TOKEN_UNKNOWN = 2,
    FV_GGUF_TOKEN_CONTROL = 3,      /* special: matched only with FV_TOKENIZE_PARSE_SPECIAL */
    FV_GGUF_TOKEN_USER_DEFINED = 4, /* added: always matched in the text */
    FV_GGUF_TOKEN_UNUSED = 5,
    FV_GGUF_TOKEN_BYTE = 6,         /* <0xXX> */
};

FV_API fv_status fv_tokenizer_load_gguf_kv(const fv_tokenizer_gguf_kv *kv, fv_tokenizer **out,
                                           char *error, size_t error_size);
/* Reads the tokenizer.ggml.* keys of an open GGUF file (fovea/model.h) and
 * calls fv_tokenizer_load_gguf_kv. */
FV_API fv_status fv_tokenizer_load_gguf(const fv_gguf *gguf, fv_tokenizer **out, char *error,
                                        size_t error_size);

/* Accepts NULL. */
FV_API void fv_tokenizer_destroy(fv_tokenizer *tok);

/* ---- encoding ------------------------------------------------------------ */

enum {
    /* Special-token text ("<|im_start|>") becomes the special token. Without
     * it such text is tokenized as ordinary text; added tokens that are not
     * special are always matched, as Hugging Face and llama.cpp do. */
    FV_TOKENIZE_PARSE_SPECIAL = 1u << 0,
    /* Adds the tokens the tokenizer puts around a sequence: the
     * TemplateProcessing of a tokenizer.json, or bos/eos as GGUF's
     * add_bos_token / add_eos_token say. */
    FV_TOKENIZE_ADD_SPECIAL = 1u << 1,
};

/* Encodes `length` bytes (below 1 GiB) of UTF-8 text. Writes up to
 * `capacity` ids and the number the text needs to *count.
 * FV_STATUS_INVALID_ARGUMENT when the text is not valid UTF-8 or the ids
 * did not fit (then *count says how many are needed: call again with that
 * capacity). */
FV_API fv_status fv_tokenizer_encode(const fv_tokenizer *tok, const char *text, size_t length,
                                     uint32_t flags, int32_t *ids, size_t capacity, size_t *count);

/* ---- decoding ------------------------------------------------------------ */

enum {
    FV_DETOKENIZE_SKIP_SPECIAL = 1u << 0, /* leave out special (control) tokens */
};

/* Decodes ids into UTF-8. Bytes that do not form valid UTF-8 across the
 * whole sequence become U+FFFD, one per maximal invalid subsequence (as
 * Python's and Rust's lossy decoders do). Writes up to `capacity` bytes,
 * NUL-terminated when there is room, and the length the text needs (without
 * the NUL) to *length. FV_STATUS_INVALID_ARGUMENT for an id out of range or
 * when the text did not fit. */
FV_API fv_status fv_tokenizer_decode(const fv_tokenizer *tok, const int32_t *ids, size_t count,
                                     uint32_t flags, char *text, size_t capacity, size_t *length);

/* Streaming decode, one token at a time, for printing as tokens arrive. A
 * token may end inside a UTF-8 character; the stream keeps those bytes
 * until the character is complete, so every piece written is valid UTF-8
 * and the concatenation equals fv_tokenizer_decode of all the ids.
 * Zero-initialise a stream to start. */
typedef struct fv_tokenizer_stream {
    uint8_t pending[4];    /* the start of an unfinished UTF-8 character */
    uint8_t pending_count;
    uint8_t started;       /* a token has been decoded */
} fv_tokenizer_stream;

/* Writes the text `id` completes. `capacity` of fv_tokenizer_max_piece()
 * bytes always suffices; with less, FV_STATUS_INVALID_ARGUMENT, *length the
 * size needed and the stream unchanged. */
FV_API fv_status fv_tokenizer_decode_piece(const fv_tokenizer *tok, fv_tokenizer_stream *stream,
                                           int32_t id, uint32_t flags, char *text,
                                           size_t capacity, size_t *length);
/* Ends a stream: U+FFFD when it holds an unfinished character. `capacity`
 * of 3 suffices. The stream is reset. */
FV_API fv_status fv_tokenizer_stream_flush(fv_tokenizer_stream *stream, char *text,
                                           size_t capacity, size_t *length);
/* Bytes fv_tokenizer_decode_piece may need for any token. */
FV_API size_t fv_tokenizer_max_piece(const fv_tokenizer *tok);

/* ---- vocabulary ----------------------------------------------------------- */

/* Ids run from 0 to vocab_size - 1, added tokens included. */
FV_API int32_t fv_tokenizer_vocab_size(const fv_tokenizer *tok);
/* The id of a token as the vocabulary writes it ("<|image_pad|>", "Ġthe",
 * "▁the"), or -1. */
FV_API int32_t fv_tokenizer_token_id(const fv_tokenizer *tok, const char *text);
/* The token as the vocabulary writes it, NUL-terminated; NULL out of range.
 * *length (when not NULL) gets its length. Owned by tok. */
FV_API const char *fv_tokenizer_token_text(const fv_tokenizer *tok, int32_t id, size_t *length);
/* The bytes the token decodes to (possibly part of a UTF-8 character);
 * NULL out of range. Owned by tok. */
FV_API const uint8_t *fv_tokenizer_token_bytes(const fv_tokenizer *tok, int32_t id,
                                               size_t *length);
FV_API bool fv_tokenizer_is_special(const fv_tokenizer *tok, int32_t id);
/* -1 where the tokenizer defines none. */
FV_API int32_t fv_tokenizer_bos_id(const fv_tokenizer *tok);
FV_API int32_t fv_tokenizer_eos_id(const fv_tokenizer *tok);
FV_API int32_t fv_tokenizer_pad_id(const fv_tokenizer *tok);
/* "14.0.0": the Unicode version of the tables behind the pre-tokenizers
 * and NFC. */
FV_API const char *fv_tokenizer_unicode_version(void);

#ifdef __cplusplus
}
#endif
#endif
