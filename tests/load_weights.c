/* Weight sets on one backend: a sharded Hugging Face directory and a GGUF
 * file, every tensor loaded into every dtype it converts to and downloaded
 * again, against the values the Python writers stored:
 *   f32 from f32 / f16 / bf16 / q8_0 / q4_0 / f64: exact (f64: f32 rounding);
 *   f16: within half an f16 ulp of the value (round to nearest);
 *   bf16: within half a bf16 ulp;
 *   q8_0 / q4_0 from f32: the same bytes as gguf.quants' reference quantiser;
 *   q8_0 / q4_0 kept as stored: the same bytes.
 * Then the checks model code relies on: missing and misshaped tensors,
 * impossible conversions, shards, the progress bar, and a tensor larger
 * than one conversion chunk (the chunked path, staged on GPUs). */
#include "load_cases.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Downloads t as doubles (f32, f16, bf16, i32). */
static double *fetch(const fv_tensor *t)
{
    size_t n = (size_t)fv_tensor_numel(t), bytes = fv_tensor_nbytes(t);
    uint8_t *raw = malloc(bytes);
    double *v = malloc(n * sizeof *v);
    if (fv_tensor_download(t, raw, bytes)) {
        free(raw);
        free(v);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        float f;
        int32_t k;
        switch (fv_tensor_dtype(t)) {
        case FV_DTYPE_F32: memcpy(&f, raw + i * 4, 4); v[i] = f; break;
        case FV_DTYPE_F16: memcpy(&h, raw + i * 2, 2); v[i] = lt_f16(h); break;
        case FV_DTYPE_BF16: memcpy(&h, raw + i * 2, 2); v[i] = lt_bf16(h); break;
        case FV_DTYPE_I32: memcpy(&k, raw + i * 4, 4); v[i] = k; break;
        default: v[i] = NAN;
        }
    }
    free(raw);
    return v;
}

/* Allowed distance of a value rounded to `dtype` from the exact one: half
 * an ulp at the value's binade (plus the smallest subnormal's half). */
static double half_ulp(fv_dtype dtype, double x)
{
    if (dtype == FV_DTYPE_F32 || dtype == FV_DTYPE_I32 || x == 0) return 0;
    int e;
    frexp(x, &e);
    int mant = dtype == FV_DTYPE_F16 ? 11 : 8;
    double floor_ulp = dtype == FV_DTYPE_F16 ? ldexp(1, -24) : 0;
    return fmax(ldexp(1, e - mant - 1), floor_ulp / 2);
}

static void load_and_compare(th_runner *r, const th_backend *b, fv_weights *w, const char *file, const char *name,
                             fv_dtype dtype)
{
    char what[200];
    snprintf(what, sizeof what, "weights: %s '%s' as %s", file, name, fv_dtype_name(dtype));
    const lt_expected *e = lt_expected_find(file, name);
    const fv_weight_info *info = fv_weights_find(w, name);
    if (!e || !info) {
        th_fail(r, b, what, "not in expected.txt or not in the set");
        return;
    }
    fv_tensor *t = NULL;
    fv_status s = fv_weights_load(w, name, dtype, info->ndim, info->shape, &t);
    if (!th_ok(r, b, what, s)) return;
    double *got = fetch(t);
    size_t n = (size_t)fv_tensor_numel(t), bad = 0, at = 0;
    double worst = 0;
    for (size_t i = 0; got && i < n && i < e->n; i++) {
        /* stored f64 becomes f32 first */
        double ref = info->dtype == FV_FILE_DTYPE_F64 ? (double)(float)e->v[i] : e->v[i];
        double err = fabs(got[i] - ref);
        if (!(err <= half_ulp(dtype, ref))) {
            if (!bad) at = i;
            bad++;
        }
        worst = fmax(worst, err);
    }
    th_expect(r, b, what, got && n == e->n && !bad, "%zu of %zu differ (first at %zu: got %.9g want %.9g)", bad, n,
              at, got ? got[at] : 0.0, e->v[at]);
    free(got);
    fv_tensor_destroy(t);
}

