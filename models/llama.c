/* Language models: configuration and weights of a Llama-family decoder in
 * the layouts fovea reads (fovea/lm.h), checked by name and shape and
 * uploaded.
 *
 * Hugging Face names, under a prefix found by probing for embed_tokens
 * ("model." for LlamaForCausalLM / Qwen2ForCausalLM, "language_model.model."
 * for LLaVA as fovea-tiny stores it, "model.language_model." for the newer
 * LLaVA layout):
 *   embed_tokens.weight [V, D], norm.weight [D], lm_head.weight [V, D]
 *     (absent when the embeddings are tied)
 *   layers.N.input_layernorm.weight, layers.N.post_attention_layernorm.weight
 *   layers.N.self_attn.{q,k,v,o}_proj.weight (.bias: Qwen2's q/k/v)
 *   layers.N.mlp.{gate,up,down}_proj.weight
 * Configuration: config.json's text_config (LLaVA) or its top level.
 *
 * GGUF names (gguf-py: constants.TENSOR_NAMES, MODEL_ARCH.LLAMA / QWEN2):
 *   token_embd, output_norm, output (absent when tied), blk.N.attn_norm,
 *   blk.N.attn_{q,k,v,output} (.bias: qwen2), blk.N.ffn_norm,
 *   blk.N.ffn_{gate,up,down}
 * Metadata: <arch>.embedding_length, .feed_forward_length, .block_count,
 * .attention.head_count(_kv), .attention.key_length, .attention.
 * layer_norm_rms_epsilon, .rope.freq_base, .context_length;
 * tokenizer.ggml.bos_token_id / eos_token_id. */
#include "llama_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NAME_BYTES 256

typedef struct loader {
    fv_lm_model *m;
    fv_weights *w;
    bool gguf;
    const char *prefix;    /* HF: where the decoder's names start */
    const char *head_name; /* HF: the output projection's name */
    bool convert;
    fv_dtype wdtype;
} loader;

/* ---- tensors ------------------------------------------------------------------ */

/* The dtype a matrix stored as `t` keeps when nothing is converted. */
static fv_dtype as_stored(fv_file_dtype t)
{
    switch (t) {
    case FV_FILE_DTYPE_F32:
    case FV_FILE_DTYPE_BF16:
    case FV_FILE_DTYPE_F64:
        return FV_DTYPE_F32;
    case FV_FILE_DTYPE_F16:
        return FV_DTYPE_F16;
    case FV_FILE_DTYPE_Q8_0:
        return FV_DTYPE_Q8_0;
    case FV_FILE_DTYPE_Q4_0:
        return FV_DTYPE_Q4_0;
    default:
        return FV_DTYPE_COUNT_;
    }
}

/* The dtype matrix `name` gets (after checking its shape). */
static fv_status matrix_dtype(loader *L, const char *name, int64_t rows, int64_t cols, fv_dtype *out)
{
    const int64_t shape[2] = {rows, cols};
    const fv_weight_info *info;
    fv_status st = fv_weights_get(L->w, name, 2, shape, &info);
    if (st) return st;
    const fv_dtype d = as_stored(info->dtype);
    if (d == FV_DTYPE_COUNT_)
        return fv_fail(L->m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: '%s' is stored as %s; fovea reads matrices of f32, f16, bf16, f64, q8_0 or q4_0", name,
                       fv_file_dtype_name(info->dtype));
    *out = L->convert ? L->wdtype : d;
    return FV_STATUS_OK;
}

static fv_status load_matrix(loader *L, const char *name, int64_t rows, int64_t cols, fv_tensor **out)
{
    fv_dtype d = FV_DTYPE_F32;
    fv_status st = matrix_dtype(L, name, rows, cols, &d);
    const int64_t shape[2] = {rows, cols};
    if (!st) st = fv_weights_load(L->w, name, d, 2, shape, out);
    return st;
}

static fv_status load_vector(loader *L, const char *name, int64_t n, fv_tensor **out)
{
    return fv_weights_load(L->w, name, FV_DTYPE_F32, 1, &n, out);
}

static bool has(loader *L, const char *name) { return fv_weights_find(L->w, name) != NULL; }

/* ---- configuration ------------------------------------------------------------ */

