/* Vision-language models end to end (fovea/vlm.h): a LLaVA directory's
 * vision tower, projector, decoder, tokenizer and optional draft, and the
 * sessions that run (image, question) requests through them.
 *
 * Everything between the pixels and the token ids stays on the device: the
 * compressor reads the encoder's tensors, the projector graph reads the
 * compressor's (or the encoder's) output, and the decoder's prefill reads
 * the projector's output as the input embeddings of the <image> rows.
 *
 * A session keeps what it has built, keyed by configuration, because
 * building and recording a graph costs far more than replaying it: encoders
 * by encode desc, compressors by (encoder, compress desc), projector graphs
 * by the tensor they read. A small fixed number of each is kept; the
 * oldest goes first (with everything built on it). */
#include "fovea/vlm.h"

#include "load_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ENCODERS 4
#define MAX_COMPRESSORS 8
#define MAX_PROJECTORS 12
#define DEFAULT_FORMAT "USER: <image>\n{question} ASSISTANT:"

typedef enum proj_act { ACT_GELU = 0, ACT_GELU_TANH, ACT_QUICK_GELU, ACT_SILU } proj_act;

/* LLaVA's multi_modal_projector: linear_1 → activation → linear_2. */
typedef struct projector {
    fv_tensor *w1, *b1, *w2, *b2;
    int64_t in, mid, out;
} projector;

struct fv_vlm {
    fv_context *ctx;
    fv_vision_model *vision;
    fv_vision_model_info vinfo;
    fv_lm_model *lm, *draft;
    projector proj, draft_proj;
    proj_act act;
    fv_tokenizer *tok;
    fv_preprocess_desc pre;
    int feature_layer;
    bool drop_cls;        /* vision_feature_select_strategy "default" */
    int32_t image_token;
    int32_t eos;
    char *before_image;   /* prompt template text before <image>            */
    char *after_image;    /* after it, up to {answer}, with {question} inside */
};

typedef struct enc_entry {
    fv_vision_encode_desc desc;
    fv_vision_encoder *enc;
    unsigned age;
} enc_entry;

typedef struct comp_entry {
    fv_vision_encoder *enc;
    fv_compress_desc desc;
    fv_compressor *comp;
    unsigned age;
} comp_entry;

typedef struct proj_entry {
    fv_tensor *src;       /* the [1, K, Dv] tensor it reads (another graph's) */
    fv_tensor *alias;     /* src as this graph's input */
    bool draft;
    fv_graph *g;
    fv_tensor *out;       /* [K', Dt] */
    unsigned age;
} proj_entry;

struct fv_vlm_session {
    fv_vlm *m;
    fv_lm_session *lm, *draft;
    fv_lm_sampler sampler;
    enc_entry enc[MAX_ENCODERS];
    comp_entry comp[MAX_COMPRESSORS];
    proj_entry proj[MAX_PROJECTORS];
    unsigned clock;
    float *pixels;
    size_t pixel_count;
    int32_t *kept;        /* the last request's kept token indices */
    int nkept;
    /* the last request's image and the graphs that ran on it: the same
     * pixels through the same encoder and compressor give the same visual
     * tokens, which then are still in place (several questions per image) */
    float *last_pixels;
    fv_vision_encoder *last_enc;
    fv_compressor *last_comp;
    bool last_valid;
    bool last_has_cls;
    fv_tensor *last_visual;
};

/* ---- loading -------------------------------------------------------------- */

static fv_status load_projector(fv_vlm *m, const char *path, int64_t in, int64_t out, projector *p)
{
    fv_weights *w = NULL;
    const fv_weights_desc wd = {.progress = -1};
    fv_status st = fv_weights_open(m->ctx, path, &wd, &w);
    if (st) return st;
    const fv_weight_info *info = NULL;
    const int64_t any2[2] = {-1, in};
    st = fv_weights_get(w, "multi_modal_projector.linear_1.weight", 2, any2, &info);
    if (!st) {
        p->in = in;
        p->mid = info->shape[0];
        p->out = out;
        const int64_t s1[2] = {p->mid, in}, b1[1] = {p->mid}, s2[2] = {out, p->mid}, b2[1] = {out};
        st = fv_weights_load(w, "multi_modal_projector.linear_1.weight", FV_DTYPE_F32, 2, s1, &p->w1);
        if (!st) st = fv_weights_load(w, "multi_modal_projector.linear_1.bias", FV_DTYPE_F32, 1, b1, &p->b1);
        if (!st) st = fv_weights_load(w, "multi_modal_projector.linear_2.weight", FV_DTYPE_F32, 2, s2, &p->w2);
        if (!st) st = fv_weights_load(w, "multi_modal_projector.linear_2.bias", FV_DTYPE_F32, 1, b2, &p->b2);
    }
    fv_weights_close(w);
    return st;
}

