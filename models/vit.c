/* Vision encoder models: configuration and weights of a ViT in the layouts
 * fovea reads (fovea/vision.h), checked by name and shape and uploaded.
 *
 * Hugging Face names, under a prefix found by probing the weights
 * ("vision_model." for CLIPVisionModel / SiglipVisionModel / CLIPModel,
 * "vision_tower.vision_model." or "model.vision_tower.vision_model." for
 * LLaVA, which is how fovea-tiny is stored):
 *   embeddings.patch_embedding.weight [D, C, p, p] (.bias [D]: SigLIP)
 *   embeddings.class_embedding [D] (CLIP), embeddings.position_embedding.weight [(1 +) g*g, D]
 *   pre_layrnorm.{weight,bias} (CLIP), post_layernorm.{weight,bias}
 *   encoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}, .layer_norm1/2, .mlp.fc1/fc2
 *   head.probe [1,1,D], head.attention.in_proj_{weight [3D, D], bias [3D]},
 *   head.attention.out_proj, head.layernorm, head.mlp.fc1/fc2 (SigLIP's pooling head)
 * Configuration: config.json's vision_config (LLaVA, CLIPModel) or its top
 * level (CLIPVisionModel, SiglipVisionModel).
 *
 * llama.cpp mmproj GGUF names (gguf-py: constants.TENSOR_NAMES, MODEL_TENSOR.V_*):
 *   v.patch_embd.weight [D, C, p, p] (V_ENC_EMBD_PATCH; .bias optional)
 *   v.class_embd [D] (V_ENC_EMBD_CLS), v.position_embd.weight [1 + g*g, D] (V_ENC_EMBD_POS)
 *   v.pre_ln.{weight,bias} (V_PRE_NORM), v.post_ln.{weight,bias} (V_POST_NORM; optional:
 *     converters for LLaVA drop it)
 *   v.blk.N.attn_{q,k,v,out}.{weight,bias} (V_ENC_ATTN_Q/K/V/O), v.blk.N.ln1 / ln2
 *     (V_ENC_INPUT_NORM / V_ENC_POST_ATTN_NORM), v.blk.N.ffn_up = fc1 [F, D] and
 *     v.blk.N.ffn_down = fc2 [D, F] (V_ENC_FFN_UP / V_ENC_FFN_DOWN)
 * llama.cpp's older convert_image_encoder_to_gguf.py wrote fc1 as ffn_down and
 * fc2 as ffn_up; like llama.cpp, the two are told apart by their shapes.
 * Metadata (gguf-py: Keys.ClipVision): clip.vision.image_size, .patch_size,
 * .embedding_length, .feed_forward_length, .block_count,
 * .attention.head_count, .attention.layer_norm_epsilon, .image_mean,
 * .image_std; clip.use_gelu (erf GELU) and clip.use_silu, else quick_gelu;
 * clip.has_vision_encoder. */
#include "vit_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NAME_BYTES 256
/* a base name plus ".weight" / ".bias" */
#define FULL_BYTES (NAME_BYTES + 8)

typedef enum vit_source { SRC_HF = 0, SRC_GGUF } vit_source;

/* Loading state: the weight set, the dtype of matrices, the name prefix. */
typedef struct loader {
    fv_vision_model *m;
    fv_weights *w;
    vit_source src;
    const char *prefix; /* HF: where the vision model's names start */
    fv_dtype wdtype;
} loader;

/* ---- tensors ------------------------------------------------------------------ */

static fv_status load_t(loader *L, const char *name, fv_dtype dtype, int ndim, const int64_t *shape, fv_tensor **out)
{
    return fv_weights_load(L->w, name, dtype, ndim, shape, out);
}

/* weight [rows, cols] in the matrix dtype and bias [rows] in f32, "<base>.weight" and "<base>.bias" */
static fv_status load_linear(loader *L, const char *base, int64_t rows, int64_t cols, fv_tensor **wt, fv_tensor **bt)
{
    char n[FULL_BYTES];
    const int64_t ws[2] = {rows, cols}, bs[1] = {rows};
    snprintf(n, sizeof n, "%s.weight", base);
    fv_status st = load_t(L, n, L->wdtype, 2, ws, wt);
    if (st) return st;
    snprintf(n, sizeof n, "%s.bias", base);
    return load_t(L, n, FV_DTYPE_F32, 1, bs, bt);
}

