/* One function per op family; each runs its cases on one backend. */
#ifndef FOVEA_TEST_OP_CASES_H
#define FOVEA_TEST_OP_CASES_H

#include "harness.h"

typedef struct th_case {
    const char *name;
    void (*run)(th_runner *r, const th_backend *b);
} th_case;

/* Runs graph g (replay), downloads y into a new float buffer. NULL on failure. */
float *th_run_and_fetch(th_runner *r, const th_backend *b, const char *name, fv_graph *g, fv_tensor *y);

void test_binary(th_runner *r, const th_backend *b);
/* -- matmul -- */
/* -- element-wise, norm, softmax, copy, gather -- */

#endif
