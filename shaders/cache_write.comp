#version 450
/* KV-cache write (ops/cache_write.c): x [batch, ntok, row] into cache
 * [batch, cap, row] at rows pos .. pos + ntok - 1 of each batch, pos read
 * from the parameter buffer at replay time. One invocation per unit of x
 * (1 word, or 4 with VEC4); neighbouring invocations copy neighbouring
 * units of a row. Rows that would land outside 0..cap-1, or outside the
 * cache rows [row0, row0 + rows) this dispatch binds, are not written.
 *
 * Bindings: 1 x, 2 the bound range of the cache. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

/* the words are copied as raw bits: f32 and i32 alike */
#ifdef VEC4
#define UNIT uvec4
#else
#define UNIT uint
#endif

layout(push_constant) uniform Push { fv_pc_cache_write p; };
layout(std430, binding = 1) readonly buffer X { UNIT x[]; };
layout(std430, binding = 2) writeonly buffer C { UNIT cache[]; };

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    uint r = i / p.row_units, e = i - r * p.row_units;
    uint b = r / p.ntok, t = r - b * p.ntok;
    int pos = p.pos_slot > 0 ? fv_param[p.pos_slot - 1] : p.pos0;
    int slot = pos + int(t); /* wraps negative only when pos is near 2^31: skipped either way */
    if (slot < 0 || slot >= int(p.cap)) return;
    uint crow = b * p.cap + uint(slot);
    if (crow < p.row0 || crow - p.row0 >= p.rows) return;
    cache[(crow - p.row0) * p.row_units + e] = x[i];
}