static fv_status load_norm(loader *L, const char *base, int64_t d, fv_tensor **wt, fv_tensor **bt)
{
    char n[FULL_BYTES];
    const int64_t s[1] = {d};
    snprintf(n, sizeof n, "%s.weight", base);
    fv_status st = load_t(L, n, FV_DTYPE_F32, 1, s, wt);
    if (st) return st;
    snprintf(n, sizeof n, "%s.bias", base);
    return load_t(L, n, FV_DTYPE_F32, 1, s, bt);
}

static bool has(loader *L, const char *name) { return fv_weights_find(L->w, name) != NULL; }

/* "<prefix><fmt with layer>" */
static const char *hf_name(loader *L, char *buf, const char *fmt, int layer)
{
    char tail[NAME_BYTES];
    snprintf(tail, sizeof tail, fmt, layer);
    snprintf(buf, NAME_BYTES, "%s%s", L->prefix, tail);
    return buf;
}

/* Rows [row0, row0 + rows) of a stored [R, cols] tensor, converted to dtype
 * (f32 or f16) in a new tensor of `ndim` dims `shape`. For the parts of a
 * packed in_proj. */
static fv_status load_rows(loader *L, const fv_weight_info *info, int64_t row0, int64_t rows, int64_t cols,
                           fv_dtype dtype, int ndim, const int64_t *shape, fv_tensor **out)
{
    fv_context *ctx = L->m->ctx;
    const int64_t n = rows * cols;
    if (fv_file_dtype_block(info->dtype) != 1 && ((row0 * cols) % 32 || n % 32))
        return fv_fail(ctx, FV_STATUS_UNSUPPORTED, "vision: '%s' is quantised in blocks that straddle its parts",
                       info->name);
    if (!fv_convert_supported(info->dtype, FV_DTYPE_F32))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "vision: '%s' is stored as %s, not a float type",
                       info->name, fv_file_dtype_name(info->dtype));
    float *f = malloc((size_t)n * sizeof *f);
    void *enc = dtype == FV_DTYPE_F32 ? (void *)f : malloc((size_t)n * 2);
    if (!f || !enc) {
        free(f);
        if (enc != f) free(enc);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    }
    fv_convert_to_f32(info->dtype, info->data, row0 * cols, n, f);
    if (dtype != FV_DTYPE_F32) fv_convert_from_f32(dtype, f, n, enc);
    fv_status st = fv_tensor_create(ctx, dtype, ndim, shape, out);
    if (!st) st = fv_tensor_upload(*out, enc, fv_tensor_nbytes(*out));
    if (st) {
        fv_tensor_destroy(*out);
        *out = NULL;
    }
    if (enc != f) free(enc);
    free(f);
    return st;
}

/* ---- position tables ---------------------------------------------------------- */

/* Taps of one output position along an axis, as torch.nn.functional.interpolate
 * computes them with align_corners=False: source x = (i + 0.5) * in / out - 0.5,
 * clamped at 0 for bilinear; for bicubic, Keys' cubic convolution with
 * a = -0.75 over the 4 nearest positions, indices clamped to the edge. */
