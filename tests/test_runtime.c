/* Runtime behaviour: status reporting, bad input, out-of-memory, a missing
 * Vulkan loader, memory planning, replay with new inputs and parameters,
 * two contexts at once, the pipeline cache and profiling. */
#include "harness.h"
#include "op_cases.h"
#include "runtime/internal.h"

#include <dirent.h>
#include <unistd.h>

#define EXPECT th_expect

static void test_status_names(th_runner *r)
{
    bool ok = true;
    for (int s = 0; s < FV_STATUS_COUNT_; s++) ok &= strncmp(fv_status_name((fv_status)s), "FV_STATUS_", 10) == 0;
    ok &= strcmp(fv_status_name((fv_status)999), "FV_STATUS_UNKNOWN") == 0;
    EXPECT(r, NULL, "status names", ok, "a status has no name");
}

static void test_parse_device(th_runner *r)
{
    fv_context_desc d = {0};
    bool ok = fv_context_desc_parse_device(&d, "vulkan:1") == FV_STATUS_OK && d.backend == FV_BACKEND_VULKAN &&
              d.device_index == 1 && !d.device_name;
    ok &= fv_context_desc_parse_device(&d, "vulkan:llvm") == FV_STATUS_OK && d.device_name &&
          strcmp(d.device_name, "llvm") == 0;
    ok &= fv_context_desc_parse_device(&d, "opencl:0") == FV_STATUS_OK && d.backend == FV_BACKEND_OPENCL;
    ok &= fv_context_desc_parse_device(&d, "cpu") == FV_STATUS_OK && d.backend == FV_BACKEND_CPU;
    ok &= fv_context_desc_parse_device(&d, "metal") == FV_STATUS_INVALID_ARGUMENT;
    EXPECT(r, NULL, "device strings", ok, "parse results differ");
}

/* y = x + x, then 6 more adds each reading the previous result and x */
static fv_status build_chain(fv_graph *g, fv_tensor *x, int len, fv_tensor **y)
{
    fv_tensor *cur = x;
    for (int i = 0; i < len; i++) {
        fv_status st = fv_op_add(g, cur, x, &cur);
        if (st) return st;
    }
    *y = cur;
    return FV_STATUS_OK;
}

static void test_missing_loader(th_runner *r)
{
    setenv("FOVEA_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1", 1);
    fv_context_desc d = {0};
    d.backend = FV_BACKEND_VULKAN;
    fv_context *ctx = (fv_context *)1;
    char err[256];
    fv_status st = fv_context_create(&d, &ctx, err, sizeof err);
    EXPECT(r, NULL, "no Vulkan loader: clear status", st == FV_STATUS_BACKEND_UNAVAILABLE && !ctx &&
           strstr(err, "libvulkan"), "got %s, \"%s\"", fv_status_name(st), err);
    /* auto falls back to another backend, which still works */
    d.backend = FV_BACKEND_AUTO;
    st = fv_context_create(&d, &ctx, err, sizeof err);
    bool ok = st == FV_STATUS_OK && fv_context_backend(ctx) != FV_BACKEND_VULKAN;
    if (ok) {
        th_rng rng = th_seed(5);
        float *x = th_random(&rng, 7, -1, 1);
        fv_tensor *t = NULL, *y = NULL;
        fv_graph *g = NULL;
        int64_t shape[1] = {7};
        float out[7];
        ok = fv_tensor_create(ctx, FV_DTYPE_F32, 1, shape, &t) == FV_STATUS_OK &&
             fv_tensor_upload(t, x, sizeof out) == FV_STATUS_OK && fv_graph_create(ctx, &g) == FV_STATUS_OK &&
             fv_op_add(g, t, t, &y) == FV_STATUS_OK && fv_graph_output(g, y) == FV_STATUS_OK &&
             fv_graph_replay(g) == FV_STATUS_OK && fv_tensor_download(y, out, sizeof out) == FV_STATUS_OK;
        for (int i = 0; ok && i < 7; i++) ok = out[i] == 2 * x[i];
        fv_graph_destroy(g);
        fv_tensor_destroy(t);
        free(x);
    }
    fv_context_destroy(ctx);
    unsetenv("FOVEA_VULKAN_LIBRARY");
    EXPECT(r, NULL, "no Vulkan loader: fallback backend computes", ok, "%s", err);
}

