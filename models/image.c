/* Images on the host: decoding (stb_image), resampling, crop, pad and
 * normalisation, composed into the preprocessing pipelines of CLIP, SigLIP
 * and LLaVA.
 *
 * The reference these models were trained with is Pillow: Hugging Face's
 * image processors and OpenAI's CLIP both resize 8-bit images with
 * PIL.Image.resize. Its algorithm (Pillow's Resample.c) is reproduced here
 * so that encoder inputs match the reference bit for bit where possible:
 *   - separable: a horizontal pass into an 8-bit intermediate, then a
 *     vertical pass;
 *   - output pixel i samples the input around centre (i + 0.5) * scale with
 *     the filter stretched by `scale` when shrinking (the antialiasing that
 *     makes a 1000 -> 224 bicubic resize average ~4.5 input pixels per tap
 *     instead of aliasing), weights normalised to sum 1;
 *   - weights in fixed point with 22 fractional bits, accumulated in 32-bit
 *     integers from a rounding offset of one half, then clamped to 0..255. */
#include "load_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 65536
/* Refuse decoding anything above 2^28 pixels (0.75 GiB of RGB): a photo is
 * far smaller, and a forged header must not make us allocate gigabytes. */
#define MAX_PIXELS ((int64_t)1 << 28)

fv_status fv_image_create(int width, int height, fv_image *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) return FV_STATUS_INVALID_ARGUMENT;
    out->pixels = malloc((size_t)width * (size_t)height * 3);
    if (!out->pixels) return FV_STATUS_OUT_OF_HOST_MEMORY;
    out->width = width;
    out->height = height;
    return FV_STATUS_OK;
}

void fv_image_free(fv_image *img)
{
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

static bool image_ok(const fv_image *img)
{
    return img && img->pixels && img->width >= 1 && img->height >= 1 && img->width <= MAX_SIDE &&
           img->height <= MAX_SIDE;
}

/* ---- decoding ---------------------------------------------------------------- */

/* The format a file's first bytes announce, or NULL. stb reports a file
 * cut inside its header as "unknown image type"; knowing the signature
 * lets the message say "a truncated JPEG" instead. */
static const char *sniff(const uint8_t *p, size_t n)
{
    if (n >= 4 && !memcmp(p, "\x89PNG", 4)) return "PNG";
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return "JPEG";
    if (n >= 4 && !memcmp(p, "GIF8", 4)) return "GIF";
    if (n >= 2 && p[0] == 'B' && p[1] == 'M') return "BMP";
    if (n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return "PNM";
    return NULL;
}

static fv_status decode(const uint8_t *data, size_t size, const char *what, fv_image *out, char *error,
                        size_t error_size)
{
    int w, h;
    const char *reason = "", *format = sniff(data, size);
    if (!fv_stb_info(data, size, &w, &h, &reason)) {
        if (format)
            return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                                "%s: a damaged or truncated %s file (its header cannot be read)", what, format);
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "%s: not an image fovea can decode (PNG, JPEG, BMP, GIF, PNM): %s", what, reason);
    }
    if (w < 1 || h < 1 || (int64_t)w * h > MAX_PIXELS)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "%s: %d x %d pixels is beyond fovea's limit of %lld", what, w, h, (long long)MAX_PIXELS);
    uint8_t *p = fv_stb_decode_rgb(data, size, &w, &h, &reason);
    if (!p) {
        /* stb reports allocation failure as "outofmem"; everything else is
         * a damaged or truncated file. */
        bool oom = reason && strcmp(reason, "outofmem") == 0;
        if (oom)
            return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY,
                                "%s: out of host memory decoding %d x %d pixels", what, w, h);
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "%s: a damaged or truncated %s file (the decoder stopped: %s)", what,
                            format ? format : "image", reason && *reason ? reason : "no reason given");
    }
    /* Hand the pixels over in our own allocation, so fv_image_free never
     * needs to know which allocator made them. */
    fv_status s = fv_image_create(w, h, out);
    if (!s) memcpy(out->pixels, p, (size_t)w * (size_t)h * 3);
    fv_stb_free(p);
    if (s) return fv_error_set(error, error_size, s, "%s: out of host memory for %d x %d pixels", what, w, h);
    return FV_STATUS_OK;
}