static int axis_taps(int in, int out, int i, fv_vision_pos_resize mode, int idx[4], double w[4])
{
    const double scale = (double)in / out, x = (i + 0.5) * scale - 0.5;
    if (mode == FV_VISION_POS_BILINEAR) {
        const double s = x < 0 ? 0 : x;
        const int x0 = (int)s, x1 = x0 < in - 1 ? x0 + 1 : x0;
        const double t = s - x0;
        idx[0] = x0, idx[1] = x1, w[0] = 1 - t, w[1] = t;
        return 2;
    }
    const double A = -0.75, f = floor(x), t = x - f;
    const double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
    w[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
    w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    w[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
    w[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
    for (int k = 0; k < 4; k++) {
        int j = (int)f - 1 + k;
        idx[k] = j < 0 ? 0 : j >= in ? in - 1 : j;
    }
    return 4;
}

fv_status fv_vit_position_table(const fv_vision_model *m, int gh, int gw, fv_tensor **out)
{
    const int D = m->info.hidden_size, g = m->trained_grid, head = m->info.has_cls ? 1 : 0;
    const int64_t rows = (int64_t)gh * gw + head;
    float *t = malloc((size_t)rows * (size_t)D * sizeof *t);
    if (!t) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    if (gh == g && gw == g) {
        memcpy(t, m->pos_host, (size_t)rows * (size_t)D * sizeof *t);
    } else {
        memcpy(t, m->pos_host, (size_t)head * (size_t)D * sizeof *t); /* [CLS] keeps its position */
        const float *src = m->pos_host + (size_t)head * (size_t)D;
        for (int y = 0; y < gh; y++) {
            int iy[4], ix[4];
            double wy[4], wx[4];
            const int ny = axis_taps(g, gh, y, m->pos_resize, iy, wy);
            for (int x = 0; x < gw; x++) {
                const int nx = axis_taps(g, gw, x, m->pos_resize, ix, wx);
                float *dst = t + ((size_t)head + (size_t)y * gw + x) * D;
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int a = 0; a < ny; a++) {
                        double row = 0;
                        for (int b = 0; b < nx; b++) row += wx[b] * src[((size_t)iy[a] * g + ix[b]) * D + d];
                        acc += wy[a] * row;
                    }
                    dst[d] = (float)acc;
                }
            }
        }
    }
    const int64_t shape[2] = {rows, D};
    fv_status st = fv_tensor_create(m->ctx, FV_DTYPE_F32, 2, shape, out);
    if (!st) st = fv_tensor_upload(*out, t, fv_tensor_nbytes(*out));
    if (st) {
        fv_tensor_destroy(*out);
        *out = NULL;
    }
    free(t);
    return st;
}

/* The stored table, kept on the host as f32 for resizing. */
static fv_status read_positions(loader *L, const char *name)
{
    fv_vision_model *m = L->m;
    const int g = m->trained_grid, head = m->info.has_cls ? 1 : 0;
    const int64_t shape[2] = {(int64_t)g * g + head, m->info.hidden_size};
    const fv_weight_info *info;
    fv_status st = fv_weights_get(L->w, name, 2, shape, &info);
    if (st) return st;
    if (!fv_convert_supported(info->dtype, FV_DTYPE_F32))
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: '%s' is stored as %s, not a float type",
                       name, fv_file_dtype_name(info->dtype));
    m->pos_rows = (int)shape[0];
    m->pos_host = malloc((size_t)(shape[0] * shape[1]) * sizeof(float));
    if (!m->pos_host) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    fv_convert_to_f32(info->dtype, info->data, 0, shape[0] * shape[1], m->pos_host);
    return FV_STATUS_OK;
}

/* ---- configuration ------------------------------------------------------------ */

static fv_status parse_act(fv_vision_model *m, const char *name)
{
    static const struct {
        const char *hf;
        vit_act act;
        const char *ours;
    } acts[] = {
        {"quick_gelu", VIT_ACT_QUICK_GELU, "quick_gelu"}, {"gelu", VIT_ACT_GELU, "gelu"},
        {"gelu_pytorch_tanh", VIT_ACT_GELU_TANH, "gelu_tanh"}, {"gelu_new", VIT_ACT_GELU_TANH, "gelu_tanh"},
        {"gelu_fast", VIT_ACT_GELU_TANH, "gelu_tanh"}, {"silu", VIT_ACT_SILU, "silu"}, {"swish", VIT_ACT_SILU, "silu"},
    };
    for (size_t i = 0; i < FV_ARRAY_LEN(acts); i++)
        if (strcmp(name, acts[i].hf) == 0) {
            m->act = acts[i].act;
            m->info.activation = acts[i].ours;
            return FV_STATUS_OK;
        }
    return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                   "vision: hidden_act \"%s\" is not one fovea runs (quick_gelu, gelu, gelu_pytorch_tanh, "
                   "gelu_new, gelu_fast, silu)", name);
}

