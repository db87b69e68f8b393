/* Vision models with random weights and no files: the shape of a real
 * encoder (CLIP-B/16, SigLIP-B/16, ...) for benchmarks and tests. Values
 * are uniform in ±sqrt(3 / fan-in), so activations keep unit scale through
 * the layers as with trained weights; norms have weights near 1. */
#include "vit_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rng {
    uint64_t s;
} rng;

static float rng_uniform(rng *r) /* xorshift64*, in [-1, 1) */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t x = r->s * 0x2545F4914F6CDD1Dull;
    return (float)(x >> 40) / 8388608.0f - 1.0f;
}

/* A new tensor of `dtype` holding offset + scale · uniform values. */
static fv_status random_tensor(fv_vision_model *m, rng *r, fv_dtype dtype, int ndim, const int64_t *shape,
                               float offset, float scale, fv_tensor **out)
{
    *out = NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *f = malloc((size_t)n * sizeof *f);
    void *enc = dtype == FV_DTYPE_F32 ? (void *)f : malloc((size_t)n * 2);
    fv_status st = FV_STATUS_OK;
    if (!f || !enc) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    if (!st) {
        for (int64_t i = 0; i < n; i++) f[i] = offset + scale * rng_uniform(r);
        if (dtype != FV_DTYPE_F32) fv_convert_from_f32(dtype, f, n, enc);
        st = fv_tensor_create(m->ctx, dtype, ndim, shape, out);
    }
    if (!st) st = fv_tensor_upload(*out, enc, fv_tensor_nbytes(*out));
    if (st) {
        fv_tensor_destroy(*out);
        *out = NULL;
    }
    if (enc != f) free(enc);
    free(f);
    return st;
}

typedef struct maker {
    fv_vision_model *m;
    rng r;
    fv_dtype wdtype;
} maker;

static fv_status linear(maker *k, int64_t rows, int64_t cols, fv_tensor **w, fv_tensor **b)
{
    const int64_t ws[2] = {rows, cols}, bs[1] = {rows};
    fv_status st = random_tensor(k->m, &k->r, k->wdtype, 2, ws, 0, sqrtf(3.0f / (float)cols), w);
    if (!st) st = random_tensor(k->m, &k->r, FV_DTYPE_F32, 1, bs, 0, 0.02f, b);
    return st;
}

static fv_status norm(maker *k, int64_t d, fv_tensor **w, fv_tensor **b)
{
    fv_status st = random_tensor(k->m, &k->r, FV_DTYPE_F32, 1, &d, 1.0f, 0.1f, w);
    if (!st) st = random_tensor(k->m, &k->r, FV_DTYPE_F32, 1, &d, 0, 0.02f, b);
    return st;
}

