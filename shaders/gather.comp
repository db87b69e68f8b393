#version 450
/* Gather rows: y[r, :] = table[index[row0 + r], :], and zeros for an index
 * outside 0..table_rows-1 (checked here, so no read is ever out of bounds).
 * One invocation per unit of y (units.glsl: 1, 4 or 8 floats). The table's
 * texel view (f32 or f16) converts, so y is f32 either way.
 *
 * Bindings: 1 index (storage, i32), 2 table (uniform texel buffer),
 * 3 y (storage). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "units.glsl"

layout(push_constant) uniform Push { fv_pc_gather p; };
layout(std430, binding = 1) readonly buffer I { int index[]; };
layout(binding = 2) uniform samplerBuffer Tb;
layout(std430, binding = 3) writeonly buffer Y { UNIT_STORE_T y[]; };

void main()
{
    const uint units = p.cols / UNIT_W;
    uint i = fv_linear_id();
    if (i >= p.rows * units) return;
    uint r = i / units, c = i - r * units;
    int row = index[p.row0 + r];
    UNIT v = unit_splat(0.0);
    if (row >= 0 && uint(row) < p.table_rows) v = unit_load(Tb, uint(row) * units + c);
    unit_store(y, i, v);
}