fv_status fv_image_load(const char *path, fv_image *out, char *error, size_t error_size)
{
    if (!out || !path) return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "fv_image_load: NULL argument");
    memset(out, 0, sizeof *out);
    fv_mapped_file f;
    fv_status s = fv_file_map(path, &f, error, error_size);
    if (s) return s;
    s = decode(f.data, f.size, path, out, error, error_size);
    fv_file_unmap(&f);
    return s;
}

fv_status fv_image_load_memory(const void *data, size_t size, fv_image *out, char *error, size_t error_size)
{
    if (!out || (!data && size))
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "fv_image_load_memory: NULL argument");
    memset(out, 0, sizeof *out);
    if (!size) return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "image in memory: 0 bytes");
    return decode(data, size, "image in memory", out, error, error_size);
}

/* ---- resampling (Pillow's algorithm; see the top of the file) ------------------ */

#define PRECISION_BITS (32 - 8 - 2)

static double filter_bicubic(double x)
{
    /* Keys' cubic convolution with a = -0.5 (Catmull-Rom), support 2. */
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

static double filter_bilinear(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* For each output position: the first input index, the tap count and
 * `ksize` fixed-point weights. */
typedef struct taps {
    int ksize;
    int *first, *count;
    int32_t *w;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
}

static fv_status taps_make(int in_size, int out_size, fv_resample filter, taps *t)
{
    memset(t, 0, sizeof *t);
    double (*fn)(double) = filter == FV_RESAMPLE_BILINEAR ? filter_bilinear : filter_bicubic;
    double support = filter == FV_RESAMPLE_BILINEAR ? 1.0 : 2.0;
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale; /* stretch only when shrinking */
    support *= filterscale;
    t->ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc((size_t)t->ksize * sizeof *k);
    t->first = malloc((size_t)out_size * sizeof *t->first);
    t->count = malloc((size_t)out_size * sizeof *t->count);
    t->w = calloc((size_t)out_size * (size_t)t->ksize, sizeof *t->w);
    if (!k || !t->first || !t->count || !t->w) {
        free(k);
        taps_free(t);
        return FV_STATUS_OUT_OF_HOST_MEMORY;
    }
    for (int o = 0; o < out_size; o++) {
        double center = (o + 0.5) * scale, sum = 0.0;
        /* Pillow rounds the window ends with (int)(v + 0.5), truncating
         * toward zero; both are then clamped to the image. */
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in_size ? in_size : hi;
        int n = hi - lo;
        for (int i = 0; i < n; i++) {
            k[i] = fn((i + lo - center + 0.5) / filterscale);
            sum += k[i];
        }
        for (int i = 0; i < n; i++) {
            double v = sum != 0.0 ? k[i] / sum : k[i];
            double f = v * (double)(1 << PRECISION_BITS);
            t->w[(size_t)o * t->ksize + i] = (int32_t)(v < 0 ? f - 0.5 : f + 0.5); /* round half away */
        }
        t->first[o] = lo;
        t->count[o] = n;
    }
    free(k);
    return FV_STATUS_OK;
}

static inline uint8_t clamp8(int32_t acc)
{
    acc >>= PRECISION_BITS;
    return (uint8_t)(acc < 0 ? 0 : acc > 255 ? 255 : acc);
}

/* Resamples along x: each output pixel of each row mixes `count` input
 * pixels of the same row. */
static void pass_x(const fv_image *src, const taps *t, fv_image *dst)
{
    for (int y = 0; y < src->height; y++) {
        const uint8_t *in = src->pixels + (size_t)y * src->width * 3;
        uint8_t *out = dst->pixels + (size_t)y * dst->width * 3;
        for (int x = 0; x < dst->width; x++) {
            const int32_t *w = t->w + (size_t)x * t->ksize;
            const uint8_t *p = in + (size_t)t->first[x] * 3;
            int32_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
            for (int i = 0; i < t->count[x]; i++) {
                r += p[i * 3 + 0] * w[i];
                g += p[i * 3 + 1] * w[i];
                b += p[i * 3 + 2] * w[i];
            }
            out[x * 3 + 0] = clamp8(r);
            out[x * 3 + 1] = clamp8(g);
            out[x * 3 + 2] = clamp8(b);
        }
    }
}

/* Resamples along y: each output row mixes `count` input rows. */
static void pass_y(const fv_image *src, const taps *t, fv_image *dst)
{
    const size_t stride = (size_t)src->width * 3;
    for (int y = 0; y < dst->height; y++) {
        const int32_t *w = t->w + (size_t)y * t->ksize;
        const uint8_t *in = src->pixels + (size_t)t->first[y] * stride;
        uint8_t *out = dst->pixels + (size_t)y * stride;
        for (size_t c = 0; c < stride; c++) {
            int32_t acc = 1 << (PRECISION_BITS - 1);
            for (int i = 0; i < t->count[y]; i++) acc += in[(size_t)i * stride + c] * w[i];
            out[c] = clamp8(acc);
        }
    }
}

static fv_status copy_image(const fv_image *src, fv_image *out)
{
    fv_status s = fv_image_create(src->width, src->height, out);
    if (!s) memcpy(out->pixels, src->pixels, (size_t)src->width * (size_t)src->height * 3);
    return s;
}

fv_status fv_image_resize(const fv_image *src, int width, int height, fv_resample filter, fv_image *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!image_ok(src) || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE ||
        (unsigned)filter >= FV_RESAMPLE_COUNT_)
        return FV_STATUS_INVALID_ARGUMENT;
    /* A pass at scale 1 is the identity (the filter is 1 at 0 and 0 at the
     * other integers), so Pillow skips it, and so do we. */
    bool need_x = width != src->width, need_y = height != src->height;
    if (!need_x && !need_y) return copy_image(src, out);
    fv_image mid = {0};
    taps tx = {0}, ty = {0};
    fv_status s = FV_STATUS_OK;
    if (need_x) {
        s = taps_make(src->width, width, filter, &tx);
        if (!s) s = fv_image_create(width, src->height, &mid);
        if (!s) pass_x(src, &tx, &mid);
    }
    const fv_image *from = need_x ? &mid : src;
    if (!s && need_y) {
        s = taps_make(src->height, height, filter, &ty);
        if (!s) s = fv_image_create(width, height, out);
        if (!s) pass_y(from, &ty, out);
    } else if (!s) {
        *out = mid; /* only x changed: the intermediate is the result */
        mid = (fv_image){0};
    }
    taps_free(&tx);
    taps_free(&ty);
    fv_image_free(&mid);
    if (s) fv_image_free(out);
    return s;
}

fv_status fv_image_resize_shortest(const fv_image *src, int size, fv_resample filter, fv_image *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!image_ok(src) || size < 1 || size > MAX_SIDE) return FV_STATUS_INVALID_ARGUMENT;
    /* long' = int(size * long / short): Python's float product truncated,
     * as Hugging Face's get_resize_output_image_size and torchvision do. */
    bool wide = src->width >= src->height;
    int shorter = wide ? src->height : src->width, longer = wide ? src->width : src->height;
    double l = (double)size * (double)longer / (double)shorter;
    if (l > MAX_SIDE) return FV_STATUS_INVALID_ARGUMENT;
    int new_long = (int)l;
    return fv_image_resize(src, wide ? new_long : size, wide ? size : new_long, filter, out);
}

