/* Graph recording and replay on Vulkan: each node's dispatches go into one
 * command buffer recorded once, with barriers only where a dispatch touches
 * memory that an earlier, unsynchronised dispatch wrote (or wrote memory an
 * earlier one read). Per-replay values live in a small host-visible
 * parameter buffer bound at binding 0 of every kernel. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct rec_dispatch {
    fv_dispatch d;
    int node;
} rec_dispatch;

struct fv_recording {
    VkCommandBuffer cmd;
    VkDescriptorPool pool;
    VkBufferView *views;
    int nviews;
    fv_vk_alloc *params;
    VkQueryPool queries;
    int count; /* nodes */
    double *ms;
    struct rec_external {
        const fv_external *ext;
        void *state;
    } *externals; /* external commands' state, released with the recording */
    int nexternals;
};

typedef struct mem_range {
    VkBuffer buffer;
    VkDeviceSize begin, end;
} mem_range;

typedef struct hazard_set {
    mem_range *reads, *writes;
    int nreads, nwrites, cap;
} hazard_set;

static bool overlaps(const mem_range *set, int n, const mem_range *r)
{
    for (int i = 0; i < n; i++)
        if (set[i].buffer == r->buffer && set[i].begin < r->end && r->begin < set[i].end) return true;
    return false;
}

const char *fv_vk_supports_op(fv_context *ctx, const fv_node *n)
{
    if (!n->op->encode) return "the op has no Vulkan kernel yet";
    return n->op->unsupported ? n->op->unsupported(n, &ctx->info) : NULL;
}

void fv_vk_release(fv_context *ctx, fv_recording *rec)
{
    if (!rec) return;
    fv_vk *vk = fv_vk_of(ctx);
    vk->f.vkDeviceWaitIdle(vk->device);
    for (int i = 0; i < rec->nexternals; i++)
        if (rec->externals[i].ext->release) rec->externals[i].ext->release(ctx, rec->externals[i].state);
    free(rec->externals);
    for (int i = 0; i < rec->nviews; i++) vk->f.vkDestroyBufferView(vk->device, rec->views[i], NULL);
    free(rec->views);
    if (rec->pool) vk->f.vkDestroyDescriptorPool(vk->device, rec->pool, NULL);
    if (rec->cmd) vk->f.vkFreeCommandBuffers(vk->device, vk->pool, 1, &rec->cmd);
    if (rec->queries) vk->f.vkDestroyQueryPool(vk->device, rec->queries, NULL);
    fv_vk_memory_free(ctx, rec->params);
    free(rec->ms);
    free(rec);
}

static VkFormat texel_format(fv_bind_kind k)
{
    switch (k) {
    case FV_BIND_TEXEL_F32X4: return VK_FORMAT_R32G32B32A32_SFLOAT;
    case FV_BIND_TEXEL_F16X4: return VK_FORMAT_R16G16B16A16_SFLOAT;
    case FV_BIND_TEXEL_F32: return VK_FORMAT_R32_SFLOAT;
    case FV_BIND_TEXEL_F16: return VK_FORMAT_R16_SFLOAT;
    case FV_BIND_TEXEL_U32X4: return VK_FORMAT_R32G32B32A32_UINT;
    default: return VK_FORMAT_UNDEFINED;
    }
}
static VkDeviceSize texel_bytes(fv_bind_kind k)
{
    switch (k) {
    case FV_BIND_TEXEL_F32X4:
    case FV_BIND_TEXEL_U32X4: return 16;
    case FV_BIND_TEXEL_F16X4: return 8;
    case FV_BIND_TEXEL_F32: return 4;
    default: return 2;
    }
}

static void barrier(fv_vk *vk, VkCommandBuffer cmd, VkAccessFlags src, VkAccessFlags dst,
                    VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src, .dstAccessMask = dst};
    vk->f.vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* Encodes every node, so the descriptor pool can be sized exactly. */