/* An integer key that may also be a list (Llama 3's eos_token_id): its first value. */
static int config_id(const fv_config *c, const char *key)
{
    int64_t v;
    if (fv_config_int(c, key, -1, &v) == FV_STATUS_OK) return (int)v;
    double list[1];
    int n = 0;
    if (fv_config_floats(c, key, list, 1, &n) == FV_STATUS_OK && n > 0) return (int)list[0];
    return -1;
}

static fv_status config_hf(loader *L)
{
    fv_lm_model *m = L->m;
    fv_lm_model_info *i = &m->info;
    const fv_config *c = fv_weights_config(L->w);
    if (!c) return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: the directory has no config.json");
    static const char *const prefixes[][2] = {{"model.", "lm_head.weight"},
                                              {"language_model.model.", "language_model.lm_head.weight"},
                                              {"model.language_model.", "lm_head.weight"}};
    L->prefix = NULL;
    for (size_t k = 0; k < FV_ARRAY_LEN(prefixes) && !L->prefix; k++) {
        char n[NAME_BYTES];
        snprintf(n, sizeof n, "%sembed_tokens.weight", prefixes[k][0]);
        if (has(L, n)) L->prefix = prefixes[k][0], L->head_name = prefixes[k][1];
    }
    if (!L->prefix)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: no language model in the weights (looked for embed_tokens.weight under model., "
                       "language_model.model., model.language_model.)");
    const bool nested = fv_config_has(c, "text_config");
    const char *tc = nested ? "text_config." : "";
    i->layout = nested ? "llava" : "hf";
    char key[96];
    const char *type = NULL;
    snprintf(key, sizeof key, "%smodel_type", tc);
    if (fv_config_string(c, key, nested ? "llama" : "", &type)) type = "";
    if (strcmp(type, "llama") == 0) i->arch = FV_LM_ARCH_LLAMA;
    else if (strcmp(type, "qwen2") == 0) i->arch = FV_LM_ARCH_QWEN2;
    else
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: model_type \"%s\" is not one fovea runs (llama, qwen2)", type);
    static const struct {
        const char *key;
        int64_t def;
        size_t off;
    } ints[] = {
        {"hidden_size", -1, offsetof(fv_lm_model_info, hidden_size)},
        {"intermediate_size", -1, offsetof(fv_lm_model_info, intermediate_size)},
        {"num_hidden_layers", -1, offsetof(fv_lm_model_info, layers)},
        {"num_attention_heads", -1, offsetof(fv_lm_model_info, heads)},
        {"num_key_value_heads", 0, offsetof(fv_lm_model_info, kv_heads)},
        {"head_dim", 0, offsetof(fv_lm_model_info, head_dim)},
        {"vocab_size", -1, offsetof(fv_lm_model_info, vocab_size)},
        {"max_position_embeddings", 2048, offsetof(fv_lm_model_info, max_positions)},
    };
    for (size_t k = 0; k < FV_ARRAY_LEN(ints); k++) {
        int64_t v;
        snprintf(key, sizeof key, "%s%s", tc, ints[k].key);
        if (fv_config_int(c, key, ints[k].def, &v) || v < INT32_MIN || v > INT32_MAX)
            return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: config %s is not an integer", key);
        *(int *)((char *)i + ints[k].off) = (int)v;
    }
    if (!i->kv_heads) i->kv_heads = i->heads;
    double theta, eps;
    snprintf(key, sizeof key, "%srope_theta", tc);
    fv_status st = fv_config_float(c, key, 10000.0, &theta);
    snprintf(key, sizeof key, "%srms_norm_eps", tc);
    if (!st) st = fv_config_float(c, key, 1e-6, &eps);
    if (st) return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: config rope_theta / rms_norm_eps is not a number");
    i->rope_theta = (float)theta;
    i->rms_eps = (float)eps;
    snprintf(key, sizeof key, "%srope_scaling", tc);
    if (fv_config_has(c, key)) {
        char buf[64];
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: rope_scaling %s is not supported (fovea runs unscaled RoPE)",
                       fv_config_value_text(c, key, buf, sizeof buf));
    }
    bool sliding = false;
    snprintf(key, sizeof key, "%suse_sliding_window", tc);
    if (fv_config_bool(c, key, false, &sliding) || sliding)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: sliding-window attention is not supported");
    snprintf(key, sizeof key, "%sbos_token_id", tc);
    i->bos_id = config_id(c, key);
    snprintf(key, sizeof key, "%seos_token_id", tc);
    i->eos_id = config_id(c, key);
    i->image_token_id = nested ? config_id(c, "image_token_index") : -1;
    i->rope_layout = FV_ROPE_HALF;
    return FV_STATUS_OK;
}

