/* Cutting a product Y[M, N] = X[M, K]·W[N, K]ᵀ into dispatches whose
 * bindings fit the device's limits: the part ops/matmul.c (f32 / f16 W) and
 * ops/matmul_q.c (quantised W) share. A caller works out its variant's
 * bytes per row and binding limits, calls fv_mm_split_fit, applies its
 * kernels' own caps on the chunk (workgroup counts), then calls
 * fv_mm_split_finish. */
#ifndef FOVEA_OPS_MATMUL_SPLIT_H
#define FOVEA_OPS_MATMUL_SPLIT_H

#include "op_common.h"

#include <stdlib.h>

static inline uint32_t fv_mm_div_up(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* The largest chunk of mrows x ncols of Y whose bindings fit: xrow, wrow and
 * yrow are the bytes of one row of X, W and Y; xlim, wlim and ylim the most
 * bytes one binding of each may cover; the bias (N floats) is bound whole,
 * from an offset below bind_align. Returns a reason when nothing fits. */
static inline const char *fv_mm_split_fit(int64_t M, int64_t N, uint64_t xrow, uint64_t wrow, uint64_t yrow,
                                          uint64_t xlim, uint64_t wlim, uint64_t ylim, uint64_t bind_align,
                                          int64_t *mrows, int64_t *ncols)
{
    if (xrow > xlim || wrow > wlim || ylim < 4) return "one row of X or W is larger than a binding may be";
    if ((uint64_t)N * 4 > ylim + bind_align) return "the bias is larger than a binding may be";
    /* columns: W rows per chunk, and Y must hold at least one row of them */
    *ncols = (int64_t)FV_MIN((uint64_t)N, FV_MIN(wlim / wrow, ylim / 4));
    /* rows: X rows per chunk, and the Y rows they write */
    *mrows = (int64_t)FV_MIN((uint64_t)M, xlim / xrow);
    *mrows = (int64_t)FV_MIN((uint64_t)*mrows, (ylim - (uint64_t)*ncols * 4) / yrow + 1);
    return NULL;
}

/* Whole 64-row blocks per chunk of a product that had to be cut, at most
 * FOVEA_MATMUL_SPLIT_ROWS rows and columns per chunk when that is set (a
 * test switch), and the chunk counts. Returns a reason when there is no
 * chunk or too many. */
static inline const char *fv_mm_split_finish(int64_t M, int64_t N, int64_t *mrows, int64_t *ncols, int64_t *mchunks,
                                             int64_t *nchunks)
{
    if (*mrows < M && *mrows >= 64) *mrows = *mrows / 64 * 64;
    if (*ncols < N && *ncols >= 64) *ncols = *ncols / 64 * 64;
    const char *s = getenv("FOVEA_MATMUL_SPLIT_ROWS");
    const long long split = s ? atoll(s) : 0;
    if (split > 0) {
        *mrows = FV_MIN(*mrows, (int64_t)split);
        *ncols = FV_MIN(*ncols, (int64_t)split);
    }
    if (*mrows < 1 || *ncols < 1) return "no chunk of the product fits the device's binding limits";
    *mchunks = (M + *mrows - 1) / *mrows;
    *nchunks = (N + *ncols - 1) / *ncols;
    if (*mchunks * *nchunks > FV_MAX_DISPATCHES_PER_NODE) return "the product needs more dispatches than one node may hold";
    return NULL;
}

#endif
