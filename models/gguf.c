/* GGUF reader (versions 2 and 3, little-endian).
 *
 * Layout: "GGUF", u32 version, u64 tensor count, u64 key/value count; the
 * key/values (u64-length string key, u32 type, value; arrays are u32
 * element type, u64 count, elements; strings are u64 length + bytes, no
 * NUL); the tensor infos (name, u32 n_dims, n_dims u64 sizes innermost
 * first, u32 ggml type, u64 offset into the data section); padding to
 * general.alignment (32 by default); the data section.
 *
 * The file is memory-mapped and parsed with a bounds-checked cursor, so a
 * truncated or hostile file can only produce an error that says where it
 * went wrong, never a read past the mapping. Values stay in the mapping;
 * only keys and scalar strings are copied (to be NUL-terminated). */
#include "load_internal.h"

#include <stdlib.h>
#include <string.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

typedef struct gguf_kv {
    char *key;
    fv_gguf_type type;  /* the value's type: a scalar type or ARRAY  */
    fv_gguf_type elem;  /* element type (the type itself for scalars) */
    uint64_t count;     /* elements (1 for scalars)                  */
    const uint8_t *data;/* first element in the file                  */
    const uint8_t **strs; /* string arrays: each element's length prefix */
    char *str;          /* scalar strings: a NUL-terminated copy      */
} gguf_kv;

struct fv_gguf {
    fv_mapped_file file;
    uint32_t version;
    size_t alignment;
    gguf_kv *kv;
    int64_t nkv;
    fv_weight_info *tensors; /* file order */
    const fv_weight_info **by_name;
    int ntensors;
    char *names;
};

/* ---- bounded cursor --------------------------------------------------------- */

typedef struct cursor {
    const uint8_t *base, *p, *end;
} cursor;

static bool has(const cursor *c, uint64_t n) { return (uint64_t)(c->end - c->p) >= n; }
static bool rd_u32(cursor *c, uint32_t *v)
{
    if (!has(c, 4)) return false;
    memcpy(v, c->p, 4);
    c->p += 4;
    return true;
}
static bool rd_u64(cursor *c, uint64_t *v)
{
    if (!has(c, 8)) return false;
    memcpy(v, c->p, 8);
    c->p += 8;
    return true;
}
/* A string: its bytes stay in the file; *s points at them. */
static bool rd_str(cursor *c, const char **s, uint64_t *len)
{
    if (!rd_u64(c, len) || !has(c, *len)) return false;
    *s = (const char *)c->p;
    c->p += *len;
    return true;
}
static char *dup_n(const char *s, uint64_t n)
{
    char *d = malloc((size_t)n + 1);
    if (d) {
        memcpy(d, s, (size_t)n);
        d[n] = 0;
    }
    return d;
}

static const size_t type_size[FV_GGUF_TYPE_COUNT_] = {
    [FV_GGUF_TYPE_UINT8] = 1,  [FV_GGUF_TYPE_INT8] = 1,    [FV_GGUF_TYPE_UINT16] = 2,
    [FV_GGUF_TYPE_INT16] = 2,  [FV_GGUF_TYPE_UINT32] = 4,  [FV_GGUF_TYPE_INT32] = 4,
    [FV_GGUF_TYPE_FLOAT32] = 4, [FV_GGUF_TYPE_BOOL] = 1,   [FV_GGUF_TYPE_STRING] = 0,
    [FV_GGUF_TYPE_ARRAY] = 0,  [FV_GGUF_TYPE_UINT64] = 8,  [FV_GGUF_TYPE_INT64] = 8,
    [FV_GGUF_TYPE_FLOAT64] = 8,
};

/* ggml tensor types: the ones fovea reads, and names for the rest so an
 * error can say what the file holds. */
