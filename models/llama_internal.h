/* The language model's record, shared by the loader (models/llama.c), the
 * random-weight maker (models/llama_random.c) and the sessions
 * (models/llama_session.c). Not public. */
#ifndef FOVEA_MODELS_LLAMA_INTERNAL_H
#define FOVEA_MODELS_LLAMA_INTERNAL_H

#include "fovea/lm.h"
#include "load_internal.h"

/* One decoder block. Matrices [out, in] in the matrix dtype; norms and
 * biases f32; a bias absent from the file is NULL. */
typedef struct lm_layer {
    fv_tensor *attn_norm;
    fv_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    fv_tensor *ffn_norm;
    fv_tensor *gate_w, *gate_b, *up_w, *up_b, *down_w, *down_b;
} lm_layer;

struct fv_lm_model {
    fv_context *ctx;
    fv_lm_model_info info;
    fv_tensor *embed;     /* [V, D], f16 or f32 */
    fv_tensor *norm;      /* [D] */
    fv_tensor *head;      /* [V, D] in the matrix dtype; == embed when tied and shareable */
    lm_layer *layers;
};

/* A zeroed model on ctx. */
fv_status fv_lm_new(fv_context *ctx, fv_lm_model **out);
/* Checks the shape fields of m->info (FV_STATUS_INVALID_ARGUMENT naming the
 * first bad one) and allocates the layer array. */
fv_status fv_lm_check_config(fv_lm_model *m);
/* Adds up the bytes of every weight into info.weight_bytes. */
void fv_lm_count_bytes(fv_lm_model *m);

#endif
