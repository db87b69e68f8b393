/* State of the OpenCL backend, shared by its files. */
#ifndef FOVEA_CL_INTERNAL_H
#define FOVEA_CL_INTERNAL_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include "../internal.h"
#include "cl_sources.h"

typedef struct fv_cl_program {
    int source;                     /* index into fv_cl_programs */
    uint32_t spec[FV_MAX_SPEC];     /* FV_SPEC_i defines it was built with */
    int nspec;
    cl_program program;
    struct fv_cl_program *next;
} fv_cl_program;

typedef struct fv_cl {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    char device_key[600];           /* device + driver: keys the binary cache */
    fv_cl_program *programs;
    int validation_unused;
} fv_cl;

static inline fv_cl *fv_cl_of(fv_context *ctx) { return (fv_cl *)ctx->be; }

fv_status fv_cl_status(fv_context *ctx, cl_int err, const char *what);
/* Builds (or loads from the disk cache) the program holding `kernel`,
 * specialised with spec[1..]; returns a new kernel object. */
fv_status fv_cl_kernel_create(fv_context *ctx, const fv_dispatch *d, cl_kernel *out);

#endif
