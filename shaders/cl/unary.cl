/* Element-wise y = f(x) for scale, gelu (erf form), gelu (tanh form),
 * quick_gelu and silu: the OpenCL twin of unary.comp.
 *
 * Each work-item owns one contiguous block of FV_SPEC_1 elements (a multiple
 * of 16): float16 vectors through the block, then single floats for a tail
 * at the very end of the tensor. On CPU devices the block is long (thousands
 * of elements, one work-item per work-group), so each work-item streams
 * through memory with wide vectors, which is what such drivers turn into
 * SIMD code; on GPUs it is one float16. The activation is specialisation
 * constant 2 (FV_UNARY_*). erf is OpenCL C's built-in (exact to a few
 * ulp, saturating to ±1).
 *
 * Arguments: x, y (f32); p.n counts elements. */
#define BLOCK FV_SPEC_1

#if FV_SPEC_2 == FV_UNARY_SCALE
#define ACTIVATION(v) ((v) * p.alpha)
#elif FV_SPEC_2 == FV_UNARY_GELU
#define ACTIVATION(v) (0.5f * (v) * (1.0f + erf((v) * M_SQRT1_2_F)))
#elif FV_SPEC_2 == FV_UNARY_GELU_TANH
/* 0.5·x·(1 + tanh(u)) = x·σ(2u): the same value without the cancellation of
 * 1 + tanh(u) for negative u; exp overflowing to inf gives 0 */
#define ACTIVATION(v) ((v) / (1.0f + exp(-1.5957691216057308f * ((v) + 0.044715f * (v) * (v) * (v)))))
#elif FV_SPEC_2 == FV_UNARY_QUICK_GELU
#define ACTIVATION(v) ((v) / (1.0f + exp(-1.702f * (v))))
#else /* FV_UNARY_SILU */
#define ACTIVATION(v) ((v) / (1.0f + exp(-(v))))
#endif

__kernel void unary_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(float, y), fv_pc_unary p)
{
    __global const float *X = FV_PTR(const float, x);
    __global float *Y = FV_PTR(float, y);
    uint begin = fv_linear_id() * BLOCK;
    if (begin >= p.n) return;
    uint end = min(p.n - begin, (uint)BLOCK) + begin, c = begin;
    for (; c + 16u <= end; c += 16u) {
        float16 v = vload16(0, X + c);
        vstore16(ACTIVATION(v), 0, Y + c);
    }
    for (; c < end; c++) {
        float v = X[c];
        Y[c] = ACTIVATION(v);
    }
}
