/* Helpers shared by the element-wise, softmax, norm and copy tests. */
#ifndef FOVEA_TEST_TH_UTIL_H
#define FOVEA_TEST_TH_UTIL_H

#include "../runtime/internal.h"
#include "harness.h"

/* Test-only access to a context's reported device limits: shrinking the
 * storage-binding range makes small tensors take the paths that split a
 * large tensor into several dispatches. Returns the previous limit. */
static inline uint64_t th_set_storage_limit(const th_backend *b, uint64_t bytes)
{
    uint64_t old = b->ctx->info.max_storage_range;
    b->ctx->info.max_storage_range = bytes;
    return old;
}

static inline bool th_is_cpu_backend(const th_backend *b)
{
    return fv_context_backend(b->ctx) == FV_BACKEND_CPU;
}

/* Records (if needed) and replays g. An op the backend reports as
 * unsupported is counted as skipped, as th_run_and_fetch does. */
static inline bool th_replay(th_runner *r, const th_backend *b, const char *name, fv_graph *g)
{
    fv_status st = fv_graph_replay(g);
    if (st == FV_STATUS_UNSUPPORTED) {
        r->skipped++;
        printf("skip %-7s %-44s %s\n", b->name, name, fv_context_last_error(b->ctx));
        return false;
    }
    return th_ok(r, b, name, st);
}

#endif
