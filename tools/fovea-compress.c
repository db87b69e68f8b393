/* fovea-compress: which visual tokens a compression method keeps, as a
 * picture.
 *
 *   fovea-compress IMAGE [--model DIR] [--method fastervlm] [--keep 0.25 |
 *                  --budget K] [--layer -2] [--device D] [-o kept.png]
 *
 * Encodes the image (hidden state --layer, LLaVA's -2 by default), runs the
 * method and prints the kept tokens' indices (0 = [CLS] where the model has
 * one, then 1 + row * grid_w + column) and the time of the encoder and of
 * the compression. With -o it writes the preprocessed image enlarged, the
 * dropped patches dimmed and the kept ones outlined; for merging methods
 * (visionzip's contextual tokens, tome) the patches merged into one token
 * share a tint (for visionzip the target patch, whose grid position the
 * token keeps, is outlined in that colour). fourier keeps frequencies, not
 * patches: it has no picture. The default
 * model is the bundled fovea-tiny. */
#include "fovea/compress.h"

#include "png_write.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FOVEA_DEFAULT_MODEL
#define FOVEA_DEFAULT_MODEL "models/fovea-tiny"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: fovea-compress IMAGE [options]\n"
               "  --model PATH     model directory (default: the bundled fovea-tiny)\n"
               "  --method M       fastervlm, vtc-cls, hiprune, divprune, todre, hired, visionzip,\n"
               "                   tome, fourier, random, stride (default fastervlm)\n"
               "  --keep F         fraction of the patch tokens to keep (default 0.25)\n"
               "  --budget K       patch tokens to keep (instead of --keep)\n"
               "  --layer N        the encoder's output hidden state (default -2)\n"
               "  --device D       cpu, vulkan, opencl ... (default: FOVEA_DEVICE or auto)\n"
               "  -o PNG           write the picture of kept and dropped patches\n");
}

/* a tint per merged group: golden-angle hues, so neighbours differ */
static void group_colour(int g, float rgb[3])
{
    float h = fmodf((float)g * 0.618034f, 1.0f) * 6.0f;
    int i = (int)h;
    float f = h - (float)i, q = 1 - f;
    const float v[6][3] = {{1, f, 0}, {q, 1, 0}, {0, 1, f}, {0, q, 1}, {f, 0, 1}, {1, 0, q}};
    for (int c = 0; c < 3; c++) rgb[c] = v[i % 6][c];
}

/* kept[p] for patch p: 0 dropped, 1 kept as it is, 2 merged into another
 * token, 3 the token a merged group is named after; group[p] its token */
