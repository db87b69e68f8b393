/* The two layouts of a row reduction, shared by softmax.comp and norm.comp.
 *
 * ROW_PER_SUBGROUP: each subgroup owns whole rows; its lanes take every
 *   ROW_LANES-th unit of a row (so the lanes of one load read adjacent
 *   memory) and combine their partials with subgroup arithmetic. No shared
 *   memory, no barriers: for CPU-type devices, where a barrier is a
 *   coroutine switch and a subgroup is one SIMD register. A workgroup owns
 *   FV_ROWS_PER_GROUP consecutive rows; its subgroups take them in turn, so
 *   any subgroup size the driver picks covers every row.
 * otherwise: each workgroup owns one row; its FV_LOCAL_X invocations (a power
 *   of two) take every FV_LOCAL_X-th unit and combine their partials by a
 *   tree in shared memory. For GPUs.
 *
 * The including kernel defines row_main(row) and calls fv_for_each_row(n);
 * how a lane reads and writes its part of a row is units.glsl's business. */
#ifdef ROW_PER_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 1) const uint FV_ROWS_PER_GROUP = 8;

#define ROW_LANE gl_SubgroupInvocationID
#define ROW_LANES gl_SubgroupSize

float row_sum(float v) { return subgroupAdd(v); }
float row_max(float v) { return subgroupMax(v); }

#define fv_for_each_row(nrows)                                                                     \
    do {                                                                                           \
        uint first_ = fv_linear_group() * FV_ROWS_PER_GROUP;                                       \
        uint end_ = min(first_ + FV_ROWS_PER_GROUP, (nrows));                                      \
        for (uint r_ = first_ + gl_SubgroupID; r_ < end_; r_ += gl_NumSubgroups) row_main(r_);     \
    } while (false)

#else

#define ROW_LANE gl_LocalInvocationID.x
#define ROW_LANES FV_LOCAL_X

shared float row_red[FV_LOCAL_X];

float row_sum(float v)
{
    uint t = gl_LocalInvocationID.x;
    row_red[t] = v;
    barrier();
    for (uint s = FV_LOCAL_X / 2; s > 0; s >>= 1) {
        if (t < s) row_red[t] += row_red[t + s];
        barrier();
    }
    float r = row_red[0];
    barrier(); /* row_red is reused by the next reduction */
    return r;
}

float row_max(float v)
{
    uint t = gl_LocalInvocationID.x;
    row_red[t] = v;
    barrier();
    for (uint s = FV_LOCAL_X / 2; s > 0; s >>= 1) {
        if (t < s) row_red[t] = max(row_red[t], row_red[t + s]);
        barrier();
    }
    float r = row_red[0];
    barrier();
    return r;
}

/* the whole workgroup leaves together, so no barrier is skipped by a part */
#define fv_for_each_row(nrows)                                                                     \
    do {                                                                                           \
        uint r_ = fv_linear_group();                                                               \
        if (r_ < (nrows)) row_main(r_);                                                            \
    } while (false)

#endif