fv_status fv_image_crop_center(const fv_image *src, int width, int height, fv_image *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!image_ok(src)) return FV_STATUS_INVALID_ARGUMENT;
    fv_status s = fv_image_create(width, height, out);
    if (s) return s;
    /* Window origin in source coordinates; negative where the window is
     * larger than the image (those pixels are black). */
    int x0 = (src->width - width) >= 0 ? (src->width - width) / 2 : -((width - src->width + 1) / 2);
    int y0 = (src->height - height) >= 0 ? (src->height - height) / 2 : -((height - src->height + 1) / 2);
    for (int y = 0; y < height; y++) {
        uint8_t *row = out->pixels + (size_t)y * width * 3;
        int sy = y0 + y;
        if (sy < 0 || sy >= src->height) {
            memset(row, 0, (size_t)width * 3);
            continue;
        }
        for (int x = 0; x < width; x++) {
            int sx = x0 + x;
            const uint8_t *p = src->pixels + ((size_t)sy * src->width + (size_t)(sx < 0 ? 0 : sx)) * 3;
            bool inside = sx >= 0 && sx < src->width;
            row[x * 3 + 0] = inside ? p[0] : 0;
            row[x * 3 + 1] = inside ? p[1] : 0;
            row[x * 3 + 2] = inside ? p[2] : 0;
        }
    }
    return FV_STATUS_OK;
}

