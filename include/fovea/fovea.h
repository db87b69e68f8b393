/* fovea — portable GPU compute for vision-language models.
 *
 * The public C API. Every fallible call returns an fv_status; the detailed
 * message of the last failure is kept per context (fv_context_last_error).
 * Handles are opaque; every *_create has a *_destroy that accepts NULL.
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_FOVEA_H
#define FOVEA_FOVEA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(FOVEA_BUILD_SHARED)
#define FV_API __declspec(dllexport)
#elif defined(__GNUC__)
#define FV_API __attribute__((visibility("default")))
#else
#define FV_API
#endif

#define FOVEA_VERSION_MAJOR 0
#define FOVEA_VERSION_MINOR 1
#define FOVEA_VERSION_PATCH 0

/* ---- status ----------------------------------------------------------- */

typedef enum fv_status {
    FV_STATUS_OK = 0,
    FV_STATUS_INVALID_ARGUMENT,      /* bad shape, dtype, index or value  */
    FV_STATUS_OUT_OF_HOST_MEMORY,
    FV_STATUS_OUT_OF_DEVICE_MEMORY,
    FV_STATUS_BACKEND_UNAVAILABLE,   /* no loader, no driver, no device   */
    FV_STATUS_UNSUPPORTED,           /* the backend lacks an op / feature */
    FV_STATUS_DEVICE_LOST,
    FV_STATUS_IO_ERROR,
    FV_STATUS_BACKEND_ERROR,         /* any other driver failure          */
    FV_STATUS_INVALID_STATE,         /* e.g. replay before record         */
    FV_STATUS_COUNT_
} fv_status;

/* Static string such as "FV_STATUS_INVALID_ARGUMENT". Never NULL. */
FV_API const char *fv_status_name(fv_status status);

/* ---- dtypes ----------------------------------------------------------- */

typedef enum fv_dtype {
    FV_DTYPE_F32 = 0,
    FV_DTYPE_F16,
    FV_DTYPE_BF16,
    FV_DTYPE_Q8_0, /* GGUF block: f16 scale + 32 int8 (34 bytes per 32)   */
    FV_DTYPE_Q4_0, /* GGUF block: f16 scale + 16 bytes of nibbles (18/32) */
    FV_DTYPE_I32,
    FV_DTYPE_COUNT_
} fv_dtype;

FV_API const char *fv_dtype_name(fv_dtype dtype);
/* Elements per block (1 for plain types, 32 for q8_0/q4_0) and bytes per block. */
FV_API int fv_dtype_block_size(fv_dtype dtype);
FV_API size_t fv_dtype_block_bytes(fv_dtype dtype);

/* ---- context ---------------------------------------------------------- */

typedef enum fv_backend_type {
    FV_BACKEND_AUTO = 0, /* FOVEA_DEVICE if set, else Vulkan, else OpenCL, else CPU */
    FV_BACKEND_CPU,
    FV_BACKEND_VULKAN,
    FV_BACKEND_OPENCL,
    FV_BACKEND_COUNT_
} fv_backend_type;

FV_API const char *fv_backend_name(fv_backend_type backend);

typedef enum fv_log_level {
    FV_LOG_DEBUG = 0,
    FV_LOG_INFO,
    FV_LOG_WARN,
    FV_LOG_ERROR
} fv_log_level;

typedef void (*fv_log_fn)(fv_log_level level, const char *message, void *user_data);

typedef struct fv_context fv_context;

/* Zero-initialised means: auto backend, device from FOVEA_DEVICE or the
 * first one, warnings and errors to stderr, no validation, profiling from
 * FOVEA_PROFILE. */
typedef struct fv_context_desc {
    fv_backend_type backend;
    int device_index;          /* 0 = first; used when device_name is NULL  */
    const char *device_name;   /* substring of the device name, or NULL     */
    bool validation;           /* Vulkan: enable VK_LAYER_KHRONOS_validation */
    bool profile;              /* per-op timing table on each replay        */
    fv_log_fn log;             /* NULL: warnings and errors go to stderr    */
    void *log_user_data;
    fv_log_level log_level;    /* minimum level passed to log               */
    const char *cache_dir;     /* NULL: $XDG_CACHE_HOME/fovea or ~/.cache/fovea */
    bool no_disk_cache;        /* never read or write pipeline caches       */
} fv_context_desc;

