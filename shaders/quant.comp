#version 450
/* Kernels that read GGUF quantised weights (llama.cpp's block layouts, 32
 * elements per block, blocks packed back to back with no padding):
 *   q8_0 (Q8): f16 scale d, then 32 int8 q;                 x = d * q      (34 bytes)
 *   q4_0 (Q4): f16 scale d, then 16 bytes; byte j holds element j in its
 *              low nibble and element j + 16 in its high one;  x = d * (nibble - 8) (18 bytes)
 * Blocks are only 2-byte aligned, so every kernel reads whole 32-bit words
 * (or 16-byte texels) and moves the block's bytes into place with shifts:
 * a run of blocks starting at byte a is fetched from the word (texel) that
 * holds a, then shifted down by a's offset inside it, after which every
 * byte of the run sits at a position known when the shader is compiled.
 *
 * Variants (-D): MATVEC_TEXEL and MATVEC_SG compute Y = X·Wᵀ (+ bias) for
 * a chunk of outputs that fv_pc_matmul_q describes, MV rows of X at a time
 * (specialisation constant 1, at most 8; more rows of X are more
 * workgroups along y, each re-reading W: the prefill path); GATHER copies
 * table rows to f32 (fv_pc_gather). Accumulation is f32. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

#if defined(Q8)
#define BS 34u /* bytes per block */
#define BW 10u /* words that hold a block starting 0 or 2 bytes into its first word, + 1 */
#else
#define BS 18u
#define BW 6u
#endif

/* ---- decoding one block --------------------------------------------------
 * bw holds the block from byte h (0 or 2) of bw[0] on; h and every index
 * below are constants once the callers' loops are unrolled, so each weight
 * costs a shift or two and a conversion. */
uint byte_shift(uint B) { return (B & 3u) * 8u; }

float block_scale(const uint bw[BW], uint h) { return unpackHalf2x16(bw[h >> 2] >> byte_shift(h)).x; }

/* the block's 32 weights before scaling, in 8 vec4s of consecutive elements */
void block_values(const uint bw[BW], uint h, out vec4 q[8])
{
#if defined(Q8)
    [[unroll]] for (uint c = 0; c < 8u; c++) {
        ivec4 v;
        [[unroll]] for (uint i = 0; i < 4u; i++) {
            const uint B = h + 2u + 4u * c + i;
            v[i] = int(bw[B >> 2] << (24u - byte_shift(B))) >> 24; /* sign-extend the byte */
        }
        q[c] = vec4(v);
    }
#else
    [[unroll]] for (uint c = 0; c < 4u; c++) {
        ivec4 lo, hi;
        [[unroll]] for (uint i = 0; i < 4u; i++) {
            const uint B = h + 2u + 4u * c + i, v = bw[B >> 2] >> byte_shift(B);
            lo[i] = int(v & 15u);
            hi[i] = int((v >> 4) & 15u);
        }
        q[c] = vec4(lo - 8);
        q[c + 4u] = vec4(hi - 8);
    }
#endif
}

/* w[0..n) shifted down by o bytes (o even, < 16): r[i] = the 32 bits at byte
 * o + 4i. Two selects pick the word, one funnel shift the half word; when
 * o % 4 == 0, (w << 1) << 31 is 0 and no shift by 32 is needed. */
#define SHIFT_WORDS(r, w, n, o)                                                            \
    {                                                                                      \
        const uint wo_ = (o) >> 2, sh_ = ((o) & 2u) * 8u;                                  \
        uint a_[n + 3u];                                                                   \
        [[unroll]] for (uint i = 0; i < n + 3u; i++) a_[i] = (wo_ & 1u) != 0u ? w[i + 1u] : w[i]; \
        uint b_[n + 1u];                                                                   \
        [[unroll]] for (uint i = 0; i < n + 1u; i++) b_[i] = (wo_ & 2u) != 0u ? a_[i + 2u] : a_[i]; \
        [[unroll]] for (uint i = 0; i < n; i++) r[i] = (b_[i] >> sh_) | ((b_[i + 1u] << 1) << (31u - sh_)); \
    }

#if defined(MATVEC_TEXEL)
/* ------------------------------------------------------------------------
 * For CPU-type devices (lavapipe): W through a raw R32G32B32A32_UINT
 * texel view (a lane-varying storage-buffer load is a per-lane loop with
 * bounds checks in llvmpipe), X through an f32x4 view. An invocation owns
 * RN consecutive W rows (specialisation constant 2) and walks them in steps
 * of G blocks, fetching the texels that cover a step at its offset (at most
 * 6 for two q8_0 blocks, 4 for two q4_0 blocks) and shifting the words once
 * per step. G = 1, 2 and 4 measured alike and 8 slower (49152 x 576 q8_0
 * on a busy 2-core host: 1.23, 1.18, 1.11, 0.68 GB/s; 8 blocks fetch 15
 * bytes per fetch against 11, but keep 68 words live per row and spill):
 * decoding, not fetching, is the cost here. Each X texel is
 * fetched once per subgroup of 8 lanes (XS = 8: lane l fetches texel l of
 * the block's 8 and shuffles pass them round) and serves RN rows. No
 * barriers, no reductions. Rows past N re-read the last row and store
 * nothing; texel indices are clamped to the binding (p.w_last), which the
 * host rounds up to whole texels. */
