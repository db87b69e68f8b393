/* Weight sets: the tensors of one model from a Hugging Face directory
 * (config.json + safetensors shards) or one GGUF file, looked up by name,
 * checked against the shape the architecture expects, converted to the
 * dtype asked for and uploaded.
 *
 * Uploads go straight into device memory where the host can map it (CPU
 * backend, unified memory); elsewhere they go through the backend's
 * buffer writes in chunks, so a conversion never needs a host copy of a
 * whole tensor. */
#include "load_internal.h"

#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Elements converted per step: 4 MiB of f32, a multiple of the 32-element
 * quantisation block. */
#define CHUNK_ELEMS ((int64_t)1 << 20)
#define PROGRESS_MIN_BYTES ((size_t)64 << 20)
#define PROGRESS_WIDTH 30
#define PATH_BYTES 4096

struct fv_weights {
    fv_context *ctx;
    char *path;
    fv_safetensors **shards;
    int nshards;
    fv_gguf *gguf;
    fv_config *config, *pp_config;
    const fv_weight_info **by_name;
    int count;
    /* progress bar */
    bool progress, progress_open;
    size_t total_bytes, loaded_bytes;
    int drawn_permille;
    const char *label;
};

/* ---- progress ------------------------------------------------------------ */

static void progress_draw(fv_weights *w)
{
    size_t done = FV_MIN(w->loaded_bytes, w->total_bytes);
    int permille = w->total_bytes ? (int)((double)done * 1000.0 / (double)w->total_bytes) : 1000;
    /* Redraw in 0.5% steps: a terminal write per chunk would cost more
     * than the conversion on fast disks. */
    if (w->progress_open && permille < 1000 && permille - w->drawn_permille < 5) return;
    int filled = permille * PROGRESS_WIDTH / 1000;
    char bar[PROGRESS_WIDTH + 1];
    for (int i = 0; i < PROGRESS_WIDTH; i++) bar[i] = i < filled ? '#' : ' ';
    bar[PROGRESS_WIDTH] = 0;
    fprintf(stderr, "\rloading %s [%s] %3d%% %.0f/%.0f MiB", w->label, bar, permille / 10,
            (double)done / 1048576.0, (double)w->total_bytes / 1048576.0);
    w->progress_open = true;
    w->drawn_permille = permille;
    if (permille >= 1000) {
        fputc('\n', stderr);
        w->progress = false; /* finished: later loads (a tensor loaded twice) stay quiet */
        w->progress_open = false;
    }
    fflush(stderr);
}

static void progress_add(fv_weights *w, size_t bytes)
{
    w->loaded_bytes += bytes;
    if (w->progress) progress_draw(w);
}

/* ---- opening ------------------------------------------------------------------ */

static fv_status join(fv_weights *w, char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PATH_BYTES, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_BYTES)
        return fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: path too long: %s/%s", dir, name);
    return FV_STATUS_OK;
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static fv_status add_shard(fv_weights *w, const char *path)
{
    fv_safetensors **v = realloc(w->shards, (size_t)(w->nshards + 1) * sizeof *v);
    if (!v) return fv_fail(w->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "weights: out of host memory");
    w->shards = v;
    char err[1024];
    fv_status s = fv_safetensors_open(path, &w->shards[w->nshards], err, sizeof err);
    if (s) return fv_fail(w->ctx, s, "weights: %s", err);
    w->nshards++;
    return FV_STATUS_OK;
}

static fv_status load_config(fv_weights *w, const char *dir, const char *name, fv_config **out)
{
    char path[PATH_BYTES], err[512];
    fv_status s = join(w, path, dir, name);
    if (s || !is_file(path)) return s;
    s = fv_config_load(path, out, err, sizeof err);
    return s ? fv_fail(w->ctx, s, "weights: %s", err) : FV_STATUS_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The shards a model.safetensors.index.json names in its weight_map, each
 * opened once; then every name it maps must be in the shard it names. */
static fv_status open_index(fv_weights *w, const char *dir, const char *index_path)
{
    char *text = NULL, err[512];
    size_t n = 0;
    fv_status s = fv_file_read_text(index_path, &text, &n, err, sizeof err);
    if (s) return fv_fail(w->ctx, s, "weights: %s", err);
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: %s is not JSON with a \"weight_map\" object",
                       index_path);
    }
    int entries = cJSON_GetArraySize(map), nfiles = 0;
    const char **files = calloc((size_t)entries + 1, sizeof *files);
    if (!files) {
        cJSON_Delete(root);
        return fv_fail(w->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "weights: out of host memory");
    }
    for (const cJSON *e = map->child; e && !s; e = e->next) {
        /* A shard is a file beside the index; a path that leaves the
         * directory is refused rather than followed. */
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, '/') ||
            strcmp(e->valuestring, "..") == 0)
            s = fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: %s maps '%s' to something other than a "
                        "file name in its directory", index_path, e->string);
        else
            files[nfiles++] = e->valuestring;
    }
    /* Unique names in sorted order: shard k is files[k]. */
    qsort(files, (size_t)nfiles, sizeof *files, cmp_str);
    int unique = 0;
    for (int i = 0; i < nfiles; i++)
        if (!unique || strcmp(files[i], files[unique - 1]) != 0) files[unique++] = files[i];
    for (int i = 0; i < unique && !s; i++) {
        char path[PATH_BYTES];
        s = join(w, path, dir, files[i]);
        if (!s) s = add_shard(w, path);
    }
    for (const cJSON *e = map->child; e && !s; e = e->next) {
        const char **f = bsearch(&e->valuestring, files, (size_t)unique, sizeof *files, cmp_str);
        if (!fv_safetensors_find(w->shards[f - files], e->string))
            s = fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: %s maps tensor '%s' to %s, which lacks it",
                        index_path, e->string, e->valuestring);
    }
    free(files);
    cJSON_Delete(root);
    return s;
}

