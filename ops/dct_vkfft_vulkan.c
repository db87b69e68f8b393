/* dct2d's VkFFT path on Vulkan (VkFFT 1.2.26, Tolmachev 2023). The node's
 * work is one external command and one kernel:
 *   1. (external) copy x into the scratch part of the node's dst, then
 *      VkFFT's DCT-II in place over the two grid axes of [B, gh, gw, C]
 *      (C, the innermost axis, is batched: omitDimension[0]);
 *   2. dct_crop (shaders/dct.comp, via fv_dct_push_crop) takes the kept
 *      kh x kw block and scales VkFFT's unnormalised coefficients to the
 *      orthonormal convention.
 *
 * VkFFT records its own pipelines and descriptor sets; it binds the buffer it
 * was planned with, so one VkFFT application belongs to one recording (made
 * in record(), deleted in release()). Planning compiles GLSL with glslang:
 * ~150 ms on lavapipe per recording.
 *
 * Vulkan entry points. VkFFT calls vkCmdDispatch & co. by their global
 * names and 1.2.26 takes no table of function pointers. fovea has no
 * link-time libvulkan (it dlopens the loader, so the library loads without
 * one), so linking libvulkan for this file alone would make the whole
 * library depend on it. Instead, with VK_NO_PROTOTYPES (vk_loader.h) the
 * names are macros for the entries of the recording context's own table:
 * the same loader and the same dispatchable handles fovea uses everywhere,
 * and nothing VkFFT calls goes unaccounted (a function missing from the
 * table is a compile error here). The table pointer is set for the duration
 * of each VkFFT call; recording is single-threaded per context, and the
 * pointer is thread-local so two contexts on two threads do not collide. */
#include "dct_internal.h"

#include "../runtime/vulkan/vk_internal.h"

#include <stdlib.h>

static _Thread_local const fv_vk_funcs *vkfft_vk;

#define vkAllocateCommandBuffers vkfft_vk->vkAllocateCommandBuffers
#define vkAllocateDescriptorSets vkfft_vk->vkAllocateDescriptorSets
#define vkAllocateMemory vkfft_vk->vkAllocateMemory
#define vkBeginCommandBuffer vkfft_vk->vkBeginCommandBuffer
#define vkBindBufferMemory vkfft_vk->vkBindBufferMemory
#define vkCmdBindDescriptorSets vkfft_vk->vkCmdBindDescriptorSets
#define vkCmdBindPipeline vkfft_vk->vkCmdBindPipeline
#define vkCmdCopyBuffer vkfft_vk->vkCmdCopyBuffer
#define vkCmdDispatch vkfft_vk->vkCmdDispatch
#define vkCmdPipelineBarrier vkfft_vk->vkCmdPipelineBarrier
#define vkCmdPushConstants vkfft_vk->vkCmdPushConstants
#define vkCreateBuffer vkfft_vk->vkCreateBuffer
#define vkCreateComputePipelines vkfft_vk->vkCreateComputePipelines
#define vkCreateDescriptorPool vkfft_vk->vkCreateDescriptorPool
#define vkCreateDescriptorSetLayout vkfft_vk->vkCreateDescriptorSetLayout
#define vkCreatePipelineLayout vkfft_vk->vkCreatePipelineLayout
#define vkCreateShaderModule vkfft_vk->vkCreateShaderModule
#define vkDestroyBuffer vkfft_vk->vkDestroyBuffer
#define vkDestroyDescriptorPool vkfft_vk->vkDestroyDescriptorPool
#define vkDestroyDescriptorSetLayout vkfft_vk->vkDestroyDescriptorSetLayout
#define vkDestroyPipeline vkfft_vk->vkDestroyPipeline
#define vkDestroyPipelineLayout vkfft_vk->vkDestroyPipelineLayout
#define vkDestroyShaderModule vkfft_vk->vkDestroyShaderModule
#define vkEndCommandBuffer vkfft_vk->vkEndCommandBuffer
#define vkFreeCommandBuffers vkfft_vk->vkFreeCommandBuffers
#define vkFreeMemory vkfft_vk->vkFreeMemory
#define vkGetBufferMemoryRequirements vkfft_vk->vkGetBufferMemoryRequirements
#define vkGetPhysicalDeviceMemoryProperties vkfft_vk->vkGetPhysicalDeviceMemoryProperties
#define vkGetPhysicalDeviceProperties vkfft_vk->vkGetPhysicalDeviceProperties
#define vkMapMemory vkfft_vk->vkMapMemory
#define vkQueueSubmit vkfft_vk->vkQueueSubmit
#define vkResetFences vkfft_vk->vkResetFences
#define vkUnmapMemory vkfft_vk->vkUnmapMemory
#define vkUpdateDescriptorSets vkfft_vk->vkUpdateDescriptorSets
#define vkWaitForFences vkfft_vk->vkWaitForFences

