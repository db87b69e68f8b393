/* Graphs: build op nodes, plan intermediate memory by lifetime, record once,
 * replay many times with per-replay parameters. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN FV_VIEW_ALIGN

struct fv_graph {
    fv_context *ctx;
    fv_node *nodes;
    int count, capacity;
    fv_tensor *tensors;       /* graph-owned tensors, newest first */
    int32_t params[FV_GRAPH_PARAM_SLOTS];
    bool planned;
    fv_buffer *arena;
    size_t arena_bytes, naive_bytes;
    fv_recording *rec;
    double last_replay_ms;
    double *timing_ms;        /* per node, when profiling */
    fv_tensor **constants;    /* fv_graph_constant's tensors, destroyed with the graph */
    int nconstants;
};

fv_context *fv_graph_context(const fv_graph *g) { return g->ctx; }

fv_status fv_graph_create(fv_context *ctx, fv_graph **out)
{
    if (!ctx || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = calloc(1, sizeof **out);
    if (!*out) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "graph: out of host memory");
    (*out)->ctx = ctx;
    return FV_STATUS_OK;
}

static void release_memory(fv_graph *g)
{
    if (g->rec) g->ctx->vt->release(g->ctx, g->rec);
    g->rec = NULL;
    if (g->arena) g->ctx->vt->buffer_free(g->ctx, g->arena);
    g->arena = NULL;
    for (fv_tensor *t = g->tensors; t; t = t->next_in_graph) t->buf = NULL;
    g->planned = false;
}

void fv_graph_destroy(fv_graph *g)
{
    if (!g) return;
    release_memory(g);
    for (fv_tensor *t = g->tensors, *next; t; t = next) {
        next = t->next_in_graph;
        free(t);
    }
    for (int i = 0; i < g->nconstants; i++) fv_tensor_destroy(g->constants[i]);
    free(g->constants);
    free(g->nodes);
    free(g->timing_ms);
    free(g);
}

fv_status fv_graph_check_input(fv_graph *g, const char *op, const char *what, const fv_tensor *t)
{
    if (!t) return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "%s: %s is NULL", op, what);
    if (t->ctx != g->ctx)
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "%s: %s belongs to another context", op, what);
    if (t->graph && t->graph != g)
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "%s: %s belongs to another graph", op, what);
    return FV_STATUS_OK;
}

/* Appends a node writing `dst` (sources and parameters already checked). */
static fv_status append_node(fv_graph *g, const fv_op_def *op, fv_tensor *const *src, int nsrc, const void *params,
                             size_t params_bytes, fv_tensor *dst)
{
    if (g->count == g->capacity) {
        int cap = g->capacity ? g->capacity * 2 : 32;
        fv_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n) return fv_fail(g->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "%s: out of host memory", op->name);
        g->nodes = n;
        g->capacity = cap;
    }
    fv_node *n = &g->nodes[g->count++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->nsrc = nsrc;
    for (int i = 0; i < nsrc; i++) n->src[i] = src[i];
    if (params_bytes) memcpy(n->params, params, params_bytes);
    n->dst = dst;
    return FV_STATUS_OK;
}

static fv_status check_node(fv_graph *g, const fv_op_def *op, int nsrc, size_t params_bytes)
{
    if (g->rec || g->planned)
        return fv_fail(g->ctx, FV_STATUS_INVALID_STATE, "%s: graph is already planned; build a new graph", op->name);
    if (nsrc > FV_MAX_SRC || params_bytes > FV_MAX_OP_PARAMS)
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "%s: too many sources or parameters", op->name);
    return FV_STATUS_OK;
}

fv_status fv_graph_add_node(fv_graph *g, const fv_op_def *op, fv_tensor *const *src, int nsrc,
                            const void *params, size_t params_bytes, fv_dtype dtype, int ndim,
                            const int64_t *shape, fv_tensor **out)
{
    fv_status st = check_node(g, op, nsrc, params_bytes);
    if (st) return st;
    fv_tensor *t = calloc(1, sizeof *t);
    if (!t) return fv_fail(g->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "%s: out of host memory", op->name);
    st = fv_tensor_init_shape(g->ctx, t, dtype, ndim, shape);
    if (!st) st = append_node(g, op, src, nsrc, params, params_bytes, t);
    if (st) {
        free(t);
        return st;
    }
    t->graph = g;
    t->producer = g->count - 1;
    t->next_in_graph = g->tensors;
    g->tensors = t;
    *out = t;
    return FV_STATUS_OK;
}