/* Parses a device string as FOVEA_DEVICE accepts it: "cpu", "vulkan",
 * "vulkan:1", "vulkan:llvmpipe", "opencl:0". Fills backend, device_index
 * and device_name (pointing into `spec`). */
FV_API fv_status fv_context_desc_parse_device(fv_context_desc *desc, const char *spec);

/* Creates a context on one device. On failure *out is NULL and, where
 * `error`/`error_size` are given, the reason is written there. */
FV_API fv_status fv_context_create(const fv_context_desc *desc, fv_context **out,
                                   char *error, size_t error_size);
FV_API void fv_context_destroy(fv_context *ctx);
/* The message of the last failed call on this context ("" if none). */
FV_API const char *fv_context_last_error(const fv_context *ctx);
FV_API fv_backend_type fv_context_backend(const fv_context *ctx);

typedef enum fv_device_type {
    FV_DEVICE_TYPE_OTHER = 0,
    FV_DEVICE_TYPE_INTEGRATED_GPU,
    FV_DEVICE_TYPE_DISCRETE_GPU,
    FV_DEVICE_TYPE_VIRTUAL_GPU,
    FV_DEVICE_TYPE_CPU
} fv_device_type;

typedef struct fv_device_info {
    fv_backend_type backend;
    fv_device_type type;
    char name[256];
    char driver[256];          /* driver name and version                   */
    char api_version[32];
    uint64_t memory_bytes;     /* the largest device-local heap             */
    uint64_t max_alloc_bytes;
    uint64_t max_storage_range;/* largest range one binding may cover       */
    uint64_t max_texel_elements; /* texels one texel-buffer binding may cover */
    uint32_t max_workgroup_invocations;
    uint32_t shared_memory_bytes;
    uint32_t subgroup_size;    /* 0 where unknown / none                    */
    bool subgroup_arithmetic;
    bool subgroup_shuffle;
    bool fp16_arithmetic;
    bool storage_16bit;
    bool storage_8bit;
    bool shader_int64;         /* 64-bit integers in kernels                */
    bool int8_dot_product;
    bool cooperative_matrix;
    bool unified_memory;       /* device memory the host can map directly   */
} fv_device_info;

FV_API fv_status fv_context_device_info(const fv_context *ctx, fv_device_info *info);

/* Enumerates the devices of one backend without creating a context.
 * Writes up to `capacity` entries, sets *count to the number present. */
FV_API fv_status fv_backend_list_devices(fv_backend_type backend, fv_device_info *infos,
                                         int capacity, int *count,
                                         char *error, size_t error_size);

/* ---- tensors ---------------------------------------------------------- */

#define FV_MAX_DIMS 4

typedef struct fv_tensor fv_tensor;

/* A tensor in device memory, row-major with the last dimension contiguous.
 * Owned by the caller; destroy it after every graph using it. For q8_0 and
 * q4_0 the last dimension must be a multiple of 32. */
FV_API fv_status fv_tensor_create(fv_context *ctx, fv_dtype dtype, int ndim,
                                  const int64_t *shape, fv_tensor **out);
FV_API void fv_tensor_destroy(fv_tensor *t);
/* Copies exactly fv_tensor_nbytes(t) bytes from the host. */
/* A tensor sharing t's memory (same dtype and shape) that belongs to no
 * graph, so that another graph can read what t's graph wrote — an encoder's
 * output as the input of a compression or projector graph — with no copy.
 * t must have memory (fv_tensor_create, or a graph tensor after its graph
 * was planned) and must outlive the alias; the alias sees whatever t holds
 * when a graph reading it replays. Free it with fv_tensor_destroy (the
 * memory stays t's). */
