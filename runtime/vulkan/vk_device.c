/* Vulkan instance and device: loading, selection (index or name substring),
 * feature detection, validation messages. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

fv_status fv_vk_status(fv_context *ctx, VkResult r, const char *what)
{
    switch (r) {
    case VK_SUCCESS: return FV_STATUS_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: %s: out of host memory", what);
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "vulkan: %s: out of device memory", what);
    case VK_ERROR_DEVICE_LOST: return fv_fail(ctx, FV_STATUS_DEVICE_LOST, "vulkan: %s: device lost", what);
    case VK_ERROR_INITIALIZATION_FAILED:
    case VK_ERROR_INCOMPATIBLE_DRIVER:
    case VK_ERROR_LAYER_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
        return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: %s failed (VkResult %d)", what, (int)r);
    default: return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "vulkan: %s failed (VkResult %d)", what, (int)r);
    }
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT types,
                                                     const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                     void *user)
{
    (void)types;
    fv_context *ctx = user;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        fv_vk_of(ctx)->validation_messages++;
        fv_log(ctx, FV_LOG_ERROR, "vulkan validation: %s", data->pMessage);
    }
    return VK_FALSE;
}

static bool has_layer(fv_vk_funcs *f, const char *name)
{
    uint32_t n = 0;
    if (f->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || !n) return false;
    VkLayerProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && f->vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static bool has_instance_ext(fv_vk_funcs *f, const char *name)
{
    uint32_t n = 0;
    if (f->vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || !n) return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && f->vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

static bool has_device_ext(fv_vk_funcs *f, VkPhysicalDevice d, const char *name)
{
    uint32_t n = 0;
    if (f->vkEnumerateDeviceExtensionProperties(d, NULL, &n, NULL) != VK_SUCCESS || !n) return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && f->vkEnumerateDeviceExtensionProperties(d, NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

/* Creates the instance (validation optional). On failure writes err. */
static fv_status create_instance(fv_context *ctx, fv_vk *vk, bool validation)
{
    const char *missing = NULL;
    if (fv_vk_load_global(&vk->f, &missing))
        return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: cannot load %s (no Vulkan loader installed?)",
                       missing);
    const char *layers[1];
    uint32_t nlayers = 0;
    const char *exts[2];
    uint32_t nexts = 0;
    if (validation) {
        if (!has_layer(&vk->f, "VK_LAYER_KHRONOS_validation"))
            return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE,
                           "vulkan: validation requested but VK_LAYER_KHRONOS_validation is not installed");
        layers[nlayers++] = "VK_LAYER_KHRONOS_validation";
    }
    bool debug_utils = validation && has_instance_ext(&vk->f, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (debug_utils) exts[nexts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "fovea",
                             .pEngineName = "fovea",
                             .engineVersion = VK_MAKE_VERSION(FOVEA_VERSION_MAJOR, FOVEA_VERSION_MINOR,
                                                              FOVEA_VERSION_PATCH),
                             .apiVersion = VK_API_VERSION_1_2};
    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = debug_callback,
        .pUserData = ctx};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .pNext = debug_utils ? &dbg : NULL,
                                .pApplicationInfo = &app,
                                .enabledLayerCount = nlayers,
                                .ppEnabledLayerNames = layers,
                                .enabledExtensionCount = nexts,
                                .ppEnabledExtensionNames = exts};
    VkResult r = vk->f.vkCreateInstance(&ici, NULL, &vk->instance);
    if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkCreateInstance");
    if (fv_vk_load_instance(&vk->f, vk->instance, &missing))
        return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: instance lacks %s", missing);
    if (debug_utils && vk->f.vkCreateDebugUtilsMessengerEXT) {
        r = vk->f.vkCreateDebugUtilsMessengerEXT(vk->instance, &dbg, NULL, &vk->messenger);
        if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkCreateDebugUtilsMessengerEXT");
    }
    return FV_STATUS_OK;
}

