/* The one translation unit that compiles stb_image (the header Debian's
 * libstb-dev installs), behind three small functions. The decoder is built
 * static here, rather than linked from a shared libstb: its symbols then
 * cannot clash with an application's own copy of stb_image, the formats
 * are limited to those a vision model is fed (less untrusted-input code),
 * and files are read by fovea, which reports I/O errors itself. */
#include "load_internal.h"

#include <limits.h>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
/* Refuse absurd sizes before decoding allocates for them. */
#define STBI_MAX_DIMENSIONS 32768

/* Third-party code: its warnings are not ours to fix. They stay off to the
 * end of this file, because GCC reports some (unused statics, values it
 * cannot prove initialised after inlining) only after the whole unit. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb_image.h>

bool fv_stb_info(const uint8_t *data, size_t size, int *w, int *h, const char **reason)
{
    int comp;
    if (size > INT_MAX) {
        *reason = "file too large";
        return false;
    }
    if (stbi_info_from_memory(data, (int)size, w, h, &comp)) return true;
    *reason = stbi_failure_reason();
    return false;
}

uint8_t *fv_stb_decode_rgb(const uint8_t *data, size_t size, int *w, int *h, const char **reason)
{
    int comp;
    if (size > INT_MAX) {
        *reason = "file too large";
        return NULL;
    }
    /* req_comp 3: grey is replicated, alpha dropped (stb's conversion). */
    uint8_t *p = stbi_load_from_memory(data, (int)size, w, h, &comp, 3);
    if (!p) *reason = stbi_failure_reason();
    return p;
}

void fv_stb_free(void *p) { stbi_image_free(p); }
