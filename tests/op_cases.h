/* One function per op family; each runs its cases on one backend. */
#ifndef FOVEA_TEST_OP_CASES_H
#define FOVEA_TEST_OP_CASES_H

#include "harness.h"

typedef struct th_case {
    const char *name;
    void (*run)(th_runner *r, const th_backend *b);
} th_case;


void test_binary(th_runner *r, const th_backend *b);
/* -- matmul -- */
/* -- element-wise, norm, softmax, copy, gather -- */

#endif
