#version 450
/* Patchify (im2col of a ViT patch embedding), see ops/patchify.c:
 *   y[b, py*gw + px, c*p*p + ky*p + kx] = x[b, c, py*p + ky, px*p + kx]
 * One invocation per unit of y (units.glsl: 1 or 4 floats; 4 only when p
 * and W are multiples of 4, so a unit is 4 consecutive pixels of one patch
 * row and one aligned texel of x). Pure data movement: x is read through a
 * texel view (the fast read path on CPU-type devices), y written in order.
 *
 * Bindings: 1 x (uniform texel buffer, f32), 2 y (storage). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "units.glsl"

layout(push_constant) uniform Push { fv_pc_patchify p; };
layout(binding = 1) uniform samplerBuffer X;
layout(std430, binding = 2) writeonly buffer Y { UNIT_STORE_T y[]; };

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    const uint pp = p.patch_size * p.patch_size;
    const uint row_units = p.channels * pp / UNIT_W; /* units per output row (one patch) */
    uint r = i / row_units, k = (i - r * row_units) * UNIT_W;
    const uint tokens = p.gh * p.gw;
    uint b = r / tokens, t = r - b * tokens;
    uint py = t / p.gw, px = t - py * p.gw;
    uint c = k / pp, rem = k - c * pp;
    uint ky = rem / p.patch_size, kx = rem - ky * p.patch_size;
    uint src = ((b * p.channels + c) * p.height + py * p.patch_size + ky) * p.width + px * p.patch_size + kx;
    unit_store(y, i, unit_load(X, src / UNIT_W));
}
