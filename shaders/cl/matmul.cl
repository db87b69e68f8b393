/* Matrix products for OpenCL (the twins of matmul.comp and matvec.comp):
 *   Y[y_off + m*ldy + n] = sum_k X[x_off + m*K + k] W[w_off + n*K + k] (+ bias[n0 + n])
 * for the chunk of Y that fv_pc_matmul describes, f32 accumulation.
 *
 * Written for CPU devices (PoCL): no subgroups, no local memory. Each
 * work-item walks whole rows of X and W along K with float16
 * vectors (vload16 / vload_half16, which take any alignment, so x_off and
 * w_off need not be multiples of 16), keeps its partial sums in float16
 * registers and folds them once at the end; the last K % 16 values are a
 * scalar tail. Wide vector types are what PoCL turns into full-width SIMD
 * code; a scalar loop per output measured about 2.5 GFLOP/s at 1024³.
 *
 * Specialisation constants: FV_SPEC_0 the work-group size, FV_SPEC_3 whether
 * W is f16 (read with vload_half*, widened to f32: no fp16 arithmetic). */
#if FV_SPEC_3
#define W_T half
#define W16(ptr) vload_half16(0, (ptr))
#define W1(ptr) vload_half(0, (ptr))
#else
#define W_T float
#define W16(ptr) vload16(0, (ptr))
#define W1(ptr) (*(ptr))
#endif

/* matmul_cl_tile: a TM x TN block of Y per work-item (FV_SPEC_1 = TM,
 * FV_SPEC_2 = TN; the host uses 2x2 and 8x2). Per 16-deep step of K a
 * work-item loads TM + TN float16 vectors and does TM·TN float16 FMAs, all
 * in registers.
 *
 * The order of the blocks is chosen for the cache, since a CPU device runs
 * a work-group's work-items one after another and its work-groups roughly
 * in order: the columns of Y are cut into bands of FV_SPEC_0·TN (one column
 * of blocks per work-item of a group), and consecutive work-groups walk
 * down one band, block row by block row. A band's rows of W (32 rows of K
 * for TN = 2: 128 KiB at K = 1024) stay in the core's L2 cache while
 * the band lasts, and each group's TM rows of X are shared by its
 * work-items. Walking along rows of Y instead streams all of W
 * between two uses of a row (2x2 blocks at 1024³: 13 against 21 GFLOP/s).
 * K is also cut into slices of KC with a barrier after each: PoCL runs the
 * code between barriers as a loop over the group's work-items, so they all
 * take one slice in turn and its TM rows of X (TM KiB) stay in L1 while
 * each work-item's W rows stream from L2; the accumulators are kept per
 * work-item across the barrier.
 * Rows and columns past the edge re-read the last one and store nothing. */
#define TM FV_SPEC_1
#define TN FV_SPEC_2
#define KC 256u /* the slice of K all work-items of a group take in turn */

