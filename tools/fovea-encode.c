/* fovea-encode: one image through a vision encoder.
 *
 *   fovea-encode IMAGE [--model DIR|FILE.gguf] [--layer -2] [--device D]
 *                      [--attention out.png] [--f16] [--runs N]
 *
 * Prints the embedding's shape and the time of each stage: loading the
 * model, decoding + preprocessing the image, building the encoder (graph
 * build, plan and record, once per input size), uploading the pixels and
 * encoding. With --attention it writes the [CLS] token's attention at the
 * chosen layer (mean over heads) as a heat map over the preprocessed image;
 * for a model without [CLS] (SigLIP) the attention each patch receives.
 * The default model is the bundled fovea-tiny, where its weights exist. */
#include "fovea/vision.h"

#include "png_write.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef FOVEA_DEFAULT_MODEL
#define FOVEA_DEFAULT_MODEL "models/fovea-tiny"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fovea-encode IMAGE [options]\n"
            "  --model PATH      model directory (config.json + safetensors) or mmproj .gguf\n"
            "                    (default: the bundled fovea-tiny where its weights exist)\n"
            "  --layer N         hidden state to output: 1..L or negative from the end (default -2)\n"
            "  --device D        cpu, vulkan, vulkan:1, opencl ... (default: FOVEA_DEVICE or auto)\n"
            "  --attention PNG   write the [CLS] attention of that layer over the image\n"
            "  --f16             load the matrices as f16\n"
            "  --runs N          encode N times and report the fastest (default 1)\n");
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static bool has_weights(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    return access(p, R_OK) == 0;
}

