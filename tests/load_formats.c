/* The file readers on their own (no context): safetensors, GGUF and
 * config.json. Good fixtures are read and compared with the values the
 * Python writers stored; damaged files are written here, one flaw each, and
 * must fail with a status and a message naming the flaw; every truncation
 * of the fixtures and random byte flips must fail cleanly (run under ASan
 * by scripts/test.sh, this is where a read past the mapping would show). */
#include "load_cases.h"

/* ---- stored values against expected.txt --------------------------------------- */

/* Decodes element i of a stored float/int tensor in double, independently
 * of the library's converters. Quantised types are not decoded here. */
static bool stored_value(const fv_weight_info *t, size_t i, double *v)
{
    const uint8_t *p = t->data;
    uint16_t h;
    switch (t->dtype) {
    case FV_FILE_DTYPE_F32: {
        float f;
        memcpy(&f, p + i * 4, 4);
        *v = f;
        return true;
    }
    case FV_FILE_DTYPE_F64: memcpy(v, p + i * 8, 8); return true;
    case FV_FILE_DTYPE_F16: memcpy(&h, p + i * 2, 2); *v = lt_f16(h); return true;
    case FV_FILE_DTYPE_BF16: memcpy(&h, p + i * 2, 2); *v = lt_bf16(h); return true;
    case FV_FILE_DTYPE_I8: *v = (int8_t)p[i]; return true;
    case FV_FILE_DTYPE_U8:
    case FV_FILE_DTYPE_BOOL: *v = p[i]; return true;
    case FV_FILE_DTYPE_I16: {
        int16_t x;
        memcpy(&x, p + i * 2, 2);
        *v = x;
        return true;
    }
    case FV_FILE_DTYPE_I32: {
        int32_t x;
        memcpy(&x, p + i * 4, 4);
        *v = x;
        return true;
    }
    case FV_FILE_DTYPE_I64: {
        int64_t x;
        memcpy(&x, p + i * 8, 8);
        *v = (double)x;
        return true;
    }
    default: return false;
    }
}