static fv_status encode_all(fv_context *ctx, fv_node *nodes, int count, rec_dispatch **out, int *nout)
{
    int cap = count + 8, n = 0;
    rec_dispatch *all = malloc((size_t)cap * sizeof *all);
    fv_dispatch_list *list = malloc(sizeof *list);
    if (!all || !list) {
        free(all);
        free(list);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    }
    for (int i = 0; i < count; i++) {
        list->n = 0;
        fv_status st = nodes[i].op->encode(&nodes[i], &ctx->info, list);
        if (st) {
            free(all);
            free(list);
            return st;
        }
        nodes[i].kernel = list->n ? list->d[0].kernel : "(view)";
        if (n + list->n > cap) {
            cap = (n + list->n) * 2;
            rec_dispatch *grown = realloc(all, (size_t)cap * sizeof *all);
            if (!grown) {
                free(all);
                free(list);
                return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
            }
            all = grown;
        }
        for (int k = 0; k < list->n; k++) all[n++] = (rec_dispatch){list->d[k], i};
    }
    free(list);
    *out = all;
    *nout = n;
    return FV_STATUS_OK;
}

fv_status fv_vk_record(fv_context *ctx, fv_node *nodes, int count, fv_recording **out)
{
    fv_vk *vk = fv_vk_of(ctx);
    rec_dispatch *ds = NULL;
    int nd = 0;
    hazard_set hz = {0};
    fv_status st = encode_all(ctx, nodes, count, &ds, &nd);
    if (st) return st;
    fv_recording *rec = calloc(1, sizeof *rec);
    if (!rec) {
        free(ds);
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    }
    rec->count = count;
    VkResult r = VK_SUCCESS;
    int nstorage = nd, ntexel = 0;
    for (int i = 0; i < nd; i++)
        for (int b = 0; b < ds[i].d.nbind; b++) {
            if (ds[i].d.bind[b].kind == FV_BIND_STORAGE) nstorage++;
            else ntexel++;
        }
    rec->views = calloc((size_t)ntexel + 1, sizeof *rec->views);
    rec->ms = calloc((size_t)count + 1, sizeof *rec->ms);
    rec->externals = calloc((size_t)nd + 1, sizeof *rec->externals);
    hz.cap = 8 * nd + 8;
    hz.reads = malloc((size_t)hz.cap * sizeof *hz.reads);
    hz.writes = malloc((size_t)hz.cap * sizeof *hz.writes);
    if (!rec->views || !rec->ms || !rec->externals || !hz.reads || !hz.writes) {
        st = fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
        goto fail;
    }
    st = fv_vk_memory_alloc(ctx, FV_GRAPH_PARAM_SLOTS * sizeof(int32_t), true, &rec->params);
    if (st) goto fail;
    /* never a zero count (invalid): a graph may have no dispatch at all */
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, (uint32_t)FV_MAX(nstorage, 1)},
                                     {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, (uint32_t)FV_MAX(ntexel, 1)}};
    VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = (uint32_t)FV_MAX(nd, 1),
                                      .poolSizeCount = 2,
                                      .pPoolSizes = sizes};
    r = vk->f.vkCreateDescriptorPool(vk->device, &pci, NULL, &rec->pool);
    if (r == VK_SUCCESS) {
        VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                           .commandPool = vk->pool,
                                           .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                           .commandBufferCount = 1};
        r = vk->f.vkAllocateCommandBuffers(vk->device, &cai, &rec->cmd);
    }
    bool timing = ctx->profile && vk->timestamp_valid_bits > 0;
    if (r == VK_SUCCESS && timing) {
        VkQueryPoolCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = (uint32_t)count + 1};
        r = vk->f.vkCreateQueryPool(vk->device, &qci, NULL, &rec->queries);
    }
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (r == VK_SUCCESS) r = vk->f.vkBeginCommandBuffer(rec->cmd, &bi);
    if (r != VK_SUCCESS) {
        st = fv_vk_status(ctx, r, "recording a graph");
        goto fail;
    }
    VkCommandBuffer cmd = rec->cmd;
    /* earlier submissions' writes (replays, uploads) become visible here */
    barrier(vk, cmd, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    if (timing) {
        vk->f.vkCmdResetQueryPool(cmd, rec->queries, 0, (uint32_t)count + 1);
        vk->f.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, rec->queries, 0);
    }
    int next_node = 0; /* timestamps after every node, dispatches or not */
    for (int i = 0; i <= nd; i++) {
        int node = i < nd ? ds[i].node : count;
        for (; timing && next_node < node; next_node++)
            vk->f.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, rec->queries,
                                      (uint32_t)next_node + 1);
        if (i == nd) break;
        const fv_dispatch *d = &ds[i].d;
        if (d->external) {
            /* an op's own commands: everything before is complete and
             * visible to them, and theirs to everything after */
            const VkAccessFlags any = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                      VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
            const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
            barrier(vk, cmd, any, any, stages, stages);
            struct rec_external *e = &rec->externals[rec->nexternals];
            e->ext = d->external;
            e->state = NULL;
            st = d->external->record(ctx, &nodes[ds[i].node], (void *)cmd, &e->state);
            if (st) goto fail;
            rec->nexternals++;
            barrier(vk, cmd, any, any, stages, stages);
            hz.nreads = hz.nwrites = 0;
            continue;
        }
        fv_vk_pipeline *p;
        st = fv_vk_pipeline_get(ctx, d, &p);
        if (st) goto fail;
        VkDescriptorSetAllocateInfo dai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                           .descriptorPool = rec->pool,
                                           .descriptorSetCount = 1,
                                           .pSetLayouts = &p->set_layout};
        VkDescriptorSet set;
        r = vk->f.vkAllocateDescriptorSets(vk->device, &dai, &set);
        if (r != VK_SUCCESS) {
            st = fv_vk_status(ctx, r, "vkAllocateDescriptorSets");
            goto fail;
        }
        VkWriteDescriptorSet w[FV_MAX_BINDINGS + 1];
        VkDescriptorBufferInfo bufs[FV_MAX_BINDINGS + 1];
        VkBufferView views[FV_MAX_BINDINGS];
        mem_range ranges[FV_MAX_BINDINGS];
        bufs[0] = (VkDescriptorBufferInfo){rec->params->block->buffer, rec->params->offset,
                                           FV_GRAPH_PARAM_SLOTS * sizeof(int32_t)};
        w[0] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = set,
                                      .dstBinding = 0,
                                      .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &bufs[0]};
        bool need_barrier = false;
        for (int b = 0; b < d->nbind; b++) {
            const fv_binding *bd = &d->bind[b];
            VkBuffer buffer;
            VkDeviceSize base;
            fv_vk_tensor_location(bd->t, &buffer, &base);
            VkDeviceSize off = base + bd->offset, size = bd->size;
            ranges[b] = (mem_range){buffer, off, off + size};
            need_barrier |= overlaps(hz.writes, hz.nwrites, &ranges[b]);
            if (bd->write) need_barrier |= overlaps(hz.reads, hz.nreads, &ranges[b]);
            w[b + 1] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                              .dstSet = set,
                                              .dstBinding = (uint32_t)b + 1,
                                              .descriptorCount = 1};
            if (bd->kind == FV_BIND_STORAGE) {
                if (size > ctx->info.max_storage_range) {
                    st = fv_fail(ctx, FV_STATUS_UNSUPPORTED,
                                 "vulkan: %s binds %llu bytes; the device allows %llu per storage binding",
                                 d->kernel, (unsigned long long)size, (unsigned long long)ctx->info.max_storage_range);
                    goto fail;
                }
                bufs[b + 1] = (VkDescriptorBufferInfo){buffer, off, size};
                w[b + 1].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
                w[b + 1].pBufferInfo = &bufs[b + 1];
            } else {
                VkDeviceSize tb = texel_bytes(bd->kind);
                VkDeviceSize elems = size / tb;
                if (elems > vk->props.limits.maxTexelBufferElements) elems = vk->props.limits.maxTexelBufferElements;
                if (off % vk->props.limits.minTexelBufferOffsetAlignment || elems == 0) {
                    st = fv_fail(ctx, FV_STATUS_UNSUPPORTED, "vulkan: %s: texel binding at offset %llu is not aligned",
                                 d->kernel, (unsigned long long)off);
                    goto fail;
                }
                VkBufferViewCreateInfo vci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                              .buffer = buffer,
                                              .format = texel_format(bd->kind),
                                              .offset = off,
                                              .range = elems * tb};
                r = vk->f.vkCreateBufferView(vk->device, &vci, NULL, &views[b]);
                if (r != VK_SUCCESS) {
                    st = fv_vk_status(ctx, r, "vkCreateBufferView");
                    goto fail;
                }
                rec->views[rec->nviews++] = views[b];
                w[b + 1].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
                w[b + 1].pTexelBufferView = &views[b];
            }
        }
        vk->f.vkUpdateDescriptorSets(vk->device, (uint32_t)d->nbind + 1, w, 0, NULL);
        if (need_barrier) {
            barrier(vk, cmd, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
            hz.nreads = hz.nwrites = 0;
        }
        for (int b = 0; b < d->nbind; b++) {
            if (d->bind[b].write) hz.writes[hz.nwrites++] = ranges[b];
            else hz.reads[hz.nreads++] = ranges[b];
        }
        vk->f.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
        vk->f.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0, NULL);
        if (d->push_bytes)
            vk->f.vkCmdPushConstants(cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_bytes, d->push);
        vk->f.vkCmdDispatch(cmd, d->groups[0], d->groups[1], d->groups[2]);
    }
    /* results become visible to the host and to transfers */
    barrier(vk, cmd, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT);
    r = vk->f.vkEndCommandBuffer(cmd);
    if (r != VK_SUCCESS) {
        st = fv_vk_status(ctx, r, "vkEndCommandBuffer");
        goto fail;
    }
    free(ds);
    free(hz.reads);
    free(hz.writes);
    *out = rec;
    return FV_STATUS_OK;
