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

/* element-wise activations; the op is specialisation constant 1 (a switch on
 * a push constant would run every case on SIMD-on-CPU drivers) */
#define FV_UNARY_SCALE 0u
#define FV_UNARY_GELU 1u
#define FV_UNARY_GELU_TANH 2u
#define FV_UNARY_QUICK_GELU 3u
#define FV_UNARY_SILU 4u
FV_STRUCT_BEGIN(fv_pc_unary)
    FV_U32 n;            /* units (of 1, 4 or 8 floats) */
    FV_F32 alpha;        /* scale's factor */
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_unary, 16)

/* y[r, c] = silu(gate[r, c]) * up[r, c]; split: gate and up are the two
 * halves of one row of width 2*cols */
FV_STRUCT_BEGIN(fv_pc_swiglu)
    FV_U32 rows;
    FV_U32 cols;
    FV_U32 split;
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_swiglu, 16)

/* y = softmax(scale * x) over each row's live prefix of columns: the first
 * min(valid, i + offset + 1) columns when causal, else the first `valid`;
 * the other columns (and every column of a row with no live one) are 0. */
FV_STRUCT_BEGIN(fv_pc_softmax)
    FV_U32 rows;         /* rows of this dispatch */
    FV_U32 cols;
    FV_U32 rows_per_batch; /* R: the causal mask uses the row index in its batch */
    FV_F32 scale;
    FV_U32 causal;
    FV_I32 offset;       /* default causal offset (cols - R) */
    FV_I32 offset_slot;  /* parameter slot + 1, or 0 */
    FV_I32 valid_slot;   /* parameter slot + 1, or 0 */
    FV_U32 row0;         /* first row of this dispatch in the whole tensor */
    FV_U32 rows_per_item; /* OpenCL, one row per work-item: rows each owns */
    FV_U32 pad1, pad2;
FV_STRUCT_END(fv_pc_softmax, 48)

/* layernorm / rmsnorm: the kind and which of weight and bias are present
 * are specialisation constants 2 and 3 (FV_NORM_WEIGHT | FV_NORM_BIAS) */
#define FV_NORM_LAYER 0u
#define FV_NORM_RMS 1u
#define FV_NORM_WEIGHT 1u
#define FV_NORM_BIAS 2u
/* rows one subgroup normalises together in the one-row-per-subgroup layout,
 * sharing its reads of weight and bias */
#define FV_NORM_SUBGROUP_ROWS 4u
FV_STRUCT_BEGIN(fv_pc_norm)
    FV_U32 rows;
    FV_U32 cols;
    FV_F32 eps;
    FV_U32 rows_per_item; /* OpenCL, one row per work-item: rows each owns */
FV_STRUCT_END(fv_pc_norm, 16)

/* One matmul dispatch covers a chunk of Y, M rows by N columns:
 *   Y[y_off + m*ldy + n] = sum_k X[x_off + m*K + k] W[w_off + n*K + k] (+ bias[n0 + n])
 * X, W and Y are bound from 256-byte aligned offsets, so x_off, w_off and
 * y_off place the chunk inside its binding (in elements; in 4-wide texels for
 * texel bindings). n0 is the chunk's first column, for the bias. */
FV_STRUCT_BEGIN(fv_pc_matmul)
    FV_U32 M;
    FV_U32 N;
    FV_U32 K;
    FV_U32 ldy;
    FV_U32 n0;
    FV_U32 has_bias;
    FV_U32 x_off;
    FV_U32 w_off;
    FV_U32 y_off;
    FV_U32 pad0, pad1, pad2;
FV_STRUCT_END(fv_pc_matmul, 48)

/* dst[dst_off + Σ i_k dstride_k] = src[src_off + Σ i_k sstride_k] over shape.
 * The linear index is split into i_k with fastdiv.glsl: magic_k and shift_k
 * (two 8-bit shifts) divide by shape_k. */
