/* VisionZip's contextual tokens: the OpenCL twins of visionzip.comp (the
 * same targets, the same float steps). vzip_assign_cl: one work-group,
 * work-item 0 finds the targets, then each work-item assigns its
 * candidates. vzip_merge_cl: one work-item per output element.
 * Arguments: dominant (i32), keys (f32), out (i32) / hidden (f32),
 * assign (i32), y (f32). */
#pragma OPENCL FP_CONTRACT OFF
#define VZ_MAX_KC 1024u

inline float vz_dot(__global const float *K, const fv_pc_vzip *p, uint i, uint j)
{
    __global const float *a = K + (ulong)(p->skip + i) * p->dim, *b = K + (ulong)(p->skip + j) * p->dim;
    float s = 0.0f;
    for (uint c = 0u; c < p->dim; c++) s += a[c] * b[c];
    return s;
}

__kernel void vzip_assign_cl(FV_PARAMS, FV_ARG(const int, dominant), FV_ARG(const float, keys), FV_ARG(int, out),
                             fv_pc_vzip p)
{
    __global const int *D = FV_PTR(const int, dominant);
    __global const float *K = FV_PTR(const float, keys);
    __global int *O = FV_PTR(int, out);
    __local uint tgt[VZ_MAX_KC];
    __local float tnorm[VZ_MAX_KC];
    const uint t = (uint)get_local_id(0);
    if (t == 0u) {
        uint r = 0u;
        for (uint j = 0u; j < p.n; j++) r += D[j] == 0 ? 1u : 0u;
        const uint step = max(1u, r / p.kc);
        uint q = 0u;
        for (uint j = 0u; j < p.n; j++) {
            if (D[j] != 0) continue;
            if (q % step == 0u && q / step < p.kc) {
                tgt[q / step] = j;
                O[p.n + q / step] = (int)j;
            }
            q++;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint m = t; m < p.kc; m += (uint)get_local_size(0))
        tnorm[m] = fmax(sqrt(vz_dot(K, &p, tgt[m], tgt[m])), 1e-12f);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint j = t; j < p.n; j += (uint)get_local_size(0)) {
        if (D[j] != 0) {
            O[j] = -1;
            continue;
        }
        int g = -1;
        for (uint m = 0u; m < p.kc; m++)
            if (tgt[m] == j) g = (int)m;
        if (g < 0) {
            const float nj = fmax(sqrt(vz_dot(K, &p, j, j)), 1e-12f);
            float best = 0.0f;
            for (uint m = 0u; m < p.kc; m++) {
                const uint tm = tgt[m];
                const float s = vz_dot(K, &p, j, tm) / (nj * tnorm[m]);
                if (g < 0 || s > best) {
                    best = s;
                    g = (int)m;
                }
            }
        }
        O[j] = g;
    }
}

__kernel void vzip_merge_cl(FV_PARAMS, FV_ARG(const float, hidden), FV_ARG(const int, assign), FV_ARG(float, y),
                            fv_pc_vzip p)
{
    __global const float *H = FV_PTR(const float, hidden);
    __global const int *A = FV_PTR(const int, assign);
    __global float *Y = FV_PTR(float, y);
    const uint e = fv_linear_id();
    if (e >= p.kc * p.dim) return;
    const uint m = e / p.dim, c = e - m * p.dim;
    const uint tm = (uint)A[p.n + m];
    float acc = 0.0f;
    uint cnt = 0u;
    for (uint j = 0u; j < p.n; j++) {
        if (A[j] != (int)m || j == tm) continue;
        acc += H[(ulong)(p.skip + j) * p.dim + c];
        cnt++;
    }
    Y[e] = H[(ulong)(p.skip + tm) * p.dim + c] + acc / (float)max(cnt, 1u);
}