/* The HF layout: architecture, prefix and hyper-parameters. */
static fv_status config_hf(loader *L)
{
    fv_vision_model *m = L->m;
    const fv_config *c = fv_weights_config(L->w);
    if (!c) return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: the directory has no config.json");
    static const char *const prefixes[] = {"vision_model.", "vision_tower.vision_model.",
                                           "model.vision_tower.vision_model.", ""};
    L->prefix = NULL;
    for (size_t i = 0; i < FV_ARRAY_LEN(prefixes) && !L->prefix; i++) {
        char n[NAME_BYTES];
        snprintf(n, sizeof n, "%sembeddings.patch_embedding.weight", prefixes[i]);
        if (has(L, n)) L->prefix = prefixes[i];
    }
    if (!L->prefix)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "vision: no vision tower in the weights (looked for embeddings.patch_embedding.weight under "
                       "vision_model., vision_tower.vision_model., model.vision_tower.vision_model.)");
    const bool nested = fv_config_has(c, "vision_config");
    const char *vc = nested ? "vision_config." : "";
    char key[96];
    const char *type = NULL;
    snprintf(key, sizeof key, "%smodel_type", vc);
    if (fv_config_string(c, key, "", &type)) type = "";
    char n[NAME_BYTES];
    if (strstr(type, "siglip")) m->info.arch = FV_VISION_ARCH_SIGLIP;
    else if (strstr(type, "clip")) m->info.arch = FV_VISION_ARCH_CLIP;
    else /* no type: a [CLS] embedding means CLIP */
        m->info.arch = has(L, hf_name(L, n, "embeddings.class_embedding", 0)) ? FV_VISION_ARCH_CLIP
                                                                               : FV_VISION_ARCH_SIGLIP;
    const bool siglip = m->info.arch == FV_VISION_ARCH_SIGLIP;
    m->info.layout = strstr(L->prefix, "vision_tower") ? "llava" : siglip ? "hf-siglip" : "hf-clip";
    /* defaults: transformers' CLIPVisionConfig / SiglipVisionConfig */
    int64_t hidden, inter, layers, heads, channels, image, patch;
    const struct {
        const char *key;
        int64_t def, *out;
    } ints[] = {
        {"hidden_size", 768, &hidden},        {"intermediate_size", 3072, &inter},
        {"num_hidden_layers", 12, &layers},   {"num_attention_heads", 12, &heads},
        {"num_channels", 3, &channels},       {"image_size", 224, &image},
        {"patch_size", siglip ? 16 : 32, &patch},
    };
    for (size_t i = 0; i < FV_ARRAY_LEN(ints); i++) {
        snprintf(key, sizeof key, "%s%s", vc, ints[i].key);
        if (fv_config_int(c, key, ints[i].def, ints[i].out))
            return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: config key %s is not an integer", key);
    }
    double eps;
    const char *act;
    snprintf(key, sizeof key, "%slayer_norm_eps", vc);
    if (fv_config_float(c, key, siglip ? 1e-6 : 1e-5, &eps))
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: config key %s is not a number", key);
    snprintf(key, sizeof key, "%shidden_act", vc);
    if (fv_config_string(c, key, siglip ? "gelu_pytorch_tanh" : "quick_gelu", &act))
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: config key %s is not a string", key);
    int64_t feature = 0;
    if (nested && fv_config_int(c, "vision_feature_layer", 0, &feature)) feature = 0;
    m->info.hidden_size = (int)hidden;
    m->info.intermediate_size = (int)inter;
    m->info.layers = (int)layers;
    m->info.heads = (int)heads;
    m->info.channels = (int)channels;
    m->info.trained_image_size = (int)image;
    m->info.patch_size = (int)patch;
    m->info.feature_layer = (int)feature;
    m->eps = (float)eps;
    m->info.has_cls = !siglip;
    return parse_act(m, act);
}

