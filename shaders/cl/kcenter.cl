/* Greedy k-center on cosine distance (DivPrune's rule): the OpenCL twins of
 * kcenter.comp's kernels, the same float steps in the same order.
 * kcenter_norm_cl: one work-item per row, the row over its norm (four
 * partial sums, no contraction). kcenter_seed_cl: one work-item per
 * candidate, its nearest other candidate's distance from the Gram matrix's
 * upper triangle. kcenter_steps_cl: one work-group of 64 or 256 runs steps
 * [lo, hi). Arguments: x, y (f32) / gram (f32 [n, n]), out (i32 [2n]). */
#pragma OPENCL FP_CONTRACT OFF
#define KC_MAX_LANES 256u

__kernel void kcenter_norm_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(float, y), fv_pc_kcenter p)
{
    __global const float *X = FV_PTR(const float, x);
    __global float *Y = FV_PTR(float, y);
    const uint j = fv_linear_id();
    if (j >= p.n) return;
    __global const float *a = X + (ulong)(p.skip + j) * p.dim;
    __global float *b = Y + (ulong)j * p.dim;
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    uint c = 0u;
    for (; c + 4u <= p.dim; c += 4u) {
        s0 += a[c] * a[c];
        s1 += a[c + 1u] * a[c + 1u];
        s2 += a[c + 2u] * a[c + 2u];
        s3 += a[c + 3u] * a[c + 3u];
    }
    float s = (s0 + s1) + (s2 + s3);
    for (; c < p.dim; c++) s += a[c] * a[c];
    const float nrm = fmax(sqrt(s), 1e-12f);
    for (c = 0u; c < p.dim; c++) b[c] = a[c] / nrm;
}

inline float kc_dist(__global const float *G, uint n, uint i, uint j)
{
    return 1.0f - G[(ulong)min(i, j) * n + max(i, j)];
}

__kernel void kcenter_seed_cl(FV_PARAMS, FV_ARG(const float, gram), FV_ARG(int, out), fv_pc_kcenter p)
{
    __global const float *G = FV_PTR(const float, gram);
    __global int *O = FV_PTR(int, out);
    const uint j = fv_linear_id();
    if (j >= p.n) return;
    float best = INFINITY;
    for (uint i = 0u; i < p.n; i++)
        if (i != j) best = fmin(best, kc_dist(G, p.n, i, j));
    O[p.n + j] = as_int(best);
    O[j] = 0;
}

__kernel void kcenter_steps_cl(FV_PARAMS, FV_ARG(const float, gram), FV_ARG(int, out), fv_pc_kcenter p)
{
    __global const float *G = FV_PTR(const float, gram);
    __global int *O = FV_PTR(int, out);
    __local float lane_v[KC_MAX_LANES];
    __local uint lane_i[KC_MAX_LANES];
    const uint t = (uint)get_local_id(0), KC_LANES = (uint)get_local_size(0);
    for (uint step = p.lo; step < p.hi; step++) {
        float bv = 0.0f;
        uint bi = p.n;
        for (uint j = t; j < p.n; j += KC_LANES) {
            const float v = as_float(O[p.n + j]);
            if (O[j] == 0 && (bi == p.n || v > bv)) {
                bv = v;
                bi = j;
            }
        }
        lane_v[t] = bv;
        lane_i[t] = bi;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t == 0u) {
            for (uint l = 1u; l < KC_LANES; l++)
                if (lane_i[l] != p.n &&
                    (lane_i[0] == p.n || lane_v[l] > lane_v[0] || (lane_v[l] == lane_v[0] && lane_i[l] < lane_i[0]))) {
                    lane_v[0] = lane_v[l];
                    lane_i[0] = lane_i[l];
                }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const uint s = lane_i[0];
        for (uint j = t; j < p.n; j += KC_LANES) {
            if (j == s) {
                O[j] = 1;
            } else if (O[j] == 0) {
                const float d = kc_dist(G, p.n, j, s), m = as_float(O[p.n + j]);
                O[p.n + j] = as_int(step == 0u ? d : fmin(m, d));
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
