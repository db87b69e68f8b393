/* dlopen-based Vulkan loader: see vk_loader.h. */
#include "vk_loader.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

int fv_vk_load_global(fv_vk_funcs *f, const char **missing)
{
    memset(f, 0, sizeof *f);
    /* FOVEA_VULKAN_LIBRARY names another loader (a path or soname) */
    const char *env = getenv("FOVEA_VULKAN_LIBRARY");
    static const char *const names[] = {"libvulkan.so.1", "libvulkan.so"};
    if (env && env[0]) {
        f->lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    } else {
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !f->lib; i++)
            f->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!f->lib) {
        *missing = env && env[0] ? env : "libvulkan.so.1";
        return -1;
    }
    f->vkGetInstanceProcAddr = (PFN_vkGetInstanceProcAddr)dlsym(f->lib, "vkGetInstanceProcAddr");
    if (!f->vkGetInstanceProcAddr) {
        *missing = "vkGetInstanceProcAddr";
        return -1;
    }
#define FV_VK_LOAD(name)                                                                        \
    f->name = (PFN_##name)f->vkGetInstanceProcAddr(VK_NULL_HANDLE, #name);                      \
    if (!f->name) {                                                                             \
        *missing = #name;                                                                       \
        return -1;                                                                              \
    }
    FV_VK_GLOBAL_FUNCS(FV_VK_LOAD)
#undef FV_VK_LOAD
    return 0;
}

int fv_vk_load_instance(fv_vk_funcs *f, VkInstance instance, const char **missing)
{
#define FV_VK_LOAD(name)                                                                        \
    f->name = (PFN_##name)f->vkGetInstanceProcAddr(instance, #name);                            \
    if (!f->name) {                                                                             \
        *missing = #name;                                                                       \
        return -1;                                                                              \
    }
    FV_VK_INSTANCE_FUNCS(FV_VK_LOAD)
#undef FV_VK_LOAD
    /* optional: present only with VK_EXT_debug_utils */
    f->vkCreateDebugUtilsMessengerEXT = (PFN_vkCreateDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(
        instance, "vkCreateDebugUtilsMessengerEXT");
    f->vkDestroyDebugUtilsMessengerEXT = (PFN_vkDestroyDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(
        instance, "vkDestroyDebugUtilsMessengerEXT");
    return 0;
}

int fv_vk_load_device(fv_vk_funcs *f, VkDevice device, const char **missing)
{
#define FV_VK_LOAD(name)                                                                        \
    f->name = (PFN_##name)f->vkGetDeviceProcAddr(device, #name);                                \
    if (!f->name) {                                                                             \
        *missing = #name;                                                                       \
        return -1;                                                                              \
    }
    FV_VK_DEVICE_FUNCS(FV_VK_LOAD)
#undef FV_VK_LOAD
    return 0;
}

void fv_vk_unload(fv_vk_funcs *f)
{
    if (f->lib) dlclose(f->lib);
    memset(f, 0, sizeof *f);
}
