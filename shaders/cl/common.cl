/* Prepended to every OpenCL program: the push-constant structs and the
 * conventions that let one fv_dispatch drive a Vulkan or an OpenCL kernel.
 *
 * Arguments of every kernel, in order: the graph's parameter buffer
 * (`FV_PARAMS`), then two per binding — the buffer and a byte offset
 * (`FV_ARG(type, name)`, turned into a pointer by `FV_PTR`) — then the push
 * struct by value. Spec constant i arrives as the macro FV_SPEC_i; the
 * local size x is FV_SPEC_0. The launch grid is 2-d like Vulkan's: x holds up
 * to 65535 groups, y counts further rows of groups. */
#define FV_PARAMS __global const int *fv_param
#define FV_ARG(type, name) __global type *name##_base, uint name##_off
#define FV_PTR(type, name) ((__global type *)((__global char *)name##_base + name##_off))

inline uint fv_linear_group(void)
{
    return (uint)(get_group_id(1) * get_num_groups(0) + get_group_id(0));
}

inline uint fv_linear_id(void)
{
    return fv_linear_group() * (uint)get_local_size(0) + (uint)get_local_id(0);
}

/* -- vector and work-group helpers (element-wise and row kernels) -- */
/* Horizontal sum / maximum of a float16 or float4, halving the width each step */
inline float fv_hsum16(float16 v)
{
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 c = b.lo + b.hi;
    return c.x + c.y;
}
inline float fv_hmax16(float16 v)
{
    float8 a = fmax(v.lo, v.hi);
    float4 b = fmax(a.lo, a.hi);
    float2 c = fmax(b.lo, b.hi);
    return fmax(c.x, c.y);
}
inline float fv_hsum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }
inline float fv_hmax4(float4 v) { return fmax(fmax(v.x, v.y), fmax(v.z, v.w)); }

/* Sum / maximum of v over a work-group of FV_SPEC_0 work-items (a power of
 * two) by a tree in local memory `red` of FV_SPEC_0 floats; every work-item
 * gets the result. All work-items of the group must call it. */
inline float fv_group_sum(__local float *red, float v)
{
    uint t = (uint)get_local_id(0);
    red[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = (uint)get_local_size(0) / 2u; s > 0u; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* red is reused by the next reduction */
    return r;
}
inline float fv_group_max(__local float *red, float v)
{
    uint t = (uint)get_local_id(0);
    red[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = (uint)get_local_size(0) / 2u; s > 0u; s >>= 1) {
        if (t < s) red[t] = fmax(red[t], red[t + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
