/* fovea — model files and images.
 *
 * Readers for the files a vision-language model comes in (safetensors with
 * Hugging Face's config.json, GGUF), a weight set that checks tensor names
 * and shapes and uploads them into fv_tensors of the dtype asked for, and
 * the image preprocessing a vision encoder wants (decode, resize, crop, pad,
 * normalise). All of it runs on the host.
 *
 * Errors: functions that take a context report their message through it
 * (fv_context_last_error); the others take `error`/`error_size` (either may
 * be NULL/0) where the reason is written on failure.
 *
 * MIT licence; see LICENSE at the root of the project. */
#ifndef FOVEA_MODEL_H
#define FOVEA_MODEL_H

#include "fovea/fovea.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- stored tensors ------------------------------------------------------
 * A tensor as a file holds it. The element types of both formats that fovea
 * reads; only the float and quantised ones (and i32/i64 as i32) can be
 * loaded into an fv_tensor. */

typedef enum fv_file_dtype {
    FV_FILE_DTYPE_F32 = 0,
    FV_FILE_DTYPE_F16,
    FV_FILE_DTYPE_BF16,
    FV_FILE_DTYPE_Q8_0,
    FV_FILE_DTYPE_Q4_0,
    FV_FILE_DTYPE_F64,
    FV_FILE_DTYPE_I8,
    FV_FILE_DTYPE_I16,
    FV_FILE_DTYPE_I32,
    FV_FILE_DTYPE_I64,
    FV_FILE_DTYPE_U8,
    FV_FILE_DTYPE_BOOL,
    FV_FILE_DTYPE_COUNT_
} fv_file_dtype;

/* "f32", "q8_0", ... ("unknown" out of range). */
FV_API const char *fv_file_dtype_name(fv_file_dtype dtype);

#define FV_WEIGHT_MAX_DIMS 8

/* One stored tensor. The shape is outermost first, as PyTorch writes it,
 * for both formats (GGUF stores its dimensions innermost first; they are
 * reversed here, so a Linear weight reads [out, in] from either). `data`
 * points into the memory-mapped file and may be unaligned. Valid while the
 * reader that returned it is open. */
typedef struct fv_weight_info {
    const char *name;
    fv_file_dtype dtype;
    int ndim;                           /* 0 for a scalar */
    int64_t shape[FV_WEIGHT_MAX_DIMS];
    const void *data;
    size_t nbytes;
} fv_weight_info;

/* ---- safetensors ---------------------------------------------------------
 * The file is memory-mapped and validated when opened: header length,
 * JSON, every dtype, offsets inside the data, offsets agreeing with shape
 * and dtype, no overlaps and no holes (the format's own rule). */

typedef struct fv_safetensors fv_safetensors;

FV_API fv_status fv_safetensors_open(const char *path, fv_safetensors **out, char *error,
                                     size_t error_size);
FV_API void fv_safetensors_close(fv_safetensors *st);
FV_API int fv_safetensors_count(const fv_safetensors *st);
/* Tensor i in the order of their data in the file. */
FV_API const fv_weight_info *fv_safetensors_at(const fv_safetensors *st, int i);
/* NULL when absent. */
FV_API const fv_weight_info *fv_safetensors_find(const fv_safetensors *st, const char *name);
/* A string of the "__metadata__" block, or NULL. */
FV_API const char *fv_safetensors_metadata(const fv_safetensors *st, const char *key);

/* ---- GGUF ----------------------------------------------------------------
 * Versions 2 and 3 (little-endian). Metadata of every GGUF type, tensor
 * infos, alignment (general.alignment, 32 by default); tensors of type f32,
 * f16, bf16, q8_0, q4_0, f64, i8, i16, i32 and i64. Any other tensor type
 * fails the open with the tensor's name. */

typedef enum fv_gguf_type {
    FV_GGUF_TYPE_UINT8 = 0,
    FV_GGUF_TYPE_INT8 = 1,
    FV_GGUF_TYPE_UINT16 = 2,
    FV_GGUF_TYPE_INT16 = 3,
    FV_GGUF_TYPE_UINT32 = 4,
    FV_GGUF_TYPE_INT32 = 5,
    FV_GGUF_TYPE_FLOAT32 = 6,
    FV_GGUF_TYPE_BOOL = 7,
    FV_GGUF_TYPE_STRING = 8,
    FV_GGUF_TYPE_ARRAY = 9,
    FV_GGUF_TYPE_UINT64 = 10,
    FV_GGUF_TYPE_INT64 = 11,
    FV_GGUF_TYPE_FLOAT64 = 12,
    FV_GGUF_TYPE_COUNT_
} fv_gguf_type;

