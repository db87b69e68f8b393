/* Internal runtime definitions shared by runtime/, ops/ and tests/.
 * Nothing here is part of the public API. */
#ifndef FOVEA_RUNTIME_INTERNAL_H
#define FOVEA_RUNTIME_INTERNAL_H

#include "fovea/fovea.h"

#include <stdarg.h>
#include <stdio.h>

#define FV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FV_ALIGN_UP(x, a) ((((x) + (a) - 1) / (a)) * (a))
#define FV_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FV_MAX(a, b) ((a) > (b) ? (a) : (b))

typedef struct fv_backend_vtbl fv_backend_vtbl;
typedef struct fv_node fv_node;

/* A block of device memory as one backend sees it. `host` is non-NULL when
 * the host can read and write it directly (CPU backend, unified memory). */
typedef struct fv_buffer {
    void *host;
    size_t size;
    void *impl; /* backend's own record */
} fv_buffer;

struct fv_context {
    fv_context_desc desc;
    fv_backend_type type;
    const fv_backend_vtbl *vt;
    void *be;            /* backend state */
    fv_device_info info;
    bool profile;
    char cache_dir[512]; /* "" when disk caches are off */
    char last_error[2048];
};

struct fv_tensor {
    fv_context *ctx;
    fv_dtype dtype;
    int ndim;
    int64_t shape[FV_MAX_DIMS];
    size_t nbytes;
    /* storage: buf + offset; NULL buf for graph tensors before plan */
    fv_buffer *buf;
    size_t offset;
    bool owns_buf;       /* created by fv_tensor_create               */
    bool is_alias;       /* made by fv_tensor_alias: memory not ours  */
    /* graph bookkeeping (graph tensors only) */
    fv_graph *graph;
    fv_tensor *view_of;  /* views: share the base's memory            */
    size_t view_offset;  /* views: bytes from the base's start         */
    int producer;        /* node index, -1 for external tensors       */
    int last_use;        /* last node reading it (after plan)         */
    bool is_output;
    fv_tensor *next_in_graph;
};

/* ---- status helpers ---------------------------------------------------- */

/* Formats the message into ctx->last_error, logs it at error level and
 * returns `status`. ctx may be NULL (then it only returns). */
