/* Images: decoding (every format fovea reads, and damaged files), Pillow's
 * resize reproduced (bicubic and bilinear, shrinking and enlarging, one
 * axis or both), crop, pad, normalisation, the CLIP pipeline on real
 * photos against PIL + numpy, and the upload into a tensor on each backend.
 *
 * Tolerances, in 8-bit levels (1 level = 1/255 before normalisation):
 *   lossless decodes (PNG, BMP, PNM): exact;
 *   JPEG: stb_image's IDCT and chroma upsampling are not libjpeg-turbo's
 *         (Pillow's), so decoded pixels may differ by a level or two:
 *         max <= 4, mean <= 0.5 on the synthetic picture (measured: 2, 0.1);
 *   resize against PIL: bit-exact (max 0 levels) — same algorithm, same
 *         fixed point;
 *   CLIP pipeline on the photos: PNG photos exact (0.01 levels of float
 *         slack); JPEG photos inherit the decode difference, reduced by the
 *         antialiased downscale: sampled values within 3 levels, 16 x 16
 *         block means and channel mean/std within 1 level (measured: 1 and
 *         0.4). */
#include "load_cases.h"

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* The synthetic picture of make_load_fixtures.py: a wrapping ramp plus
 * hashed noise, in uint32 arithmetic. */
static fv_image synth(int w, int h, uint32_t seed)
{
    fv_image img = {0};
    if (fv_image_create(w, h, &img)) return img;
    for (uint32_t y = 0; y < (uint32_t)h; y++)
        for (uint32_t x = 0; x < (uint32_t)w; x++)
            for (uint32_t c = 0; c < 3; c++) {
                uint32_t hsh = (x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u) ^ seed;
                uint32_t v = x * (37 + 11 * c) + y * (23 + 7 * c) + (hsh & 63);
                img.pixels[(y * (uint32_t)w + x) * 3 + c] = (uint8_t)(v & 255);
            }
    return img;
}

/* Largest and mean absolute difference of two byte arrays. */
static void diff_stats(const uint8_t *a, const uint8_t *b, size_t n, int *max, double *mean)
{
    int m = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        m = d > m ? d : m;
        sum += d;
    }
    *max = m;
    *mean = n ? sum / (double)n : 0;
}

static bool same_image(const fv_image *a, const fv_image *b)
{
    return a->width == b->width && a->height == b->height &&
           !memcmp(a->pixels, b->pixels, (size_t)a->width * a->height * 3);
}

static uint8_t *from_hex(const char *hex, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(p);
            return NULL;
        }
        p[i] = (uint8_t)v;
    }
    return p;
}

/* ---- decoding -------------------------------------------------------------------- */