static const struct {
    uint32_t id;
    const char *name;
    fv_file_dtype dtype; /* FV_FILE_DTYPE_COUNT_: not read */
} ggml_types[] = {
    {0, "F32", FV_FILE_DTYPE_F32},     {1, "F16", FV_FILE_DTYPE_F16},      {2, "Q4_0", FV_FILE_DTYPE_Q4_0},
    {3, "Q4_1", FV_FILE_DTYPE_COUNT_}, {6, "Q5_0", FV_FILE_DTYPE_COUNT_},  {7, "Q5_1", FV_FILE_DTYPE_COUNT_},
    {8, "Q8_0", FV_FILE_DTYPE_Q8_0},   {9, "Q8_1", FV_FILE_DTYPE_COUNT_},  {10, "Q2_K", FV_FILE_DTYPE_COUNT_},
    {11, "Q3_K", FV_FILE_DTYPE_COUNT_}, {12, "Q4_K", FV_FILE_DTYPE_COUNT_}, {13, "Q5_K", FV_FILE_DTYPE_COUNT_},
    {14, "Q6_K", FV_FILE_DTYPE_COUNT_}, {15, "Q8_K", FV_FILE_DTYPE_COUNT_}, {16, "IQ2_XXS", FV_FILE_DTYPE_COUNT_},
    {17, "IQ2_XS", FV_FILE_DTYPE_COUNT_}, {18, "IQ3_XXS", FV_FILE_DTYPE_COUNT_},
    {19, "IQ1_S", FV_FILE_DTYPE_COUNT_}, {20, "IQ4_NL", FV_FILE_DTYPE_COUNT_}, {21, "IQ3_S", FV_FILE_DTYPE_COUNT_},
    {22, "IQ2_S", FV_FILE_DTYPE_COUNT_}, {23, "IQ4_XS", FV_FILE_DTYPE_COUNT_}, {24, "I8", FV_FILE_DTYPE_I8},
    {25, "I16", FV_FILE_DTYPE_I16},    {26, "I32", FV_FILE_DTYPE_I32},     {27, "I64", FV_FILE_DTYPE_I64},
    {28, "F64", FV_FILE_DTYPE_F64},    {29, "IQ1_M", FV_FILE_DTYPE_COUNT_}, {30, "BF16", FV_FILE_DTYPE_BF16},
    {34, "TQ1_0", FV_FILE_DTYPE_COUNT_}, {35, "TQ2_0", FV_FILE_DTYPE_COUNT_}, {39, "MXFP4", FV_FILE_DTYPE_COUNT_},
};

/* ---- parsing --------------------------------------------------------------- */

typedef struct parse {
    fv_gguf *g;
    cursor c;
    char *why;
    size_t why_size;
} parse;

static fv_status bad(parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static fv_status bad(parse *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->why, ps->why_size, fmt, ap);
    va_end(ap);
    return FV_STATUS_INVALID_ARGUMENT;
}

static fv_status truncated(parse *ps, const char *what)
{
    return bad(ps, "truncated at byte %zu (of %zu) inside %s", (size_t)(ps->c.p - ps->c.base),
               (size_t)(ps->c.end - ps->c.base), what);
}

