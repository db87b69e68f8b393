/* Tokenizer loaders: Hugging Face tokenizer.json, GPT-2's encoder.json +
 * vocab.bpe, and GGUF's tokenizer.ggml.* metadata.
 *
 * Each loader fills the same tables (tokenizer.c) and says exactly which
 * part of a file it cannot honour: a tokenizer that silently tokenized
 * differently from the model's own would be worse than none. */
#include "tokenizer_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ERR(st, ...) fv_error_set(error, error_size, (st), __VA_ARGS__)

/* The pre-tokenizer expressions fovea implements, by their exact text. */
static const struct {
    const char *regex;
    tok_step step;
} known_regexes[] = {
    {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", TOK_STEP_GPT2},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
     "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", TOK_STEP_LLAMA3},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
     "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", TOK_STEP_QWEN2},
};

static bool add_step(fv_tokenizer *tok, tok_step s)
{
    if (tok->nsteps == TOK_MAX_STEPS) return false;
    tok->steps[tok->nsteps++] = s;
    return true;
}

/* ---- tokenizer.json ------------------------------------------------------- */

static const char *json_type(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

static bool json_bool(const cJSON *o, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static bool json_is_null(const cJSON *v)
{
    return !v || cJSON_IsNull(v);
}

/* A JSON number that is an id: an integer in [0, 2^30]. */
static bool json_id(const cJSON *v, int32_t *id)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= (double)(1 << 30)) || d != (double)(int32_t)d) return false;
    *id = (int32_t)d;
    return true;
}

static fv_status parse_normalizer(fv_tokenizer *tok, const cJSON *n, char *error, size_t error_size)
{
    if (json_is_null(n)) return FV_STATUS_OK;
    const char *type = json_type(n);
    if (strcmp(type, "NFC") == 0) {
        tok->nfc = true;
        return FV_STATUS_OK;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(n, "normalizers")) {
            fv_status st = parse_normalizer(tok, item, error, error_size);
            if (st) return st;
        }
        return FV_STATUS_OK;
    }
    return ERR(FV_STATUS_UNSUPPORTED, "normalizer \"%s\" is not supported (fovea implements NFC)", type);
}

static fv_status parse_pretokenizer(fv_tokenizer *tok, const cJSON *p, bool *byte_level, char *error,
                                    size_t error_size)
{
    const char *type = json_type(p);
    if (*byte_level)
        return ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer \"%s\" after ByteLevel is not supported", type);
    bool ok = true;
    if (strcmp(type, "ByteLevel") == 0) {
        if (json_bool(p, "add_prefix_space", true)) ok = add_step(tok, TOK_STEP_PREFIX_SPACE);
        if (json_bool(p, "use_regex", true)) ok = ok && add_step(tok, TOK_STEP_GPT2);
        *byte_level = true;
    } else if (strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(p, "pretokenizers")) {
            fv_status st = parse_pretokenizer(tok, item, byte_level, error, error_size);
            if (st) return st;
        }
    } else if (strcmp(type, "Split") == 0) {
        const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *regex = cJSON_GetObjectItemCaseSensitive(pattern, "Regex");
        const cJSON *behavior = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        if (!cJSON_IsString(regex))
            return ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer Split: only Regex patterns are supported");
        if (!cJSON_IsString(behavior) || strcmp(behavior->valuestring, "Isolated") != 0 ||
            json_bool(p, "invert", false))
            return ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer Split: only behavior \"Isolated\" without "
                       "invert is supported");
        size_t k = 0, nk = sizeof known_regexes / sizeof known_regexes[0];
        while (k < nk && strcmp(known_regexes[k].regex, regex->valuestring) != 0) k++;
        if (k == nk)
            return ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer Split: unknown regex \"%s\" (fovea knows "
                       "the expressions of GPT-2, Llama 3 and Qwen2)", regex->valuestring);
        ok = add_step(tok, known_regexes[k].step);
    } else if (strcmp(type, "Digits") == 0) {
        ok = add_step(tok, json_bool(p, "individual_digits", false) ? TOK_STEP_DIGITS : TOK_STEP_DIGIT_RUNS);
    } else {
        return ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer \"%s\" is not supported", type);
    }
    if (!ok) return ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer: more than %d steps", TOK_MAX_STEPS);
    return FV_STATUS_OK;
}

/* The special tokens of a TemplateProcessing "single" template, before and
 * after the sequence. */