static void projector_free(projector *p)
{
    fv_tensor_destroy(p->w1);
    fv_tensor_destroy(p->b1);
    fv_tensor_destroy(p->w2);
    fv_tensor_destroy(p->b2);
    memset(p, 0, sizeof *p);
}

/* The prompt template: "fovea.prompt_format" of config.json, else LLaVA-1.5's.
 * "\n" written as two characters (as a JSON string escaping its backslash
 * shows it) means a newline. The text from "{answer}" on is the answer's
 * part and is dropped, with the spaces before it (the answer's first token
 * carries its own leading space). */
static fv_status parse_template(fv_vlm *m, const char *format)
{
    const size_t n = strlen(format);
    char *t = malloc(n + 1);
    if (!t) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (format[i] == '\\' && format[i + 1] == 'n') {
            t[k++] = '\n';
            i++;
        } else {
            t[k++] = format[i];
        }
    }
    t[k] = 0;
    char *answer = strstr(t, "{answer}");
    if (answer) {
        while (answer > t && answer[-1] == ' ') answer--;
        *answer = 0;
    }
    char *image = strstr(t, "<image>");
    if (!image || !strstr(image, "{question}")) {
        free(t);
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "vlm: the prompt format '%s' needs <image> followed by {question}", format);
    }
    *image = 0;
    m->before_image = t;
    m->after_image = strdup(image + strlen("<image>"));
    if (!m->after_image) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    return FV_STATUS_OK;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static fv_status read_config(fv_vlm *m, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    fv_config *c = NULL;
    char err[256] = "";
    fv_status st = fv_config_load(path, &c, err, sizeof err);
    if (st) return fv_fail(m->ctx, st, "vlm: %s", err);
    const char *act = NULL, *strategy = NULL, *format = NULL;
    int64_t image_token = -1;
    st = fv_config_string(c, "projector_hidden_act", "gelu", &act);
    if (!st) st = fv_config_string(c, "vision_feature_select_strategy", "default", &strategy);
    if (!st) st = fv_config_int(c, "image_token_index", 32000, &image_token);
    if (!st) st = fv_config_string(c, "fovea.prompt_format", DEFAULT_FORMAT, &format);
    if (st) {
        fv_config_destroy(c);
        return fv_fail(m->ctx, st, "vlm: %s: a LLaVA key has the wrong type", path);
    }
    if (strcmp(act, "gelu") == 0)
        m->act = ACT_GELU;
    else if (strcmp(act, "gelu_pytorch_tanh") == 0 || strcmp(act, "gelu_new") == 0)
        m->act = ACT_GELU_TANH;
    else if (strcmp(act, "quick_gelu") == 0)
        m->act = ACT_QUICK_GELU;
    else if (strcmp(act, "silu") == 0)
        m->act = ACT_SILU;
    else
        st = fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vlm: projector_hidden_act '%s' is not supported", act);
    if (!st && strcmp(strategy, "default") != 0 && strcmp(strategy, "full") != 0)
        st = fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT,
                     "vlm: vision_feature_select_strategy '%s' (fovea knows 'default' and 'full')", strategy);
    m->drop_cls = strcmp(strategy, "default") == 0;
    m->image_token = (int32_t)image_token;
    if (!st) st = parse_template(m, format);
    fv_config_destroy(c);
    return st;
}