fv_status fv_image_pad_square(const fv_image *src, const uint8_t fill[3], fv_image *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (!image_ok(src) || !fill) return FV_STATUS_INVALID_ARGUMENT;
    int side = FV_MAX(src->width, src->height);
    fv_status s = fv_image_create(side, side, out);
    if (s) return s;
    for (size_t i = 0; i < (size_t)side * side; i++) memcpy(out->pixels + i * 3, fill, 3);
    int x0 = (side - src->width) / 2, y0 = (side - src->height) / 2;
    for (int y = 0; y < src->height; y++)
        memcpy(out->pixels + ((size_t)(y0 + y) * side + x0) * 3, src->pixels + (size_t)y * src->width * 3,
               (size_t)src->width * 3);
    return FV_STATUS_OK;
}

/* ---- normalisation and the pipelines ----------------------------------------- */

/* OpenAI CLIP's statistics, the default of every CLIP-family processor. */
static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

fv_status fv_image_normalize(const fv_image *src, const float mean[3], const float std[3], float scale,
                             fv_image_layout layout, float *out, size_t out_count)
{
    if (!image_ok(src) || !mean || !std || !out || (unsigned)layout > FV_IMAGE_LAYOUT_HWC)
        return FV_STATUS_INVALID_ARGUMENT;
    size_t plane = (size_t)src->width * src->height;
    if (out_count < plane * 3 || std[0] == 0 || std[1] == 0 || std[2] == 0) return FV_STATUS_INVALID_ARGUMENT;
    /* As Hugging Face computes it: the rescale in double rounded to f32,
     * then (x - mean) / std in f32. 1/255 arrives here rounded to float;
     * it is taken as the double 1/255 that Python uses. A table per
     * channel does it once for each of the 256 levels. */
    double sc = scale == 0.0f || scale == (float)(1.0 / 255.0) ? 1.0 / 255.0 : (double)scale;
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)(v * sc) - mean[c]) / std[c];
    const uint8_t *p = src->pixels;
    if (layout == FV_IMAGE_LAYOUT_HWC) {
        for (size_t i = 0; i < plane * 3; i++) out[i] = lut[i % 3][p[i]];
    } else {
        for (size_t i = 0; i < plane; i++) {
            out[i] = lut[0][p[i * 3 + 0]];
            out[plane + i] = lut[1][p[i * 3 + 1]];
            out[2 * plane + i] = lut[2][p[i * 3 + 2]];
        }
    }
    return FV_STATUS_OK;
}

/* The descriptor with its zero fields replaced by defaults. */
static fv_preprocess_desc with_defaults(const fv_preprocess_desc *desc)
{
    fv_preprocess_desc d = desc ? *desc : (fv_preprocess_desc){0};
    if (d.size <= 0) d.size = 224;
    if (d.width <= 0) d.width = d.size;
    if (d.height <= 0) d.height = d.size;
    if (d.std[0] == 0 && d.std[1] == 0 && d.std[2] == 0) {
        memcpy(d.mean, clip_mean, sizeof d.mean);
        memcpy(d.std, clip_std, sizeof d.std);
    }
    if (d.scale == 0) d.scale = 1.0f / 255.0f;
    return d;
}

void fv_preprocess_output_size(const fv_preprocess_desc *desc, int *width, int *height)
{
    fv_preprocess_desc d = with_defaults(desc);
    if (width) *width = d.width;
    if (height) *height = d.height;
}

