/* fovea — vision encoders.
 *
 * A ViT image encoder in the layouts fovea reads:
 *
 *   HF CLIP vision   CLIPVisionModel / CLIPModel directories (safetensors +
 *                    config.json): [CLS] + learned position embeddings,
 *                    pre_layrnorm, pre-LN blocks, quick_gelu or gelu as
 *                    config.hidden_act says, post_layernorm for the pooled
 *                    [CLS].
 *   HF SigLIP vision SiglipVisionModel directories: no [CLS], a biased patch
 *                    embedding, gelu-tanh, post_layernorm on the last
 *                    layer, the attention-pooling ("MAP") head.
 *   LLaVA            a LlavaForConditionalGeneration directory (its
 *                    vision_config and vision_tower.* weights), which is
 *                    how the bundled fovea-tiny is stored.
 *   GGUF mmproj      a llama.cpp mmproj .gguf of a CLIP encoder (v.* names,
 *                    clip.vision.* metadata).
 *
 * A model is immutable weights + configuration, shareable by any number of
 * encoders. An encoder owns one recorded graph for one input size: it is
 * built and recorded once, and each image is an upload and a replay. Every
 * tensor an encoder returns stays in device memory, owned by the encoder,
 * valid until it is destroyed, and is overwritten by the next run.
 *
 * Hidden states are numbered as Hugging Face's output_hidden_states:
 * hidden state 0 is the embeddings (after pre_layrnorm where the model has
 * one), hidden state i the output of encoder layer i (1 .. L). A negative
 * number n means L + 1 + n: -1 is the last layer, -2 the one before (the
 * features LLaVA takes). "The attention of layer i" is the attention inside
 * the layer whose output is hidden state i.
 *
 * Errors are reported through the model's context (fv_context_last_error).
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_VISION_H
#define FOVEA_VISION_H

#include "fovea/fovea.h"
#include "fovea/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- models ------------------------------------------------------------- */

typedef struct fv_vision_model fv_vision_model;

/* How the position table is resized for an image grid other than the one
 * the model was trained on (torch.nn.functional.interpolate over the patch
 * positions, align_corners=False; the [CLS] position is kept as is).
 * Hugging Face's interpolate_pos_encoding (CLIP, SigLIP) is the bicubic one. */
typedef enum fv_vision_pos_resize {
    FV_VISION_POS_BILINEAR = 0,
    FV_VISION_POS_BICUBIC, /* cubic convolution a = -0.75, as torch's bicubic */
} fv_vision_pos_resize;

/* Zero-initialised means: f32 matrices, the trained image size, bilinear
 * position resizing, a progress bar on a terminal for large files. */
typedef struct fv_vision_load_desc {
    fv_dtype weight_dtype;  /* matrices (projections, MLP, patch kernel): F32 or
                               F16; norms, biases and embeddings stay f32 */
    int image_size;         /* the default input size of encoders, 0 = the trained
                               one; its position table is resized once, here */
    fv_vision_pos_resize pos_resize;
    int progress;           /* as fv_weights_desc.progress */
} fv_vision_load_desc;

/* `path` is a directory (config.json + safetensors) or a .gguf file. desc
 * may be NULL. A missing or misshaped tensor, an unknown activation or
 * layout is FV_STATUS_INVALID_ARGUMENT naming it. The caller owns *out. */
FV_API fv_status fv_vision_model_load(fv_context *ctx, const char *path, const fv_vision_load_desc *desc,
                                      fv_vision_model **out);
FV_API void fv_vision_model_destroy(fv_vision_model *m);

typedef enum fv_vision_arch {
    FV_VISION_ARCH_CLIP = 0,
    FV_VISION_ARCH_SIGLIP,
} fv_vision_arch;

/* The shape of a model made without files, for benchmarks and tests. */
typedef struct fv_vision_config {
    fv_vision_arch arch;   /* CLIP: [CLS], pre-norm, quick_gelu; SigLIP: no
                              [CLS], a biased patch embedding, gelu_tanh, the
                              pooling head */
    int image_size;
    int patch_size;
    int channels;          /* 0 = 3 */
    int hidden_size;
    int intermediate_size;
    int layers;
    int heads;
} fv_vision_config;