static void decoding(th_runner *r)
{
    fv_image ref = synth(37, 23, 1), img = {0};
    char err[512] = "";
    static const char *lossless[] = {"synth_rgb.png", "synth.bmp", "synth.ppm", "synth_rgba.png"};
    for (size_t i = 0; i < LT_LEN(lossless); i++) {
        char what[96];
        snprintf(what, sizeof what, "image: %s decodes exactly", lossless[i]);
        fv_status s = fv_image_load(lt_fixture(lossless[i]), &img, err, sizeof err);
        th_expect(r, NULL, what, s == FV_STATUS_OK && same_image(&img, &ref), "%s %s", fv_status_name(s), err);
        fv_image_free(&img);
    }
    fv_status s = fv_image_load(lt_fixture("synth_grey.png"), &img, err, sizeof err);
    bool ok = s == FV_STATUS_OK && img.width == 37 && img.height == 23;
    for (size_t i = 0; ok && i < 37 * 23; i++)
        ok = img.pixels[i * 3] == ref.pixels[i * 3] && img.pixels[i * 3 + 1] == ref.pixels[i * 3] &&
             img.pixels[i * 3 + 2] == ref.pixels[i * 3];
    th_expect(r, NULL, "image: grey PNG becomes R = G = B", ok, "%s", err);
    fv_image_free(&img);

    /* from memory: the same pixels as from the file */
    size_t n;
    uint8_t *bytes = lt_read_file(lt_fixture("synth_rgb.png"), &n);
    s = bytes ? fv_image_load_memory(bytes, n, &img, err, sizeof err) : FV_STATUS_IO_ERROR;
    th_expect(r, NULL, "image: decode from memory", s == FV_STATUS_OK && same_image(&img, &ref), "%s", err);
    fv_image_free(&img);

    /* JPEG against Pillow's decoding of the same file */
    size_t tn;
    char *text = (char *)lt_read_file(lt_fixture("synth_pil_jpeg.txt"), &tn);
    int w = 0, h = 0, used = 0;
    uint8_t *pil = text && sscanf(text, "%d %d %n", &w, &h, &used) == 2 ? from_hex(text + used, (size_t)w * h * 3) : NULL;
    s = fv_image_load(lt_fixture("synth.jpg"), &img, err, sizeof err);
    int max = -1;
    double mean = -1;
    if (pil && !s && img.width == w && img.height == h) diff_stats(img.pixels, pil, (size_t)w * h * 3, &max, &mean);
    th_expect(r, NULL, "image: JPEG within 4 levels (mean 0.5) of Pillow's decode", max >= 0 && max <= 4 && mean <= 0.5,
              "max %d mean %.3f (%s)", max, mean, err);
    printf("     (JPEG: stb_image vs Pillow max %d, mean %.3f levels)\n", max, mean);
    fv_image_free(&img);
    free(pil);
    free(text);

    /* damaged files */
    /* PNG cuts inside the header and the image data (a cut inside the
     * final IEND chunk, the last 12 bytes, loses no pixels: stb and
     * Pillow both decode that) */
    const char *path = lt_tmp("bad.png");
    for (size_t cut = 8; bytes && cut < n - 12; cut = cut * 2 < n - 12 ? cut * 2 : n - 13) {
        lt_write_file(path, bytes, cut);
        s = fv_image_load(path, &img, err, sizeof err);
        char what[96];
        snprintf(what, sizeof what, "image: PNG cut at %zu of %zu bytes", cut, n);
        lt_expect_error(r, NULL, what, s, FV_STATUS_INVALID_ARGUMENT, err, "bad.png");
        th_expect(r, NULL, "image: failed decode leaves an empty image", !img.pixels && !img.width, "not empty");
        fv_image_free(&img);
        if (cut == n - 13) break;
    }
    free(bytes);
    bytes = lt_read_file(lt_fixture("synth.jpg"), &n);
    path = lt_tmp("bad.jpg");
    for (size_t cut = 2; bytes && cut < n; cut = cut * 2 < n ? cut * 2 : n - 1) {
        lt_write_file(path, bytes, cut);
        s = fv_image_load(path, &img, err, sizeof err);
        char what[96];
        snprintf(what, sizeof what, "image: JPEG cut at %zu of %zu bytes", cut, n);
        lt_expect_error(r, NULL, what, s, FV_STATUS_INVALID_ARGUMENT, err, "bad.jpg");
        fv_image_free(&img);
        if (cut == n - 1) break;
    }
    free(bytes);
    path = lt_tmp("garbage.png");
    lt_write_file(path, "this is not an image at all", 27);
    s = fv_image_load(path, &img, err, sizeof err);
    lt_expect_error(r, NULL, "image: garbage bytes", s, FV_STATUS_INVALID_ARGUMENT, err, "not an image fovea can decode");
    lt_write_file(path, "", 0);
    s = fv_image_load(path, &img, err, sizeof err);
    lt_expect_error(r, NULL, "image: empty file", s, FV_STATUS_INVALID_ARGUMENT, err, "empty");
    s = fv_image_load(lt_tmp("absent.jpg"), &img, err, sizeof err);
    lt_expect_error(r, NULL, "image: missing file", s, FV_STATUS_IO_ERROR, err, "absent.jpg");
    s = fv_image_load_memory("", 0, &img, err, sizeof err);
    lt_expect_error(r, NULL, "image: zero bytes in memory", s, FV_STATUS_INVALID_ARGUMENT, err, "0 bytes");
    /* a PNG header claiming 100000 x 100000 pixels */
    static const uint8_t huge[] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                   0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0, 0, 0, 0};
    s = fv_image_load_memory(huge, sizeof huge, &img, err, sizeof err);
    th_expect(r, NULL, "image: absurd dimensions refused", s == FV_STATUS_INVALID_ARGUMENT, "%s %s",
              fv_status_name(s), err);
    fv_image_free(&ref);
}

