/* Push-constant blocks, declared once for C, GLSL and OpenCL C. Each struct's
 * size is checked on the C side; GLSL sees the same std430-compatible layout
 * (only 32-bit scalars, no vectors, so C and std430 agree member by member),
 * and OpenCL kernels take the same struct by value as their last argument. */
#ifndef FV_PARAMS_H
#define FV_PARAMS_H

#ifdef VULKAN
#define FV_U32 uint
#define FV_I32 int
#define FV_F32 float
#define FV_STRUCT_BEGIN(name) struct name {
#define FV_STRUCT_END(name, bytes) };
#elif defined(__OPENCL_C_VERSION__)
#define FV_U32 uint
#define FV_I32 int
#define FV_F32 float
#define FV_STRUCT_BEGIN(name) typedef struct name {
#define FV_STRUCT_END(name, bytes) } name;
#else
#include <stdint.h>
#define FV_U32 uint32_t
#define FV_I32 int32_t
#define FV_F32 float
#define FV_STRUCT_BEGIN(name) typedef struct name {
#define FV_STRUCT_END(name, bytes)                                                                 \
    }                                                                                              \
    name;                                                                                          \
    _Static_assert(sizeof(name) == (bytes), #name " must be " #bytes " bytes");
#endif

/* The graph's parameter buffer: FV_PARAM_SLOTS ints at binding 0 */
#define FV_PARAM_SLOTS 16

/* element-wise a ∘ b with broadcasting: strides are 0 on broadcast dims */
#define FV_BINARY_ADD 0u
#define FV_BINARY_MUL 1u
FV_STRUCT_BEGIN(fv_pc_binary)
    FV_U32 n;            /* output elements */
    FV_U32 op;
    FV_U32 shape0, shape1, shape2, shape3;          /* output shape, 4-d */
    FV_U32 astride0, astride1, astride2, astride3;  /* element strides */
    FV_U32 bstride0, bstride1, bstride2, bstride3;
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_binary, 64)

#define FV_UNARY_SCALE 0u
#define FV_UNARY_GELU 1u
#define FV_UNARY_GELU_TANH 2u
#define FV_UNARY_QUICK_GELU 3u
#define FV_UNARY_SILU 4u
FV_STRUCT_BEGIN(fv_pc_unary)
    FV_U32 n;
    FV_U32 op;
    FV_F32 alpha;
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_unary, 16)

/* y[r, c] = silu(gate[r, c]) * up[r, c]; split: gate and up are the two
 * halves of one row of width 2*cols */
FV_STRUCT_BEGIN(fv_pc_swiglu)
    FV_U32 rows;
    FV_U32 cols;
    FV_U32 split;
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_swiglu, 16)

FV_STRUCT_BEGIN(fv_pc_softmax)
    FV_U32 rows;         /* all rows, batches included */
    FV_U32 cols;
    FV_U32 rows_per_batch; /* R: the causal mask uses the row index in its batch */
    FV_F32 scale;
    FV_U32 causal;
    FV_I32 offset;       /* default causal offset (cols - R) */
    FV_I32 offset_slot;  /* parameter slot + 1, or 0 */
    FV_I32 valid_slot;   /* parameter slot + 1, or 0 */
FV_STRUCT_END(fv_pc_softmax, 32)

#define FV_NORM_LAYER 0u
#define FV_NORM_RMS 1u
FV_STRUCT_BEGIN(fv_pc_norm)
    FV_U32 rows;
    FV_U32 cols;
    FV_F32 eps;
    FV_U32 kind;
    FV_U32 has_weight;
    FV_U32 has_bias;
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_norm, 32)

/* Y[m, n0 + n] = sum_k X[m, k] W[n, k] (+ bias[n0 + n]) for n < N, the W rows
 * bound for this dispatch; ldy is Y's row length. */
FV_STRUCT_BEGIN(fv_pc_matmul)
    FV_U32 M;
    FV_U32 N;
    FV_U32 K;
    FV_U32 ldy;
    FV_U32 n0;
    FV_U32 has_bias;
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_matmul, 32)

/* dst[dst_off + Σ i_k dstride_k] = src[src_off + Σ i_k sstride_k] over shape */
FV_STRUCT_BEGIN(fv_pc_copy)
    FV_U32 n;
    FV_U32 shape1, shape2, shape3;              /* shape0 follows from n */
    FV_U32 sstride0, sstride1, sstride2, sstride3;
    FV_U32 dstride0, dstride1, dstride2, dstride3;
    FV_U32 src_off;
    FV_U32 dst_off;
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_copy, 64)

FV_STRUCT_BEGIN(fv_pc_gather)
    FV_U32 rows;        /* index count */
    FV_U32 cols;        /* elements per row */
    FV_U32 table_rows;
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_gather, 16)

#endif
