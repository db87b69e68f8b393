/* Rotary position embedding: the OpenCL twin of rope.comp (see there for the
 * layouts and for the sine/cosine's range reduction, repeated here with the
 * same constants). Each work-item owns FV_SPEC_1 consecutive work items of
 * rope.comp's (token, unit) space: many on CPU devices, where a work-item is
 * a work-group of its own, one on GPUs.
 *
 * Arguments: x, inv_freq, positions (i32) or a stand-in, y. */
#pragma OPENCL FP_CONTRACT OFF

inline void rope_sincos(float a, float *s, float *c)
{
    float k = floor(a * 0.636619747f + 0.5f);
    float r = a - k * 1.5625f;
    r = r - k * 0.00817871094f;
    r = r - k * 0.000117301941f;
    r = r - k * 3.13916473e-07f;
    float r2 = r * r;
    float sn = r + r * r2 * (-0.166666672f + r2 * (0.00833333377f + r2 * (-0.000198412701f + r2 * 2.75573188e-06f)));
    float cs = 1.0f + r2 * (-0.5f + r2 * (0.0416666679f + r2 * (-0.00138888892f +
                                                              r2 * (2.48015876e-05f + r2 * -2.755732e-07f))));
    int q = (int)k & 3;
    *s = q == 0 ? sn : q == 1 ? cs : q == 2 ? -sn : -cs;
    *c = q == 0 ? cs : q == 1 ? -sn : q == 2 ? -cs : sn;
}

__kernel void rope_cl(FV_PARAMS, FV_ARG(const float, x), FV_ARG(const float, inv_freq), FV_ARG(const int, positions),
                      FV_ARG(float, y), fv_pc_rope p)
{
    __global const float *X = FV_PTR(const float, x), *F = FV_PTR(const float, inv_freq);
    __global const int *P = FV_PTR(const int, positions);
    __global float *Y = FV_PTR(float, y);
    uint begin = fv_linear_id() * (uint)FV_SPEC_1;
    uint end = min(p.n, begin + (uint)FV_SPEC_1);
    int base = p.pos_slot > 0 ? fv_param[p.pos_slot - 1] : p.pos0;
    for (uint id = begin; id < end; id++) {
        uint token = id / p.units, u = id - token * p.units;
        uint row = token * p.heads * p.dim;
        if (u >= p.pairs) {
            uint e = u + p.pairs;
            for (uint h = 0u; h < p.heads; h++) Y[row + h * p.dim + e] = X[row + h * p.dim + e];
            continue;
        }
        uint b = token / p.ntok, t = token - b * p.ntok;
        int pos = base + (p.has_positions ? P[b * p.pos_stride + t] : (int)t);
        float s, c;
        rope_sincos((float)pos * F[u], &s, &c);
        uint ia = p.interleaved ? 2u * u : u;
        uint ib = p.interleaved ? ia + 1u : u + p.pairs;
        for (uint h = 0u; h < p.heads; h++) {
            uint o = row + h * p.dim;
            float xa = X[o + ia], xb = X[o + ib];
            Y[o + ia] = xa * c - xb * s;
            Y[o + ib] = xb * c + xa * s;
        }
    }
}