/* ---- resampling against Pillow -------------------------------------------------------- */

static void resizing(th_runner *r)
{
    size_t n;
    char *text = (char *)lt_read_file(lt_fixture("resize_ref.txt"), &n);
    if (!text) {
        th_fail(r, NULL, "image: resize references", "cannot read resize_ref.txt");
        return;
    }
    text = realloc(text, n + 1);
    text[n] = 0;
    int cases = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char filter[16];
        int sw, sh, w, h, used = 0;
        unsigned seed;
        if (sscanf(line, "%15s %d %d %u %d %d %n", filter, &sw, &sh, &seed, &w, &h, &used) != 6) continue;
        uint8_t *want = from_hex(line + used, (size_t)w * h * 3);
        fv_image src = synth(sw, sh, seed), out = {0}, padded = {0};
        fv_status s;
        if (!strcmp(filter, "pad")) {
            uint8_t fill[3] = {122, 116, 104}; /* int(CLIP mean * 255) */
            s = fv_image_pad_square(&src, fill, &padded);
            if (!s) s = fv_image_resize(&padded, w, h, FV_RESAMPLE_BICUBIC, &out);
        } else {
            s = fv_image_resize(&src, w, h, !strcmp(filter, "bilinear") ? FV_RESAMPLE_BILINEAR : FV_RESAMPLE_BICUBIC,
                                &out);
        }
        int max = -1;
        double mean = 0;
        if (!s && want && out.width == w && out.height == h) diff_stats(out.pixels, want, (size_t)w * h * 3, &max, &mean);
        char what[128];
        snprintf(what, sizeof what, "image: %s %dx%d -> %dx%d = Pillow", filter, sw, sh, w, h);
        th_expect(r, NULL, what, max == 0, "max %d levels, mean %.4f (%s)", max, mean, fv_status_name(s));
        if (!strcmp(filter, "pad")) {
            /* the whole LLaVA pipeline: pad, shortest side 16, normalise */
            fv_preprocess_desc d = {.fit = FV_IMAGE_FIT_PAD_SQUARE, .size = 16};
            float got[16 * 16 * 3];
            char err[256];
            s = fv_image_preprocess(&src, &d, got, LT_LEN(got), err, sizeof err);
            double worst = 0;
            for (int c = 0; !s && want && c < 3; c++)
                for (int i = 0; i < 16 * 16; i++) {
                    double ref = ((double)want[i * 3 + c] / 255.0 - clip_mean[c]) / clip_std[c];
                    worst = fmax(worst, fabs(got[c * 256 + i] - ref));
                }
            th_expect(r, NULL, "image: LLaVA pad pipeline = Pillow, normalised (tol 1e-5)", !s && worst <= 1e-5,
                      "max err %.3g (%s)", worst, err);
        }
        free(want);
        fv_image_free(&src);
        fv_image_free(&out);
        fv_image_free(&padded);
        cases++;
    }
    free(text);
    th_expect(r, NULL, "image: 12 resize references read", cases == 12, "%d", cases);
}

/* ---- geometry and normalisation ------------------------------------------------------- */