fv_status fv_graph_view(fv_graph *g, fv_tensor *x, size_t offset, fv_dtype dtype, int ndim, const int64_t *shape,
                        fv_tensor **out)
{
    if (g->planned)
        return fv_fail(g->ctx, FV_STATUS_INVALID_STATE, "view: graph is already planned; build a new graph");
    fv_tensor *t = calloc(1, sizeof *t);
    if (!t) return fv_fail(g->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "view: out of host memory");
    fv_status st = fv_tensor_init_shape(g->ctx, t, dtype, ndim, shape);
    if (!st && offset % FV_VIEW_ALIGN)
        st = fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "view: offset %zu is not a multiple of %d bytes", offset,
                     FV_VIEW_ALIGN);
    if (!st && (offset > x->nbytes || t->nbytes > x->nbytes - offset)) {
        char a[96], b[96];
        st = fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "view: %s at byte %zu does not fit in %s",
                     fv_shape_str(t, a, sizeof a), offset, fv_shape_str(x, b, sizeof b));
    }
    if (st) {
        free(t);
        return st;
    }
    t->graph = g;
    t->view_of = x->view_of ? x->view_of : x;
    t->view_offset = (x->view_of ? x->view_offset : 0) + offset;
    t->producer = x->producer;
    t->next_in_graph = g->tensors;
    g->tensors = t;
    *out = t;
    return FV_STATUS_OK;
}

/* -- decoder ops -- */
fv_status fv_graph_add_node_inplace(fv_graph *g, const fv_op_def *op, fv_tensor *const *src, int nsrc,
                                    const void *params, size_t params_bytes, fv_tensor *target, fv_tensor **out)
{
    fv_status st = check_node(g, op, nsrc, params_bytes);
    if (st) return st;
    /* the target's memory must be outside the plan: an arena tensor could
     * share its bytes with intermediates whose lifetimes know nothing of
     * this write */
    const fv_tensor *base = target->view_of ? target->view_of : target;
    if (base->graph)
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT,
                       "%s: the target must be a tensor made by fv_tensor_create (or a reshape of one), "
                       "not a graph intermediate", op->name);
    fv_tensor *view = NULL;
    st = fv_graph_view(g, target, 0, target->dtype, target->ndim, target->shape, &view);
    if (!st) st = append_node(g, op, src, nsrc, params, params_bytes, target);
    if (st) return st; /* a dangling view is freed with the graph */
    view->producer = g->count - 1;
    *out = view;
    return FV_STATUS_OK;
}

fv_status fv_graph_constant(fv_graph *g, fv_dtype dtype, int ndim, const int64_t *shape, const void *data,
                            fv_tensor **out)
{
    if (g->planned)
        return fv_fail(g->ctx, FV_STATUS_INVALID_STATE, "constant: graph is already planned; build a new graph");
    fv_tensor **grown = realloc(g->constants, (size_t)(g->nconstants + 1) * sizeof *grown);
    if (!grown) return fv_fail(g->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "constant: out of host memory");
    g->constants = grown;
    fv_tensor *t = NULL;
    fv_status st = fv_tensor_create(g->ctx, dtype, ndim, shape, &t);
    if (!st) st = fv_tensor_upload(t, data, t->nbytes);
    if (st) {
        fv_tensor_destroy(t);
        return st;
    }
    g->constants[g->nconstants++] = t;
    *out = t;
    return FV_STATUS_OK;
}

fv_status fv_op_reshape(fv_graph *g, fv_tensor *x, int ndim, const int64_t *shape, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    fv_status st = fv_graph_check_input(g, "reshape", "x", x);
    if (st) return st;
    fv_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    st = fv_tensor_init_shape(g->ctx, &tmp, x->dtype, ndim, shape);
    if (st) return st;
    if (fv_tensor_numel(&tmp) != fv_tensor_numel(x)) {
        char a[96], b[96];
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "reshape: %s cannot become %s",
                       fv_shape_str(x, a, sizeof a), fv_shape_str(&tmp, b, sizeof b));
    }
    return fv_graph_view(g, x, 0, x->dtype, ndim, shape, y);
}