/* The raw bytes of a tensor, loaded as `dtype`, against the bytes of a
 * stored tensor. */
static void compare_bytes(th_runner *r, const th_backend *b, fv_weights *w, const char *what, const char *name,
                          fv_dtype dtype, const char *stored_name)
{
    const fv_weight_info *src = fv_weights_find(w, name), *ref = fv_weights_find(w, stored_name);
    fv_tensor *t = NULL;
    if (!src || !ref) {
        th_fail(r, b, what, "fixture tensors missing");
        return;
    }
    if (!th_ok(r, b, what, fv_weights_load(w, name, dtype, src->ndim, src->shape, &t))) return;
    size_t n = fv_tensor_nbytes(t), diff = 0;
    uint8_t *got = malloc(n);
    bool ok = n == ref->nbytes && fv_tensor_download(t, got, n) == FV_STATUS_OK;
    for (size_t i = 0; ok && i < n; i++) diff += got[i] != ((const uint8_t *)ref->data)[i];
    th_expect(r, b, what, ok && diff == 0, "%zu bytes (stored %zu), %zu differ", n, ref->nbytes, diff);
    free(got);
    fv_tensor_destroy(t);
}

static void hf_directory(th_runner *r, const th_backend *b)
{
    fv_weights *w = NULL;
    fv_context *ctx = b->ctx;
    fv_status s = fv_weights_open(ctx, lt_fixture("model"), NULL, &w);
    if (!th_ok(r, b, "weights: open a sharded directory", s)) return;
    th_expect(r, b, "weights: 7 tensors from 2 shards, both configs", fv_weights_count(w) == 7 &&
              fv_weights_config(w) && fv_weights_preprocessor_config(w) && !fv_weights_gguf(w), "count %d",
              fv_weights_count(w));
    const char *p = "vision_model.";
    char name[128];
    static const char *floats[] = {"embeddings.patch_embedding.weight", "embeddings.class_embedding",
                                   "encoder.layers.0.mlp.fc1.weight", "encoder.layers.0.mlp.fc1.bias",
                                   "post_layernorm.weight"};
    static const fv_dtype targets[] = {FV_DTYPE_F32, FV_DTYPE_F16, FV_DTYPE_BF16};
    for (size_t i = 0; i < LT_LEN(floats); i++)
        for (size_t k = 0; k < LT_LEN(targets); k++) {
            snprintf(name, sizeof name, "%s%s", p, floats[i]);
            load_and_compare(r, b, w, "model", name, targets[k]);
        }
    snprintf(name, sizeof name, "%sembeddings.position_ids", p);
    load_and_compare(r, b, w, "model", name, FV_DTYPE_I32);

    /* a conv kernel [32,3,4,4] as the [32,48] matrix the im2col matmul reads */
    fv_tensor *t = NULL;
    int64_t conv[4] = {32, 3, 4, 4}, flat[2] = {32, 48};
    snprintf(name, sizeof name, "%sembeddings.patch_embedding.weight", p);
    s = fv_weights_load_as(w, name, FV_DTYPE_F32, 4, conv, 2, flat, &t);
    const lt_expected *e = lt_expected_find("model", name);
    double *got = !s ? fetch(t) : NULL;
    bool ok = got && fv_tensor_ndim(t) == 2 && fv_tensor_dim(t, 1) == 48 && e;
    for (size_t i = 0; ok && i < e->n; i++) ok = got[i] == e->v[i];
    th_expect(r, b, "weights: load_as [32,3,4,4] -> [32,48]", ok, "%s %s", fv_status_name(s),
              fv_context_last_error(ctx));
    free(got);
    fv_tensor_destroy(t);
    int64_t bad_flat[2] = {32, 47};
    s = fv_weights_load_as(w, name, FV_DTYPE_F32, 4, conv, 2, bad_flat, &t);
    lt_expect_error(r, b, "weights: load_as with another element count", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "[32,47]");

    /* shape checks as the architecture states them */
    snprintf(name, sizeof name, "%sencoder.layers.0.mlp.fc1.weight", p);
    const fv_weight_info *info = NULL;
    int64_t want[2] = {-1, 32}, wrong[2] = {32, 64}, wrong_rank[3] = {64, 32, 1};
    s = fv_weights_get(w, name, 2, want, &info);
    th_expect(r, b, "weights: -1 accepts any size", s == FV_STATUS_OK && info && info->shape[0] == 64, "%s",
              fv_context_last_error(ctx));
    s = fv_weights_get(w, name, 2, wrong, &info);
    lt_expect_error(r, b, "weights: misshaped tensor names itself", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "fc1.weight' has shape [64,32]");
    th_expect(r, b, "weights: misshaped tensor names the expected shape",
              strstr(fv_context_last_error(ctx), "expects [32,64]") != NULL, "%s", fv_context_last_error(ctx));
    s = fv_weights_load(w, name, FV_DTYPE_F32, 3, wrong_rank, &t);
    lt_expect_error(r, b, "weights: wrong rank", s, FV_STATUS_INVALID_ARGUMENT, fv_context_last_error(ctx),
                    "expects [64,32,1]");
    s = fv_weights_load(w, "vision_model.encoder.layers.1.mlp.fc1.weight", FV_DTYPE_F32, 2, want, &t);
    lt_expect_error(r, b, "weights: missing tensor", s, FV_STATUS_INVALID_ARGUMENT, fv_context_last_error(ctx),
                    "'vision_model.encoder.layers.1.mlp.fc1.weight' (expected shape [-1,32]) is missing");
    th_expect(r, b, "weights: failed load leaves NULL", t == NULL, "tensor %p", (void *)t);
    snprintf(name, sizeof name, "%sembeddings.position_ids", p);
    int64_t pos[2] = {1, 17};
    s = fv_weights_load(w, name, FV_DTYPE_F32, 2, pos, &t);
    lt_expect_error(r, b, "weights: i64 does not convert to f32", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "stored as i64, which fovea does not convert to f32");
    snprintf(name, sizeof name, "%sencoder.layers.0.mlp.fc1.bias", p);
    int64_t nbias[1] = {64};
    s = fv_weights_load(w, name, FV_DTYPE_Q8_0, 1, nbias, &t);
    ok = s == FV_STATUS_OK && fv_tensor_nbytes(t) == 2 * 34;
    fv_tensor_destroy(t);
    th_expect(r, b, "weights: bf16 quantised to q8_0 at load", ok, "%s", fv_context_last_error(ctx));

    /* beyond f16's range: infinities (and a warning), values kept elsewhere */
    snprintf(name, sizeof name, "%sbig", p);
    int64_t nbig[1] = {4};
    printf("     (a warning about 2 values beyond f16 follows; it is expected)\n");
    fflush(stdout);
    s = fv_weights_load(w, name, FV_DTYPE_F16, 1, nbig, &t);
    got = !s ? fetch(t) : NULL;
    ok = got && got[0] == 1.0 && isinf(got[1]) && got[1] > 0 && isinf(got[2]) && got[2] < 0 && got[3] == 3.0;
    th_expect(r, b, "weights: f16 overflow becomes inf", ok, "%s", fv_context_last_error(ctx));
    free(got);
    fv_tensor_destroy(t);
    fv_weights_close(w);
}

