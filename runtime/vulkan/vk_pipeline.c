/* Compute pipelines from the embedded SPIR-V, specialised per dispatch, with
 * an on-disk VkPipelineCache keyed by device UUID and driver version. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

static VkDescriptorType descriptor_type(fv_bind_kind k)
{
    return k == FV_BIND_STORAGE ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
}

fv_status fv_vk_pipeline_cache_open(fv_context *ctx)
{
    fv_vk *vk = fv_vk_of(ctx);
    void *data = NULL;
    size_t size = 0;
    vk->cache_path[0] = '\0';
    if (ctx->cache_dir[0]) {
        char uuid[2 * VK_UUID_SIZE + 1];
        for (unsigned i = 0; i < VK_UUID_SIZE; i++) snprintf(uuid + 2 * i, 3, "%02x", vk->props.pipelineCacheUUID[i]);
        snprintf(vk->cache_path, sizeof vk->cache_path, "%s/vk-%04x-%04x-%08x-%s.cache", ctx->cache_dir,
                 vk->props.vendorID, vk->props.deviceID, vk->props.driverVersion, uuid);
        FILE *fp = fopen(vk->cache_path, "rb");
        if (fp) {
            if (fseek(fp, 0, SEEK_END) == 0) {
                long len = ftell(fp);
                if (len > 0 && len < (64L << 20) && fseek(fp, 0, SEEK_SET) == 0 && (data = malloc((size_t)len))) {
                    size = fread(data, 1, (size_t)len, fp);
                    if (size != (size_t)len) size = 0;
                }
            }
            fclose(fp);
        }
    }
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                    .initialDataSize = size,
                                    .pInitialData = size ? data : NULL};
    VkResult r = vk->f.vkCreatePipelineCache(vk->device, &ci, NULL, &vk->cache);
    if (r != VK_SUCCESS && size) { /* a corrupt file: start empty */
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        size = 0;
        r = vk->f.vkCreatePipelineCache(vk->device, &ci, NULL, &vk->cache);
    }
    free(data);
    vk->cache_bytes_loaded = size;
    return r == VK_SUCCESS ? FV_STATUS_OK : fv_vk_status(ctx, r, "vkCreatePipelineCache");
}

static void cache_save(fv_context *ctx)
{
    fv_vk *vk = fv_vk_of(ctx);
    if (!vk->cache || !vk->cache_path[0] || !vk->npipelines) return;
    size_t size = 0;
    if (vk->f.vkGetPipelineCacheData(vk->device, vk->cache, &size, NULL) != VK_SUCCESS || !size) return;
    if (size == vk->cache_bytes_loaded) return; /* nothing new */
    void *data = malloc(size);
    if (!data) return;
    if (vk->f.vkGetPipelineCacheData(vk->device, vk->cache, &size, data) == VK_SUCCESS) {
        /* write to a temporary file and rename, so readers never see half a file */
        char tmp[sizeof vk->cache_path + 16];
        snprintf(tmp, sizeof tmp, "%s.%d", vk->cache_path, (int)(size & 0xffff));
        FILE *fp = fopen(tmp, "wb");
        if (fp) {
            bool ok = fwrite(data, 1, size, fp) == size;
            ok = fclose(fp) == 0 && ok;
            if (ok) rename(tmp, vk->cache_path);
            else remove(tmp);
        }
    }
    free(data);
}

static void pipeline_destroy(fv_vk *vk, fv_vk_pipeline *p)
{
    if (p->pipeline) vk->f.vkDestroyPipeline(vk->device, p->pipeline, NULL);
    if (p->layout) vk->f.vkDestroyPipelineLayout(vk->device, p->layout, NULL);
    if (p->set_layout) vk->f.vkDestroyDescriptorSetLayout(vk->device, p->set_layout, NULL);
}

void fv_vk_pipeline_destroy_all(fv_context *ctx)
{
    fv_vk *vk = fv_vk_of(ctx);
    cache_save(ctx);
    for (int i = 0; i < vk->npipelines; i++) {
        pipeline_destroy(vk, vk->pipelines[i]);
        free(vk->pipelines[i]);
    }
    free(vk->pipelines);
    vk->pipelines = NULL;
    vk->npipelines = vk->cappipelines = 0;
    if (vk->cache) vk->f.vkDestroyPipelineCache(vk->device, vk->cache, NULL);
    vk->cache = VK_NULL_HANDLE;
}