/* Reads one value (or an array's elements) of type `t` at the cursor. */
static fv_status parse_value(parse *ps, gguf_kv *kv, const char *what)
{
    cursor *c = &ps->c;
    uint32_t t32 = (uint32_t)kv->type;
    if (t32 == FV_GGUF_TYPE_ARRAY) {
        uint64_t n;
        if (!rd_u32(c, &t32) || !rd_u64(c, &n)) return truncated(ps, what);
        if (t32 >= FV_GGUF_TYPE_COUNT_ || t32 == FV_GGUF_TYPE_ARRAY)
            return bad(ps, "%s is an array of type %u, which GGUF does not define (nested arrays are not "
                       "supported)", what, t32);
        kv->elem = (fv_gguf_type)t32;
        kv->count = n;
        kv->data = c->p;
        if (t32 != FV_GGUF_TYPE_STRING) {
            if (n > (uint64_t)(c->end - c->p) / type_size[t32]) return truncated(ps, what);
            c->p += n * type_size[t32];
            return FV_STATUS_OK;
        }
        /* Every string takes at least its 8-byte length, which bounds n
         * before anything is allocated for it. */
        if (n > (uint64_t)(c->end - c->p) / 8) return truncated(ps, what);
        kv->strs = malloc((size_t)(n ? n : 1) * sizeof *kv->strs);
        if (!kv->strs) return bad(ps, "out of host memory for %s (%llu strings)", what, (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) {
            const char *s;
            uint64_t len;
            kv->strs[i] = c->p;
            if (!rd_str(c, &s, &len)) return truncated(ps, what);
        }
        return FV_STATUS_OK;
    }
    if (t32 >= FV_GGUF_TYPE_COUNT_) return bad(ps, "%s has type %u, which GGUF does not define", what, t32);
    kv->elem = kv->type;
    kv->count = 1;
    kv->data = c->p;
    if (t32 == FV_GGUF_TYPE_STRING) {
        const char *s;
        uint64_t len;
        if (!rd_str(c, &s, &len)) return truncated(ps, what);
        if (!(kv->str = dup_n(s, len))) return bad(ps, "out of host memory for %s", what);
        return FV_STATUS_OK;
    }
    if (!has(c, type_size[t32])) return truncated(ps, what);
    c->p += type_size[t32];
    return FV_STATUS_OK;
}

static fv_status parse_kvs(parse *ps, uint64_t nkv)
{
    fv_gguf *g = ps->g;
    /* A key/value takes at least 8 (key length) + 4 (type) + 1 bytes. */
    if (nkv > (uint64_t)(ps->c.end - ps->c.p) / 13)
        return bad(ps, "the header claims %llu metadata keys, more than the file can hold",
                   (unsigned long long)nkv);
    g->kv = calloc((size_t)nkv + 1, sizeof *g->kv);
    if (!g->kv) return bad(ps, "out of host memory for %llu metadata keys", (unsigned long long)nkv);
    for (uint64_t i = 0; i < nkv; i++) {
        gguf_kv *kv = &g->kv[i];
        const char *k;
        uint64_t klen;
        uint32_t type;
        char what[160];
        snprintf(what, sizeof what, "metadata key %llu", (unsigned long long)i);
        if (!rd_str(&ps->c, &k, &klen)) return truncated(ps, what);
        if (!(kv->key = dup_n(k, klen))) return bad(ps, "out of host memory");
        g->nkv = (int64_t)i + 1;
        snprintf(what, sizeof what, "metadata key %llu ('%.100s')", (unsigned long long)i, kv->key);
        if (klen == 0 || strlen(kv->key) != klen) return bad(ps, "%s: the key is empty or holds a NUL byte", what);
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(g->kv[j].key, kv->key) == 0) return bad(ps, "%s appears twice", what);
        if (!rd_u32(&ps->c, &type)) return truncated(ps, what);
        kv->type = (fv_gguf_type)type;
        if (type >= FV_GGUF_TYPE_COUNT_)
            return bad(ps, "%s has type %u, which GGUF does not define", what, type);
        fv_status s = parse_value(ps, kv, what);
        if (s) return s;
    }
    return FV_STATUS_OK;
}