fv_status fv_image_preprocess(const fv_image *src, const fv_preprocess_desc *desc, float *out, size_t out_count,
                              char *error, size_t error_size)
{
    fv_preprocess_desc d = with_defaults(desc);
    if (!image_ok(src) || !out)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "preprocess: no image or no output");
    if ((unsigned)d.fit > FV_IMAGE_FIT_PAD_SQUARE || (unsigned)d.resample >= FV_RESAMPLE_COUNT_ ||
        d.size > MAX_SIDE || d.width > MAX_SIDE || d.height > MAX_SIDE)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "preprocess: bad descriptor (fit %d, resample %d, size %d, %d x %d)", (int)d.fit,
                            (int)d.resample, d.size, d.width, d.height);
    if (out_count < (size_t)d.width * d.height * 3)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "preprocess: the output holds %zu floats; %d x %d x 3 needed", out_count, d.width,
                            d.height);
    fv_image padded = {0}, sized = {0}, cropped = {0};
    const fv_image *img = src;
    fv_status s = FV_STATUS_OK;
    if (d.fit == FV_IMAGE_FIT_PAD_SQUARE) {
        uint8_t fill[3];
        for (int c = 0; c < 3; c++) { /* LLaVA: tuple(int(x * 255) for x in image_mean) */
            float v = d.mean[c] * 255.0f;
            fill[c] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : (int)v);
        }
        s = fv_image_pad_square(img, d.fill ? d.fill : fill, &padded);
        img = &padded;
    }
    if (!s && d.fit == FV_IMAGE_FIT_STRETCH) {
        s = fv_image_resize(img, d.width, d.height, d.resample, &sized);
        img = &sized;
    } else if (!s) {
        s = fv_image_resize_shortest(img, d.size, d.resample, &sized);
        if (!s) s = fv_image_crop_center(&sized, d.width, d.height, &cropped);
        img = &cropped;
    }
    if (!s) s = fv_image_normalize(img, d.mean, d.std, d.scale, d.layout, out, out_count);
    fv_image_free(&padded);
    fv_image_free(&sized);
    fv_image_free(&cropped);
    if (s)
        return fv_error_set(error, error_size, s, "preprocess: %s on a %d x %d image", fv_status_name(s), src->width,
                            src->height);
    return FV_STATUS_OK;
}

fv_status fv_image_preprocess_tensor(fv_context *ctx, const fv_image *src, const fv_preprocess_desc *desc,
                                     fv_tensor **out)
{
    if (!ctx || !out) return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "fv_image_preprocess_tensor: NULL argument");
    *out = NULL;
    fv_preprocess_desc d = with_defaults(desc);
    size_t n = (size_t)d.width * d.height * 3;
    float *buf = malloc(n * sizeof *buf);
    if (!buf) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "preprocess: out of host memory");
    char err[256];
    fv_status s = fv_image_preprocess(src, &d, buf, n, err, sizeof err);
    if (s) {
        free(buf);
        return fv_fail(ctx, s, "%s", err);
    }
    int64_t chw[4] = {1, 3, d.height, d.width}, hwc[4] = {1, d.height, d.width, 3};
    fv_tensor *t;
    s = fv_tensor_create(ctx, FV_DTYPE_F32, 4, d.layout == FV_IMAGE_LAYOUT_HWC ? hwc : chw, &t);
    if (!s) s = fv_tensor_upload(t, buf, n * sizeof *buf);
    free(buf);
    if (s) {
        fv_tensor_destroy(t);
        return s;
    }
    *out = t;
    return FV_STATUS_OK;
}

/* ---- Hugging Face preprocessor_config.json ---------------------------------------- */