FV_API fv_status fv_tensor_alias(const fv_tensor *t, fv_tensor **out);
FV_API fv_status fv_tensor_upload(fv_tensor *t, const void *src, size_t bytes);
/* Copies exactly fv_tensor_nbytes(t) bytes to the host. Graph tensors are
 * readable after a replay when they were marked with fv_graph_output. */
FV_API fv_status fv_tensor_download(const fv_tensor *t, void *dst, size_t bytes);

FV_API fv_dtype fv_tensor_dtype(const fv_tensor *t);
FV_API int fv_tensor_ndim(const fv_tensor *t);
FV_API int64_t fv_tensor_dim(const fv_tensor *t, int i); /* i < 0 counts from the end */
FV_API int64_t fv_tensor_numel(const fv_tensor *t);
FV_API size_t fv_tensor_nbytes(const fv_tensor *t);

/* ---- graphs ----------------------------------------------------------- */

typedef struct fv_graph fv_graph;

/* A graph is built from op nodes over tensors, planned once (intermediate
 * memory assigned by lifetime), recorded once and replayed many times.
 * Tensors returned by fv_op_* are owned by the graph. */
FV_API fv_status fv_graph_create(fv_context *ctx, fv_graph **out);
FV_API void fv_graph_destroy(fv_graph *g);

/* Keeps `t` alive to the end of the graph so it can be downloaded. */
FV_API fv_status fv_graph_output(fv_graph *g, fv_tensor *t);

/* Per-replay values read by kernels from the graph's parameter buffer
 * (a decode position, a live length). Slots 0..FV_GRAPH_PARAM_SLOTS-1. */
#define FV_GRAPH_PARAM_SLOTS 16
FV_API fv_status fv_graph_set_param(fv_graph *g, int slot, int32_t value);

/* Assigns memory to intermediates. Optional: record plans if needed. */
FV_API fv_status fv_graph_plan(fv_graph *g);
/* Bytes of the arena that holds all intermediates (after plan). */
FV_API size_t fv_graph_arena_bytes(const fv_graph *g);
/* Bytes the intermediates would take without reuse (after plan). */
FV_API size_t fv_graph_naive_bytes(const fv_graph *g);
FV_API int fv_graph_node_count(const fv_graph *g);
/* Builds the command buffer (or launch list). Optional: replay records if needed. */
FV_API fv_status fv_graph_record(fv_graph *g);
/* Submits the recorded work with the current parameters and waits. */
FV_API fv_status fv_graph_replay(fv_graph *g);

/* Timing of the last replay, when the context profiles (desc.profile or
 * FOVEA_PROFILE=1). Returns the node count written. */
typedef struct fv_node_timing {
    const char *op;       /* op name                         */
    const char *kernel;   /* kernel variant that ran         */
    double ms;
} fv_node_timing;
FV_API int fv_graph_timings(const fv_graph *g, fv_node_timing *out, int capacity);
/* Wall time of the last replay, submit to completion, in milliseconds. */
FV_API double fv_graph_last_replay_ms(const fv_graph *g);

/* ---- ops ---------------------------------------------------------------
 * Each builder checks shapes and dtypes (FV_STATUS_INVALID_ARGUMENT naming
 * the op and the shapes), adds a node and returns its output tensor.
 * Activations are f32; weights may be f32 or f16. */

/* Y[..., N] = X[..., K] · W[N, K]ᵀ (+ bias[N]). W: f32, f16, or q8_0 / q4_0
 * (GGUF blocks, K a multiple of 32, decoded inside the kernels). */
FV_API fv_status fv_op_matmul(fv_graph *g, fv_tensor *x, fv_tensor *w, fv_tensor *bias,
                              fv_tensor **y);