/* One tensor info; its name stays in the file (not NUL-terminated). */
static fv_status parse_tensor_info(parse *ps, fv_weight_info *t, uint64_t *name_len, uint64_t i)
{
    const char *name;
    uint64_t len, off;
    uint32_t ndim, type;
    char what[160];
    snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)i);
    if (!rd_str(&ps->c, &name, &len)) return truncated(ps, what);
    t->name = name;
    *name_len = len;
    snprintf(what, sizeof what, "tensor '%.*s'", (int)(len < 100 ? len : 100), name);
    if (len == 0 || memchr(name, 0, (size_t)len)) return bad(ps, "%s: the name is empty or holds a NUL byte", what);
    if (!rd_u32(&ps->c, &ndim)) return truncated(ps, what);
    if (ndim > GGUF_MAX_DIMS) return bad(ps, "%s has %u dimensions (GGUF allows %d)", what, ndim, GGUF_MAX_DIMS);
    t->ndim = (int)ndim;
    for (uint32_t d = 0; d < ndim; d++) {
        uint64_t ne;
        if (!rd_u64(&ps->c, &ne)) return truncated(ps, what);
        if (ne > ((uint64_t)1 << 62)) return bad(ps, "%s: dimension %u is %llu", what, d, (unsigned long long)ne);
        t->shape[ndim - 1 - d] = (int64_t)ne; /* outermost first */
    }
    if (!rd_u32(&ps->c, &type) || !rd_u64(&ps->c, &off)) return truncated(ps, what);
    size_t k = 0;
    while (k < FV_ARRAY_LEN(ggml_types) && ggml_types[k].id != type) k++;
    if (k == FV_ARRAY_LEN(ggml_types))
        return bad(ps, "%s has ggml type %u, which fovea does not know", what, type);
    if (ggml_types[k].dtype == FV_FILE_DTYPE_COUNT_)
        return bad(ps, "%s has type %s, which fovea does not read (it reads F32, F16, BF16, Q8_0, Q4_0, F64, "
                   "I8, I16, I32, I64)", what, ggml_types[k].name);
    t->dtype = ggml_types[k].dtype;
    int64_t numel;
    int block = fv_file_dtype_block(t->dtype);
    char s[96];
    fv_dims_str(t->ndim, t->shape, s, sizeof s);
    if (!fv_shape_numel(t->ndim, t->shape, &numel))
        return bad(ps, "%s: shape %s has too many elements", what, s);
    if ((ndim > 0 && t->shape[ndim - 1] % block) || !fv_file_dtype_nbytes(t->dtype, numel, &t->nbytes))
        return bad(ps, "%s: shape %s does not suit %s (the innermost size must be a multiple of %d)", what, s,
                   ggml_types[k].name, block);
    /* Keep the offset for now; it becomes a pointer once the data
     * section's start is known. */
    t->data = (const void *)(uintptr_t)off;
    return FV_STATUS_OK;
}

static fv_status parse_tensor_infos(parse *ps, uint64_t nt)
{
    fv_gguf *g = ps->g;
    /* A tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes. */
    if (nt > (uint64_t)(ps->c.end - ps->c.p) / 24 || nt > INT32_MAX)
        return bad(ps, "the header claims %llu tensors, more than the file can hold", (unsigned long long)nt);
    g->tensors = calloc((size_t)nt + 1, sizeof *g->tensors);
    g->by_name = calloc((size_t)nt + 1, sizeof *g->by_name);
    uint64_t *name_len = calloc((size_t)nt + 1, sizeof *name_len);
    if (!g->tensors || !g->by_name || !name_len) {
        free(name_len);
        return bad(ps, "out of host memory for %llu tensors", (unsigned long long)nt);
    }
    fv_status s = FV_STATUS_OK;
    for (uint64_t i = 0; i < nt && !s; i++) {
        s = parse_tensor_info(ps, &g->tensors[i], &name_len[i], i);
        g->ntensors = (int)i + 1;
    }
    /* The names point into the file until here; copy them, NUL-terminated,
     * into one block. */
    size_t total = 0;
    for (int i = 0; i < g->ntensors && !s; i++) total += (size_t)name_len[i] + 1;
    if (!s && !(g->names = malloc(total + 1))) s = bad(ps, "out of host memory for tensor names");
    char *at = g->names;
    for (int i = 0; i < g->ntensors && !s; i++) {
        memcpy(at, g->tensors[i].name, (size_t)name_len[i]);
        at[name_len[i]] = 0;
        g->tensors[i].name = at;
        at += name_len[i] + 1;
    }
    free(name_len);
    if (s) g->ntensors = 0; /* names not copied: nothing may read them */
    return s;
}


