/* dct2d's node parameters and its VkFFT path, shared by ops/dct.c and the
 * VkFFT translation units, one per backend (ops/dct_vkfft_vulkan.c,
 * ops/dct_vkfft_opencl.c: VkFFT is compiled for one backend per translation
 * unit). ops/dct_vkfft_none.c stands in for a backend built without VkFFT.
 * Nothing of VkFFT's appears here. */
#ifndef FOVEA_OPS_DCT_INTERNAL_H
#define FOVEA_OPS_DCT_INTERNAL_H

#include "op_common.h"

typedef struct dct_params {
    int64_t batch, gh, gw, kh, kw, c;
    uint64_t off_scratch; /* bytes into the packed dst */
} dct_params;

/* Bytes of the full-grid scratch in dst: x's [B, gh, gw, C] as f32 */
static inline uint64_t fv_dct_scratch_bytes(const dct_params *p)
{
    return (uint64_t)(p->batch * p->gh * p->gw * p->c) * 4;
}

/* Whether this build has the VkFFT path for the backend. */
bool fv_dct_vkfft_vulkan_built(void);
bool fv_dct_vkfft_opencl_built(void);
/* Appends the VkFFT path's work for the node on the backend: an external
 * command (copy x into the scratch part of dst, DCT-II in place there),
 * then fv_dct_push_crop. */
fv_status fv_dct_vkfft_vulkan_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out);
fv_status fv_dct_vkfft_opencl_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out);

/* Appends dct_crop (dct_crop_cl on OpenCL): the kept block of the full-grid
 * coefficients in the scratch, scaled to the orthonormal convention from an
 * unnormalised DCT-II that carries `factor` per axis (ops/dct.c). */
fv_status fv_dct_push_crop(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out, double factor);
/* The VkFFT path's two steps: the backend's external command `fft`, then
 * fv_dct_push_crop with the factor its DCT-II carries. */
fv_status fv_dct_push_vkfft(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out,
                            const fv_external *fft, double factor);

#endif