static void safetensors_file(th_runner *r, const th_backend *b)
{
    fv_weights *w = NULL;
    fv_context *ctx = b->ctx;
    fv_status s = fv_weights_open(ctx, lt_fixture("basic.safetensors"), NULL, &w);
    if (!th_ok(r, b, "weights: open one safetensors file", s)) return;
    th_expect(r, b, "weights: a file has no config", !fv_weights_config(w) && fv_weights_count(w) == 13, "wrong");
    static const char *ints[] = {"ids.i64", "ids.i32", "ids.i16", "ids.i8", "ids.u8", "mask"};
    for (size_t i = 0; i < LT_LEN(ints); i++) load_and_compare(r, b, w, "basic.safetensors", ints[i], FV_DTYPE_I32);
    load_and_compare(r, b, w, "basic.safetensors", "w.f64", FV_DTYPE_F32);
    load_and_compare(r, b, w, "basic.safetensors", "w.f64", FV_DTYPE_F16);
    load_and_compare(r, b, w, "basic.safetensors", "w.bf16", FV_DTYPE_F32);
    load_and_compare(r, b, w, "basic.safetensors", "w.f16", FV_DTYPE_F16);
    fv_tensor *t = NULL;
    s = fv_weights_load(w, "scalar", FV_DTYPE_F32, 0, NULL, &t);
    double *got = !s ? fetch(t) : NULL;
    th_expect(r, b, "weights: a scalar loads as [1]", got && fv_tensor_ndim(t) == 1 && got[0] == 3.25, "%s",
              fv_context_last_error(ctx));
    free(got);
    fv_tensor_destroy(t);
    int64_t e[2] = {0, 3}, big[1] = {1};
    s = fv_weights_load(w, "empty", FV_DTYPE_F32, 2, e, &t);
    lt_expect_error(r, b, "weights: an empty tensor cannot be loaded", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "'empty' has no elements (shape [0,3])");
    s = fv_weights_load(w, "ids.big", FV_DTYPE_I32, 1, big, &t);
    lt_expect_error(r, b, "weights: i64 beyond i32", s, FV_STATUS_INVALID_ARGUMENT, fv_context_last_error(ctx),
                    "element 0 does not fit i32");
    int64_t f32shape[2] = {3, 5};
    s = fv_weights_load(w, "w.f32", FV_DTYPE_Q8_0, 2, f32shape, &t);
    lt_expect_error(r, b, "weights: q8_0 needs rows of 32", s, FV_STATUS_INVALID_ARGUMENT, fv_context_last_error(ctx),
                    "multiple of 32");
    fv_weights_close(w);
}