fv_status fv_vlm_load(fv_context *ctx, const char *dir, const fv_vlm_load_desc *desc, fv_vlm **out)
{
    if (!ctx || !dir || !out) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "vlm: NULL argument");
    *out = NULL;
    const fv_vlm_load_desc d = desc ? *desc : (fv_vlm_load_desc){0};
    fv_vlm *m = calloc(1, sizeof *m);
    if (!m) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    m->ctx = ctx;
    fv_status st = read_config(m, dir);
    const fv_vision_load_desc vd = {.weight_dtype = d.vision_dtype, .progress = d.progress};
    if (!st) st = fv_vision_model_load(ctx, dir, &vd, &m->vision);
    if (!st) st = fv_vision_model_get_info(m->vision, &m->vinfo);
    if (!st) st = fv_vision_model_preprocess_desc(m->vision, &m->pre);
    const fv_lm_load_desc ld = {.convert = d.convert_text, .weight_dtype = d.text_dtype, .progress = d.progress};
    if (!st) st = fv_lm_model_load(ctx, dir, &ld, &m->lm);
    fv_lm_model_info li = {0};
    if (!st) st = fv_lm_model_get_info(m->lm, &li);
    if (!st) st = load_projector(m, dir, m->vinfo.hidden_size, li.hidden_size, &m->proj);
    if (!st) {
        m->feature_layer = m->vinfo.feature_layer ? m->vinfo.feature_layer : -2;
        m->eos = li.eos_id;
        if (li.image_token_id >= 0) m->image_token = li.image_token_id;
        char path[4096];
        char err[256] = "";
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        st = fv_tokenizer_load(path, &m->tok, err, sizeof err);
        if (st) st = fv_fail(ctx, st, "vlm: %s", err);
    }
    if (!st && m->eos < 0) m->eos = fv_tokenizer_eos_id(m->tok);
    char draft_dir[4096];
    snprintf(draft_dir, sizeof draft_dir, "%s/draft", dir);
    if (!st && !d.no_draft && is_dir(draft_dir)) {
        st = fv_lm_model_load(ctx, draft_dir, &ld, &m->draft);
        fv_lm_model_info di = {0};
        if (!st) st = fv_lm_model_get_info(m->draft, &di);
        if (!st && di.vocab_size != li.vocab_size)
            st = fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "vlm: the draft's vocabulary (%d) is not the model's (%d)",
                         di.vocab_size, li.vocab_size);
        if (!st) st = load_projector(m, draft_dir, m->vinfo.hidden_size, di.hidden_size, &m->draft_proj);
    }
    if (st) {
        fv_vlm_destroy(m);
        return st;
    }
    *out = m;
    return FV_STATUS_OK;
}

void fv_vlm_destroy(fv_vlm *m)
{
    if (!m) return;
    projector_free(&m->proj);
    projector_free(&m->draft_proj);
    fv_lm_model_destroy(m->draft);
    fv_lm_model_destroy(m->lm);
    fv_vision_model_destroy(m->vision);
    fv_tokenizer_destroy(m->tok);
    free(m->before_image);
    free(m->after_image);
    free(m);
}

fv_status fv_vlm_get_info(const fv_vlm *m, fv_vlm_info *out)
{
    if (!m || !out) return FV_STATUS_INVALID_ARGUMENT;
    const int grid = m->vinfo.grid;
    *out = (fv_vlm_info){
        .image_size = m->vinfo.image_size,
        .visual_tokens = grid * grid + (m->vinfo.has_cls && !m->drop_cls ? 1 : 0),
        .grid = grid,
        .has_cls = m->vinfo.has_cls && !m->drop_cls,
        .feature_layer = m->feature_layer,
        .vocab_size = fv_tokenizer_vocab_size(m->tok),
        .has_draft = m->draft != NULL,
    };
    return FV_STATUS_OK;
}

const fv_tokenizer *fv_vlm_tokenizer(const fv_vlm *m) { return m ? m->tok : NULL; }
fv_context *fv_vlm_context(const fv_vlm *m) { return m ? m->ctx : NULL; }

/* ---- sessions ------------------------------------------------------------- */