/* "size"/"crop_size": an integer, {"shortest_edge": n} or {"height", "width"}. */
static fv_status size_entry(const fv_config *c, const char *key, int *shortest, int *w, int *h)
{
    char k[64];
    int64_t v = 0;
    *shortest = *w = *h = 0;
    if (!fv_config_has(c, key)) return FV_STATUS_OK;
    if (fv_config_int(c, key, 0, &v) == FV_STATUS_OK) {
        *shortest = *w = *h = (int)v;
        return FV_STATUS_OK;
    }
    snprintf(k, sizeof k, "%s.shortest_edge", key);
    if (fv_config_int(c, k, 0, &v)) return FV_STATUS_INVALID_ARGUMENT;
    *shortest = (int)v;
    snprintf(k, sizeof k, "%s.height", key);
    if (fv_config_int(c, k, 0, &v)) return FV_STATUS_INVALID_ARGUMENT;
    *h = (int)v;
    snprintf(k, sizeof k, "%s.width", key);
    if (fv_config_int(c, k, 0, &v)) return FV_STATUS_INVALID_ARGUMENT;
    *w = (int)v;
    return *shortest > 0 || (*w > 0 && *h > 0) ? FV_STATUS_OK : FV_STATUS_INVALID_ARGUMENT;
}

fv_status fv_preprocess_desc_from_config(const fv_config *c, fv_preprocess_desc *out, char *error, size_t error_size)
{
    if (!c || !out)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "preprocessor config: NULL argument");
    memset(out, 0, sizeof *out);
    int shortest, w, h, cs, cw, ch;
    if (size_entry(c, "size", &shortest, &w, &h) || size_entry(c, "crop_size", &cs, &cw, &ch))
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "preprocessor config: \"size\" or \"crop_size\" is neither a positive integer, "
                            "{\"shortest_edge\"} nor {\"height\", \"width\"}");
    bool do_resize, do_crop, do_rescale, do_normalize;
    int64_t resample;
    double scale;
    if (fv_config_bool(c, "do_resize", true, &do_resize) || fv_config_bool(c, "do_center_crop", cw > 0, &do_crop) ||
        fv_config_bool(c, "do_rescale", true, &do_rescale) || fv_config_bool(c, "do_normalize", true, &do_normalize) ||
        fv_config_int(c, "resample", 3, &resample) || fv_config_float(c, "rescale_factor", 1.0 / 255.0, &scale))
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "preprocessor config: a do_* flag, \"resample\" or \"rescale_factor\" has the wrong type");
    /* PIL's filter numbers, which the processors store. */
    if (resample != 2 && resample != 3)
        return fv_error_set(error, error_size, FV_STATUS_UNSUPPORTED,
                            "preprocessor config: resample %lld (fovea has bilinear = 2 and bicubic = 3)",
                            (long long)resample);
    out->resample = resample == 2 ? FV_RESAMPLE_BILINEAR : FV_RESAMPLE_BICUBIC;
    if (shortest > 0 && do_resize) {
        if (!do_crop || cw <= 0)
            return fv_error_set(error, error_size, FV_STATUS_UNSUPPORTED,
                                "preprocessor config: a shortest-edge resize without a centre crop gives images of "
                                "varying size, which a fixed-grid encoder cannot take");
        out->fit = FV_IMAGE_FIT_SHORTEST_CROP;
        out->size = shortest;
        out->width = cw;
        out->height = ch;
    } else {
        /* Fixed height x width (SigLIP), or no resize at all (the model
         * then still needs its own input size: taken from size, else
         * crop_size). */
        out->fit = FV_IMAGE_FIT_STRETCH;
        out->width = w > 0 ? w : cw;
        out->height = h > 0 ? h : ch;
        if (out->width <= 0 || out->height <= 0)
            return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                                "preprocessor config: no input size (\"size\" or \"crop_size\")");
        out->size = FV_MAX(out->width, out->height);
    }
    out->scale = do_rescale ? (float)scale : 1.0f;
    double mean[3], std[3];
    int nm = 0, ns = 0;
    if (fv_config_floats(c, "image_mean", mean, 3, &nm) || fv_config_floats(c, "image_std", std, 3, &ns) ||
        (nm != 0 && nm != 3) || (ns != 0 && ns != 3))
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "preprocessor config: \"image_mean\" and \"image_std\" must be three numbers");
    for (int i = 0; i < 3; i++) {
        out->mean[i] = !do_normalize ? 0.0f : nm ? (float)mean[i] : clip_mean[i];
        out->std[i] = !do_normalize ? 1.0f : ns ? (float)std[i] : clip_std[i];
        if (out->std[i] <= 0)
            return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                                "preprocessor config: image_std[%d] is not positive", i);
    }
    return FV_STATUS_OK;
}
