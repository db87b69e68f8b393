/* Definitions shared by the model-file readers, the weight set and the
 * image code. Nothing here is part of the public API. */
#ifndef FOVEA_MODELS_LOAD_INTERNAL_H
#define FOVEA_MODELS_LOAD_INTERNAL_H

#include "fovea/model.h"
#include "runtime/internal.h"

#include <stdarg.h>

/* The conversions below read multi-byte values with memcpy in host order;
 * both formats are little-endian. A big-endian port needs byte swaps here. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fovea's model readers assume a little-endian host"
#endif

/* Writes "fmt ..." into error[0..size) (either may be NULL/0) and returns st. */
fv_status fv_error_set(char *error, size_t size, fv_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A whole file, memory-mapped read-only (or read into memory where the
 * system cannot map it). size > 0 always. */
typedef struct fv_mapped_file {
    const uint8_t *data;
    size_t size;
    bool mapped;  /* false: data was malloc'd */
} fv_mapped_file;

fv_status fv_file_map(const char *path, fv_mapped_file *out, char *error, size_t error_size);
void fv_file_unmap(fv_mapped_file *m);
/* Reads a whole (small) file into a NUL-terminated malloc'd buffer. */
fv_status fv_file_read_text(const char *path, char **out, size_t *size, char *error,
                            size_t error_size);

/* Elements per block (1 or 32) and bytes per block of a stored type. */
int fv_file_dtype_block(fv_file_dtype t);
size_t fv_file_dtype_block_bytes(fv_file_dtype t);
/* Element count of a stored shape; false on overflow past 2^62. */
bool fv_shape_numel(int ndim, const int64_t *shape, int64_t *numel);
/* Bytes of numel elements; false when numel is not a whole number of blocks
 * or the size overflows. */
bool fv_file_dtype_nbytes(fv_file_dtype t, int64_t numel, size_t *bytes);
/* "[3,224,224]" */
const char *fv_dims_str(int ndim, const int64_t *shape, char *buf, size_t size);

/* Sorted name index over fv_weight_info pointers, shared by both readers
 * and the weight set: one qsort at open, bsearch per lookup. */
void fv_weight_index_sort(const fv_weight_info **v, size_t n);
const fv_weight_info *fv_weight_index_find(const fv_weight_info *const *v, size_t n, const char *name);
/* The first duplicate name in a sorted index, or NULL. */
const char *fv_weight_index_duplicate(const fv_weight_info *const *v, size_t n);

/* ---- conversions (models/convert.c) -------------------------------------
 * Element ranges of a stored tensor: `first` and `n` are element indices,
 * multiples of the block size for q8_0/q4_0. */

/* Decodes n elements starting at element `first` to f32. Float and
 * quantised stored types only. */
void fv_convert_to_f32(fv_file_dtype t, const void *data, int64_t first, int64_t n, float *dst);
/* Encodes n f32 values as `dtype` (f32, f16, bf16, q8_0, q4_0; n a multiple
 * of 32 for the quantised types). Returns how many finite inputs became
 * infinite (f16 overflow). */
int64_t fv_convert_from_f32(fv_dtype dtype, const float *src, int64_t n, void *dst);
/* Integer stored types to i32; false on a value outside int32 (its index
 * in *bad). */
bool fv_convert_to_i32(fv_file_dtype t, const void *data, int64_t first, int64_t n, int32_t *dst,
                       int64_t *bad);
/* Whether a stored type can be loaded into `dtype`. */
bool fv_convert_supported(fv_file_dtype from, fv_dtype to);

/* The fv_dtype with the same bytes as a stored type, or FV_DTYPE_COUNT_. */
fv_dtype fv_file_dtype_as_dtype(fv_file_dtype t);

/* ---- config (models/config.c) ------------------------------------------- */

/* The JSON text of a key's value, for error messages ("" when absent). */
const char *fv_config_value_text(const fv_config *c, const char *key, char *buf, size_t size);

/* ---- stb_image (models/stb_image_impl.c) -------------------------------- */

/* Size of an encoded image without decoding it; false with stb's reason. */
bool fv_stb_info(const uint8_t *data, size_t size, int *w, int *h, const char **reason);
/* Decodes to 8-bit RGB; NULL with stb's reason. Free with fv_stb_free. */
uint8_t *fv_stb_decode_rgb(const uint8_t *data, size_t size, int *w, int *h, const char **reason);
void fv_stb_free(void *p);

#endif
