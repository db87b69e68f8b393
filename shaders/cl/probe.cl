/* Probe kernels that measure a device's own ceilings: the OpenCL twins of
 * probe.comp (see there for what each measures). Each writes one float per
 * work-item so the compiler must keep all the work that feeds it. */

/* 8 independent float4 FMA chains per work-item, 64 flops per iteration;
 * the iteration count comes from the graph's parameter buffer. */
__kernel void probe_fma(FV_PARAMS, FV_ARG(float, y), fv_pc_probe p)
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    int iters = fv_param[p.iters_slot];
    float4 m = (float4)(p.mul), a = (float4)(p.add);
    float4 s = (float4)((float)(i & 1023u) * (1.0f / 1024.0f)) + (float4)(0.0f, 0.25f, 0.5f, 0.75f);
    float4 c0 = s, c1 = s + 1.0f, c2 = s + 2.0f, c3 = s + 3.0f;
    float4 c4 = s + 4.0f, c5 = s + 5.0f, c6 = s + 6.0f, c7 = s + 7.0f;
    for (int k = 0; k < iters; k++) {
        c0 = fma(c0, m, a);
        c1 = fma(c1, m, a);
        c2 = fma(c2, m, a);
        c3 = fma(c3, m, a);
        c4 = fma(c4, m, a);
        c5 = fma(c5, m, a);
        c6 = fma(c6, m, a);
        c7 = fma(c7, m, a);
    }
    float4 t = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7));
    FV_PTR(float, y)[i] = t.x + t.y + t.z + t.w;
}

/* Teams of p.team work-items each walk one contiguous block of the range
 * side by side, as in probe.comp: team = n is a grid stride, coalesced on
 * GPUs; on CPU devices (PoCL, no subgroups) team = 1, so each work-item
 * streams through a block of its own — a grid stride there reached a tenth
 * of that. */
__kernel void probe_read_storage(FV_PARAMS, FV_ARG(const float4, x), FV_ARG(float, y), fv_pc_probe p)
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    __global const float4 *X = FV_PTR(const float4, x);
    uint teams = p.n / p.team, team = i / p.team;
    uint per = p.count / teams; /* a multiple of 2·team: the host sizes it */
    uint j = team * per + i % p.team, end = (team + 1u) * per;
    float4 acc0 = (float4)(0.0f), acc1 = (float4)(0.0f);
    for (; j < end; j += 2u * p.team) {
        acc0 += X[j];
        acc1 += X[j + p.team];
    }
    float4 t = acc0 + acc1;
    FV_PTR(float, y)[i] = t.x + t.y + t.z + t.w;
}

/* y = x + 1 over a few elements: a near-empty launch. */
__kernel void probe_step(FV_PARAMS, FV_ARG(const float, x), FV_ARG(float, y), fv_pc_probe p)
{
    uint i = fv_linear_id();
    if (i < p.n) FV_PTR(float, y)[i] = FV_PTR(const float, x)[i] + 1.0f;
}