static fv_status parse_template(fv_tokenizer *tok, const cJSON *p, char *error, size_t error_size)
{
    const cJSON *special = cJSON_GetObjectItemCaseSensitive(p, "special_tokens");
    const cJSON *item;
    bool seen_sequence = false;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(p, "single")) {
        if (cJSON_GetObjectItemCaseSensitive(item, "Sequence")) {
            seen_sequence = true;
            continue;
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(st, "id");
        if (!cJSON_IsString(name))
            return ERR(FV_STATUS_INVALID_ARGUMENT, "post_processor TemplateProcessing: a malformed item");
        /* special_tokens may map the name to several ids */
        const cJSON *entry = cJSON_GetObjectItemCaseSensitive(special, name->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(entry, "ids");
        int32_t buf[TOK_MAX_TEMPLATE];
        int nids = 0;
        if (cJSON_IsArray(ids)) {
            const cJSON *idv;
            cJSON_ArrayForEach(idv, ids) {
                if (nids == TOK_MAX_TEMPLATE || !json_id(idv, &buf[nids]) || buf[nids] >= tok->n)
                    return ERR(FV_STATUS_INVALID_ARGUMENT, "post_processor: bad ids for \"%s\"",
                               name->valuestring);
                nids++;
            }
        } else {
            buf[nids++] = tok_lookup(tok, name->valuestring, strlen(name->valuestring));
            if (buf[0] < 0)
                return ERR(FV_STATUS_INVALID_ARGUMENT, "post_processor: unknown token \"%s\"",
                           name->valuestring);
        }
        int32_t *dst = seen_sequence ? tok->suffix : tok->prefix;
        int *nd = seen_sequence ? &tok->nsuffix : &tok->nprefix;
        for (int i = 0; i < nids; i++) {
            if (*nd == TOK_MAX_TEMPLATE)
                return ERR(FV_STATUS_UNSUPPORTED, "post_processor: more than %d special tokens",
                           TOK_MAX_TEMPLATE);
            dst[(*nd)++] = buf[i];
        }
    }
    return FV_STATUS_OK;
}

static fv_status parse_post_processor(fv_tokenizer *tok, const cJSON *p, char *error, size_t error_size)
{
    if (json_is_null(p)) return FV_STATUS_OK;
    const char *type = json_type(p);
    if (strcmp(type, "ByteLevel") == 0) return FV_STATUS_OK; /* offsets only */
    if (strcmp(type, "TemplateProcessing") == 0) return parse_template(tok, p, error, error_size);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(p, "processors")) {
            fv_status st = parse_post_processor(tok, item, error, error_size);
            if (st) return st;
        }
        return FV_STATUS_OK;
    }
    return ERR(FV_STATUS_UNSUPPORTED, "post_processor \"%s\" is not supported", type);
}

static fv_status parse_model_options(fv_tokenizer *tok, const cJSON *model, char *error, size_t error_size)
{
    if (!json_is_null(cJSON_GetObjectItemCaseSensitive(model, "dropout"))) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(model, "dropout");
        if (!cJSON_IsNumber(d) || d->valuedouble != 0)
            return ERR(FV_STATUS_UNSUPPORTED, "model: BPE dropout is not supported");
    }
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
        if (!json_is_null(a) && !(cJSON_IsString(a) && a->valuestring[0] == 0))
            return ERR(FV_STATUS_UNSUPPORTED, "model: %s is not supported", affixes[i]);
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (cJSON_IsString(unk)) {
        tok->unk = tok_lookup(tok, unk->valuestring, strlen(unk->valuestring));
        if (tok->unk < 0)
            return ERR(FV_STATUS_INVALID_ARGUMENT, "model: unk_token \"%s\" is not in the vocabulary",
                       unk->valuestring);
    }
    tok->byte_fallback = json_bool(model, "byte_fallback", false);
    tok->ignore_merges = json_bool(model, "ignore_merges", false);
    return FV_STATUS_OK;
}

/* A merge as "a b" (one space) or ["a", "b"]. */
static bool merge_parts(const cJSON *m, const char **a, size_t *alen, const char **b, size_t *blen)
{
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' ')) return false;
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        *blen = strlen(*b);
        return true;
    }
    const cJSON *l = cJSON_IsArray(m) ? m->child : NULL, *r = l ? l->next : NULL;
    if (!cJSON_IsString(l) || !cJSON_IsString(r) || r->next) return false;
    *a = l->valuestring;
    *alen = strlen(*a);
    *b = r->valuestring;
    *blen = strlen(*b);
    return true;
}

