/* patchify: the im2col of a ViT's patch embedding. The image [B, C, H, W]
 * is cut into non-overlapping p x p patches, taken row-major over the
 * (H/p) x (W/p) grid, and each patch is flattened in (channel, row, column)
 * order:
 *
 *   y[b, py*gw + px, c*p*p + ky*p + kx] = x[b, c, py*p + ky, px*p + kx]
 *
 * so that a Conv2d(C, D, p, stride p) becomes y · W[D, C*p*p]ᵀ, with the
 * conv kernel [D, C, p, p] read as [D, C*p*p]. Rows and columns past the
 * last whole patch are dropped, as the strided convolution drops them. */
#include "row_ops.h"

typedef struct patchify_params {
    int64_t batch, channels, height, width, patch, gh, gw;
} patchify_params;

static fv_status patchify_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const patchify_params *p = (const patchify_params *)n->params;
    const float *x = fv_tensor_host(n->src[0]);
    float *y = fv_tensor_host(n->dst);
    const int64_t P = p->patch;
    for (int64_t b = 0; b < p->batch; b++)
        for (int64_t py = 0; py < p->gh; py++)
            for (int64_t px = 0; px < p->gw; px++)
                for (int64_t c = 0; c < p->channels; c++)
                    for (int64_t ky = 0; ky < P; ky++) {
                        const float *row = x + ((b * p->channels + c) * p->height + py * P + ky) * p->width + px * P;
                        memcpy(y, row, (size_t)P * sizeof *y);
                        y += P;
                    }
    return FV_STATUS_OK;
}

/* Units of 4 floats when a patch row is a whole number of aligned texels
 * (p and W multiples of 4); else single floats. */
static int patchify_width(const patchify_params *p) { return p->patch % 4 == 0 && p->width % 4 == 0 ? 4 : 1; }

static fv_status patchify_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    (void)dev;
    const patchify_params *p = (const patchify_params *)n->params;
    const int width = patchify_width(p);
    const uint64_t units = (uint64_t)fv_tensor_numel(n->dst) / (uint64_t)width;
    fv_dispatch *d = fv_dispatch_push(out, width == 4 ? "patchify_f32x4" : "patchify_f32");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], fv_unit_texel_kind(FV_DTYPE_F32, width), false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_pc_patchify pc = {.n = (uint32_t)units,
                         .channels = (uint32_t)p->channels,
                         .height = (uint32_t)p->height,
                         .width = (uint32_t)p->width,
                         .patch_size = (uint32_t)p->patch,
                         .gh = (uint32_t)p->gh,
                         .gw = (uint32_t)p->gw};
    fv_dispatch_set_push(d, &pc, sizeof pc);
    fv_dispatch_size_1d(d, units, 64);
    return FV_STATUS_OK;
}

static const char *patchify_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const patchify_params *p = (const patchify_params *)n->params;
    if (n->dst->nbytes > dev->max_storage_range || n->src[0]->nbytes > dev->max_storage_range)
        return "image larger than one storage binding";
    if (!fv_fits_texel_view(dev, n->src[0], fv_unit_texel_kind(FV_DTYPE_F32, patchify_width(p))))
        return "image has more texels than one texel view may cover";
    return NULL;
}

static const fv_op_def op_patchify = {"patchify", patchify_cpu, patchify_encode, patchify_unsupported};

fv_status fv_op_patchify(fv_graph *g, fv_tensor *image, int patch, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "patchify", "image", image);
    fv_status st = fv_op_require_dtype(g, "patchify", "image", image, FV_DTYPE_F32);
    if (st) return st;
    char s[96];
    if (image->ndim != 4 || patch < 1 || image->shape[2] < patch || image->shape[3] < patch)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "patchify: image %s must be [B, C, H, W] with H and W at least the patch size %d",
                       fv_shape_str(image, s, sizeof s), patch);
    patchify_params p = {.batch = image->shape[0],
                         .channels = image->shape[1],
                         .height = image->shape[2],
                         .width = image->shape[3],
                         .patch = patch,
                         .gh = image->shape[2] / patch,
                         .gw = image->shape[3] / patch};
    /* the kernels index the image and the output with 32-bit integers */
    if (fv_tensor_numel(image) > INT32_MAX)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT, "patchify: image %s is too large",
                       fv_shape_str(image, s, sizeof s));
    int64_t shape[3] = {p.batch, p.gh * p.gw, p.channels * p.patch * p.patch};
    return fv_graph_add_node(g, &op_patchify, &image, 1, &p, sizeof p, FV_DTYPE_F32, 3, shape, y);
}
