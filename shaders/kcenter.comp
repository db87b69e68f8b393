#version 450
/* Greedy k-center on cosine distance (ops/kcenter.c), as DivPrune (Alvar
 * et al., "DivPrune: Diversity-based Visual Token Pruning for Large
 * Multimodal Models", CVPR 2025) solves its max-min diversity problem:
 * d(i, j) = 1 - G[min(i,j), max(i,j)], G = X̂·X̂ᵀ the Gram matrix of the
 * unit rows (a matmul node between NORM and the rest), read from its upper
 * triangle so that d is symmetric bit for bit whatever order the matmul
 * summed in.
 *
 * NORM: one invocation per candidate row writes it divided by its norm
 *   (clamped to 1e-12; four partial sums by c mod 4, `precise`, as the C
 *   reference and the OpenCL kernel compute them).
 * SEED: one invocation per candidate j: min over i != j of d(i, j), the
 *   distance to its nearest other candidate (DivPrune's first pick is its
 *   arg-max), into out[n + j] as float bits; flags out[j] cleared.
 * otherwise (STEPS lo .. hi-1): ONE workgroup of LANES = 64 or 256 lanes
 *   (64 for up to 512 candidates: fewer lanes, fewer context switches per
 *   barrier on CPU-type devices), lane t owning candidates t, t + LANES, ... and their entries of out (i32 [2n]: flags,
 *   then nearest-pick distances as float bits). A step is each lane's best
 *   unpicked candidate (largest distance; ties to the lower index: lanes
 *   walk their candidates in order), lane 0's scan of the lane results
 *   in shared memory, then the distance update against the pick: O(n / 256)
 *   per lane. Three barriers per step.
 * The host cuts the steps into dispatches so that no invocation loops more
 * than about 60,000 times: llvmpipe (Mesa 22.3) silently stops a shader
 * invocation after 65,535 loop iterations in total. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_kcenter p; };

#if defined(NORM)
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

void main()
{
    const uint j = fv_linear_id();
    if (j >= p.n) return;
    const uint a = (p.skip + j) * p.dim, b = j * p.dim;
    precise float s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    uint c = 0u;
    for (; c + 4u <= p.dim; c += 4u) {
        s0 += x[a + c] * x[a + c];
        s1 += x[a + c + 1u] * x[a + c + 1u];
        s2 += x[a + c + 2u] * x[a + c + 2u];
        s3 += x[a + c + 3u] * x[a + c + 3u];
    }
    precise float s = (s0 + s1) + (s2 + s3);
    for (; c < p.dim; c++) s += x[a + c] * x[a + c];
    const float nrm = max(sqrt(s), 1e-12);
    for (c = 0u; c < p.dim; c++) y[b + c] = x[a + c] / nrm;
}
#else
layout(std430, binding = 1) readonly buffer G { float gram[]; };
layout(std430, binding = 2) buffer O { int outi[]; };

float dist(uint i, uint j) { return 1.0 - gram[min(i, j) * p.n + max(i, j)]; }

#if defined(SEED)
void main()
{
    const uint j = fv_linear_id();
    if (j >= p.n) return;
    float best = 1.0 / 0.0;
    for (uint i = 0u; i < p.n; i++)
        if (i != j) best = min(best, dist(i, j));
    outi[p.n + j] = floatBitsToInt(best);
    outi[j] = 0;
}
#else
#define MAX_LANES 256u
#define LANES FV_LOCAL_X
shared float lane_v[MAX_LANES];
shared uint lane_i[MAX_LANES];

void main()
{
    const uint t = gl_LocalInvocationID.x;
    for (uint step = p.lo; step < p.hi; step++) {
        float bv = 0.0;
        uint bi = p.n;
        for (uint j = t; j < p.n; j += LANES) {
            const float v = intBitsToFloat(outi[p.n + j]);
            if (outi[j] == 0 && (bi == p.n || v > bv)) {
                bv = v;
                bi = j;
            }
        }
        lane_v[t] = bv;
        lane_i[t] = bi;
        barrier();
        if (t == 0u) {
            for (uint l = 1u; l < LANES; l++)
                if (lane_i[l] != p.n &&
                    (lane_i[0] == p.n || lane_v[l] > lane_v[0] || (lane_v[l] == lane_v[0] && lane_i[l] < lane_i[0]))) {
                    lane_v[0] = lane_v[l];
                    lane_i[0] = lane_i[l];
                }
        }
        barrier();
        const uint s = lane_i[0];
        for (uint j = t; j < p.n; j += LANES) {
            if (j == s) {
                outi[j] = 1;
            } else if (outi[j] == 0) {
                const float d = dist(j, s), m = intBitsToFloat(outi[p.n + j]);
                outi[p.n + j] = floatBitsToInt(step == 0u ? d : min(m, d));
            }
        }
        /* lane_i[0] is rewritten by the next step only after everyone read it */
        barrier();
    }
}
#endif
#endif
