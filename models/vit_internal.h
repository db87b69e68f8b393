/* The vision encoder's model record, shared by the loader (models/vit.c)
 * and the graph builder (models/vit_encoder.c). Not public. */
#ifndef FOVEA_MODELS_VIT_INTERNAL_H
#define FOVEA_MODELS_VIT_INTERNAL_H

#include "fovea/vision.h"
#include "load_internal.h"

typedef enum vit_act {
    VIT_ACT_QUICK_GELU = 0,
    VIT_ACT_GELU,
    VIT_ACT_GELU_TANH,
    VIT_ACT_SILU,
} vit_act;

/* One pre-LN encoder block. Matrices are [out, in] in the load dtype;
 * norms and biases f32. */
typedef struct vit_layer {
    fv_tensor *ln1_w, *ln1_b;
    fv_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    fv_tensor *ln2_w, *ln2_b;
    fv_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} vit_layer;

/* SigLIP's attention-pooling head: one learned query (probe) attends over
 * the post-normed last layer, then a residual MLP. nn.MultiheadAttention
 * packs q/k/v as one in_proj [3D, D]; it is split at load. */
typedef struct vit_head {
    fv_tensor *probe; /* [1, 1, D] */
    fv_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    fv_tensor *ln_w, *ln_b;
    fv_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} vit_head;

struct fv_vision_model {
    fv_context *ctx;
    fv_vision_model_info info;
    vit_act act;
    float eps;
    fv_vision_pos_resize pos_resize;
    fv_preprocess_desc preprocess;
    int trained_grid;   /* the position table's grid side */
    float *pos_host;    /* the trained position table, [pos_rows, D] f32 */
    int pos_rows;
    fv_tensor *pos;     /* the table for info.image_size, [rows, D] f32 */
    fv_tensor *patch_w; /* [D, C*p*p]: the conv kernel flattened */
    fv_tensor *patch_b; /* [D] or NULL */
    fv_tensor *cls;     /* [1, 1, D] or NULL */
    fv_tensor *pre_w, *pre_b;   /* NULL without a pre-norm */
    fv_tensor *post_w, *post_b; /* NULL without a post-norm */
    vit_layer *layers;
    vit_head head;      /* all NULL without one */
};

/* Steps shared by loading and fv_vision_model_create_random: a zeroed
 * model for the descriptor; checking the configuration in m->info and
 * fixing the input size (0 = the trained one); after the weights (and
 * pos_host), the position table for that size and the preprocessing's
 * output size. */
fv_status fv_vit_new(fv_context *ctx, const fv_vision_load_desc *desc, fv_vision_model **out);
fv_status fv_vit_set_size(fv_vision_model *m, int image_size);
fv_status fv_vit_finish(fv_vision_model *m, bool size_given);

/* The position table for a gh x gw grid ([CLS] row first where the model
 * has one), resized from the trained one as the model's pos_resize says, in
 * a new f32 tensor [rows, D] owned by the caller. */
fv_status fv_vit_position_table(const fv_vision_model *m, int gh, int gw, fv_tensor **out);

#endif
