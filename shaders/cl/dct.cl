/* One factor of dct2d's matrix path: the OpenCL twins of dct.comp's AXIS and
 * AXIS4 (see there for the layout), y[o, u, t] = Σ_i m[u, i] · x[o, i, t].
 * dct_axis_cl: one work-item per output element, t fastest; dct_axis4_cl
 * (inner % 4 == 0): a work-item owns 4 consecutive t (a float4) and 8 rows u.
 * Arguments: x, m, y.
 *
 * dct_crop_cl, the VkFFT path's last step (dct.comp's CROP): y[b, u·kw + v,
 * c] = wu · wv · w[b, u, v, c] over the kept block of VkFFT's full-grid
 * coefficients w [B, gh, gw, C]. One work-item per output element, c
 * fastest. Arguments: w, y. */
#define DCT_UB 8

__kernel void dct_axis4_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const float, m), FV_ARG(float, y), fv_pc_dct p)
{
    __global const float *X = FV_PTR(const float, x), *M = FV_PTR(const float, m);
    __global float *Y = FV_PTR(float, y);
    const uint id = fv_linear_id();
    if (id >= p.total) return;
    const uint i4 = p.inner / 4u, blocks = (p.rows + DCT_UB - 1u) / DCT_UB;
    const uint t4 = id % i4, r = id / i4, u0 = (r % blocks) * DCT_UB, o = r / blocks;
    float4 acc[DCT_UB];
    uint mrow[DCT_UB];
    for (uint k = 0u; k < DCT_UB; k++) {
        acc[k] = (float4)(0.0f);
        mrow[k] = min(u0 + k, p.rows - 1u) * p.n;
    }
    const uint xbase = o * p.n * i4 + t4;
    for (uint i = 0u; i < p.n; i++) {
        const float4 xv = vload4(xbase + i * i4, X);
        for (uint k = 0u; k < DCT_UB; k++) acc[k] += M[mrow[k] + i] * xv;
    }
    for (uint k = 0u; k < DCT_UB; k++)
        if (u0 + k < p.rows) vstore4(acc[k], (o * p.rows + u0 + k) * i4 + t4, Y);
}
__kernel void dct_axis_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const float, m), FV_ARG(float, y), fv_pc_dct p)
{
    __global const float *X = FV_PTR(const float, x), *M = FV_PTR(const float, m);
    __global float *Y = FV_PTR(float, y);
    uint id = fv_linear_id();
    if (id >= p.total) return;
    uint t = id % p.inner;
    uint ou = id / p.inner;
    uint u = ou % p.rows, o = ou / p.rows;
    __global const float *xr = X + o * p.n * p.inner + t;
    __global const float *mr = M + u * p.n;
    float s = 0.0f;
    for (uint i = 0u; i < p.n; i++) s += mr[i] * xr[i * p.inner];
    Y[id] = s;
}

__kernel void dct_crop_cl(FV_PARAMS, FV_ARG(const float, w), FV_ARG(float, y), fv_pc_dct_crop p)
{
    __global const float *W = FV_PTR(const float, w);
    __global float *Y = FV_PTR(float, y);
    const uint id = fv_linear_id();
    if (id >= p.total) return;
    const uint c = id % p.c, r = id / p.c, v = r % p.kw, u = (r / p.kw) % p.kh, b = r / p.kw / p.kh;
    const float wt = (u == 0u ? p.wh0 : p.wh) * (v == 0u ? p.ww0 : p.ww);
    Y[id] = wt * W[((b * p.gh + u) * p.gw + v) * p.c + c];
}
