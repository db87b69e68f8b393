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
void test_matmul(th_runner *r, const th_backend *b);
/* -- element-wise, norm, softmax, copy, gather -- */
void test_elementwise(th_runner *r, const th_backend *b);
void test_softmax(th_runner *r, const th_backend *b);
void test_norm(th_runner *r, const th_backend *b);
void test_copy(th_runner *r, const th_backend *b);
/* -- attention -- */
void test_attention(th_runner *r, const th_backend *b);
/* -- vision -- */
void test_patchify(th_runner *r, const th_backend *b);
/* -- decoder ops -- */
void test_decoder(th_runner *r, const th_backend *b);
/* -- quantized matmul / matvec (q8_0, q4_0) -- */
void test_quant(th_runner *r, const th_backend *b);
/* -- compression -- */
void test_compress_ops(th_runner *r, const th_backend *b);
void test_dct(th_runner *r, const th_backend *b);
void test_tome(th_runner *r, const th_backend *b);

#endif