fv_status fv_vlm_session_create(fv_vlm *m, const fv_vlm_session_desc *desc, fv_vlm_session **out)
{
    if (!m || !out) return fv_fail(m ? m->ctx : NULL, FV_STATUS_INVALID_ARGUMENT, "vlm: NULL argument");
    *out = NULL;
    fv_vlm_session *s = calloc(1, sizeof *s);
    if (!s) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    s->m = m;
    const fv_lm_session_desc ld = {.context_length = desc ? desc->max_context : 0,
                                   .image_token_id = m->image_token};
    fv_status st = fv_lm_session_create(m->lm, &ld, &s->lm);
    if (!st && m->draft) st = fv_lm_session_create(m->draft, &ld, &s->draft);
    s->pixel_count = (size_t)3 * m->vinfo.image_size * m->vinfo.image_size;
    if (!st) {
        s->pixels = malloc(s->pixel_count * sizeof *s->pixels);
        s->last_pixels = malloc(s->pixel_count * sizeof *s->last_pixels);
        s->kept = malloc((size_t)(m->vinfo.grid * m->vinfo.grid + 1) * sizeof *s->kept);
        if (!s->pixels || !s->last_pixels || !s->kept) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    }
    if (st) {
        fv_vlm_session_destroy(s);
        return st;
    }
    *out = s;
    return FV_STATUS_OK;
}

static void drop_projector(proj_entry *p)
{
    fv_graph_destroy(p->g);
    fv_tensor_destroy(p->alias);
    memset(p, 0, sizeof *p);
}

static void drop_compressor(fv_vlm_session *s, comp_entry *c)
{
    if (c->comp == s->last_comp) s->last_valid = false;
    fv_tensor *t = fv_compressor_tokens(c->comp);
    for (int i = 0; i < MAX_PROJECTORS; i++)
        if (s->proj[i].g && s->proj[i].src == t) drop_projector(&s->proj[i]);
    fv_compressor_destroy(c->comp);
    memset(c, 0, sizeof *c);
}

static void drop_encoder(fv_vlm_session *s, enc_entry *e)
{
    if (e->enc == s->last_enc) s->last_valid = false;
    for (int i = 0; i < MAX_COMPRESSORS; i++)
        if (s->comp[i].comp && s->comp[i].enc == e->enc) drop_compressor(s, &s->comp[i]);
    fv_tensor *t = fv_vision_encoder_output(e->enc);
    for (int i = 0; i < MAX_PROJECTORS; i++)
        if (s->proj[i].g && s->proj[i].src == t) drop_projector(&s->proj[i]);
    fv_vision_encoder_destroy(e->enc);
    memset(e, 0, sizeof *e);
}

void fv_vlm_session_destroy(fv_vlm_session *s)
{
    if (!s) return;
    for (int i = 0; i < MAX_ENCODERS; i++)
        if (s->enc[i].enc) drop_encoder(s, &s->enc[i]);
    fv_lm_session_destroy(s->draft);
    fv_lm_session_destroy(s->lm);
    free(s->pixels);
    free(s->last_pixels);
    free(s->kept);
    free(s);
}

/* The slot to fill: a free one, else the oldest (its contents dropped by
 * the caller). */
#define PICK_SLOT(arr, n, busy, out)                                                                                  \
    do {                                                                                                              \
        int best_ = 0;                                                                                                \
        for (int i_ = 0; i_ < (n); i_++) {                                                                            \
            if (!(arr)[i_].busy) { best_ = i_; break; }                                                               \
            if ((arr)[i_].age < (arr)[best_].age) best_ = i_;                                                         \
        }                                                                                                             \
        (out) = best_;                                                                                                \
    } while (0)

static fv_status get_encoder(fv_vlm_session *s, const fv_vision_encode_desc *d, fv_vision_encoder **out)
{
    for (int i = 0; i < MAX_ENCODERS; i++)
        if (s->enc[i].enc && memcmp(&s->enc[i].desc, d, sizeof *d) == 0) {
            s->enc[i].age = ++s->clock;
            *out = s->enc[i].enc;
            return FV_STATUS_OK;
        }
    int k;
    PICK_SLOT(s->enc, MAX_ENCODERS, enc, k);
    if (s->enc[k].enc) drop_encoder(s, &s->enc[k]);
    fv_status st = fv_vision_encoder_create(s->m->vision, d, &s->enc[k].enc);
    if (st) return st;
    s->enc[k].desc = *d;
    s->enc[k].age = ++s->clock;
    *out = s->enc[k].enc;
    return FV_STATUS_OK;
}

