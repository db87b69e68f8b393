/* safetensors reader.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 * ({name: {"dtype", "shape", "data_offsets": [begin, end]}}, plus an
 * optional "__metadata__" object of strings), then the data; offsets count
 * from the first byte after the header. The file is memory-mapped and
 * everything the header claims is checked before any tensor is handed out,
 * so later code can trust every pointer and size: the format's own rules
 * (offsets cover the data exactly, with no overlap and no hole) plus
 * shape x dtype = byte length for every tensor. */
#include "load_internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The reference implementation refuses headers above 100 MB; a larger one
 * is corrupt or hostile, and parsing it would cost that much memory. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

struct fv_safetensors {
    fv_mapped_file file;
    char *path;
    fv_weight_info *tensors; /* in data order */
    const fv_weight_info **by_name;
    int count;
    char **meta;             /* key, value, key, value, ... */
    int nmeta;
    char *names;             /* all tensor names, NUL-separated */
};

static const struct {
    const char *name;
    fv_file_dtype dtype;
} st_dtypes[] = {
    {"F32", FV_FILE_DTYPE_F32}, {"F16", FV_FILE_DTYPE_F16}, {"BF16", FV_FILE_DTYPE_BF16},
    {"F64", FV_FILE_DTYPE_F64}, {"I8", FV_FILE_DTYPE_I8},   {"I16", FV_FILE_DTYPE_I16},
    {"I32", FV_FILE_DTYPE_I32}, {"I64", FV_FILE_DTYPE_I64}, {"U8", FV_FILE_DTYPE_U8},
    {"BOOL", FV_FILE_DTYPE_BOOL},
};

/* An exact non-negative integer from a JSON number (cJSON keeps numbers as
 * doubles, exact below 2^53, far past any file size). */
static bool json_uint(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v)) return false;
    *out = (int64_t)v;
    return true;
}

static int cmp_begin(const void *a, const void *b)
{
    const fv_weight_info *x = a, *y = b;
    const uint8_t *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Parses one tensor entry; `data`/`data_size` is the data section. The
 * name is not set here (the caller owns the name storage). */
static fv_status parse_entry(const cJSON *e, const uint8_t *data, uint64_t data_size, fv_weight_info *t,
                             char *err, size_t es)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "tensor '%s': its entry is not an object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "tensor '%s': no \"dtype\" string", name);
    size_t k = 0;
    while (k < FV_ARRAY_LEN(st_dtypes) && strcmp(st_dtypes[k].name, dt->valuestring) != 0) k++;
    if (k == FV_ARRAY_LEN(st_dtypes))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                            "tensor '%s': dtype \"%.32s\" is unknown or not supported (fovea reads F32, F16, "
                            "BF16, F64, I8, I16, I32, I64, U8, BOOL)", name, dt->valuestring);
    t->dtype = st_dtypes[k].dtype;
    if (!cJSON_IsArray(shape))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "tensor '%s': no \"shape\" array", name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > FV_WEIGHT_MAX_DIMS)
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "tensor '%s': %d dimensions (at most %d)", name,
                            ndim, FV_WEIGHT_MAX_DIMS);
    t->ndim = ndim;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++)
        if (!json_uint(d, &t->shape[i]))
            return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                                "tensor '%s': dimension %d is not a non-negative integer", name, i);
    int64_t begin, end, numel;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &begin) ||
        !json_uint(offs->child->next, &end))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                            "tensor '%s': \"data_offsets\" is not two non-negative integers", name);
    if (end < begin || (uint64_t)end > data_size)
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                            "tensor '%s': data_offsets [%lld, %lld] lie outside the %llu bytes of data", name,
                            (long long)begin, (long long)end, (unsigned long long)data_size);
    char s[128];
    size_t nbytes = 0;
    if (!fv_shape_numel(ndim, t->shape, &numel) || !fv_file_dtype_nbytes(t->dtype, numel, &nbytes) ||
        nbytes != (uint64_t)(end - begin))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                            "tensor '%s': shape %s of %s needs %zu bytes, data_offsets [%lld, %lld] hold %lld",
                            name, fv_dims_str(ndim, t->shape, s, sizeof s), fv_file_dtype_name(t->dtype), nbytes,
                            (long long)begin, (long long)end, (long long)(end - begin));
    t->data = data + begin;
    t->nbytes = nbytes;
    return FV_STATUS_OK;
}

static fv_status parse_metadata(fv_safetensors *st, const cJSON *m, char *err, size_t es)
{
    if (!cJSON_IsObject(m))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "\"__metadata__\" is not an object");
    if (st->meta) return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "\"__metadata__\" appears twice");
    int n = cJSON_GetArraySize(m);
    st->meta = calloc((size_t)n * 2 + 1, sizeof *st->meta);
    if (!st->meta) return fv_error_set(err, es, FV_STATUS_OUT_OF_HOST_MEMORY, "out of host memory");
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "\"__metadata__\" entry '%s' is not a string",
                                e->string);
        st->meta[st->nmeta * 2] = strdup(e->string);
        st->meta[st->nmeta * 2 + 1] = strdup(e->valuestring);
        st->nmeta++;
        if (!st->meta[st->nmeta * 2 - 2] || !st->meta[st->nmeta * 2 - 1])
            return fv_error_set(err, es, FV_STATUS_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    return FV_STATUS_OK;
}