static fv_status parse_merges(fv_tokenizer *tok, const cJSON *merges, char *error, size_t error_size)
{
    int count = cJSON_GetArraySize(merges);
    if (!tok_merges_reserve(tok, (size_t)count)) return ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    uint32_t rank = 0;
    const cJSON *m, *ahead = merges->child, *near = merges->child;
    for (int i = 0; i < 16 && ahead; i++) ahead = ahead->next;
    for (int i = 0; i < 8 && near; i++) near = near->next;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        size_t alen, blen;
        if (!merge_parts(m, &a, &alen, &b, &blen))
            return ERR(FV_STATUS_INVALID_ARGUMENT, "merge %u is neither \"a b\" nor [a, b]", rank + 1);
        /* the table lookups of a merge a few places on */
        const char *pa, *pb;
        size_t palen, pblen;
        if (ahead) {
            if (merge_parts(ahead, &pa, &palen, &pb, &pblen)) tok_prefetch(tok, pa, palen, pb, pblen);
            ahead = ahead->next;
        }
        if (near) {
            if (merge_parts(near, &pa, &palen, &pb, &pblen)) tok_prefetch_merge(tok, pa, palen, pb, pblen);
            near = near->next;
        }
        fv_status st = tok_add_merge(tok, rank, a, alen, b, blen, error, error_size);
        if (st) return st;
        rank++;
    }
    return FV_STATUS_OK;
}

/* bos_token / eos_token / pad_token of tokenizer_config.json: a string or
 * an object with "content". */
static int32_t config_token(const fv_tokenizer *tok, const cJSON *config, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) ? tok_lookup(tok, v->valuestring, strlen(v->valuestring)) : -1;
}

static fv_status build_hf(const cJSON *root, const cJSON *config, fv_tokenizer **out, char *error,
                          size_t error_size)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.json has no model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE") != 0))
        return ERR(FV_STATUS_UNSUPPORTED, "model type \"%s\" is not supported (fovea implements BPE)",
                   cJSON_IsString(type) ? type->valuestring : "?");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return ERR(FV_STATUS_INVALID_ARGUMENT, "model: BPE needs a vocab object and a merges array");

    int32_t max_id = -1, id = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vocab) {
        if (!json_id(v, &id)) return ERR(FV_STATUS_INVALID_ARGUMENT, "vocab: \"%s\" has no valid id", v->string);
        if (id > max_id) max_id = id;
    }
    cJSON_ArrayForEach(v, added) {
        if (!json_id(cJSON_GetObjectItemCaseSensitive(v, "id"), &id) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "content")))
            return ERR(FV_STATUS_INVALID_ARGUMENT, "added_tokens: an entry without id or content");
        if (id > max_id) max_id = id;
    }
    fv_tokenizer *tok;
    fv_status st = tok_create(max_id + 1, TOK_KIND_BPE, &tok, error, error_size);
    if (st) return st;
    cJSON_ArrayForEach(v, vocab) {
        json_id(v, &id);
        if (tok->attr[id] & TOK_ATTR_PRESENT) {
            st = ERR(FV_STATUS_INVALID_ARGUMENT, "vocab: id %d is given twice", (int)id);
            goto fail;
        }
        if (!tok_set_text(tok, id, v->string, strlen(v->string))) goto oom;
    }
    if ((st = tok_index_vocab(tok, error, error_size))) goto fail;
    cJSON_ArrayForEach(v, added) {
        json_id(cJSON_GetObjectItemCaseSensitive(v, "id"), &id);
        const char *content = cJSON_GetObjectItemCaseSensitive(v, "content")->valuestring;
        uint8_t attr = (uint8_t)((json_bool(v, "special", false) ? TOK_ATTR_SPECIAL : 0) |
                                 (json_bool(v, "lstrip", false) ? TOK_ATTR_LSTRIP : 0) |
                                 (json_bool(v, "rstrip", false) ? TOK_ATTR_RSTRIP : 0) |
                                 (json_bool(v, "single_word", false) ? TOK_ATTR_SINGLE_WORD : 0));
        if ((st = tok_add_token(tok, id, content, strlen(content), attr, error, error_size))) goto fail;
    }
    if ((st = parse_model_options(tok, model, error, error_size))) goto fail;
    if ((st = parse_merges(tok, merges, error, error_size))) goto fail;
    if ((st = parse_normalizer(tok, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), error, error_size)))
        goto fail;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    bool byte_level = false;
    if (!json_is_null(pre) && (st = parse_pretokenizer(tok, pre, &byte_level, error, error_size))) goto fail;
    if (!byte_level) {
        st = ERR(FV_STATUS_UNSUPPORTED, "pre-tokenizer: fovea implements byte-level BPE, and this "
                 "tokenizer has no ByteLevel pre-tokenizer");
        goto fail;
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (json_is_null(dec) || strcmp(json_type(dec), "ByteLevel") != 0) {
        st = ERR(FV_STATUS_UNSUPPORTED, "decoder \"%s\" is not supported (fovea implements ByteLevel)",
                 json_is_null(dec) ? "none" : json_type(dec));
        goto fail;
    }
    if ((st = parse_post_processor(tok, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), error,
                                   error_size)))
        goto fail;
    if ((st = tok_finish(tok, error, error_size))) goto fail;
    if (config) {
        tok->bos = config_token(tok, config, "bos_token");
        tok->eos = config_token(tok, config, "eos_token");
        tok->pad = config_token(tok, config, "pad_token");
    } else {
        if (tok->nprefix == 1) tok->bos = tok->prefix[0];
        if (tok->nsuffix == 1) tok->eos = tok->suffix[0];
    }
    *out = tok;
    return FV_STATUS_OK;