/* Every *.safetensors in the directory, in name order. */
static fv_status open_all_shards(fv_weights *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return fv_fail(w->ctx, FV_STATUS_IO_ERROR, "weights: cannot list %s", dir);
    char **names = NULL;
    int n = 0;
    fv_status s = FV_STATUS_OK;
    for (struct dirent *e; (e = readdir(d)) && !s;) {
        if (!ends_with(e->d_name, ".safetensors")) continue;
        char **v = realloc(names, (size_t)(n + 1) * sizeof *v);
        if (v) names = v;
        if (!v || !(names[n] = strdup(e->d_name)))
            s = fv_fail(w->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "weights: out of host memory");
        else
            n++;
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && !s; i++) {
        char path[PATH_BYTES];
        s = join(w, path, dir, names[i]);
        if (!s) s = add_shard(w, path);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!s && w->nshards == 0)
        s = fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: %s holds no .safetensors file", dir);
    return s;
}

static fv_status open_dir(fv_weights *w, const char *dir)
{
    fv_status s = load_config(w, dir, "config.json", &w->config);
    if (!s) s = load_config(w, dir, "preprocessor_config.json", &w->pp_config);
    if (s) return s;
    char path[PATH_BYTES];
    if ((s = join(w, path, dir, "model.safetensors.index.json"))) return s;
    if (is_file(path)) return open_index(w, dir, path);
    if ((s = join(w, path, dir, "model.safetensors"))) return s;
    if (is_file(path)) return add_shard(w, path);
    return open_all_shards(w, dir);
}

/* One sorted index over all shards (or the GGUF file). */
static fv_status build_index(fv_weights *w)
{
    int n = 0;
    for (int i = 0; i < w->nshards; i++) n += fv_safetensors_count(w->shards[i]);
    if (w->gguf) n += fv_gguf_tensor_count(w->gguf);
    w->by_name = calloc((size_t)n + 1, sizeof *w->by_name);
    if (!w->by_name) return fv_fail(w->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "weights: out of host memory");
    for (int i = 0; i < w->nshards; i++)
        for (int j = 0; j < fv_safetensors_count(w->shards[i]); j++)
            w->by_name[w->count++] = fv_safetensors_at(w->shards[i], j);
    for (int j = 0; j < fv_gguf_tensor_count(w->gguf); j++) w->by_name[w->count++] = fv_gguf_tensor_at(w->gguf, j);
    fv_weight_index_sort(w->by_name, (size_t)w->count);
    const char *dup = fv_weight_index_duplicate(w->by_name, (size_t)w->count);
    if (dup)
        return fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' is in two files of %s", dup, w->path);
    for (int i = 0; i < w->count; i++) w->total_bytes += w->by_name[i]->nbytes;
    return FV_STATUS_OK;
}