static fv_status parse_header(fv_safetensors *st, const cJSON *root, const uint8_t *data, uint64_t data_size,
                              char *err, size_t es)
{
    if (!cJSON_IsObject(root))
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "the header is not a JSON object");
    int n = 0;
    size_t names_bytes = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            fv_status s = parse_metadata(st, e, err, es);
            if (s) return s;
            continue;
        }
        n++;
        names_bytes += strlen(e->string) + 1;
    }
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    st->by_name = calloc((size_t)n + 1, sizeof *st->by_name);
    st->names = malloc(names_bytes + 1);
    if (!st->tensors || !st->by_name || !st->names)
        return fv_error_set(err, es, FV_STATUS_OUT_OF_HOST_MEMORY, "out of host memory for %d tensors", n);
    char *name = st->names;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        fv_weight_info *t = &st->tensors[st->count];
        fv_status s = parse_entry(e, data, data_size, t, err, es);
        if (s) return s;
        size_t len = strlen(e->string) + 1;
        memcpy(name, e->string, len);
        t->name = name;
        name += len;
        st->count++;
    }
    /* The format's rule: in data order, each tensor starts where the last
     * one ended, the first at 0 and the last at the end of the file. This
     * rejects overlaps (two names for one range, or aliasing a live
     * tensor) and hidden bytes between tensors. */
    qsort(st->tensors, (size_t)st->count, sizeof *st->tensors, cmp_begin);
    uint64_t at = 0;
    for (int i = 0; i < st->count; i++) {
        const fv_weight_info *t = &st->tensors[i];
        uint64_t begin = (uint64_t)((const uint8_t *)t->data - data);
        if (begin < at)
            return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                                "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (ending at %llu)", t->name,
                                (unsigned long long)begin, (unsigned long long)(begin + t->nbytes),
                                st->tensors[i - 1].name, (unsigned long long)at);
        if (begin > at)
            return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                                "%llu unused bytes of data before tensor '%s' (at %llu)",
                                (unsigned long long)(begin - at), t->name, (unsigned long long)begin);
        at = begin + t->nbytes;
    }
    if (at != data_size)
        return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT,
                            "the tensors cover %llu of the %llu bytes of data after the header",
                            (unsigned long long)at, (unsigned long long)data_size);
    for (int i = 0; i < st->count; i++) st->by_name[i] = &st->tensors[i];
    fv_weight_index_sort(st->by_name, (size_t)st->count);
    const char *dup = fv_weight_index_duplicate(st->by_name, (size_t)st->count);
    if (dup) return fv_error_set(err, es, FV_STATUS_INVALID_ARGUMENT, "tensor '%s' appears twice", dup);
    return FV_STATUS_OK;
}

fv_status fv_safetensors_open(const char *path, fv_safetensors **out, char *error, size_t error_size)
{
    if (!out || !path)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "fv_safetensors_open: NULL argument");
    *out = NULL;
    fv_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    }
    char why[512] = "";
    fv_status s = fv_file_map(path, &st->file, error, error_size);
    if (s) {
        fv_safetensors_close(st);
        return s;
    }
    const uint8_t *p = st->file.data;
    uint64_t size = st->file.size, hlen = 0;
    if (size < 8) {
        s = fv_error_set(why, sizeof why, FV_STATUS_INVALID_ARGUMENT,
                         "%llu bytes is too short for a safetensors file (8-byte header length)",
                         (unsigned long long)size);
    } else {
        memcpy(&hlen, p, 8);
        if (hlen < 2 || hlen > ST_MAX_HEADER || hlen > size - 8)
            s = fv_error_set(why, sizeof why, FV_STATUS_INVALID_ARGUMENT,
                             "header length %llu is impossible (the file has %llu bytes after it; at most %llu "
                             "allowed) — not a safetensors file, or truncated",
                             (unsigned long long)hlen, (unsigned long long)(size - 8),
                             (unsigned long long)ST_MAX_HEADER);
    }
    cJSON *root = NULL;
    if (!s) {
        /* The Opts form reports where parsing stopped through its own
         * argument; cJSON_GetErrorPtr is a process-wide global. */
        const char *h = (const char *)p + 8, *end = NULL;
        root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, false);
        if (!root)
            s = fv_error_set(why, sizeof why, FV_STATUS_INVALID_ARGUMENT,
                             "the header is not valid JSON (near byte %ld)", end ? (long)(end - h) + 8 : -1L);
        /* Writers pad the header with spaces to align the data; anything
         * else after the JSON value means a damaged header. */
        while (!s && end && end < h + hlen) {
            if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
                s = fv_error_set(why, sizeof why, FV_STATUS_INVALID_ARGUMENT,
                                 "unexpected bytes after the header's JSON (at byte %ld)", (long)(end - h) + 8);
            end++;
        }
    }
    if (!s) s = parse_header(st, root, p + 8 + hlen, size - 8 - hlen, why, sizeof why);
    cJSON_Delete(root);
    if (s) {
        fv_error_set(error, error_size, s, "%s: %s", path, why);
        fv_safetensors_close(st);
        return s;
    }
    *out = st;
    return FV_STATUS_OK;
}

void fv_safetensors_close(fv_safetensors *st)
{
    if (!st) return;
    fv_file_unmap(&st->file);
    for (int i = 0; i < st->nmeta * 2; i++) free(st->meta[i]);
    free(st->meta);
    free(st->tensors);
    free(st->by_name);
    free(st->names);
    free(st->path);
    free(st);
}

int fv_safetensors_count(const fv_safetensors *st) { return st ? st->count : 0; }

const fv_weight_info *fv_safetensors_at(const fv_safetensors *st, int i)
{
    return st && i >= 0 && i < st->count ? &st->tensors[i] : NULL;
}

const fv_weight_info *fv_safetensors_find(const fv_safetensors *st, const char *name)
{
    return st ? fv_weight_index_find(st->by_name, (size_t)st->count, name) : NULL;
}

const char *fv_safetensors_metadata(const fv_safetensors *st, const char *key)
{
    for (int i = 0; st && key && i < st->nmeta; i++)
        if (strcmp(st->meta[i * 2], key) == 0) return st->meta[i * 2 + 1];
    return NULL;
}