static size_t numel(const fv_weight_info *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

/* Every element equal to the value numpy read back from the same file. */
static void check_stored(th_runner *r, const char *file, const fv_weight_info *t)
{
    char what[200];
    snprintf(what, sizeof what, "%s: '%s' values", file, t->name);
    const lt_expected *e = lt_expected_find(file, t->name);
    if (!e) {
        th_fail(r, NULL, what, "no expected values");
        return;
    }
    size_t n = numel(t), bad = 0;
    double v = 0;
    for (size_t i = 0; i < n && i < e->n; i++)
        if (!stored_value(t, i, &v) || v != e->v[i]) bad++;
    th_expect(r, NULL, what, n == e->n && bad == 0, "%zu elements (want %zu), %zu differ", n, e->n, bad);
}

/* ---- safetensors ------------------------------------------------------------- */

static void safetensors_good(th_runner *r)
{
    char err[512] = "";
    fv_safetensors *st = NULL;
    fv_status s = fv_safetensors_open(lt_fixture("basic.safetensors"), &st, err, sizeof err);
    if (!st) {
        th_fail(r, NULL, "safetensors: open basic", "%s %s", fv_status_name(s), err);
        return;
    }
    th_expect(r, NULL, "safetensors: 13 tensors and metadata", fv_safetensors_count(st) == 13 &&
              fv_safetensors_metadata(st, "note") && !strcmp(fv_safetensors_metadata(st, "note"), "fovea fixture") &&
              !fv_safetensors_metadata(st, "absent"), "count %d", fv_safetensors_count(st));
    for (int i = 0; i < fv_safetensors_count(st); i++) check_stored(r, "basic.safetensors", fv_safetensors_at(st, i));
    const fv_weight_info *t = fv_safetensors_find(st, "w.f16");
    th_expect(r, NULL, "safetensors: shape and dtype", t && t->dtype == FV_FILE_DTYPE_F16 && t->ndim == 3 &&
              t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 4 && t->nbytes == 48, "w.f16 wrong");
    t = fv_safetensors_find(st, "scalar");
    const fv_weight_info *e = fv_safetensors_find(st, "empty");
    th_expect(r, NULL, "safetensors: scalar and empty tensors", t && t->ndim == 0 && t->nbytes == 4 && e &&
              e->ndim == 2 && e->shape[0] == 0 && e->nbytes == 0, "wrong");
    th_expect(r, NULL, "safetensors: absent name", !fv_safetensors_find(st, "nope") && !fv_safetensors_find(st, NULL),
              "found");
    /* data order: each tensor starts where the previous ended */
    bool order = true;
    for (int i = 1; i < fv_safetensors_count(st); i++) {
        const fv_weight_info *a = fv_safetensors_at(st, i - 1), *b = fv_safetensors_at(st, i);
        order &= (const uint8_t *)a->data + a->nbytes == (const uint8_t *)b->data;
    }
    th_expect(r, NULL, "safetensors: tensors in data order", order, "gaps");
    fv_safetensors_close(st);
    fv_safetensors_close(NULL);
}

/* A safetensors file with a given header text and `data` zero bytes. */
static void write_st(const char *path, const char *header, uint64_t hlen_override, size_t data)
{
    size_t h = strlen(header);
    uint64_t hlen = hlen_override ? hlen_override : h;
    size_t n = 8 + h + data;
    uint8_t *p = calloc(1, n);
    memcpy(p, &hlen, 8);
    memcpy(p + 8, header, h);
    lt_write_file(path, p, n);
    free(p);
}

static void safetensors_bad(th_runner *r)
{
    static const struct {
        const char *what, *header;
        uint64_t hlen;
        size_t data;
        const char *needle;
    } cases[] = {
        {"valid control", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, NULL},
        {"offset past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0, 8,
         "outside the 8 bytes"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12, "overlaps"},
        {"hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 0, 20, "unused bytes"},
        {"trailing data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 12,
         "cover 8 of the 12"},
        {"shape x dtype mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8,
         "needs 12 bytes"},
        {"unknown dtype", "{\"a\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8,
         "dtype \"F12\""},
        {"fp8 dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 0, 8, "F8_E4M3"},
        {"no dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "no \"dtype\""},
        {"header not an object", "[1,2]", 0, 0, "not a JSON object"},
        {"invalid JSON", "{\"a\":{\"dtype\":", 0, 0, "not valid JSON"},
        {"junk after JSON", "{}xx", 0, 0, "unexpected bytes"},
        {"header length > file", "{}", 1000, 0, "header length 1000"},
        {"header length huge", "{}", (uint64_t)1 << 40, 0, "impossible"},
        {"negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8,
         "dimension 0"},
        {"fractional offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,7.5]}}", 0, 8,
         "data_offsets"},
        {"reversed offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", 0, 8, "outside"},
        {"duplicate name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 0, 16, "twice"},
        {"metadata not strings", "{\"__metadata__\":{\"x\":1}}", 0, 0, "not a string"},
        {"nine dimensions", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 0,
         1, "9 dimensions"},
    };
    for (size_t i = 0; i < LT_LEN(cases); i++) {
        const char *path = lt_tmp("bad.safetensors");
        write_st(path, cases[i].header, cases[i].hlen, cases[i].data);
        char err[512] = "", what[128];
        fv_safetensors *st = (fv_safetensors *)1;
        fv_status s = fv_safetensors_open(path, &st, err, sizeof err);
        snprintf(what, sizeof what, "safetensors: %s", cases[i].what);
        if (!cases[i].needle) {
            th_expect(r, NULL, what, s == FV_STATUS_OK && st, "%s", err);
            fv_safetensors_close(st);
            continue;
        }
        lt_expect_error(r, NULL, what, s, FV_STATUS_INVALID_ARGUMENT, err, cases[i].needle);
        th_expect(r, NULL, "safetensors: failed open leaves NULL and names the file", !st && strstr(err, path),
                  "handle %p, \"%s\"", (void *)st, err);
    }
    char err[512] = "";
    fv_safetensors *st;
    const char *path = lt_tmp("short.safetensors");
    lt_write_file(path, "\x02\0\0", 3);
    fv_status s = fv_safetensors_open(path, &st, err, sizeof err);
    lt_expect_error(r, NULL, "safetensors: 3-byte file", s, FV_STATUS_INVALID_ARGUMENT, err, "too short");
    lt_write_file(path, "", 0);
    s = fv_safetensors_open(path, &st, err, sizeof err);
    lt_expect_error(r, NULL, "safetensors: empty file", s, FV_STATUS_INVALID_ARGUMENT, err, "empty");
    s = fv_safetensors_open(lt_tmp("does-not-exist.safetensors"), &st, err, sizeof err);
    lt_expect_error(r, NULL, "safetensors: missing file", s, FV_STATUS_IO_ERROR, err, "does-not-exist");
    s = fv_safetensors_open(lt_tmpdir(), &st, err, sizeof err);
    lt_expect_error(r, NULL, "safetensors: a directory", s, FV_STATUS_IO_ERROR, err, "directory");
    s = fv_safetensors_open(lt_tmp("x"), &st, NULL, 0);
    th_expect(r, NULL, "safetensors: NULL error buffer", s == FV_STATUS_IO_ERROR, "%s", fv_status_name(s));
}

/* ---- GGUF ---------------------------------------------------------------------- */

static int64_t key(const fv_gguf *g, const char *k) { return fv_gguf_find_key(g, k); }

static void gguf_good(th_runner *r)
{
    char err[512] = "";
    fv_gguf *g = NULL;
    fv_status s = fv_gguf_open(lt_fixture("basic.gguf"), &g, err, sizeof err);
    if (!g) {
        th_fail(r, NULL, "gguf: open basic", "%s %s", fv_status_name(s), err);
        return;
    }
    th_expect(r, NULL, "gguf: version 3, alignment 64, 9 tensors",
              fv_gguf_version(g) == 3 && fv_gguf_alignment(g) == 64 && fv_gguf_tensor_count(g) == 9, "v%u a%zu n%d",
              fv_gguf_version(g), fv_gguf_alignment(g), fv_gguf_tensor_count(g));
    int64_t iv = 0;
    double dv = 0;
    bool bv = false;
    const char *sv = NULL;
    size_t len = 0;
    bool ok = true;
    static const struct {
        const char *k;
        fv_gguf_type t;
        int64_t v;
    } ints[] = {
        {"test.u8", FV_GGUF_TYPE_UINT8, 200},          {"test.i8", FV_GGUF_TYPE_INT8, -100},
        {"test.u16", FV_GGUF_TYPE_UINT16, 60000},      {"test.i16", FV_GGUF_TYPE_INT16, -30000},
        {"test.u32", FV_GGUF_TYPE_UINT32, 4000000000}, {"test.i32", FV_GGUF_TYPE_INT32, -2000000000},
        {"test.i64", FV_GGUF_TYPE_INT64, -(INT64_C(1) << 40)},
    };
    for (size_t i = 0; i < LT_LEN(ints); i++) {
        int64_t k = key(g, ints[i].k);
        ok &= k >= 0 && fv_gguf_key_type(g, k) == ints[i].t && fv_gguf_value_int(g, k, 0, &iv) == FV_STATUS_OK &&
              iv == ints[i].v && fv_gguf_get_int(g, ints[i].k, 7) == ints[i].v;
    }
    th_expect(r, NULL, "gguf: integer keys of every width", ok, "a value differs");
    /* u64 above INT64_MAX does not fit the int getter */
    int64_t k = key(g, "test.u64");
    th_expect(r, NULL, "gguf: u64 beyond int64 refused",
              fv_gguf_value_int(g, k, 0, &iv) == FV_STATUS_INVALID_ARGUMENT && fv_gguf_get_int(g, "test.u64", 5) == 5,
              "accepted");
    ok = fv_gguf_value_float(g, key(g, "test.f32"), 0, &dv) == FV_STATUS_OK && dv == 0.15625;
    ok &= fv_gguf_get_float(g, "test.f64", 0) == 1e-300 && fv_gguf_get_float(g, "test.i8", 0) == -100.0;
    ok &= fv_gguf_value_bool(g, key(g, "test.bool"), 0, &bv) == FV_STATUS_OK && bv && fv_gguf_get_bool(g, "test.bool", false);
    ok &= !strcmp(fv_gguf_get_string(g, "test.string", ""), "fovea \xe2\x9c\x93");
    ok &= !strcmp(fv_gguf_get_string(g, "general.architecture", ""), "clip");
    th_expect(r, NULL, "gguf: float, bool and string keys", ok, "a value differs");
    /* type mismatches give the default / an error, never a reinterpretation */
    ok = fv_gguf_get_int(g, "test.f32", -1) == -1 && fv_gguf_get_bool(g, "test.u8", false) == false &&
         !strcmp(fv_gguf_get_string(g, "test.u8", "d"), "d") && fv_gguf_get_int(g, "absent", 42) == 42 &&
         fv_gguf_value_string(g, key(g, "test.u8"), 0, &sv, &len) == FV_STATUS_INVALID_ARGUMENT &&
         fv_gguf_value_int(g, key(g, "test.u8"), 1, &iv) == FV_STATUS_INVALID_ARGUMENT &&
         fv_gguf_value_int(g, -1, 0, &iv) == FV_STATUS_INVALID_ARGUMENT && key(g, "absent") == -1;
    th_expect(r, NULL, "gguf: wrong type, index or key", ok, "accepted");
    /* arrays */
    int64_t ai = key(g, "test.arr_i32"), af = key(g, "test.arr_f32"), as = key(g, "test.arr_str"),
            ab = key(g, "test.arr_bool");
    ok = fv_gguf_key_type(g, ai) == FV_GGUF_TYPE_ARRAY && fv_gguf_elem_type(g, ai) == FV_GGUF_TYPE_INT32 &&
         fv_gguf_elem_count(g, ai) == 3;
    int64_t want_i[3] = {1, -2, 3};
    for (uint64_t i = 0; i < 3; i++) ok &= !fv_gguf_value_int(g, ai, i, &iv) && iv == want_i[i];
    ok &= fv_gguf_value_int(g, ai, 3, &iv) == FV_STATUS_INVALID_ARGUMENT;
    ok &= fv_gguf_elem_count(g, af) == 2 && !fv_gguf_value_float(g, af, 1, &dv) && dv == -1.5;
    static const char *want_s[3] = {"a", "", "ccc"};
    ok &= fv_gguf_elem_type(g, as) == FV_GGUF_TYPE_STRING && fv_gguf_elem_count(g, as) == 3;
    for (uint64_t i = 0; i < 3; i++)
        ok &= !fv_gguf_value_string(g, as, i, &sv, &len) && len == strlen(want_s[i]) && !memcmp(sv, want_s[i], len);
    ok &= !fv_gguf_value_bool(g, ab, 1, &bv) && !bv;
    ok &= fv_gguf_get_int(g, "test.arr_i32", 9) == 9; /* an array is not a scalar */
    th_expect(r, NULL, "gguf: arrays of int, float, string, bool", ok, "a value differs");
    ok = fv_gguf_key_name(g, 0) != NULL && fv_gguf_key_name(g, fv_gguf_key_count(g)) == NULL;
    th_expect(r, NULL, "gguf: keys by index", ok, "wrong");
    /* tensors */
    const fv_weight_info *t = fv_gguf_find_tensor(g, "v.patch_embd.weight");
    ok = t && t->dtype == FV_FILE_DTYPE_F16 && t->ndim == 4 && t->shape[0] == 8 && t->shape[1] == 3 &&
         t->shape[2] == 4 && t->shape[3] == 4;
    th_expect(r, NULL, "gguf: dims read outermost first", ok, "shape wrong");
    const fv_weight_info *q8 = fv_gguf_find_tensor(g, "t.q8_0"), *q4 = fv_gguf_find_tensor(g, "t.q4_0");
    ok = q8 && q8->dtype == FV_FILE_DTYPE_Q8_0 && q8->shape[0] == 4 && q8->shape[1] == 64 && q8->nbytes == 4 * 2 * 34;
    ok &= q4 && q4->dtype == FV_FILE_DTYPE_Q4_0 && q4->shape[0] == 3 && q4->shape[1] == 96 && q4->nbytes == 3 * 3 * 18;
    th_expect(r, NULL, "gguf: q8_0 and q4_0 tensor infos", ok, "wrong");
    bool aligned = true;
    for (int i = 0; i < fv_gguf_tensor_count(g); i++) {
        const fv_weight_info *ti = fv_gguf_tensor_at(g, i);
        aligned &= (uintptr_t)ti->data % 64 == 0; /* the mapping starts on a page */
        if (ti->dtype != FV_FILE_DTYPE_Q8_0 && ti->dtype != FV_FILE_DTYPE_Q4_0) check_stored(r, "basic.gguf", ti);
    }
    th_expect(r, NULL, "gguf: tensor data at 64-byte alignment", aligned, "misaligned");
    fv_gguf_close(g);
    s = fv_gguf_open(lt_fixture("plain.gguf"), &g, err, sizeof err);
    ok = s == FV_STATUS_OK && fv_gguf_alignment(g) == 32 && fv_gguf_tensor_count(g) == 2 &&
         !strcmp(fv_gguf_get_string(g, "general.name", ""), "plain");
    th_expect(r, NULL, "gguf: default alignment 32", ok, "%s %s", fv_status_name(s), err);
    for (int i = 0; ok && i < fv_gguf_tensor_count(g); i++) check_stored(r, "plain.gguf", fv_gguf_tensor_at(g, i));
    fv_gguf_close(g);
}

/* A little GGUF writer for damaged files. */
typedef struct gbuf {
    uint8_t *p;
    size_t n;
} gbuf;
static void put(gbuf *b, const void *v, size_t n)
{
    b->p = realloc(b->p, b->n + n);
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gbuf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void pad(gbuf *b, size_t align)
{
    static const uint8_t zero[64];
    while (b->n % align) put(b, zero, 1);
}

/* What a damaged GGUF differs in from a valid one: header fields, an
 * extra key/value, the tensor infos. */
typedef struct gguf_spec {
    const char *magic;
    uint32_t version;
    uint64_t nkv_override, nt_override;
    uint32_t align_type; /* 0: no general.alignment key */
    uint64_t align;
    bool extra_nested, extra_dup_key, extra_bad_type, extra_huge_string;
    int ntensors;
    struct {
        const char *name;
        uint32_t ndim;
        uint64_t ne[5];
        uint32_t type;
        uint64_t offset;
    } t[3];
    size_t data; /* bytes of data section */
} gguf_spec;

static void write_gguf(const char *path, const gguf_spec *s)
{
    gbuf b = {0};
    put(&b, s->magic ? s->magic : "GGUF", 4);
    put_u32(&b, s->version ? s->version : 3);
    int nkv = 1 + (s->align_type != 0) + s->extra_nested + s->extra_dup_key * 2 + s->extra_bad_type +
              s->extra_huge_string;
    put_u64(&b, s->nt_override ? s->nt_override : (uint64_t)s->ntensors);
    put_u64(&b, s->nkv_override ? s->nkv_override : (uint64_t)nkv);
    put_str(&b, "general.architecture");
    put_u32(&b, 8);
    put_str(&b, "test");
    if (s->align_type) {
        put_str(&b, "general.alignment");
        put_u32(&b, s->align_type);
        if (s->align_type == 8)
            put_str(&b, "32");
        else if (s->align_type == 10)
            put_u64(&b, s->align);
        else
            put_u32(&b, (uint32_t)s->align);
    }
    if (s->extra_nested) {
        put_str(&b, "nested");
        put_u32(&b, 9);
        put_u32(&b, 9);
        put_u64(&b, 1);
    }
    for (int i = 0; i < 2 * s->extra_dup_key; i++) {
        put_str(&b, "dup");
        put_u32(&b, 4);
        put_u32(&b, 1);
    }
    if (s->extra_bad_type) {
        put_str(&b, "odd");
        put_u32(&b, 13);
        put_u32(&b, 0);
    }
    if (s->extra_huge_string) {
        put_str(&b, "long");
        put_u32(&b, 8);
        put_u64(&b, (uint64_t)1 << 50);
    }
    for (int i = 0; i < s->ntensors; i++) {
        put_str(&b, s->t[i].name);
        put_u32(&b, s->t[i].ndim);
        for (uint32_t d = 0; d < s->t[i].ndim; d++) put_u64(&b, s->t[i].ne[d]);
        put_u32(&b, s->t[i].type);
        put_u64(&b, s->t[i].offset);
    }
    pad(&b, s->align_type && s->align && s->align <= 64 ? s->align : 32);
    for (size_t i = 0; i < s->data; i++) put(&b, "\x3f", 1);
    lt_write_file(path, b.p, b.n);
    free(b.p);
}

static void gguf_bad(th_runner *r)
{
#define ONE_F32(off) {{"x", 1, {4}, 0, off}}
    static const struct {
        const char *what;
        gguf_spec s;
        const char *needle;
    } cases[] = {
        {"valid control", {.align_type = 4, .align = 32, .ntensors = 1, .t = ONE_F32(0), .data = 16}, NULL},
        {"bad magic", {.magic = "GGUX", .ntensors = 1, .t = ONE_F32(0), .data = 16}, "bad magic"},
        {"version 1", {.version = 1, .ntensors = 1, .t = ONE_F32(0), .data = 16}, "version 1"},
        {"version 4", {.version = 4, .ntensors = 1, .t = ONE_F32(0), .data = 16}, "version 4"},
        {"big-endian", {.version = 0x03000000u, .ntensors = 1, .t = ONE_F32(0), .data = 16}, "big-endian"},
        {"tensor past the end", {.ntensors = 1, .t = ONE_F32(32), .data = 16}, "past its end"},
        {"tensor data truncated", {.ntensors = 1, .t = ONE_F32(0), .data = 15}, "'x': bytes 0..16"},
        {"unknown tensor type", {.ntensors = 1, .t = {{"x", 1, {4}, 99, 0}}, .data = 16}, "ggml type 99"},
        {"unread tensor type", {.ntensors = 1, .t = {{"x", 1, {256}, 12, 0}}, .data = 144}, "Q4_K"},
        {"misaligned offset", {.ntensors = 1, .t = ONE_F32(4), .data = 64}, "not a multiple of the alignment"},
        {"five dimensions", {.ntensors = 1, .t = {{"x", 5, {1, 1, 1, 1, 4}, 0, 0}}, .data = 16}, "5 dimensions"},
        {"q8_0 row not whole blocks", {.ntensors = 1, .t = {{"x", 2, {33, 1}, 8, 0}}, .data = 64},
         "multiple of 32"},
        {"dimensions overflow", {.ntensors = 1, .t = {{"x", 2, {1ull << 40, 1ull << 40}, 0, 0}}, .data = 16},
         "too many elements"},
        {"key count huge", {.nkv_override = 1ull << 60, .ntensors = 1, .t = ONE_F32(0), .data = 16},
         "metadata keys"},
        {"tensor count huge", {.nt_override = 1ull << 60, .ntensors = 1, .t = ONE_F32(0), .data = 16}, "tensors"},
        {"string length huge", {.extra_huge_string = true, .ntensors = 1, .t = ONE_F32(0), .data = 16},
         "truncated"},
        {"undefined value type", {.extra_bad_type = true, .ntensors = 1, .t = ONE_F32(0), .data = 16},
         "type 13"},
        {"nested array", {.extra_nested = true, .ntensors = 1, .t = ONE_F32(0), .data = 16}, "nested"},
        {"duplicate key", {.extra_dup_key = true, .ntensors = 1, .t = ONE_F32(0), .data = 16}, "'dup') appears twice"},
        {"alignment 0", {.align_type = 4, .align = 0, .ntensors = 1, .t = ONE_F32(0), .data = 16},
         "general.alignment"},
        {"alignment 48", {.align_type = 4, .align = 48, .ntensors = 1, .t = ONE_F32(0), .data = 16},
         "general.alignment"},
        {"alignment as a string", {.align_type = 8, .ntensors = 1, .t = ONE_F32(0), .data = 16},
         "general.alignment"},
        {"duplicate tensor", {.ntensors = 2, .t = {{"x", 1, {4}, 0, 0}, {"x", 1, {4}, 0, 32}}, .data = 48},
         "'x' appears twice"},
        {"overlapping tensors", {.ntensors = 2, .t = {{"x", 1, {16}, 0, 0}, {"y", 1, {4}, 0, 32}}, .data = 64},
         "overlaps"},
        {"empty tensor name", {.ntensors = 1, .t = {{"", 1, {4}, 0, 0}}, .data = 16}, "empty"},
    };
#undef ONE_F32
    for (size_t i = 0; i < LT_LEN(cases); i++) {
        const char *path = lt_tmp("bad.gguf");
        write_gguf(path, &cases[i].s);
        char err[512] = "", what[128];
        fv_gguf *g = (fv_gguf *)1;
        fv_status s = fv_gguf_open(path, &g, err, sizeof err);
        snprintf(what, sizeof what, "gguf: %s", cases[i].what);
        if (!cases[i].needle) {
            th_expect(r, NULL, what, s == FV_STATUS_OK && g && fv_gguf_tensor_count(g) == 1, "%s", err);
            fv_gguf_close(g);
            continue;
        }
        lt_expect_error(r, NULL, what, s, FV_STATUS_INVALID_ARGUMENT, err, cases[i].needle);
        th_expect(r, NULL, "gguf: failed open leaves NULL and names the file", !g && strstr(err, path),
                  "handle %p, \"%s\"", (void *)g, err);
    }
}

/* ---- truncation and byte flips ----------------------------------------------- */

typedef fv_status (*open_fn)(const char *path, void **h, char *err, size_t es);
typedef void (*close_fn)(void *h);
static fv_status open_st(const char *p, void **h, char *e, size_t n) { return fv_safetensors_open(p, (fv_safetensors **)h, e, n); }
static void close_st(void *h) { fv_safetensors_close(h); }
static fv_status open_gg(const char *p, void **h, char *e, size_t n) { return fv_gguf_open(p, (fv_gguf **)h, e, n); }
static void close_gg(void *h) { fv_gguf_close(h); }

/* Every prefix of the file: below some length all must fail with a
 * message, from it on all must open (a GGUF may end in alignment padding
 * that a truncation can cut without losing data). Returns that length. */
static void truncations(th_runner *r, const char *label, const char *fixture, open_fn op, close_fn cl,
                        size_t max_slack)
{
    size_t n;
    uint8_t *p = lt_read_file(lt_fixture(fixture), &n);
    if (!p) {
        th_fail(r, NULL, label, "cannot read %s", fixture);
        return;
    }
    const char *path = lt_tmp("trunc.bin");
    size_t first_ok = n + 1;
    bool monotonic = true, messages = true;
    for (size_t len = 0; len <= n; len++) {
        lt_write_file(path, p, len);
        void *h = NULL;
        char err[512] = "";
        fv_status s = op(path, &h, err, sizeof err);
        if (s == FV_STATUS_OK) {
            if (first_ok > n) first_ok = len;
            cl(h);
        } else {
            if (first_ok <= n) monotonic = false;
            if (s != FV_STATUS_INVALID_ARGUMENT || !err[0] || h) messages = false;
        }
    }
    th_expect(r, NULL, label, monotonic && messages && first_ok <= n && n - first_ok <= max_slack,
              "monotonic %d, messages %d, first length that opens %zu of %zu", monotonic, messages, first_ok, n);
    free(p);
}

/* Random bytes flipped in the header region; each variant must open or
 * fail cleanly, and an opened one must only hand out in-bounds tensors. */
static void flips(th_runner *r, const char *label, const char *fixture, open_fn op, close_fn cl, bool gguf,
                  size_t header_bytes, int rounds)
{
    size_t n;
    uint8_t *p = lt_read_file(lt_fixture(fixture), &n), *q = malloc(n);
    if (!p || !q) {
        th_fail(r, NULL, label, "cannot read %s", fixture);
        free(p);
        free(q);
        return;
    }
    th_rng rng = th_seed(77);
    const char *path = lt_tmp("flip.bin");
    int opened = 0, bad_status = 0;
    for (int k = 0; k < rounds; k++) {
        memcpy(q, p, n);
        int nflip = 1 + (int)(th_u32(&rng) % 4);
        for (int f = 0; f < nflip; f++) {
            size_t at = th_u32(&rng) % LT_MIN(header_bytes, n);
            q[at] = (th_u32(&rng) & 1) ? (uint8_t)th_u32(&rng) : (uint8_t)(q[at] ^ (1u << (th_u32(&rng) % 8)));
        }
        lt_write_file(path, q, n);
        void *h = NULL;
        char err[512] = "";
        fv_status s = op(path, &h, err, sizeof err);
        if (s == FV_STATUS_OK) {
            opened++;
            /* touch every byte of every tensor the reader hands out */
            int cnt = gguf ? fv_gguf_tensor_count(h) : fv_safetensors_count(h);
            volatile uint8_t sink = 0;
            for (int i = 0; i < cnt; i++) {
                const fv_weight_info *t = gguf ? fv_gguf_tensor_at(h, i) : fv_safetensors_at(h, i);
                for (size_t j = 0; j < t->nbytes; j++) sink ^= ((const uint8_t *)t->data)[j];
            }
            (void)sink;
            cl(h);
        } else if ((s != FV_STATUS_INVALID_ARGUMENT && s != FV_STATUS_OUT_OF_HOST_MEMORY) || !err[0]) {
            bad_status++;
        }
    }
    th_expect(r, NULL, label, bad_status == 0, "%d of %d variants failed without INVALID_ARGUMENT and a message",
              bad_status, rounds);
    printf("     (%d of %d damaged variants still opened: flips in names or values)\n", opened, rounds);
    free(p);
    free(q);
}

/* ---- config.json --------------------------------------------------------------- */

static void config_cases(th_runner *r)
{
    char err[512] = "";
    fv_config *c = NULL;
    fv_status s = fv_config_load(lt_fixture("model/config.json"), &c, err, sizeof err);
    if (!c) {
        th_fail(r, NULL, "config: load", "%s %s", fv_status_name(s), err);
        return;
    }
    int64_t i = 0;
    double d = 0;
    bool b = true;
    const char *str = NULL;
    bool ok = !fv_config_int(c, "vision_config.hidden_size", 0, &i) && i == 32;
    ok &= !fv_config_int(c, "vision_config.nested.deeper.value", 0, &i) && i == 7;
    ok &= !fv_config_int(c, "projection_dim", 0, &i) && i == 16; /* 16.0 is an integer */
    ok &= !fv_config_float(c, "vision_config.layer_norm_eps", 0, &d) && d == 1e-5;
    ok &= !fv_config_float(c, "vision_config.hidden_size", 0, &d) && d == 32.0;
    ok &= !fv_config_bool(c, "tie_word_embeddings", true, &b) && !b;
    ok &= !fv_config_string(c, "vision_config.hidden_act", NULL, &str) && str && !strcmp(str, "quick_gelu");
    ok &= fv_config_has(c, "vision_config.use_cls") && !fv_config_has(c, "vision_config.dropout") &&
          !fv_config_has(c, "vision_config.nope") && !fv_config_has(c, "nope.deeper");
    th_expect(r, NULL, "config: typed getters over dotted paths", ok, "a value differs");
    /* absent and null keys give the default with OK */
    ok = !fv_config_int(c, "vision_config.absent", 5, &i) && i == 5;
    ok &= !fv_config_int(c, "vision_config.dropout", 6, &i) && i == 6;
    ok &= !fv_config_string(c, "absent.deeper", "dflt", &str) && !strcmp(str, "dflt");
    th_expect(r, NULL, "config: absent and null keys give the default", ok, "wrong");
    /* a present value of the wrong type is reported and gives the default */
    ok = fv_config_int(c, "fraction", 1, &i) == FV_STATUS_INVALID_ARGUMENT && i == 1;
    ok &= fv_config_int(c, "text", 2, &i) == FV_STATUS_INVALID_ARGUMENT && i == 2;
    ok &= fv_config_int(c, "huge", 3, &i) == FV_STATUS_INVALID_ARGUMENT && i == 3; /* beyond 2^53 */
    ok &= fv_config_bool(c, "vision_config.hidden_size", false, &b) == FV_STATUS_INVALID_ARGUMENT;
    ok &= fv_config_string(c, "vision_config", "x", &str) == FV_STATUS_INVALID_ARGUMENT && !strcmp(str, "x");
    ok &= fv_config_float(c, "text", 0, &d) == FV_STATUS_INVALID_ARGUMENT;
    th_expect(r, NULL, "config: wrong types are errors", ok, "accepted");
    double arr[4];
    int count = -1;
    ok = !fv_config_floats(c, "image_grid", arr, 4, &count) && count == 2 && arr[0] == 4 && arr[1] == 4;
    ok &= !fv_config_floats(c, "absent", arr, 4, &count) && count == 0;
    ok &= fv_config_floats(c, "text", arr, 4, &count) == FV_STATUS_INVALID_ARGUMENT;
    ok &= fv_config_floats(c, "architectures", arr, 0, &count) == FV_STATUS_INVALID_ARGUMENT; /* strings */
    th_expect(r, NULL, "config: number arrays", ok, "wrong");
    fv_config_destroy(c);
    static const struct {
        const char *text, *needle;
    } bad[] = {{"{\"a\":", "not valid JSON"}, {"[1]", "not an object"}, {"{} {}", "after the JSON"}, {"", "JSON"}};
    for (size_t k = 0; k < LT_LEN(bad); k++) {
        s = fv_config_parse(bad[k].text, strlen(bad[k].text), &c, err, sizeof err);
        lt_expect_error(r, NULL, "config: bad text", s, FV_STATUS_INVALID_ARGUMENT, err, bad[k].needle);
    }
    s = fv_config_load(lt_tmp("nope.json"), &c, err, sizeof err);
    lt_expect_error(r, NULL, "config: missing file", s, FV_STATUS_IO_ERROR, err, "nope.json");
    fv_config_destroy(NULL);
}

void test_load_formats(th_runner *r)
{
    safetensors_good(r);
    safetensors_bad(r);
    gguf_good(r);
    gguf_bad(r);
    truncations(r, "safetensors: every truncation fails", "basic.safetensors", open_st, close_st, 0);
    truncations(r, "gguf: every truncation into data fails", "basic.gguf", open_gg, close_gg, 63);
    flips(r, "safetensors: byte flips fail cleanly", "basic.safetensors", open_st, close_st, false, 900, 1500);
    flips(r, "gguf: byte flips fail cleanly", "basic.gguf", open_gg, close_gg, true, 1200, 3000);
    config_cases(r);
}
