/* Patchify (im2col of a ViT patch embedding): the OpenCL twin of
 * patchify.comp,
 *   y[b, py*gw + px, c*p*p + ky*p + kx] = x[b, c, py*p + ky, px*p + kx].
 * One work-item per output float (patchify_f32) or per 4 consecutive
 * floats of one patch row (patchify_f32x4: p and W multiples of 4). */
inline uint patchify_source(fv_pc_patchify p, uint k_out)
{
    const uint pp = p.patch_size * p.patch_size, row = p.channels * pp, tokens = p.gh * p.gw;
    uint r = k_out / row, k = k_out - r * row;
    uint b = r / tokens, t = r - b * tokens;
    uint py = t / p.gw, px = t - py * p.gw;
    uint c = k / pp, rem = k - c * pp;
    uint ky = rem / p.patch_size, kx = rem - ky * p.patch_size;
    return ((b * p.channels + c) * p.height + py * p.patch_size + ky) * p.width + px * p.patch_size + kx;
}

__kernel void patchify_f32(FV_PARAMS, FV_ARG(const float, x), FV_ARG(float, y), fv_pc_patchify p)
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    FV_PTR(float, y)[i] = FV_PTR(const float, x)[patchify_source(p, i)];
}

__kernel void patchify_f32x4(FV_PARAMS, FV_ARG(const float4, x), FV_ARG(float4, y), fv_pc_patchify p)
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    FV_PTR(float4, y)[i] = FV_PTR(const float4, x)[patchify_source(p, i * 4u) / 4u];
}