static void test_bad_device(th_runner *r)
{
    fv_context_desc d = {0};
    d.backend = FV_BACKEND_VULKAN;
    d.device_index = 99;
    fv_context *ctx = NULL;
    char err[256];
    fv_status st = fv_context_create(&d, &ctx, err, sizeof err);
    /* where Vulkan is absent altogether the status is the same */
    EXPECT(r, NULL, "device index out of range", st == FV_STATUS_BACKEND_UNAVAILABLE && !ctx && err[0],
           "got %s \"%s\"", fv_status_name(st), err);
}

static void test_bad_input(th_runner *r, const th_backend *b)
{
    fv_context *ctx = b->ctx;
    fv_tensor *t = NULL;
    int64_t bad0[2] = {3, 0}, q[2] = {2, 33}, ok_shape[2] = {3, 4}, other[1] = {5};
    EXPECT(r, b, "tensor with a zero dimension", fv_tensor_create(ctx, FV_DTYPE_F32, 2, bad0, &t) ==
           FV_STATUS_INVALID_ARGUMENT && !t, "accepted");
    EXPECT(r, b, "tensor with 5 dimensions", fv_tensor_create(ctx, FV_DTYPE_F32, 5, ok_shape, &t) ==
           FV_STATUS_INVALID_ARGUMENT && !t, "accepted");
    EXPECT(r, b, "q8_0 row not a multiple of 32", fv_tensor_create(ctx, FV_DTYPE_Q8_0, 2, q, &t) ==
           FV_STATUS_INVALID_ARGUMENT && strstr(fv_context_last_error(ctx), "multiple of 32"),
           "%s", fv_context_last_error(ctx));
    th_rng rng = th_seed(3);
    float *x = th_random(&rng, 12, -1, 1), back[12];
    fv_tensor *a = th_tensor(r, b, FV_DTYPE_F32, 2, ok_shape, x), *c = th_tensor(r, b, FV_DTYPE_F32, 1, other, x);
    if (!a || !c) goto out;
    /* a wrong-sized upload fails and leaves the data as it was */
    float junk[13] = {0};
    fv_status st = fv_tensor_upload(a, junk, sizeof junk);
    bool intact = fv_tensor_download(a, back, sizeof back) == FV_STATUS_OK && memcmp(back, x, sizeof back) == 0;
    EXPECT(r, b, "upload of the wrong size", st == FV_STATUS_INVALID_ARGUMENT && intact, "%s", fv_status_name(st));
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (!th_ok(r, b, "graph", fv_graph_create(ctx, &g))) goto out;
    st = fv_op_add(g, a, c, &y);
    const char *msg = fv_context_last_error(ctx);
    EXPECT(r, b, "add of shapes that do not broadcast", st == FV_STATUS_INVALID_ARGUMENT && !y &&
           strstr(msg, "add") && strstr(msg, "f32[3,4]") && strstr(msg, "f32[5]"), "%s: %s", fv_status_name(st), msg);
    EXPECT(r, b, "set_param slot out of range", fv_graph_set_param(g, FV_GRAPH_PARAM_SLOTS, 1) ==
           FV_STATUS_INVALID_ARGUMENT, "accepted");
    EXPECT(r, b, "output on a tensor the graph did not make", fv_graph_output(g, a) == FV_STATUS_INVALID_ARGUMENT,
           "accepted");
    /* the graph is still usable after the failures */
    st = fv_op_add(g, a, a, &y);
    fv_tensor *z = NULL;
    if (th_ok(r, b, "add", st) && th_ok(r, b, "add", fv_op_add(g, y, a, &z)) && th_ok(r, b, "out", fv_graph_output(g, z)) &&
        th_ok(r, b, "replay", fv_graph_replay(g))) {
        EXPECT(r, b, "download of an intermediate not marked as output",
               fv_tensor_download(y, back, sizeof back) == FV_STATUS_INVALID_STATE, "accepted");
        fv_tensor *w = NULL;
        EXPECT(r, b, "adding a node after record", fv_op_add(g, a, a, &w) == FV_STATUS_INVALID_STATE, "accepted");
    }
    fv_graph_destroy(g);
out:
    fv_tensor_destroy(a);
    fv_tensor_destroy(c);
    free(x);
}