FV_STRUCT_BEGIN(fv_pc_copy)
    FV_U32 n;
    FV_U32 shape1, shape2, shape3;              /* shape0 follows from n */
    FV_U32 sstride0, sstride1, sstride2, sstride3;
    FV_U32 dstride0, dstride1, dstride2, dstride3;
    FV_U32 src_off;
    FV_U32 dst_off;
    FV_U32 magic1, magic2, magic3;
    FV_U32 shift1, shift2, shift3;
FV_STRUCT_END(fv_pc_copy, 80)

/* y[r, :] = table[index[row0 + r], :], or zeros when that index is not in
 * 0..table_rows-1 */
FV_STRUCT_BEGIN(fv_pc_gather)
    FV_U32 rows;        /* index count of this dispatch */
    FV_U32 cols;        /* elements per row */
    FV_U32 table_rows;
    FV_U32 row0;        /* first index of this dispatch */
FV_STRUCT_END(fv_pc_gather, 16)

/* probe kernels (shaders/probe.comp, shaders/cl/probe.cl): n working
 * invocations; read: count 16-byte elements bound, read by teams of `team`
 * lanes that each walk one contiguous block; fma: the iteration count is in
 * graph parameter slot iters_slot, each chain steps c = c * mul + add */
FV_STRUCT_BEGIN(fv_pc_probe)
    FV_U32 n;
    FV_U32 count;
    FV_U32 team;
    FV_I32 iters_slot;
    FV_F32 mul;
    FV_F32 add;
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_probe, 32)

/* -- attention -- */
/* Fused attention (shaders/attention.comp, shaders/cl/attention.cl). q and
 * out are [batch, nq, hq, d], k and v [batch, nk, hkv, d]; the live key count
 * and the position of query 0 come from parameter slots (slot + 1, 0 = the
 * defaults nk and kv_len - nq). Scores are kept in log2 units: q is scaled by
 * scale·log2(e) and exponentiated with exp2. `stats` says what to write. */
#define FV_ATTN_ROW_STATS 1u /* main pass: (max, sum) of each query row    */
#define FV_ATTN_CLS 2u       /* stats pass: [CLS] row averaged over heads  */
#define FV_ATTN_RECEIVED 4u  /* stats pass: mean over heads and queries    */
#define FV_ATTN_MEAN_KEYS 8u /* stats pass: keys averaged over KV heads    */
#define FV_ATTN_KEY_BIAS 16u /* both passes: add key_bias[b, j]·log2(e) to key j's scores */
FV_STRUCT_BEGIN(fv_pc_attention)
    FV_U32 batch;
    FV_U32 nq;
    FV_U32 nk;           /* key capacity */
    FV_U32 hq;
    FV_U32 hkv;
    FV_U32 d;            /* head size, a multiple of 4 */
    FV_F32 scale_log2;   /* scale · log2(e) */
    FV_U32 causal;
    FV_I32 kv_slot;      /* slot + 1, or 0 */
    FV_I32 qpos_slot;    /* slot + 1, or 0 */
    FV_U32 stats;        /* FV_ATTN_* bits */
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_attention, 48)

/* -- vision -- */
/* patchify (shaders/patchify.comp, shaders/cl/patchify.cl): x [B, C, H, W]
 * to y [B, gh*gw, C*patch_size²]; n counts units of y (1 or 4 floats) */
FV_STRUCT_BEGIN(fv_pc_patchify)
    FV_U32 n;
    FV_U32 channels;
    FV_U32 height;
    FV_U32 width;
    FV_U32 patch_size;
    FV_U32 gh;
    FV_U32 gw;
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_patchify, 32)

/* -- decoder ops -- */
/* RoPE (shaders/rope.comp, shaders/cl/rope.cl): x and y [batch, ntok, heads,
 * dim]. Each token has `units` work items: unit i < pairs rotates pair i in
 * every head, the others copy one pass-through element in every head.
 * Token n of batch b is at position base + n, or base + positions[b·pos_stride
 * + n] when has_positions; base is pos0, or parameter slot pos_slot - 1. */
