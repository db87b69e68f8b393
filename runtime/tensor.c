/* Tensors: device memory with a shape, and host transfers. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static fv_status check_shape(fv_context *ctx, fv_dtype dtype, int ndim, const int64_t *shape,
                             size_t *nbytes)
{
    if ((unsigned)dtype >= FV_DTYPE_COUNT_)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "tensor: unknown dtype %d", (int)dtype);
    if (ndim < 1 || ndim > FV_MAX_DIMS || !shape)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "tensor: ndim %d is not in 1..%d", ndim,
                       FV_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 40) || n > ((int64_t)1 << 40) / shape[i])
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "tensor: dimension %d is %lld", i,
                           (long long)shape[i]);
        n *= shape[i];
    }
    int block = fv_dtype_block_size(dtype);
    if (shape[ndim - 1] % block)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "tensor: %s needs the last dimension (%lld) to be a multiple of %d",
                       fv_dtype_name(dtype), (long long)shape[ndim - 1], block);
    *nbytes = (size_t)(n / block) * fv_dtype_block_bytes(dtype);
    return FV_STATUS_OK;
}

/* Also used by the graph for its own tensors (buf stays NULL until plan). */
fv_status fv_tensor_init_shape(fv_context *ctx, fv_tensor *t, fv_dtype dtype, int ndim,
                               const int64_t *shape)
{
    size_t nbytes = 0;
    fv_status st = check_shape(ctx, dtype, ndim, shape, &nbytes);
    if (st) return st;
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < FV_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    t->nbytes = nbytes;
    t->producer = -1;
    t->last_use = -1;
    return FV_STATUS_OK;
}

fv_status fv_tensor_create(fv_context *ctx, fv_dtype dtype, int ndim, const int64_t *shape,
                           fv_tensor **out)
{
    if (!ctx || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    fv_tensor *t = calloc(1, sizeof *t);
    if (!t) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "tensor: out of host memory");
    fv_status st = fv_tensor_init_shape(ctx, t, dtype, ndim, shape);
    if (st == FV_STATUS_OK) st = ctx->vt->buffer_alloc(ctx, t->nbytes, &t->buf);
    if (st != FV_STATUS_OK) {
        free(t);
        return st;
    }
    t->owns_buf = true;
    *out = t;
    return FV_STATUS_OK;
}

void fv_tensor_destroy(fv_tensor *t)
{
    if (t && t->is_alias) { /* the memory belongs to the aliased tensor */
        free(t);
        return;
    }
    if (!t || !t->owns_buf) return; /* graph tensors belong to their graph */
    t->ctx->vt->buffer_free(t->ctx, t->buf);
    free(t);
}

fv_status fv_tensor_alias(const fv_tensor *t, fv_tensor **out)
{
    if (!t || !out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    char s[96];
    size_t offset = 0;
    fv_buffer *buf = fv_tensor_storage(t, &offset);
    if (!buf)
        return fv_fail(t->ctx, FV_STATUS_INVALID_STATE, "tensor alias: graph tensor %s has no memory yet (plan its graph first)",
                       fv_shape_str(t, s, sizeof s));
    fv_tensor *a = calloc(1, sizeof *a);
    if (!a) return fv_fail(t->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "tensor alias: out of host memory");
    a->ctx = t->ctx;
    a->dtype = t->dtype;
    a->ndim = t->ndim;
    memcpy(a->shape, t->shape, sizeof a->shape);
    a->nbytes = t->nbytes;
    a->buf = buf;
    a->offset = offset;
    a->is_alias = true;
    a->producer = -1;
    a->last_use = -1;
    *out = a;
    return FV_STATUS_OK;
}

static fv_status check_transfer(const fv_tensor *t, const void *p, size_t bytes, const char *what)
{
    if (!t) return FV_STATUS_INVALID_ARGUMENT;
    fv_context *ctx = t->ctx;
    char s[96];
    if (!p) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "%s: NULL host pointer", what);
    if (bytes != t->nbytes)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "%s: %zu bytes given, tensor %s holds %zu",
                       what, bytes, fv_shape_str(t, s, sizeof s), t->nbytes);
    size_t off;
    if (!fv_tensor_storage(t, &off))
        return fv_fail(ctx, FV_STATUS_INVALID_STATE,
                       "%s: graph tensor %s has no memory yet (plan and replay the graph first)", what,
                       fv_shape_str(t, s, sizeof s));
    return FV_STATUS_OK;
}

fv_status fv_tensor_upload(fv_tensor *t, const void *src, size_t bytes)
{
    fv_status st = check_transfer(t, src, bytes, "fv_tensor_upload");
    if (st) return st;
    size_t off;
    fv_buffer *buf = fv_tensor_storage(t, &off);
    return t->ctx->vt->buffer_write(t->ctx, buf, off, src, bytes);
}

fv_status fv_tensor_download(const fv_tensor *t, void *dst, size_t bytes)
{
    fv_status st = check_transfer(t, dst, bytes, "fv_tensor_download");
    if (st) return st;
    const fv_tensor *b = t->view_of ? t->view_of : t;
    if (t->graph && !b->is_output && !t->is_output)
        return fv_fail(t->ctx, FV_STATUS_INVALID_STATE,
                       "fv_tensor_download: graph tensor is not marked with fv_graph_output; its "
                       "memory may have been reused");
    size_t off;
    fv_buffer *buf = fv_tensor_storage(t, &off);
    return t->ctx->vt->buffer_read(t->ctx, buf, off, dst, bytes);
}

fv_dtype fv_tensor_dtype(const fv_tensor *t) { return t ? t->dtype : FV_DTYPE_F32; }
int fv_tensor_ndim(const fv_tensor *t) { return t ? t->ndim : 0; }
int64_t fv_tensor_dim(const fv_tensor *t, int i)
{
    if (!t) return 0;
    if (i < 0) i += t->ndim;
    return i >= 0 && i < t->ndim ? t->shape[i] : 0;
}
int64_t fv_tensor_numel(const fv_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; t && i < t->ndim; i++) n *= t->shape[i];
    return t ? n : 0;
}
size_t fv_tensor_nbytes(const fv_tensor *t) { return t ? t->nbytes : 0; }
