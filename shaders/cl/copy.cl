/* Strided 4-d copy with dtype conversion, the kernel behind permute,
 * transpose, convert and concat (the OpenCL twin of copy.comp):
 *   dst[dst_off + Σ i_k·dstride_k] = src[src_off + Σ i_k·sstride_k]
 * over the index space shape0 × shape1 × shape2 × shape3 (p.n elements).
 * src is f32, or f16 when specialisation constant 2 is set; dst is f32, or
 * f16 when specialisation constant 3 is set. Halves are read with vload_half
 * and written with vstore_half_rte (round to nearest even, as the reference
 * does), which need no fp16 arithmetic.
 *
 * Each work-item owns FV_SPEC_1 consecutive indices of the index space (in
 * its order, so for a contiguous dst the writes of one work-item are
 * adjacent): it splits its first index once, then walks runs along dim 3.
 * A run that is contiguous on both sides moves in float16 vectors (a convert,
 * a concat of rows, a permute that keeps the last dim); otherwise element by
 * element. Long blocks on CPU devices, 16 indices on GPUs, as in unary.cl. */
#define BLOCK FV_SPEC_1
#if FV_SPEC_2
#define SRC_T half
#define LOAD16(p, i) vload_half16(0, (p) + (i))
#define LOAD1(p, i) vload_half((i), (p))
#else
#define SRC_T float
#define LOAD16(p, i) vload16(0, (p) + (i))
#define LOAD1(p, i) ((p)[i])
#endif
#if FV_SPEC_3
#define DST_T half
#define STORE16(v, p, i) vstore_half16_rte((v), 0, (p) + (i))
#define STORE1(v, p, i) vstore_half_rte((v), (i), (p))
#else
#define DST_T float
#define STORE16(v, p, i) vstore16((v), 0, (p) + (i))
#define STORE1(v, p, i) ((p)[i] = (v))
#endif

__kernel void copy_cl(FV_PARAMS, FV_ARG(const SRC_T, src), FV_ARG(DST_T, dst), fv_pc_copy p)
{
    __global const SRC_T *S = FV_PTR(const SRC_T, src) + p.src_off;
    __global DST_T *D = FV_PTR(DST_T, dst) + p.dst_off;
    const uint begin = fv_linear_id() * BLOCK;
    if (begin >= p.n) return;
    const uint end = min(p.n - begin, (uint)BLOCK) + begin;
    uint r = begin / p.shape3, i3 = begin - r * p.shape3;
    uint q = r / p.shape2, i2 = r - q * p.shape2;
    uint i0 = q / p.shape1, i1 = q - i0 * p.shape1;
    const bool contiguous = p.sstride3 == 1u && p.dstride3 == 1u;
    for (uint i = begin; i < end;) {
        /* the run of indices i3 .. i3 + len - 1 along dim 3 */
        uint len = min(p.shape3 - i3, end - i);
        __global const SRC_T *s = S + i0 * p.sstride0 + i1 * p.sstride1 + i2 * p.sstride2;
        __global DST_T *d = D + i0 * p.dstride0 + i1 * p.dstride1 + i2 * p.dstride2;
        uint k = i3, k1 = i3 + len;
        if (contiguous) {
            for (; k + 16u <= k1; k += 16u) STORE16(LOAD16(s, k), d, k);
            for (; k < k1; k++) STORE1(LOAD1(s, k), d, k);
        } else {
            for (; k < k1; k++) STORE1(LOAD1(s, k * p.sstride3), d, k * p.dstride3);
        }
        i += len;
        i3 = 0;
        if (++i2 == p.shape2) {
            i2 = 0;
            if (++i1 == p.shape1) {
                i1 = 0;
                i0++;
            }
        }
    }
}