static void test_out_of_memory(th_runner *r, const th_backend *b)
{
    fv_tensor *t = NULL;
    int64_t huge[2] = {(int64_t)1 << 20, (int64_t)1 << 18}; /* 1 TiB of f32 */
    fv_status st = fv_tensor_create(b->ctx, FV_DTYPE_F32, 2, huge, &t);
    EXPECT(r, b, "1 TiB tensor: out of device memory", st == FV_STATUS_OUT_OF_DEVICE_MEMORY && !t, "%s: %s",
           fv_status_name(st), fv_context_last_error(b->ctx));
    /* a graph whose arena cannot be allocated fails at plan and can be destroyed:
     * two small inputs broadcast into a 1 TiB output */
    int64_t col[2] = {(int64_t)1 << 16, 1}, row[2] = {1, (int64_t)1 << 22};
    th_rng rng = th_seed(4);
    float *cv = th_random(&rng, (size_t)1 << 16, -1, 1), *rv = th_random(&rng, (size_t)1 << 22, -1, 1);
    fv_tensor *tc = th_tensor(r, b, FV_DTYPE_F32, 2, col, cv), *tr = th_tensor(r, b, FV_DTYPE_F32, 2, row, rv);
    fv_graph *g = NULL;
    fv_tensor *y = NULL;
    if (tc && tr && th_ok(r, b, "graph", fv_graph_create(b->ctx, &g)) && th_ok(r, b, "add", fv_op_add(g, tc, tr, &y))) {
        st = fv_graph_replay(g);
        EXPECT(r, b, "graph with a 1 TiB intermediate: out of device memory", st == FV_STATUS_OUT_OF_DEVICE_MEMORY,
               "%s: %s", fv_status_name(st), fv_context_last_error(b->ctx));
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tc);
    fv_tensor_destroy(tr);
    free(cv);
    free(rv);
    /* the context still works */
    int64_t shape[1] = {5};
    float x[5] = {1, 2, 3, 4, 5}, out[5];
    fv_tensor *a = th_tensor(r, b, FV_DTYPE_F32, 1, shape, x);
    fv_graph *g2 = NULL;
    fv_tensor *z = NULL;
    bool ok = a && fv_graph_create(b->ctx, &g2) == FV_STATUS_OK && fv_op_add(g2, a, a, &z) == FV_STATUS_OK &&
              fv_graph_output(g2, z) == FV_STATUS_OK && fv_graph_replay(g2) == FV_STATUS_OK &&
              fv_tensor_download(z, out, sizeof out) == FV_STATUS_OK && out[4] == 10;
    EXPECT(r, b, "context works after out-of-memory", ok, "%s", fv_context_last_error(b->ctx));
    fv_graph_destroy(g2);
    fv_tensor_destroy(a);
}

