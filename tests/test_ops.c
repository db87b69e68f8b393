/* The op table: every op on every backend present, random inputs from fixed
 * seeds, odd sizes, against double-precision references written here (not
 * the library's own CPU code), each with its tolerance.
 * usage: test-ops [name-filter] */
#include "op_cases.h"

static const th_case cases[] = {
    {"binary", test_binary},
    /* -- matmul -- */
    {"matmul", test_matmul},
    /* -- element-wise, norm, softmax, copy, gather -- */
    {"elementwise", test_elementwise},
    {"softmax", test_softmax},
    {"norm", test_norm},
    {"copy", test_copy},
    /* -- attention -- */
    {"attention", test_attention},
    /* -- vision -- */
    {"patchify", test_patchify},
    /* -- decoder ops -- */
    {"decoder", test_decoder},
    /* -- quantized matmul / matvec (q8_0, q4_0) -- */
    {"quant", test_quant},
    /* -- compression -- */
    {"compress", test_compress_ops},
    {"dct", test_dct},
    {"tome", test_tome},
};

int main(int argc, char **argv)
{
    th_runner r;
    bool ok = th_open(&r, argc, argv);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (!th_selected(&r, cases[c].name)) continue;
        for (int i = 0; i < r.nbackends; i++) cases[c].run(&r, &r.backends[i]);
    }
    int rc = th_close(&r);
    return ok ? rc : 1;
}
