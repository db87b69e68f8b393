/* dct2d's node parameters and its VkFFT path, shared by ops/dct.c and the
 * VkFFT translation unit (ops/dct_vkfft_vulkan.c, or ops/dct_vkfft_none.c
 * in builds without VkFFT). Nothing of VkFFT's appears here. */
#ifndef FOVEA_OPS_DCT_INTERNAL_H
#define FOVEA_OPS_DCT_INTERNAL_H

#include "op_common.h"

typedef struct dct_params {
    int64_t batch, gh, gw, kh, kw, c;
    uint64_t off_scratch; /* bytes into the packed dst */
} dct_params;

/* Whether the VkFFT path can run this node on the device (false when fovea
 * was built without VkFFT). */
bool fv_dct_vkfft_available(const fv_node *n, const fv_device_info *dev);
/* Appends the VkFFT path's work for the node. */
fv_status fv_dct_vkfft_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out);

#endif