static void test_plan_and_replay(th_runner *r, const th_backend *b)
{
    const int len = 8;
    int64_t shape[2] = {17, 33};
    size_t n = 17 * 33;
    th_rng rng = th_seed(21);
    fv_tensor *x = NULL, *y = NULL;
    fv_graph *g = NULL;
    float *out = malloc(n * sizeof *out);
    double *ref = malloc(n * sizeof *ref);
    for (int round = 0; round < 3; round++) {
        float *data = th_random(&rng, n, -3, 3);
        if (round == 0) {
            x = th_tensor(r, b, FV_DTYPE_F32, 2, shape, data);
            if (!x || !th_ok(r, b, "graph", fv_graph_create(b->ctx, &g)) ||
                !th_ok(r, b, "chain", build_chain(g, x, len, &y)) || !th_ok(r, b, "output", fv_graph_output(g, y)) ||
                !th_ok(r, b, "plan", fv_graph_plan(g))) {
                free(data);
                break;
            }
            size_t arena = fv_graph_arena_bytes(g), naive = fv_graph_naive_bytes(g);
            /* a chain needs two live buffers at a time, however long */
            EXPECT(r, b, "plan reuses memory along a chain", arena > 0 && arena * 3 <= naive,
                   "arena %zu, naive %zu", arena, naive);
        } else if (!th_ok(r, b, "upload", fv_tensor_upload(x, data, n * sizeof *data))) {
            free(data);
            break;
        }
        for (size_t i = 0; i < n; i++) ref[i] = (double)data[i] * (len + 1);
        char name[64];
        snprintf(name, sizeof name, "replay %d with new input", round);
        if (th_ok(r, b, name, fv_graph_replay(g)) && th_ok(r, b, name, fv_tensor_download(y, out, n * sizeof *out)))
            th_check(r, b, name, out, ref, n, 1e-6);
        free(data);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(x);
    free(out);
    free(ref);
}

static void test_reshape_view(th_runner *r, const th_backend *b)
{
    int64_t s1[2] = {6, 10}, s2[3] = {3, 2, 10}, bs[1] = {10};
    th_rng rng = th_seed(8);
    float *x = th_random(&rng, 60, -1, 1), *v = th_random(&rng, 10, -1, 1);
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, s1, x), *tv = th_tensor(r, b, FV_DTYPE_F32, 1, bs, v);
    fv_graph *g = NULL;
    fv_tensor *sq = NULL, *view = NULL, *y = NULL;
    if (tx && tv && th_ok(r, b, "graph", fv_graph_create(b->ctx, &g)) && th_ok(r, b, "mul", fv_op_mul(g, tx, tx, &sq)) &&
        th_ok(r, b, "reshape", fv_op_reshape(g, sq, 3, s2, &view)) && th_ok(r, b, "add", fv_op_add(g, view, tv, &y))) {
        float *got = th_run_and_fetch(r, b, "reshape view", g, y);
        double ref[60];
        for (int i = 0; i < 60; i++) ref[i] = (double)x[i] * x[i] + v[i % 10];
        if (got) th_check(r, b, "reshape view feeds add", got, ref, 60, 1e-6);
        free(got);
        EXPECT(r, b, "reshape keeps the shape", fv_tensor_ndim(y) == 3 && fv_tensor_dim(y, -1) == 10 &&
               fv_tensor_dim(y, 0) == 3, "shape differs");
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tv);
    free(x);
    free(v);
}

/* one graph reads another's result through fv_tensor_alias, and sees what
 * the other wrote at its latest replay; a graph with no node records and
 * replays cleanly (no validation message) */
static void test_alias_and_empty(th_runner *r, const th_backend *b)
{
    int64_t s[2] = {5, 7};
    th_rng rng = th_seed(12);
    float *x0 = th_random(&rng, 35, -1, 1), *x1 = th_random(&rng, 35, -1, 1), *v = th_random(&rng, 35, -1, 1);
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, s, x0), *tv = th_tensor(r, b, FV_DTYPE_F32, 2, s, v);
    fv_graph *ga = NULL, *gb = NULL, *ge = NULL;
    fv_tensor *sq = NULL, *alias = NULL, *z = NULL;
    if (tx && tv && th_ok(r, b, "alias: graph a", fv_graph_create(b->ctx, &ga)) &&
        th_ok(r, b, "alias: mul", fv_op_mul(ga, tx, tx, &sq)) && th_ok(r, b, "alias: output", fv_graph_output(ga, sq)) &&
        th_ok(r, b, "alias: plan a", fv_graph_plan(ga)) && th_ok(r, b, "alias: make", fv_tensor_alias(sq, &alias)) &&
        th_ok(r, b, "alias: graph b", fv_graph_create(b->ctx, &gb)) &&
        th_ok(r, b, "alias: add", fv_op_add(gb, alias, tv, &z)) && th_ok(r, b, "alias: output b", fv_graph_output(gb, z)) &&
        th_ok(r, b, "alias: plan b", fv_graph_plan(gb)) && th_ok(r, b, "alias: record a", fv_graph_record(ga)) &&
        th_ok(r, b, "alias: record b", fv_graph_record(gb))) {
        for (int round = 0; round < 2; round++) {
            const float *x = round ? x1 : x0;
            float got[35];
            double ref[35];
            if (!th_ok(r, b, "alias: upload", fv_tensor_upload(tx, x, sizeof got)) ||
                !th_ok(r, b, "alias: replay a", fv_graph_replay(ga)) || !th_ok(r, b, "alias: replay b", fv_graph_replay(gb)) ||
                !th_ok(r, b, "alias: download", fv_tensor_download(z, got, sizeof got)))
                break;
            for (int i = 0; i < 35; i++) ref[i] = (double)x[i] * x[i] + v[i];
            th_check(r, b, round ? "alias sees the next replay" : "alias reads another graph's result", got, ref, 35,
                     1e-6);
        }
    }
    fv_status st = FV_STATUS_OK;
    if (th_ok(r, b, "empty graph", fv_graph_create(b->ctx, &ge))) {
        st = fv_graph_plan(ge);
        if (!st) st = fv_graph_record(ge);
        if (!st) st = fv_graph_replay(ge);
        th_ok(r, b, "empty graph records and replays", st);
    }
    fv_graph_destroy(ge);
    fv_graph_destroy(gb);
    fv_tensor_destroy(alias);
    fv_graph_destroy(ga);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tv);
    free(x0);
    free(x1);
    free(v);
}