static void gguf_set(th_runner *r, const th_backend *b)
{
    fv_weights *w = NULL;
    fv_context *ctx = b->ctx;
    fv_status s = fv_weights_open(ctx, lt_fixture("basic.gguf"), NULL, &w);
    if (!th_ok(r, b, "weights: open a GGUF file", s)) return;
    th_expect(r, b, "weights: GGUF set", fv_weights_gguf(w) && !fv_weights_config(w) && fv_weights_count(w) == 9,
              "count %d", fv_weights_count(w));
    static const char *names[] = {"t.f32", "t.f16", "t.bf16", "t.q8_0", "t.q4_0", "v.patch_embd.weight"};
    for (size_t i = 0; i < LT_LEN(names); i++) {
        load_and_compare(r, b, w, "basic.gguf", names[i], FV_DTYPE_F32);
        load_and_compare(r, b, w, "basic.gguf", names[i], FV_DTYPE_F16);
    }
    load_and_compare(r, b, w, "basic.gguf", "t.i32", FV_DTYPE_I32);
    compare_bytes(r, b, w, "weights: q8_0 kept as stored", "t.q8_0", FV_DTYPE_Q8_0, "t.q8_0");
    compare_bytes(r, b, w, "weights: q4_0 kept as stored", "t.q4_0", FV_DTYPE_Q4_0, "t.q4_0");
    compare_bytes(r, b, w, "weights: f32 -> q8_0 = gguf.quants' bytes", "t.q8_src", FV_DTYPE_Q8_0, "t.q8_0");
    compare_bytes(r, b, w, "weights: f32 -> q4_0 = gguf.quants' bytes", "t.q4_src", FV_DTYPE_Q4_0, "t.q4_0");
    fv_tensor *t = NULL;
    int64_t shape[2] = {4, 64};
    s = fv_weights_load(w, "t.q8_0", FV_DTYPE_Q4_0, 2, shape, &t);
    lt_expect_error(r, b, "weights: no requantising q8_0 -> q4_0", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "stored as q8_0");
    fv_weights_close(w);
}

/* A tensor of 2.5 conversion chunks (2^20 elements each) in bf16, loaded
 * as f32 and f16 and q8_0; values are a formula so the test can check
 * every one. */