static fv_device_type device_type(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return FV_DEVICE_TYPE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return FV_DEVICE_TYPE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return FV_DEVICE_TYPE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return FV_DEVICE_TYPE_CPU;
    default: return FV_DEVICE_TYPE_OTHER;
    }
}

typedef struct feature_chain {
    VkPhysicalDeviceFeatures2 f2;
    VkPhysicalDeviceVulkan11Features v11;
    VkPhysicalDeviceVulkan12Features v12;
} feature_chain;

static void query_features(fv_vk_funcs *f, VkPhysicalDevice d, feature_chain *c)
{
    memset(c, 0, sizeof *c);
    c->f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    c->v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    c->v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    c->f2.pNext = &c->v11;
    c->v11.pNext = &c->v12;
    f->vkGetPhysicalDeviceFeatures2(d, &c->f2);
}

/* int8 dot product counts only when the device says the 4x8-bit packed
 * signed form is accelerated (lavapipe, for one, offers the instructions
 * but emulates them). */
static bool integer_dot_product_accelerated(fv_vk_funcs *f, VkPhysicalDevice d, uint32_t api)
{
    if (api < VK_API_VERSION_1_3 && !has_device_ext(f, d, "VK_KHR_shader_integer_dot_product")) return false;
    VkPhysicalDeviceShaderIntegerDotProductProperties dp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &dp};
    f->vkGetPhysicalDeviceProperties2(d, &p2);
    return dp.integerDotProduct4x8BitPackedSignedAccelerated == VK_TRUE;
}

