/* Helpers shared by the row-wise and element-wise ops (unary, swiglu,
 * softmax, norms, copies, gather): the choice between the two layouts of a
 * row reduction, the width of the units a kernel moves (shaders/units.glsl),
 * the split of a large tensor into dispatches whose bindings each fit one
 * storage range and one texel view, and division by invariant integers for
 * kernels that split linear indices. */
#ifndef FOVEA_OPS_ROW_OPS_H
#define FOVEA_OPS_ROW_OPS_H

#include "op_common.h"

#include <stdlib.h>

/* Row reductions (softmax, layernorm, rmsnorm) come in two layouts:
 *  - one row per subgroup, no barriers, texel reads: for CPU-type
 *    devices (lavapipe), where a barrier is a coroutine switch and a
 *    subgroup is one SIMD register;
 *  - one row per workgroup, a shared-memory reduction with barriers: for
 *    GPUs, where a single subgroup per row would leave the machine idle.
 * The environment variable FOVEA_ROW_VARIANT=cpu|gpu overrides the choice
 * (the tests use it to run both layouts on one device). The subgroup
 * layout needs subgroup arithmetic; without it the workgroup layout runs. */
static inline bool fv_row_per_subgroup(const fv_device_info *dev)
{
    bool can = dev->subgroup_arithmetic && dev->subgroup_size > 0;
    const char *v = getenv("FOVEA_ROW_VARIANT");
    if (v && strcmp(v, "cpu") == 0) return can;
    if (v && strcmp(v, "gpu") == 0) return false;
    return can && fv_is_cpu_device(dev);
}

/* Local size of the one-row-per-workgroup layout for rows of `units`
 * units: a power of two (the shared-memory tree reduction halves it) from 32
 * up to 256, no larger than a row needs. */
static inline uint32_t fv_row_workgroup_size(const fv_device_info *dev, int64_t units)
{
    uint32_t n = 32;
    while (n < 256 && n < units) n <<= 1;
    while (n > 1 && dev->max_workgroup_invocations && n > dev->max_workgroup_invocations) n >>= 1;
    return n;
}

/* Local size of the one-row-per-subgroup layout and the rows one workgroup
 * owns (the kernel loops, so a subgroup size other than the one reported
 * still covers every row). */
static inline uint32_t fv_row_subgroup_local(const fv_device_info *dev)
{
    return FV_MAX(64u, dev->subgroup_size);
}
static inline uint32_t fv_row_subgroup_rows(const fv_device_info *dev)
{
    return FV_MAX(1u, fv_row_subgroup_local(dev) / FV_MAX(1u, dev->subgroup_size));
}

