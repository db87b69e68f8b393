/* SwiGLU, y[r, c] = silu(gate[r, c]) · up[r, c] with silu(g) = g / (1 +
 * exp(-g)): the OpenCL twin of swiglu.comp. In split form gate and up are
 * the two halves of one input row of width 2·cols (both arguments then point
 * at the same tensor); otherwise the host passes the whole tensor as one row.
 *
 * Each work-item owns FV_SPEC_1 consecutive elements of y (a multiple of 16;
 * long blocks on CPU devices, one float16 on GPUs, as in unary.cl) and walks
 * the row pieces they cover: float16 vectors along each piece, single floats
 * for its last few elements.
 *
 * Arguments: gate, up, y (f32). */
#define BLOCK FV_SPEC_1

__kernel void swiglu_cl(FV_PARAMS, FV_ARG(const float, gate), FV_ARG(const float, up), FV_ARG(float, y),
                        fv_pc_swiglu p)
{
    __global const float *G = FV_PTR(const float, gate), *U = FV_PTR(const float, up);
    __global float *Y = FV_PTR(float, y);
    const ulong total = (ulong)p.rows * p.cols;
    const ulong begin = (ulong)fv_linear_id() * BLOCK;
    if (begin >= total) return;
    const ulong end = min(begin + BLOCK, total);
    const ulong in_row = p.split ? 2ul * p.cols : p.cols; /* input elements per row */
    ulong r = begin / p.cols;
    uint c = (uint)(begin - r * p.cols);
    for (ulong i = begin; i < end; r++, c = 0) {
        /* the piece [c, c1) of row r */
        uint c1 = (uint)min((ulong)p.cols, c + (end - i));
        __global const float *g = G + r * in_row, *u = U + r * in_row + (p.split ? p.cols : 0u);
        __global float *yr = Y + r * p.cols;
        i += c1 - c;
        for (; c + 16u <= c1; c += 16u) {
            float16 gv = vload16(0, g + c);
            vstore16(gv / (1.0f + exp(-gv)) * vload16(0, u + c), 0, yr + c);
        }
        for (; c < c1; c++) yr[c] = g[c] / (1.0f + exp(-g[c])) * u[c];
    }
}