/* a view at an offset inside a graph result (how multi-result kernels split
 * their packed output) feeds another op; a misaligned offset is refused */
static void test_offset_view(th_runner *r, const th_backend *b)
{
    int64_t s[2] = {3, 64}, row[1] = {64};
    th_rng rng = th_seed(9);
    float *x = th_random(&rng, 192, -1, 1), *v = th_random(&rng, 64, -1, 1);
    fv_tensor *tx = th_tensor(r, b, FV_DTYPE_F32, 2, s, x), *tv = th_tensor(r, b, FV_DTYPE_F32, 1, row, v);
    fv_graph *g = NULL;
    fv_tensor *sq = NULL, *mid = NULL, *bad = NULL, *y = NULL;
    if (tx && tv && th_ok(r, b, "graph", fv_graph_create(b->ctx, &g)) && th_ok(r, b, "mul", fv_op_mul(g, tx, tx, &sq)) &&
        th_ok(r, b, "view", fv_graph_view(g, sq, 256, FV_DTYPE_F32, 1, row, &mid)) &&
        th_ok(r, b, "add", fv_op_add(g, mid, tv, &y))) {
        EXPECT(r, b, "view at a misaligned offset is refused",
               fv_graph_view(g, sq, 4, FV_DTYPE_F32, 1, row, &bad) == FV_STATUS_INVALID_ARGUMENT, "accepted");
        EXPECT(r, b, "view past the end is refused",
               fv_graph_view(g, sq, 512, FV_DTYPE_F32, 2, s, &bad) == FV_STATUS_INVALID_ARGUMENT, "accepted");
        float *got = th_run_and_fetch(r, b, "offset view", g, y);
        double ref[64];
        for (int i = 0; i < 64; i++) ref[i] = (double)x[64 + i] * x[64 + i] + v[i];
        if (got) th_check(r, b, "view at an offset feeds add", got, ref, 64, 1e-6);
        free(got);
    }
    fv_graph_destroy(g);
    fv_tensor_destroy(tx);
    fv_tensor_destroy(tv);
    free(x);
    free(v);
}

static int count_cache_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, "vk-", 3) == 0) n++;
    if (d) closedir(d);
    return n;
}

static int profile_lines;
static void count_profile(fv_log_level level, const char *msg, void *user)
{
    (void)level, (void)user;
    if (strncmp(msg, "profile:", 8) == 0) profile_lines++;
}