static inline uint64_t fv_gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Rows per dispatch when `rows` rows of `row_bytes` bytes are bound in
 * pieces of at most `max_range` bytes. Pieces start at multiples of 256
 * bytes (covers every device's storage and texel offset alignment). Returns
 * `rows` when everything fits one binding, and 0 when it would take more than
 * FV_MAX_DISPATCHES_PER_NODE pieces or one row alone is too large. */
static inline int64_t fv_rows_per_dispatch(int64_t rows, uint64_t row_bytes, uint64_t max_range)
{
    if ((uint64_t)rows * row_bytes <= max_range) return rows;
    uint64_t step = 256 / fv_gcd_u64(row_bytes, 256); /* rows per aligned step */
    uint64_t fit = max_range / row_bytes / step * step;
    if (fit == 0 || ((uint64_t)rows + fit - 1) / fit > FV_MAX_DISPATCHES_PER_NODE) return 0;
    return (int64_t)fit;
}

/* Floats per unit (shaders/units.glsl) for runs of `cols` floats: 8 (WIDE:
 * two texels in, 64-bit components out) where `wide` allows it, the device
 * has shaderInt64 and cols % 8 == 0; else 4 (VEC4) when cols % 4 == 0; else
 * 1. Callers allow WIDE for CPU-type devices, whose stores it speeds up. */
static inline int fv_unit_width(const fv_device_info *dev, int64_t cols, bool wide)
{
    if (wide && dev->shader_int64 && cols % 8 == 0) return 8;
    return cols % 4 == 0 ? 4 : 1;
}
/* 0, 1, 2 for units of 1, 4, 8 floats: an index into a kernel-name table */
static inline int fv_unit_variant(int width) { return width == 8 ? 2 : width == 4 ? 1 : 0; }
/* The texel view that reads units of `width` floats from a tensor of dtype */
static inline fv_bind_kind fv_unit_texel_kind(fv_dtype dtype, int width)
{
    if (dtype == FV_DTYPE_F16) return width == 1 ? FV_BIND_TEXEL_F16 : FV_BIND_TEXEL_F16X4;
    return width == 1 ? FV_BIND_TEXEL_F32 : FV_BIND_TEXEL_F32X4;
}

/* Bytes per texel of a texel view */
static inline uint64_t fv_texel_bytes(fv_bind_kind kind)
{
    switch (kind) {
    case FV_BIND_TEXEL_F32:
        return 4;
    case FV_BIND_TEXEL_F16:
        return 2;
    case FV_BIND_TEXEL_F16X4:
        return 8;
    default:
        return 16;
    }
}

/* The most bytes one dispatch may bind of data it reads through a view of
 * `kind` (and writes through a storage binding of the same size): the
 * storage range, and for a texel view also its element limit. */
static inline uint64_t fv_range_limit(const fv_device_info *dev, fv_bind_kind kind)
{
    uint64_t lim = dev->max_storage_range;
    if (kind != FV_BIND_STORAGE && dev->max_texel_elements)
        lim = FV_MIN(lim, dev->max_texel_elements * fv_texel_bytes(kind));
    return lim;
}

/* Whether a whole tensor fits one texel view of `kind` */
static inline bool fv_fits_texel_view(const fv_device_info *dev, const fv_tensor *t, fv_bind_kind kind)
{
    return !dev->max_texel_elements || t->nbytes / fv_texel_bytes(kind) <= dev->max_texel_elements;
}

/* The plan of a row reduction over the rows of x[..., cols] (f32): the
 * layout, the unit width (wide units only in the one-row-per-subgroup
 * layout) and the rows per dispatch, which is 0 when the rows cannot be
 * split into few enough dispatches. */
static inline int64_t fv_row_plan(const fv_device_info *dev, const fv_tensor *x, bool *sg, int *width)
{
    int64_t cols = x->shape[x->ndim - 1];
    *sg = fv_row_per_subgroup(dev);
    *width = fv_unit_width(dev, cols, *sg);
    uint64_t limit = fv_range_limit(dev, fv_unit_texel_kind(FV_DTYPE_F32, *width));
    return fv_rows_per_dispatch(fv_tensor_rows(x), (uint64_t)cols * 4, limit);
}

/* Division by an invariant divisor d (1 <= d < 2^32) as a multiply and
 * shifts, for kernels that split linear indices: Granlund & Montgomery,
 * "Division by invariant integers using multiplication" (1994), fig. 4.1.
 * Exact for every 32-bit dividend; see shaders/fastdiv.glsl. The two shifts
 * are packed into *shifts (bits 0-7 and 8-15). */
static inline void fv_fastdiv_magic(uint32_t d, uint32_t *magic, uint32_t *shifts)
{
    uint32_t l = 0;
    while (l < 32 && ((uint64_t)1 << l) < d) l++; /* l = ceil(log2 d) */
    *magic = (uint32_t)((((uint64_t)1 << 32) * (((uint64_t)1 << l) - d)) / d + 1);
    *shifts = (l < 1 ? l : 1) | (uint32_t)(l > 1 ? l - 1 : 0) << 8;
}

/* ---- OpenCL ----------------------------------------------------------
 * The OpenCL kernels (shaders/cl/) bind whole tensors: a buffer has no
 * per-binding range limit there, so each node is one dispatch per part.
 * How work is cut depends on the device type:
 *  - CPU devices (PoCL): a work-group runs as a loop on one core, and a
 *    kernel is fast when each work-item streams through a long contiguous
 *    stretch with float16 vectors. So every work-item is a work-group of its
 *    own (local size 1) and owns a block of FV_CL_CPU_BLOCK elements (element-
 *    wise kernels) or whole rows (row reductions, one row per work-item).
 *  - GPUs: work-groups of FV_CL_GPU_LOCAL work-items, each owning one
 *    float16 (element-wise), and one row per work-group for the reductions.
 * FOVEA_ROW_VARIANT=cpu|gpu picks the row layout on any device, as for
 * Vulkan (the tests run both). */
#define FV_CL_CPU_BLOCK 4096u
#define FV_CL_GPU_BLOCK 16u
#define FV_CL_GPU_LOCAL 64u

static inline bool fv_cl_row_per_item(const fv_device_info *dev)
{
    const char *v = getenv("FOVEA_ROW_VARIANT");
    if (v && strcmp(v, "cpu") == 0) return true;
    if (v && strcmp(v, "gpu") == 0) return false;
    return fv_is_cpu_device(dev);
}

/* The launch of an element-wise OpenCL kernel over n elements: spec 0 the
 * local size, spec 1 the elements per work-item (a multiple of 16). */
static inline void fv_cl_size_elementwise(fv_dispatch *d, const fv_device_info *dev, uint64_t n)
{
    bool cpu = fv_is_cpu_device(dev);
    uint32_t block = cpu ? FV_CL_CPU_BLOCK : FV_CL_GPU_BLOCK;
    fv_dispatch_size_1d(d, (n + block - 1) / block, cpu ? 1u : FV_CL_GPU_LOCAL);
    d->spec[1] = block;
    d->nspec = FV_MAX(d->nspec, 2);
}

/* Rows per work-item of the one-row-per-work-item layout: enough rows for
 * about FV_CL_CPU_BLOCK elements, so short rows do not each pay for a
 * work-group, but no fewer than 8 work-items where there are rows for them,
 * so every core has work. */
static inline uint32_t fv_cl_rows_per_item(int64_t rows, int64_t cols)
{
    int64_t per = FV_MAX(1, (int64_t)FV_CL_CPU_BLOCK / FV_MAX(cols, 1));
    return (uint32_t)FV_MAX(1, FV_MIN(per, rows / 8));
}

/* Whether the OpenCL kernels' 32-bit element indices reach every element
 * of a tensor of n elements */
static inline const char *fv_cl_unsupported_size(uint64_t n)
{
    return n > UINT32_MAX - FV_CL_CPU_BLOCK ? "more elements than the OpenCL kernels index (2^32)" : NULL;
}

/* Row index within a batch of a 1-d or higher tensor: R of x[..., R, C]. */
static inline int64_t fv_rows_per_batch(const fv_tensor *t)
{
    return t->ndim >= 2 ? t->shape[t->ndim - 2] : 1;
}

#endif
