#include "harness.h"

#include <stdarg.h>
#ifdef __SANITIZE_ADDRESS__
#include <dlfcn.h>
#endif

static void count_validation(fv_log_level level, const char *msg, void *user)
{
    th_backend *b = user;
    if (level >= FV_LOG_ERROR && strstr(msg, "validation")) b->validation_messages++;
    if (level >= FV_LOG_WARN) fprintf(stderr, "[%s] %s\n", b->name, msg);
}

bool th_selected(const th_runner *r, const char *name)
{
    return !r->filter || strstr(name, r->filter) != NULL;
}

void th_pin_drivers(void)
{
#ifdef __SANITIZE_ADDRESS__
    /* Keep Mesa's CPU Vulkan driver loaded to the end: its own one-time
     * allocations then stay reachable instead of being reported by
     * LeakSanitizer as leaks of an unloaded module (which no suppression
     * can name). Our allocations are checked as usual. */
    dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
#endif
}

bool th_open(th_runner *r, int argc, char **argv)
{
    th_pin_drivers();
    memset(r, 0, sizeof *r);
    if (argc > 1) r->filter = argv[1];
    const char *require = getenv("FOVEA_TEST_REQUIRE");
    const char *only = getenv("FOVEA_TEST_BACKENDS"); /* e.g. "cpu,vulkan" */
    static const struct {
        fv_backend_type type;
        const char *name;
    } all[] = {{FV_BACKEND_CPU, "cpu"}, {FV_BACKEND_VULKAN, "vulkan"}, {FV_BACKEND_OPENCL, "opencl"}};
    bool ok = true;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (only && !strstr(only, all[i].name)) continue;
        th_backend *b = &r->backends[r->nbackends];
        b->name = all[i].name;
        fv_context_desc d = {0};
        d.backend = all[i].type;
        d.validation = true;
        d.log = count_validation;
        d.log_user_data = b;
        d.log_level = FV_LOG_WARN;
        char err[512];
        fv_status st = fv_context_create(&d, &b->ctx, err, sizeof err);
        if (st != FV_STATUS_OK) {
            bool required = require && strstr(require, all[i].name);
            printf("%s %s backend: %s (%s)\n", required ? "FAIL" : "skip", all[i].name, err,
                   fv_status_name(st));
            if (required) ok = false;
            continue;
        }
        fv_device_info info;
        fv_context_device_info(b->ctx, &info);
        printf("backend %s: %s\n", b->name, info.name);
        r->nbackends++;
    }
    return ok;
}

int th_close(th_runner *r)
{
    for (int i = 0; i < r->nbackends; i++) {
        th_backend *b = &r->backends[i];
        fv_context_destroy(b->ctx);
        if (b->validation_messages) {
            printf("FAIL %s: %d validation messages\n", b->name, b->validation_messages);
            r->failed++;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", r->passed, r->failed, r->skipped);
    return r->failed ? 1 : 0;
}

float *th_random(th_rng *rng, size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; i++) p[i] = th_uniform(rng, lo, hi);
    return p;
}

bool th_check(th_runner *r, const th_backend *b, const char *name, const float *got, const double *ref,
              size_t n, double tol)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / fmax(fabs(ref[i]), 1.0);
        if (!(e <= worst)) { /* also catches NaN */
            worst = isnan(e) ? INFINITY : e;
            at = i;
            if (isnan(e)) break;
        }
    }
    bool pass = worst <= tol;
    if (pass) {
        r->passed++;
        printf("ok   %-7s %-44s max err %.2e (tol %.0e)\n", b->name, name, worst, tol);
    } else {
        r->failed++;
        printf("FAIL %-7s %-44s max err %.2e > tol %.0e at %zu: got %.7g want %.7g\n", b->name, name, worst,
               tol, at, n ? got[at] : 0.0, n ? ref[at] : 0.0);
    }
    return pass;
}

void th_expect(th_runner *r, const th_backend *b, const char *what, bool cond, const char *fmt, ...)
{
    if (cond) {
        r->passed++;
        printf("ok   %-7s %s\n", b ? b->name : "-", what);
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    th_fail(r, b, what, "%s", msg);
}

void th_fail(th_runner *r, const th_backend *b, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %-7s %-44s ", b ? b->name : "-", name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    r->failed++;
}

bool th_ok(th_runner *r, const th_backend *b, const char *name, fv_status st)
{
    if (st == FV_STATUS_OK) return true;
    th_fail(r, b, name, "%s: %s", fv_status_name(st), fv_context_last_error(b->ctx));
    return false;
}

float th_round_f16(float x)
{
    /* round to nearest even at 10 mantissa bits (normal range) */
    if (x == 0 || !isfinite(x)) return x;
    int e;
    frexpf(x, &e);
    if (e < -13) e = -13; /* subnormal spacing */
    float q = ldexpf(1.0f, e - 11);
    return nearbyintf(x / q) * q;
}

fv_tensor *th_tensor(th_runner *r, const th_backend *b, fv_dtype dtype, int ndim, const int64_t *shape,
                     const float *data)
{
    fv_tensor *t = NULL;
    if (!th_ok(r, b, "tensor create", fv_tensor_create(b->ctx, dtype, ndim, shape, &t))) return NULL;
    size_t n = (size_t)fv_tensor_numel(t);
    fv_status st;
    if (dtype == FV_DTYPE_F16) {
        uint16_t *h = malloc(n * 2);
        for (size_t i = 0; i < n; i++) {
            /* exact f16 conversion of the pre-rounded value */
            float v = th_round_f16(data[i]);
            uint32_t x;
            memcpy(&x, &v, 4);
            uint32_t sign = (x >> 16) & 0x8000u;
            int exp = (int)((x >> 23) & 0xff) - 127 + 15;
            uint32_t mant = x & 0x7fffffu;
            uint16_t hv;
            if ((x & 0x7fffffffu) == 0) hv = (uint16_t)sign;
            else if (exp <= 0) hv = (uint16_t)(sign | ((mant | 0x800000u) >> (14 - exp)));
            else hv = (uint16_t)(sign | ((uint32_t)exp << 10) | (mant >> 13));
            h[i] = hv;
        }
        st = fv_tensor_upload(t, h, n * 2);
        free(h);
    } else {
        st = fv_tensor_upload(t, data, fv_tensor_nbytes(t));
    }
    if (!th_ok(r, b, "tensor upload", st)) {
        fv_tensor_destroy(t);
        return NULL;
    }
    return t;
}


float *th_run_and_fetch(th_runner *r, const th_backend *b, const char *name, fv_graph *g, fv_tensor *y)
{
    if (!th_ok(r, b, name, fv_graph_output(g, y))) return NULL;
    fv_status st = fv_graph_replay(g);
    if (st == FV_STATUS_UNSUPPORTED) {
        /* the backend says it lacks the op: reported, not failed */
        r->skipped++;
        printf("skip %-7s %-44s %s\n", b->name, name, fv_context_last_error(b->ctx));
        return NULL;
    }
    if (!th_ok(r, b, name, st)) return NULL;
    size_t n = (size_t)fv_tensor_numel(y);
    float *out = malloc(n * sizeof *out);
    if (!th_ok(r, b, name, fv_tensor_download(y, out, n * sizeof *out))) {
        free(out);
        return NULL;
    }
    return out;
}
