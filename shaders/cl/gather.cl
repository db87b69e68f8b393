/* Gather rows, y[r, :] = table[index[row0 + r], :], and zeros for an index
 * outside 0..table_rows-1 (checked here, so no read leaves the table): the
 * OpenCL twin of gather.comp. The table is f32, or f16 with TABLE_F16
 * (specialisation constant 2), converted by vload_half, which needs no fp16
 * arithmetic.
 *
 * Each work-item owns FV_SPEC_1 consecutive elements of y (a multiple of 16;
 * long blocks on CPU devices, one float16 on GPUs, as in unary.cl) and walks
 * the row pieces they cover: float16 vectors along each piece, single
 * elements for its last few.
 *
 * Arguments: index (i32), table, y (f32). */
#define BLOCK FV_SPEC_1
#if FV_SPEC_2
#define TABLE_T half
#define LOAD16(p, c) vload_half16(0, (p) + (c))
#define LOAD1(p, c) vload_half((c), (p))
#else
#define TABLE_T float
#define LOAD16(p, c) vload16(0, (p) + (c))
#define LOAD1(p, c) ((p)[c])
#endif

__kernel void gather_cl(FV_PARAMS, FV_ARG(const int, index), FV_ARG(const TABLE_T, table), FV_ARG(float, y),
                        fv_pc_gather p)
{
    __global const int *I = FV_PTR(const int, index);
    __global const TABLE_T *T = FV_PTR(const TABLE_T, table);
    __global float *Y = FV_PTR(float, y);
    const ulong total = (ulong)p.rows * p.cols;
    const ulong begin = (ulong)fv_linear_id() * BLOCK;
    if (begin >= total) return;
    const ulong end = min(begin + BLOCK, total);
    ulong r = begin / p.cols;
    uint c = (uint)(begin - r * p.cols);
    for (ulong i = begin; i < end; r++, c = 0) {
        /* the piece [c, c1) of output row r */
        uint c1 = (uint)min((ulong)p.cols, c + (end - i));
        int row = I[p.row0 + r];
        __global float *yr = Y + r * p.cols;
        i += c1 - c;
        if (row < 0 || (uint)row >= p.table_rows) {
            for (; c + 16u <= c1; c += 16u) vstore16((float16)(0.0f), 0, yr + c);
            for (; c < c1; c++) yr[c] = 0.0f;
            continue;
        }
        __global const TABLE_T *tr = T + (ulong)row * p.cols;
        for (; c + 16u <= c1; c += 16u) vstore16(LOAD16(tr, c), 0, yr + c);
        for (; c < c1; c++) yr[c] = LOAD1(tr, c);
    }
}