fv_status fv_graph_output(fv_graph *g, fv_tensor *t)
{
    if (!g || !t) return FV_STATUS_INVALID_ARGUMENT;
    if (t->graph != g)
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "fv_graph_output: tensor is not made by this graph");
    if (g->planned)
        return fv_fail(g->ctx, FV_STATUS_INVALID_STATE, "fv_graph_output: graph is already planned");
    t->is_output = true;
    return FV_STATUS_OK;
}

fv_status fv_graph_set_param(fv_graph *g, int slot, int32_t value)
{
    if (!g) return FV_STATUS_INVALID_ARGUMENT;
    if (slot < 0 || slot >= FV_GRAPH_PARAM_SLOTS)
        return fv_fail(g->ctx, FV_STATUS_INVALID_ARGUMENT, "fv_graph_set_param: slot %d is not in 0..%d",
                       slot, FV_GRAPH_PARAM_SLOTS - 1);
    g->params[slot] = value;
    return FV_STATUS_OK;
}

/* Memory plan: each intermediate lives from the node that writes it to the
 * last node that reads it (outputs: to the end). Offsets are given greedily
 * in node order, first fit among the blocks free at that time; views take
 * their base's memory and extend its lifetime. Nodes that write in place
 * (fv_graph_add_node_inplace) take none. */
typedef struct live_block {
    size_t offset, size;
    int end;
} live_block;

fv_status fv_graph_plan(fv_graph *g)
{
    if (!g) return FV_STATUS_INVALID_ARGUMENT;
    if (g->planned) return FV_STATUS_OK;
    fv_context *ctx = g->ctx;
    for (fv_tensor *t = g->tensors; t; t = t->next_in_graph) t->last_use = t->producer;
    for (int i = 0; i < g->count; i++) {
        for (int s = 0; s < g->nodes[i].nsrc; s++) {
            fv_tensor *t = g->nodes[i].src[s];
            if (!t->graph) continue;
            fv_tensor *b = t->view_of ? t->view_of : t;
            b->last_use = FV_MAX(b->last_use, i);
        }
    }
    for (fv_tensor *t = g->tensors; t; t = t->next_in_graph) {
        fv_tensor *b = t->view_of ? t->view_of : t;
        if (t->is_output && b->graph) b->last_use = g->count;
    }
    live_block *live = calloc((size_t)g->count + 1, sizeof *live);
    if (!live) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "graph plan: out of host memory");
    int nlive = 0;
    size_t top = 0, naive = 0;
    /* tensors in node order: node i produces nodes[i].dst */
    for (int i = 0; i < g->count; i++) {
        fv_tensor *t = g->nodes[i].dst;
        if (t->graph != g || t->view_of) continue; /* written in place (fv_graph_add_node_inplace) */
        /* free blocks whose last reader came before this node */
        for (int k = 0; k < nlive;)
            if (live[k].end < i)
                live[k] = live[--nlive];
            else
                k++;
        size_t need = FV_ALIGN_UP(t->nbytes, ARENA_ALIGN);
        naive += need;
        /* first fit: lowest offset whose gap to the next live block suffices */
        size_t off = 0;
        for (;;) {
            bool moved = false;
            for (int k = 0; k < nlive; k++) {
                if (off < live[k].offset + live[k].size && live[k].offset < off + need) {
                    off = live[k].offset + live[k].size;
                    moved = true;
                }
            }
            if (!moved) break;
        }
        t->offset = off;
        live[nlive++] = (live_block){off, need, t->last_use};
        top = FV_MAX(top, off + need);
    }
    free(live);
    g->arena_bytes = top;
    g->naive_bytes = naive;
    if (top) {
        fv_status st = ctx->vt->buffer_alloc(ctx, top, &g->arena);
        if (st) return st;
    }
    for (fv_tensor *t = g->tensors; t; t = t->next_in_graph)
        if (!t->view_of) t->buf = g->arena; /* views resolve through their base */
    g->planned = true;
    return FV_STATUS_OK;
}