typedef struct fv_gguf fv_gguf;

FV_API fv_status fv_gguf_open(const char *path, fv_gguf **out, char *error, size_t error_size);
FV_API void fv_gguf_close(fv_gguf *g);
FV_API uint32_t fv_gguf_version(const fv_gguf *g);
FV_API size_t fv_gguf_alignment(const fv_gguf *g);

FV_API int fv_gguf_tensor_count(const fv_gguf *g);
FV_API const fv_weight_info *fv_gguf_tensor_at(const fv_gguf *g, int i); /* file order */
FV_API const fv_weight_info *fv_gguf_find_tensor(const fv_gguf *g, const char *name);

/* Metadata, by index (0 .. count-1, in file order). */
FV_API int64_t fv_gguf_key_count(const fv_gguf *g);
FV_API int64_t fv_gguf_find_key(const fv_gguf *g, const char *key); /* -1 when absent */
FV_API const char *fv_gguf_key_name(const fv_gguf *g, int64_t i);
FV_API fv_gguf_type fv_gguf_key_type(const fv_gguf *g, int64_t i);
/* For an array: the element type and count; for a scalar: its type and 1. */
FV_API fv_gguf_type fv_gguf_elem_type(const fv_gguf *g, int64_t i);
FV_API uint64_t fv_gguf_elem_count(const fv_gguf *g, int64_t i);
/* Element `elem` of key i (0 for a scalar). Integers read as any integer
 * type (range-checked into int64); floats read float32/float64 and integer
 * values; bools read only bools. Strings point into the file and are not
 * NUL-terminated. FV_STATUS_INVALID_ARGUMENT for another type or an index
 * out of range; *out is then left as it was. */
FV_API fv_status fv_gguf_value_int(const fv_gguf *g, int64_t i, uint64_t elem, int64_t *out);
FV_API fv_status fv_gguf_value_float(const fv_gguf *g, int64_t i, uint64_t elem, double *out);
FV_API fv_status fv_gguf_value_bool(const fv_gguf *g, int64_t i, uint64_t elem, bool *out);
FV_API fv_status fv_gguf_value_string(const fv_gguf *g, int64_t i, uint64_t elem, const char **str,
                                      size_t *len);
/* Scalar by key, `def` when the key is absent or of another type. Strings
 * returned here are NUL-terminated copies owned by g. */
FV_API int64_t fv_gguf_get_int(const fv_gguf *g, const char *key, int64_t def);
FV_API double fv_gguf_get_float(const fv_gguf *g, const char *key, double def);
FV_API bool fv_gguf_get_bool(const fv_gguf *g, const char *key, bool def);
FV_API const char *fv_gguf_get_string(const fv_gguf *g, const char *key, const char *def);

/* ---- config.json ---------------------------------------------------------
 * Hugging Face configuration files (config.json, preprocessor_config.json).
 * Keys are dotted paths into nested objects: "vision_config.hidden_size".
 * Each getter writes `def` and returns OK when the key is absent or null;
 * a present value of another type (a string where a number is expected,
 * 3.5 for an integer) returns FV_STATUS_INVALID_ARGUMENT and writes def. */

typedef struct fv_config fv_config;

FV_API fv_status fv_config_load(const char *path, fv_config **out, char *error, size_t error_size);
FV_API fv_status fv_config_parse(const char *text, size_t length, fv_config **out, char *error,
                                 size_t error_size);
FV_API void fv_config_destroy(fv_config *c);
FV_API bool fv_config_has(const fv_config *c, const char *key);
FV_API fv_status fv_config_int(const fv_config *c, const char *key, int64_t def, int64_t *out);
FV_API fv_status fv_config_float(const fv_config *c, const char *key, double def, double *out);
FV_API fv_status fv_config_bool(const fv_config *c, const char *key, bool def, bool *out);
/* The string is owned by c. */
FV_API fv_status fv_config_string(const fv_config *c, const char *key, const char *def,
                                  const char **out);
/* An array of numbers: writes up to `capacity` values and the array's length
 * to *count (0 when absent). */
FV_API fv_status fv_config_floats(const fv_config *c, const char *key, double *out, int capacity,
                                  int *count);

/* ---- weight sets -----------------------------------------------------------
 * The tensors of one model, from a directory (config.json, optional
 * preprocessor_config.json, and model.safetensors, the shards a
 * model.safetensors.index.json lists, or else every *.safetensors there) or
 * from one .gguf file. Model code asks for each tensor by name with the
 * shape its architecture expects and the dtype it computes with. */