static fv_status get_compressor(fv_vlm_session *s, fv_vision_encoder *enc, const fv_compress_desc *d,
                                fv_compressor **out)
{
    for (int i = 0; i < MAX_COMPRESSORS; i++)
        if (s->comp[i].comp && s->comp[i].enc == enc && memcmp(&s->comp[i].desc, d, sizeof *d) == 0) {
            s->comp[i].age = ++s->clock;
            *out = s->comp[i].comp;
            return FV_STATUS_OK;
        }
    int k;
    PICK_SLOT(s->comp, MAX_COMPRESSORS, comp, k);
    if (s->comp[k].comp) drop_compressor(s, &s->comp[k]);
    fv_status st = fv_compressor_create(s->m->vision, enc, d, &s->comp[k].comp);
    if (st) return st;
    s->comp[k].enc = enc;
    s->comp[k].desc = *d;
    s->comp[k].age = ++s->clock;
    *out = s->comp[k].comp;
    return FV_STATUS_OK;
}

/* The projector over src [1, K, Dv]: [CLS] dropped first when the model's
 * feature strategy says so (and src starts with it), then
 * linear_1 → activation → linear_2 into [K', Dt]. */
static fv_status build_projector(fv_vlm_session *s, fv_tensor *src, bool src_has_cls, bool draft, proj_entry *e)
{
    fv_vlm *m = s->m;
    const projector *p = draft ? &m->draft_proj : &m->proj;
    const int64_t K = fv_tensor_dim(src, -2), D = fv_tensor_dim(src, -1);
    fv_graph *g = NULL;
    fv_tensor *alias = NULL;
    fv_status st = fv_tensor_alias(src, &alias);
    if (!st) st = fv_graph_create(m->ctx, &g);
    if (st) {
        fv_tensor_destroy(alias);
        return st;
    }
    fv_tensor *x = NULL, *h = NULL, *a = NULL, *y = NULL;
    const int64_t rows[2] = {K, D};
    st = fv_op_reshape(g, alias, 2, rows, &x);
    if (!st && m->drop_cls && src_has_cls) {
        int32_t *idx = malloc((size_t)K * sizeof *idx);
        fv_tensor *index = NULL;
        if (!idx) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
        for (int64_t i = 1; !st && i < K; i++) idx[i - 1] = (int32_t)i;
        const int64_t n[1] = {K - 1};
        if (!st) st = fv_graph_constant(g, FV_DTYPE_I32, 1, n, idx, &index);
        free(idx);
        if (!st) st = fv_op_gather_rows(g, x, index, &x);
    }
    if (!st) st = fv_op_matmul(g, x, p->w1, p->b1, &h);
    if (!st) {
        switch (m->act) {
        case ACT_GELU: st = fv_op_gelu(g, h, &a); break;
        case ACT_GELU_TANH: st = fv_op_gelu_tanh(g, h, &a); break;
        case ACT_QUICK_GELU: st = fv_op_quick_gelu(g, h, &a); break;
        case ACT_SILU: st = fv_op_silu(g, h, &a); break;
        }
    }
    if (!st) st = fv_op_matmul(g, a, p->w2, p->b2, &y);
    if (!st) st = fv_graph_output(g, y);
    if (!st) st = fv_graph_plan(g);
    if (!st) st = fv_graph_record(g);
    if (st) {
        fv_graph_destroy(g);
        fv_tensor_destroy(alias);
        return st;
    }
    *e = (proj_entry){.src = src, .alias = alias, .draft = draft, .g = g, .out = y, .age = ++s->clock};
    return FV_STATUS_OK;
}

