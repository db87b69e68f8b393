/* The one translation unit of fovea-encode that compiles stb_image_write
 * (the header Debian's libstb-dev installs), for its PNG writer only. */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC

/* Third-party code: its warnings are not ours to fix. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb_image_write.h>

#include "png_write.h"

int fv_tool_write_png(const char *path, int width, int height, const unsigned char *rgb)
{
    return stbi_write_png(path, width, height, 3, rgb, width * 3);
}