static int cmp_offset(const void *a, const void *b)
{
    const fv_weight_info *x = *(const fv_weight_info *const *)a, *y = *(const fv_weight_info *const *)b;
    if (x->data != y->data) return (const uint8_t *)x->data < (const uint8_t *)y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Places every tensor in the data section and checks it lies inside, is
 * aligned and overlaps no other. */
static fv_status place_tensors(parse *ps)
{
    fv_gguf *g = ps->g;
    size_t header_end = (size_t)(ps->c.p - ps->c.base), size = g->file.size;
    size_t data_start = FV_ALIGN_UP(header_end, g->alignment);
    if (g->ntensors == 0) return FV_STATUS_OK;
    if (data_start > size)
        return bad(ps, "truncated: the data section would start at byte %zu of %zu", data_start, size);
    uint64_t data_size = size - data_start;
    for (int i = 0; i < g->ntensors; i++) {
        fv_weight_info *t = &g->tensors[i];
        uint64_t off = (uint64_t)(uintptr_t)t->data;
        if (off % g->alignment)
            return bad(ps, "tensor '%s': offset %llu is not a multiple of the alignment %zu", t->name,
                       (unsigned long long)off, g->alignment);
        if (off > data_size || t->nbytes > data_size - off)
            return bad(ps, "tensor '%s': bytes %llu..%llu of the data section lie past its end (%llu bytes; the "
                       "file is truncated or the offset is wrong)", t->name, (unsigned long long)off,
                       (unsigned long long)(off + t->nbytes), (unsigned long long)data_size);
        t->data = g->file.data + data_start + off;
    }
    for (int i = 0; i < g->ntensors; i++) g->by_name[i] = &g->tensors[i];
    qsort(g->by_name, (size_t)g->ntensors, sizeof *g->by_name, cmp_offset);
    for (int i = 1; i < g->ntensors; i++) {
        const fv_weight_info *a = g->by_name[i - 1], *b = g->by_name[i];
        if ((const uint8_t *)a->data + a->nbytes > (const uint8_t *)b->data)
            return bad(ps, "tensor '%s' overlaps tensor '%s'", b->name, a->name);
    }
    return FV_STATUS_OK;
}

static fv_status parse_file(parse *ps)
{
    fv_gguf *g = ps->g;
    cursor *c = &ps->c;
    uint32_t magic;
    uint64_t nt, nkv;
    if (!rd_u32(c, &magic)) return bad(ps, "%zu bytes is too short for a GGUF file", g->file.size);
    if (memcmp(g->file.data, "GGUF", 4) != 0)
        return bad(ps, "bad magic %02x %02x %02x %02x (a GGUF file starts with \"GGUF\")", g->file.data[0],
                   g->file.data[1], g->file.data[2], g->file.data[3]);
    if (!rd_u32(c, &g->version)) return truncated(ps, "the header");
    if (g->version != 2 && g->version != 3) {
        /* A byte-swapped version means a big-endian file. */
        if (g->version == 0x02000000u || g->version == 0x03000000u)
            return bad(ps, "a big-endian GGUF file; fovea reads little-endian ones");
        return bad(ps, "GGUF version %u; fovea reads versions 2 and 3", g->version);
    }
    if (!rd_u64(c, &nt) || !rd_u64(c, &nkv)) return truncated(ps, "the header");
    fv_status s = parse_kvs(ps, nkv);
    if (s) return s;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t ka = fv_gguf_find_key(g, "general.alignment");
    if (ka >= 0) {
        int64_t a;
        if (g->kv[ka].type == FV_GGUF_TYPE_ARRAY || fv_gguf_value_int(g, ka, 0, &a) ||
            a < 1 || a > (1 << 30) || (a & (a - 1)))
            return bad(ps, "general.alignment is not a power of two integer up to 2^30");
        g->alignment = (size_t)a;
    }
    s = parse_tensor_infos(ps, nt);
    if (s) return s;
    s = place_tensors(ps);
    if (s) return s;
    for (int i = 0; i < g->ntensors; i++) g->by_name[i] = &g->tensors[i];
    fv_weight_index_sort(g->by_name, (size_t)g->ntensors);
    const char *dup = fv_weight_index_duplicate(g->by_name, (size_t)g->ntensors);
    if (dup) return bad(ps, "tensor '%s' appears twice", dup);
    return FV_STATUS_OK;
}

fv_status fv_gguf_open(const char *path, fv_gguf **out, char *error, size_t error_size)
{
    if (!out || !path)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "fv_gguf_open: NULL argument");
    *out = NULL;
    fv_gguf *g = calloc(1, sizeof *g);
    if (!g) return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    fv_status s = fv_file_map(path, &g->file, error, error_size);
    if (s) {
        free(g);
        return s;
    }
    char why[512] = "";
    parse ps = {g, {g->file.data, g->file.data, g->file.data + g->file.size}, why, sizeof why};
    s = parse_file(&ps);
    if (s) {
        fv_error_set(error, error_size, s, "%s: %s", path, why);
        fv_gguf_close(g);
        return s;
    }
    *out = g;
    return FV_STATUS_OK;
}

