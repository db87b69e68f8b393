/* Our own Vulkan function table, loaded with dlopen (no volk, no link-time
 * dependency on libvulkan): the library loads and the CPU backend works on
 * machines without a Vulkan loader. */
#ifndef FOVEA_VK_LOADER_H
#define FOVEA_VK_LOADER_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#define FV_VK_GLOBAL_FUNCS(X)                                                                   \
    X(vkCreateInstance)                                                                         \
    X(vkEnumerateInstanceExtensionProperties)                                                   \
    X(vkEnumerateInstanceLayerProperties)

#define FV_VK_INSTANCE_FUNCS(X)                                                                 \
    X(vkDestroyInstance)                                                                        \
    X(vkEnumeratePhysicalDevices)                                                               \
    X(vkGetPhysicalDeviceProperties)                                                            \
    X(vkGetPhysicalDeviceProperties2)                                                           \
    X(vkGetPhysicalDeviceFeatures)                                                              \
    X(vkGetPhysicalDeviceFeatures2)                                                             \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                 \
    X(vkGetPhysicalDeviceMemoryProperties)                                                      \
    X(vkGetPhysicalDeviceFormatProperties)                                                      \
    X(vkEnumerateDeviceExtensionProperties)                                                     \
    X(vkCreateDevice)                                                                           \
    X(vkGetDeviceProcAddr)

#define FV_VK_DEVICE_FUNCS(X)                                                                   \
    X(vkDestroyDevice)                                                                          \
    X(vkGetDeviceQueue)                                                                         \
    X(vkAllocateMemory)                                                                         \
    X(vkFreeMemory)                                                                             \
    X(vkMapMemory)                                                                              \
    X(vkUnmapMemory)                                                                            \
    X(vkCreateBuffer)                                                                           \
    X(vkDestroyBuffer)                                                                          \
    X(vkGetBufferMemoryRequirements)                                                            \
    X(vkBindBufferMemory)                                                                       \
    X(vkCreateBufferView)                                                                       \
    X(vkDestroyBufferView)                                                                      \
    X(vkCreateShaderModule)                                                                     \
    X(vkDestroyShaderModule)                                                                    \
    X(vkCreatePipelineCache)                                                                    \
    X(vkDestroyPipelineCache)                                                                   \
    X(vkGetPipelineCacheData)                                                                   \
    X(vkCreateComputePipelines)                                                                 \
    X(vkDestroyPipeline)                                                                        \
    X(vkCreatePipelineLayout)                                                                   \
    X(vkDestroyPipelineLayout)                                                                  \
    X(vkCreateDescriptorSetLayout)                                                              \
    X(vkDestroyDescriptorSetLayout)                                                             \
    X(vkCreateDescriptorPool)                                                                   \
    X(vkDestroyDescriptorPool)                                                                  \
    X(vkAllocateDescriptorSets)                                                                 \
    X(vkUpdateDescriptorSets)                                                                   \
    X(vkCreateCommandPool)                                                                      \
    X(vkDestroyCommandPool)                                                                     \
    X(vkAllocateCommandBuffers)                                                                 \
    X(vkFreeCommandBuffers)                                                                     \
    X(vkBeginCommandBuffer)                                                                     \
    X(vkEndCommandBuffer)                                                                       \
    X(vkCmdBindPipeline)                                                                        \
    X(vkCmdBindDescriptorSets)                                                                  \
    X(vkCmdPushConstants)                                                                       \
    X(vkCmdDispatch)                                                                            \
    X(vkCmdPipelineBarrier)                                                                     \
    X(vkCmdCopyBuffer)                                                                          \
    X(vkCmdResetQueryPool)                                                                      \
    X(vkCmdWriteTimestamp)                                                                      \
    X(vkCreateQueryPool)                                                                        \
    X(vkDestroyQueryPool)                                                                       \
    X(vkGetQueryPoolResults)                                                                    \
    X(vkCreateFence)                                                                            \
    X(vkDestroyFence)                                                                           \
    X(vkResetFences)                                                                            \
    X(vkWaitForFences)                                                                          \
    X(vkQueueSubmit)                                                                            \
    X(vkDeviceWaitIdle)

typedef struct fv_vk_funcs {
    void *lib;
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define FV_VK_DECL(name) PFN_##name name;
    FV_VK_GLOBAL_FUNCS(FV_VK_DECL)
    FV_VK_INSTANCE_FUNCS(FV_VK_DECL)
    FV_VK_DEVICE_FUNCS(FV_VK_DECL)
#undef FV_VK_DECL
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
} fv_vk_funcs;

/* Each returns 0 on success, else the name of the first missing symbol's
 * stage ("libvulkan.so.1", "vkCreateInstance", …) in *missing. */
int fv_vk_load_global(fv_vk_funcs *f, const char **missing);
int fv_vk_load_instance(fv_vk_funcs *f, VkInstance instance, const char **missing);
int fv_vk_load_device(fv_vk_funcs *f, VkDevice device, const char **missing);
void fv_vk_unload(fv_vk_funcs *f);

#endif