/* Element-wise with numpy broadcasting (shapes aligned at the right). */
FV_API fv_status fv_op_add(fv_graph *g, fv_tensor *a, fv_tensor *b, fv_tensor **y);
FV_API fv_status fv_op_mul(fv_graph *g, fv_tensor *a, fv_tensor *b, fv_tensor **y);
FV_API fv_status fv_op_scale(fv_graph *g, fv_tensor *x, float s, fv_tensor **y);
FV_API fv_status fv_op_gelu(fv_graph *g, fv_tensor *x, fv_tensor **y);      /* erf form  */
FV_API fv_status fv_op_gelu_tanh(fv_graph *g, fv_tensor *x, fv_tensor **y); /* tanh form */
FV_API fv_status fv_op_quick_gelu(fv_graph *g, fv_tensor *x, fv_tensor **y);/* x·σ(1.702x) */
FV_API fv_status fv_op_silu(fv_graph *g, fv_tensor *x, fv_tensor **y);
/* silu(x[..., :N]) · x[..., N:] for x[..., 2N], or silu(gate) · up for two tensors. */
FV_API fv_status fv_op_swiglu(fv_graph *g, fv_tensor *gate, fv_tensor *up, fv_tensor **y);

/* Row softmax over the last dimension of x[..., R, C]:
 *   y = softmax(scale · x + mask)
 * causal: column j of row i is masked when j > i + offset, where offset is
 * C - R, or the value of graph parameter slot `offset_param` when it is > 0
 * (slot number + 1; 0 = none). `valid_cols_param` likewise names a slot
 * whose value limits the live columns (a KV cache's length; clamped to
 * 0..C); 0 = all. Slot values are read at each replay. Masked columns get
 * probability 0, and a row whose columns are all masked is all zeros (never
 * NaN). x is f32; i counts rows within each R-row batch. */
typedef struct fv_softmax_desc {
    float scale;          /* 0 means 1 */
    bool causal;
    int offset_param;     /* slot + 1, or 0 */
    int valid_cols_param; /* slot + 1, or 0 */
} fv_softmax_desc;
FV_API fv_status fv_op_softmax(fv_graph *g, fv_tensor *x, const fv_softmax_desc *desc,
                               fv_tensor **y);
/* Normalisation over the last dimension. weight/bias may be NULL. */
FV_API fv_status fv_op_layernorm(fv_graph *g, fv_tensor *x, fv_tensor *weight,
                                 fv_tensor *bias, float eps, fv_tensor **y);
FV_API fv_status fv_op_rmsnorm(fv_graph *g, fv_tensor *x, fv_tensor *weight, float eps,
                               fv_tensor **y);

/* Materialised copy of x (f32 or f16) with dimensions reordered:
 * y.shape[i] = x.shape[perm[i]]. fv_op_convert is the same copy without
 * reordering, to another dtype (f32 <-> f16, rounding to nearest even). */
FV_API fv_status fv_op_permute(fv_graph *g, fv_tensor *x, const int *perm, fv_tensor **y);
FV_API fv_status fv_op_transpose(fv_graph *g, fv_tensor *x, int dim0, int dim1, fv_tensor **y);
FV_API fv_status fv_op_convert(fv_graph *g, fv_tensor *x, fv_dtype dtype, fv_tensor **y);
/* A view with a new shape over the same memory (no kernel). numel must match. */
FV_API fv_status fv_op_reshape(fv_graph *g, fv_tensor *x, int ndim, const int64_t *shape,
                               fv_tensor **y);
/* y[i, ...] = table[index[i], ...]; index is i32 [n], table [rows, ...] in
 * f32, f16, q8_0 or q4_0; y is f32. An index out of range reads as zeros
 * (and never out of bounds). */
FV_API fv_status fv_op_gather_rows(fv_graph *g, fv_tensor *table, fv_tensor *index,
                                   fv_tensor **y);
/* Concatenation of a and b (same dtype, f32 or f16; same shape but for
 * `dim`) along `dim`; a negative dim counts from the end. */
FV_API fv_status fv_op_concat(fv_graph *g, fv_tensor *a, fv_tensor *b, int dim, fv_tensor **y);

