#version 450
/* Element-wise add / mul. General form: numpy broadcasting over 4 dims, one
 * invocation per output element, broadcast dims with stride 0 in a or b.
 * SAME: no broadcasting, see below. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_binary p; };

#if defined(SAME)
/* a, b and y of one shape, all contiguous (the residual adds of a
 * transformer): one invocation per unit of y (units.glsl: 1, 4 or 8
 * floats), a and b read through uniform texel buffers; p.n counts units. */
#include "units.glsl"
layout(binding = 1) uniform samplerBuffer A;
layout(binding = 2) uniform samplerBuffer B;
layout(std430, binding = 3) writeonly buffer Y { UNIT_STORE_T y[]; };

void main()
{
    const uint i = fv_linear_id();
    if (i >= p.n) return;
    const UNIT a = unit_load(A, i), b = unit_load(B, i);
    unit_store(y, i, p.op == FV_BINARY_ADD ? a + b : unit_mul(a, b));
}

#else
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
#endif