static fv_status config_gguf(loader *L)
{
    fv_vision_model *m = L->m;
    const fv_gguf *g = fv_weights_gguf(L->w);
    const char *arch = fv_gguf_get_string(g, "general.architecture", "");
    if (strcmp(arch, "clip") != 0)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: GGUF general.architecture is \"%s\"; an "
                       "mmproj file says \"clip\"", arch);
    if (!fv_gguf_get_bool(g, "clip.has_vision_encoder", true))
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: the GGUF file has no vision encoder");
    if (!fv_gguf_find_tensor(g, "v.class_embd"))
        return fv_fail(m->ctx, FV_STATUS_UNSUPPORTED, "vision: the GGUF encoder has no v.class_embd: fovea "
                       "reads the CLIP encoders of mmproj files (with a [CLS] token)");
    static const char *const keys[] = {"clip.vision.embedding_length", "clip.vision.feed_forward_length",
                                       "clip.vision.block_count", "clip.vision.attention.head_count",
                                       "clip.vision.image_size", "clip.vision.patch_size"};
    int64_t v[6];
    for (int i = 0; i < 6; i++) {
        v[i] = fv_gguf_get_int(g, keys[i], -1);
        if (v[i] <= 0)
            return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: GGUF metadata %s is missing", keys[i]);
    }
    m->info.arch = FV_VISION_ARCH_CLIP;
    m->info.layout = "gguf-mmproj";
    m->info.hidden_size = (int)v[0];
    m->info.intermediate_size = (int)v[1];
    m->info.layers = (int)v[2];
    m->info.heads = (int)v[3];
    m->info.trained_image_size = (int)v[4];
    m->info.patch_size = (int)v[5];
    m->info.channels = 3;
    m->info.has_cls = true;
    m->eps = (float)fv_gguf_get_float(g, "clip.vision.attention.layer_norm_epsilon", 1e-5);
    /* llama.cpp: use_gelu means GELU, use_silu SiLU, neither quick_gelu */
    m->act = fv_gguf_get_bool(g, "clip.use_gelu", false)   ? VIT_ACT_GELU
             : fv_gguf_get_bool(g, "clip.use_silu", false) ? VIT_ACT_SILU
                                                           : VIT_ACT_QUICK_GELU;
    m->info.activation = m->act == VIT_ACT_GELU ? "gelu" : m->act == VIT_ACT_SILU ? "silu" : "quick_gelu";
    /* preprocessing: CLIP's fit with the file's mean and std */
    fv_preprocess_desc *p = &m->preprocess;
    memset(p, 0, sizeof *p);
    p->fit = FV_IMAGE_FIT_SHORTEST_CROP;
    const char *stat_keys[2] = {"clip.vision.image_mean", "clip.vision.image_std"};
    for (int s = 0; s < 2; s++) {
        int64_t k = fv_gguf_find_key(g, stat_keys[s]);
        if (k < 0) continue;
        float *dst = s ? p->std : p->mean;
        for (uint64_t i = 0; i < 3; i++) {
            double val;
            if (fv_gguf_elem_count(g, k) != 3 || fv_gguf_value_float(g, k, i, &val))
                return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: GGUF metadata %s must be three numbers",
                               stat_keys[s]);
            dst[i] = (float)val;
        }
    }
    return FV_STATUS_OK;
}

/* The model's own preprocessing for HF directories. */
static fv_status preprocess_hf(loader *L)
{
    fv_vision_model *m = L->m;
    const fv_config *pc = fv_weights_preprocessor_config(L->w);
    if (pc) {
        char err[256];
        fv_status st = fv_preprocess_desc_from_config(pc, &m->preprocess, err, sizeof err);
        return st ? fv_fail(m->ctx, st, "vision: %s", err) : FV_STATUS_OK;
    }
    fv_preprocess_desc *p = &m->preprocess;
    memset(p, 0, sizeof *p);
    if (m->info.arch == FV_VISION_ARCH_SIGLIP) {
        p->fit = FV_IMAGE_FIT_STRETCH;
        for (int i = 0; i < 3; i++) p->mean[i] = p->std[i] = 0.5f;
    }
    return FV_STATUS_OK;
}

/* ---- weights ------------------------------------------------------------------ */

static fv_status load_embeddings(loader *L)
{
    fv_vision_model *m = L->m;
    const int64_t D = m->info.hidden_size, C = m->info.channels, p = m->info.patch_size;
    const bool gguf = L->src == SRC_GGUF;
    char n[NAME_BYTES];
    const int64_t ks[4] = {D, C, p, p}, kflat[2] = {D, C * p * p}, ds[1] = {D}, cs[3] = {1, 1, D};
    const char *pw = gguf ? "v.patch_embd.weight" : hf_name(L, n, "embeddings.patch_embedding.weight", 0);
    fv_status st = fv_weights_load_as(L->w, pw, L->wdtype, 4, ks, 2, kflat, &m->patch_w);
    if (st) return st;
    const char *pb = gguf ? "v.patch_embd.bias" : hf_name(L, n, "embeddings.patch_embedding.bias", 0);
    /* SigLIP's convolution has a bias; CLIP's has none, but take one where a file has it */
    if (m->info.arch == FV_VISION_ARCH_SIGLIP || has(L, pb)) {
        st = load_t(L, pb, FV_DTYPE_F32, 1, ds, &m->patch_b);
        if (st) return st;
    }
    if (m->info.has_cls) {
        const char *cn = gguf ? "v.class_embd" : hf_name(L, n, "embeddings.class_embedding", 0);
        st = fv_weights_load_as(L->w, cn, FV_DTYPE_F32, 1, ds, 3, cs, &m->cls);
        if (st) return st;
    }
    const char *pos = gguf ? "v.position_embd.weight" : hf_name(L, n, "embeddings.position_embedding.weight", 0);
    return read_positions(L, pos);
}