#extension GL_KHR_shader_subgroup_shuffle : require
layout(push_constant) uniform Push { fv_pc_matmul_q p; };
layout(constant_id = 1) const uint MV = 1;
layout(constant_id = 2) const uint RN = 2;
layout(constant_id = 3) const uint XS = 0;
#define G 2u                       /* blocks per step */
#define SW (G * BS / 4u)           /* words of a step: 17 or 9 */
#define NT ((G * BS + 29u) / 16u)  /* texels covering a step that starts at byte 0..14 of a texel */

layout(binding = 1) uniform samplerBuffer X;
layout(binding = 2) uniform usamplerBuffer W;
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

/* the step's words from byte a of W on; `need` texels are fetched */
void load_step(uint a, uint need, out uint s[SW])
{
    uint w[4u * NT + 4u];
    const int t0 = int(a >> 4);
    [[unroll]] for (uint i = 0; i < NT; i++) {
        uvec4 t = uvec4(0);
        if (i < need) t = texelFetch(W, min(t0 + int(i), int(p.w_last)));
        [[unroll]] for (uint c = 0; c < 4u; c++) w[4u * i + c] = t[c];
    }
    [[unroll]] for (uint c = 0; c < 4u; c++) w[4u * NT + c] = 0u;
    SHIFT_WORDS(s, w, SW, a & 15u)
}

void main()
{
    const uint id = gl_WorkGroupID.x * FV_LOCAL_X + gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.y * MV; /* this workgroup's first X row */
    const uint nb = p.K / 32u, K4 = p.K / 4u;
    uint wbyte[RN];
    [[unroll]] for (uint j = 0; j < RN; j++) wbyte[j] = p.w_off + min(id * RN + j, p.N - 1u) * p.row_bytes;
    int xrow[MV];
    [[unroll]] for (uint m = 0; m < MV; m++) xrow[m] = int(p.x_off + min(m0 + m, p.M - 1u) * K4);
    float acc[MV][RN];
    [[unroll]] for (uint m = 0; m < MV; m++)
        [[unroll]] for (uint j = 0; j < RN; j++) acc[m][j] = 0.0;

    for (uint b0 = 0; b0 < nb; b0 += G) {
        const uint cnt = min(G, nb - b0);               /* blocks in this step (uniform) */
        const uint need = (cnt * BS + 29u) / 16u;       /* texels they can span */
        uint s[RN][SW];
        [[unroll]] for (uint j = 0; j < RN; j++) load_step(wbyte[j] + b0 * BS, need, s[j]);
        [[unroll]] for (uint b = 0; b < G; b++) {
            if (b >= cnt) break;
            float d[RN];
            vec4 q[RN][8];
            [[unroll]] for (uint j = 0; j < RN; j++) {
                uint bw[BW];
                [[unroll]] for (uint i = 0; i < BW; i++) bw[i] = (b * BS) / 4u + i < SW ? s[j][(b * BS) / 4u + i] : 0u;
                d[j] = block_scale(bw, (b * BS) & 2u);
                block_values(bw, (b * BS) & 2u, q[j]);
            }
            [[unroll]] for (uint m = 0; m < MV; m++) {
                const int xt = xrow[m] + int((b0 + b) * 8u); /* the block's 8 X texels */
                const vec4 xl = XS == 8u ? texelFetch(X, xt + int(gl_SubgroupInvocationID)) : vec4(0);
                float part[RN];
                [[unroll]] for (uint j = 0; j < RN; j++) part[j] = 0.0;
                [[unroll]] for (uint c = 0; c < 8u; c++) {
                    const vec4 xv = XS == 8u ? subgroupShuffle(xl, c) : texelFetch(X, xt + int(c));
                    [[unroll]] for (uint j = 0; j < RN; j++) part[j] += dot(xv, q[j][c]);
                }
                [[unroll]] for (uint j = 0; j < RN; j++) acc[m][j] += d[j] * part[j];
            }
        }
    }
    [[unroll]] for (uint j = 0; j < RN; j++) {
        const uint n = id * RN + j;
        if (n < p.N)
            [[unroll]] for (uint m = 0; m < MV; m++)
                if (m0 + m < p.M)
                    y[p.y_off + (m0 + m) * p.ldy + n] = p.has_bias != 0u ? acc[m][j] + bias[p.n0 + n] : acc[m][j];
    }
}