FV_STRUCT_BEGIN(fv_pc_rope)
    FV_U32 n;            /* work items: batch · ntok · units */
    FV_U32 ntok;
    FV_U32 heads;
    FV_U32 dim;
    FV_U32 pairs;        /* rotary_dim / 2: pairs per head */
    FV_U32 units;        /* pairs + (dim - rotary_dim) */
    FV_U32 interleaved;  /* pairs (2i, 2i+1), else (i, i+pairs) */
    FV_I32 pos0;
    FV_I32 pos_slot;     /* slot + 1, or 0 */
    FV_U32 has_positions;
    FV_U32 pos_stride;   /* 0 for positions [ntok], ntok for [batch, ntok] */
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_rope, 48)

/* KV-cache write (shaders/cache_write.comp, shaders/cl/cache_write.cl): x
 * [batch, ntok, row] into cache [batch, cap, row] at rows pos..pos+ntok-1,
 * counted in units of 1 or 4 32-bit words. One dispatch binds the cache rows
 * [row0, row0 + rows) of the flattened batch·cap rows and writes only the x
 * rows that land there; pos is pos0 or parameter slot pos_slot - 1. */
FV_STRUCT_BEGIN(fv_pc_cache_write)
    FV_U32 n;            /* units of x */
    FV_U32 row_units;    /* units per row */
    FV_U32 ntok;
    FV_U32 cap;
    FV_U32 row0;
    FV_U32 rows;
    FV_I32 pos0;
    FV_I32 pos_slot;     /* slot + 1, or 0 */
FV_STRUCT_END(fv_pc_cache_write, 32)

/* Sampling (shaders/sample.comp, shaders/cl/sample.cl), one struct for its
 * five kernels. Candidates are (key, id) pairs: key is the order-preserving
 * unsigned image of the (penalised) logit. `chunks` workgroups per row each
 * select the best k of `chunk` logits, `per_step` offers per invocation
 * between two checks of the candidate buffer; `limit` is the fill level
 * above which the buffer is cut back to k (see sample.comp). */
#define FV_SAMPLE_BUFFER 1024u /* candidate buffer entries per workgroup */
FV_STRUCT_BEGIN(fv_pc_sample)
    FV_U32 batch;
    FV_U32 vocab;
    FV_U32 chunks;
    FV_U32 chunk;
    FV_U32 k;            /* candidates kept, 1..256 */
    FV_U32 per_step;
    FV_U32 limit;
    FV_U32 greedy;
    FV_U32 penalize;     /* a history marks tokens to penalise */
    FV_F32 penalty;      /* factor for negative logits */
    FV_F32 inv_penalty;  /* factor for the others */
    FV_U32 mask_words;   /* words per row of the history bit mask */
    FV_U32 hist_len;     /* Nh */
    FV_I32 hist_slot;    /* slot + 1 holding the live history length, or 0 */
    FV_F32 inv_temp;
    FV_F32 top_p;        /* 0: off */
    FV_U32 seed_lo;
    FV_U32 seed_hi;
    FV_I32 step_slot;    /* slot + 1 holding the step counter, or 0 */
    FV_U32 blocks;       /* runs per invocation in the top-k pass */
FV_STRUCT_END(fv_pc_sample, 80)

/* -- quantized matmul / matvec (q8_0, q4_0) -- */
/* Y[y_off + m*ldy + n] = Σ_k X[m, k] W[n, k] (+ bias[n0 + n]) for the chunk
 * of M x N outputs one dispatch covers, W in GGUF blocks (shaders/quant.comp,
 * shaders/cl/quant.cl). x_off counts X's units (4-float texels or floats),
 * w_off the bytes from the start of W's binding to the chunk's first row,
 * row_bytes the bytes of one W row (K/32 blocks); w_last is the last 16-byte
 * texel (or 4-byte word) of W's binding, which reads never pass. */
FV_STRUCT_BEGIN(fv_pc_matmul_q)
    FV_U32 M;
    FV_U32 N;
    FV_U32 K;
    FV_U32 ldy;
    FV_U32 n0;
    FV_U32 has_bias;
    FV_U32 x_off;
    FV_U32 w_off;
    FV_U32 y_off;
    FV_U32 row_bytes;
    FV_U32 w_last;
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_matmul_q, 48)