static fv_status load_layer(loader *L, int i, vit_layer *ly)
{
    fv_vision_model *m = L->m;
    const int64_t D = m->info.hidden_size, F = m->info.intermediate_size;
    char b[8][NAME_BYTES];
    if (L->src == SRC_GGUF) {
        static const char *const parts[8] = {"ln1", "attn_q", "attn_k", "attn_v", "attn_out", "ln2", "ffn_up",
                                             "ffn_down"};
        for (int k = 0; k < 8; k++) snprintf(b[k], NAME_BYTES, "v.blk.%d.%s", i, parts[k]);
        /* the older converter's swapped names: ffn_down then holds fc1 [F, D] */
        char n[FULL_BYTES];
        snprintf(n, sizeof n, "%s.weight", b[7]);
        const fv_weight_info *down = fv_weights_find(L->w, n);
        if (F != D && down && down->ndim == 2 && down->shape[0] == F && down->shape[1] == D) {
            char t[NAME_BYTES];
            memcpy(t, b[6], NAME_BYTES);
            memcpy(b[6], b[7], NAME_BYTES);
            memcpy(b[7], t, NAME_BYTES);
        }
    } else {
        static const char *const parts[8] = {
            "encoder.layers.%d.layer_norm1",        "encoder.layers.%d.self_attn.q_proj",
            "encoder.layers.%d.self_attn.k_proj",   "encoder.layers.%d.self_attn.v_proj",
            "encoder.layers.%d.self_attn.out_proj", "encoder.layers.%d.layer_norm2",
            "encoder.layers.%d.mlp.fc1",            "encoder.layers.%d.mlp.fc2"};
        for (int k = 0; k < 8; k++) hf_name(L, b[k], parts[k], i);
    }
    fv_status st = load_norm(L, b[0], D, &ly->ln1_w, &ly->ln1_b);
    if (!st) st = load_linear(L, b[1], D, D, &ly->q_w, &ly->q_b);
    if (!st) st = load_linear(L, b[2], D, D, &ly->k_w, &ly->k_b);
    if (!st) st = load_linear(L, b[3], D, D, &ly->v_w, &ly->v_b);
    if (!st) st = load_linear(L, b[4], D, D, &ly->o_w, &ly->o_b);
    if (!st) st = load_norm(L, b[5], D, &ly->ln2_w, &ly->ln2_b);
    if (!st) st = load_linear(L, b[6], F, D, &ly->fc1_w, &ly->fc1_b);
    if (!st) st = load_linear(L, b[7], D, F, &ly->fc2_w, &ly->fc2_b);
    return st;
}

/* SigLIP's pooling head; in_proj [3D, D] is split into q, k, v. */
static fv_status load_head(loader *L)
{
    fv_vision_model *m = L->m;
    vit_head *h = &m->head;
    const int64_t D = m->info.hidden_size, F = m->info.intermediate_size;
    char n[NAME_BYTES];
    const int64_t ps[3] = {1, 1, D}, ws[2] = {3 * D, D}, bs[1] = {3 * D}, wpart[2] = {D, D}, bpart[1] = {D};
    fv_status st = load_t(L, hf_name(L, n, "head.probe", 0), FV_DTYPE_F32, 3, ps, &h->probe);
    if (st) return st;
    const fv_weight_info *wi, *bi;
    st = fv_weights_get(L->w, hf_name(L, n, "head.attention.in_proj_weight", 0), 2, ws, &wi);
    if (!st) st = fv_weights_get(L->w, hf_name(L, n, "head.attention.in_proj_bias", 0), 1, bs, &bi);
    if (st) return st;
    fv_tensor **pw[3] = {&h->q_w, &h->k_w, &h->v_w}, **pb[3] = {&h->q_b, &h->k_b, &h->v_b};
    for (int k = 0; k < 3 && !st; k++) {
        st = load_rows(L, wi, k * D, D, D, L->wdtype, 2, wpart, pw[k]);
        if (!st) st = load_rows(L, bi, k * D, D, 1, FV_DTYPE_F32, 1, bpart, pb[k]);
    }
    if (!st) st = load_linear(L, hf_name(L, n, "head.attention.out_proj", 0), D, D, &h->o_w, &h->o_b);
    if (!st) st = load_norm(L, hf_name(L, n, "head.layernorm", 0), D, &h->ln_w, &h->ln_b);
    if (!st) st = load_linear(L, hf_name(L, n, "head.mlp.fc1", 0), F, D, &h->fc1_w, &h->fc1_b);
    if (!st) st = load_linear(L, hf_name(L, n, "head.mlp.fc2", 0), D, F, &h->fc2_w, &h->fc2_b);
    return st;
}