static int write_picture(const char *path, const float *px, int w, int h, const fv_preprocess_desc *pd, int gw,
                         int gh, const int *kept, const int *group)
{
    const int scale = w >= 480 ? 1 : (480 + w - 1) / w, W = w * scale, H = h * scale;
    const int pw = W / gw, ph = H / gh, line = scale > 2 ? 2 : 1;
    unsigned char *out = malloc((size_t)W * H * 3);
    if (!out) return 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const int cx = x / pw < gw ? x / pw : gw - 1, cy = y / ph < gh ? y / ph : gh - 1, p = cy * gw + cx;
            const int lx = x - cx * pw, ly = y - cy * ph;
            const bool edge = lx < line || ly < line || lx >= pw - line || ly >= ph - line;
            float tint[3] = {1, 1, 1}, mix = 0;
            if (kept[p] >= 2) group_colour(group[p], tint), mix = kept[p] == 3 && edge ? 1.0f : 0.35f;
            for (int c = 0; c < 3; c++) {
                float v = px[((size_t)c * h + y / scale) * w + x / scale] * pd->std[c] + pd->mean[c];
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                if (kept[p] == 0) v *= 0.25f;                       /* dropped: dimmed */
                else if (kept[p] == 1 && edge) v = c == 1 ? 1 : 0.1f; /* kept: a green outline */
                v = (1 - mix) * v + mix * tint[c];
                out[((size_t)y * W + x) * 3 + c] = (unsigned char)lrintf(v * 255.0f);
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
    const char *image = NULL, *model = NULL, *device = NULL, *outpng = NULL, *method_name = "fastervlm";
    float keep = 0.25f;
    int budget = 0, layer = -2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--method") && more) method_name = argv[++i];
        else if (!strcmp(a, "--keep") && more) keep = strtof(argv[++i], NULL);
        else if (!strcmp(a, "--budget") && more) budget = atoi(argv[++i]);
        else if (!strcmp(a, "--layer") && more) layer = atoi(argv[++i]);
        else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "-o") && more) outpng = argv[++i];
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-' && !image) image = a;
        else {
            usage(stderr);
            return 2;
        }
    }
    fv_compress_desc cdesc = {.keep = budget ? 0.0f : keep, .budget = budget};
    if (!image) {
        usage(stderr);
        return 2;
    }
    if (fv_compress_method_from_name(method_name, &cdesc.method)) {
        fprintf(stderr, "fovea-compress: unknown method \"%s\"\n", method_name);
        return 2;
    }
    if (!model)
        model = access("models/fovea-tiny/model.safetensors", R_OK) == 0 ? "models/fovea-tiny" : FOVEA_DEFAULT_MODEL;

    fv_context_desc cd = {0};
    char err[512];
    if (device && fv_context_desc_parse_device(&cd, device)) {
        fprintf(stderr, "fovea-compress: bad --device \"%s\"\n", device);
        return 2;
    }
    fv_context *ctx = NULL;
    if (fv_context_create(&cd, &ctx, err, sizeof err)) {
        fprintf(stderr, "fovea-compress: %s\n", err);
        return 1;
    }
    int rc = 1;
    fv_vision_model *m = NULL;
    fv_vision_encoder *enc = NULL;
    fv_compressor *comp = NULL;
    fv_image img = {0};
    float *px = NULL;
    int32_t *idx = NULL, *groups = NULL;
    int *kept = NULL, *group = NULL;

    if (fv_vision_model_load(ctx, model, NULL, &m)) goto fail;
    fv_vision_model_info mi;
    fv_vision_model_get_info(m, &mi);
    fv_preprocess_desc pd;
    fv_vision_model_preprocess_desc(m, &pd);
    int w, h;
    fv_preprocess_output_size(&pd, &w, &h);
    const size_t count = (size_t)3 * w * h;
    px = malloc(count * sizeof *px);
    if (!px || fv_image_load(image, &img, err, sizeof err) ||
        fv_image_preprocess(&img, &pd, px, count, err, sizeof err)) {
        fprintf(stderr, "fovea-compress: %s\n", px ? err : "out of memory");
        goto done;
    }
    fv_vision_encode_desc ed = {.width = w, .height = h, .layer = layer};
    if (fv_compress_prepare_encode(&cdesc, m, &ed) || fv_vision_encoder_create(m, &ed, &enc) ||
        fv_compressor_create(m, enc, &cdesc, &comp) || fv_vision_encoder_run(enc, px, count) ||
        fv_compressor_run(comp))
        goto fail;
    fv_vision_encoder_info ei;
    fv_compressor_info ci;
    fv_vision_timings vt;
    fv_vision_encoder_get_info(enc, &ei);
    fv_compressor_get_info(comp, &ci);
    fv_vision_encoder_timings(enc, &vt);
    /* fourier's tokens are DCT coefficients and tome's are merged inside
     * the encoder: neither has kept indices; tome has groups */
    const bool has_idx = cdesc.method != FV_COMPRESS_FOURIER && cdesc.method != FV_COMPRESS_TOME;
    idx = malloc((size_t)ci.tokens * sizeof *idx);
    groups = malloc((size_t)ei.input_tokens * sizeof *groups);
    if (!idx || !groups || (has_idx && fv_compressor_read_indices(comp, idx, (size_t)ci.tokens)) ||
        (cdesc.method != FV_COMPRESS_FOURIER && fv_compressor_groups(comp, groups, (size_t)ei.input_tokens)))
        goto fail;
    printf("method     %s, %d %s of %d patch tokens%s\n", method_name, ci.budget,
           cdesc.method == FV_COMPRESS_FOURIER ? "DCT coefficients" : "tokens", ei.grid_w * ei.grid_h,
           ci.has_cls ? " + [CLS]" : "");
    printf("time       encode %.2f ms, compress %.3f ms\n", vt.encode_ms, ci.run_ms);
    if (has_idx) {
        printf("kept      ");
        for (int i = 0; i < ci.tokens; i++) printf(" %d", idx[i]);
        printf("\n");
    }
    if (outpng && cdesc.method == FV_COMPRESS_FOURIER) {
        printf("picture    none: fourier keeps frequencies, not patches\n");
    } else if (outpng) {
        const int n = ei.grid_w * ei.grid_h, s = ci.has_cls ? 1 : 0;
        kept = calloc((size_t)n, sizeof *kept);
        group = calloc((size_t)n, sizeof *group);
        if (!kept || !group) goto fail;
        /* how many patches went into each output token */
        int *members = calloc((size_t)ci.tokens, sizeof *members);
        if (!members) goto fail;
        for (int p = 0; p < n; p++)
            if (groups[s + p] >= 0) members[groups[s + p]]++;
        for (int p = 0; p < n; p++) {
            const int g = groups[s + p];
            group[p] = g;
            kept[p] = g < 0 ? 0 : members[g] == 1 ? 1 : has_idx && idx[g] == s + p ? 3 : 2;
        }
        free(members);
        if (!write_picture(outpng, px, w, h, &pd, ei.grid_w, ei.grid_h, kept, group)) {
            fprintf(stderr, "fovea-compress: cannot write %s\n", outpng);
            goto done;
        }
        printf("picture    %s\n", outpng);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "fovea-compress: %s\n", fv_context_last_error(ctx));
done:
    free(idx);
    free(groups);
    free(kept);
    free(group);
    free(px);
    fv_image_free(&img);
    fv_compressor_destroy(comp);
    fv_vision_encoder_destroy(enc);
    fv_vision_model_destroy(m);
    fv_context_destroy(ctx);
    return rc;
}