static void geometry(th_runner *r)
{
    fv_image src = synth(37, 23, 1), out = {0};
    /* shortest side: 23 -> 16, 37 -> int(16 * 37 / 23) = 25 */
    fv_status s = fv_image_resize_shortest(&src, 16, FV_RESAMPLE_BICUBIC, &out);
    th_expect(r, NULL, "image: resize_shortest 37x23 -> 25x16", !s && out.width == 25 && out.height == 16, "%dx%d",
              out.width, out.height);
    fv_image_free(&out);
    fv_image tall = synth(23, 37, 3);
    s = fv_image_resize_shortest(&tall, 224, FV_RESAMPLE_BILINEAR, &out);
    th_expect(r, NULL, "image: resize_shortest 23x37 -> 224x360", !s && out.width == 224 && out.height == 360,
              "%dx%d", out.width, out.height);
    fv_image_free(&out);
    /* centre crop: origin floor((37 - 10) / 2) = 13, floor((23 - 7) / 2) = 8 */
    s = fv_image_crop_center(&src, 10, 7, &out);
    bool ok = !s && out.width == 10 && out.height == 7;
    for (int y = 0; ok && y < 7; y++) ok = !memcmp(out.pixels + y * 30, src.pixels + ((8 + y) * 37 + 13) * 3, 30);
    th_expect(r, NULL, "image: centre crop takes floor offsets", ok, "wrong window");
    fv_image_free(&out);
    /* a crop larger than the image pads with black */
    s = fv_image_crop_center(&src, 39, 23, &out);
    ok = !s && out.pixels[0] == 0 && out.pixels[3 * 38] == 0 && !memcmp(out.pixels + 3, src.pixels, 37 * 3);
    th_expect(r, NULL, "image: crop wider than the image pads black", ok, "wrong");
    fv_image_free(&out);
    /* pad to square: 24x37 -> 37x37, image at column floor(13 / 2) = 6 */
    uint8_t fill[3] = {1, 2, 3};
    fv_image narrow = synth(24, 37, 5);
    s = fv_image_pad_square(&narrow, fill, &out);
    ok = !s && out.width == 37 && out.height == 37 && out.pixels[0] == 1 && out.pixels[1] == 2 && out.pixels[2] == 3;
    for (int y = 0; ok && y < 37; y++)
        ok = !memcmp(out.pixels + (y * 37 + 6) * 3, narrow.pixels + y * 24 * 3, 24 * 3) &&
             out.pixels[(y * 37 + 5) * 3] == 1 && out.pixels[(y * 37 + 30) * 3 + 2] == 3;
    th_expect(r, NULL, "image: pad_square places the image at floor offsets", ok, "wrong");
    fv_image_free(&out);
    fv_image_free(&narrow);
    /* normalisation: CHW and HWC hold the same values */
    size_t count = 37 * 23 * 3;
    float *chw = malloc(count * sizeof *chw), *hwc = malloc(count * sizeof *hwc);
    s = fv_image_normalize(&src, clip_mean, clip_std, 0, FV_IMAGE_LAYOUT_CHW, chw, count);
    if (!s) s = fv_image_normalize(&src, clip_mean, clip_std, 0, FV_IMAGE_LAYOUT_HWC, hwc, count);
    double worst = 0;
    ok = !s;
    for (size_t i = 0; ok && i < 37 * 23; i++)
        for (int c = 0; c < 3; c++) {
            double ref = ((double)src.pixels[i * 3 + c] / 255.0 - clip_mean[c]) / clip_std[c];
            worst = fmax(worst, fabs(chw[c * 37 * 23 + i] - ref));
            ok &= chw[c * 37 * 23 + i] == hwc[i * 3 + c];
        }
    th_expect(r, NULL, "image: normalise CHW = HWC, within 1e-5 of double", ok && worst <= 1e-5, "max err %.3g", worst);
    s = fv_image_normalize(&src, clip_mean, clip_std, 0, FV_IMAGE_LAYOUT_CHW, chw, count - 1);
    th_expect(r, NULL, "image: normalise into too small a buffer", s == FV_STATUS_INVALID_ARGUMENT, "%s",
              fv_status_name(s));
    free(chw);
    free(hwc);
    s = fv_image_resize(&src, 0, 5, FV_RESAMPLE_BICUBIC, &out);
    th_expect(r, NULL, "image: zero-size resize refused", s == FV_STATUS_INVALID_ARGUMENT && !out.pixels, "%s",
              fv_status_name(s));
    fv_image_free(&src);
    fv_image_free(&tall);
}