/* Fused scaled-dot-product attention, out = softmax(scale · Q·Kᵀ + mask) · V,
 * one kernel pass with an online softmax: the [Nq × Nk] score matrix is
 * never stored.
 *
 * q [B, Nq, Hq, D]; k and v [B, Nk, Hkv, D] (token-major: the layout a
 * matmul's output reshapes to without copies); Hq % Hkv == 0, query head h
 * reading KV head h / (Hq / Hkv) (grouped-query attention); out is
 * [B, Nq, Hq, D]. All f32. Any D works on the CPU backend; the GPU kernels
 * take D % 4 == 0 and D <= 128 and report other head sizes as unsupported.
 *
 * Live keys: kv_len = Nk, or the value of graph parameter slot
 * kv_len_param - 1 clamped to [0, Nk] (a KV cache of capacity Nk). Query i
 * sees keys j < kv_len and, when causal, j <= q_pos + i, where q_pos is the
 * absolute position of query 0: the value of slot q_pos_param - 1, or
 * kv_len - Nq. A query that sees no key gets a zero output row. Changing the
 * slot values between replays needs no new recording.
 *
 * Statistics for token compression, written by the same node when their
 * bit is set in `stats` (each [B, Nk]; positions j >= kv_len are 0):
 *   cls_attention  the attention row of query 0 (the [CLS] token of a ViT),
 *                  averaged over the Hq heads;
 *   received       the attention each key receives, averaged over the Hq
 *                  heads and all Nq queries (rows that see no key count as
 *                  zeros);
 *   mean_keys      [B, Nk, D]: the keys averaged over the Hkv heads.
 * They are exact (computed from the final softmax normalisers), not sums
 * of the running estimates of the online softmax.
 *
 * key_bias (optional) [B, Nk] f32 is added to every score of key j before
 * the softmax, softmax(scale · q·k_j + key_bias[b, j]), in the main pass and
 * in the statistics: ToMe's proportional attention passes log(size_j). */
#define FV_ATTENTION_STAT_CLS       (1u << 0)
#define FV_ATTENTION_STAT_RECEIVED  (1u << 1)
#define FV_ATTENTION_STAT_MEAN_KEYS (1u << 2)

typedef struct fv_attention_desc {
    float scale;      /* 0: 1/sqrt(D)                                        */
    bool causal;      /* query i sees keys j <= q_pos + i                    */
    int kv_len_param; /* slot + 1 holding the live number of keys; 0 = all   */
    int q_pos_param;  /* slot + 1 holding the position of query 0; 0 = kv_len - Nq */
    unsigned stats;   /* FV_ATTENTION_STAT_* bits: which statistics to write */
    fv_tensor *key_bias; /* [B, Nk] added to key j's scores, or NULL           */
} fv_attention_desc;

/* The tensors one attention node produces, owned by the graph; a statistic
 * not asked for is NULL. */
typedef struct fv_attention_result {
    fv_tensor *out;           /* [B, Nq, Hq, D]                                    */
    fv_tensor *cls_attention; /* [B, Nk]: row 0 of the probabilities, mean over heads */
    fv_tensor *received;      /* [B, Nk]: mean over heads and queries                 */
    fv_tensor *mean_keys;     /* [B, Nk, D]: keys averaged over the KV heads          */
} fv_attention_result;

/* desc may be NULL (all defaults: not causal, all keys, no statistics). */
FV_API fv_status fv_op_attention(fv_graph *g, fv_tensor *q, fv_tensor *k, fv_tensor *v,
                                 const fv_attention_desc *desc, fv_attention_result *res);

/* -- vision -- */
/* The im2col of a ViT patch embedding: image [B, C, H, W] (f32) cut into
 * p x p patches, row-major over the (H/p) x (W/p) grid, each flattened in
 * (channel, row, column) order:
 *   y[b, py*(W/p) + px, c*p*p + ky*p + kx] = image[b, c, py*p + ky, px*p + kx]
 * y is [B, (H/p)*(W/p), C*p*p]; y · W[D, C*p*p]ᵀ is then Conv2d(C, D, p,
 * stride p) with its kernel [D, C, p, p] read as [D, C*p*p]. Pixels past
 * the last whole patch are dropped, as the strided convolution drops them. */
FV_API fv_status fv_op_patchify(fv_graph *g, fv_tensor *image, int patch, fv_tensor **y);