#define VKFFT_BACKEND 0
#include "vkFFT.h" /* the build tree's copy, fixed by scripts/patch_vkfft.py */
#include "dct_vkfft_common.h"

typedef struct vkfft_state {
    VkFFTApplication app;
    VkFence fence;
    VkBuffer buffer;
    uint64_t buffer_bytes;
} vkfft_state;

static void vkfft_release(fv_context *ctx, void *state)
{
    vkfft_state *s = state;
    if (!s) return;
    fv_vk *vk = fv_vk_of(ctx);
    vkfft_vk = &vk->f;
    deleteVkFFT(&s->app);
    if (s->fence) vk->f.vkDestroyFence(vk->device, s->fence, NULL);
    vkfft_vk = NULL;
    free(s);
}

static fv_status vkfft_record(fv_context *ctx, const fv_node *n, void *stream, void **state)
{
    const dct_params *p = (const dct_params *)n->params;
    fv_vk *vk = fv_vk_of(ctx);
    VkCommandBuffer cmd = (VkCommandBuffer)stream;
    vkfft_state *s = calloc(1, sizeof *s);
    if (!s) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "dct2d: out of host memory");
    VkBuffer xbuf;
    VkDeviceSize xoff, dbase;
    fv_vk_tensor_location(n->src[0], &xbuf, &xoff);
    fv_vk_tensor_location(n->dst, &s->buffer, &dbase);
    const VkDeviceSize work_off = dbase + p->off_scratch;
    const VkDeviceSize work_bytes = fv_dct_scratch_bytes(p);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = vk->f.vkCreateFence(vk->device, &fci, NULL, &s->fence);
    if (r != VK_SUCCESS) {
        free(s);
        return fv_vk_status(ctx, r, "dct2d: vkCreateFence");
    }
    VkFFTConfiguration c = {0};
    dct_vkfft_layout(&c, p, work_off);
    c.physicalDevice = &vk->phys;
    c.device = &vk->device;
    c.queue = &vk->queue;
    c.commandPool = &vk->pool;
    c.fence = &s->fence;
    c.buffer = &s->buffer;
    s->buffer_bytes = work_off + work_bytes; /* VkFFT checks offsets against it */
    c.bufferSize = &s->buffer_bytes;
    vkfft_vk = &vk->f;
    VkFFTResult fr = initializeVkFFT(&s->app, c);
    vkfft_vk = NULL;
    if (fr != VKFFT_SUCCESS) {
        vkfft_release(ctx, s);
        return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "dct2d: VkFFT could not plan %lldx%lld x %lld channels (VkFFT error %d)",
                       (long long)p->gh, (long long)p->gw, (long long)p->c, (int)fr);
    }
    VkBufferCopy region = {.srcOffset = xoff, .dstOffset = work_off, .size = work_bytes};
    vkfft_vk = &vk->f; /* the names below are the table's entries, as VkFFT's are */
    vkCmdCopyBuffer(cmd, xbuf, s->buffer, 1, &region);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL,
                         0, NULL);
    VkFFTLaunchParams lp = {0};
    lp.commandBuffer = &cmd;
    lp.buffer = &s->buffer;
    lp.bufferOffset = work_off;
    fr = VkFFTAppend(&s->app, -1, &lp);
    vkfft_vk = NULL;
    if (fr != VKFFT_SUCCESS) {
        vkfft_release(ctx, s);
        return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "dct2d: VkFFT could not record (VkFFT error %d)", (int)fr);
    }
    *state = s;
    return FV_STATUS_OK;
}

static const fv_external vkfft_dct = {"vkfft_dct2d", vkfft_record, vkfft_release};

bool fv_dct_vkfft_vulkan_built(void) { return true; }

fv_status fv_dct_vkfft_vulkan_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    return fv_dct_push_vkfft(n, dev, out, &vkfft_dct, VKFFT_DCT2_FACTOR);
}