/* ---- preprocessor configs ---------------------------------------------------------- */

static void configs(th_runner *r)
{
    char err[256] = "";
    fv_config *c = NULL;
    fv_preprocess_desc d;
    fv_status s = fv_config_load(lt_fixture("model/preprocessor_config.json"), &c, err, sizeof err);
    if (!s) s = fv_preprocess_desc_from_config(c, &d, err, sizeof err);
    fv_config_destroy(c);
    bool ok = !s && d.fit == FV_IMAGE_FIT_SHORTEST_CROP && d.size == 16 && d.width == 16 && d.height == 16 &&
              d.resample == FV_RESAMPLE_BICUBIC && d.mean[1] == clip_mean[1] && d.std[2] == clip_std[2] &&
              fabsf(d.scale - 1.0f / 255.0f) < 1e-9f;
    th_expect(r, NULL, "preprocess: CLIP preprocessor_config.json", ok, "%s", err);
    static const char siglip[] = "{\"do_resize\":true,\"size\":{\"height\":224,\"width\":224},\"resample\":2,"
                                 "\"image_mean\":[0.5,0.5,0.5],\"image_std\":[0.5,0.5,0.5],\"rescale_factor\":0.00392156862745098}";
    s = fv_config_parse(siglip, strlen(siglip), &c, err, sizeof err);
    if (!s) s = fv_preprocess_desc_from_config(c, &d, err, sizeof err);
    fv_config_destroy(c);
    int w = 0, h = 0;
    fv_preprocess_output_size(&d, &w, &h);
    ok = !s && d.fit == FV_IMAGE_FIT_STRETCH && w == 224 && h == 224 && d.resample == FV_RESAMPLE_BILINEAR &&
         d.mean[0] == 0.5f && d.std[0] == 0.5f;
    th_expect(r, NULL, "preprocess: SigLIP config (stretch, bilinear)", ok, "%s", err);
    static const char tiny[] = "{\"do_resize\":false,\"do_center_crop\":false,\"size\":{\"height\":96,\"width\":96},"
                               "\"image_mean\":[0.5,0.5,0.5],\"image_std\":[0.5,0.5,0.5]}";
    s = fv_config_parse(tiny, strlen(tiny), &c, err, sizeof err);
    if (!s) s = fv_preprocess_desc_from_config(c, &d, err, sizeof err);
    fv_config_destroy(c);
    ok = !s && d.fit == FV_IMAGE_FIT_STRETCH && d.width == 96 && d.height == 96;
    th_expect(r, NULL, "preprocess: fovea-tiny config (no resize, 96 x 96)", ok, "%s", err);
    static const char lanczos[] = "{\"size\":{\"shortest_edge\":224},\"crop_size\":224,\"resample\":1}";
    s = fv_config_parse(lanczos, strlen(lanczos), &c, err, sizeof err);
    if (!s) s = fv_preprocess_desc_from_config(c, &d, err, sizeof err);
    fv_config_destroy(c);
    lt_expect_error(r, NULL, "preprocess: Lanczos is not offered", s, FV_STATUS_UNSUPPORTED, err, "resample 1");
    static const char badsize[] = "{\"size\":\"big\"}";
    s = fv_config_parse(badsize, strlen(badsize), &c, err, sizeof err);
    if (!s) s = fv_preprocess_desc_from_config(c, &d, err, sizeof err);
    fv_config_destroy(c);
    lt_expect_error(r, NULL, "preprocess: size of the wrong type", s, FV_STATUS_INVALID_ARGUMENT, err, "\"size\"");
}

