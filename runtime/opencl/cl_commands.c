/* Graph recording and replay on OpenCL: a recorded graph is a list of kernel
 * objects with their arguments already bound, launched in order on one
 * in-order queue (which orders them; no further barriers are needed).
 *
 * An external dispatch (fv_dispatch.external: an op's own commands, e.g.
 * VkFFT's) cannot be captured ahead of time: OpenCL has no command buffers.
 * Its record callback runs at every replay, in its place in the launch
 * order, with the queue as the stream; its state is kept across replays
 * (NULL at the first), so it plans once and enqueues each time, and is
 * released with the recording. In profiles its time is not counted. */
#include "cl_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct cl_launch {
    cl_kernel kernel;
    const fv_external *external; /* instead of kernel, or NULL */
    fv_node *ext_node;           /* the external's node (a copy) */
    void *state;                 /* the external's, across replays */
    int node;
    cl_uint dims;
    size_t global[3], local[3];
} cl_launch;

struct fv_recording {
    cl_launch *launches;
    int nlaunch;
    cl_mem params;
    int count;       /* nodes */
    cl_event *events;
    double *ms;
};

static fv_status encode_node(fv_context *ctx, const fv_node *n, fv_dispatch_list *list)
{
    list->n = 0;
    return n->op->encode(n, &ctx->info, list);
}

const char *fv_cl_supports_op(fv_context *ctx, const fv_node *n)
{
    if (!n->op->encode) return "the op has no GPU kernel yet";
    if (n->op->unsupported) {
        const char *why = n->op->unsupported(n, &ctx->info);
        if (why) return why;
    }
    /* the op must only ask for kernels this build has for OpenCL */
    static _Thread_local fv_dispatch_list list;
    static _Thread_local char why[160];
    if (encode_node(ctx, n, &list) != FV_STATUS_OK) return ctx->last_error;
    for (int i = 0; i < list.n; i++)
        if (!list.d[i].external && fv_cl_program_of(list.d[i].kernel) < 0) {
            snprintf(why, sizeof why, "kernel %s has no OpenCL version yet", list.d[i].kernel);
            return why;
        }
    return NULL;
}

void fv_cl_release(fv_context *ctx, fv_recording *rec)
{
    (void)ctx;
    if (!rec) return;
    clFinish(fv_cl_of(ctx)->queue);
    for (int i = 0; i < rec->nlaunch; i++) {
        if (rec->launches[i].kernel) clReleaseKernel(rec->launches[i].kernel);
        if (rec->launches[i].external && rec->launches[i].external->release)
            rec->launches[i].external->release(ctx, rec->launches[i].state);
        free(rec->launches[i].ext_node);
        if (rec->events && rec->events[i]) clReleaseEvent(rec->events[i]);
    }
    if (rec->params) clReleaseMemObject(rec->params);
    free(rec->launches);
    free(rec->events);
    free(rec->ms);
    free(rec);
}

static fv_status bind_args(fv_context *ctx, fv_recording *rec, const fv_dispatch *d, cl_kernel k)
{
    cl_uint arg = 0;
    cl_int err = clSetKernelArg(k, arg++, sizeof(cl_mem), &rec->params);
    for (int b = 0; b < d->nbind && err == CL_SUCCESS; b++) {
        const fv_tensor *t = d->bind[b].t;
        size_t off;
        cl_mem m = (cl_mem)fv_tensor_storage(t, &off)->impl;
        off += d->bind[b].offset;
        if (off > UINT32_MAX)
            return fv_fail(ctx, FV_STATUS_UNSUPPORTED, "opencl: %s: binding offset %zu beyond 4 GiB", d->kernel, off);
        cl_uint off32 = (cl_uint)off;
        err = clSetKernelArg(k, arg++, sizeof(cl_mem), &m);
        if (err == CL_SUCCESS) err = clSetKernelArg(k, arg++, sizeof off32, &off32);
    }
    if (err == CL_SUCCESS && d->push_bytes) err = clSetKernelArg(k, arg++, d->push_bytes, d->push);
    if (err != CL_SUCCESS) {
        char what[128];
        snprintf(what, sizeof what, "binding the arguments of %s (argument %u)", d->kernel, arg - 1);
        return fv_cl_status(ctx, err, what);
    }
    return FV_STATUS_OK;
}