/* Fills the public description of one physical device. */
static void describe(fv_vk_funcs *f, VkPhysicalDevice d, fv_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->backend = FV_BACKEND_VULKAN;
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
                                            .pNext = &sub};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    f->vkGetPhysicalDeviceProperties2(d, &p2);
    const VkPhysicalDeviceProperties *p = &p2.properties;
    info->type = device_type(p->deviceType);
    snprintf(info->name, sizeof info->name, "%s", p->deviceName);
    snprintf(info->driver, sizeof info->driver, "%.120s %.120s", drv.driverName, drv.driverInfo);
    snprintf(info->api_version, sizeof info->api_version, "%u.%u.%u", VK_VERSION_MAJOR(p->apiVersion),
             VK_VERSION_MINOR(p->apiVersion), VK_VERSION_PATCH(p->apiVersion));
    VkPhysicalDeviceMemoryProperties mp;
    f->vkGetPhysicalDeviceMemoryProperties(d, &mp);
    for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
        if (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info->memory_bytes = FV_MAX(info->memory_bytes, mp.memoryHeaps[i].size);
    for (uint32_t i = 0; i < mp.memoryTypeCount; i++) {
        VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        /* unified: the device-local heap is all of it and the host maps it */
        if ((mp.memoryTypes[i].propertyFlags & want) == want &&
            mp.memoryHeaps[mp.memoryTypes[i].heapIndex].size >= info->memory_bytes)
            info->unified_memory = true;
    }
    info->max_alloc_bytes = info->memory_bytes;
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p2b = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    f->vkGetPhysicalDeviceProperties2(d, &p2b);
    if (m3.maxMemoryAllocationSize) info->max_alloc_bytes = m3.maxMemoryAllocationSize;
    info->max_storage_range = p->limits.maxStorageBufferRange;
    info->max_texel_elements = p->limits.maxTexelBufferElements;
    info->max_workgroup_invocations = p->limits.maxComputeWorkGroupInvocations;
    info->shared_memory_bytes = p->limits.maxComputeSharedMemorySize;
    info->subgroup_size = sub.subgroupSize;
    info->subgroup_arithmetic = (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                                (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    info->subgroup_shuffle = (sub.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                             (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    feature_chain c;
    query_features(f, d, &c);
    info->fp16_arithmetic = c.v12.shaderFloat16;
    info->storage_16bit = c.v11.storageBuffer16BitAccess;
    info->storage_8bit = c.v12.storageBuffer8BitAccess;
    info->shader_int64 = c.f2.features.shaderInt64;
    /* the feature bit, not the API version: Vulkan 1.3 made the
     * instructions core but lets them be emulated, and says so here */
    info->int8_dot_product = integer_dot_product_accelerated(f, d, p->apiVersion);
    info->cooperative_matrix = has_device_ext(f, d, "VK_KHR_cooperative_matrix");
}

static bool has_compute_queue(fv_vk_funcs *f, VkPhysicalDevice d, uint32_t *family, uint32_t *ts_bits)
{
    uint32_t n = 0;
    f->vkGetPhysicalDeviceQueueFamilyProperties(d, &n, NULL);
    VkQueueFamilyProperties q[16];
    if (n > 16) n = 16;
    f->vkGetPhysicalDeviceQueueFamilyProperties(d, &n, q);
    /* prefer a compute-only family (async compute on discrete GPUs) */
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (best < 0 || !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) best = (int)i;
    }
    if (best < 0) return false;
    *family = (uint32_t)best;
    *ts_bits = q[best].timestampValidBits;
    return true;
}

static fv_status enumerate(fv_context *ctx, fv_vk *vk, VkPhysicalDevice **out, uint32_t *count)
{
    uint32_t n = 0;
    VkResult r = vk->f.vkEnumeratePhysicalDevices(vk->instance, &n, NULL);
    if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkEnumeratePhysicalDevices");
    if (!n) return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: no devices");
    *out = calloc(n, sizeof **out);
    if (!*out) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    r = vk->f.vkEnumeratePhysicalDevices(vk->instance, &n, *out);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*out);
        return fv_vk_status(ctx, r, "vkEnumeratePhysicalDevices");
    }
    *count = n;
    return FV_STATUS_OK;
}

static fv_status create_device(fv_context *ctx, fv_vk *vk)
{
    feature_chain have, want;
    query_features(&vk->f, vk->phys, &have);
    memset(&want, 0, sizeof want);
    want.f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
    want.v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
    want.v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    want.f2.pNext = &want.v11;
    want.v11.pNext = &want.v12;
    /* enable what the kernels may use, where present */
    want.f2.features.shaderInt64 = have.f2.features.shaderInt64;
    want.f2.features.shaderInt16 = have.f2.features.shaderInt16;
    want.v11.storageBuffer16BitAccess = have.v11.storageBuffer16BitAccess;
    want.v11.uniformAndStorageBuffer16BitAccess = have.v11.uniformAndStorageBuffer16BitAccess;
    want.v11.storagePushConstant16 = have.v11.storagePushConstant16;
    want.v12.shaderFloat16 = have.v12.shaderFloat16;
    want.v12.shaderInt8 = have.v12.shaderInt8;
    want.v12.storageBuffer8BitAccess = have.v12.storageBuffer8BitAccess;
    want.v12.uniformAndStorageBuffer8BitAccess = have.v12.uniformAndStorageBuffer8BitAccess;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = vk->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = &want.f2,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    VkResult r = vk->f.vkCreateDevice(vk->phys, &dci, NULL, &vk->device);
    if (r != VK_SUCCESS) return fv_vk_status(ctx, r, "vkCreateDevice");
    const char *missing = NULL;
    if (fv_vk_load_device(&vk->f, vk->device, &missing))
        return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: device lacks %s", missing);
    vk->f.vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);
    return FV_STATUS_OK;
}

static void vk_destroy(fv_context *ctx);