oom:
    st = ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
fail:
    fv_tokenizer_destroy(tok);
    return st;
}

static fv_status parse_json(const char *text, size_t len, const char *what, cJSON **out, char *error,
                            size_t error_size)
{
    const char *end = NULL;
    /* the Opts variant reports where parsing stopped without cJSON's global */
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*out)
        return ERR(FV_STATUS_INVALID_ARGUMENT, "%s: not valid JSON (at byte %zu)", what,
                   end && end >= text ? (size_t)(end - text) : (size_t)0);
    return FV_STATUS_OK;
}

fv_status fv_tokenizer_parse_hf(const char *json, size_t json_length, const char *config_json,
                                size_t config_length, fv_tokenizer **out, char *error, size_t error_size)
{
    if (!out || !json) return ERR(FV_STATUS_INVALID_ARGUMENT, "fv_tokenizer_parse_hf: NULL argument");
    *out = NULL;
    cJSON *root = NULL, *config = NULL;
    fv_status st = parse_json(json, json_length, "tokenizer.json", &root, error, error_size);
    if (!st && config_json)
        st = parse_json(config_json, config_length, "tokenizer_config.json", &config, error, error_size);
    if (!st) st = build_hf(root, config, out, error, error_size);
    cJSON_Delete(root);
    cJSON_Delete(config);
    return st;
}

fv_status fv_tokenizer_load_hf(const char *path, fv_tokenizer **out, char *error, size_t error_size)
{
    if (!out || !path) return ERR(FV_STATUS_INVALID_ARGUMENT, "fv_tokenizer_load_hf: NULL argument");
    *out = NULL;
    fv_mapped_file f;
    fv_status st = fv_file_map(path, &f, error, error_size);
    if (st) return st;
    /* tokenizer_config.json beside it names bos / eos / pad */
    char *config = NULL;
    size_t config_len = 0;
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
    char *cpath = malloc(dir_len + sizeof "tokenizer_config.json");
    if (cpath) {
        memcpy(cpath, path, dir_len);
        strcpy(cpath + dir_len, "tokenizer_config.json");
        struct stat sb;
        if (stat(cpath, &sb) == 0 && S_ISREG(sb.st_mode))
            st = fv_file_read_text(cpath, &config, &config_len, error, error_size);
        free(cpath);
    }
    if (!st) st = fv_tokenizer_parse_hf((const char *)f.data, f.size, config, config_len, out, error, error_size);
    free(config);
    fv_file_unmap(&f);
    if (st && error && error_size) {
        /* name the file in front of the reason */
        char *why = strdup(error);
        if (why) {
            snprintf(error, error_size, "%s: %s", path, why);
            free(why);
        }
    }
    return st;
}

/* ---- GPT-2's own files ------------------------------------------------------- */