typedef struct fv_weights fv_weights;

/* Zero-initialised means: a progress bar on stderr when it is a terminal
 * and the set holds at least 64 MiB. The bar measures the bytes read
 * against those of every tensor in the set; it ends its line when all were
 * loaded or the set is closed. */
typedef struct fv_weights_desc {
    int progress; /* 0 = as above, 1 = always, -1 = never */
} fv_weights_desc;

/* desc may be NULL. Failures are reported through ctx. */
FV_API fv_status fv_weights_open(fv_context *ctx, const char *path, const fv_weights_desc *desc,
                                 fv_weights **out);
FV_API void fv_weights_close(fv_weights *w);
FV_API int fv_weights_count(const fv_weights *w);
FV_API const fv_weight_info *fv_weights_at(const fv_weights *w, int i); /* sorted by name */
FV_API const fv_weight_info *fv_weights_find(const fv_weights *w, const char *name);
/* config.json / preprocessor_config.json of a directory (NULL when absent,
 * and always NULL for GGUF); the GGUF reader of a .gguf set (else NULL). */
FV_API const fv_config *fv_weights_config(const fv_weights *w);
FV_API const fv_config *fv_weights_preprocessor_config(const fv_weights *w);
FV_API const fv_gguf *fv_weights_gguf(const fv_weights *w);

/* Looks `name` up and checks it has exactly `shape` (ndim dims; a -1 in
 * shape accepts any size there). A missing or misshaped tensor is
 * FV_STATUS_INVALID_ARGUMENT with a message naming it and both shapes. */
FV_API fv_status fv_weights_get(fv_weights *w, const char *name, int ndim, const int64_t *shape,
                                const fv_weight_info **out);

/* Checks as fv_weights_get, then creates a tensor of `dtype` with the
 * stored shape and uploads the data, converting on the way:
 *   stored f32 / f16 / bf16 / f64 → f32, f16, bf16, q8_0 or q4_0
 *     (q8_0 / q4_0 rounded as llama.cpp's reference quantiser does);
 *   stored q8_0 / q4_0 → the same type as-is, or dequantised to f32 / f16;
 *   stored i32 / i64 / i16 / i8 / u8 / bool → i32 (range-checked).
 * A scalar becomes a [1] tensor. The caller owns *out. */
FV_API fv_status fv_weights_load(fv_weights *w, const char *name, fv_dtype dtype, int ndim,
                                 const int64_t *shape, fv_tensor **out);
/* The same, but the tensor gets `tensor_shape` (same element count), e.g. a
 * patch-embedding kernel stored [O, C, kh, kw] loaded as [O, C·kh·kw]. */
FV_API fv_status fv_weights_load_as(fv_weights *w, const char *name, fv_dtype dtype, int ndim,
                                    const int64_t *shape, int tensor_ndim,
                                    const int64_t *tensor_shape, fv_tensor **out);

/* ---- images ----------------------------------------------------------------
 * 8-bit RGB images on the host, rows top to bottom, 3 bytes per pixel. */

typedef struct fv_image {
    int width, height;
    uint8_t *pixels; /* width * height * 3 bytes, owned; free with fv_image_free */
} fv_image;

/* PNG, JPEG (baseline and progressive), BMP, GIF (first frame) and PNM,
 * decoded by stb_image; grey and alpha are converted to RGB (alpha dropped,
 * as PIL's convert("RGB") does). A missing or unreadable file is
 * FV_STATUS_IO_ERROR; a damaged, truncated or unknown format is
 * FV_STATUS_INVALID_ARGUMENT with the decoder's reason. JPEG decoding is
 * stb_image's, not libjpeg's: pixels may differ from Pillow's by a level
 * or two. */
FV_API fv_status fv_image_load(const char *path, fv_image *out, char *error, size_t error_size);
FV_API fv_status fv_image_load_memory(const void *data, size_t size, fv_image *out, char *error,
                                      size_t error_size);
/* An uninitialised width x height image. */
FV_API fv_status fv_image_create(int width, int height, fv_image *out);
/* Frees the pixels and zeroes *img; accepts NULL and a zeroed image. */
FV_API void fv_image_free(fv_image *img);

typedef enum fv_resample {
    FV_RESAMPLE_BICUBIC = 0, /* Keys cubic, a = -0.5, as PIL and CLIP use it */
    FV_RESAMPLE_BILINEAR,
    FV_RESAMPLE_COUNT_
} fv_resample;