static fv_status get_projector(fv_vlm_session *s, fv_tensor *src, bool src_has_cls, bool draft, fv_tensor **out)
{
    for (int i = 0; i < MAX_PROJECTORS; i++)
        if (s->proj[i].g && s->proj[i].src == src && s->proj[i].draft == draft) {
            s->proj[i].age = ++s->clock;
            *out = s->proj[i].out;
            return fv_graph_replay(s->proj[i].g);
        }
    int k;
    PICK_SLOT(s->proj, MAX_PROJECTORS, g, k);
    if (s->proj[k].g) drop_projector(&s->proj[k]);
    fv_status st = build_projector(s, src, src_has_cls, draft, &s->proj[k]);
    if (st) return st;
    *out = s->proj[k].out;
    return fv_graph_replay(s->proj[k].g);
}

/* ---- requests ------------------------------------------------------------- */

/* Appends the ids of `text` to ids[*n ...]. */
static fv_status encode_text(fv_vlm *m, const char *text, uint32_t flags, int32_t **ids, size_t *n, size_t *cap)
{
    size_t need = 0;
    const size_t len = strlen(text);
    fv_status st = fv_tokenizer_encode(m->tok, text, len, flags, *ids + *n, *cap - *n, &need);
    if (st == FV_STATUS_INVALID_ARGUMENT && need > *cap - *n) {
        const size_t cap2 = *n + need + 64;
        int32_t *grown = realloc(*ids, cap2 * sizeof **ids);
        if (!grown) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
        *ids = grown;
        *cap = cap2;
        st = fv_tokenizer_encode(m->tok, text, len, flags, *ids + *n, *cap - *n, &need);
    }
    if (st) return fv_fail(m->ctx, st, "vlm: the prompt could not be tokenised (is it valid UTF-8?)");
    *n += need;
    return FV_STATUS_OK;
}

/* [template before <image>] + <image> x visual + [after, {question} filled]. */
static fv_status build_prompt(fv_vlm *m, const char *question, int visual, int32_t **ids_out, int *n_out)
{
    size_t cap = 256 + (size_t)visual, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    fv_status st = encode_text(m, m->before_image, FV_TOKENIZE_PARSE_SPECIAL, &ids, &n, &cap);
    if (!st && cap - n < (size_t)visual + 1) {
        cap = n + (size_t)visual + 256;
        int32_t *grown = realloc(ids, cap * sizeof *ids);
        if (!grown) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
        else ids = grown;
    }
    for (int i = 0; !st && i < visual; i++) ids[n++] = m->image_token;
    if (!st) {
        /* the user's question is ordinary text: special-token text in it stays text */
        const char *q = strstr(m->after_image, "{question}");
        const size_t head = (size_t)(q - m->after_image), qlen = strlen(question);
        char *text = malloc(strlen(m->after_image) + qlen + 1);
        if (!text) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
        if (!st) {
            memcpy(text, m->after_image, head);
            memcpy(text + head, question, qlen);
            strcpy(text + head + qlen, q + strlen("{question}"));
            st = encode_text(m, text, 0, &ids, &n, &cap);
            free(text);
        }
    }
    if (st) {
        free(ids);
        return st;
    }
    *ids_out = ids;
    *n_out = (int)n;
    return FV_STATUS_OK;
}

typedef struct stream_state {
    fv_vlm_session *s;
    const fv_vlm_request *req;
    fv_tokenizer_stream ts;
    char *piece;
    size_t piece_cap;
    double t0, first_ms;
} stream_state;

static bool on_token(int32_t token, void *user)
{
    stream_state *ss = user;
    if (ss->first_ms < 0) ss->first_ms = fv_time_ms() - ss->t0;
    if (!ss->req->on_token) return true;
    size_t len = 0;
    if (token == ss->s->m->eos) return true;
    if (fv_tokenizer_decode_piece(ss->s->m->tok, &ss->ts, token, FV_DETOKENIZE_SKIP_SPECIAL, ss->piece,
                                  ss->piece_cap, &len) != FV_STATUS_OK)
        len = 0;
    return ss->req->on_token(ss->req->user, token, ss->piece, len);
}

static void strip_copy(const char *text, char *answer, size_t capacity)
{
    if (!capacity) return;
    while (*text && isspace((unsigned char)*text)) text++;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1])) n--;
    if (n >= capacity) n = capacity - 1;
    memcpy(answer, text, n);
    answer[n] = 0;
}

