/* The compression pipeline on tensors that do not come from an encoder:
 * tests feed it statistics and features written by
 * tests/fixtures/make_compress_fixtures.py. Not public. */
#ifndef FOVEA_MODELS_COMPRESS_INTERNAL_H
#define FOVEA_MODELS_COMPRESS_INTERNAL_H

#include "fovea/compress.h"

typedef struct fv_compress_inputs {
    int layers;          /* L: statistics are indexed by layer 1 .. L */
    int grid_w, grid_h;
    bool has_cls;        /* row 0 of every input is [CLS] */
    fv_tensor *features; /* [1, N, D] f32, N = grid_w * grid_h + has_cls */
    fv_tensor *cls[FV_VISION_MAX_LAYERS + 1];       /* [1, N] or NULL */
    fv_tensor *received[FV_VISION_MAX_LAYERS + 1];  /* [1, N] or NULL */
    fv_tensor *mean_keys[FV_VISION_MAX_LAYERS + 1]; /* [1, N, Dk] or NULL */
} fv_compress_inputs;

/* As fv_compressor_create, on these tensors (which must outlive the
 * compressor). tome is not available here. */
fv_status fv_compressor_create_on(fv_context *ctx, const fv_compress_inputs *in, const fv_compress_desc *desc,
                                  fv_compressor **out);

#endif
