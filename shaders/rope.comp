#version 450
/* Rotary position embedding (ops/rope.c): x, y [batch, ntok, heads, dim].
 *
 * One invocation per (token, unit). Unit i < pairs rotates pair i of every
 * head: (i, i + pairs) in the rotate-half layout, (2i, 2i + 1) interleaved,
 *   (y_a, y_b) = (x_a·cos − x_b·sin, x_b·cos + x_a·sin),
 * by angle = f32(position)·inv_freq[i] (the f32 product, as Hugging Face
 * rounds it); the remaining units copy the pass-through tail of every head.
 * Neighbouring invocations touch neighbouring elements of a head, and the
 * sine and cosine are computed once per (token, pair), not per head.
 *
 * sin/cos: the driver's built-ins are specified to 2^-11 only on [-π, π],
 * and angles reach 10^5 rad. rope_sincos reduces a = k·π/2 + r with
 * k = round(a·2/π) and π/2 in four parts P1..P4 (P1..P3 of 7 significant
 * bits, so k·P_i is exact for |k| < 2^17, i.e. |a| < 2e5; P4 the rest to
 * 24 bits): each subtraction is then exact or rounds at the scale of r, and
 * `precise` keeps the compiler from regrouping them. On |r| <= π/4 Taylor
 * polynomials of degree 9 (sin) and 10 (cos) truncate below 2e-9; k mod 4
 * picks the quadrant. Error: about 1e-7 absolute.
 *
 * Bindings: 1 x, 2 inv_freq [pairs], 3 positions (i32) or a stand-in, 4 y. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_rope p; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer F { float inv_freq[]; };
layout(std430, binding = 3) readonly buffer P { int positions[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

void rope_sincos(float a, out float s, out float c)
{
    precise float k = floor(a * 0.636619747 + 0.5);
    precise float r = a - k * 1.5625;
    r = r - k * 0.00817871094;
    r = r - k * 0.000117301941;
    r = r - k * 3.13916473e-07;
    float r2 = r * r;
    float sn = r + r * r2 * (-0.166666672 + r2 * (0.00833333377 + r2 * (-0.000198412701 + r2 * 2.75573188e-06)));
    float cs = 1.0 + r2 * (-0.5 + r2 * (0.0416666679 + r2 * (-0.00138888892 +
                                                          r2 * (2.48015876e-05 + r2 * -2.755732e-07))));
    int q = int(k) & 3;
    s = q == 0 ? sn : q == 1 ? cs : q == 2 ? -sn : -cs;
    c = q == 0 ? cs : q == 1 ? -sn : q == 2 ? -cs : sn;
}

void main()
{
    uint id = fv_linear_id();
    if (id >= p.n) return;
    uint token = id / p.units, u = id - token * p.units;
    uint row = token * p.heads * p.dim;
    if (u >= p.pairs) { /* pass-through element */
        uint e = u + p.pairs;
        for (uint h = 0u; h < p.heads; h++) y[row + h * p.dim + e] = x[row + h * p.dim + e];
        return;
    }
    uint b = token / p.ntok, t = token - b * p.ntok;
    int base = p.pos_slot > 0 ? fv_param[p.pos_slot - 1] : p.pos0;
    int pos = base + (p.has_positions != 0u ? positions[b * p.pos_stride + t] : int(t));
    float s, c;
    rope_sincos(float(pos) * inv_freq[u], s, c);
    uint ia = p.interleaved != 0u ? 2u * u : u;
    uint ib = p.interleaved != 0u ? ia + 1u : u + p.pairs;
    for (uint h = 0u; h < p.heads; h++) {
        uint o = row + h * p.dim;
        float xa = x[o + ia], xb = x[o + ib];
        y[o + ia] = xa * c - xb * s;
        y[o + ib] = xb * c + xa * s;
    }
}
