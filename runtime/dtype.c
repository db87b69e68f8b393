/* Data types: names, block sizes and scalar conversions. */
#include "internal.h"

#include <string.h>

static const struct {
    const char *name;
    int block;
    size_t bytes;
} dtypes[FV_DTYPE_COUNT_] = {
    [FV_DTYPE_F32] = {"f32", 1, 4},   [FV_DTYPE_F16] = {"f16", 1, 2},
    [FV_DTYPE_BF16] = {"bf16", 1, 2}, [FV_DTYPE_Q8_0] = {"q8_0", 32, 34},
    [FV_DTYPE_Q4_0] = {"q4_0", 32, 18}, [FV_DTYPE_I32] = {"i32", 1, 4},
};

const char *fv_dtype_name(fv_dtype d)
{
    return (unsigned)d < FV_DTYPE_COUNT_ ? dtypes[d].name : "unknown";
}
int fv_dtype_block_size(fv_dtype d) { return (unsigned)d < FV_DTYPE_COUNT_ ? dtypes[d].block : 0; }
size_t fv_dtype_block_bytes(fv_dtype d)
{
    return (unsigned)d < FV_DTYPE_COUNT_ ? dtypes[d].bytes : 0;
}
size_t fv_dtype_row_bytes(fv_dtype d, int64_t n)
{
    return (size_t)(n / dtypes[d].block) * dtypes[d].bytes;
}

/* IEEE half conversion with round-to-nearest-even, subnormals, inf and NaN. */
uint16_t fv_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow → inf */
    if (mag < 0x38800000u) {                                    /* subnormal or zero */
        if (mag < 0x33000000u) return (uint16_t)sign;
        uint32_t e = mag >> 23;
        uint32_t m = (mag & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((mag - 0x38000000u) >> 13);
    uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float fv_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else { /* normalise the subnormal */
            e = 113;
            while (!(m & 0x400u)) {
                m <<= 1;
                e--;
            }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t fv_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

float fv_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}