static fv_status config_gguf(loader *L)
{
    fv_lm_model *m = L->m;
    fv_lm_model_info *i = &m->info;
    const fv_gguf *g = fv_weights_gguf(L->w);
    const char *arch = fv_gguf_get_string(g, "general.architecture", "");
    if (strcmp(arch, "llama") == 0) i->arch = FV_LM_ARCH_LLAMA, i->rope_layout = FV_ROPE_INTERLEAVED;
    else if (strcmp(arch, "qwen2") == 0) i->arch = FV_LM_ARCH_QWEN2, i->rope_layout = FV_ROPE_HALF;
    else
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: GGUF architecture \"%s\" is not one fovea runs (llama, qwen2)", arch);
    i->layout = "gguf";
    char key[96];
    static const char *const names[] = {"embedding_length", "feed_forward_length", "block_count",
                                        "attention.head_count"};
    int *dst[] = {&i->hidden_size, &i->intermediate_size, &i->layers, &i->heads};
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "%s.%s", arch, names[k]);
        int64_t v = fv_gguf_get_int(g, key, -1);
        if (v <= 0 || v > INT32_MAX)
            return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: GGUF metadata %s is missing or invalid", key);
        *dst[k] = (int)v;
    }
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    i->kv_heads = (int)fv_gguf_get_int(g, key, i->heads);
    snprintf(key, sizeof key, "%s.attention.key_length", arch);
    i->head_dim = (int)fv_gguf_get_int(g, key, 0);
    snprintf(key, sizeof key, "%s.context_length", arch);
    i->max_positions = (int)fv_gguf_get_int(g, key, 2048);
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    i->rope_theta = (float)fv_gguf_get_float(g, key, 10000.0);
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    i->rms_eps = (float)fv_gguf_get_float(g, key, 1e-5);
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *scaling = fv_gguf_get_string(g, key, "none");
    if (strcmp(scaling, "none") != 0 || fv_weights_find(L->w, "rope_freqs.weight"))
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: GGUF RoPE scaling (%s) is not supported (fovea runs unscaled RoPE)",
                       strcmp(scaling, "none") ? scaling : "rope_freqs.weight");
    snprintf(key, sizeof key, "%s.rope.dimension_count", arch);
    const int64_t rot = fv_gguf_get_int(g, key, 0), hd = i->head_dim ? i->head_dim : i->hidden_size / i->heads;
    if (rot && rot != hd)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "lm: GGUF %s = %lld rotates part of the %lld-wide heads; fovea rotates whole heads", key,
                       (long long)rot, (long long)hd);
    const fv_weight_info *emb = fv_weights_find(L->w, "token_embd.weight");
    if (!emb || emb->ndim != 2)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: the GGUF file has no 2-D token_embd.weight");
    i->vocab_size = (int)emb->shape[0];
    i->bos_id = (int)fv_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1);
    i->eos_id = (int)fv_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1);
    i->image_token_id = -1;
    return FV_STATUS_OK;
}

/* ---- weights ------------------------------------------------------------------ */

/* "<prefix>layers.N.<part>" or "blk.N.<part>" */
static const char *layer_name(loader *L, char *buf, int layer, const char *hf, const char *gguf)
{
    if (L->gguf) snprintf(buf, NAME_BYTES, "blk.%d.%s", layer, gguf);
    else snprintf(buf, NAME_BYTES, "%slayers.%d.%s", L->prefix, layer, hf);
    return buf;
}

/* "<base>.weight" as a matrix and "<base>.bias" where the file has one (or must have one) */
static fv_status load_linear(loader *L, int layer, const char *hf, const char *gguf, int64_t rows, int64_t cols,
                             bool need_bias, fv_tensor **w, fv_tensor **b)
{
    char base[NAME_BYTES], n[NAME_BYTES + 8];
    layer_name(L, base, layer, hf, gguf);
    snprintf(n, sizeof n, "%s.weight", base);
    fv_status st = load_matrix(L, n, rows, cols, w);
    if (st) return st;
    snprintf(n, sizeof n, "%s.bias", base);
    if (need_bias || has(L, n)) st = load_vector(L, n, rows, b);
    return st;
}