/* ---- photos --------------------------------------------------------------------------- */

/* One photo's CLIP preprocessing against photos_ref.txt. The lines after
 * "image NAME W H" are stats, grid, samples, decoded. */
static void photo(th_runner *r, const char *dir, const char *name, int rw, int rh, char *stats, char *grid,
                  char *samples, char *decoded)
{
    char path[1024], err[512] = "", what[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fv_image img = {0};
    fv_status s = fv_image_load(path, &img, err, sizeof err);
    snprintf(what, sizeof what, "photo %s: decodes to %d x %d", name, rw, rh);
    th_expect(r, NULL, what, !s && img.width == rw && img.height == rh, "%s %dx%d", err, img.width, img.height);
    if (s || img.width != rw || img.height != rh) {
        fv_image_free(&img);
        return;
    }
    bool lossy = strstr(name, ".jpg") || strstr(name, ".jpeg") || strstr(name, ".JPG");
    /* decoded pixels against Pillow's */
    int dmax = 0, y, x, c, v, k;
    double dsum = 0;
    int nd = 0;
    for (char *p = decoded; sscanf(p, "%d %d %d %d%n", &y, &x, &c, &v, &k) == 4; p += k, nd++) {
        int d = abs(img.pixels[((size_t)y * img.width + x) * 3 + c] - v);
        dmax = d > dmax ? d : dmax;
        dsum += d;
    }
    float *out = malloc(3 * 224 * 224 * sizeof *out);
    s = fv_image_preprocess(&img, NULL, out, 3 * 224 * 224, err, sizeof err);
    fv_image_free(&img);
    if (s) {
        th_fail(r, NULL, name, "preprocess: %s", err);
        free(out);
        return;
    }
    /* sampled values, in 8-bit levels */
    double smax = 0;
    int ns = 0;
    double ref;
    for (char *p = samples; sscanf(p, "%d %d %d %lf%n", &c, &y, &x, &ref, &k) == 4; p += k, ns++)
        smax = fmax(smax, fabs(out[(c * 224 + y) * 224 + x] - ref) * clip_std[c] * 255.0);
    /* 14 x 14 grid of 16 x 16 block means */
    double gmax = 0;
    int ng = 0;
    char *p = grid;
    for (c = 0; c < 3; c++)
        for (int by = 0; by < 14; by++)
            for (int bx = 0; bx < 14; bx++) {
                if (sscanf(p, "%lf%n", &ref, &k) != 1) continue;
                p += k;
                ng++;
                double m = 0;
                for (int yy = 0; yy < 16; yy++)
                    for (int xx = 0; xx < 16; xx++) m += out[(c * 224 + by * 16 + yy) * 224 + bx * 16 + xx];
                gmax = fmax(gmax, fabs(m / 256.0 - ref) * clip_std[c] * 255.0);
            }
    /* per-channel mean and std */
    double smean[3], sstd[3], stat_err = 0;
    if (sscanf(stats, "%lf %lf %lf %lf %lf %lf", &smean[0], &sstd[0], &smean[1], &sstd[1], &smean[2], &sstd[2]) == 6) {
        for (c = 0; c < 3; c++) {
            double m = 0, q = 0;
            for (int i = 0; i < 224 * 224; i++) m += out[c * 224 * 224 + i];
            m /= 224 * 224;
            for (int i = 0; i < 224 * 224; i++) q += pow(out[c * 224 * 224 + i] - m, 2);
            double sd = sqrt(q / (224 * 224));
            stat_err = fmax(stat_err, fmax(fabs(m - smean[c]), fabs(sd - sstd[c])) * clip_std[c] * 255.0);
        }
    } else {
        stat_err = INFINITY;
    }
    free(out);
    double tol_s = lossy ? 3.0 : 0.01, tol_g = lossy ? 1.0 : 0.01;
    snprintf(what, sizeof what, "photo %s: CLIP 224 = PIL (tol %.2g / %.2g levels)", name, tol_s, tol_g);
    th_expect(r, NULL, what, ns == 256 && ng == 588 && smax <= tol_s && gmax <= tol_g && stat_err <= tol_g,
              "%d samples max %.3f, %d block means max %.3f, stats %.3f levels", ns, smax, ng, gmax, stat_err);
    printf("     (%s: decode vs Pillow max %d mean %.2f levels over %d pixels; after CLIP preprocessing: samples "
           "max %.3f, block means max %.3f, stats %.3f levels)\n", name, dmax, nd ? dsum / nd : 0.0, nd, smax, gmax,
           stat_err);
}

static void photos(th_runner *r)
{
    const char *dir = lt_photos_dir();
    if (!dir) {
        r->skipped++;
        printf("skip -       photos: the folder of test photos (../shared/data/images) is absent\n");
        return;
    }
    size_t n;
    char *text = (char *)lt_read_file(lt_fixture("photos_ref.txt"), &n);
    if (!text) {
        th_fail(r, NULL, "photos", "cannot read photos_ref.txt");
        return;
    }
    text = realloc(text, n + 1);
    text[n] = 0;
    char *lines[5];
    int count = 0, have = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "image ", 6)) have = 0;
        if (have < 5) lines[have++] = line;
        if (have == 5) {
            char name[256];
            int w, h;
            if (sscanf(lines[0], "image %255s %d %d", name, &w, &h) == 3) {
                photo(r, dir, name, w, h, lines[1] + 6, lines[2] + 5, lines[3] + 8, lines[4] + 8);
                count++;
            }
            have = 6;
        }
    }
    free(text);
    th_expect(r, NULL, "photos: references for at least one photo", count > 0, "none in photos_ref.txt");
}