static void large_tensor(th_runner *r, const th_backend *b)
{
    const size_t n = (size_t)5 << 19;
    char header[256];
    snprintf(header, sizeof header, "{\"big\":{\"dtype\":\"BF16\",\"shape\":[%zu,32],\"data_offsets\":[0,%zu]}}",
             n / 32, n * 2);
    size_t h = strlen(header);
    uint64_t hl = h;
    uint8_t *file = malloc(8 + h + n * 2);
    memcpy(file, &hl, 8);
    memcpy(file + 8, header, h);
    for (size_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)(0x3f80 + (i * 7919 % 1021) - 510); /* 0.06 .. 16, scattered */
        memcpy(file + 8 + h + i * 2, &v, 2);
    }
    const char *path = lt_tmp("large.safetensors");
    lt_write_file(path, file, 8 + h + n * 2);
    fv_weights *w = NULL;
    fv_weights_desc desc = {.progress = 1};
    /* the bar goes to stderr: catch it in a file to check it */
    const char *log = lt_tmp("progress.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    fv_status s = fv_weights_open(b->ctx, path, &desc, &w);
    int64_t shape[2] = {(int64_t)(n / 32), 32};
    fv_tensor *t32 = NULL, *t16 = NULL, *tq = NULL, *tb = NULL;
    if (!s) s = fv_weights_load(w, "big", FV_DTYPE_BF16, 2, shape, &tb);
    if (!s) s = fv_weights_load(w, "big", FV_DTYPE_F32, 2, shape, &t32);
    if (!s) s = fv_weights_load(w, "big", FV_DTYPE_F16, 2, shape, &t16);
    if (!s) s = fv_weights_load(w, "big", FV_DTYPE_Q8_0, 2, shape, &tq);
    fv_weights_close(w);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    if (!th_ok(r, b, "weights: 2.5-chunk tensor", s)) {
        free(file);
        return;
    }
    double *a = fetch(t32), *c = fetch(t16);
    size_t bad32 = 0, bad16 = 0;
    for (size_t i = 0; a && c && i < n; i++) {
        uint16_t v;
        memcpy(&v, file + 8 + h + i * 2, 2);
        double ref = lt_bf16(v);
        bad32 += a[i] != ref;
        bad16 += fabs(c[i] - ref) > half_ulp(FV_DTYPE_F16, ref);
    }
    th_expect(r, b, "weights: 2.5-chunk tensor bf16 -> f32, f16", a && c && !bad32 && !bad16,
              "%zu f32 and %zu f16 values differ", bad32, bad16);
    /* bf16 kept: the file's bytes, copied in more than one step */
    uint8_t *raw = malloc(n * 2);
    bool same = fv_tensor_download(tb, raw, n * 2) == FV_STATUS_OK && !memcmp(raw, file + 8 + h, n * 2);
    th_expect(r, b, "weights: 2.5-chunk tensor bf16 kept", same, "bytes differ");
    free(raw);
    fv_tensor_destroy(tb);
    /* q8_0: every block dequantises to within half a step of the values */
    uint8_t *q = malloc(fv_tensor_nbytes(tq));
    size_t badq = 0;
    bool okq = fv_tensor_download(tq, q, fv_tensor_nbytes(tq)) == FV_STATUS_OK;
    for (size_t blk = 0; okq && blk < n / 32; blk++) {
        uint16_t dh;
        memcpy(&dh, q + blk * 34, 2);
        double d = lt_f16(dh);
        for (int j = 0; j < 32; j++) {
            double x = a[blk * 32 + j], y = d * (int8_t)q[blk * 34 + 2 + j];
            badq += fabs(x - y) > d * 0.5 + fabs(x) * 1e-3; /* the f16 scale's own rounding */
        }
    }
    th_expect(r, b, "weights: 2.5-chunk tensor bf16 -> q8_0", okq && !badq, "%zu values off", badq);
    size_t logn = 0;
    char *text = (char *)lt_read_file(log, &logn);
    bool bar = text && logn && memmem(text, logn, "loading large.safetensors [", 27) &&
               memmem(text, logn, "100%", 4) && text[logn - 1] == '\n';
    th_expect(r, b, "weights: progress bar when asked for", bar, "stderr held \"%.*s\"", (int)LT_MIN(logn, 200u),
              text ? text : "");
    free(text);
    free(q);
    free(a);
    free(c);
    fv_tensor_destroy(t32);
    fv_tensor_destroy(t16);
    fv_tensor_destroy(tq);
    free(file);
}

