/* The plain top-k the compression tests' references are built on: the k
 * largest scores among the candidates, ties to the lower index (the rule
 * every backend must follow). Shared by op_compress.c and test_compress.c. */
#ifndef FOVEA_TESTS_TH_TOPK_H
#define FOVEA_TESTS_TH_TOPK_H

#include <stdlib.h>

typedef struct th_ranked {
    double s;
    int i;
} th_ranked;

static int th_by_score(const void *a, const void *b)
{
    const th_ranked *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return x->i - y->i;
}

/* keep[i] = 1 for the top k of s[i] among the candidates (cand[i] != 0, or
 * all when cand is NULL); other entries of keep are left as they are. */
static inline void th_topk(const float *s, const int *cand, int n, int k, int *keep)
{
    th_ranked *r = malloc((size_t)n * sizeof *r);
    if (!r) return;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!cand || cand[i]) r[m++] = (th_ranked){s[i], i};
    qsort(r, (size_t)m, sizeof *r, th_by_score);
    for (int j = 0; j < k && j < m; j++) keep[r[j].i] = 1;
    free(r);
}

#endif
