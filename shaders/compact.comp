#version 450
/* Mask compaction (ops/topk.c): one invocation per flag; a set flag i is
 * written to slot = the number of set flags before it, so the indices come
 * out in ascending order, shifted by `offset`; invocation 0 also writes the
 * leading 0 (the [CLS] row) when lead is 1. O(i) reads per invocation.
 *
 * Bindings: 1 flags (i32 [n]), 2 out (i32 [lead + k]). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_compact p; };
layout(std430, binding = 1) readonly buffer F { int flag[]; };
layout(std430, binding = 2) writeonly buffer O { int outi[]; };

void main()
{
    const uint i = fv_linear_id();
    if (i >= p.n) return;
    if (i == 0u && p.lead != 0u) outi[0] = 0;
    if (flag[i] == 0) return;
    uint slot = 0u;
    for (uint j = 0u; j < i; j++) slot += flag[j] != 0 ? 1u : 0u;
    if (slot < p.k) outi[p.lead + slot] = int(i + p.offset);
}
