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