/* -- decoder ops -- */
/* Rotary position embedding (RoPE) of x [B, N, H, D] (f32), y the same shape.
 *
 * Token n of batch b sits at position p = base + n, or base + positions[n]
 * (positions [N]) or base + positions[b, n] (positions [B, N]) when an i32
 * positions tensor is given, e.g. for visual tokens that keep their original
 * grid positions after compression. base is pos0, or the value of graph
 * parameter slot pos_param - 1 read at each replay (a decode position).
 *
 * The first rotary_dim elements of each head are rotated in pairs, pair i
 * (0 <= i < rotary_dim/2) by the angle p·inv_freq[i]; the rest pass through.
 *   FV_ROPE_HALF        pairs (i, i + rotary_dim/2): Hugging Face Llama,
 *                       Qwen2 ("rotate_half");
 *   FV_ROPE_INTERLEAVED pairs (2i, 2i + 1): GGUF / Meta checkpoints.
 * (y_a, y_b) = (x_a·cos − x_b·sin, x_b·cos + x_a·sin).
 *
 * inv_freq[i] = 1 / theta^(2i / rotary_dim) computed on the host in f32 as
 * Hugging Face does, or taken from an f32 tensor [rotary_dim/2] (for scaled
 * variants such as Llama 3's, computed by the caller). The angle is the f32
 * product p·inv_freq[i], as in Hugging Face; its sine and cosine are then
 * computed to ~1e-7 for |angle| < 2^17·π/2 (positions up to ~200k), so the
 * kernels follow the f32 reference at any position. Against an exact (f64)
 * rotation the f32 angle itself is off by up to ~2e-7·p radians (rounding of
 * inv_freq and of the product), 7e-3 at p = 32k: that is Hugging Face's
 * behaviour too. Positions must be below 2^24 in magnitude (exact in f32). */
typedef enum fv_rope_layout {
    FV_ROPE_HALF = 0,
    FV_ROPE_INTERLEAVED
} fv_rope_layout;

typedef struct fv_rope_desc {
    float theta;           /* frequency base (config rope_theta); 0 = 10000      */
    int rotary_dim;        /* even, <= D; 0 = D                                   */
    fv_rope_layout layout;
    int pos0;              /* base position when pos_param is 0                   */
    int pos_param;         /* slot + 1 holding the base position; 0 = pos0        */
    fv_tensor *positions;  /* i32 [N] or [B, N], or NULL (positions 0..N-1)       */
    fv_tensor *inv_freq;   /* f32 [rotary_dim / 2], or NULL (from theta)          */
} fv_rope_desc;

/* desc may be NULL (theta 10000, full rotary, rotate-half, positions 0..N-1). */
FV_API fv_status fv_op_rope(fv_graph *g, fv_tensor *x, const fv_rope_desc *desc, fv_tensor **y);

/* KV-cache write: copies the N rows of x [B, N, Hkv, D] into cache
 * [B, Ncap, Hkv, D] (both f32, or both i32: e.g. sampled tokens appended to
 * fv_op_sample's history, reshaped to [B, Nh, 1, 1]) at rows
 * pos .. pos + N - 1 of each batch, in place. pos is the value of graph parameter slot pos_param - 1 at replay
 * time (so one recorded decode graph serves every step), or `pos` when
 * pos_param is 0. Rows whose target pos + n lies outside 0..Ncap-1 are
 * skipped: nothing is written out of bounds, and the other rows are still
 * written.
 *
 * cache must be a tensor made by fv_tensor_create (or a reshape of one); it
 * is not copied. *view is a graph tensor with cache's shape aliasing its
 * memory: nodes that read *view (e.g. attention over the cache with a
 * kv_len_param) run after the write. Nodes that read the cache tensor
 * itself are ordered as they were added. */
FV_API fv_status fv_op_cache_write(fv_graph *g, fv_tensor *cache, fv_tensor *x, int pos, int pos_param,
                                   fv_tensor **view);

