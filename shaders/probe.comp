#version 450
/* Probe kernels that measure a device's own ceilings (fv_context_measure_ceilings).
 * They compute nothing useful; each writes one float per invocation so the
 * compiler must keep all of the work that feeds it.
 *
 * PROBE_FMA   peak fp32 FMA rate. Each invocation runs 8 independent vec4
 *             FMA chains (8 × 4 × 2 = 64 flops per iteration), enough
 *             independent work to hide FMA latency on SIMD CPUs and GPUs.
 *             The iteration count is read from the graph's parameter buffer
 *             (slot p.iters_slot) so the host can scale the run without
 *             re-recording and the compiler cannot fold the loop.
 * PROBE_READ  read bandwidth. The n invocations form teams of p.team
 *             consecutive lanes; each team owns one contiguous block of the
 *             bound range and walks it with its lanes side by side (lane l
 *             reads elements l, l + team, l + 2·team, ... of the block), then
 *             each invocation writes its sum to y[i]. team = n is the usual
 *             grid stride, coalesced on GPUs. On CPU-type devices a team is
 *             one subgroup: llvmpipe runs a subgroup's loop to the end before
 *             the next, so each subgroup should stream through memory
 *             sequentially — a grid stride there jumps pages on every step
 *             and defeats the prefetchers. With PROBE_TEXEL the range is read
 *             through a uniform texel buffer (R32G32B32A32_SFLOAT view): the
 *             fast path on llvmpipe, where a lane-varying storage-buffer load
 *             becomes a per-lane loop with bounds checks. Without it, a vec4
 *             storage buffer: the usual fast path on GPUs.
 * PROBE_STEP  y[i] = x[i] + 1 over a few elements: a near-empty dispatch whose
 *             cost is the per-dispatch overhead of a graph (launch + the
 *             barrier its dependency on the previous node requires). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_probe p; };

#if defined(PROBE_FMA)

layout(std430, binding = 1) writeonly buffer Y { float y[]; };

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    int iters = fv_param[p.iters_slot];
    vec4 m = vec4(p.mul), a = vec4(p.add);
    /* distinct starting values per invocation and chain: nothing is uniform */
    vec4 s = vec4(float(i & 1023u) * (1.0 / 1024.0)) + vec4(0.0, 0.25, 0.5, 0.75);
    vec4 c0 = s, c1 = s + 1.0, c2 = s + 2.0, c3 = s + 3.0;
    vec4 c4 = s + 4.0, c5 = s + 5.0, c6 = s + 6.0, c7 = s + 7.0;
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
    vec4 t = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7));
    y[i] = t.x + t.y + t.z + t.w;
}

#elif defined(PROBE_READ)

#if defined(PROBE_TEXEL)
layout(binding = 1) uniform samplerBuffer X;
#define LOAD(j) texelFetch(X, int(j))
#else
layout(std430, binding = 1) readonly buffer X { vec4 x[]; };
#define LOAD(j) x[j]
#endif
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    uint teams = p.n / p.team, team = i / p.team;
    uint per = p.count / teams; /* a multiple of 2·team: the host sizes it */
    uint j = team * per + i % p.team, end = (team + 1u) * per;
    /* two accumulators: the adds are not on the loads' critical path */
    vec4 acc0 = vec4(0.0), acc1 = vec4(0.0);
    for (; j < end; j += 2u * p.team) {
        acc0 += LOAD(j);
        acc1 += LOAD(j + p.team);
    }
    vec4 t = acc0 + acc1;
    y[i] = t.x + t.y + t.z + t.w;
}

#elif defined(PROBE_STEP)

layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main()
{
    uint i = fv_linear_id();
    if (i < p.n) y[i] = x[i] + 1.0;
}

#endif
