/* n / d for an invariant d without an integer divide, which SIMD-on-CPU
 * drivers (llvmpipe) run lane by lane: Granlund & Montgomery (1994), fig.
 * 4.1. magic and shifts come from fv_fastdiv_magic (ops/row_ops.h); exact
 * for every 32-bit n. */
uint fv_fastdiv(uint n, uint magic, uint shifts)
{
    uint hi, lo;
    umulExtended(n, magic, hi, lo);
    return (hi + ((n - hi) >> (shifts & 0xffu))) >> (shifts >> 8);
}
