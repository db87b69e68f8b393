#version 450
/* Element-wise add / mul with numpy broadcasting over 4 dims. One invocation
 * per output element; broadcast dims have stride 0 in a or b. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_binary p; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    uint i3 = i % p.shape3, r = i / p.shape3;
    uint i2 = r % p.shape2;
    r /= p.shape2;
    uint i1 = r % p.shape1, i0 = r / p.shape1;
    uint ia = i0 * p.astride0 + i1 * p.astride1 + i2 * p.astride2 + i3 * p.astride3;
    uint ib = i0 * p.bstride0 + i1 * p.bstride1 + i2 * p.bstride2 + i3 * p.bstride3;
    y[i] = p.op == FV_BINARY_ADD ? a[ia] + b[ib] : a[ia] * b[ib];
}
