/* dct2d's VkFFT path for a backend this build has it not for (VkFFT off, or
 * its headers or, for Vulkan, glslang-dev absent): the matrix path is then
 * the only GPU path there. meson.build defines FV_VKFFT_VULKAN /
 * FV_VKFFT_OPENCL for the backends that have theirs. */
#include "dct_internal.h"

#ifndef FV_VKFFT_VULKAN
bool fv_dct_vkfft_vulkan_built(void) { return false; }

fv_status fv_dct_vkfft_vulkan_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    (void)out;
    return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "dct2d: fovea was built without VkFFT for Vulkan");
}
#endif

#ifndef FV_VKFFT_OPENCL
bool fv_dct_vkfft_opencl_built(void) { return false; }

fv_status fv_dct_vkfft_opencl_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    (void)out;
    return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "dct2d: fovea was built without VkFFT for OpenCL");
}
#endif
