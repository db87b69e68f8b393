/* Element-wise add / mul with numpy broadcasting over 4 dims: the OpenCL twin
 * of binary.comp. One work-item per output element. */
__kernel void binary_f32(FV_PARAMS, FV_ARG(const float, a), FV_ARG(const float, b), FV_ARG(float, y),
                         fv_pc_binary p)
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    __global const float *A = FV_PTR(const float, a), *B = FV_PTR(const float, b);
    uint i3 = i % p.shape3, r = i / p.shape3;
    uint i2 = r % p.shape2;
    r /= p.shape2;
    uint i1 = r % p.shape1, i0 = r / p.shape1;
    uint ia = i0 * p.astride0 + i1 * p.astride1 + i2 * p.astride2 + i3 * p.astride3;
    uint ib = i0 * p.bstride0 + i1 * p.bstride1 + i2 * p.bstride2 + i3 * p.bstride3;
    FV_PTR(float, y)[i] = p.op == FV_BINARY_ADD ? A[ia] + B[ib] : A[ia] * B[ib];
}
