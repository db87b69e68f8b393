/* KV-cache write: the OpenCL twin of cache_write.comp, one work-item per
 * 32-bit word of x, copied as raw bits (f32 or i32). OpenCL binds the whole
 * cache, so row0 is 0 and rows covers it. Rows that would land outside
 * 0..cap-1 are not written.
 *
 * Arguments: x, cache. */
__kernel void cache_write_cl(FV_PARAMS, FV_ARG(const uint, x), FV_ARG(uint, cache), fv_pc_cache_write p)
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    uint r = i / p.row_units, e = i - r * p.row_units;
    uint b = r / p.ntok, t = r - b * p.ntok;
    int pos = p.pos_slot > 0 ? fv_param[p.pos_slot - 1] : p.pos0;
    long slot = (long)pos + (long)t;
    if (slot < 0 || slot >= (long)p.cap) return;
    uint crow = b * p.cap + (uint)slot;
    if (crow < p.row0 || crow - p.row0 >= p.rows) return;
    FV_PTR(uint, cache)[(crow - p.row0) * p.row_units + e] = FV_PTR(const uint, x)[i];
}