static fv_status load_weights(loader *L)
{
    fv_vision_model *m = L->m;
    const bool gguf = L->src == SRC_GGUF;
    const int64_t D = m->info.hidden_size;
    char n[NAME_BYTES];
    fv_status st = load_embeddings(L);
    if (st) return st;
    /* CLIP's pre-norm; an mmproj file may lack it */
    const char *pre = gguf ? "v.pre_ln" : hf_name(L, n, "pre_layrnorm", 0);
    char probe[FULL_BYTES];
    snprintf(probe, sizeof probe, "%s.weight", pre);
    if (m->info.arch == FV_VISION_ARCH_CLIP && (!gguf || has(L, probe))) {
        st = load_norm(L, pre, D, &m->pre_w, &m->pre_b);
        if (st) return st;
    }
    m->layers = calloc((size_t)m->info.layers, sizeof *m->layers);
    if (!m->layers) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    for (int i = 0; i < m->info.layers; i++) {
        st = load_layer(L, i, &m->layers[i]);
        if (st) return st;
    }
    const char *post = gguf ? "v.post_ln" : hf_name(L, n, "post_layernorm", 0);
    snprintf(probe, sizeof probe, "%s.weight", post);
    if (!gguf || has(L, probe)) {
        st = load_norm(L, post, D, &m->post_w, &m->post_b);
        if (st) return st;
    }
    /* SigLIP's head is optional in transformers (vision_use_head) */
    if (m->info.arch == FV_VISION_ARCH_SIGLIP && has(L, hf_name(L, n, "head.probe", 0))) {
        st = load_head(L);
        if (st) return st;
        m->info.has_pooling_head = true;
    }
    return FV_STATUS_OK;
}

/* ---- the model ---------------------------------------------------------------- */

fv_status fv_vit_new(fv_context *ctx, const fv_vision_load_desc *desc, fv_vision_model **out)
{
    *out = NULL;
    fv_vision_load_desc d = desc ? *desc : (fv_vision_load_desc){0};
    if (d.weight_dtype != FV_DTYPE_F32 && d.weight_dtype != FV_DTYPE_F16)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "vision: weight dtype %s (f32 or f16)",
                       fv_dtype_name(d.weight_dtype));
    if ((unsigned)d.pos_resize > FV_VISION_POS_BICUBIC || d.image_size < 0)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "vision: bad load descriptor (pos_resize %d, image_size %d)",
                       (int)d.pos_resize, d.image_size);
    fv_vision_model *m = calloc(1, sizeof *m);
    if (!m) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vision: out of host memory");
    m->ctx = ctx;
    m->pos_resize = d.pos_resize;
    m->info.weight_dtype = d.weight_dtype;
    *out = m;
    return FV_STATUS_OK;
}

fv_status fv_vit_set_size(fv_vision_model *m, int image_size)
{
    fv_vision_model_info *i = &m->info;
    char what[160] = "";
    if (i->hidden_size <= 0 || i->heads <= 0 || i->hidden_size % i->heads)
        snprintf(what, sizeof what, "hidden size %d is not a multiple of the %d heads", i->hidden_size, i->heads);
    else if (i->layers <= 0 || i->layers > FV_VISION_MAX_LAYERS)
        snprintf(what, sizeof what, "%d layers (fovea takes 1 to %d)", i->layers, FV_VISION_MAX_LAYERS);
    else if (i->patch_size <= 0 || i->trained_image_size < i->patch_size || i->trained_image_size % i->patch_size)
        snprintf(what, sizeof what, "image size %d is not a multiple of the patch size %d", i->trained_image_size,
                 i->patch_size);
    else if (i->intermediate_size <= 0 || i->channels <= 0)
        snprintf(what, sizeof what, "intermediate size %d, %d channels", i->intermediate_size, i->channels);
    else if (image_size && image_size < i->patch_size)
        snprintf(what, sizeof what, "image size %d is below the patch size %d", image_size, i->patch_size);
    if (what[0]) return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vision: bad configuration: %s", what);
    m->trained_grid = i->trained_image_size / i->patch_size;
    i->image_size = image_size ? image_size : i->trained_image_size;
    i->grid = i->image_size / i->patch_size;
    return FV_STATUS_OK;
}