fv_status fv_tokenizer_load_gpt2(const char *encoder_json_path, const char *vocab_bpe_path,
                                 fv_tokenizer **out, char *error, size_t error_size)
{
    if (!out || !encoder_json_path || !vocab_bpe_path)
        return ERR(FV_STATUS_INVALID_ARGUMENT, "fv_tokenizer_load_gpt2: NULL argument");
    *out = NULL;
    char *enc_text = NULL, *bpe = NULL;
    size_t enc_len, bpe_len;
    cJSON *enc = NULL;
    fv_tokenizer *tok = NULL;
    fv_status st = fv_file_read_text(encoder_json_path, &enc_text, &enc_len, error, error_size);
    if (!st) st = fv_file_read_text(vocab_bpe_path, &bpe, &bpe_len, error, error_size);
    if (!st) st = parse_json(enc_text, enc_len, encoder_json_path, &enc, error, error_size);
    if (st) goto done;
    if (!cJSON_IsObject(enc)) {
        st = ERR(FV_STATUS_INVALID_ARGUMENT, "%s: not a JSON object", encoder_json_path);
        goto done;
    }
    int32_t max_id = -1, id = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, enc) {
        if (!json_id(v, &id)) {
            st = ERR(FV_STATUS_INVALID_ARGUMENT, "%s: \"%s\" has no valid id", encoder_json_path, v->string);
            goto done;
        }
        if (id > max_id) max_id = id;
    }
    if ((st = tok_create(max_id + 1, TOK_KIND_BPE, &tok, error, error_size))) goto done;
    cJSON_ArrayForEach(v, enc) {
        json_id(v, &id);
        if (!tok_set_text(tok, id, v->string, strlen(v->string))) {
            st = ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
            goto done;
        }
    }
    if ((st = tok_index_vocab(tok, error, error_size))) goto done;
    size_t lines = 0;
    for (size_t i = 0; i < bpe_len; i++) lines += bpe[i] == '\n';
    if (!tok_merges_reserve(tok, lines + 1)) {
        st = ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
        goto done;
    }
    uint32_t rank = 0;
    for (char *line = bpe, *next; line < bpe + bpe_len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(bpe + bpe_len - line));
        next = nl ? nl + 1 : bpe + bpe_len;
        size_t len = (size_t)((nl ? nl : bpe + bpe_len) - line);
        if (len && line[len - 1] == '\r') len--;
        if (len == 0 || (rank == 0 && line == bpe && memcmp(line, "#version", len < 8 ? len : 8) == 0))
            continue;
        char *sp = memchr(line, ' ', len);
        if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line))) {
            st = ERR(FV_STATUS_INVALID_ARGUMENT, "%s: merge %u is not two tokens", vocab_bpe_path, rank + 1);
            goto done;
        }
        st = tok_add_merge(tok, rank, line, (size_t)(sp - line), sp + 1, len - (size_t)(sp + 1 - line),
                           error, error_size);
        if (st) goto done;
        rank++;
    }
    add_step(tok, TOK_STEP_GPT2);
    id = tok_lookup(tok, "<|endoftext|>", 13);
    if (id >= 0) {
        if ((st = tok_add_token(tok, id, "<|endoftext|>", 13, TOK_ATTR_SPECIAL, error, error_size))) goto done;
        tok->bos = tok->eos = id;
    }
    st = tok_finish(tok, error, error_size);
done:
    cJSON_Delete(enc);
    free(enc_text);
    free(bpe);
    if (st) {
        fv_tokenizer_destroy(tok);
        tok = NULL;
    }
    *out = tok;
    return st;
}

/* ---- GGUF metadata -------------------------------------------------------------- */

/* tokenizer.ggml.pre names (llama.cpp's) and the splitting they stand for. */
static const struct {
    const char *name;
    tok_step steps[2];
    int nsteps;
} gguf_pre[] = {
    {"gpt-2", {TOK_STEP_GPT2}, 1},
    {"gpt2", {TOK_STEP_GPT2}, 1},
    {"mpt", {TOK_STEP_GPT2}, 1},
    {"olmo", {TOK_STEP_GPT2}, 1},
    {"llama3", {TOK_STEP_LLAMA3}, 1},
    {"llama-v3", {TOK_STEP_LLAMA3}, 1},
    {"llama-bpe", {TOK_STEP_LLAMA3}, 1},
    {"dbrx", {TOK_STEP_LLAMA3}, 1},
    {"smaug-bpe", {TOK_STEP_LLAMA3}, 1},
    {"qwen2", {TOK_STEP_QWEN2}, 1},
    {"stablelm2", {TOK_STEP_QWEN2}, 1},
    {"deepseek-r1-qwen", {TOK_STEP_QWEN2}, 1},
    {"smollm", {TOK_STEP_DIGITS, TOK_STEP_GPT2}, 2},
    {"starcoder", {TOK_STEP_DIGITS, TOK_STEP_GPT2}, 2},
    {"refact", {TOK_STEP_DIGITS, TOK_STEP_GPT2}, 2},
};