static fv_status vk_init(fv_context *ctx)
{
    fv_vk *vk = calloc(1, sizeof *vk);
    if (!vk) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "vulkan: out of host memory");
    ctx->be = vk;
    bool validation = ctx->desc.validation || env_true("FOVEA_VK_VALIDATION");
    VkPhysicalDevice *devs = NULL;
    uint32_t ndev = 0;
    fv_status st = create_instance(ctx, vk, validation);
    if (!st) st = enumerate(ctx, vk, &devs, &ndev);
    if (st) goto fail;
    /* select by name substring, else by index among devices with compute */
    int chosen = -1, seen = 0;
    for (uint32_t i = 0; i < ndev && chosen < 0; i++) {
        uint32_t fam, bits;
        if (!has_compute_queue(&vk->f, devs[i], &fam, &bits)) continue;
        VkPhysicalDeviceProperties p;
        vk->f.vkGetPhysicalDeviceProperties(devs[i], &p);
        bool match = ctx->desc.device_name ? strstr(p.deviceName, ctx->desc.device_name) != NULL
                                           : seen == ctx->desc.device_index;
        seen++;
        if (match) {
            chosen = (int)i;
            vk->queue_family = fam;
            vk->timestamp_valid_bits = bits;
        }
    }
    if (chosen < 0) {
        if (ctx->desc.device_name)
            st = fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: no device named like \"%s\"",
                         ctx->desc.device_name);
        else
            st = fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: device %d requested, %d present",
                         ctx->desc.device_index, seen);
        goto fail;
    }
    vk->phys = devs[chosen];
    free(devs);
    devs = NULL;
    vk->f.vkGetPhysicalDeviceProperties(vk->phys, &vk->props);
    vk->f.vkGetPhysicalDeviceMemoryProperties(vk->phys, &vk->mem_props);
    describe(&vk->f, vk->phys, &ctx->info);
    if (vk->props.apiVersion < VK_API_VERSION_1_2) {
        st = fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: %s supports Vulkan %s; fovea needs 1.2",
                     ctx->info.name, ctx->info.api_version);
        goto fail;
    }
    st = create_device(ctx, vk);
    if (st) goto fail;
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = vk->queue_family};
    VkResult r = vk->f.vkCreateCommandPool(vk->device, &pci, NULL, &vk->pool);
    if (r == VK_SUCCESS) {
        VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                           .commandPool = vk->pool,
                                           .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                           .commandBufferCount = 1};
        r = vk->f.vkAllocateCommandBuffers(vk->device, &cai, &vk->xfer_cmd);
    }
    if (r == VK_SUCCESS) {
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        r = vk->f.vkCreateFence(vk->device, &fci, NULL, &vk->fence);
    }
    if (r != VK_SUCCESS) {
        st = fv_vk_status(ctx, r, "command pool");
        goto fail;
    }
    /* memory types: device-local (+host-visible+coherent when unified) and staging */
    vk->mem_type = vk->staging_type = UINT32_MAX;
    VkMemoryPropertyFlags unified_flags = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    VkMemoryPropertyFlags host_flags = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t i = 0; i < vk->mem_props.memoryTypeCount; i++) {
        VkMemoryPropertyFlags fl = vk->mem_props.memoryTypes[i].propertyFlags;
        if (ctx->info.unified_memory && (fl & unified_flags) == unified_flags && vk->mem_type == UINT32_MAX)
            vk->mem_type = i;
        if (!ctx->info.unified_memory && (fl & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && vk->mem_type == UINT32_MAX)
            vk->mem_type = i;
        if ((fl & host_flags) == host_flags && vk->staging_type == UINT32_MAX) vk->staging_type = i;
    }
    if (vk->mem_type == UINT32_MAX || vk->staging_type == UINT32_MAX) {
        st = fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "vulkan: %s has no usable memory type", ctx->info.name);
        goto fail;
    }
    vk->unified = ctx->info.unified_memory;
    st = fv_vk_pipeline_cache_open(ctx);
    if (st) goto fail;
    fv_log(ctx, FV_LOG_INFO, "vulkan: %s (%s), subgroup %u%s", ctx->info.name, ctx->info.driver,
           ctx->info.subgroup_size, validation ? ", validation on" : "");
    return FV_STATUS_OK;
