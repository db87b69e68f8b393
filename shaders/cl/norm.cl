/* Layer normalisation and RMS normalisation over the last dimension (the
 * OpenCL twin of norm.comp):
 *   layernorm: y = (x - mean) / sqrt(var + eps) · w + b
 *   rmsnorm:   y = x / sqrt(mean(x²) + eps) · w
 * Specialisation constants: 1 the kind (FV_NORM_*), 2 which of w and b are
 * present (FV_NORM_WEIGHT | FV_NORM_BIAS; an absent one is bound to x and
 * never read), 3 and 4 whether w and b are f16 (read with vload_half, which
 * needs no fp16 arithmetic).
 *
 * The statistics avoid the cancellation of sum-of-squares formulas, so a
 * row whose mean is large against its spread loses nothing. Two layouts,
 * chosen by the host per device type (ops/row_ops.h):
 *  - norm_cl_row, for CPU devices: each work-item owns p.rows_per_item whole
 *    rows and runs one work-group of its own; float16 vectors along the row
 *    with partial results in registers. Two passes over a row: the
 *    statistics, by Welford's running mean and M2 in each vector lane (the
 *    lanes merged at the end as Chan, Golub & LeVeque merge groups), then
 *    the writes, which find the row in cache; so x is read from memory once.
 *  - norm_cl_group, for GPUs: one row per work-group of FV_SPEC_0 work-items
 *    (a power of two) that take every FV_SPEC_0-th float4 and merge their
 *    sums through local memory: the mean first, then Σ (x - mean)², then
 *    the writes. */
#define KIND FV_SPEC_1
#define AFFINE FV_SPEC_2
#if FV_SPEC_3
#define W_T half
#define W16(c) vload_half16(0, Wt + (c))
#define W4(u) vload_half4((u), Wt)
#define W1(c) vload_half((c), Wt)
#else
#define W_T float
#define W16(c) vload16(0, Wt + (c))
#define W4(u) vload4((u), Wt)
#define W1(c) Wt[c]
#endif
#if FV_SPEC_4
#define B_T half
#define B16(c) vload_half16(0, Bs + (c))
#define B4(u) vload_half4((u), Bs)
#define B1(c) vload_half((c), Bs)
#else
#define B_T float
#define B16(c) vload16(0, Bs + (c))
#define B4(u) vload4((u), Bs)
#define B1(c) Bs[c]
#endif
#define HAS_W ((AFFINE & FV_NORM_WEIGHT) != 0u)
#define HAS_B ((AFFINE & FV_NORM_BIAS) != 0u)