static const char *kv_string(const char *const *v, const size_t *lens, size_t i, size_t *len)
{
    *len = lens ? lens[i] : strlen(v[i]);
    return v[i];
}

fv_status fv_tokenizer_load_gguf_kv(const fv_tokenizer_gguf_kv *kv, fv_tokenizer **out, char *error,
                                    size_t error_size)
{
    if (!out || !kv) return ERR(FV_STATUS_INVALID_ARGUMENT, "fv_tokenizer_load_gguf_kv: NULL argument");
    *out = NULL;
    if (!kv->model) return ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.ggml.model is missing");
    bool spm = strcmp(kv->model, "llama") == 0;
    if (!spm && strcmp(kv->model, "gpt2") != 0)
        return ERR(FV_STATUS_UNSUPPORTED, "tokenizer.ggml.model \"%s\" is not supported (fovea implements "
                   "\"gpt2\" and \"llama\")", kv->model);
    if (!kv->tokens || kv->n_tokens == 0 || kv->n_tokens > (1u << 30))
        return ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.ggml.tokens is missing or empty");
    if (spm && !kv->scores) return ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.ggml.scores is missing");
    if (!spm && (!kv->merges || kv->n_merges == 0))
        return ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.ggml.merges is missing");
    size_t pre = 0, npre = sizeof gguf_pre / sizeof gguf_pre[0];
    if (!spm) {
        while (pre < npre && !(kv->pre && strcmp(gguf_pre[pre].name, kv->pre) == 0)) pre++;
        if (pre == npre)
            return ERR(FV_STATUS_UNSUPPORTED, "tokenizer.ggml.pre \"%s\" is not supported (fovea knows "
                       "gpt-2, llama-bpe, qwen2, smollm and their aliases)", kv->pre ? kv->pre : "(absent)");
    }
    int32_t n = (int32_t)kv->n_tokens;
    fv_tokenizer *tok;
    fv_status st = tok_create(n, spm ? TOK_KIND_SPM : TOK_KIND_BPE, &tok, error, error_size);
    if (st) return st;
    if (spm) {
        tok->score = malloc((size_t)n * sizeof *tok->score);
        if (!tok->score) goto oom;
        memcpy(tok->score, kv->scores, (size_t)n * sizeof *tok->score);
        tok->byte_fallback = true;
        tok->spm_space_prefix = kv->add_space_prefix >= 0;
    } else {
        for (int i = 0; i < gguf_pre[pre].nsteps; i++) add_step(tok, gguf_pre[pre].steps[i]);
    }
    for (int32_t id = 0; id < n; id++) {
        size_t len;
        const char *s = kv_string(kv->tokens, kv->token_lengths, (size_t)id, &len);
        if (!s || !tok_set_text(tok, id, s, len)) goto oom;
    }
    if ((st = tok_index_vocab(tok, error, error_size))) goto fail;
    for (int32_t id = 0; id < n; id++) {
        int32_t type = kv->token_types ? kv->token_types[id] : FV_GGUF_TOKEN_NORMAL;
        uint8_t attr = 0;
        if (type == FV_GGUF_TOKEN_CONTROL || type == FV_GGUF_TOKEN_UNKNOWN)
            attr = TOK_ATTR_SPECIAL | TOK_ATTR_RAW;
        else if (type == FV_GGUF_TOKEN_USER_DEFINED)
            attr = TOK_ATTR_RAW;
        /* BYTE tokens are recognised by their <0xXX> text in tok_finish */
        if (!attr || tok->text_len[id] == 0) continue;
        size_t len;
        const char *s = kv_string(kv->tokens, kv->token_lengths, (size_t)id, &len);
        if ((st = tok_add_token(tok, id, s, len, attr, error, error_size))) goto fail;
    }
    if (!spm) {
        if (!tok_merges_reserve(tok, kv->n_merges)) goto oom;
        for (size_t i = 0; i < kv->n_merges; i++) {
            size_t len;
            const char *m = kv_string(kv->merges, kv->merge_lengths, i, &len);
            const char *sp = m ? memchr(m, ' ', len) : NULL;
            if (!sp) {
                st = ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.ggml.merges[%zu] is not two tokens", i);
                goto fail;
            }
            st = tok_add_merge(tok, (uint32_t)i, m, (size_t)(sp - m), sp + 1, len - (size_t)(sp + 1 - m),
                               error, error_size);
            if (st) goto fail;
        }
    }
    struct {
        bool has;
        int32_t id;
        int32_t *dst;
        const char *name;
    } ids[] = {{kv->has_bos, kv->bos_id, &tok->bos, "bos"}, {kv->has_eos, kv->eos_id, &tok->eos, "eos"},
               {kv->has_unk, kv->unk_id, &tok->unk, "unknown"}, {kv->has_pad, kv->pad_id, &tok->pad, "padding"}};
    for (int i = 0; i < 4; i++) {
        if (!ids[i].has) continue;
        if (ids[i].id < 0 || ids[i].id >= n) {
            st = ERR(FV_STATUS_INVALID_ARGUMENT, "tokenizer.ggml: %s token id %d out of range", ids[i].name,
                     (int)ids[i].id);
            goto fail;
        }
        *ids[i].dst = ids[i].id;
    }
    /* llama.cpp's defaults: SentencePiece models add bos, BPE models none */
    if ((kv->add_bos > 0 || (kv->add_bos == 0 && spm)) && tok->bos >= 0) tok->prefix[tok->nprefix++] = tok->bos;
    if (kv->add_eos > 0 && tok->eos >= 0) tok->suffix[tok->nsuffix++] = tok->eos;
    if ((st = tok_finish(tok, error, error_size))) goto fail;
    *out = tok;
    return FV_STATUS_OK;
oom:
    st = ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
fail:
    fv_tokenizer_destroy(tok);
    return st;
}