static fv_status make_weights(maker *k)
{
    fv_vision_model *m = k->m;
    const fv_vision_model_info *i = &m->info;
    const int64_t D = i->hidden_size, F = i->intermediate_size;
    const int64_t K = (int64_t)i->channels * i->patch_size * i->patch_size;
    const bool siglip = i->arch == FV_VISION_ARCH_SIGLIP;
    const int64_t ks[2] = {D, K}, cs[3] = {1, 1, D};
    fv_status st = random_tensor(m, &k->r, k->wdtype, 2, ks, 0, sqrtf(3.0f / (float)K), &m->patch_w);
    if (!st && siglip) st = random_tensor(m, &k->r, FV_DTYPE_F32, 1, &D, 0, 0.02f, &m->patch_b);
    if (!st && !siglip) st = random_tensor(m, &k->r, FV_DTYPE_F32, 3, cs, 0, 0.5f, &m->cls);
    if (!st && !siglip) st = norm(k, D, &m->pre_w, &m->pre_b);
    if (st) return st;
    /* the position table lives on the host until it is sized for the input */
    m->pos_rows = m->trained_grid * m->trained_grid + (i->has_cls ? 1 : 0);
    m->pos_host = malloc((size_t)m->pos_rows * (size_t)D * sizeof(float));
    if (!m->pos_host) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    for (int64_t j = 0; j < m->pos_rows * D; j++) m->pos_host[j] = 0.5f * rng_uniform(&k->r);
    m->layers = calloc((size_t)i->layers, sizeof *m->layers);
    if (!m->layers) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    for (int l = 0; l < i->layers && !st; l++) {
        vit_layer *y = &m->layers[l];
        st = norm(k, D, &y->ln1_w, &y->ln1_b);
        if (!st) st = linear(k, D, D, &y->q_w, &y->q_b);
        if (!st) st = linear(k, D, D, &y->k_w, &y->k_b);
        if (!st) st = linear(k, D, D, &y->v_w, &y->v_b);
        if (!st) st = linear(k, D, D, &y->o_w, &y->o_b);
        if (!st) st = norm(k, D, &y->ln2_w, &y->ln2_b);
        if (!st) st = linear(k, F, D, &y->fc1_w, &y->fc1_b);
        if (!st) st = linear(k, D, F, &y->fc2_w, &y->fc2_b);
    }
    if (!st) st = norm(k, D, &m->post_w, &m->post_b);
    if (!st && siglip) {
        vit_head *h = &m->head;
        st = random_tensor(m, &k->r, FV_DTYPE_F32, 3, cs, 0, 1.0f, &h->probe);
        if (!st) st = linear(k, D, D, &h->q_w, &h->q_b);
        if (!st) st = linear(k, D, D, &h->k_w, &h->k_b);
        if (!st) st = linear(k, D, D, &h->v_w, &h->v_b);
        if (!st) st = linear(k, D, D, &h->o_w, &h->o_b);
        if (!st) st = norm(k, D, &h->ln_w, &h->ln_b);
        if (!st) st = linear(k, F, D, &h->fc1_w, &h->fc1_b);
        if (!st) st = linear(k, D, F, &h->fc2_w, &h->fc2_b);
        m->info.has_pooling_head = true;
    }
    return st;
}

fv_status fv_vision_model_create_random(fv_context *ctx, const fv_vision_config *cfg, const fv_vision_load_desc *desc,
                                        uint64_t seed, fv_vision_model **out)
{
    if (!ctx || !cfg || !out)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "fv_vision_model_create_random: NULL argument");
    if ((unsigned)cfg->arch > FV_VISION_ARCH_SIGLIP)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "vision: unknown architecture %d", (int)cfg->arch);
    fv_vision_model *m;
    fv_status st = fv_vit_new(ctx, desc, &m);
    if (st) return st;
    const bool siglip = cfg->arch == FV_VISION_ARCH_SIGLIP;
    fv_vision_model_info *i = &m->info;
    i->arch = cfg->arch;
    i->layout = "random";
    i->activation = siglip ? "gelu_tanh" : "quick_gelu";
    m->act = siglip ? VIT_ACT_GELU_TANH : VIT_ACT_QUICK_GELU;
    m->eps = siglip ? 1e-6f : 1e-5f;
    i->trained_image_size = cfg->image_size;
    i->patch_size = cfg->patch_size;
    i->channels = cfg->channels ? cfg->channels : 3;
    i->hidden_size = cfg->hidden_size;
    i->intermediate_size = cfg->intermediate_size;
    i->layers = cfg->layers;
    i->heads = cfg->heads;
    i->has_cls = !siglip;
    if (siglip) {
        m->preprocess.fit = FV_IMAGE_FIT_STRETCH;
        for (int c = 0; c < 3; c++) m->preprocess.mean[c] = m->preprocess.std[c] = 0.5f;
    }
    const int image_size = desc ? desc->image_size : 0;
    maker k = {.m = m, .r = {seed * 0x9E3779B97F4A7C15ull + 1}, .wdtype = i->weight_dtype};
    st = fv_vit_set_size(m, image_size);
    if (!st) st = make_weights(&k);
    if (!st) st = fv_vit_finish(m, image_size != 0);
    if (st) {
        fv_vision_model_destroy(m);
        return st;
    }
    *out = m;
    return FV_STATUS_OK;
}
