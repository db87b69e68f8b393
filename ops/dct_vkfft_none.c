/* dct2d's VkFFT path when fovea is built without VkFFT (libvkfft-dev and
 * glslang-dev absent): the matrix path is then the only GPU path. */
#include "dct_internal.h"

bool fv_dct_vkfft_available(const fv_node *n, const fv_device_info *dev)
{
    (void)n;
    (void)dev;
    return false;
}

fv_status fv_dct_vkfft_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    (void)out;
    return fv_fail(n->dst->ctx, FV_STATUS_UNSUPPORTED, "dct2d: fovea was built without VkFFT");
}