void fv_gguf_close(fv_gguf *g)
{
    if (!g) return;
    for (int64_t i = 0; i < g->nkv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str);
        free(g->kv[i].strs);
    }
    free(g->kv);
    free(g->tensors);
    free(g->by_name);
    free(g->names);
    fv_file_unmap(&g->file);
    free(g);
}

uint32_t fv_gguf_version(const fv_gguf *g) { return g ? g->version : 0; }
size_t fv_gguf_alignment(const fv_gguf *g) { return g ? g->alignment : 0; }
int fv_gguf_tensor_count(const fv_gguf *g) { return g ? g->ntensors : 0; }

const fv_weight_info *fv_gguf_tensor_at(const fv_gguf *g, int i)
{
    return g && i >= 0 && i < g->ntensors ? &g->tensors[i] : NULL;
}

const fv_weight_info *fv_gguf_find_tensor(const fv_gguf *g, const char *name)
{
    return g ? fv_weight_index_find(g->by_name, (size_t)g->ntensors, name) : NULL;
}

/* ---- metadata access ----------------------------------------------------------- */

int64_t fv_gguf_key_count(const fv_gguf *g) { return g ? g->nkv : 0; }

int64_t fv_gguf_find_key(const fv_gguf *g, const char *key)
{
    for (int64_t i = 0; g && key && i < g->nkv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return i;
    return -1;
}

static const gguf_kv *kv_at(const fv_gguf *g, int64_t i) { return g && i >= 0 && i < g->nkv ? &g->kv[i] : NULL; }

const char *fv_gguf_key_name(const fv_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}
fv_gguf_type fv_gguf_key_type(const fv_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : FV_GGUF_TYPE_COUNT_;
}
fv_gguf_type fv_gguf_elem_type(const fv_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->elem : FV_GGUF_TYPE_COUNT_;
}
uint64_t fv_gguf_elem_count(const fv_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->count : 0;
}

/* The bytes of element `elem` of key i, or NULL when out of range. */
static const uint8_t *elem_at(const fv_gguf *g, int64_t i, uint64_t elem, fv_gguf_type *type)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv || elem >= kv->count) return NULL;
    *type = kv->elem;
    if (kv->elem == FV_GGUF_TYPE_STRING) return kv->strs ? kv->strs[elem] : kv->data;
    return kv->data + elem * type_size[kv->elem];
}