/* A model of that shape with random weights (uniform, scaled by 1/sqrt of
 * the fan-in; norms near 1), reproducible from `seed`. desc as for load
 * (its progress field is ignored). The caller owns *out. */
FV_API fv_status fv_vision_model_create_random(fv_context *ctx, const fv_vision_config *cfg,
                                               const fv_vision_load_desc *desc, uint64_t seed,
                                               fv_vision_model **out);

typedef struct fv_vision_model_info {
    fv_vision_arch arch;
    const char *layout;     /* "hf-clip", "hf-siglip", "llava", "gguf-mmproj", "random" */
    const char *activation; /* "quick_gelu", "gelu", "gelu_tanh", "silu"       */
    int image_size;         /* the default input size (load desc, else trained) */
    int trained_image_size; /* the size the position table was trained for     */
    int patch_size;
    int grid;               /* image_size / patch_size                          */
    int channels;
    int hidden_size;
    int intermediate_size;
    int layers;
    int heads;
    bool has_cls;           /* a [CLS] token precedes the patches               */
    bool has_pooling_head;  /* SigLIP's attention-pooling head                  */
    int feature_layer;      /* vision_feature_layer of a LLaVA config, else 0   */
    fv_dtype weight_dtype;
} fv_vision_model_info;

FV_API fv_status fv_vision_model_get_info(const fv_vision_model *m, fv_vision_model_info *out);
/* The preprocessing the model expects: preprocessor_config.json where the
 * directory has one, clip.vision.image_mean/std for GGUF, else the
 * architecture's usual one (CLIP: resize-shortest + centre crop with
 * OpenAI's mean/std; SigLIP: a stretch with mean = std = 0.5), all at the
 * model's image_size. */
FV_API fv_status fv_vision_model_preprocess_desc(const fv_vision_model *m, fv_preprocess_desc *out);
FV_API fv_context *fv_vision_model_context(const fv_vision_model *m);

/* ---- encoders ----------------------------------------------------------- */

typedef struct fv_vision_encoder fv_vision_encoder;

#define FV_VISION_MAX_LAYERS 64

/* Zero-initialised means: the model's image size, output = the last
 * layer's hidden state, no statistics, no pooled output. */
typedef struct fv_vision_encode_desc {
    int width, height;  /* input size in pixels, 0 = the model's image_size;
                           another grid resizes the position table once, here */
    int layer;          /* the hidden state to output: 1 .. L, or negative
                           (-2 = LLaVA's); 0 means the last (-1); -(L+1) the
                           embeddings. The graph stops there unless more is
                           asked for below. */
    bool post_norm;     /* apply post_layernorm to that output (SigLIP's
                           last_hidden_state is the last layer so normed) */
    bool pooled;        /* also the pooled [1, D] output: CLIP: post_layernorm
                           of the last layer's [CLS]; SigLIP: the pooling head
                           over the post-normed last layer. Runs all layers. */
    bool keep_all;      /* keep every hidden state 0 .. L readable (tests) */
    /* stats[i - 1]: FV_ATTENTION_STAT_* bits the attention of layer i writes
     * (see fv_op_attention; "cls" is query 0's row, the [CLS] token where
     * the model has one). Set by number with fv_vision_encode_desc_stats. */
    unsigned stats[FV_VISION_MAX_LAYERS];
    /* ToMe (token merging, Bolya et al. 2023) inside every block: tokens
     * merged per layer, 0 = off. Between each block's attention and its MLP,
     * min(tome_r, (N - has_cls) / 2) of the N tokens are merged (fv_op_tome
     * on the attention's head-averaged keys; [CLS] is never merged), and the
     * later blocks' attention adds log(size) of each key (proportional
     * attention). Hidden states and statistics then have fewer tokens per
     * layer; info.tokens is the output's count, and
     * fv_vision_encoder_token_groups says where each input token went. */
    int tome_r;
} fv_vision_encode_desc;

/* stats bits for layer `layer` (1 .. L or negative as above) of model m. */
FV_API fv_status fv_vision_encode_desc_stats(fv_vision_encode_desc *desc, const fv_vision_model *m, int layer,
                                             unsigned bits);

