/* Included by every kernel: the graph's parameter buffer at binding 0, the
 * push-constant structs, the local size (specialisation constant 0), and the
 * linear invocation index of a 2-d grid (x holds up to 65535 groups; y
 * counts further rows of groups). */
#include "fv_params.h"

layout(local_size_x_id = 0) in;
/* the same constant under a name usable in arithmetic: llvmpipe (Mesa 22.3)
 * miscompiles gl_WorkGroupSize.x multiplied with gl_WorkGroupID */
layout(constant_id = 0) const uint FV_LOCAL_X = 64;

layout(std430, set = 0, binding = 0) readonly buffer FvParams { int fv_param[FV_PARAM_SLOTS]; };

uint fv_linear_group()
{
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

uint fv_linear_id()
{
    return fv_linear_group() * FV_LOCAL_X + gl_LocalInvocationID.x;
}