fv_status fv_weights_open(fv_context *ctx, const char *path, const fv_weights_desc *desc, fv_weights **out)
{
    if (!ctx || !path || !out) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "fv_weights_open: NULL argument");
    *out = NULL;
    fv_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "weights: out of host memory");
    }
    w->ctx = ctx;
    const char *slash = strrchr(path, '/');
    w->label = slash && slash[1] ? slash + 1 : path;
    struct stat sb;
    fv_status s = FV_STATUS_OK;
    if (stat(path, &sb) != 0) {
        s = fv_fail(ctx, FV_STATUS_IO_ERROR, "weights: %s does not exist or cannot be read", path);
    } else if (S_ISDIR(sb.st_mode)) {
        s = open_dir(w, path);
    } else {
        /* A file: GGUF by its magic, safetensors otherwise (which then
         * reports what it found if it is neither). */
        char magic[4] = {0};
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(magic, 1, 4, f) : 0;
        if (f) fclose(f);
        if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
            char err[1024];
            s = fv_gguf_open(path, &w->gguf, err, sizeof err);
            if (s) s = fv_fail(ctx, s, "weights: %s", err);
        } else {
            s = add_shard(w, path);
        }
    }
    if (!s) s = build_index(w);
    if (s) {
        fv_weights_close(w);
        return s;
    }
    int mode = desc ? desc->progress : 0;
    w->progress = mode > 0 || (mode == 0 && w->total_bytes >= PROGRESS_MIN_BYTES && isatty(STDERR_FILENO));
    *out = w;
    return FV_STATUS_OK;
}

void fv_weights_close(fv_weights *w)
{
    if (!w) return;
    if (w->progress_open) fputc('\n', stderr);
    for (int i = 0; i < w->nshards; i++) fv_safetensors_close(w->shards[i]);
    free(w->shards);
    fv_gguf_close(w->gguf);
    fv_config_destroy(w->config);
    fv_config_destroy(w->pp_config);
    free(w->by_name);
    free(w->path);
    free(w);
}

int fv_weights_count(const fv_weights *w) { return w ? w->count : 0; }
const fv_weight_info *fv_weights_at(const fv_weights *w, int i)
{
    return w && i >= 0 && i < w->count ? w->by_name[i] : NULL;
}
const fv_weight_info *fv_weights_find(const fv_weights *w, const char *name)
{
    return w ? fv_weight_index_find(w->by_name, (size_t)w->count, name) : NULL;
}
const fv_config *fv_weights_config(const fv_weights *w) { return w ? w->config : NULL; }
const fv_config *fv_weights_preprocessor_config(const fv_weights *w) { return w ? w->pp_config : NULL; }
const fv_gguf *fv_weights_gguf(const fv_weights *w) { return w ? w->gguf : NULL; }

/* ---- lookup and load ------------------------------------------------------------- */

fv_status fv_weights_get(fv_weights *w, const char *name, int ndim, const int64_t *shape,
                         const fv_weight_info **out)
{
    if (!w || !name || !out || ndim < 0 || ndim > FV_WEIGHT_MAX_DIMS || (ndim && !shape))
        return fv_fail(w ? w->ctx : NULL, FV_STATUS_INVALID_ARGUMENT, "fv_weights_get: bad argument");
    *out = NULL;
    char want[160], have[160];
    fv_dims_str(ndim, shape, want, sizeof want);
    const fv_weight_info *t = fv_weights_find(w, name);
    if (!t)
        return fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' (expected shape %s) is missing "
                       "from %s", name, want, w->path);
    bool match = t->ndim == ndim;
    for (int i = 0; match && i < ndim; i++) match = shape[i] == -1 || shape[i] == t->shape[i];
    if (!match)
        return fv_fail(w->ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' has shape %s in %s; the "
                       "architecture expects %s", name, fv_dims_str(t->ndim, t->shape, have, sizeof have),
                       w->path, want);
    *out = t;
    return FV_STATUS_OK;
}