__kernel void matmul_cl_tile(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const W_T, w), FV_ARG(const float, bias),
                             FV_ARG(float, y), fv_pc_matmul p)
{
    const uint blocks_m = (p.M + TM - 1u) / TM, group = fv_linear_group();
    const uint m0 = group % blocks_m * TM;
    const uint band = group / blocks_m, n0 = (band * FV_SPEC_0 + (uint)get_local_id(0)) * TN;
    /* groups past the last band leave (the whole group: a barrier follows);
     * work-items past N in the last band compute on clamped rows, unstored */
    if (band * FV_SPEC_0 * TN >= p.N) return;
    const uint K = p.K;
    __global const float *X = FV_PTR(const float, x) + p.x_off;
    __global const W_T *W = FV_PTR(const W_T, w) + p.w_off;
    __global const float *xr[TM];
    __global const W_T *wr[TN];
    for (uint i = 0; i < TM; i++) xr[i] = X + (ulong)min(m0 + i, p.M - 1u) * K;
    for (uint j = 0; j < TN; j++) wr[j] = W + (ulong)min(n0 + j, p.N - 1u) * K;
    float16 acc[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) acc[i][j] = (float16)(0.0f);
    const uint K16 = K & ~15u;
    for (uint kc = 0; kc < K16; kc += KC) {
        const uint kend = min(kc + KC, K16);
        for (uint k = kc; k < kend; k += 16u) {
            float16 wv[TN];
            for (uint j = 0; j < TN; j++) wv[j] = W16(wr[j] + k);
            for (uint i = 0; i < TM; i++) {
                const float16 xv = vload16(0, xr[i] + k);
                for (uint j = 0; j < TN; j++) acc[i][j] = fma(xv, wv[j], acc[i][j]);
            }
        }
        /* all work-items finish this slice of K before any starts the next */
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    uint k = K16;
    float s[TM][TN];
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) s[i][j] = fv_hsum16(acc[i][j]);
    for (; k < K; k++) {
        float wk[TN];
        for (uint j = 0; j < TN; j++) wk[j] = W1(wr[j] + k);
        for (uint i = 0; i < TM; i++)
            for (uint j = 0; j < TN; j++) s[i][j] = fma(xr[i][k], wk[j], s[i][j]);
    }
    __global const float *B = FV_PTR(const float, bias) + p.n0;
    __global float *Y = FV_PTR(float, y) + p.y_off;
    for (uint i = 0; i < TM; i++)
        for (uint j = 0; j < TN; j++) {
            const uint m = m0 + i, n = n0 + j;
            if (m < p.M && n < p.N) Y[(ulong)m * p.ldy + n] = p.has_bias ? s[i][j] + B[n] : s[i][j];
        }
}

/* matvec_cl: for few X rows (FV_SPEC_1 = MV of them, < 8), where reading W
 * once is the whole cost. One W row per work-item, streamed along K in
 * float16 vectors (two per step, so two loads are in flight); each vector
 * serves all MV rows of X, which stay in cache. */
#define MV FV_SPEC_1

__kernel void matvec_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const W_T, w), FV_ARG(const float, bias),
                        FV_ARG(float, y), fv_pc_matmul p)
{
    const uint n = fv_linear_id();
    if (n >= p.N) return;
    const uint K = p.K;
    __global const float *X = FV_PTR(const float, x) + p.x_off;
    __global const W_T *wr = FV_PTR(const W_T, w) + p.w_off + (ulong)n * K;
    float16 acc0[MV], acc1[MV];
    for (uint m = 0; m < MV; m++) acc0[m] = acc1[m] = (float16)(0.0f);
    uint k = 0;
    for (; k + 32u <= K; k += 32u) {
        const float16 w0 = W16(wr + k), w1 = W16(wr + k + 16u);
        for (uint m = 0; m < MV; m++) {
            acc0[m] = fma(vload16(0, X + m * K + k), w0, acc0[m]);
            acc1[m] = fma(vload16(0, X + m * K + k + 16u), w1, acc1[m]);
        }
    }
    for (; k + 16u <= K; k += 16u) {
        const float16 w0 = W16(wr + k);
        for (uint m = 0; m < MV; m++) acc0[m] = fma(vload16(0, X + m * K + k), w0, acc0[m]);
    }
    float s[MV];
    for (uint m = 0; m < MV; m++) s[m] = fv_hsum16(acc0[m] + acc1[m]);
    for (; k < K; k++) {
        const float wk = W1(wr + k);
        for (uint m = 0; m < MV; m++) s[m] = fma(X[m * K + k], wk, s[m]);
    }
    __global float *Y = FV_PTR(float, y) + p.y_off;
    const float b = p.has_bias ? FV_PTR(const float, bias)[p.n0 + n] : 0.0f;
    for (uint m = 0; m < MV; m++) Y[(ulong)m * p.ldy + n] = s[m] + b;
}