/* Token sampling from logits [B, V] (f32) into token [B] (i32), on the
 * device: only the chosen ids need to go back to the host.
 *
 * Order of operations, as in Hugging Face's generate():
 *   1. repetition penalty: for each distinct id in the live part of
 *      `history` (i32 [B, Nh]; entries outside 0..V-1 are ignored), a logit
 *      l < 0 becomes l·penalty, otherwise l·(1/penalty) (the float
 *      reciprocal, so that every backend rounds alike);
 *   2. greedy (temperature <= 0 or top_k == 1): the largest logit, ties to
 *      the lowest id. Otherwise:
 *   3. candidates: the top_k largest logits (at most
 *      FV_SAMPLE_MAX_CANDIDATES = 256; top_k = 0 means 256), ties broken
 *      toward the lowest id (Hugging Face keeps every tie of the k-th),
 *      NaN below everything. Tokens outside the candidates are never drawn:
 *      with top_k = 0 this truncates the distribution at rank 256, a
 *      deviation from sampling over the whole vocabulary;
 *   4. weights w_r = exp((l_r − l_0)/temperature) over the candidates in
 *      order (l_0 the largest), computed as (l_r·(1/T)) − (l_0·(1/T));
 *   5. top-p (nucleus, 0 < top_p < 1): keep the shortest prefix of the
 *      candidates whose weight reaches top_p of the candidates' total (so,
 *      as in Hugging Face when top_k is set, the nucleus is taken from the
 *      top-k renormalised distribution; with top_k = 0 it is taken among the
 *      256 best);
 *   6. draw: u in [0, 1) from Philox-4x32-10 (Salmon et al., SC 2011) with
 *      key = seed and counter = (step, b, 0, 0), u = (word 0 >> 8)·2^-24;
 *      the token is the first kept candidate whose running weight sum
 *      exceeds u times the kept total.
 * Steps 4-6 use only correctly rounded float operations in a fixed order
 * (exp is a polynomial), so every backend draws the same id for the same
 * seed and step. step is the value of slot step_param - 1 at each replay
 * (0 when step_param is 0): replaying with a new step gives a new draw
 * without re-recording. */
#define FV_SAMPLE_MAX_CANDIDATES 256

typedef struct fv_sample_desc {
    float temperature;        /* <= 0: greedy                                      */
    int top_k;                /* 0..256; 0 = 256                                   */
    float top_p;              /* 0 or >= 1: off                                    */
    float repetition_penalty; /* 0 or 1: off; otherwise > 0                        */
    fv_tensor *history;       /* i32 [B, Nh] ids seen so far, or NULL              */
    int history_len_param;    /* slot + 1 holding the live length of history;
                                 0 = Nh. Clamped to 0..Nh                          */
    uint64_t seed;
    int step_param;           /* slot + 1 holding the step counter; 0 = step 0     */
} fv_sample_desc;

/* desc may be NULL: greedy. */
FV_API fv_status fv_op_sample(fv_graph *g, fv_tensor *logits, const fv_sample_desc *desc, fv_tensor **token);

/* -- compression -- */
/* Order-preserving top-k: the indices of the k largest of scores (f32 [n]
 * or [1, n]) in ascending index order, i32 [k]; equal scores go to the
 * lower index, so every backend selects the same. 0 < k <= n. */
FV_API fv_status fv_op_topk(fv_graph *g, fv_tensor *scores, int k, fv_tensor **indices);
/* Greedy k-center on cosine distance d(i, j) = 1 - <x_i, x_j> / (|x_i| |x_j|)
 * over the rows of x (f32 [n, D] or [1, n, D]), DivPrune's rule: the first
 * pick is the row whose nearest other row is farthest; each further pick is
 * the row whose distance to the nearest picked row is largest (ties to the
 * lower index). indices i32 [k], ascending. 0 < k <= n; the GPU kernels
 * report very large n x k x D as unsupported. */