/* Converts the stored tensor into t's memory, chunk by chunk. */
static fv_status upload_converted(fv_weights *w, const fv_weight_info *info, int64_t numel, fv_tensor *t)
{
    fv_context *ctx = w->ctx;
    fv_dtype dtype = t->dtype;
    size_t base;
    fv_buffer *buf = fv_tensor_storage(t, &base);
    uint8_t *host = fv_tensor_host(t);
    const size_t src_block = fv_file_dtype_block_bytes(info->dtype);
    const int64_t src_per_block = fv_file_dtype_block(info->dtype);
    /* Same bytes: copy (or write) straight from the mapping. */
    if (fv_file_dtype_as_dtype(info->dtype) == dtype) {
        const size_t step = (size_t)CHUNK_ELEMS * 4;
        for (size_t done = 0; done < info->nbytes;) {
            size_t n = FV_MIN(step, info->nbytes - done);
            const uint8_t *src = (const uint8_t *)info->data + done;
            if (host) {
                memcpy(host + done, src, n);
            } else {
                fv_status s = ctx->vt->buffer_write(ctx, buf, base + done, src, n);
                if (s) return s;
            }
            done += n;
            progress_add(w, n);
        }
        return FV_STATUS_OK;
    }
    float *f32 = malloc((size_t)CHUNK_ELEMS * sizeof(float));
    /* f32 staging, plus room for the encoded chunk when device memory is
     * not host-visible (its size never exceeds that of the f32 values). */
    uint8_t *stage = host ? NULL : malloc((size_t)CHUNK_ELEMS * sizeof(float));
    if (!f32 || (!host && !stage)) {
        free(f32);
        free(stage);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "weights: out of host memory");
    }
    fv_status s = FV_STATUS_OK;
    int64_t overflow = 0;
    for (int64_t first = 0; first < numel && !s; first += CHUNK_ELEMS) {
        int64_t n = FV_MIN(CHUNK_ELEMS, numel - first);
        size_t dst_off = fv_dtype_row_bytes(dtype, first), dst_bytes = fv_dtype_row_bytes(dtype, n);
        uint8_t *dst = host ? host + dst_off : stage;
        if (dtype == FV_DTYPE_I32) {
            int64_t bad_at = 0;
            if (!fv_convert_to_i32(info->dtype, info->data, first, n, (int32_t *)(void *)dst, &bad_at))
                s = fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s': element %lld does not fit "
                            "i32", info->name, (long long)bad_at);
        } else if (dtype == FV_DTYPE_F32) {
            fv_convert_to_f32(info->dtype, info->data, first, n, (float *)(void *)dst);
        } else {
            fv_convert_to_f32(info->dtype, info->data, first, n, f32);
            overflow += fv_convert_from_f32(dtype, f32, n, dst);
        }
        if (!s && !host) s = ctx->vt->buffer_write(ctx, buf, base + dst_off, stage, dst_bytes);
        progress_add(w, (size_t)(n / src_per_block) * src_block);
    }
    free(f32);
    free(stage);
    if (!s && overflow)
        fv_log(ctx, FV_LOG_WARN, "weights: tensor '%s': %lld values lie beyond the range of f16 and became "
               "infinite", info->name, (long long)overflow);
    return s;
}

fv_status fv_weights_load_as(fv_weights *w, const char *name, fv_dtype dtype, int ndim, const int64_t *shape,
                             int tensor_ndim, const int64_t *tensor_shape, fv_tensor **out)
{
    if (!w || !out) return fv_fail(w ? w->ctx : NULL, FV_STATUS_INVALID_ARGUMENT, "fv_weights_load: bad argument");
    *out = NULL;
    fv_context *ctx = w->ctx;
    const fv_weight_info *info;
    fv_status s = fv_weights_get(w, name, ndim, shape, &info);
    if (s) return s;
    if ((unsigned)dtype >= FV_DTYPE_COUNT_ || !fv_convert_supported(info->dtype, dtype))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' is stored as %s, which fovea does not "
                       "convert to %s", name, fv_file_dtype_name(info->dtype), fv_dtype_name(dtype));
    int64_t numel, tnumel;
    fv_shape_numel(info->ndim, info->shape, &numel);
    int64_t scalar_shape[1] = {1};
    const int64_t *tshape = tensor_shape ? tensor_shape : info->ndim ? info->shape : scalar_shape;
    int tndim = tensor_shape ? tensor_ndim : info->ndim ? info->ndim : 1;
    char have[160], want[160];
    if (tndim < 1 || tndim > FV_MAX_DIMS)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' has shape %s; a tensor holds 1 to %d "
                       "dimensions (load it with fv_weights_load_as and a flatter shape)", name,
                       fv_dims_str(info->ndim, info->shape, have, sizeof have), FV_MAX_DIMS);
    if (numel == 0)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' has no elements (shape %s)", name,
                       fv_dims_str(info->ndim, info->shape, have, sizeof have));
    if (!fv_shape_numel(tndim, tshape, &tnumel) || tnumel != numel)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "weights: tensor '%s' of shape %s cannot be loaded as %s",
                       name, fv_dims_str(info->ndim, info->shape, have, sizeof have),
                       fv_dims_str(tndim, tshape, want, sizeof want));
    fv_tensor *t;
    s = fv_tensor_create(ctx, dtype, tndim, tshape, &t);
    if (s) {
        /* Say which weight it was; the reason follows its status name. */
        const char *why = fv_context_last_error(ctx), *colon = strstr(why, ": ");
        return fv_fail(ctx, s, "weights: tensor '%s' as %s%s: %s", name, fv_dtype_name(dtype),
                       fv_dims_str(tndim, tshape, want, sizeof want), colon ? colon + 2 : why);
    }
    s = upload_converted(w, info, numel, t);
    if (s) {
        fv_tensor_destroy(t);
        return s;
    }
    *out = t;
    return FV_STATUS_OK;
}

fv_status fv_weights_load(fv_weights *w, const char *name, fv_dtype dtype, int ndim, const int64_t *shape,
                          fv_tensor **out)
{
    return fv_weights_load_as(w, name, dtype, ndim, shape, 0, NULL, out);
}
