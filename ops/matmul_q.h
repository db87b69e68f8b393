/* Quantised weights (GGUF q8_0 / q4_0 blocks) in matmul and gather_rows:
 * the parts ops/matmul.c and ops/gather.c hand over when a weight or a
 * table is quantised (ops/matmul_q.c). */
#ifndef FOVEA_OPS_MATMUL_Q_H
#define FOVEA_OPS_MATMUL_Q_H

#include "op_common.h"

static inline bool fv_dtype_is_quantized(fv_dtype t) { return t == FV_DTYPE_Q8_0 || t == FV_DTYPE_Q4_0; }

/* Decodes the n values (a multiple of 32) of the blocks at `blocks` to f32. */
void fv_quant_to_f32(fv_dtype dtype, const void *blocks, int64_t n, float *y);

/* Adds Y[M, N] = X[M, K]·W[N, K]ᵀ (+ bias) with W quantised, after
 * fv_op_matmul has checked the arguments; y gets x's leading dimensions and
 * N (ndim, shape). */
fv_status fv_matmul_q_add(fv_graph *g, fv_tensor *x, fv_tensor *w, fv_tensor *bias, int64_t M, int64_t N,
                          int64_t K, int ndim, const int64_t *shape, fv_tensor **y);

#endif
