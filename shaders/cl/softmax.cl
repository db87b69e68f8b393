/* Row softmax, y = softmax(scale · x) over each row's live prefix: the
 * OpenCL twin of softmax.comp, with the same masking rule. Column j of row i
 * is live when j < valid and, if causal, j <= i + offset, so the live
 * columns are [0, live) with live = min(valid, i + offset + 1) clamped to
 * [0, cols]; valid and offset come from the push struct or, per replay, from
 * the graph's parameter slots. Masked columns are 0; a row with no live
 * column is all zeros. exp is taken as exp2 of k·x with k = scale·log2(e).
 *
 * Two layouts, chosen by the host per device type (ops/row_ops.h):
 *  - softmax_cl_row, for CPU devices: each work-item owns p.rows_per_item
 *    whole rows and runs one work-group of its own, so each core streams
 *    through rows with float16 vectors and keeps every partial result in
 *    registers. Three passes over a row: its maximum (the only pass that
 *    reads x from memory), exp2(k·x - max) written to y and summed, and y
 *    scaled by 1/sum. The second and third passes touch a row that is still
 *    in cache, and each element's exponential is taken once.
 *  - softmax_cl_group, for GPUs: one row per work-group of FV_SPEC_0
 *    work-items (a power of two) that take every FV_SPEC_0-th float4. Each
 *    work-item keeps a running maximum and sum (online softmax: Milakov &
 *    Gimelshein, 2018), the pairs are merged through local memory, then a
 *    second pass writes the probabilities. */

/* the smallest finite float: a maximum that starts here stays finite when
 * the live values are -inf, so no inf - inf appears */
#define LOWEST (-FLT_MAX)

inline uint live_columns(__global const int *fv_param, const fv_pc_softmax *p, uint r)
{
    int live = (int)p->cols;
    if (p->valid_slot > 0) live = clamp(fv_param[p->valid_slot - 1], 0, live);
    if (p->causal) {
        int off = p->offset_slot > 0 ? fv_param[p->offset_slot - 1] : p->offset;
        /* clamped so that i + off cannot overflow; beyond ±2^30 the result
         * is the same (all or none of the columns) */
        off = clamp(off, -(1 << 30), 1 << 30);
        int i = (int)((p->row0 + r) % p->rows_per_batch);
        live = clamp(i + off + 1, 0, live);
    }
    return (uint)live;
}

__kernel void softmax_cl_row(FV_PARAMS, FV_ARG(const float, x), FV_ARG(float, y), fv_pc_softmax p)
{
    const uint r0 = fv_linear_id() * p.rows_per_item;
    if (r0 >= p.rows) return;
    const uint r1 = min(p.rows - r0, p.rows_per_item) + r0;
    const float k = p.scale * M_LOG2E_F;
    for (uint r = r0; r < r1; r++) {
        __global const float *xr = FV_PTR(const float, x) + (ulong)r * p.cols;
        __global float *yr = FV_PTR(float, y) + (ulong)r * p.cols;
        const uint live = live_columns(fv_param, &p, r);
        uint c;
        if (live > 0u) {
            /* pass 1: m = max k·x. v > m ? v : m is one max instruction on
             * x86 (fmax, with its NaN rules, takes three and made this pass
             * twice as slow), and unlike OpenCL's max it is defined for
             * infinities */
            float16 m16 = (float16)(LOWEST);
            for (c = 0; c + 16u <= live; c += 16u) {
                float16 v = vload16(0, xr + c) * k;
                m16 = v > m16 ? v : m16;
            }
            float m = fv_hmax16(m16);
            for (; c < live; c++) m = fmax(m, xr[c] * k);
            /* pass 2: y = exp2(k·x - m), and their sum */
            float16 s16 = (float16)(0.0f);
            for (c = 0; c + 16u <= live; c += 16u) {
                float16 e = exp2(vload16(0, xr + c) * k - m);
                s16 += e;
                vstore16(e, 0, yr + c);
            }
            float s = fv_hsum16(s16);
            for (; c < live; c++) {
                float e = exp2(xr[c] * k - m);
                s += e;
                yr[c] = e;
            }
            /* pass 3: normalise; s >= 1 unless the row holds infinities,
             * and such rows are kept finite */
            const float inv = s > 0.0f ? 1.0f / s : 0.0f;
            for (c = 0; c + 16u <= live; c += 16u) vstore16(vload16(0, yr + c) * inv, 0, yr + c);
            for (; c < live; c++) yr[c] *= inv;
        }
        for (c = live; c + 16u <= p.cols; c += 16u) vstore16((float16)(0.0f), 0, yr + c);
        for (; c < p.cols; c++) yr[c] = 0.0f;
    }
}

__kernel void softmax_cl_group(FV_PARAMS, FV_ARG(const float, x), FV_ARG(float, y), fv_pc_softmax p)
{
    __local float red[FV_SPEC_0];
    const uint r = fv_linear_group();
    if (r >= p.rows) return; /* the whole work-group: no barrier is skipped by a part */
    const uint t = (uint)get_local_id(0), lanes = FV_SPEC_0;
    __global const float *xr = FV_PTR(const float, x) + (ulong)r * p.cols;
    __global float *yr = FV_PTR(float, y) + (ulong)r * p.cols;
    const uint live = live_columns(fv_param, &p, r);
    const uint units = live / 4u; /* whole float4s of the live prefix; the rest one by one */
    const float k = p.scale * M_LOG2E_F;

    /* pass 1: this work-item's running maximum m of k·x and Σ exp2(k·x - m) */
    float m = LOWEST, s = 0.0f;
    for (uint u = t; u < units; u += lanes) {
        float4 v = vload4(u, xr) * k;
        float nm = fmax(m, fv_hmax4(v));
        s = s * exp2(m - nm) + fv_hsum4(exp2(v - nm));
        m = nm;
    }
    for (uint c = units * 4u + t; c < live; c += lanes) {
        float v = xr[c] * k, nm = fmax(m, v);
        s = s * exp2(m - nm) + exp2(v - nm);
        m = nm;
    }
    const float mx = fv_group_max(red, m);
    const float sum = fv_group_sum(red, s * exp2(m - mx));
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;

    /* pass 2: the probabilities, and zeros past the live prefix */
    for (uint u = t; u < units; u += lanes) vstore4(exp2(vload4(u, xr) * k - mx) * inv, u, yr);
    for (uint c = units * 4u + t; c < live; c += lanes) yr[c] = exp2(xr[c] * k - mx) * inv;
    for (uint c = live + t; c < p.cols; c += lanes) yr[c] = 0.0f;
}
