/* fovea — visual-token compression.
 *
 * Fewer visual tokens for the language model: pruning methods keep a
 * subset of the vision encoder's patch tokens, chosen from the attention
 * statistics the encoder's fused attention writes (FV_ATTENTION_STAT_*) or
 * from the tokens themselves; merging methods (visionzip's contextual
 * tokens, tome) and the DCT low-pass (fourier) make new ones.
 *
 * Use:
 *   fv_compress_desc cd = {.method = FV_COMPRESS_FASTERVLM, .keep = 0.25f};
 *   fv_vision_encode_desc ed = {.layer = -2};
 *   fv_compress_prepare_encode(&cd, model, &ed);   // asks for the statistics
 *   fv_vision_encoder_create(model, &ed, &enc);
 *   fv_compressor_create(model, enc, &cd, &comp);        // built and recorded once
 *   per image: fv_vision_encoder_run(enc, pixels, n); fv_compressor_run(comp);
 *   fv_compressor_tokens(comp) is then [1, K, D] in device memory.
 *
 * The compressor compresses the encoder's output (its hidden state, e.g.
 * LLaVA's layer -2). Its graph reads the encoder's tensors where they lie:
 * a run is one more replay, with no copy through the host.
 *
 * [CLS]: budgets count patch tokens. On a model with [CLS] the output keeps
 * it in front (LLaVA's "full" feature strategy), so K = budget + 1; the
 * kept indices then start with 0, the [CLS] row. Methods that score by
 * [CLS] attention (fastervlm, vtc-cls, hired, visionzip) refuse a model
 * without one (SigLIP).
 *
 * Indices: for pruning methods, the kept tokens' indices into the encoder's
 * output (1 + py * grid_w + px for a patch at (px, py) with [CLS], else
 * py * grid_w + px), ascending, so grid positions (RoPE, pictures) survive
 * pruning. visionzip's contextual tokens carry their target token's index.
 *
 * Ties are broken by the lower index everywhere, so every backend (CPU,
 * Vulkan, OpenCL) keeps the same tokens.
 *
 * Errors are reported through the encoder's context (fv_context_last_error).
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_COMPRESS_H
#define FOVEA_COMPRESS_H

#include "fovea/fovea.h"
#include "fovea/vision.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fv_compress_method {
    FV_COMPRESS_NONE = 0,  /* not a method: a desc must name one */
    FV_COMPRESS_FASTERVLM, /* [CLS] attention at one layer, top-k */
    FV_COMPRESS_VTC_CLS,   /* [CLS] attention summed over several layers, top-k */
    FV_COMPRESS_HIPRUNE,   /* anchors + their grid neighbours + registers */
    FV_COMPRESS_DIVPRUNE,  /* greedy k-center on cosine distance of the features */
    FV_COMPRESS_TODRE,     /* the same diversity step (ToDRE's stage one) */
    FV_COMPRESS_HIRED,     /* early [CLS] attention splits k over tiles; final picks */
    FV_COMPRESS_VISIONZIP, /* dominant by [CLS] attention + merged contextual tokens */
    FV_COMPRESS_TOME,      /* merging inside the encoder (tome_r of the encode desc);
                              the compressor passes its output through */
    FV_COMPRESS_FOURIER,   /* the low-frequency k x k block of a 2D DCT-II */
    FV_COMPRESS_RANDOM,    /* baseline: k patches drawn at random (seeded) */
    FV_COMPRESS_STRIDE,    /* baseline: patches floor(i * n / k), i < k */
    FV_COMPRESS_COUNT_
} fv_compress_method;

/* "fastervlm", "vtc-cls", ...; NULL for an unknown value. */
FV_API const char *fv_compress_method_name(fv_compress_method m);
/* The method of that name, or FV_STATUS_INVALID_ARGUMENT. */
FV_API fv_status fv_compress_method_from_name(const char *name, fv_compress_method *out);

#define FV_COMPRESS_MAX_LAYERS 8

/* Zero-initialised fields mean the paper's default (fovea's choice where
 * the paper has none for this encoder: stated per field). Layers are
 * numbered as in vision.h (1 .. L, negative from the end). */
