/* PNG output for fovea-encode (tools/stb_image_write_impl.c). */
#ifndef FOVEA_TOOLS_PNG_WRITE_H
#define FOVEA_TOOLS_PNG_WRITE_H

/* Writes 8-bit RGB rows top to bottom; non-zero on success. */
int fv_tool_write_png(const char *path, int width, int height, const unsigned char *rgb);

#endif