fv_status fv_cl_record(fv_context *ctx, fv_node *nodes, int count, fv_recording **out)
{
    fv_cl *cl = fv_cl_of(ctx);
    fv_recording *rec = calloc(1, sizeof *rec);
    fv_dispatch_list *list = malloc(sizeof *list);
    int cap = count + 8;
    if (rec) rec->launches = calloc((size_t)cap, sizeof *rec->launches);
    if (rec) rec->ms = calloc((size_t)count + 1, sizeof *rec->ms);
    fv_status st = FV_STATUS_OK;
    if (!rec || !list || !rec->launches || !rec->ms) {
        st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
        goto fail;
    }
    rec->count = count;
    cl_int err;
    rec->params = clCreateBuffer(cl->context, CL_MEM_READ_ONLY, FV_GRAPH_PARAM_SLOTS * sizeof(int32_t), NULL, &err);
    if (err != CL_SUCCESS) {
        st = fv_cl_status(ctx, err, "creating the parameter buffer");
        goto fail;
    }
    for (int i = 0; i < count; i++) {
        st = encode_node(ctx, &nodes[i], list);
        if (st) goto fail;
        nodes[i].kernel = list->n ? list->d[0].kernel : "(view)";
        for (int k = 0; k < list->n; k++) {
            const fv_dispatch *d = &list->d[k];
            if (rec->nlaunch == cap) {
                cap *= 2;
                cl_launch *grown = realloc(rec->launches, (size_t)cap * sizeof *grown);
                if (!grown) {
                    st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
                    goto fail;
                }
                rec->launches = grown;
            }
            cl_launch *l = &rec->launches[rec->nlaunch];
            memset(l, 0, sizeof *l);
            l->node = i;
            if (d->external) {
                l->external = d->external;
                l->ext_node = malloc(sizeof *l->ext_node);
                if (!l->ext_node) {
                    st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
                    goto fail;
                }
                *l->ext_node = nodes[i];
                rec->nlaunch++;
                continue;
            }
            st = fv_cl_kernel_create(ctx, d, &l->kernel);
            if (st) goto fail;
            rec->nlaunch++;
            st = bind_args(ctx, rec, d, l->kernel);
            if (st) goto fail;
            size_t local = d->nspec ? d->spec[0] : 1;
            l->dims = d->groups[2] > 1 ? 3 : 2;
            l->local[0] = local;
            l->local[1] = l->local[2] = 1;
            l->global[0] = (size_t)d->groups[0] * local;
            l->global[1] = d->groups[1];
            l->global[2] = d->groups[2];
        }
    }
    if (ctx->profile) {
        rec->events = calloc((size_t)rec->nlaunch + 1, sizeof *rec->events);
        if (!rec->events) {
            st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
            goto fail;
        }
    }
    free(list);
    *out = rec;
    return FV_STATUS_OK;
fail:
    free(list);
    fv_cl_release(ctx, rec);
    return st;
}

fv_status fv_cl_replay(fv_context *ctx, fv_recording *rec, const int32_t *params)
{
    fv_cl *cl = fv_cl_of(ctx);
    cl_int err = clEnqueueWriteBuffer(cl->queue, rec->params, CL_FALSE, 0, FV_GRAPH_PARAM_SLOTS * sizeof(int32_t),
                                      params, 0, NULL, NULL);
    for (int i = 0; i < rec->nlaunch && err == CL_SUCCESS; i++) {
        cl_launch *l = &rec->launches[i];
        if (l->external) {
            fv_status st = l->external->record(ctx, l->ext_node, (void *)cl->queue, &l->state);
            if (st) {
                clFinish(cl->queue);
                return st;
            }
            continue;
        }
        cl_event *ev = NULL;
        if (rec->events) {
            if (rec->events[i]) clReleaseEvent(rec->events[i]);
            rec->events[i] = NULL;
            ev = &rec->events[i];
        }
        err = clEnqueueNDRangeKernel(cl->queue, l->kernel, l->dims, NULL, l->global, l->local, 0, NULL, ev);
    }
    if (err == CL_SUCCESS) err = clFinish(cl->queue);
    if (err != CL_SUCCESS) return fv_cl_status(ctx, err, "replaying a graph");
    if (rec->events) {
        memset(rec->ms, 0, (size_t)rec->count * sizeof *rec->ms);
        for (int i = 0; i < rec->nlaunch; i++) {
            if (!rec->events[i]) continue; /* an external's commands */
            cl_ulong t0 = 0, t1 = 0;
            clGetEventProfilingInfo(rec->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
            clGetEventProfilingInfo(rec->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
            rec->ms[rec->launches[i].node] += (double)(t1 - t0) * 1e-6;
        }
    }
    return FV_STATUS_OK;
}

int fv_cl_timings(fv_context *ctx, fv_recording *rec, double *ms, int capacity)
{
    (void)ctx;
    int n = FV_MIN(capacity, rec->count);
    memcpy(ms, rec->ms, (size_t)n * sizeof *ms);
    return n;
}
