/* What dct2d's VkFFT path is the same on every backend: the transform's
 * layout in a VkFFTConfiguration and the factor VkFFT's DCT-II carries.
 * Included by each VkFFT translation unit after vkFFT.h (VkFFT's types
 * depend on the backend it was compiled for), never elsewhere. */
#ifndef FOVEA_OPS_DCT_VKFFT_COMMON_H
#define FOVEA_OPS_DCT_VKFFT_COMMON_H

#include "dct_internal.h"

/* VkFFT's DCT-II is unnormalised with the factor 2 of FFTW's REDFT10,
 *   Y[k] = 2 Σ_n x[n] cos(π(2n+1)k / 2N),
 * per axis; dct_crop divides it out with the orthonormal weights. */
#define VKFFT_DCT2_FACTOR 2.0

/* The forward DCT-II in place over the scratch at byte work_off of the
 * buffer (offsets given again at launch): [B, gh, gw, C] in VkFFT's order,
 * innermost first: C (not transformed), gw, gh; B as batches. The caller
 * adds its backend's objects and the buffer. */
static inline void dct_vkfft_layout(VkFFTConfiguration *c, const dct_params *p, uint64_t work_off)
{
    c->FFTdim = 3;
    c->size[0] = (uint64_t)p->c;
    c->size[1] = (uint64_t)p->gw;
    c->size[2] = (uint64_t)p->gh;
    c->omitDimension[0] = 1;
    c->numberBatches = (uint64_t)p->batch;
    c->performDCT = 2;
    c->bufferOffset = work_off;
    c->specifyOffsetsAtLaunch = 1;
    c->makeForwardPlanOnly = 1;
}

#endif
