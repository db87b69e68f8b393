/* State of the Vulkan backend, shared by its files (device, memory,
 * pipelines, commands). */
#ifndef FOVEA_VK_INTERNAL_H
#define FOVEA_VK_INTERNAL_H

#include "../internal.h"
#include "vk_loader.h"

#define FV_VK_BLOCK_BYTES ((VkDeviceSize)64 << 20)

/* One VkDeviceMemory with one VkBuffer over all of it; sub-allocations are
 * ranges of that buffer. */
typedef struct fv_vk_range {
    VkDeviceSize offset, size;
} fv_vk_range;

typedef struct fv_vk_block {
    VkDeviceMemory memory;
    VkBuffer buffer;
    VkDeviceSize size;
    void *mapped;          /* non-NULL on host-visible memory */
    fv_vk_range *free;     /* sorted by offset */
    int nfree, capfree;
    int live;              /* allocations in use */
    bool dedicated;        /* freed with its only allocation */
    struct fv_vk_block *next;
} fv_vk_block;

typedef struct fv_vk_alloc {
    fv_vk_block *block;
    VkDeviceSize offset, size;
} fv_vk_alloc;

typedef struct fv_vk_pipeline {
    char key[160];
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    fv_bind_kind kinds[FV_MAX_BINDINGS];
    int nbind;
} fv_vk_pipeline;

typedef struct fv_vk {
    fv_vk_funcs f;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    uint8_t pipeline_cache_uuid[VK_UUID_SIZE];
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    uint32_t timestamp_valid_bits;
    /* memory */
    uint32_t mem_type;       /* device-local (host-visible when unified)    */
    uint32_t staging_type;   /* host-visible, coherent                      */
    bool unified;
    fv_vk_block *blocks;
    fv_vk_alloc *staging;    /* lazily made; grows as needed               */
    VkCommandPool pool;
    VkCommandBuffer xfer_cmd;
    VkFence fence;
    /* pipelines */
    VkPipelineCache cache;
    char cache_path[640];
    size_t cache_bytes_loaded;
    fv_vk_pipeline **pipelines; /* each allocated alone: pointers stay valid */
    int npipelines, cappipelines;
    /* validation */
    int validation_messages;
} fv_vk;

static inline fv_vk *fv_vk_of(fv_context *ctx) { return (fv_vk *)ctx->be; }

/* memory (vk_memory.c) */
fv_status fv_vk_memory_alloc(fv_context *ctx, VkDeviceSize bytes, bool host_visible, fv_vk_alloc **out);
void fv_vk_memory_free(fv_context *ctx, fv_vk_alloc *a);
void fv_vk_memory_destroy_all(fv_context *ctx);
fv_status fv_vk_status(fv_context *ctx, VkResult r, const char *what);
/* buffer + byte offset where a tensor's data starts */
void fv_vk_tensor_location(const fv_tensor *t, VkBuffer *buffer, VkDeviceSize *offset);
fv_status fv_vk_submit_and_wait(fv_context *ctx, VkCommandBuffer cmd);

/* pipelines (vk_pipeline.c) */
fv_status fv_vk_pipeline_get(fv_context *ctx, const fv_dispatch *d, fv_vk_pipeline **out);
fv_status fv_vk_pipeline_cache_open(fv_context *ctx);
void fv_vk_pipeline_destroy_all(fv_context *ctx);

#endif
