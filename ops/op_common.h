/* Helpers shared by the op files: argument checks and dispatch sizing. */
#ifndef FOVEA_OP_COMMON_H
#define FOVEA_OP_COMMON_H

#include "../runtime/internal.h"
#include "../shaders/fv_params.h"

#include <math.h>
#include <string.h>

/* Checks g and y, then each input tensor; returns early on failure. */
#define FV_OP_CHECK_INPUT(g, name, what, t)                                                       \
    do {                                                                                          \
        fv_status st_ = fv_graph_check_input((g), (name), (what), (t));                           \
        if (st_) return st_;                                                                      \
    } while (0)

static inline fv_status fv_op_require_dtype(fv_graph *g, const char *op, const char *what,
                                            const fv_tensor *t, fv_dtype dtype)
{
    if (t->dtype == dtype) return FV_STATUS_OK;
    char s[96];
    return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT, "%s: %s is %s; it must be %s", op,
                   what, fv_shape_str(t, s, sizeof s), fv_dtype_name(dtype));
}

/* A 1-d launch of n invocations in groups of `local`, spread over a 2-d grid
 * when it exceeds 65535 groups (see fv_linear_id in common.glsl). */
static inline void fv_dispatch_size_1d(fv_dispatch *d, uint64_t n, uint32_t local)
{
    uint64_t groups = (n + local - 1) / local;
    if (groups == 0) groups = 1;
    d->spec[0] = local;
    if (d->nspec < 1) d->nspec = 1;
    d->groups[0] = (uint32_t)(groups < 65535 ? groups : 65535);
    d->groups[1] = (uint32_t)((groups + d->groups[0] - 1) / d->groups[0]);
    d->groups[2] = 1;
}

static inline bool fv_is_cpu_device(const fv_device_info *dev) { return dev->type == FV_DEVICE_TYPE_CPU; }

#endif
