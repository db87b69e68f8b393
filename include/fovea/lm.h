/* fovea — language models (Llama-family decoders).
 *
 * The decoder blocks of Llama 2/3, Qwen2 and SmolLM2: RMSNorm, rotary
 * position embeddings (θ from the configuration), grouped-query attention
 * (Qwen2's q/k/v biases where the file has them), a SwiGLU MLP, and tied or
 * untied input/output embeddings. Layouts read:
 *
 *   HF causal LM   a LlamaForCausalLM / Qwen2ForCausalLM directory
 *                  (config.json + safetensors; model.* and lm_head names).
 *                  RoPE rotates halves (pairs i, i + d/2).
 *   LLaVA          the text part of a LlavaForConditionalGeneration
 *                  directory (text_config; language_model.model.* and
 *                  language_model.lm_head names), as fovea-tiny is stored.
 *   GGUF           general.architecture "llama" or "qwen2" (llama.* /
 *                  qwen2.* metadata, token_embd / blk.N.attn_q / ... /
 *                  output names). llama.cpp's converter permutes the q and
 *                  k rows of llama models so that RoPE rotates interleaved
 *                  pairs (2i, 2i + 1); qwen2 files keep rotate-half. fovea
 *                  uses the layout the file's architecture implies.
 *
 * Weights: matrices in f32, f16, q8_0 or q4_0, kept as the file stores
 * them or converted at load; norms and biases f32. The token-embedding
 * table is f16 when the matrices are f16, otherwise f32 (a quantised table
 * is dequantised at load; the output projection of a tied model is then a
 * second copy in the quantised type).
 *
 * A model is immutable and shareable. A session holds what one generation
 * needs: the KV cache in device memory (f32 [1, context, kv_heads,
 * head_dim] per layer for keys and for values), the sampler, and its
 * recorded graphs:
 *   - prefill: one batched forward over the new tokens, recorded once per
 *     length bucket (the length rounded up to a multiple of 16); the live
 *     length and the start position are graph parameters, padding rows are
 *     computed but never read. Longer prompts run in 512-token chunks, but
 *     a prompt with input embeddings runs as one forward. Its embeddings are
 *     first copied into a session-owned tensor (a one-node graph made for
 *     the call, as the caller's tensor may be any graph's output), so its
 *     forward graph is cached per bucket too;
 *   - decode: one recorded graph for one token, replayed per token with the
 *     position in the parameter buffer;
 *   - verification (speculative decoding): one graph over k + 1 tokens.
 * Every forward ends in fv_op_sample on the device: only the chosen token
 * id returns to the host (the logits are read only when asked for).
 *
 * Errors are reported through the model's context (fv_context_last_error).
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_LM_H
#define FOVEA_LM_H

#include "fovea/fovea.h"
#include "fovea/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- models ------------------------------------------------------------- */

typedef struct fv_lm_model fv_lm_model;

typedef enum fv_lm_arch {
    FV_LM_ARCH_LLAMA = 0, /* Llama 2/3, SmolLM2, fovea-tiny's decoder */
    FV_LM_ARCH_QWEN2,     /* Llama blocks with q/k/v biases */
} fv_lm_arch;

/* Zero-initialised means: matrices as the file stores them (bf16 and f64
 * become f32), a progress bar on a terminal for large files. */
typedef struct fv_lm_load_desc {
    bool convert;          /* convert every matrix to weight_dtype         */
    fv_dtype weight_dtype; /* with convert: F32, F16, Q8_0 or Q4_0         */
    int progress;          /* as fv_weights_desc.progress                   */
} fv_lm_load_desc;

/* `path` is a directory (config.json + safetensors) or a .gguf file; desc
 * may be NULL. An unknown architecture, a missing or misshaped tensor, an
 * unsupported configuration (rope scaling, sliding windows) or dtype is
 * FV_STATUS_INVALID_ARGUMENT naming it. The caller owns *out. */
FV_API fv_status fv_lm_model_load(fv_context *ctx, const char *path, const fv_lm_load_desc *desc,
                                  fv_lm_model **out);
FV_API void fv_lm_model_destroy(fv_lm_model *m);