size_t fv_graph_arena_bytes(const fv_graph *g) { return g ? g->arena_bytes : 0; }
size_t fv_graph_naive_bytes(const fv_graph *g) { return g ? g->naive_bytes : 0; }
int fv_graph_node_count(const fv_graph *g) { return g ? g->count : 0; }

fv_status fv_graph_record(fv_graph *g)
{
    if (!g) return FV_STATUS_INVALID_ARGUMENT;
    if (g->rec) return FV_STATUS_OK;
    fv_status st = fv_graph_plan(g);
    if (st) return st;
    for (int i = 0; i < g->count; i++) {
        const char *why = g->ctx->vt->supports_op(g->ctx, &g->nodes[i]);
        if (why)
            return fv_fail(g->ctx, FV_STATUS_UNSUPPORTED, "%s (node %d) is not supported on %s: %s",
                           g->nodes[i].op->name, i, g->ctx->info.name, why);
    }
    return g->ctx->vt->record(g->ctx, g->nodes, g->count, &g->rec);
}

fv_status fv_graph_replay(fv_graph *g)
{
    if (!g) return FV_STATUS_INVALID_ARGUMENT;
    fv_status st = fv_graph_record(g);
    if (st) return st;
    double t0 = fv_time_ms();
    st = g->ctx->vt->replay(g->ctx, g->rec, g->params);
    g->last_replay_ms = fv_time_ms() - t0;
    if (st || !g->ctx->profile) return st;
    /* profiling: per-node table to the log */
    if (!g->timing_ms) g->timing_ms = calloc((size_t)g->count, sizeof *g->timing_ms);
    if (!g->timing_ms) return FV_STATUS_OK;
    int n = g->ctx->vt->timings(g->ctx, g->rec, g->timing_ms, g->count);
    double total = 0;
    for (int i = 0; i < n; i++) total += g->timing_ms[i];
    fv_log(g->ctx, FV_LOG_WARN, "profile: %d nodes, %.3f ms on the device, %.3f ms wall", n, total,
           g->last_replay_ms);
    for (int i = 0; i < n; i++)
        fv_log(g->ctx, FV_LOG_WARN, "profile: %4d %-12s %-28s %9.3f ms %5.1f%%", i, g->nodes[i].op->name,
               g->nodes[i].kernel ? g->nodes[i].kernel : "-", g->timing_ms[i],
               total > 0 ? 100.0 * g->timing_ms[i] / total : 0.0);
    return FV_STATUS_OK;
}

int fv_graph_timings(const fv_graph *g, fv_node_timing *out, int capacity)
{
    if (!g || !g->timing_ms || !out) return 0;
    int n = FV_MIN(capacity, g->count);
    for (int i = 0; i < n; i++)
        out[i] = (fv_node_timing){g->nodes[i].op->name, g->nodes[i].kernel, g->timing_ms[i]};
    return n;
}

double fv_graph_last_replay_ms(const fv_graph *g) { return g ? g->last_replay_ms : 0; }

/* ---- dispatch list helpers (used by ops) ---- */

fv_dispatch *fv_dispatch_push(fv_dispatch_list *list, const char *kernel)
{
    if (list->n >= FV_MAX_DISPATCHES_PER_NODE) return NULL;
    fv_dispatch *d = &list->d[list->n++];
    memset(d, 0, sizeof *d);
    d->kernel = kernel;
    d->groups[0] = d->groups[1] = d->groups[2] = 1;
    return d;
}

void fv_dispatch_bind_range(fv_dispatch *d, const fv_tensor *t, size_t offset, size_t size,
                            fv_bind_kind kind, bool write)
{
    if (d->nbind >= FV_MAX_BINDINGS) return;
    d->bind[d->nbind++] = (fv_binding){t, offset, size ? size : t->nbytes - offset, kind, write};
}

void fv_dispatch_bind(fv_dispatch *d, const fv_tensor *t, fv_bind_kind kind, bool write)
{
    fv_dispatch_bind_range(d, t, 0, 0, kind, write);
}

void fv_dispatch_set_push(fv_dispatch *d, const void *data, size_t bytes)
{
    if (bytes > FV_MAX_PUSH_BYTES) bytes = FV_MAX_PUSH_BYTES;
    memcpy(d->push, data, bytes);
    d->push_bytes = (uint32_t)bytes;
}
