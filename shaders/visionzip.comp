#version 450
/* VisionZip's contextual tokens (ops/visionzip.c; Yang et al., "VisionZip:
 * Longer is Better but Not Necessary in Vision Language Models", CVPR
 * 2025). The n candidates are rows skip .. of the keys / hidden states;
 * dominant[i] != 0 marks the tokens kept by [CLS] attention. The R others,
 * in index order, supply kc targets: remaining positions 0, step, 2·step ..
 * with step = max(1, R / kc).
 *
 * ASSIGN: one workgroup; lane 0 walks the candidates once to find the
 * targets (shared memory and out[n + m]), the lanes share out the targets'
 * key norms (shared memory), then lane t owns candidates t,
 * t + LOCAL, ...: -1 for a dominant one, m for target m, else the target of
 * highest cosine similarity of keys (ties to the lower m).
 * Bindings: 1 dominant (i32 [n]), 2 keys (f32 [rows, dim]), 3 out (i32 [n + kc]).
 *
 * MERGE: one invocation per element (m, c) of the kc x dim output:
 * target m's hidden state plus the mean of the hidden states of the other
 * candidates assigned to m (VisionZip adds the mean to the target; a group
 * of one adds nothing). O(n) per invocation.
 * Bindings: 1 hidden (f32 [rows, dim]), 2 assign (i32 [n + kc]), 3 y (f32 [kc, dim]). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Push { fv_pc_vzip p; };

#ifdef ASSIGN
#define MAX_KC 1024u
layout(std430, binding = 1) readonly buffer D { int dominant[]; };
layout(std430, binding = 2) readonly buffer K { float key[]; };
layout(std430, binding = 3) buffer O { int outi[]; };
shared uint tgt[MAX_KC];
shared float tnorm[MAX_KC];

float key_dot(uint i, uint j)
{
    const uint a = (p.skip + i) * p.dim, b = (p.skip + j) * p.dim;
    precise float s = 0.0; /* no fused multiply-add: as the C reference */
    for (uint c = 0u; c < p.dim; c++) s += key[a + c] * key[b + c];
    return s;
}

void main()
{
    const uint t = gl_LocalInvocationID.x;
    if (t == 0u) {
        uint r = 0u;
        for (uint j = 0u; j < p.n; j++) r += dominant[j] == 0 ? 1u : 0u;
        const uint step = max(1u, r / p.kc);
        uint q = 0u;
        for (uint j = 0u; j < p.n; j++) {
            if (dominant[j] != 0) continue;
            if (q % step == 0u && q / step < p.kc) {
                tgt[q / step] = j;
                outi[p.n + q / step] = int(j);
            }
            q++;
        }
    }
    barrier();
    for (uint m = t; m < p.kc; m += FV_LOCAL_X) tnorm[m] = max(sqrt(key_dot(tgt[m], tgt[m])), 1e-12);
    barrier();
    for (uint j = t; j < p.n; j += FV_LOCAL_X) {
        if (dominant[j] != 0) {
            outi[j] = -1;
            continue;
        }
        int g = -1;
        for (uint m = 0u; m < p.kc; m++)
            if (tgt[m] == j) g = int(m);
        if (g < 0) {
            const float nj = max(sqrt(key_dot(j, j)), 1e-12);
            float best = 0.0;
            for (uint m = 0u; m < p.kc; m++) {
                const uint tm = tgt[m];
                const float s = key_dot(j, tm) / (nj * tnorm[m]);
                if (g < 0 || s > best) {
                    best = s;
                    g = int(m);
                }
            }
        }
        outi[j] = g;
    }
}
#else
layout(std430, binding = 1) readonly buffer H { float hid[]; };
layout(std430, binding = 2) readonly buffer A { int asg[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
    const uint e = fv_linear_id();
    if (e >= p.kc * p.dim) return;
    const uint m = e / p.dim, c = e - m * p.dim;
    const uint tm = uint(asg[p.n + m]);
    float acc = 0.0;
    uint cnt = 0u;
    for (uint j = 0u; j < p.n; j++) {
        if (asg[j] != int(m) || j == tm) continue;
        acc += hid[(p.skip + j) * p.dim + c];
        cnt++;
    }
    y[e] = hid[(p.skip + tm) * p.dim + c] + acc / float(max(cnt, 1u));
}
#endif