/* The shape of a model made without files, for benchmarks and tests. */
typedef struct fv_lm_config {
    fv_lm_arch arch;       /* QWEN2 adds q/k/v biases                       */
    int hidden_size;
    int intermediate_size;
    int layers;
    int heads;
    int kv_heads;          /* 0 = heads                                     */
    int head_dim;          /* 0 = hidden_size / heads                       */
    int vocab_size;
    float rope_theta;      /* 0 = 10000                                     */
    float rms_eps;         /* 0 = 1e-5                                      */
    bool tied_embeddings;
    int max_positions;     /* 0 = 4096                                      */
} fv_lm_config;

/* A model of that shape with random weights (uniform, scaled by 1/sqrt of
 * the fan-in; embeddings of unit scale; norms near 1), reproducible from
 * `seed`. desc->weight_dtype is the matrices' dtype (f32 unless convert). */
FV_API fv_status fv_lm_model_create_random(fv_context *ctx, const fv_lm_config *cfg, const fv_lm_load_desc *desc,
                                           uint64_t seed, fv_lm_model **out);

typedef struct fv_lm_model_info {
    fv_lm_arch arch;
    const char *layout;    /* "hf", "llava", "gguf", "random"                */
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int layers;
    int heads;
    int kv_heads;
    int head_dim;
    int max_positions;     /* max_position_embeddings / context_length      */
    float rope_theta;
    float rms_eps;
    fv_rope_layout rope_layout;
    bool tied_embeddings;
    bool attention_bias;   /* q/k/v biases                                   */
    int bos_id, eos_id;    /* -1 where the file does not say                */
    int image_token_id;    /* LLaVA's image_token_index; -1 elsewhere       */
    fv_dtype weight_dtype; /* of the matrices                               */
    fv_dtype embedding_dtype;
    uint64_t weight_bytes; /* device memory of all weights                   */
} fv_lm_model_info;

FV_API fv_status fv_lm_model_get_info(const fv_lm_model *m, fv_lm_model_info *out);
FV_API fv_context *fv_lm_model_context(const fv_lm_model *m);

/* ---- sessions ----------------------------------------------------------- */

typedef struct fv_lm_session fv_lm_session;

/* Sampling as fv_op_sample does it. Zero-initialised means greedy. */
typedef struct fv_lm_sampler {
    float temperature;        /* <= 0: greedy                                 */
    int top_k;                /* 0..256; 0 = 256                              */
    float top_p;              /* 0 or >= 1: off                               */
    float repetition_penalty; /* 0 or 1: off; over every token in the session */
    uint64_t seed;            /* draw i uses counter (position of the token)  */
} fv_lm_sampler;

/* Zero-initialised means: a context of min(model's max positions, 2048)
 * tokens, greedy sampling, the model's image token id. */
typedef struct fv_lm_session_desc {
    int context_length;       /* KV-cache capacity in tokens                  */
    fv_lm_sampler sampler;
    int image_token_id;       /* rows of this id take input embeddings; 0 = the
                                 model's, -1 = none                          */
} fv_lm_session_desc;

/* desc may be NULL. The model must outlive the session. */
FV_API fv_status fv_lm_session_create(const fv_lm_model *m, const fv_lm_session_desc *desc, fv_lm_session **out);
FV_API void fv_lm_session_destroy(fv_lm_session *s);

/* A new sampler; recorded graphs that sample are rebuilt on next use. */
FV_API fv_status fv_lm_session_set_sampler(fv_lm_session *s, const fv_lm_sampler *sampler);
/* Tokens in the KV cache. */
FV_API int fv_lm_session_length(const fv_lm_session *s);
/* Keeps the first `length` tokens (0 = empty): a rollback is a new length,
 * nothing is cleared. length must not exceed the current one. */
FV_API fv_status fv_lm_session_rewind(fv_lm_session *s, int length);

/* A prompt: token ids, and optionally input embeddings, an f32 device
 * tensor [m, hidden] (or [1, m, hidden]) whose rows replace, in order, the
 * rows whose id is the session's image token id (LLaVA's rule): the number
 * of such ids must be m. */