static fv_status load_layer(loader *L, int l, lm_layer *y)
{
    const fv_lm_model_info *i = &L->m->info;
    const int64_t D = i->hidden_size, F = i->intermediate_size, Q = (int64_t)i->heads * i->head_dim,
                  KV = (int64_t)i->kv_heads * i->head_dim;
    const bool qb = i->attention_bias;
    char n[NAME_BYTES];
    fv_status st = load_vector(L, layer_name(L, n, l, "input_layernorm.weight", "attn_norm.weight"), D, &y->attn_norm);
    if (!st) st = load_linear(L, l, "self_attn.q_proj", "attn_q", Q, D, qb, &y->q_w, &y->q_b);
    if (!st) st = load_linear(L, l, "self_attn.k_proj", "attn_k", KV, D, qb, &y->k_w, &y->k_b);
    if (!st) st = load_linear(L, l, "self_attn.v_proj", "attn_v", KV, D, qb, &y->v_w, &y->v_b);
    if (!st) st = load_linear(L, l, "self_attn.o_proj", "attn_output", D, Q, false, &y->o_w, &y->o_b);
    if (!st)
        st = load_vector(L, layer_name(L, n, l, "post_attention_layernorm.weight", "ffn_norm.weight"), D, &y->ffn_norm);
    if (!st) st = load_linear(L, l, "mlp.gate_proj", "ffn_gate", F, D, false, &y->gate_w, &y->gate_b);
    if (!st) st = load_linear(L, l, "mlp.up_proj", "ffn_up", F, D, false, &y->up_w, &y->up_b);
    if (!st) st = load_linear(L, l, "mlp.down_proj", "ffn_down", D, F, false, &y->down_w, &y->down_b);
    return st;
}

static fv_status load_weights(loader *L)
{
    fv_lm_model *m = L->m;
    fv_lm_model_info *i = &m->info;
    const int64_t V = i->vocab_size, D = i->hidden_size, shape[2] = {V, D};
    char emb[NAME_BYTES], norm[NAME_BYTES], head[NAME_BYTES];
    if (L->gguf) {
        snprintf(emb, sizeof emb, "token_embd.weight");
        snprintf(norm, sizeof norm, "output_norm.weight");
        snprintf(head, sizeof head, "output.weight");
    } else {
        snprintf(emb, sizeof emb, "%sembed_tokens.weight", L->prefix);
        snprintf(norm, sizeof norm, "%snorm.weight", L->prefix);
        snprintf(head, sizeof head, "%s", L->head_name);
    }
    /* Qwen2 always has q/k/v biases; a Llama file may (attention_bias) */
    char probe[NAME_BYTES];
    layer_name(L, probe, 0, "self_attn.q_proj.bias", "attn_q.bias");
    i->attention_bias = i->arch == FV_LM_ARCH_QWEN2 || has(L, probe);
    i->tied_embeddings = !has(L, head);
    /* the embedding table: f16 beside f16 matrices, else f32 (gather reads f32 or f16) */
    fv_dtype head_dtype = FV_DTYPE_F32;
    fv_status st = matrix_dtype(L, i->tied_embeddings ? emb : head, V, D, &head_dtype);
    if (st) return st;
    i->embedding_dtype = head_dtype == FV_DTYPE_F16 ? FV_DTYPE_F16 : FV_DTYPE_F32;
    st = fv_weights_load(L->w, emb, i->embedding_dtype, 2, shape, &m->embed);
    if (!st) st = load_vector(L, norm, D, &m->norm);
    if (st) return st;
    if (i->tied_embeddings && head_dtype == i->embedding_dtype) m->head = m->embed;
    else st = load_matrix(L, i->tied_embeddings ? emb : head, V, D, &m->head);
    if (st) return st;
    for (int l = 0; l < i->layers && !st; l++) st = load_layer(L, l, &m->layers[l]);
    if (!st) i->weight_dtype = fv_tensor_dtype(m->layers[0].q_w);
    return st;
}

/* ---- the model ---------------------------------------------------------------- */

fv_status fv_lm_new(fv_context *ctx, fv_lm_model **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    (*out)->ctx = ctx;
    return FV_STATUS_OK;
}