/* Damaged directories: an index naming a missing shard, or a shard that
 * lacks a tensor it maps, or a folder with no weights. */
static void bad_directories(th_runner *r, const th_backend *b)
{
    fv_context *ctx = b->ctx;
    fv_weights *w = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/dir-%s", lt_tmpdir(), b->name);
    mkdir(dir, 0700);
    fv_status s = fv_weights_open(ctx, dir, NULL, &w);
    lt_expect_error(r, b, "weights: a folder with no weights", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "no .safetensors");
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    const char *index = "{\"weight_map\":{\"a\":\"shard.safetensors\",\"b\":\"gone.safetensors\"}}";
    lt_write_file(path, index, strlen(index));
    char shard[700];
    snprintf(shard, sizeof shard, "%s/shard.safetensors", dir);
    const char *header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint64_t hl = strlen(header);
    float one_f = 1.0f;
    uint8_t file[128];
    memcpy(file, &hl, 8);
    memcpy(file + 8, header, hl);
    memcpy(file + 8 + hl, &one_f, 4);
    lt_write_file(shard, file, 8 + hl + 4);
    s = fv_weights_open(ctx, dir, NULL, &w);
    lt_expect_error(r, b, "weights: index names a missing shard", s, FV_STATUS_IO_ERROR, fv_context_last_error(ctx),
                    "gone.safetensors");
    index = "{\"weight_map\":{\"a\":\"shard.safetensors\",\"b\":\"shard.safetensors\"}}";
    lt_write_file(path, index, strlen(index));
    s = fv_weights_open(ctx, dir, NULL, &w);
    lt_expect_error(r, b, "weights: index maps a tensor its shard lacks", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "maps tensor 'b' to shard.safetensors, which lacks it");
    index = "{\"weight_map\":{\"a\":\"../shard.safetensors\"}}";
    lt_write_file(path, index, strlen(index));
    s = fv_weights_open(ctx, dir, NULL, &w);
    lt_expect_error(r, b, "weights: index path outside the folder", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(ctx), "file name in its directory");
    index = "{\"weight_map\":{\"a\":\"shard.safetensors\"}}";
    lt_write_file(path, index, strlen(index));
    s = fv_weights_open(ctx, dir, NULL, &w);
    fv_tensor *t = NULL;
    int64_t one[1] = {1};
    if (!s) s = fv_weights_load(w, "a", FV_DTYPE_F32, 1, one, &t);
    float v = 0;
    if (!s) s = fv_tensor_download(t, &v, 4);
    th_expect(r, b, "weights: hand-made index and shard", s == FV_STATUS_OK && v == 1.0f, "%s",
              fv_context_last_error(ctx));
    fv_tensor_destroy(t);
    fv_weights_close(w);
    snprintf(path, sizeof path, "%s/config.json", dir);
    lt_write_file(path, "{oops", 5);
    s = fv_weights_open(ctx, dir, NULL, &w);
    lt_expect_error(r, b, "weights: damaged config.json", s, FV_STATUS_INVALID_ARGUMENT, fv_context_last_error(ctx),
                    "config.json: not valid JSON");
    s = fv_weights_open(ctx, lt_tmp("nothing-here"), NULL, &w);
    lt_expect_error(r, b, "weights: missing path", s, FV_STATUS_IO_ERROR, fv_context_last_error(ctx), "nothing-here");
    th_expect(r, b, "weights: failed open leaves NULL", w == NULL, "handle %p", (void *)w);
    fv_weights_close(NULL);
}

void test_load_weights(th_runner *r, const th_backend *b)
{
    hf_directory(r, b);
    safetensors_file(r, b);
    gguf_set(r, b);
    large_tensor(r, b);
    bad_directories(r, b);
}