fv_status fv_gguf_value_int(const fv_gguf *g, int64_t i, uint64_t elem, int64_t *out)
{
    fv_gguf_type t;
    const uint8_t *p = elem_at(g, i, elem, &t);
    if (!p || !out) return FV_STATUS_INVALID_ARGUMENT;
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
    } v;
    if (t == FV_GGUF_TYPE_BOOL || type_size[t] == 0 || t == FV_GGUF_TYPE_FLOAT32 || t == FV_GGUF_TYPE_FLOAT64)
        return FV_STATUS_INVALID_ARGUMENT;
    memcpy(&v, p, type_size[t]);
    switch (t) {
    case FV_GGUF_TYPE_UINT8: *out = v.u8; break;
    case FV_GGUF_TYPE_INT8: *out = v.i8; break;
    case FV_GGUF_TYPE_UINT16: *out = v.u16; break;
    case FV_GGUF_TYPE_INT16: *out = v.i16; break;
    case FV_GGUF_TYPE_UINT32: *out = v.u32; break;
    case FV_GGUF_TYPE_INT32: *out = v.i32; break;
    case FV_GGUF_TYPE_INT64: *out = v.i64; break;
    case FV_GGUF_TYPE_UINT64:
        if (v.u64 > INT64_MAX) return FV_STATUS_INVALID_ARGUMENT;
        *out = (int64_t)v.u64;
        break;
    default: return FV_STATUS_INVALID_ARGUMENT;
    }
    return FV_STATUS_OK;
}

fv_status fv_gguf_value_float(const fv_gguf *g, int64_t i, uint64_t elem, double *out)
{
    fv_gguf_type t;
    const uint8_t *p = elem_at(g, i, elem, &t);
    if (!p || !out) return FV_STATUS_INVALID_ARGUMENT;
    if (t == FV_GGUF_TYPE_FLOAT32) {
        float f;
        memcpy(&f, p, 4);
        *out = f;
        return FV_STATUS_OK;
    }
    if (t == FV_GGUF_TYPE_FLOAT64) {
        memcpy(out, p, 8);
        return FV_STATUS_OK;
    }
    int64_t v;
    if (fv_gguf_value_int(g, i, elem, &v)) return FV_STATUS_INVALID_ARGUMENT;
    *out = (double)v;
    return FV_STATUS_OK;
}

fv_status fv_gguf_value_bool(const fv_gguf *g, int64_t i, uint64_t elem, bool *out)
{
    fv_gguf_type t;
    const uint8_t *p = elem_at(g, i, elem, &t);
    if (!p || !out || t != FV_GGUF_TYPE_BOOL) return FV_STATUS_INVALID_ARGUMENT;
    *out = *p != 0;
    return FV_STATUS_OK;
}

fv_status fv_gguf_value_string(const fv_gguf *g, int64_t i, uint64_t elem, const char **str, size_t *len)
{
    fv_gguf_type t;
    const uint8_t *p = elem_at(g, i, elem, &t);
    if (!p || !str || t != FV_GGUF_TYPE_STRING) return FV_STATUS_INVALID_ARGUMENT;
    uint64_t n;
    memcpy(&n, p, 8); /* bounds were checked when the file was opened */
    *str = (const char *)p + 8;
    if (len) *len = (size_t)n;
    return FV_STATUS_OK;
}

static int64_t scalar_key(const fv_gguf *g, const char *key)
{
    int64_t i = fv_gguf_find_key(g, key);
    return i >= 0 && g->kv[i].type != FV_GGUF_TYPE_ARRAY ? i : -1;
}

int64_t fv_gguf_get_int(const fv_gguf *g, const char *key, int64_t def)
{
    int64_t v = def;
    int64_t i = scalar_key(g, key);
    if (i >= 0 && fv_gguf_value_int(g, i, 0, &v)) v = def;
    return v;
}

double fv_gguf_get_float(const fv_gguf *g, const char *key, double def)
{
    double v = def;
    int64_t i = scalar_key(g, key);
    if (i >= 0 && fv_gguf_value_float(g, i, 0, &v)) v = def;
    return v;
}

bool fv_gguf_get_bool(const fv_gguf *g, const char *key, bool def)
{
    bool v = def;
    int64_t i = scalar_key(g, key);
    if (i >= 0 && fv_gguf_value_bool(g, i, 0, &v)) v = def;
    return v;
}

const char *fv_gguf_get_string(const fv_gguf *g, const char *key, const char *def)
{
    int64_t i = scalar_key(g, key);
    return i >= 0 && g->kv[i].str ? g->kv[i].str : def;
}
