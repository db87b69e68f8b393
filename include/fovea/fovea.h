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
    uint32_t max_workgroup_invocations;
    uint32_t shared_memory_bytes;
    uint32_t subgroup_size;    /* 0 where unknown / none                    */
    bool subgroup_arithmetic;
    bool subgroup_shuffle;
    bool fp16_arithmetic;
    bool storage_16bit;
    bool storage_8bit;
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

/* Y[..., N] = X[..., K] · W[N, K]ᵀ (+ bias[N]). W: f32 or f16. */
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
 * whose value limits the live columns (a KV cache's length); 0 = all. */
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

/* Materialised copy of x with dimensions reordered: y.shape[i] = x.shape[perm[i]].
 * Also converts between f32 and f16 when dtype differs from x's. */
FV_API fv_status fv_op_permute(fv_graph *g, fv_tensor *x, const int *perm, fv_tensor **y);
FV_API fv_status fv_op_transpose(fv_graph *g, fv_tensor *x, int dim0, int dim1, fv_tensor **y);
FV_API fv_status fv_op_convert(fv_graph *g, fv_tensor *x, fv_dtype dtype, fv_tensor **y);
/* A view with a new shape over the same memory (no kernel). numel must match. */
FV_API fv_status fv_op_reshape(fv_graph *g, fv_tensor *x, int ndim, const int64_t *shape,
                               fv_tensor **y);
/* y[i, ...] = table[index[i], ...]; index is i32 [n], table [rows, ...]. An
 * index out of range reads as zeros (and never out of bounds). */
FV_API fv_status fv_op_gather_rows(fv_graph *g, fv_tensor *table, fv_tensor *index,
                                   fv_tensor **y);
/* Concatenation of a and b along `dim`. */
FV_API fv_status fv_op_concat(fv_graph *g, fv_tensor *a, fv_tensor *b, int dim, fv_tensor **y);

#ifdef __cplusplus
}
#endif
#endif
