/* Kernels that read GGUF quantised weights: the OpenCL twins of quant.comp
 * (see there for the block layouts). FV_SPEC_2 picks the layout: 0 q8_0
 * (34-byte blocks: f16 scale, 32 int8), 1 q4_0 (18-byte blocks: f16 scale,
 * 16 bytes of nibbles, byte j = element j low, element j + 16 high).
 * vload16 and vload_half take any alignment of their element type, so the
 * 2-byte-aligned blocks are read in place: the scale with vload_half, the
 * 32 weights as one or two 16-byte vectors, widened to float16 (no fp16
 * arithmetic: PoCL has none). Accumulation is f32. */
#if FV_SPEC_2
#define BS 18u
#else
#define BS 34u
#endif

/* Block scale d and the block's 32 weights before scaling (elements 0..15
 * in q0, 16..31 in q1) of the block at b. */
inline float q_block(__global const uchar *b, float16 *q0, float16 *q1)
{
#if FV_SPEC_2
    const uchar16 v = vload16(0, b + 2);
    /* nibbles fit a signed char: char16 -> float16 is the fast conversion */
    *q0 = convert_float16(as_char16(v & (uchar16)(15))) - 8.0f;
    *q1 = convert_float16(as_char16(v >> (uchar16)(4))) - 8.0f;
#else
    *q0 = convert_float16(vload16(0, (__global const char *)(b + 2)));
    *q1 = convert_float16(vload16(0, (__global const char *)(b + 18)));
#endif
    return vload_half(0, (__global const half *)b);
}

/* matvec_q_cl: Y = X·Wᵀ (+ bias) for the chunk fv_pc_matmul_q describes.
 * RN consecutive W rows per work-item (FV_SPEC_3), walked block by block;
 * each block of X (MV rows of it, FV_SPEC_1, at most 8; they stay in cache)
 * is loaded once for the RN rows. Work-item id = rb·ceil(N/RN) + i: further
 * blocks of MV rows of X (the prefill path) re-read W. Per block, X row and
 * W row: two float16 products, one scaled FMA into a float16 accumulator,
 * folded once at the end. Rows past N re-read the last one and store
 * nothing. */
#define MV FV_SPEC_1
#define RN FV_SPEC_3

__kernel void matvec_q_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const uchar, w), FV_ARG(const float, bias),
                          FV_ARG(float, y), fv_pc_matmul_q p)
{
    const uint groups = (p.N + RN - 1u) / RN, id = fv_linear_id();
    const uint rb = id / groups, n0 = (id - rb * groups) * RN, m0 = rb * MV;
    if (m0 >= p.M) return;
    const uint K = p.K, nb = K / 32u;
    __global const float *X = FV_PTR(const float, x) + p.x_off;
    __global const uchar *W = FV_PTR(const uchar, w) + p.w_off;
    __global const float *xr[MV];
    __global const uchar *wr[RN];
    for (uint m = 0; m < MV; m++) xr[m] = X + (ulong)min(m0 + m, p.M - 1u) * K;
    for (uint j = 0; j < RN; j++) wr[j] = W + (ulong)min(n0 + j, p.N - 1u) * p.row_bytes;
    float16 acc[MV][RN];
    for (uint m = 0; m < MV; m++)
        for (uint j = 0; j < RN; j++) acc[m][j] = (float16)(0.0f);
    for (uint kb = 0; kb < nb; kb++) {
        float16 q0[RN], q1[RN];
        float d[RN];
        for (uint j = 0; j < RN; j++) d[j] = q_block(wr[j] + kb * BS, &q0[j], &q1[j]);
        for (uint m = 0; m < MV; m++) {
            const float16 x0 = vload16(0, xr[m] + kb * 32u), x1 = vload16(0, xr[m] + kb * 32u + 16u);
            for (uint j = 0; j < RN; j++) acc[m][j] = fma((float16)(d[j]), fma(x1, q1[j], x0 * q0[j]), acc[m][j]);
        }
    }
    __global float *Y = FV_PTR(float, y) + p.y_off;
    for (uint j = 0; j < RN; j++) {
        const uint n = n0 + j;
        const float b = p.has_bias && n < p.N ? FV_PTR(const float, bias)[p.n0 + n] : 0.0f;
        for (uint m = 0; m < MV; m++)
            if (m0 + m < p.M && n < p.N) Y[(ulong)(m0 + m) * p.ldy + n] = fv_hsum16(acc[m][j]) + b;
    }
}

/* gather_q_cl: y[r, :] = table[index[row0 + r], :] as f32, zeros for an
 * index outside the table. One work-item per block of y (32 values). */
__kernel void gather_q_cl(FV_PARAMS, FV_ARG(const int, index), FV_ARG(const uchar, table), FV_ARG(float, y),
                          fv_pc_gather p)
{
    const uint nb = p.cols / 32u;
    const ulong i = fv_linear_id();
    if (i >= (ulong)p.rows * nb) return;
    const ulong r = i / nb, kb = i - r * nb;
    const int row = FV_PTR(const int, index)[p.row0 + r];
    __global float *yb = FV_PTR(float, y) + i * 32u;
    if (row < 0 || (uint)row >= p.table_rows) {
        vstore16((float16)(0.0f), 0, yb);
        vstore16((float16)(0.0f), 1, yb);
        return;
    }
    float16 q0, q1;
    const float d = q_block(FV_PTR(const uchar, table) + ((ulong)row * nb + kb) * BS, &q0, &q1);
    vstore16(d * q0, 0, yb);
    vstore16(d * q1, 1, yb);
}
