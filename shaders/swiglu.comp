#version 450
/* SwiGLU, y[r, c] = silu(gate[r, c]) · up[r, c] with silu(g) = g·σ(g). In
 * split form gate and up are the two halves of one input row of width
 * 2·cols (both bindings then view the same rows). One invocation per unit of
 * y (units.glsl: 1, 4 or 8 floats).
 *
 * Bindings: 1 gate, 2 up (uniform texel buffers, f32 views), 3 y (storage). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "units.glsl"

layout(push_constant) uniform Push { fv_pc_swiglu p; };
layout(binding = 1) uniform samplerBuffer G;
layout(binding = 2) uniform samplerBuffer U;
layout(std430, binding = 3) writeonly buffer Y { UNIT_STORE_T y[]; };

void main()
{
    const uint units = p.cols / UNIT_W;
    uint i = fv_linear_id();
    if (i >= p.rows * units) return;
    uint gi = i, ui = i;
    if (p.split != 0u) {
        uint r = i / units, c = i - r * units;
        gi = 2u * r * units + c;
        ui = gi + units;
    }
    UNIT g = unit_load(G, gi);
    /* silu(g) = g / (1 + exp(-g)) = g / (1 + exp2(-g·log2 e)) */
    UNIT e = unit_exp2(g * -1.4426950408889634) + unit_splat(1.0);
#if defined(WIDE)
    UNIT sg = UNIT(g[0] / e[0], g[1] / e[1]);
#else
    UNIT sg = g / e;
#endif
    unit_store(y, i, unit_mul(sg, unit_load(U, ui)));
}