/* The geometric functions write a new image into *out (the caller frees it)
 * and return FV_STATUS_INVALID_ARGUMENT for sizes below 1 or above 65536,
 * FV_STATUS_OUT_OF_HOST_MEMORY when allocation fails. */

/* Separable resampling that follows Pillow's Image.resize: when shrinking,
 * the filter is stretched by the scale factor (antialiasing), weights are
 * fixed-point, and the horizontal pass is rounded to 8 bits before the
 * vertical one, so results match PIL's to the last bit in most pixels. */
FV_API fv_status fv_image_resize(const fv_image *src, int width, int height, fv_resample filter,
                                 fv_image *out);
/* Scales so the shorter side becomes `size`; the longer side becomes
 * floor(size * long / short), as Hugging Face and torchvision compute it. */
FV_API fv_status fv_image_resize_shortest(const fv_image *src, int size, fv_resample filter,
                                          fv_image *out);
/* The centre width x height window, starting at floor((W - width) / 2),
 * floor((H - height) / 2) as Hugging Face's processors crop. Where the
 * window is larger than the image it is filled with black and the image
 * sits at ceil((width - W) / 2), as Hugging Face pads. */
FV_API fv_status fv_image_crop_center(const fv_image *src, int width, int height, fv_image *out);
/* LLaVA's expand2square: a square of the longer side filled with `fill`
 * (RGB), the image pasted at floor of the centred offset. */
FV_API fv_status fv_image_pad_square(const fv_image *src, const uint8_t fill[3], fv_image *out);

typedef enum fv_image_layout {
    FV_IMAGE_LAYOUT_CHW = 0, /* planar [3][H][W]: what a ViT patch embedding reads */
    FV_IMAGE_LAYOUT_HWC,     /* interleaved [H][W][3] */
} fv_image_layout;

/* out[c] = (pixel[c] * scale - mean[c]) / std[c] as f32; scale 0 means 1/255.
 * `out_count` must be at least width * height * 3. */
FV_API fv_status fv_image_normalize(const fv_image *src, const float mean[3], const float std[3],
                                    float scale, fv_image_layout layout, float *out,
                                    size_t out_count);

typedef enum fv_image_fit {
    /* CLIP: the shorter side to `size`, then the centre width x height */
    FV_IMAGE_FIT_SHORTEST_CROP = 0,
    /* SigLIP: straight to width x height, the aspect ratio not kept */
    FV_IMAGE_FIT_STRETCH,
    /* LLaVA "pad": pad to a square with `fill`, then as SHORTEST_CROP */
    FV_IMAGE_FIT_PAD_SQUARE,
} fv_image_fit;

/* Zero-initialised means CLIP's: shorter side 224, centre crop 224 x 224,
 * bicubic, OpenAI CLIP's mean and std, scale 1/255, CHW. */
typedef struct fv_preprocess_desc {
    fv_image_fit fit;
    int size;             /* 0 = 224 */
    int width, height;    /* the output; 0 = size */
    fv_resample resample;
    float mean[3], std[3];/* all zero = OpenAI CLIP's */
    float scale;          /* 0 = 1/255 */
    const uint8_t *fill;  /* PAD_SQUARE colour; NULL = round-down(mean * 255), as LLaVA */
    fv_image_layout layout;
} fv_preprocess_desc;

/* Fills *out from a Hugging Face preprocessor_config.json (size /
 * shortest_edge / height+width, crop_size, do_center_crop, resample,
 * image_mean, image_std, rescale_factor). Fields it does not name keep
 * their zero default. */
FV_API fv_status fv_preprocess_desc_from_config(const fv_config *c, fv_preprocess_desc *out,
                                                char *error, size_t error_size);
/* Output size of the pipeline for `desc` (after defaults). */
FV_API void fv_preprocess_output_size(const fv_preprocess_desc *desc, int *width, int *height);
/* The whole pipeline into `out` (3 * width * height floats). desc may be NULL. */
FV_API fv_status fv_image_preprocess(const fv_image *src, const fv_preprocess_desc *desc,
                                     float *out, size_t out_count, char *error,
                                     size_t error_size);
/* The pipeline into a new f32 tensor [1, 3, H, W] (CHW) or [1, H, W, 3]
 * (HWC) on ctx; the caller owns *out. */
FV_API fv_status fv_image_preprocess_tensor(fv_context *ctx, const fv_image *src,
                                            const fv_preprocess_desc *desc, fv_tensor **out);

#ifdef __cplusplus
}
#endif
#endif