__kernel void norm_cl_row(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const W_T, w), FV_ARG(const B_T, b),
                          FV_ARG(float, y), fv_pc_norm p)
{
    const uint r0 = fv_linear_id() * p.rows_per_item;
    if (r0 >= p.rows) return;
    const uint r1 = min(p.rows - r0, p.rows_per_item) + r0;
    __global const W_T *Wt = FV_PTR(const W_T, w);
    __global const B_T *Bs = FV_PTR(const B_T, b);
    const uint cols = p.cols;
    for (uint r = r0; r < r1; r++) {
        __global const float *xr = FV_PTR(const float, x) + (ulong)r * cols;
        __global float *yr = FV_PTR(float, y) + (ulong)r * cols;
        uint c;
        float mean = 0.0f, m2 = 0.0f; /* m2 = Σ (x - mean)², mean = 0 for rmsnorm */
        if (KIND == FV_NORM_LAYER) {
            /* Welford's update in each of the 16 lanes: lane l sees
             * elements l, l + 16, ..., so every lane has the same count n
             * and 1/n is one scalar divide per vector */
            float16 mu = (float16)(0.0f), q = (float16)(0.0f);
            float n = 0.0f;
            for (c = 0; c + 16u <= cols; c += 16u) {
                float16 v = vload16(0, xr + c), d = v - mu;
                n += 1.0f;
                mu = fma(d, (float16)(1.0f / n), mu);
                q = fma(d, v - mu, q);
            }
            /* the lanes merged (equal counts): the mean of their means, and
             * M2 = Σ M2_l + n Σ (mu_l - mean)² */
            mean = fv_hsum16(mu) * (1.0f / 16.0f);
            float16 dm = mu - mean;
            m2 = fv_hsum16(q) + n * fv_hsum16(dm * dm);
            /* fewer than 16 elements left: their own mean and M2, merged
             * as Chan, Golub & LeVeque merge two groups */
            if (c < cols) {
                float na = 16.0f * n, nt = (float)(cols - c), st = 0.0f, qt = 0.0f;
                for (uint k = c; k < cols; k++) st += xr[k];
                const float mt = st / nt;
                for (uint k = c; k < cols; k++) qt += (xr[k] - mt) * (xr[k] - mt);
                const float delta = mt - mean, f = nt / (na + nt);
                mean += delta * f;
                m2 += qt + delta * delta * na * f;
            }
        } else {
            /* two accumulators, so the FMAs of neighbouring vectors do not
             * wait on each other */
            float16 a0 = (float16)(0.0f), a1 = (float16)(0.0f);
            for (c = 0; c + 32u <= cols; c += 32u) {
                float16 v0 = vload16(0, xr + c), v1 = vload16(0, xr + c + 16u);
                a0 = fma(v0, v0, a0);
                a1 = fma(v1, v1, a1);
            }
            for (; c + 16u <= cols; c += 16u) {
                float16 v = vload16(0, xr + c);
                a0 = fma(v, v, a0);
            }
            m2 = fv_hsum16(a0 + a1);
            for (; c < cols; c++) m2 += xr[c] * xr[c];
        }
        const float rstd = rsqrt(m2 / (float)cols + p.eps);
        /* the writes, the row now in cache */
        for (c = 0; c + 16u <= cols; c += 16u) {
            float16 v = (vload16(0, xr + c) - mean) * rstd;
            if (HAS_W) v *= W16(c);
            if (HAS_B) v += B16(c);
            vstore16(v, 0, yr + c);
        }
        for (; c < cols; c++) {
            float v = (xr[c] - mean) * rstd;
            if (HAS_W) v *= W1(c);
            if (HAS_B) v += B1(c);
            yr[c] = v;
        }
    }
}

__kernel void norm_cl_group(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const W_T, w), FV_ARG(const B_T, b),
                            FV_ARG(float, y), fv_pc_norm p)
{
    __local float red[FV_SPEC_0];
    const uint r = fv_linear_group();
    if (r >= p.rows) return; /* the whole work-group: no barrier is skipped by a part */
    const uint t = (uint)get_local_id(0), lanes = FV_SPEC_0, cols = p.cols, units = cols / 4u;
    __global const W_T *Wt = FV_PTR(const W_T, w);
    __global const B_T *Bs = FV_PTR(const B_T, b);
    __global const float *xr = FV_PTR(const float, x) + (ulong)r * cols;
    __global float *yr = FV_PTR(float, y) + (ulong)r * cols;
    float mean = 0.0f;
    if (KIND == FV_NORM_LAYER) {
        float s = 0.0f;
        for (uint u = t; u < units; u += lanes) s += fv_hsum4(vload4(u, xr));
        for (uint c = units * 4u + t; c < cols; c += lanes) s += xr[c];
        mean = fv_group_sum(red, s) / (float)cols;
    }
    float q = 0.0f;
    for (uint u = t; u < units; u += lanes) {
        float4 d = vload4(u, xr) - mean;
        q += fv_hsum4(d * d);
    }
    for (uint c = units * 4u + t; c < cols; c += lanes) q += (xr[c] - mean) * (xr[c] - mean);
    const float rstd = rsqrt(fv_group_sum(red, q) / (float)cols + p.eps);
    for (uint u = t; u < units; u += lanes) {
        float4 v = (vload4(u, xr) - mean) * rstd;
        if (HAS_W) v *= W4(u);
        if (HAS_B) v += B4(u);
        vstore4(v, u, yr);
    }
    for (uint c = units * 4u + t; c < cols; c += lanes) {
        float v = (xr[c] - mean) * rstd;
        if (HAS_W) v *= W1(c);
        if (HAS_B) v += B1(c);
        yr[c] = v;
    }
}