static void make_key(const fv_dispatch *d, char *key, size_t size)
{
    size_t n = (size_t)snprintf(key, size, "%s|", d->kernel);
    for (int i = 0; i < d->nspec && n < size; i++) n += (size_t)snprintf(key + n, size - n, "%u,", d->spec[i]);
    for (int i = 0; i < d->nbind && n < size; i++) n += (size_t)snprintf(key + n, size - n, "%c", 'a' + d->bind[i].kind);
    if (n < size) snprintf(key + n, size - n, "|%u", d->push_bytes);
}

static fv_status create_pipeline(fv_context *ctx, const fv_dispatch *d, fv_vk_pipeline *p)
{
    fv_vk *vk = fv_vk_of(ctx);
    const fv_kernel_blob *blob = fv_spirv_find(d->kernel);
    if (!blob) return fv_fail(ctx, FV_STATUS_UNSUPPORTED, "vulkan: no kernel named %s in this build", d->kernel);
    VkDescriptorSetLayoutBinding b[FV_MAX_BINDINGS + 1];
    b[0] = (VkDescriptorSetLayoutBinding){0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    for (int i = 0; i < d->nbind; i++) {
        b[i + 1] = (VkDescriptorSetLayoutBinding){(uint32_t)i + 1, descriptor_type(d->bind[i].kind), 1,
                                                  VK_SHADER_STAGE_COMPUTE_BIT, NULL};
        p->kinds[i] = d->bind[i].kind;
    }
    p->nbind = d->nbind;
    VkDescriptorSetLayoutCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = (uint32_t)d->nbind + 1,
                                           .pBindings = b};
    VkResult r = vk->f.vkCreateDescriptorSetLayout(vk->device, &dci, NULL, &p->set_layout);
    if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkCreateDescriptorSetLayout");
    VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_bytes};
    VkPipelineLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &p->set_layout,
                                      .pushConstantRangeCount = d->push_bytes ? 1 : 0,
                                      .pPushConstantRanges = &pcr};
    r = vk->f.vkCreatePipelineLayout(vk->device, &lci, NULL, &p->layout);
    if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkCreatePipelineLayout");
    VkShaderModuleCreateInfo sci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = blob->bytes,
                                    .pCode = blob->code};
    VkShaderModule module;
    r = vk->f.vkCreateShaderModule(vk->device, &sci, NULL, &module);
    if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkCreateShaderModule");
    VkSpecializationMapEntry entries[FV_MAX_SPEC];
    for (int i = 0; i < d->nspec; i++) entries[i] = (VkSpecializationMapEntry){(uint32_t)i, (uint32_t)i * 4, 4};
    VkSpecializationInfo spec = {(uint32_t)d->nspec, entries, (size_t)d->nspec * 4, d->spec};
    VkComputePipelineCreateInfo cci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main",
                  .pSpecializationInfo = d->nspec ? &spec : NULL},
        .layout = p->layout};
    r = vk->f.vkCreateComputePipelines(vk->device, vk->cache, 1, &cci, NULL, &p->pipeline);
    vk->f.vkDestroyShaderModule(vk->device, module, NULL);
    if (r != VK_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "creating pipeline %s", d->kernel);
        return fv_vk_status(ctx, r, what);
    }
    return FV_STATUS_OK;
}

fv_status fv_vk_pipeline_get(fv_context *ctx, const fv_dispatch *d, fv_vk_pipeline **out)
{
    fv_vk *vk = fv_vk_of(ctx);
    char key[sizeof vk->pipelines[0]->key];
    make_key(d, key, sizeof key);
    for (int i = 0; i < vk->npipelines; i++)
        if (strcmp(vk->pipelines[i]->key, key) == 0) {
            *out = vk->pipelines[i];
            return FV_STATUS_OK;
        }
    if (vk->npipelines == vk->cappipelines) {
        int cap = vk->cappipelines ? vk->cappipelines * 2 : 64;
        fv_vk_pipeline **n = realloc(vk->pipelines, (size_t)cap * sizeof *n);
        if (!n) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
        vk->pipelines = n;
        vk->cappipelines = cap;
    }
    fv_vk_pipeline *p = calloc(1, sizeof *p);
    if (!p) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    snprintf(p->key, sizeof p->key, "%s", key);
    fv_status st = create_pipeline(ctx, d, p);
    if (st) {
        pipeline_destroy(vk, p);
        free(p);
        return st;
    }
    vk->pipelines[vk->npipelines++] = p;
    *out = p;
    return FV_STATUS_OK;
}