static void test_vulkan_cache_and_profile(th_runner *r)
{
    char dir[] = "/tmp/fovea-cache-XXXXXX";
    if (!mkdtemp(dir)) return;
    for (int round = 0; round < 2; round++) {
        fv_context_desc d = {0};
        d.backend = FV_BACKEND_VULKAN;
        d.cache_dir = dir;
        d.profile = true;
        d.validation = true;
        d.log = count_profile;
        d.log_level = FV_LOG_WARN;
        fv_context *ctx = NULL;
        if (fv_context_create(&d, &ctx, NULL, 0) != FV_STATUS_OK) {
            printf("skip   vulkan cache and profiling: no Vulkan device\n");
            rmdir(dir);
            return;
        }
        th_backend b = {ctx, "vulkan", 0};
        int64_t shape[1] = {100};
        th_rng rng = th_seed(1);
        float *x = th_random(&rng, 100, -1, 1);
        fv_tensor *t = th_tensor(r, &b, FV_DTYPE_F32, 1, shape, x), *y = NULL;
        fv_graph *g = NULL;
        profile_lines = 0;
        if (t && th_ok(r, &b, "graph", fv_graph_create(ctx, &g)) && th_ok(r, &b, "chain", build_chain(g, t, 3, &y)) &&
            th_ok(r, &b, "out", fv_graph_output(g, y)) && th_ok(r, &b, "replay", fv_graph_replay(g))) {
            fv_node_timing tm[8];
            int n = fv_graph_timings(g, tm, 8);
            EXPECT(r, &b, "profiling: a timing per node and a table", n == 3 && tm[0].ms >= 0 &&
                   strcmp(tm[0].op, "add") == 0 && profile_lines == 4, "%d timings, %d lines", n, profile_lines);
        }
        fv_graph_destroy(g);
        fv_tensor_destroy(t);
        free(x);
        fv_context_destroy(ctx);
        if (round == 0)
            EXPECT(r, &b, "pipeline cache written on destroy", count_cache_files(dir) == 1, "%d files",
                   count_cache_files(dir));
    }
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

static void test_two_contexts(th_runner *r)
{
    if (r->nbackends < 2) return;
    /* graphs on two backends interleaved: each keeps its own state */
    const th_backend *b0 = &r->backends[0], *b1 = &r->backends[1];
    int64_t shape[1] = {255};
    th_rng rng = th_seed(77);
    float *x0 = th_random(&rng, 255, -1, 1), *x1 = th_random(&rng, 255, -1, 1);
    fv_tensor *t0 = th_tensor(r, b0, FV_DTYPE_F32, 1, shape, x0), *t1 = th_tensor(r, b1, FV_DTYPE_F32, 1, shape, x1);
    fv_graph *g0 = NULL, *g1 = NULL;
    fv_tensor *y0 = NULL, *y1 = NULL, *mixed = NULL;
    if (t0 && t1 && fv_graph_create(b0->ctx, &g0) == FV_STATUS_OK && fv_graph_create(b1->ctx, &g1) == FV_STATUS_OK) {
        EXPECT(r, b0, "tensor of another context is refused", fv_op_add(g0, t0, t1, &mixed) == FV_STATUS_INVALID_ARGUMENT,
               "accepted");
        if (fv_op_mul(g0, t0, t0, &y0) == FV_STATUS_OK && fv_op_add(g1, t1, t1, &y1) == FV_STATUS_OK) {
            float *o1 = th_run_and_fetch(r, b1, "two contexts", g1, y1);
            float *o0 = th_run_and_fetch(r, b0, "two contexts", g0, y0);
            double ref0[255], ref1[255];
            for (int i = 0; i < 255; i++) {
                ref0[i] = (double)x0[i] * x0[i];
                ref1[i] = 2.0 * x1[i];
            }
            if (o0) th_check(r, b0, "two contexts interleaved (a)", o0, ref0, 255, 1e-6);
            if (o1) th_check(r, b1, "two contexts interleaved (b)", o1, ref1, 255, 1e-6);
            free(o0);
            free(o1);
        }
    }
    fv_graph_destroy(g0);
    fv_graph_destroy(g1);
    fv_tensor_destroy(t0);
    fv_tensor_destroy(t1);
    free(x0);
    free(x1);
}

int main(int argc, char **argv)
{
    th_runner r;
    bool ok = th_open(&r, argc, argv);
    test_status_names(&r);
    test_parse_device(&r);
    test_bad_device(&r);
    test_missing_loader(&r);
    for (int i = 0; i < r.nbackends; i++) {
        test_bad_input(&r, &r.backends[i]);
        test_out_of_memory(&r, &r.backends[i]);
        test_plan_and_replay(&r, &r.backends[i]);
        test_reshape_view(&r, &r.backends[i]);
        test_offset_view(&r, &r.backends[i]);
        test_alias_and_empty(&r, &r.backends[i]);
    }
    test_two_contexts(&r);
    test_vulkan_cache_and_profile(&r);
    int rc = th_close(&r);
    return ok ? rc : 1;
}
