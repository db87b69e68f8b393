/* fovea — vision-language models end to end.
 *
 * A LLaVA-1.5-style pipeline, every stage on the device:
 *
 *   image ─► preprocess ─► vision encoder (hidden state `vision_feature_layer`)
 *         ─► visual-token compression (any method, any budget; none = all)
 *         ─► MLP projector ─► visual tokens spliced into the prompt at the
 *            image placeholder ─► prefill ─► decode (greedy, sampling, or
 *            speculative with the draft decoder)
 *
 * A model (fv_vlm) is loaded once from a LLaVA directory (config.json with
 * vision_config and text_config, model.safetensors, tokenizer.json,
 * preprocessor_config.json; optionally draft/ with a draft projector and
 * decoder) and is immutable: any number of sessions may share it. A session
 * (fv_vlm_session) owns the per-request state: encoders and compressors for
 * the configurations it has met (built once, then replayed), the decoder's
 * KV cache and the sampler. Each request chooses its own compression method,
 * budget and decoding.
 *
 * The prompt is built as the model's config says ("fovea.prompt_format" in
 * config.json, else LLaVA-1.5's "USER: <image>\n{question} ASSISTANT:"):
 * the text before and after the placeholder is tokenised separately and the
 * placeholder becomes one <image> id per visual token kept.
 *
 * Errors are reported through the model's context (fv_context_last_error).
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_VLM_H
#define FOVEA_VLM_H

#include "fovea/compress.h"
#include "fovea/fovea.h"
#include "fovea/lm.h"
#include "fovea/tokenizer.h"
#include "fovea/vision.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fv_vlm fv_vlm;
typedef struct fv_vlm_session fv_vlm_session;

/* Zero-initialised means: f32 matrices everywhere (the bundled weights are
 * stored in f16 and widened at load), the draft loaded when the directory
 * has one. */
typedef struct fv_vlm_load_desc {
    fv_dtype vision_dtype; /* F32 or F16 matrices in the encoder              */
    bool convert_text;     /* convert the decoders' matrices to text_dtype;
                              else they stay as stored (f16 for fovea-tiny)   */
    fv_dtype text_dtype;   /* with convert_text: F32, F16, Q8_0 or Q4_0       */
    bool no_draft;         /* skip draft/ even where present                  */
    int progress;          /* as fv_weights_desc.progress                      */
} fv_vlm_load_desc;

/* `dir` is a LLaVA directory. desc may be NULL. The caller owns *out. */
FV_API fv_status fv_vlm_load(fv_context *ctx, const char *dir, const fv_vlm_load_desc *desc, fv_vlm **out);
FV_API void fv_vlm_destroy(fv_vlm *m);

typedef struct fv_vlm_info {
    int image_size;       /* the encoder's input size (square)                */
    int visual_tokens;    /* per image before compression ([CLS] included
                             where the feature strategy keeps it)             */
    int grid;             /* patches across (and down)                        */
    bool has_cls;         /* the visual tokens start with [CLS]               */
    int feature_layer;    /* the encoder hidden state the projector reads     */
    int vocab_size;
    bool has_draft;
} fv_vlm_info;
FV_API fv_status fv_vlm_get_info(const fv_vlm *m, fv_vlm_info *out);
FV_API const fv_tokenizer *fv_vlm_tokenizer(const fv_vlm *m);
FV_API fv_context *fv_vlm_context(const fv_vlm *m);

/* One streamed piece of the answer: the UTF-8 text the new token completes
 * (possibly empty while a multi-byte character is incomplete). Return
 * false to stop generating. */
typedef bool (*fv_vlm_token_fn)(void *user, int32_t token, const char *text, size_t length);

/* Zero-initialised means: no compression, greedy decoding, up to 64 new
 * tokens, stop at the model's end-of-sequence id, no streaming. */
typedef struct fv_vlm_request {
    const char *image_path;  /* an image file, or NULL with `pixels`          */
    const float *pixels;     /* preprocessed CHW floats at the model's size   */
    const char *prompt;      /* the question (the user's turn)                */
    fv_compress_desc compress; /* method FV_COMPRESS_NONE = every visual token */
    fv_lm_sampler sample;    /* zero: greedy                                   */
    int max_new_tokens;      /* 0 = 64                                          */
    bool speculative;        /* draft proposes, target verifies (greedy only;
                                the model must have a draft)                  */
    int draft_tokens;        /* k proposed per step; 0 = 4                      */
    fv_vlm_token_fn on_token;
    void *user;
} fv_vlm_request;

/* Milliseconds per stage of the last request (wall time on the host around
 * each stage, the device work included), and what was produced. */
typedef struct fv_vlm_timings {
    double preprocess_ms;  /* decode the image file and normalise it          */
    double encode_ms;      /* vision encoder replay                            */
    double compress_ms;    /* compression replay (0 without)                   */
    double project_ms;     /* projector replay                                 */
    double prefill_ms;     /* the prompt through the decoder, first token out  */
    double first_token_ms; /* from the request's start to the first new token  */
    double decode_ms;      /* every token after the first                      */
    double decode_tokens_per_s;
    int prompt_tokens;     /* text + visual                                    */
    int visual_tokens;     /* after compression                                */
    int new_tokens;
    int draft_proposed;    /* speculative: tokens the draft proposed           */
    int draft_accepted;    /*              and how many the target kept         */
} fv_vlm_timings;

typedef struct fv_vlm_session_desc {
    int max_context;       /* KV-cache capacity in tokens; 0 = the model's maximum */
} fv_vlm_session_desc;

FV_API fv_status fv_vlm_session_create(fv_vlm *m, const fv_vlm_session_desc *desc, fv_vlm_session **out);
FV_API void fv_vlm_session_destroy(fv_vlm_session *s);

/* Runs one request. The answer (UTF-8, special tokens removed, surrounding
 * whitespace stripped) is written to `answer` (NUL-terminated, truncated to
 * `capacity`); timings may be NULL. The session is reset at the start of
 * every request (single-turn). */
FV_API fv_status fv_vlm_session_run(fv_vlm_session *s, const fv_vlm_request *req, char *answer, size_t capacity,
                                    fv_vlm_timings *timings);

/* The original token indices (0-based over the encoder's visual tokens) of
 * the visual tokens the last request kept, in the order they were fed to the
 * decoder: up to `capacity` written, the count returned (negative on
 * error). visionzip's contextual tokens report their target token; fourier
 * and tome, whose tokens are not encoder tokens, report none (0). */
FV_API int fv_vlm_session_kept(const fv_vlm_session *s, int32_t *indices, int capacity);

#ifdef __cplusplus
}
#endif
#endif