#elif defined(MATVEC_SG)
/* ------------------------------------------------------------------------
 * For GPUs: one W row per subgroup, its blocks dealt round the lanes (lane
 * l takes blocks l, l + S, ...: neighbouring lanes read neighbouring
 * blocks), each block read as BW - 1 words of a storage buffer, then
 * subgroupAdd per X row. A workgroup covers ROWS_PER_GROUP rows
 * (specialisation constant 2), which its subgroups take in turn. */
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(push_constant) uniform Push { fv_pc_matmul_q p; };
layout(constant_id = 1) const uint MV = 1;
layout(constant_id = 2) const uint ROWS_PER_GROUP = 4;

layout(std430, binding = 1) readonly buffer Xb { vec4 x[]; };
layout(std430, binding = 2) readonly buffer Wb { uint w[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

void main()
{
    const uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize;
    const uint nb = p.K / 32u, K4 = p.K / 4u;
    const uint m0 = gl_WorkGroupID.y * MV;
    for (uint r = gl_SubgroupID; r < ROWS_PER_GROUP; r += gl_NumSubgroups) {
        const uint n = gl_WorkGroupID.x * ROWS_PER_GROUP + r;
        if (n >= p.N) break; /* uniform across the subgroup */
        float acc[MV];
        [[unroll]] for (uint m = 0; m < MV; m++) acc[m] = 0.0;
        for (uint kb = lane; kb < nb; kb += lanes) {
            const uint a = p.w_off + n * p.row_bytes + kb * BS;
            /* the block's words, shifted down by 2 bytes when it starts mid-word */
            uint raw[BW + 3u], bw[BW];
            [[unroll]] for (uint i = 0; i < BW + 3u; i++) raw[i] = i < BW - 1u ? w[(a >> 2) + i] : 0u;
            SHIFT_WORDS(bw, raw, BW - 1u, a & 2u)
            bw[BW - 1u] = 0u;
            const float d = block_scale(bw, 0u);
            vec4 q[8];
            block_values(bw, 0u, q);
            [[unroll]] for (uint m = 0; m < MV; m++) {
                const uint xb = p.x_off / 4u + min(m0 + m, p.M - 1u) * K4 + kb * 8u;
                float part = 0.0;
                [[unroll]] for (uint c = 0; c < 8u; c++) part += dot(x[xb + c], q[c]);
                acc[m] += d * part;
            }
        }
        [[unroll]] for (uint m = 0; m < MV; m++) {
            const float s = subgroupAdd(acc[m]);
            if (lane == 0u && m0 + m < p.M)
                y[p.y_off + (m0 + m) * p.ldy + n] = p.has_bias != 0u ? s + bias[p.n0 + n] : s;
        }
    }
}

#elif defined(GATHER)
/* ------------------------------------------------------------------------
 * y[r, :] = table[index[row0 + r], :] as f32, and zeros for an index
 * outside 0..table_rows-1. One invocation per block of y (32 values): the
 * block's texels (3 for q8_0, 2 for q4_0) from a raw u32x4 view of the
 * table, clamped to the view. Bindings: 1 index, 2 table, 3 y. */
layout(push_constant) uniform Push { fv_pc_gather p; };
layout(std430, binding = 1) readonly buffer I { int index[]; };
layout(binding = 2) uniform usamplerBuffer Tb;
layout(std430, binding = 3) writeonly buffer Y { vec4 y[]; };
#define NT ((BS + 29u) / 16u)

void main()
{
    const uint nb = p.cols / 32u, i = fv_linear_id();
    if (i >= p.rows * nb) return;
    const uint r = i / nb, kb = i - r * nb;
    const int row = index[p.row0 + r];
    if (row < 0 || uint(row) >= p.table_rows) {
        [[unroll]] for (uint c = 0; c < 8u; c++) y[i * 8u + c] = vec4(0);
        return;
    }
    /* byte offsets fit 32 bits: the table fits one texel view */
    const uint a = (uint(row) * nb + kb) * BS;
    const int last = textureSize(Tb) - 1;
    uint w[4u * NT + 4u];
    [[unroll]] for (uint t = 0; t < NT; t++) {
        const uvec4 v = texelFetch(Tb, min(int(a >> 4) + int(t), last));
        [[unroll]] for (uint c = 0; c < 4u; c++) w[4u * t + c] = v[c];
    }
    [[unroll]] for (uint c = 0; c < 4u; c++) w[4u * NT + c] = 0u;
    uint bw[BW];
    SHIFT_WORDS(bw, w, BW, a & 15u)
    const float d = block_scale(bw, 0u);
    vec4 q[8];
    block_values(bw, 0u, q);
    [[unroll]] for (uint c = 0; c < 8u; c++) y[i * 8u + c] = d * q[c];
}
#endif