void test_load_images(th_runner *r)
{
    decoding(r);
    resizing(r);
    geometry(r);
    configs(r);
    photos(r);
}

/* The pipeline's tensor on a backend: the same floats as the host
 * pipeline, in the layout asked for. */
void test_load_images_backend(th_runner *r, const th_backend *b)
{
    fv_image src = synth(61, 40, 9);
    static const fv_image_layout layouts[2] = {FV_IMAGE_LAYOUT_CHW, FV_IMAGE_LAYOUT_HWC};
    for (int l = 0; l < 2; l++) {
        fv_preprocess_desc d = {.size = 32, .layout = layouts[l]};
        float host[32 * 32 * 3], dev[32 * 32 * 3];
        fv_tensor *t = NULL;
        fv_status s = fv_image_preprocess(&src, &d, host, LT_LEN(host), NULL, 0);
        if (!s) s = fv_image_preprocess_tensor(b->ctx, &src, &d, &t);
        if (!s) s = fv_tensor_download(t, dev, sizeof dev);
        bool shape = t && fv_tensor_ndim(t) == 4 &&
                     (l == 0 ? fv_tensor_dim(t, 1) == 3 && fv_tensor_dim(t, 3) == 32 : fv_tensor_dim(t, 3) == 3);
        th_expect(r, b, l == 0 ? "image: preprocess into a [1,3,32,32] tensor" : "image: preprocess into [1,32,32,3]",
                  !s && shape && !memcmp(host, dev, sizeof dev), "%s %s", fv_status_name(s), fv_context_last_error(b->ctx));
        fv_tensor_destroy(t);
    }
    fv_tensor *t = (fv_tensor *)1;
    fv_image empty = {0};
    fv_status s = fv_image_preprocess_tensor(b->ctx, &empty, NULL, &t);
    lt_expect_error(r, b, "image: preprocess without an image", s, FV_STATUS_INVALID_ARGUMENT,
                    fv_context_last_error(b->ctx), "no image");
    fv_image_free(&src);
}
