/* fovea-bench's compression section (--ops compress): each visual-token
 * compression method's time next to the vision encoder's time for the same
 * image, on the bundled fovea-tiny and a CLIP-B/16-shaped random encoder.
 * Rows go into the common table (bench_encoder.h's bench_row). */
#ifndef FOVEA_BENCH_COMPRESS_H
#define FOVEA_BENCH_COMPRESS_H

#include "bench_encoder.h"

/* Writes up to `cap` rows; returns the count. tiny_dir: the bundled
 * fovea-tiny (skipped without its weights). */
int bench_compress(fv_context *ctx, bool quick, const char *tiny_dir, bench_row *rows, int cap);

#endif