fv_status fv_vlm_session_run(fv_vlm_session *s, const fv_vlm_request *req, char *answer, size_t capacity,
                             fv_vlm_timings *timings)
{
    if (!s || !req || !req->prompt || (!req->image_path && !req->pixels))
        return fv_fail(s ? s->m->ctx : NULL, FV_STATUS_INVALID_ARGUMENT,
                       "vlm: a request needs an image (path or pixels) and a prompt");
    fv_vlm *m = s->m;
    if (req->speculative && !m->draft)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vlm: speculative decoding needs a draft model");
    if (req->speculative && req->sample.temperature > 0)
        return fv_fail(m->ctx, FV_STATUS_INVALID_ARGUMENT, "vlm: speculative decoding is greedy only");
    fv_vlm_timings t = {0};
    const double t0 = fv_time_ms();

    /* pixels */
    const float *pixels = req->pixels;
    if (!pixels) {
        fv_image img = {0};
        char err[256] = "";
        fv_status st = fv_image_load(req->image_path, &img, err, sizeof err);
        if (!st) st = fv_image_preprocess(&img, &m->pre, s->pixels, s->pixel_count, err, sizeof err);
        fv_image_free(&img);
        if (st) return fv_fail(m->ctx, st, "vlm: %s: %s", req->image_path, err);
        pixels = s->pixels;
    }
    t.preprocess_ms = fv_time_ms() - t0;

    /* encoder and compression: built once per configuration (not timed as
     * a stage: building is a one-off, the stages are replays) */
    const bool compress = req->compress.method != FV_COMPRESS_NONE;
    fv_vision_encode_desc ed = {.layer = m->feature_layer};
    fv_status st = compress ? fv_compress_prepare_encode(&req->compress, m->vision, &ed) : FV_STATUS_OK;
    fv_vision_encoder *enc = NULL;
    if (!st) st = get_encoder(s, &ed, &enc);
    fv_compressor *comp = NULL;
    if (!st && compress) st = get_compressor(s, enc, &req->compress, &comp);
    if (st) return st;
    double tc = fv_time_ms();
    const bool reuse = s->last_valid && s->last_enc == enc && s->last_comp == comp &&
                       memcmp(s->last_pixels, pixels, s->pixel_count * sizeof *pixels) == 0;
    s->last_valid = false;
    if (!reuse) st = fv_vision_encoder_run(enc, pixels, s->pixel_count);
    if (st) return st;
    double tn = fv_time_ms();
    t.encode_ms = tn - tc;
    tc = tn;
    fv_tensor *visual = fv_vision_encoder_output(enc);
    bool has_cls = m->vinfo.has_cls;
    if (reuse) {
        visual = s->last_visual;
        has_cls = s->last_has_cls;
    } else if (compress) {
        fv_compressor_info ci = {0};
        st = fv_compressor_run(comp);
        if (!st) st = fv_compressor_get_info(comp, &ci);
        if (st) return st;
        visual = fv_compressor_tokens(comp);
        has_cls = ci.has_cls;
        /* which encoder tokens survived, for pictures and for the caller */
        s->nkept = 0;
        if (fv_compressor_indices(comp)) {
            if (fv_compressor_read_indices(comp, s->kept, (size_t)ci.tokens) == FV_STATUS_OK) s->nkept = ci.tokens;
        }
        tn = fv_time_ms();
        t.compress_ms = tn - tc;
        tc = tn;
    } else {
        s->nkept = (int)fv_tensor_dim(visual, -2);
        for (int i = 0; i < s->nkept; i++) s->kept[i] = i;
    }
    if (!reuse && m->drop_cls && has_cls && s->nkept > 0) { /* the projector drops row 0: so do the indices */
        memmove(s->kept, s->kept + 1, (size_t)(s->nkept - 1) * sizeof *s->kept);
        s->nkept--;
    }

    /* projector(s) */
    fv_tensor *embeds = NULL, *draft_embeds = NULL;
    st = get_projector(s, visual, has_cls, false, &embeds);
    if (!st && req->speculative) st = get_projector(s, visual, has_cls, true, &draft_embeds);
    if (st) return st;
    if (pixels != s->last_pixels) memcpy(s->last_pixels, pixels, s->pixel_count * sizeof *pixels);
    s->last_enc = enc;
    s->last_comp = comp;
    s->last_visual = visual;
    s->last_has_cls = has_cls;
    s->last_valid = true;
    tn = fv_time_ms();
    t.project_ms = tn - tc;
    tc = tn;

    /* prompt, prefill, decode */
    const int visual_count = (int)fv_tensor_dim(embeds, 0);
    int32_t *ids = NULL;
    int n = 0;
    st = build_prompt(m, req->prompt, visual_count, &ids, &n);
    if (st) return st;
    if (memcmp(&s->sampler, &req->sample, sizeof s->sampler) != 0) {
        st = fv_lm_session_set_sampler(s->lm, &req->sample);
        if (!st) s->sampler = req->sample;
    }
    if (!st) st = fv_lm_session_rewind(s->lm, 0);
    if (!st && s->draft) st = fv_lm_session_rewind(s->draft, 0);
    const int max_new = req->max_new_tokens > 0 ? req->max_new_tokens : 64;
    int32_t *out = malloc((size_t)max_new * sizeof *out);
    stream_state ss = {.s = s, .req = req, .t0 = t0, .first_ms = -1};
    ss.piece_cap = fv_tokenizer_max_piece(m->tok) + 8;
    ss.piece = malloc(ss.piece_cap);
    if (!st && (!out || !ss.piece)) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
    int count = 0;
    if (!st) {
        const fv_lm_prompt prompt = {.ids = ids, .n = n, .embeds = embeds};
        fv_lm_generate_desc gd = {.max_new_tokens = max_new, .on_token = on_token, .user_data = &ss,
                                  .draft_tokens = req->draft_tokens};
        if (m->eos >= 0) {
            gd.stop_ids[0] = m->eos;
            gd.n_stop_ids = 1;
        }
        st = req->speculative
                 ? fv_lm_generate_speculative(s->lm, s->draft, &prompt, draft_embeds, &gd, out, max_new, &count)
                 : fv_lm_generate(s->lm, &prompt, &gd, out, max_new, &count);
    }
    fv_lm_timings lt = {0};
    if (!st) st = fv_lm_session_timings(s->lm, &lt);
    if (!st) {
        int useful = count;
        if (useful > 0 && out[useful - 1] == m->eos) useful--;
        size_t len = 0;
        char *text = malloc(4 * (size_t)useful * fv_tokenizer_max_piece(m->tok) + 16);
        if (!text) st = fv_fail(m->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vlm: out of host memory");
        if (!st)
            st = fv_tokenizer_decode(m->tok, out, (size_t)useful, FV_DETOKENIZE_SKIP_SPECIAL, text,
                                     4 * (size_t)useful * fv_tokenizer_max_piece(m->tok) + 16, &len);
        if (!st && answer) strip_copy(text, answer, capacity);
        free(text);
    }
    if (!st && req->on_token) { /* an unfinished character at the end */
        char tail[8];
        size_t len = 0;
        if (fv_tokenizer_stream_flush(&ss.ts, tail, sizeof tail, &len) == FV_STATUS_OK && len)
            req->on_token(req->user, -1, tail, len);
    }
    free(ss.piece);
    free(out);
    free(ids);
    if (st) return st;
    t.prefill_ms = lt.prefill_ms;
    t.first_token_ms = ss.first_ms >= 0 ? ss.first_ms : fv_time_ms() - t0;
    t.decode_ms = lt.decode_ms;
    t.decode_tokens_per_s = lt.decode_tokens_per_s;
    t.prompt_tokens = n;
    t.visual_tokens = visual_count;
    t.new_tokens = count;
    t.draft_proposed = lt.drafted;
    t.draft_accepted = lt.accepted;
    if (timings) *timings = t;
    return FV_STATUS_OK;
}

int fv_vlm_session_kept(const fv_vlm_session *s, int32_t *indices, int capacity)
{
    if (!s) return -1;
    const int n = s->nkept < capacity ? s->nkept : capacity;
    if (indices && n > 0) memcpy(indices, s->kept, (size_t)n * sizeof *indices);
    return s->nkept;
}