/* The value of a bool key as 1 / -1, 0 when absent. */
static int gguf_tristate(const fv_gguf *g, const char *key)
{
    int64_t i = fv_gguf_find_key(g, key);
    bool b;
    if (i < 0 || fv_gguf_value_bool(g, i, 0, &b) != FV_STATUS_OK) return 0;
    return b ? 1 : -1;
}

static void gguf_id(const fv_gguf *g, const char *key, bool *has, int32_t *id)
{
    int64_t v = fv_gguf_get_int(g, key, -1);
    *has = v >= 0 && v <= INT32_MAX;
    *id = *has ? (int32_t)v : -1;
}

/* A string array key into pointer / length arrays (pointing into the file). */
static fv_status gguf_strings(const fv_gguf *g, const char *key, const char ***v, size_t **lens, size_t *n,
                              char *error, size_t error_size)
{
    *v = NULL;
    *lens = NULL;
    *n = 0;
    int64_t k = fv_gguf_find_key(g, key);
    if (k < 0) return FV_STATUS_OK;
    if (fv_gguf_elem_type(g, k) != FV_GGUF_TYPE_STRING || fv_gguf_key_type(g, k) != FV_GGUF_TYPE_ARRAY)
        return ERR(FV_STATUS_INVALID_ARGUMENT, "%s is not an array of strings", key);
    uint64_t count = fv_gguf_elem_count(g, k);
    if (count > (1u << 30)) return ERR(FV_STATUS_INVALID_ARGUMENT, "%s: %llu entries", key,
                                       (unsigned long long)count);
    *v = malloc((count ? count : 1) * sizeof **v);
    *lens = malloc((count ? count : 1) * sizeof **lens);
    if (!*v || !*lens) return ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    for (uint64_t i = 0; i < count; i++)
        if (fv_gguf_value_string(g, k, i, &(*v)[i], &(*lens)[i]))
            return ERR(FV_STATUS_INVALID_ARGUMENT, "%s[%llu] is unreadable", key, (unsigned long long)i);
    *n = (size_t)count;
    return FV_STATUS_OK;
}

/* A numeric array key with exactly n entries, read as floats (`f`) or as
 * 32-bit integers (`ints`); an absent key leaves the output NULL. */
