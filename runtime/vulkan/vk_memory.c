/* Device memory: large blocks, each one VkDeviceMemory with one VkBuffer over
 * all of it, sub-allocated first-fit; direct mapping on unified memory,
 * a staging buffer otherwise. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

#define ALLOC_ALIGN 256 /* covers storage, uniform and texel offset alignments */

static const VkBufferUsageFlags BUFFER_USAGE =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
    VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
    VK_BUFFER_USAGE_TRANSFER_DST_BIT;

static void block_destroy(fv_vk *vk, fv_vk_block *b)
{
    if (b->buffer) vk->f.vkDestroyBuffer(vk->device, b->buffer, NULL);
    if (b->memory) vk->f.vkFreeMemory(vk->device, b->memory, NULL);
    free(b->free);
    free(b);
}

static fv_status block_create(fv_context *ctx, VkDeviceSize size, uint32_t type, bool dedicated,
                              fv_vk_block **out)
{
    fv_vk *vk = fv_vk_of(ctx);
    fv_vk_block *b = calloc(1, sizeof *b);
    if (!b) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    b->size = size;
    b->dedicated = dedicated;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = BUFFER_USAGE,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = vk->f.vkCreateBuffer(vk->device, &bci, NULL, &b->buffer);
    fv_status st = FV_STATUS_OK;
    if (r != VK_SUCCESS) {
        st = fv_vk_status(ctx, r, "vkCreateBuffer");
        goto fail;
    }
    VkMemoryRequirements req;
    vk->f.vkGetBufferMemoryRequirements(vk->device, b->buffer, &req);
    if (!(req.memoryTypeBits & (1u << type))) {
        st = fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "vulkan: buffer cannot live in memory type %u", type);
        goto fail;
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .allocationSize = req.size,
                                .memoryTypeIndex = type};
    r = vk->f.vkAllocateMemory(vk->device, &mai, NULL, &b->memory);
    if (r != VK_SUCCESS) {
        st = fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "vulkan: cannot allocate %llu bytes of device memory (VkResult %d)",
                     (unsigned long long)req.size, (int)r);
        goto fail;
    }
    r = vk->f.vkBindBufferMemory(vk->device, b->buffer, b->memory, 0);
    if (r == VK_SUCCESS && (vk->mem_props.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
        r = vk->f.vkMapMemory(vk->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
    if (r != VK_SUCCESS) {
        st = fv_vk_status(ctx, r, "binding or mapping memory");
        goto fail;
    }
    b->free = malloc(sizeof *b->free * 8);
    if (!b->free) {
        st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
        goto fail;
    }
    b->capfree = 8;
    b->nfree = 1;
    b->free[0] = (fv_vk_range){0, size};
    *out = b;
    return FV_STATUS_OK;
fail:
    block_destroy(vk, b);
    return st;
}

static bool block_take(fv_vk_block *b, VkDeviceSize size, VkDeviceSize *offset)
{
    for (int i = 0; i < b->nfree; i++) {
        fv_vk_range *f = &b->free[i];
        if (f->size < size) continue;
        *offset = f->offset;
        f->offset += size;
        f->size -= size;
        if (!f->size) {
            memmove(f, f + 1, (size_t)(b->nfree - i - 1) * sizeof *f);
            b->nfree--;
        }
        b->live++;
        return true;
    }
    return false;
}

/* Returns a range to the sorted free list, merging with its neighbours. */
static bool block_give(fv_vk_block *b, VkDeviceSize offset, VkDeviceSize size)
{
    int i = 0;
    while (i < b->nfree && b->free[i].offset < offset) i++;
    bool merge_prev = i > 0 && b->free[i - 1].offset + b->free[i - 1].size == offset;
    bool merge_next = i < b->nfree && offset + size == b->free[i].offset;
    if (merge_prev && merge_next) {
        b->free[i - 1].size += size + b->free[i].size;
        memmove(&b->free[i], &b->free[i + 1], (size_t)(b->nfree - i - 1) * sizeof *b->free);
        b->nfree--;
    } else if (merge_prev) {
        b->free[i - 1].size += size;
    } else if (merge_next) {
        b->free[i].offset = offset;
        b->free[i].size += size;
    } else {
        if (b->nfree == b->capfree) {
            fv_vk_range *n = realloc(b->free, sizeof *n * (size_t)b->capfree * 2);
            if (!n) return false; /* the range leaks inside the block until it dies */
            b->free = n;
            b->capfree *= 2;
        }
        memmove(&b->free[i + 1], &b->free[i], (size_t)(b->nfree - i) * sizeof *b->free);
        b->free[i] = (fv_vk_range){offset, size};
        b->nfree++;
    }
    b->live--;
    return true;
}

fv_status fv_vk_memory_alloc(fv_context *ctx, VkDeviceSize bytes, bool host_visible, fv_vk_alloc **out)
{
    fv_vk *vk = fv_vk_of(ctx);
    uint32_t type = host_visible ? vk->staging_type : vk->mem_type;
    VkDeviceSize size = FV_ALIGN_UP(bytes ? bytes : 1, ALLOC_ALIGN);
    if (size > ctx->info.max_alloc_bytes || size > ctx->info.memory_bytes)
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY,
                       "vulkan: %llu bytes requested; %s allows at most %llu in one allocation",
                       (unsigned long long)bytes, ctx->info.name,
                       (unsigned long long)FV_MIN(ctx->info.max_alloc_bytes, ctx->info.memory_bytes));
    fv_vk_alloc *a = calloc(1, sizeof *a);
    if (!a) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    a->size = size;
    bool shared = size <= FV_VK_BLOCK_BYTES / 2 && type == vk->mem_type;
    if (shared) {
        for (fv_vk_block *b = vk->blocks; b; b = b->next)
            if (!b->dedicated && block_take(b, size, &a->offset)) {
                a->block = b;
                *out = a;
                return FV_STATUS_OK;
            }
    }
    fv_vk_block *b = NULL;
    fv_status st = block_create(ctx, shared ? FV_VK_BLOCK_BYTES : size, type, !shared, &b);
    if (st) {
        free(a);
        return st;
    }
    block_take(b, size, &a->offset);
    b->next = vk->blocks;
    vk->blocks = b;
    a->block = b;
    *out = a;
    return FV_STATUS_OK;
}

void fv_vk_memory_free(fv_context *ctx, fv_vk_alloc *a)
{
    if (!a) return;
    fv_vk *vk = fv_vk_of(ctx);
    fv_vk_block *b = a->block;
    block_give(b, a->offset, a->size);
    if (b->live == 0 && b->dedicated) {
        fv_vk_block **pp = &vk->blocks;
        while (*pp != b) pp = &(*pp)->next;
        *pp = b->next;
        block_destroy(vk, b);
    }
    free(a);
}

void fv_vk_memory_destroy_all(fv_context *ctx)
{
    fv_vk *vk = fv_vk_of(ctx);
    if (vk->staging) fv_vk_memory_free(ctx, vk->staging);
    vk->staging = NULL;
    for (fv_vk_block *b = vk->blocks, *next; b; b = next) {
        next = b->next;
        block_destroy(vk, b);
    }
    vk->blocks = NULL;
}

void fv_vk_tensor_location(const fv_tensor *t, VkBuffer *buffer, VkDeviceSize *offset)
{
    size_t off;
    const fv_vk_alloc *a = fv_tensor_storage(t, &off)->impl;
    *buffer = a->block->buffer;
    *offset = a->offset + off;
}

/* ---- the vtable's buffer entries ---- */

fv_status fv_vk_buffer_alloc(fv_context *ctx, size_t bytes, fv_buffer **out)
{
    fv_buffer *buf = calloc(1, sizeof *buf);
    if (!buf) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    fv_vk_alloc *a;
    fv_status st = fv_vk_memory_alloc(ctx, bytes, false, &a);
    if (st) {
        free(buf);
        return st;
    }
    buf->impl = a;
    buf->size = bytes;
    buf->host = a->block->mapped ? (char *)a->block->mapped + a->offset : NULL;
    *out = buf;
    return FV_STATUS_OK;
}

void fv_vk_buffer_free(fv_context *ctx, fv_buffer *buf)
{
    if (!buf) return;
    fv_vk_memory_free(ctx, buf->impl);
    free(buf);
}

fv_status fv_vk_submit_and_wait(fv_context *ctx, VkCommandBuffer cmd)
{
    fv_vk *vk = fv_vk_of(ctx);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    VkResult r = vk->f.vkResetFences(vk->device, 1, &vk->fence);
    if (r == VK_SUCCESS) r = vk->f.vkQueueSubmit(vk->queue, 1, &si, vk->fence);
    if (r == VK_SUCCESS) r = vk->f.vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, UINT64_MAX);
    return r == VK_SUCCESS ? FV_STATUS_OK : fv_vk_status(ctx, r, "queue submit");
}