fv_status fv_fail(fv_context *ctx, fv_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fv_log(const fv_context *ctx, fv_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "[2,3,17]" */
const char *fv_shape_str(const fv_tensor *t, char *buf, size_t size);

/* ---- dtype helpers ----------------------------------------------------- */
uint16_t fv_f32_to_f16(float f);
float fv_f16_to_f32(uint16_t h);
uint16_t fv_f32_to_bf16(float f);
float fv_bf16_to_f32(uint16_t h);
size_t fv_dtype_row_bytes(fv_dtype dtype, int64_t n);

/* ---- backend dispatch description --------------------------------------
 * GPU ops describe their work as dispatches of named kernels; the backend
 * turns them into commands. Binding 0 of every kernel is the graph's
 * parameter buffer and is added by the backend; `bind` starts at binding 1. */

typedef enum fv_bind_kind {
    FV_BIND_STORAGE = 0,  /* storage buffer                                */
    FV_BIND_TEXEL_F32X4,  /* uniform texel buffer, R32G32B32A32_SFLOAT view */
    FV_BIND_TEXEL_F16X4,  /* uniform texel buffer, R16G16B16A16_SFLOAT view */
    FV_BIND_TEXEL_F32,    /* uniform texel buffer, R32_SFLOAT view          */
    FV_BIND_TEXEL_F16,    /* uniform texel buffer, R16_SFLOAT view          */
    FV_BIND_TEXEL_U32X4,  /* uniform texel buffer, R32G32B32A32_UINT view (raw 16 bytes) */
    FV_BIND_KIND_COUNT_
} fv_bind_kind;

typedef struct fv_binding {
    const fv_tensor *t;
    size_t offset;       /* bytes from the start of the tensor */
    size_t size;         /* bytes; 0 = to the end of the tensor */
    fv_bind_kind kind;
    bool write;
} fv_binding;

#define FV_MAX_BINDINGS 8
#define FV_MAX_PUSH_BYTES 128
#define FV_MAX_SPEC 8

/* Work an op records itself instead of a kernel dispatch: a library with
 * its own pipelines (VkFFT). record() appends commands to `stream`, the
 * command buffer being recorded (a VkCommandBuffer on Vulkan), once per
 * recording; whatever it keeps for the replays goes into *state, which
 * release() gets back when the recording is released. The backend puts a
 * full barrier before and after it, so bindings are not declared. Only the
 * Vulkan backend runs these; other backends report them unsupported. */
typedef struct fv_external {
    const char *name; /* reported as the node's kernel */
    fv_status (*record)(fv_context *ctx, const fv_node *n, void *stream, void **state);
    void (*release)(fv_context *ctx, void *state);
} fv_external;

typedef struct fv_dispatch {
    const char *kernel;                 /* shader variant name            */
    const fv_external *external;        /* instead of a kernel, or NULL   */
    fv_binding bind[FV_MAX_BINDINGS];
    int nbind;
    uint32_t push[FV_MAX_PUSH_BYTES / 4];
    uint32_t push_bytes;
    uint32_t spec[FV_MAX_SPEC];         /* spec constant i has id i; id 0  */
    int nspec;                          /* is the local size x by habit    */
    uint32_t groups[3];
} fv_dispatch;

#define FV_MAX_DISPATCHES_PER_NODE 16

typedef struct fv_dispatch_list {
    fv_dispatch d[FV_MAX_DISPATCHES_PER_NODE];
    int n;
} fv_dispatch_list;

/* Adds a dispatch and returns it zeroed (NULL if the list is full). */
fv_dispatch *fv_dispatch_push(fv_dispatch_list *list, const char *kernel);
void fv_dispatch_bind(fv_dispatch *d, const fv_tensor *t, fv_bind_kind kind, bool write);
void fv_dispatch_bind_range(fv_dispatch *d, const fv_tensor *t, size_t offset, size_t size,
                            fv_bind_kind kind, bool write);
void fv_dispatch_set_push(fv_dispatch *d, const void *data, size_t bytes);

/* ---- ops ---------------------------------------------------------------- */

#define FV_MAX_SRC 4
#define FV_MAX_OP_PARAMS 256

typedef struct fv_op_def {
    const char *name;
    /* Plain-C reference on host memory. `params` are the graph's slots. */
    fv_status (*cpu)(const fv_node *n, const int32_t *params);
    /* Describes the GPU work for one node on a device (Vulkan). NULL when
     * the op has no GPU kernel: supports_op then reports it. */
    fv_status (*encode)(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out);
    /* Optional: why this node cannot run on the device (NULL = it can). */
    const char *(*unsupported)(const fv_node *n, const fv_device_info *dev);
} fv_op_def;

struct fv_node {
    const fv_op_def *op;
    fv_tensor *src[FV_MAX_SRC];
    int nsrc;
    fv_tensor *dst;
    uint8_t params[FV_MAX_OP_PARAMS]; /* op-specific struct, memcpy'd */
    const char *kernel;               /* the variant chosen at record */
};

/* Fills shape fields after checking them (no memory). */
fv_status fv_tensor_init_shape(fv_context *ctx, fv_tensor *t, fv_dtype dtype, int ndim,
                               const int64_t *shape);

/* Adds a node producing a new graph tensor of the given shape. */
fv_status fv_graph_add_node(fv_graph *g, const fv_op_def *op, fv_tensor *const *src, int nsrc,
                            const void *params, size_t params_bytes, fv_dtype dtype, int ndim,
                            const int64_t *shape, fv_tensor **out);
fv_context *fv_graph_context(const fv_graph *g);
/* A node-less view of `x`'s memory: `offset` bytes in, with its own dtype and
 * shape (the bytes must fit inside x). Used by reshape and to split packed
 * outputs of multi-result kernels. The offset must be a multiple of
 * FV_VIEW_ALIGN, the largest storage/texel offset alignment Vulkan allows a
 * device to require, so any view can be bound directly. */
#define FV_VIEW_ALIGN 256
fv_status fv_graph_view(fv_graph *g, fv_tensor *x, size_t offset, fv_dtype dtype, int ndim, const int64_t *shape,
                        fv_tensor **out);
/* Validates that `t` may be used in graph g (same context, alive). */
fv_status fv_graph_check_input(fv_graph *g, const char *op, const char *what, const fv_tensor *t);
/* -- decoder ops -- */
/* Adds a node that writes into `target` in place, a tensor made by
 * fv_tensor_create or a graph view of one (a KV cache), instead of producing
 * new memory: the node's dst is target itself and the planner assigns it
 * nothing. *out is a new graph view of target (same dtype and shape) whose
 * producer is this node, for later nodes to read: nodes run in the order
 * they were added, so its readers follow the write, and the Vulkan
 * recorder's hazard tracking sees the overlapping ranges and puts a barrier
 * between them. */
fv_status fv_graph_add_node_inplace(fv_graph *g, const fv_op_def *op, fv_tensor *const *src, int nsrc,
                                    const void *params, size_t params_bytes, fv_tensor *target, fv_tensor **out);
/* A tensor owned by the graph with fixed contents, uploaded now and
 * destroyed with the graph: a table an op computes on the host (RoPE's
 * frequencies). It has its own memory, outside the plan. */
fv_status fv_graph_constant(fv_graph *g, fv_dtype dtype, int ndim, const int64_t *shape, const void *data,
                            fv_tensor **out);

/* The buffer holding a tensor's data and the byte offset where it starts
 * (views resolve to their base). NULL before a graph tensor is planned. */
static inline fv_buffer *fv_tensor_storage(const fv_tensor *t, size_t *offset)
{
    const fv_tensor *b = t->view_of ? t->view_of : t;
    *offset = b->offset + (t->view_of ? t->view_offset : 0);
    return b->buf;
}
/* Host pointer of a tensor's data (CPU backend / unified memory). */
static inline void *fv_tensor_host(const fv_tensor *t)
{
    size_t off;
    fv_buffer *buf = fv_tensor_storage(t, &off);
    return buf && buf->host ? (char *)buf->host + off : NULL;
}
static inline int64_t fv_tensor_rows(const fv_tensor *t) /* product of all but the last dim */
{
    int64_t r = 1;
    for (int i = 0; i < t->ndim - 1; i++) r *= t->shape[i];
    return r;
}

/* -- compression -- */
/* Building blocks of the compression methods (ops/topk.c, ops/kcenter.c,
 * ops/visionzip.c); the public fv_op_topk and fv_op_kcenter are made of
 * them. Candidates are tokens skip .. skip+n-1 of their inputs (skip = 1
 * steps over a [CLS] row); flags are i32 [n], 1 = kept. */
typedef struct fv_token_select_desc {
    int n, skip, k;        /* candidates, leading entries to step over, budget */
    fv_tensor *prior;      /* optional i32 [n]: kept first; the rest fill up to k */
    bool dilate;           /* the prior grown by its 4 grid neighbours */
    int grid_w, grid_h;    /* the candidates' grid (dilate, tiles) */
    int tiles_x, tiles_y;  /* > 0: k shared out over tiles by tile_scores */
    fv_tensor *tile_scores;/* f32, read like the scores */
} fv_token_select_desc;
fv_status fv_op_token_select(fv_graph *g, fv_tensor *scores, const fv_token_select_desc *desc, fv_tensor **flags);
/* indices [k + lead]: the set flags' indices ascending, + offset; a leading 0 with lead */
fv_status fv_op_mask_compact(fv_graph *g, fv_tensor *flags, int k, int offset, bool lead, fv_tensor **indices);
/* greedy k-center flags over rows skip .. skip+n-1 of x [rows, D] (see fv_op_kcenter) */
fv_status fv_op_kcenter_flags(fv_graph *g, fv_tensor *x, int skip, int n, int k, fv_tensor **flags);
/* VisionZip: assign [n + kc]: for each candidate -1 (dominant) or its
 * contextual group 0 .. kc-1, then the kc targets' candidate indices;
 * merge: the kc contextual tokens [kc, D] of hidden [rows, D]. */
fv_status fv_op_visionzip_assign(fv_graph *g, fv_tensor *dominant, fv_tensor *keys, int skip, int kc,
                                 fv_tensor **assign);
fv_status fv_op_visionzip_merge(fv_graph *g, fv_tensor *hidden, fv_tensor *assign, int skip, int n, int kc,
                                fv_tensor **y);


/* -- language model -- */

/* ---- backends ---------------------------------------------------------- */

typedef struct fv_recording fv_recording;

struct fv_backend_vtbl {
    fv_backend_type type;
    fv_status (*init)(fv_context *ctx);
    void (*destroy)(fv_context *ctx);
    fv_status (*buffer_alloc)(fv_context *ctx, size_t bytes, fv_buffer **out);
    void (*buffer_free)(fv_context *ctx, fv_buffer *buf);
    fv_status (*buffer_write)(fv_context *ctx, fv_buffer *buf, size_t offset, const void *src,
                              size_t bytes);
    fv_status (*buffer_read)(fv_context *ctx, fv_buffer *buf, size_t offset, void *dst,
                             size_t bytes);
    /* NULL when the node can run; else a reason. */
    const char *(*supports_op)(fv_context *ctx, const fv_node *n);
    fv_status (*record)(fv_context *ctx, fv_node *nodes, int count, fv_recording **out);
    fv_status (*replay)(fv_context *ctx, fv_recording *rec, const int32_t *params);
    void (*release)(fv_context *ctx, fv_recording *rec);
    /* Per-node milliseconds of the last replay (profiling); returns count. */
    int (*timings)(fv_context *ctx, fv_recording *rec, double *ms, int capacity);
    fv_status (*list_devices)(fv_device_info *infos, int capacity, int *count, char *err,
                              size_t err_size);
};

extern const fv_backend_vtbl fv_cpu_backend;
extern const fv_backend_vtbl fv_vulkan_backend;
extern const fv_backend_vtbl *fv_opencl_backend_get(void); /* NULL when not built */

/* Embedded kernels (generated at build time). */
typedef struct fv_kernel_blob {
    const char *name;
    const uint32_t *code;
    size_t bytes;
} fv_kernel_blob;
const fv_kernel_blob *fv_spirv_find(const char *name);

/* Monotonic clock in milliseconds. */
double fv_time_ms(void);

#endif