/* An inferno-like colour ramp: dark purple through red to pale yellow. */
static void heat_colour(float t, float rgb[3])
{
    static const float stops[5][3] = {
        {0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float x = t * 4;
    int i = x >= 4 ? 3 : (int)x;
    float f = x - i;
    for (int c = 0; c < 3; c++) rgb[c] = (stops[i][c] * (1 - f) + stops[i + 1][c] * f) / 255.0f;
}

/* The map over the gh x gw patches (min-max scaled), bilinearly upsampled
 * onto the preprocessed image (normalisation undone), half transparent. The
 * picture is enlarged to at least 384 pixels so small inputs stay visible. */
static int write_overlay(const char *path, const float *pixels, int w, int h, const fv_preprocess_desc *pd,
                         const float *map, int gw, int gh)
{
    float lo = map[0], hi = map[0];
    for (int i = 1; i < gw * gh; i++) lo = fminf(lo, map[i]), hi = fmaxf(hi, map[i]);
    const float span = hi > lo ? hi - lo : 1;
    const int scale = w >= 384 ? 1 : (384 + w - 1) / w, W = w * scale, H = h * scale;
    unsigned char *out = malloc((size_t)W * H * 3);
    if (!out) return 0;
    for (int y = 0; y < H; y++) {
        /* patch-grid coordinates of this pixel's centre */
        float gy = ((y + 0.5f) / H) * gh - 0.5f, gx0;
        gy = gy < 0 ? 0 : gy > gh - 1 ? gh - 1 : gy;
        int y0 = (int)gy, y1 = y0 + 1 < gh ? y0 + 1 : y0;
        float fy = gy - y0;
        for (int x = 0; x < W; x++) {
            gx0 = ((x + 0.5f) / W) * gw - 0.5f;
            gx0 = gx0 < 0 ? 0 : gx0 > gw - 1 ? gw - 1 : gx0;
            int x0 = (int)gx0, x1 = x0 + 1 < gw ? x0 + 1 : x0;
            float fx = gx0 - x0;
            float v = (1 - fy) * ((1 - fx) * map[y0 * gw + x0] + fx * map[y0 * gw + x1]) +
                      fy * ((1 - fx) * map[y1 * gw + x0] + fx * map[y1 * gw + x1]);
            float heat[3];
            heat_colour((v - lo) / span, heat);
            const int sx = x / scale, sy = y / scale;
            for (int c = 0; c < 3; c++) {
                float p = pixels[((size_t)c * h + sy) * w + sx] * pd->std[c] + pd->mean[c];
                p = p < 0 ? 0 : p > 1 ? 1 : p;
                float o = 0.45f * p + 0.55f * heat[c];
                out[((size_t)y * W + x) * 3 + c] = (unsigned char)lrintf(o * 255.0f);
            }
        }
    }
    int ok = fv_tool_write_png(path, W, H, out);
    free(out);
    return ok;
}

int main(int argc, char **argv)
{
#ifdef __SANITIZE_ADDRESS__
    /* Sanitizer builds only, as in fovea-bench: keep Mesa's CPU Vulkan
     * driver loaded to the end, so its one-time allocations stay reachable
     * instead of being reported as leaks of an unloaded module. */
    dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
#endif
    const char *image = NULL, *model = NULL, *device = NULL, *attention = NULL;
    int layer = -2, runs = 1;
    bool f16 = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--model") == 0 && more) model = argv[++i];
        else if (strcmp(a, "--layer") == 0 && more) layer = atoi(argv[++i]);
        else if (strcmp(a, "--device") == 0 && more) device = argv[++i];
        else if (strcmp(a, "--attention") == 0 && more) attention = argv[++i];
        else if (strcmp(a, "--runs") == 0 && more) runs = atoi(argv[++i]);
        else if (strcmp(a, "--f16") == 0) f16 = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-' && !image) image = a;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!image || runs < 1) {
        usage(stderr);
        return 2;
    }
    if (!model) {
        model = has_weights("models/fovea-tiny") ? "models/fovea-tiny" : FOVEA_DEFAULT_MODEL;
        if (!has_weights(model)) {
            fprintf(stderr, "fovea-encode: no --model given and the bundled fovea-tiny has no exported weights "
                            "(models/fovea-tiny/model.safetensors)\n");
            return 2;
        }
    }

    fv_context_desc cd = {0};
    char err[512];
    if (device && fv_context_desc_parse_device(&cd, device)) {
        fprintf(stderr, "fovea-encode: bad --device \"%s\"\n", device);
        return 2;
    }
    fv_context *ctx = NULL;
    if (fv_context_create(&cd, &ctx, err, sizeof err)) {
        fprintf(stderr, "fovea-encode: %s\n", err);
        return 1;
    }
    int rc = 1;
    fv_vision_model *m = NULL;
    fv_vision_encoder *enc = NULL;
    fv_image img = {0};
    float *pixels = NULL, *map = NULL;

    double t0 = now_ms();
    fv_vision_load_desc ld = {.weight_dtype = f16 ? FV_DTYPE_F16 : FV_DTYPE_F32};
    if (fv_vision_model_load(ctx, model, &ld, &m)) goto fail;
    const double load_ms = now_ms() - t0;
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);

    t0 = now_ms();
    fv_preprocess_desc pd;
    fv_vision_model_preprocess_desc(m, &pd);
    int w, h;
    fv_preprocess_output_size(&pd, &w, &h);
    const size_t count = (size_t)3 * w * h;
    pixels = malloc(count * sizeof *pixels);
    if (!pixels || fv_image_load(image, &img, err, sizeof err) ||
        fv_image_preprocess(&img, &pd, pixels, count, err, sizeof err)) {
        fprintf(stderr, "fovea-encode: %s\n", pixels ? err : "out of memory");
        goto done;
    }
    const double pre_ms = now_ms() - t0;

    fv_vision_encode_desc ed = {.width = w, .height = h, .layer = layer};
    const unsigned stat = mi.has_cls ? FV_ATTENTION_STAT_CLS : FV_ATTENTION_STAT_RECEIVED;
    if (attention && fv_vision_encode_desc_stats(&ed, m, layer, stat)) goto fail;
    if (fv_vision_encoder_create(m, &ed, &enc)) goto fail;
    fv_vision_timings best = {0};
    for (int r = 0; r < runs; r++) {
        fv_vision_timings t;
        if (fv_vision_encoder_run(enc, pixels, count)) goto fail;
        fv_vision_encoder_timings(enc, &t);
        if (r == 0 || t.encode_ms < best.encode_ms) best = t;
    }
    fv_vision_encoder_info ei;
    fv_vision_encoder_get_info(enc, &ei);
    fv_device_info dev;
    fv_context_device_info(ctx, &dev);

    printf("model      %s (%s, %d layers, width %d, %s weights)\n", model, mi.layout, mi.layers, mi.hidden_size,
           f16 ? "f16" : "f32");
    printf("device     %s: %s\n", fv_backend_name(fv_context_backend(ctx)), dev.name);
    printf("input      %s -> %dx%d, %dx%d patches of %d\n", image, w, h, ei.grid_w, ei.grid_h, mi.patch_size);
    printf("embedding  [1, %d, %d] (hidden state %d of %d%s)\n", ei.tokens, ei.hidden_size, ei.output_layer,
           mi.layers, mi.has_cls ? ", [CLS] first" : "");
    printf("time       load %.1f ms, preprocess %.1f ms, build %.1f ms, upload %.3f ms, encode %.2f ms%s\n", load_ms,
           pre_ms, best.build_ms, best.upload_ms, best.encode_ms, runs > 1 ? " (fastest run)" : "");

    if (attention) {
        const size_t n = (size_t)ei.tokens, first = mi.has_cls ? 1 : 0;
        map = malloc(n * sizeof *map);
        if (!map || fv_vision_encoder_read_stat(enc, layer, stat, map, n)) goto fail;
        if (!write_overlay(attention, pixels, w, h, &pd, map + first, ei.grid_w, ei.grid_h)) {
            fprintf(stderr, "fovea-encode: cannot write %s\n", attention);
            goto done;
        }
        printf("attention  %s: %s of hidden state %d, mean over heads, over the %dx%d patches\n", attention,
               mi.has_cls ? "[CLS] attention" : "attention received", ei.output_layer, ei.grid_w, ei.grid_h);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fovea-encode: %s\n", fv_context_last_error(ctx));
done:
    free(map);
    free(pixels);
    fv_image_free(&img);
    fv_vision_encoder_destroy(enc);
    fv_vision_model_destroy(m);
    fv_context_destroy(ctx);
    return rc;
}