/* -- compression -- */
/* token selection (shaders/select.comp, shaders/cl/select.cl): a keep flag
 * for each of n candidate tokens, read from scores[skip + i]. Candidates
 * already in the prior mask (with mode PRIOR; grown by the 4 grid
 * neighbours with DILATE) are kept and the top (k - their count) of the
 * rest join them; with TILES the grid is cut into tiles_x x tiles_y tiles,
 * k is shared out by each tile's share of the tile scores, and the top of
 * each tile are kept. */
#define FV_SELECT_PRIOR 1u
#define FV_SELECT_DILATE 2u
#define FV_SELECT_TILES 4u
#define FV_SELECT_MAX_TILES 16
FV_STRUCT_BEGIN(fv_pc_select)
    FV_U32 n;
    FV_U32 skip;
    FV_U32 k;
    FV_U32 mode;
    FV_U32 grid_w, grid_h;
    FV_U32 tiles_x, tiles_y;
FV_STRUCT_END(fv_pc_select, 32)

/* flags [n] -> the ascending indices of the set flags, plus `offset`, at
 * out[lead + slot] for slot < k; out[0] = 0 when lead is 1 */
FV_STRUCT_BEGIN(fv_pc_compact)
    FV_U32 n;
    FV_U32 k;
    FV_U32 offset;
    FV_U32 lead;
FV_STRUCT_END(fv_pc_compact, 16)

/* greedy k-center over rows skip .. skip+n-1 of x [rows, dim]; one
 * dispatch covers seed rows [lo, hi) or steps [lo, hi) */
FV_STRUCT_BEGIN(fv_pc_kcenter)
    FV_U32 n;
    FV_U32 skip;
    FV_U32 dim;
    FV_U32 k;
    FV_U32 lo;
    FV_U32 hi;
    FV_U32 pad0, pad1;
FV_STRUCT_END(fv_pc_kcenter, 32)

/* VisionZip's contextual tokens: n candidates (rows skip .. of the keys and
 * hidden states), kc targets, dim = key size (assign) or hidden size (merge) */
FV_STRUCT_BEGIN(fv_pc_vzip)
    FV_U32 n;
    FV_U32 skip;
    FV_U32 dim;
    FV_U32 kc;
FV_STRUCT_END(fv_pc_vzip, 16)

/* dct2d's matrix path (shaders/dct.comp, shaders/cl/dct.cl): y[o, u, t] =
 * Σ_{i < n} m[u, i] x[o, i, t] with x [outer, n, inner], y [outer, rows,
 * inner]; total = outer · rows · inner */
FV_STRUCT_BEGIN(fv_pc_dct)
    FV_U32 total;
    FV_U32 rows;
    FV_U32 n;
    FV_U32 inner;
FV_STRUCT_END(fv_pc_dct, 16)
/* dct2d's VkFFT path (shaders/dct.comp, CROP): y [B, kh·kw, C] is the kept
 * block of the full-grid coefficients w [B, gh, gw, C] times the weights
 * of row u (wh0 for u = 0, else wh) and column v (ww0, ww) */
FV_STRUCT_BEGIN(fv_pc_dct_crop)
    FV_U32 total;
    FV_U32 kh;
    FV_U32 kw;
    FV_U32 gh;
    FV_U32 gw;
    FV_U32 c;
    FV_F32 wh0;
    FV_F32 wh;
    FV_F32 ww0;
    FV_F32 ww;
FV_STRUCT_END(fv_pc_dct_crop, 40)
/* ToMe matching and merging (shaders/tome.comp, shaders/cl/tome.cl): n tokens
 * (na even ones, nb odd), c channels, dk key size, r merges */
FV_STRUCT_BEGIN(fv_pc_tome)
    FV_U32 batch;
    FV_U32 n;
    FV_U32 na;
    FV_U32 nb;
    FV_U32 c;
    FV_U32 dk;
    FV_U32 r;
    FV_U32 protect;      /* token 0 is never merged */
    FV_U32 has_size;     /* 0: every size is 1 */
    FV_U32 pad0;
FV_STRUCT_END(fv_pc_tome, 40)

#endif
