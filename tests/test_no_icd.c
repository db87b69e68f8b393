/* Run with OCL_ICD_VENDORS pointing nowhere (see tests/meson.build): the
 * OpenCL ICD loader then finds no driver. Creating an OpenCL context must fail
 * with a clear status, and the other backends must keep working. */
#include "harness.h"

int main(void)
{
    th_pin_drivers();
    th_runner r;
    memset(&r, 0, sizeof r);
    fv_context_desc d = {0};
    d.backend = FV_BACKEND_OPENCL;
    fv_context *ctx = NULL;
    char err[256] = "";
    fv_status st = fv_context_create(&d, &ctx, err, sizeof err);
    if (st == FV_STATUS_BACKEND_UNAVAILABLE && !ctx && strstr(err, "opencl")) {
        r.passed++;
        printf("ok   opencl without a driver: %s\n", err);
    } else {
        th_fail(&r, NULL, "opencl without a driver", "got %s \"%s\"", fv_status_name(st), err);
        fv_context_destroy(ctx);
    }
    int n = -1;
    fv_device_info info;
    st = fv_backend_list_devices(FV_BACKEND_OPENCL, &info, 1, &n, err, sizeof err);
    if (st == FV_STATUS_BACKEND_UNAVAILABLE && n == 0) {
        r.passed++;
        printf("ok   listing opencl devices without a driver: %s\n", err);
    } else {
        th_fail(&r, NULL, "listing opencl devices without a driver", "got %s, %d devices", fv_status_name(st), n);
    }
    /* the other backends still compute */
    static const fv_backend_type others[] = {FV_BACKEND_CPU, FV_BACKEND_VULKAN};
    for (int i = 0; i < 2; i++) {
        d.backend = others[i];
        d.validation = true;
        if (fv_context_create(&d, &ctx, err, sizeof err) != FV_STATUS_OK) {
            printf("skip %s: %s\n", fv_backend_name(others[i]), err);
            r.skipped++;
            continue;
        }
        th_backend b = {ctx, fv_backend_name(others[i]), 0};
        int64_t shape[1] = {33};
        th_rng rng = th_seed(2);
        float *x = th_random(&rng, 33, -1, 1);
        fv_tensor *t = th_tensor(&r, &b, FV_DTYPE_F32, 1, shape, x), *y = NULL;
        fv_graph *g = NULL;
        if (t && th_ok(&r, &b, "graph", fv_graph_create(ctx, &g)) && th_ok(&r, &b, "mul", fv_op_mul(g, t, t, &y))) {
            float *got = th_run_and_fetch(&r, &b, "mul without OpenCL", g, y);
            double ref[33];
            for (int k = 0; k < 33; k++) ref[k] = (double)x[k] * x[k];
            if (got) th_check(&r, &b, "mul without OpenCL", got, ref, 33, 1e-6);
            free(got);
        }
        fv_graph_destroy(g);
        fv_tensor_destroy(t);
        free(x);
        fv_context_destroy(ctx);
    }
    printf("%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped);
    return r.failed ? 1 : 0;
}