fv_status fv_lm_check_config(fv_lm_model *m)
{
    fv_lm_model_info *i = &m->info;
    if (!i->head_dim && i->heads > 0) i->head_dim = i->hidden_size / i->heads;
    char what[160] = "";
    if (i->hidden_size <= 0 || i->heads <= 0 || i->kv_heads <= 0 || i->heads % i->kv_heads)
        snprintf(what, sizeof what, "hidden size %d, %d heads, %d KV heads (heads must be a multiple of KV heads)",
                 i->hidden_size, i->heads, i->kv_heads);
    else if (i->head_dim <= 0 || i->head_dim % 2)
        snprintf(what, sizeof what, "head size %d (even, positive)", i->head_dim);
    else if (i->layers <= 0 || i->layers > 1024)
        snprintf(what, sizeof what, "%d layers", i->layers);
    else if (i->intermediate_size <= 0 || i->vocab_size <= 0)
        snprintf(what, sizeof what, "intermediate size %d, vocabulary %d", i->intermediate_size, i->vocab_size);
    else if (!(i->rope_theta > 0) || !(i->rms_eps > 0) || i->max_positions <= 0)
        snprintf(what, sizeof what, "rope theta %g, rms eps %g, %d positions", (double)i->rope_theta,
                 (double)i->rms_eps, i->max_positions);
    if (what[0]) return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "lm: bad configuration: %s", what);
    m->layers = calloc((size_t)i->layers, sizeof *m->layers);
    if (!m->layers) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "lm: out of host memory");
    return FV_STATUS_OK;
}

void fv_lm_count_bytes(fv_lm_model *m)
{
    uint64_t n = fv_tensor_nbytes(m->embed) + fv_tensor_nbytes(m->norm);
    if (m->head != m->embed) n += fv_tensor_nbytes(m->head);
    for (int l = 0; l < m->info.layers; l++) {
        fv_tensor **t = (fv_tensor **)&m->layers[l];
        for (size_t k = 0; k < sizeof(lm_layer) / sizeof(fv_tensor *); k++)
            if (t[k]) n += fv_tensor_nbytes(t[k]);
    }
    m->info.weight_bytes = n;
}

static bool matrix_dtype_ok(fv_dtype d)
{
    return d == FV_DTYPE_F32 || d == FV_DTYPE_F16 || d == FV_DTYPE_Q8_0 || d == FV_DTYPE_Q4_0;
}

fv_status fv_lm_model_load(fv_context *ctx, const char *path, const fv_lm_load_desc *desc, fv_lm_model **out)
{
    if (!ctx || !path || !out) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "fv_lm_model_load: NULL argument");
    *out = NULL;
    const fv_lm_load_desc d = desc ? *desc : (fv_lm_load_desc){0};
    if (d.convert && !matrix_dtype_ok(d.weight_dtype))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "lm: weight dtype %s (f32, f16, q8_0 or q4_0)",
                       fv_dtype_name(d.weight_dtype));
    fv_lm_model *m;
    fv_status st = fv_lm_new(ctx, &m);
    if (st) return st;
    fv_weights_desc wd = {.progress = d.progress};
    loader L = {.m = m, .convert = d.convert, .wdtype = d.weight_dtype};
    st = fv_weights_open(ctx, path, &wd, &L.w);
    if (!st) {
        L.gguf = fv_weights_gguf(L.w) != NULL;
        st = L.gguf ? config_gguf(&L) : config_hf(&L);
    }
    if (!st) st = fv_lm_check_config(m);
    if (!st) st = load_weights(&L);
    fv_weights_close(L.w);
    if (st) {
        fv_lm_model_destroy(m);
        return st;
    }
    fv_lm_count_bytes(m);
    *out = m;
    return FV_STATUS_OK;
}

void fv_lm_model_destroy(fv_lm_model *m)
{
    if (!m) return;
    if (m->head != m->embed) fv_tensor_destroy(m->head);
    fv_tensor_destroy(m->embed);
    fv_tensor_destroy(m->norm);
    for (int l = 0; m->layers && l < m->info.layers; l++) {
        fv_tensor **t = (fv_tensor **)&m->layers[l];
        for (size_t k = 0; k < sizeof(lm_layer) / sizeof(fv_tensor *); k++) fv_tensor_destroy(t[k]);
    }
    free(m->layers);
    free(m);
}

fv_status fv_lm_model_get_info(const fv_lm_model *m, fv_lm_model_info *out)
{
    if (!m || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = m->info;
    return FV_STATUS_OK;
}

fv_context *fv_lm_model_context(const fv_lm_model *m) { return m ? m->ctx : NULL; }
