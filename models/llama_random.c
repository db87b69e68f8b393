/* Language models with random weights and no files: the shape of a real
 * decoder (SmolLM2-135M, Qwen2-0.5B, ...) for benchmarks and tests. Matrix
 * values are uniform in ±sqrt(3 / fan-in), so activations keep unit scale
 * through the layers as with trained weights; embeddings are of unit scale
 * and norms have weights near 1. */
#include "llama_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct maker {
    fv_lm_model *m;
    uint64_t s;    /* xorshift64* state */
    fv_dtype wdtype;
} maker;

static float uniform(maker *k) /* in [-1, 1) */
{
    k->s ^= k->s >> 12;
    k->s ^= k->s << 25;
    k->s ^= k->s >> 27;
    const uint64_t x = k->s * 0x2545F4914F6CDD1Dull;
    return (float)(x >> 40) / 8388608.0f - 1.0f;
}

/* A new tensor of `dtype` holding offset + scale · uniform values. */
static fv_status random_tensor(maker *k, fv_dtype dtype, int ndim, const int64_t *shape, float offset, float scale,
                               fv_tensor **out)
{
    fv_context *ctx = k->m->ctx;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    fv_status st = fv_tensor_create(ctx, dtype, ndim, shape, out);
    if (st) return st;
    float *f = malloc((size_t)n * sizeof *f);
    void *enc = dtype == FV_DTYPE_F32 ? (void *)f : malloc(fv_tensor_nbytes(*out));
    if (!f || !enc) st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    if (!st) {
        for (int64_t i = 0; i < n; i++) f[i] = offset + scale * uniform(k);
        if (dtype != FV_DTYPE_F32) fv_convert_from_f32(dtype, f, n, enc);
        st = fv_tensor_upload(*out, enc, fv_tensor_nbytes(*out));
    }
    if (st) {
        fv_tensor_destroy(*out);
        *out = NULL;
    }
    if (enc != f) free(enc);
    free(f);
    return st;
}

static fv_status matrix(maker *k, int64_t rows, int64_t cols, fv_tensor **w)
{
    const int64_t s[2] = {rows, cols};
    return random_tensor(k, k->wdtype, 2, s, 0, sqrtf(3.0f / (float)cols), w);
}

static fv_status vector(maker *k, int64_t n, float offset, float scale, fv_tensor **v)
{
    return random_tensor(k, FV_DTYPE_F32, 1, &n, offset, scale, v);
}

static fv_status make_weights(maker *k)
{
    fv_lm_model *m = k->m;
    fv_lm_model_info *i = &m->info;
    const int64_t V = i->vocab_size, D = i->hidden_size, F = i->intermediate_size,
                  Q = (int64_t)i->heads * i->head_dim, KV = (int64_t)i->kv_heads * i->head_dim, es[2] = {V, D};
    fv_status st = random_tensor(k, i->embedding_dtype, 2, es, 0, 1.0f, &m->embed);
    if (!st) st = vector(k, D, 1.0f, 0.1f, &m->norm);
    if (!st && i->tied_embeddings && i->embedding_dtype == k->wdtype) m->head = m->embed;
    else if (!st) st = matrix(k, V, D, &m->head);
    for (int l = 0; l < i->layers && !st; l++) {
        lm_layer *y = &m->layers[l];
        st = vector(k, D, 1.0f, 0.1f, &y->attn_norm);
        if (!st) st = matrix(k, Q, D, &y->q_w);
        if (!st) st = matrix(k, KV, D, &y->k_w);
        if (!st) st = matrix(k, KV, D, &y->v_w);
        if (!st && i->attention_bias) st = vector(k, Q, 0, 0.1f, &y->q_b);
        if (!st && i->attention_bias) st = vector(k, KV, 0, 0.1f, &y->k_b);
        if (!st && i->attention_bias) st = vector(k, KV, 0, 0.1f, &y->v_b);
        if (!st) st = matrix(k, D, Q, &y->o_w);
        if (!st) st = vector(k, D, 1.0f, 0.1f, &y->ffn_norm);
        if (!st) st = matrix(k, F, D, &y->gate_w);
        if (!st) st = matrix(k, F, D, &y->up_w);
        if (!st) st = matrix(k, D, F, &y->down_w);
    }
    return st;
}

fv_status fv_lm_model_create_random(fv_context *ctx, const fv_lm_config *cfg, const fv_lm_load_desc *desc,
                                    uint64_t seed, fv_lm_model **out)
{
    if (!ctx || !cfg || !out)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "fv_lm_model_create_random: NULL argument");
    *out = NULL;
    const fv_dtype wd = desc && desc->convert ? desc->weight_dtype : FV_DTYPE_F32;
    if (wd != FV_DTYPE_F32 && wd != FV_DTYPE_F16 && wd != FV_DTYPE_Q8_0 && wd != FV_DTYPE_Q4_0)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "lm: weight dtype %s (f32, f16, q8_0 or q4_0)",
                       fv_dtype_name(wd));
    if ((unsigned)cfg->arch > FV_LM_ARCH_QWEN2)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "lm: unknown architecture %d", (int)cfg->arch);
    fv_lm_model *m;
    fv_status st = fv_lm_new(ctx, &m);
    if (st) return st;
    fv_lm_model_info *i = &m->info;
    i->arch = cfg->arch;
    i->layout = "random";
    i->hidden_size = cfg->hidden_size;
    i->intermediate_size = cfg->intermediate_size;
    i->layers = cfg->layers;
    i->heads = cfg->heads;
    i->kv_heads = cfg->kv_heads ? cfg->kv_heads : cfg->heads;
    i->head_dim = cfg->head_dim;
    i->vocab_size = cfg->vocab_size;
    i->max_positions = cfg->max_positions ? cfg->max_positions : 4096;
    i->rope_theta = cfg->rope_theta > 0 ? cfg->rope_theta : 10000.0f;
    i->rms_eps = cfg->rms_eps > 0 ? cfg->rms_eps : 1e-5f;
    i->rope_layout = FV_ROPE_HALF;
    i->tied_embeddings = cfg->tied_embeddings;
    i->attention_bias = cfg->arch == FV_LM_ARCH_QWEN2;
    i->bos_id = i->eos_id = i->image_token_id = -1;
    i->weight_dtype = wd;
    i->embedding_dtype = wd == FV_DTYPE_F16 ? FV_DTYPE_F16 : FV_DTYPE_F32;
    maker k = {.m = m, .s = seed * 0x9E3779B97F4A7C15ull + 1, .wdtype = wd};
    st = fv_lm_check_config(m);
    if (!st) st = make_weights(&k);
    if (st) {
        fv_lm_model_destroy(m);
        return st;
    }
    fv_lm_count_bytes(m);
    *out = m;
    return FV_STATUS_OK;
}