static fv_status gguf_numbers(const fv_gguf *g, const char *key, size_t n, float **f, int32_t **ints, char *error,
                              size_t error_size)
{
    int64_t k = fv_gguf_find_key(g, key);
    if (k < 0) return FV_STATUS_OK;
    if (fv_gguf_elem_count(g, k) != n)
        return ERR(FV_STATUS_INVALID_ARGUMENT, "%s: %llu entries for %zu tokens", key,
                   (unsigned long long)fv_gguf_elem_count(g, k), n);
    void *out = malloc((n ? n : 1) * (f ? sizeof **f : sizeof **ints));
    if (!out) return ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
    if (f) *f = out;
    else *ints = out;
    for (size_t i = 0; i < n; i++) {
        double d;
        int64_t v;
        if (f ? fv_gguf_value_float(g, k, i, &d) : fv_gguf_value_int(g, k, i, &v))
            return ERR(FV_STATUS_INVALID_ARGUMENT, "%s[%zu] is not %s", key, i, f ? "a number" : "an integer");
        if (f) (*f)[i] = (float)d;
        else (*ints)[i] = (int32_t)v;
    }
    return FV_STATUS_OK;
}

fv_status fv_tokenizer_load_gguf(const fv_gguf *g, fv_tokenizer **out, char *error, size_t error_size)
{
    if (!out || !g) return ERR(FV_STATUS_INVALID_ARGUMENT, "fv_tokenizer_load_gguf: NULL argument");
    *out = NULL;
    fv_tokenizer_gguf_kv kv = {0};
    kv.model = fv_gguf_get_string(g, "tokenizer.ggml.model", NULL);
    kv.pre = fv_gguf_get_string(g, "tokenizer.ggml.pre", NULL);
    const char **tokens = NULL, **merges = NULL;
    size_t *token_lens = NULL, *merge_lens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    fv_status st = gguf_strings(g, "tokenizer.ggml.tokens", &tokens, &token_lens, &kv.n_tokens, error, error_size);
    if (!st) st = gguf_strings(g, "tokenizer.ggml.merges", &merges, &merge_lens, &kv.n_merges, error, error_size);
    if (!st) st = gguf_numbers(g, "tokenizer.ggml.scores", kv.n_tokens, &scores, NULL, error, error_size);
    if (!st) st = gguf_numbers(g, "tokenizer.ggml.token_type", kv.n_tokens, NULL, &types, error, error_size);
    if (!st) {
        kv.tokens = tokens;
        kv.token_lengths = token_lens;
        kv.merges = merges;
        kv.merge_lengths = merge_lens;
        kv.scores = scores;
        kv.token_types = types;
        gguf_id(g, "tokenizer.ggml.bos_token_id", &kv.has_bos, &kv.bos_id);
        gguf_id(g, "tokenizer.ggml.eos_token_id", &kv.has_eos, &kv.eos_id);
        gguf_id(g, "tokenizer.ggml.unknown_token_id", &kv.has_unk, &kv.unk_id);
        gguf_id(g, "tokenizer.ggml.padding_token_id", &kv.has_pad, &kv.pad_id);
        kv.add_bos = gguf_tristate(g, "tokenizer.ggml.add_bos_token");
        kv.add_eos = gguf_tristate(g, "tokenizer.ggml.add_eos_token");
        kv.add_space_prefix = gguf_tristate(g, "tokenizer.ggml.add_space_prefix");
        st = fv_tokenizer_load_gguf_kv(&kv, out, error, error_size);
    }
    free(tokens);
    free(token_lens);
    free(merges);
    free(merge_lens);
    free(scores);
    free(types);
    return st;
}

/* ---- any of them ------------------------------------------------------------------ */

fv_status fv_tokenizer_load(const char *path, fv_tokenizer **out, char *error, size_t error_size)
{
    if (!out || !path) return ERR(FV_STATUS_INVALID_ARGUMENT, "fv_tokenizer_load: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return ERR(FV_STATUS_IO_ERROR, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) {
        size_t len = strlen(path);
        char *p = malloc(len + sizeof "/tokenizer.json");
        if (!p) return ERR(FV_STATUS_OUT_OF_HOST_MEMORY, "out of memory");
        snprintf(p, len + sizeof "/tokenizer.json", "%s/tokenizer.json", path);
        fv_status st = fv_tokenizer_load_hf(p, out, error, error_size);
        free(p);
        return st;
    }
    /* GGUF files start with their magic; anything else is taken as JSON */
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return ERR(FV_STATUS_IO_ERROR, "%s: cannot open", path);
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        fv_gguf *g;
        fv_status st = fv_gguf_open(path, &g, error, error_size);
        if (st) return st;
        st = fv_tokenizer_load_gguf(g, out, error, error_size);
        fv_gguf_close(g);
        return st;
    }
    return fv_tokenizer_load_hf(path, out, error, error_size);
}
