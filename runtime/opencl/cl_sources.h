/* The embedded OpenCL programs (generated at build time). */
#ifndef FOVEA_CL_SOURCES_H
#define FOVEA_CL_SOURCES_H

#include <stddef.h>

typedef struct fv_cl_program_source {
    const char *name;
    const char *source;
    size_t length;
} fv_cl_program_source;

extern const fv_cl_program_source fv_cl_programs[];
extern const int fv_cl_program_count;
/* Index of the program defining `kernel`, or -1. */
int fv_cl_program_of(const char *kernel);

#endif