fv_status fv_vit_finish(fv_vision_model *m, bool size_given)
{
    fv_vision_model_info *i = &m->info;
    fv_status st = fv_vit_position_table(m, i->grid, i->grid, &m->pos);
    if (st) return st;
    /* the preprocessing produces the model's input size; a resize to the
     * shortest edge keeps the configured edge unless the size was changed */
    fv_preprocess_desc *p = &m->preprocess;
    if (p->fit == FV_IMAGE_FIT_STRETCH || !p->size || size_given) p->size = i->image_size;
    p->width = p->height = i->image_size;
    /* the defaults spelt out, so callers can undo the normalisation */
    static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    if (p->std[0] == 0 && p->std[1] == 0 && p->std[2] == 0) {
        memcpy(p->mean, clip_mean, sizeof p->mean);
        memcpy(p->std, clip_std, sizeof p->std);
    }
    if (p->scale == 0) p->scale = 1.0f / 255.0f;
    return FV_STATUS_OK;
}

fv_status fv_vision_model_load(fv_context *ctx, const char *path, const fv_vision_load_desc *desc,
                               fv_vision_model **out)
{
    if (!ctx || !path || !out) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "fv_vision_model_load: NULL argument");
    fv_vision_load_desc d = desc ? *desc : (fv_vision_load_desc){0};
    fv_vision_model *m;
    fv_status st = fv_vit_new(ctx, &d, &m);
    if (st) return st;
    fv_weights_desc wd = {.progress = d.progress};
    loader L = {.m = m, .wdtype = d.weight_dtype};
    st = fv_weights_open(ctx, path, &wd, &L.w);
    if (!st) {
        L.src = fv_weights_gguf(L.w) ? SRC_GGUF : SRC_HF;
        st = L.src == SRC_GGUF ? config_gguf(&L) : config_hf(&L);
    }
    if (!st) st = fv_vit_set_size(m, d.image_size);
    if (!st && L.src == SRC_HF) st = preprocess_hf(&L);
    if (!st) st = load_weights(&L);
    if (!st) st = fv_vit_finish(m, d.image_size != 0);
    fv_weights_close(L.w);
    if (st) {
        fv_vision_model_destroy(m);
        return st;
    }
    *out = m;
    return FV_STATUS_OK;
}

static void destroy_all(fv_tensor **ts, size_t n)
{
    for (size_t i = 0; i < n; i++) fv_tensor_destroy(ts[i]);
}

void fv_vision_model_destroy(fv_vision_model *m)
{
    if (!m) return;
    fv_tensor *own[] = {m->pos, m->patch_w, m->patch_b, m->cls, m->pre_w, m->pre_b, m->post_w, m->post_b};
    destroy_all(own, FV_ARRAY_LEN(own));
    for (int i = 0; m->layers && i < m->info.layers; i++)
        destroy_all((fv_tensor **)&m->layers[i], sizeof(vit_layer) / sizeof(fv_tensor *));
    destroy_all((fv_tensor **)&m->head, sizeof(vit_head) / sizeof(fv_tensor *));
    free(m->layers);
    free(m->pos_host);
    free(m);
}

fv_status fv_vision_model_get_info(const fv_vision_model *m, fv_vision_model_info *out)
{
    if (!m || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = m->info;
    return FV_STATUS_OK;
}

fv_status fv_vision_model_preprocess_desc(const fv_vision_model *m, fv_preprocess_desc *out)
{
    if (!m || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = m->preprocess;
    return FV_STATUS_OK;
}

fv_context *fv_vision_model_context(const fv_vision_model *m) { return m ? m->ctx : NULL; }