/* Copies between a device buffer and the host through the staging buffer,
 * in chunks of the staging size. */
static fv_status staged_copy(fv_context *ctx, fv_buffer *buf, size_t off, void *host, size_t n, bool to_device)
{
    fv_vk *vk = fv_vk_of(ctx);
    const size_t chunk_max = (size_t)16 << 20;
    size_t want = FV_MIN(n, chunk_max);
    if (!vk->staging || vk->staging->size < want) {
        if (vk->staging) fv_vk_memory_free(ctx, vk->staging);
        vk->staging = NULL;
        fv_status st = fv_vk_memory_alloc(ctx, want, true, &vk->staging);
        if (st) return st;
    }
    const fv_vk_alloc *a = buf->impl;
    for (size_t done = 0; done < n;) {
        size_t len = FV_MIN(n - done, (size_t)vk->staging->size);
        char *stage = (char *)vk->staging->block->mapped + vk->staging->offset;
        if (to_device) memcpy(stage, (char *)host + done, len);
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                       .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        VkResult r = vk->f.vkBeginCommandBuffer(vk->xfer_cmd, &bi);
        if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkBeginCommandBuffer");
        VkBufferCopy region = {.size = len};
        if (to_device) {
            region.srcOffset = vk->staging->offset;
            region.dstOffset = a->offset + off + done;
            vk->f.vkCmdCopyBuffer(vk->xfer_cmd, vk->staging->block->buffer, a->block->buffer, 1, &region);
        } else {
            region.srcOffset = a->offset + off + done;
            region.dstOffset = vk->staging->offset;
            vk->f.vkCmdCopyBuffer(vk->xfer_cmd, a->block->buffer, vk->staging->block->buffer, 1, &region);
        }
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT};
        vk->f.vkCmdPipelineBarrier(vk->xfer_cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                   VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                                   0, NULL, 0, NULL);
        r = vk->f.vkEndCommandBuffer(vk->xfer_cmd);
        if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkEndCommandBuffer");
        fv_status st = fv_vk_submit_and_wait(ctx, vk->xfer_cmd);
        if (st) return st;
        if (!to_device) memcpy((char *)host + done, stage, len);
        done += len;
    }
    return FV_STATUS_OK;
}

fv_status fv_vk_buffer_write(fv_context *ctx, fv_buffer *b, size_t off, const void *src, size_t n)
{
    if (b->host) {
        memcpy((char *)b->host + off, src, n);
        return FV_STATUS_OK;
    }
    return staged_copy(ctx, b, off, (void *)src, n, true);
}

fv_status fv_vk_buffer_read(fv_context *ctx, fv_buffer *b, size_t off, void *dst, size_t n)
{
    if (b->host) {
        memcpy(dst, (const char *)b->host + off, n);
        return FV_STATUS_OK;
    }
    return staged_copy(ctx, b, off, dst, n, false);
}