fail:
    free(ds);
    free(hz.reads);
    free(hz.writes);
    if (rec->cmd) {
        vk->f.vkEndCommandBuffer(rec->cmd);
    }
    fv_vk_release(ctx, rec);
    return st;
}

fv_status fv_vk_replay(fv_context *ctx, fv_recording *rec, const int32_t *params)
{
    fv_vk *vk = fv_vk_of(ctx);
    memcpy((char *)rec->params->block->mapped + rec->params->offset, params,
           FV_GRAPH_PARAM_SLOTS * sizeof(int32_t));
    fv_status st = fv_vk_submit_and_wait(ctx, rec->cmd);
    if (st || !rec->queries) return st;
    uint64_t *ts = malloc(((size_t)rec->count + 1) * sizeof *ts);
    if (!ts) return FV_STATUS_OK;
    VkResult r = vk->f.vkGetQueryPoolResults(vk->device, rec->queries, 0, (uint32_t)rec->count + 1,
                                             ((size_t)rec->count + 1) * sizeof *ts, ts, sizeof *ts,
                                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r == VK_SUCCESS) {
        uint64_t mask = vk->timestamp_valid_bits >= 64 ? ~0ull : ((1ull << vk->timestamp_valid_bits) - 1);
        for (int i = 0; i < rec->count; i++)
            rec->ms[i] = (double)((ts[i + 1] - ts[i]) & mask) * vk->props.limits.timestampPeriod * 1e-6;
    }
    free(ts);
    return FV_STATUS_OK;
}

int fv_vk_timings(fv_context *ctx, fv_recording *rec, double *ms, int capacity)
{
    (void)ctx;
    int n = FV_MIN(capacity, rec->count);
    memcpy(ms, rec->ms, (size_t)n * sizeof *ms);
    return n;
}