fail:
    free(devs);
    vk_destroy(ctx);
    return st;
}

/* Waits for the device, then releases everything the context made. */
static void vk_destroy(fv_context *ctx)
{
    fv_vk *vk = fv_vk_of(ctx);
    if (!vk) return;
    if (vk->device) {
        vk->f.vkDeviceWaitIdle(vk->device);
        fv_vk_pipeline_destroy_all(ctx);
        fv_vk_memory_destroy_all(ctx);
        if (vk->fence) vk->f.vkDestroyFence(vk->device, vk->fence, NULL);
        if (vk->pool) vk->f.vkDestroyCommandPool(vk->device, vk->pool, NULL);
        vk->f.vkDestroyDevice(vk->device, NULL);
    }
    if (vk->messenger) vk->f.vkDestroyDebugUtilsMessengerEXT(vk->instance, vk->messenger, NULL);
    if (vk->instance) vk->f.vkDestroyInstance(vk->instance, NULL);
    fv_vk_unload(&vk->f);
    free(vk);
    ctx->be = NULL;
}

static fv_status vk_list_devices(fv_device_info *infos, int capacity, int *count, char *err, size_t es)
{
    fv_context tmp;
    memset(&tmp, 0, sizeof tmp);
    fv_vk vk;
    memset(&vk, 0, sizeof vk);
    tmp.be = &vk;
    VkPhysicalDevice *devs = NULL;
    uint32_t n = 0;
    fv_status st = create_instance(&tmp, &vk, false);
    if (!st) st = enumerate(&tmp, &vk, &devs, &n);
    int k = 0;
    for (uint32_t i = 0; !st && i < n; i++) {
        uint32_t fam, bits;
        if (!has_compute_queue(&vk.f, devs[i], &fam, &bits)) continue;
        if (k < capacity) describe(&vk.f, devs[i], &infos[k]);
        k++;
    }
    *count = k;
    free(devs);
    if (vk.instance) vk.f.vkDestroyInstance(vk.instance, NULL);
    fv_vk_unload(&vk.f);
    if (st && err && es) snprintf(err, es, "%s", tmp.last_error);
    return st;
}

/* The vtable: the rest of its entries live in vk_memory.c and vk_commands.c */
fv_status fv_vk_buffer_alloc(fv_context *ctx, size_t bytes, fv_buffer **out);
void fv_vk_buffer_free(fv_context *ctx, fv_buffer *buf);
fv_status fv_vk_buffer_write(fv_context *ctx, fv_buffer *b, size_t off, const void *src, size_t n);
fv_status fv_vk_buffer_read(fv_context *ctx, fv_buffer *b, size_t off, void *dst, size_t n);
const char *fv_vk_supports_op(fv_context *ctx, const fv_node *n);
fv_status fv_vk_record(fv_context *ctx, fv_node *nodes, int count, fv_recording **out);
fv_status fv_vk_replay(fv_context *ctx, fv_recording *rec, const int32_t *params);
void fv_vk_release(fv_context *ctx, fv_recording *rec);
int fv_vk_timings(fv_context *ctx, fv_recording *rec, double *ms, int capacity);

const fv_backend_vtbl fv_vulkan_backend = {
    .type = FV_BACKEND_VULKAN,
    .init = vk_init,
    .destroy = vk_destroy,
    .buffer_alloc = fv_vk_buffer_alloc,
    .buffer_free = fv_vk_buffer_free,
    .buffer_write = fv_vk_buffer_write,
    .buffer_read = fv_vk_buffer_read,
    .supports_op = fv_vk_supports_op,
    .record = fv_vk_record,
    .replay = fv_vk_replay,
    .release = fv_vk_release,
    .timings = fv_vk_timings,
    .list_devices = vk_list_devices,
};
