/* The `fovea` command: shared pieces of its subcommands (fovea.c: run,
 * fovea_eval.c: eval). Public API only. */
#ifndef FOVEA_TOOLS_CLI_H
#define FOVEA_TOOLS_CLI_H

#include "fovea/vlm.h"

#include <stdbool.h>

/* Options every subcommand takes. */
typedef struct cli_common {
    const char *model;   /* a LLaVA directory; default: the bundled fovea-tiny */
    const char *device;  /* "vulkan:0", "opencl:0", "cpu", a name; NULL = the default */
    const char *dtype;   /* the decoder's matrices: f32, f16, q8_0, q4_0; NULL = as stored */
    bool quiet;
} cli_common;

/* Parses "--model", "--device", "--dtype", "--quiet" at argv[*i] (taking
 * the value after it); true when it was one of them. */
bool cli_common_arg(cli_common *c, int argc, char **argv, int *i, bool *bad);

/* Creates the context and loads the model; prints the error and returns
 * false on failure. */
bool cli_open(const cli_common *c, fv_context **ctx, fv_vlm **vlm);

/* "fastervlm" → its method and fills the desc with `keep`; "none" or
 * "full" is no compression. */
bool cli_compress_desc(const char *method, double keep, fv_compress_desc *out);

int fovea_eval_main(int argc, char **argv);

double cli_now_ms(void);
const char *cli_default_model(void);

#endif