FV_API fv_status fv_op_kcenter(fv_graph *g, fv_tensor *x, int k, fv_tensor **indices);
/* Orthonormal 2D DCT-II over a grid of tokens (Fourier-VLM's low-pass):
 * x [B, grid_h·grid_w, C] f32, the tokens of a grid_h x grid_w patch grid in
 * row-major order; y [B, keep_h·keep_w, C] holds, per batch and channel, the
 * coefficients (u, v) with u < keep_h, v < keep_w in row-major order of
 *   Y[u, v] = Σ_i Σ_j a(u, grid_h) a(v, grid_w) cos(π(2i+1)u / 2grid_h)
 *             cos(π(2j+1)v / 2grid_w) X[i, j],  a(0, n) = √(1/n), a(k>0, n) = √(2/n)
 * (scipy.fft.dctn(norm='ortho') over the two grid axes, cropped). On GPU
 * backends it runs as two small matrix products or through VkFFT, chosen
 * per device and shape (FOVEA_DCT_PATH=matrix|vkfft forces one); the node's
 * kernel name in the profile says which ran. */
FV_API fv_status fv_op_dct2d(fv_graph *g, fv_tensor *x, int grid_h, int grid_w, int keep_h, int keep_w,
                             fv_tensor **y);
/* The path dct2d takes on this context for a batch of 1 of that shape:
 * "cpu", "matrix" or "vkfft" (FOVEA_DCT_PATH and the device considered;
 * the first ask of a shape may time both paths). Never NULL. */
FV_API const char *fv_dct2d_path(fv_context *ctx, int grid_h, int grid_w, int keep_h, int keep_w, int channels);

/* One step of ToMe's token merging (Bolya et al., ICLR 2023): bipartite
 * soft matching on keys, r merges by size-weighted mean.
 * x [B, N, C] hidden states, keys [B, N, Dk] (e.g. the attention's mean
 * keys), size [B, N] each token's size (NULL: all 1). Tokens split into A
 * (even indices) and B (odd); each a is joined to the b whose key is most
 * similar (cosine; ties to the lower b); the r most similar pairs (ties to
 * the lower a) merge a into b: y_b = Σ size·x / Σ size, sizes add. With
 * `protect`, token 0 ([CLS]) is never merged. 0 <= r <= (N - protect) / 2.
 * Output order (ToMe's): the unmerged A tokens in order, then all B tokens
 * in order, so token 0 stays first. */
typedef struct fv_tome_result {
    fv_tensor *x;    /* [B, N - r, C]                                       */
    fv_tensor *size; /* [B, N - r] f32: the sizes after merging              */
    fv_tensor *log_size; /* [B, N - r] f32: log(size), the next attention's key_bias */
    fv_tensor *dest; /* [B, N] i32: the output row each input token went to */
} fv_tome_result;
FV_API fv_status fv_op_tome(fv_graph *g, fv_tensor *x, fv_tensor *keys, fv_tensor *size, int r, bool protect,
                            fv_tome_result *res);

/* ---- device ceilings ---------------------------------------------------
 * The limits of one device as its own probe kernels measure them, so that
 * op rates can be stated as fractions of what the device can do (a roofline
 * view). Each figure is the fastest of several replays of a probe graph
 * (other work on a shared machine only ever slows a replay down); replay
 * wall time includes submit and wait. On the CPU backend the probes are
 * plain C on the calling thread, as the CPU backend's ops are, so its
 * ceilings are one host core's. */
typedef struct fv_device_ceilings {
    double fma_gflops;  /* fp32 FMA peak: 8 independent vec4 FMA chains per invocation  */
    double read_gbps;   /* read bandwidth over a 256 MiB buffer, the fastest path found  */
    char read_path[32]; /* that path: "texel-f32x4", "storage-vec4" or "host"          */
    double dispatch_us; /* cost of one more dependent dispatch inside a replayed graph   */
    double replay_us;   /* wall time of replaying a graph of one tiny dispatch           */
} fv_device_ceilings;

/* Runs the probes (a few seconds at most; 256 MiB of device memory while
 * they run) and fills *out. Uses ctx like any graph replay does. */
FV_API fv_status fv_context_measure_ceilings(fv_context *ctx, fv_device_ceilings *out);

#ifdef __cplusplus
}
#endif
#endif
