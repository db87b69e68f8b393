/* Element conversions between stored types and fv_tensor dtypes, on the
 * host while weights load. Stored data may be unaligned (a safetensors
 * header of any length puts the data at any offset), so every multi-byte
 * read goes through memcpy, which compilers turn into plain loads.
 *
 * Quantised blocks (llama.cpp's layouts, 32 elements each):
 *   q8_0: f16 scale d, then 32 int8 q;            x = d * q
 *   q4_0: f16 scale d, then 16 bytes of nibbles;  x = d * (nibble - 8),
 *         byte j holds element j (low nibble) and element j + 16 (high). */
#include "load_internal.h"

#include <math.h>
#include <string.h>

#define QK 32

static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void q8_0_block_to_f32(const uint8_t *b, float *y)
{
    float d = fv_f16_to_f32(rd16(b));
    const int8_t *q = (const int8_t *)(b + 2);
    for (int j = 0; j < QK; j++) y[j] = d * (float)q[j];
}

static void q4_0_block_to_f32(const uint8_t *b, float *y)
{
    float d = fv_f16_to_f32(rd16(b));
    const uint8_t *q = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)((q[j] & 0x0f) - 8);
        y[j + QK / 2] = d * (float)((q[j] >> 4) - 8);
    }
}

void fv_convert_to_f32(fv_file_dtype t, const void *data, int64_t first, int64_t n, float *dst)
{
    const uint8_t *p = data;
    switch (t) {
    case FV_FILE_DTYPE_F32:
        memcpy(dst, p + first * 4, (size_t)n * 4);
        break;
    case FV_FILE_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = fv_f16_to_f32(rd16(p + (first + i) * 2));
        break;
    case FV_FILE_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = fv_bf16_to_f32(rd16(p + (first + i) * 2));
        break;
    case FV_FILE_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, p + (first + i) * 8, 8);
            dst[i] = (float)v;
        }
        break;
    case FV_FILE_DTYPE_Q8_0:
        for (int64_t b = 0; b < n / QK; b++) q8_0_block_to_f32(p + (first / QK + b) * 34, dst + b * QK);
        break;
    case FV_FILE_DTYPE_Q4_0:
        for (int64_t b = 0; b < n / QK; b++) q4_0_block_to_f32(p + (first / QK + b) * 18, dst + b * QK);
        break;
    default:
        break; /* integer types: fv_convert_to_i32 */
    }
}

/* llama.cpp's reference q8_0 quantiser: the scale maps the largest
 * magnitude to 127, each value rounds half away from zero. gguf-py's
 * quantiser gives the same bytes. */
static void f32_block_to_q8_0(const float *x, uint8_t *b)
{
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t dh = fv_f32_to_f16(d);
    memcpy(b, &dh, 2);
    for (int j = 0; j < QK; j++) {
        float q = roundf(x[j] * id); /* in [-127, 127]; NaN (fails both tests) → 0 */
        b[2 + j] = (uint8_t)(int8_t)(q >= -127.0f && q <= 127.0f ? (int)q : 0);
    }
}

/* x * (1/d) + 8.5 truncated, in [0, 15]; NaN → 0. */
static inline int q4_level(float v)
{
    return v >= 15.0f ? 15 : v >= 0.0f ? (int)v : 0;
}

/* llama.cpp's reference q4_0 quantiser: the value of largest magnitude
 * (the first one, on ties) maps to -8, so its sign picks which end of the
 * 16 levels the range covers; x * (1/d) + 8.5 truncated is the nibble,
 * capped at 15. */
static void f32_block_to_q4_0(const float *x, uint8_t *b)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = max / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t dh = fv_f32_to_f16(d);
    memcpy(b, &dh, 2);
    for (int j = 0; j < QK / 2; j++) {
        int lo = q4_level(x[j] * id + 8.5f), hi = q4_level(x[j + QK / 2] * id + 8.5f);
        b[2 + j] = (uint8_t)(lo | (hi << 4));
    }
}

int64_t fv_convert_from_f32(fv_dtype dtype, const float *src, int64_t n, void *dst)
{
    uint8_t *p = dst;
    int64_t overflow = 0;
    switch (dtype) {
    case FV_DTYPE_F32:
        memcpy(p, src, (size_t)n * 4);
        break;
    case FV_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = fv_f32_to_f16(src[i]);
            overflow += (h & 0x7fffu) == 0x7c00u && isfinite(src[i]);
            memcpy(p + i * 2, &h, 2);
        }
        break;
    case FV_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = fv_f32_to_bf16(src[i]);
            memcpy(p + i * 2, &h, 2);
        }
        break;
    case FV_DTYPE_Q8_0:
        for (int64_t b = 0; b < n / QK; b++) f32_block_to_q8_0(src + b * QK, p + b * 34);
        break;
    case FV_DTYPE_Q4_0:
        for (int64_t b = 0; b < n / QK; b++) f32_block_to_q4_0(src + b * QK, p + b * 18);
        break;
    default:
        break;
    }
    return overflow;
}

bool fv_convert_to_i32(fv_file_dtype t, const void *data, int64_t first, int64_t n, int32_t *dst, int64_t *bad)
{
    const uint8_t *p = data;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        const uint8_t *e = p + (first + i) * (int64_t)fv_file_dtype_block_bytes(t);
        switch (t) {
        case FV_FILE_DTYPE_I8: v = (int8_t)e[0]; break;
        case FV_FILE_DTYPE_U8:
        case FV_FILE_DTYPE_BOOL: v = e[0]; break;
        case FV_FILE_DTYPE_I16: {
            int16_t x;
            memcpy(&x, e, 2);
            v = x;
            break;
        }
        case FV_FILE_DTYPE_I32: {
            int32_t x;
            memcpy(&x, e, 4);
            v = x;
            break;
        }
        case FV_FILE_DTYPE_I64: memcpy(&v, e, 8); break;
        default: break;
        }
        if (v < INT32_MIN || v > INT32_MAX) {
            *bad = first + i;
            return false;
        }
        dst[i] = (int32_t)v;
    }
    return true;
}

bool fv_convert_supported(fv_file_dtype from, fv_dtype to)
{
    switch (from) {
    case FV_FILE_DTYPE_F32:
    case FV_FILE_DTYPE_F16:
    case FV_FILE_DTYPE_BF16:
    case FV_FILE_DTYPE_F64:
        return to == FV_DTYPE_F32 || to == FV_DTYPE_F16 || to == FV_DTYPE_BF16 || to == FV_DTYPE_Q8_0 ||
               to == FV_DTYPE_Q4_0;
    case FV_FILE_DTYPE_Q8_0:
        return to == FV_DTYPE_Q8_0 || to == FV_DTYPE_F32 || to == FV_DTYPE_F16;
    case FV_FILE_DTYPE_Q4_0:
        return to == FV_DTYPE_Q4_0 || to == FV_DTYPE_F32 || to == FV_DTYPE_F16;
    case FV_FILE_DTYPE_I8:
    case FV_FILE_DTYPE_I16:
    case FV_FILE_DTYPE_I32:
    case FV_FILE_DTYPE_I64:
    case FV_FILE_DTYPE_U8:
    case FV_FILE_DTYPE_BOOL:
        return to == FV_DTYPE_I32;
    default:
        return false;
    }
}
