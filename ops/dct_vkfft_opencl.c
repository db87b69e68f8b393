/* dct2d's VkFFT path on OpenCL (VkFFT 1.2.26, Tolmachev 2023, its OpenCL
 * backend): the same transform as ops/dct_vkfft_vulkan.c, on fovea's own
 * OpenCL context, device and in-order queue. The node's work is one external
 * command and one kernel:
 *   1. (external) copy x into the scratch part of the node's dst, then
 *      VkFFT's DCT-II in place over the two grid axes of [B, gh, gw, C]
 *      (C, the innermost axis, is batched: omitDimension[0]);
 *   2. dct_crop_cl (shaders/cl/dct.cl, via fv_dct_push_crop) takes the kept
 *      kh x kw block and scales VkFFT's unnormalised coefficients to the
 *      orthonormal convention.
 *
 * OpenCL has no command buffers, so the OpenCL backend calls the external
 * at every replay (runtime/opencl/cl_commands.c) with its state from the
 * previous replay: the first call plans (VkFFT builds its OpenCL programs
 * then), every call enqueues the copy and VkFFT's kernels on the queue,
 * whose order sequences them with fovea's kernels before and after. The
 * application is deleted with the recording.
 *
 * VkFFT's backend is chosen at compile time, so this file is its own
 * translation unit (and static library, meson.build), apart from the Vulkan
 * one; it needs only the OpenCL headers and the ICD loader fovea already
 * links. */
#include "dct_internal.h"

#include "../runtime/opencl/cl_internal.h"

#include <stdlib.h>

#define VKFFT_BACKEND 3
#include "vkFFT.h" /* the build tree's copy (scripts/patch_vkfft.py) */
#include "dct_vkfft_common.h"

typedef struct vkfft_state {
    VkFFTApplication app;
    cl_mem buffer;
    uint64_t buffer_bytes;
} vkfft_state;

static void vkfft_release(fv_context *ctx, void *state)
{
    (void)ctx;
    vkfft_state *s = state;
    if (!s) return;
    deleteVkFFT(&s->app);
    free(s);
}

/* Plans the DCT for the node's shape on the context's OpenCL objects, over
 * dst's buffer with the scratch at `work_off`. */
static fv_status vkfft_plan(fv_context *ctx, const fv_node *n, cl_mem buffer, uint64_t work_off, vkfft_state **out)
{
    const dct_params *p = (const dct_params *)n->params;
    fv_cl *cl = fv_cl_of(ctx);
    vkfft_state *s = calloc(1, sizeof *s);
    if (!s) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "dct2d: out of host memory");
    s->buffer = buffer;
    s->buffer_bytes = work_off + fv_dct_scratch_bytes(p); /* VkFFT checks offsets against it */
    VkFFTConfiguration c = {0};
    dct_vkfft_layout(&c, p, work_off);
    c.platform = &cl->platform;
    c.device = &cl->device;
    c.context = &cl->context;
    c.commandQueue = &cl->queue;
    c.buffer = &s->buffer;
    c.bufferSize = &s->buffer_bytes;
    VkFFTResult fr = initializeVkFFT(&s->app, c);
    if (fr != VKFFT_SUCCESS) {
        vkfft_release(ctx, s);
        return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "dct2d: VkFFT could not plan %lldx%lld x %lld channels (VkFFT error %d)",
                       (long long)p->gh, (long long)p->gw, (long long)p->c, (int)fr);
    }
    *out = s;
    return FV_STATUS_OK;
}

static fv_status vkfft_record(fv_context *ctx, const fv_node *n, void *stream, void **state)
{
    const dct_params *p = (const dct_params *)n->params;
    cl_command_queue queue = (cl_command_queue)stream;
    size_t xoff, dbase;
    cl_mem xbuf = (cl_mem)fv_tensor_storage(n->src[0], &xoff)->impl;
    cl_mem dbuf = (cl_mem)fv_tensor_storage(n->dst, &dbase)->impl;
    const uint64_t work_off = dbase + p->off_scratch;
    const size_t work_bytes = (size_t)fv_dct_scratch_bytes(p);
    vkfft_state *s = *state;
    if (!s) {
        fv_status st = vkfft_plan(ctx, n, dbuf, work_off, &s);
        if (st) return st;
        *state = s;
    }
    s->buffer = dbuf;
    cl_int err = clEnqueueCopyBuffer(queue, xbuf, dbuf, xoff, (size_t)work_off, work_bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS) return fv_cl_status(ctx, err, "dct2d: copying x into the VkFFT scratch");
    VkFFTLaunchParams lp = {0};
    lp.commandQueue = &queue;
    lp.buffer = &s->buffer;
    lp.bufferOffset = work_off;
    VkFFTResult fr = VkFFTAppend(&s->app, -1, &lp);
    if (fr != VKFFT_SUCCESS)
        return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "dct2d: VkFFT could not enqueue (VkFFT error %d)", (int)fr);
    return FV_STATUS_OK;
}

static const fv_external vkfft_dct = {"vkfft_dct2d", vkfft_record, vkfft_release};

bool fv_dct_vkfft_opencl_built(void) { return true; }

fv_status fv_dct_vkfft_opencl_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    return fv_dct_push_vkfft(n, dev, out, &vkfft_dct, VKFFT_DCT2_FACTOR);
}