typedef struct fv_compress_desc {
    fv_compress_method method;
    int budget;            /* patch tokens to keep (k); 0: use keep          */
    float keep;            /* else the fraction of the patch tokens, rounded  */
    int layer;             /* fastervlm, visionzip: the [CLS] layer, 0 = -2;
                              hiprune: the register layer, 0 = -1;
                              hired: the final layer, 0 = -1                   */
    int layers[FV_COMPRESS_MAX_LAYERS]; /* vtc-cls: layers summed; all 0 =
                              the last four before the output layer (-2..-5,
                              those that exist)                                */
    int object_layer;      /* hiprune: the anchor layer, 0 = the middle, L/2   */
    float alpha;           /* hiprune: the anchors' share of k, 0 = 0.1        */
    int early_layer;       /* hired: the budget-split layer, 0 = max(1, L/4)   */
    int tiles;             /* hired: tiles per side of the grid, 0 = 2 (4 tiles,
                              as HiRED's four sub-images)                      */
    float contextual;      /* visionzip: the contextual share of k, 0 = 10/64
                              (VisionZip's 54 dominant + 10 contextual)         */
    uint64_t seed;         /* random: the draw's seed                           */
} fv_compress_desc;

/* Adds to *encode what `desc`'s method needs from the encoder: the
 * statistics bits of the layers it reads (the encoder then runs at least
 * up to those layers); for tome, tome_r = ceil((n - budget) / layers up to
 * the output), ToMe's constant schedule, so the output holds at most
 * budget patch tokens (and at most layers - 1 fewer), unless the budget
 * is below what the layers can reach (each merges at most half of its
 * tokens): then it holds more, fv_compressor_info.budget says how many.
 * Set encode->width,
 * height and layer before. Checks the method and budget against the model:
 * an unknown method, a budget of 0 or more than the patch count, or a
 * [CLS] method on a model without [CLS] is FV_STATUS_INVALID_ARGUMENT. */
FV_API fv_status fv_compress_prepare_encode(const fv_compress_desc *desc, const fv_vision_model *m,
                                            fv_vision_encode_desc *encode);

typedef struct fv_compressor fv_compressor;

/* Builds, plans and records the compression graph over `enc`'s tensors.
 * enc (made from model m) must have been made from a desc prepared by
 * fv_compress_prepare_encode for this desc (a missing statistic is
 * FV_STATUS_INVALID_ARGUMENT naming it) and must outlive the compressor.
 * The caller owns *out. */
FV_API fv_status fv_compressor_create(const fv_vision_model *m, fv_vision_encoder *enc, const fv_compress_desc *desc,
                                      fv_compressor **out);
FV_API void fv_compressor_destroy(fv_compressor *c);

/* Compresses the encoder's last run: one replay, then a copy of the kept
 * indices to the host (a few hundred bytes) for fv_compressor_read_indices. */
FV_API fv_status fv_compressor_run(fv_compressor *c);

/* [1, K, D] f32: the compressed tokens, owned by the compressor. */
FV_API fv_tensor *fv_compressor_tokens(const fv_compressor *c);
/* i32 [K]: each output token's index into the encoder's output (see
 * above); for visionzip only the dominant part, [K - contextual] (the
 * contextual tokens' targets are in the host copy); NULL for fourier and
 * tome, whose tokens are not encoder tokens. */
FV_API fv_tensor *fv_compressor_indices(const fv_compressor *c);
/* Host copy of the indices of the last run; count must be K. */
FV_API fv_status fv_compressor_read_indices(const fv_compressor *c, int32_t *dst, size_t count);
/* For each of the encoder's N input tokens ([CLS] first, then the patches),
 * the output token it went into (kept or merged into), or -1 when dropped;
 * count must be N. After a run. fourier has none (FV_STATUS_UNSUPPORTED). */
FV_API fv_status fv_compressor_groups(const fv_compressor *c, int32_t *group, size_t count);

typedef struct fv_compressor_info {
    fv_compress_method method;
    int budget;       /* k: patch tokens kept (fourier: coefficients, tome: patch tokens out) */
    int tokens;       /* K: output tokens, k + 1 with [CLS]      */
    bool has_cls;     /* output token 0 is [CLS]                 */
    int grid_w, grid_h;
    int nodes;        /* graph nodes                             */
    double run_ms;    /* the last run's replay, submit to completion */
} fv_compressor_info;
FV_API fv_status fv_compressor_get_info(const fv_compressor *c, fv_compressor_info *out);

#ifdef __cplusplus
}
#endif
#endif