typedef struct fv_lm_prompt {
    const int32_t *ids;
    int n;
    const fv_tensor *embeds;  /* NULL: ids only */
} fv_lm_prompt;

/* Appends the prompt's tokens to the session (one batched forward, at the
 * session's current length) and samples the token that follows into *next
 * (may be NULL). */
FV_API fv_status fv_lm_prefill(fv_lm_session *s, const fv_lm_prompt *prompt, int32_t *next);
/* Appends one token and samples the next. */
FV_API fv_status fv_lm_decode(fv_lm_session *s, int32_t token, int32_t *next);
/* The logits of the last position the last prefill / decode computed:
 * exactly vocab_size floats. */
FV_API fv_status fv_lm_session_logits(const fv_lm_session *s, float *dst, size_t count);

/* ---- generation --------------------------------------------------------- */

#define FV_LM_MAX_STOP_IDS 8

/* Called with each new token as it is chosen; return false to stop. */
typedef bool (*fv_lm_token_fn)(int32_t token, void *user_data);

/* Zero-initialised means: up to 64 new tokens, stop at the model's eos. */
typedef struct fv_lm_generate_desc {
    int max_new_tokens;       /* 0 = 64                                        */
    int32_t stop_ids[FV_LM_MAX_STOP_IDS];
    int n_stop_ids;           /* 0: the model's eos (if it has one)            */
    fv_lm_token_fn on_token;  /* may be NULL                                   */
    void *user_data;
    int draft_tokens;         /* speculative decoding: k tokens per round; 0 = 4 */
} fv_lm_generate_desc;

/* Prefills the prompt at the session's current length and decodes until a
 * stop id (written, and counted) or max_new_tokens. Writes up to
 * `capacity` new tokens to out (may be NULL) and their number to *count. */
FV_API fv_status fv_lm_generate(fv_lm_session *s, const fv_lm_prompt *prompt, const fv_lm_generate_desc *desc,
                                int32_t *out, int capacity, int *count);

/* The same output as fv_lm_generate with greedy sampling, through
 * speculative decoding: `draft` (a session of a smaller model with the same
 * vocabulary) proposes desc->draft_tokens tokens greedily, the target
 * verifies them in one batched forward over k + 1 positions, and the
 * longest prefix that agrees with the target's own greedy choices is kept,
 * plus the target's token after it. Both caches roll back (their lengths)
 * past a rejection. Both sessions must be greedy and at the same length.
 * (The batched verification rounds differently from one-token decoding, so
 * where the best two logits lie within float rounding of each other the
 * choice can differ; the tests check that outputs are identical.)
 * draft_embeds: the draft's input embeddings for the prompt's image rows
 * (NULL when the prompt has none). */
FV_API fv_status fv_lm_generate_speculative(fv_lm_session *target, fv_lm_session *draft,
                                            const fv_lm_prompt *prompt, const fv_tensor *draft_embeds,
                                            const fv_lm_generate_desc *desc, int32_t *out, int capacity,
                                            int *count);

/* Of the session's last generate (or, for prefill_ms and decode_ms, the
 * last prefill / decode calls). Milliseconds of host wall time. */
typedef struct fv_lm_timings {
    double build_ms;          /* building + recording graphs, all so far (a
                                 one-off per graph; not in the times below) */
    int prompt_tokens;
    double prefill_ms;        /* the prompt's forward(s), to the first token  */
    double first_token_ms;    /* from generate's start to the first new token */
    int new_tokens;
    double decode_ms;         /* everything after the first new token        */
    double prefill_tokens_per_s;
    double decode_tokens_per_s; /* (new_tokens - 1) / decode_ms              */
    /* speculative decoding (zero otherwise) */
    int rounds;               /* draft + verify rounds                        */
    int drafted;              /* tokens proposed                              */
    int accepted;             /* of those, tokens the target agreed with      */
    double acceptance_rate;   /* accepted / drafted                           */
    double draft_ms, verify_ms;
} fv_lm_timings;
FV_API fv_status fv_lm_session_timings(const fv_lm_session *s, fv_lm_timings *out);

#ifdef __cplusplus
}
#endif
#endif