/* Builds, plans and records the encoder's graph. desc may be NULL. The
 * model must outlive the encoder. The caller owns *out. */
FV_API fv_status fv_vision_encoder_create(const fv_vision_model *m, const fv_vision_encode_desc *desc,
                                          fv_vision_encoder **out);
FV_API void fv_vision_encoder_destroy(fv_vision_encoder *enc);

/* Encodes one image: uploads `pixels` (CHW: 3 planes of height x width
 * floats, normalised as fv_image_preprocess makes them; `count` must be
 * 3 * width * height) into the input tensor, then replays the graph. With
 * pixels NULL the input tensor is used as it is (written by the caller
 * through fv_vision_encoder_input). */
FV_API fv_status fv_vision_encoder_run(fv_vision_encoder *enc, const float *pixels, size_t count);

/* The input tensor [1, 3, height, width] (f32), owned by the encoder. */
FV_API fv_tensor *fv_vision_encoder_input(const fv_vision_encoder *enc);
/* The output hidden state [1, N, D] (N = tokens, [CLS] first where the
 * model has one, then the patches row-major). */
FV_API fv_tensor *fv_vision_encoder_output(const fv_vision_encoder *enc);
/* [1, D], or NULL unless desc.pooled. */
FV_API fv_tensor *fv_vision_encoder_pooled(const fv_vision_encoder *enc);
/* Hidden state `layer` (numbered as above) [1, N, D] as the layer wrote it
 * (before any post_norm): with keep_all any of them; else only the output
 * layer's, and only without post_norm; NULL otherwise. */
FV_API fv_tensor *fv_vision_encoder_hidden_state(const fv_vision_encoder *enc, int layer);
/* The statistic `bit` (one FV_ATTENTION_STAT_* bit) of layer `layer`'s
 * attention as fv_op_attention writes it ([1, N], or [1, N, head size] for
 * mean keys); NULL unless asked for in desc.stats. */
FV_API fv_tensor *fv_vision_encoder_attention_stat(const fv_vision_encoder *enc, int layer, unsigned bit);

/* Host copies of the last run's results: exactly fv_tensor_numel floats. */
FV_API fv_status fv_vision_encoder_read_output(const fv_vision_encoder *enc, float *dst, size_t count);
FV_API fv_status fv_vision_encoder_read_stat(const fv_vision_encoder *enc, int layer, unsigned bit, float *dst,
                                             size_t count);

typedef struct fv_vision_encoder_info {
    int width, height;  /* input size */
    int grid_w, grid_h; /* patches across and down */
    int tokens;         /* N of the output: grid_w * grid_h (+ 1 with [CLS]),
                           fewer with ToMe */
    int hidden_size;    /* D */
    int output_layer;   /* the output's hidden-state number, 0 .. L */
    int layers_run;     /* encoder layers the graph computes */
    int nodes;          /* graph nodes */
    size_t arena_bytes; /* device memory of the intermediates */
    int input_tokens;   /* tokens entering the first layer (= tokens without ToMe) */
} fv_vision_encoder_info;
FV_API fv_status fv_vision_encoder_get_info(const fv_vision_encoder *enc, fv_vision_encoder_info *out);

/* With ToMe, after a run: for each of the info.input_tokens input tokens
 * ([CLS] first, then the patches row-major), the output token it ended in
 * (0 .. info.tokens - 1). count must be info.input_tokens. Without ToMe
 * every token is its own group (group[i] = i). */
FV_API fv_status fv_vision_encoder_token_groups(const fv_vision_encoder *enc, int32_t *group, size_t count);

/* Milliseconds spent: building + planning + recording the graph (once, at
 * create) and, for the last run, uploading the pixels and replaying the
 * graph (submit to completion). */
typedef struct fv_vision_timings {
    double build_ms;
    double upload_ms;
    double encode_ms;
} fv_vision_timings;
FV_API fv_status fv_vision_encoder_timings(const fv_vision_encoder *enc, fv_vision_timings *out);

#ifdef __cplusplus
}
#endif
#endif
