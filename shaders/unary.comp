#version 450
/* Element-wise y = f(x) for scale, gelu (erf form), gelu (tanh form),
 * quick_gelu and silu, chosen by specialisation constant OP. One
 * invocation per unit of units.glsl (1, 4 or 8 floats; p.n counts units);
 * the activations are written for float and vec4 (T), a WIDE unit applies
 * them to its two halves.
 *
 * Bindings: 1 x (uniform texel buffer, f32 view), 2 y (storage). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "units.glsl"

layout(push_constant) uniform Push { fv_pc_unary p; };
layout(constant_id = 1) const uint OP = FV_UNARY_SCALE;
layout(binding = 1) uniform samplerBuffer X;
layout(std430, binding = 2) writeonly buffer Y { UNIT_STORE_T y[]; };

#if defined(VEC4) || defined(WIDE)
#define T vec4
#define LESS(a, b) lessThan(a, b)
#else
#define T float
#define LESS(a, b) ((a) < (b))
#endif

/* erf(x), |error| < 2e-7 over all x. |x| < 0.5: its Maclaurin series to
 * x^11 (relative error < 3e-8, and no cancellation near 0). Elsewhere the
 * rational-exponential form 1 - t·P(t)·exp(-x²), t = 1/(1 + 0.3275911|x|)
 * (Abramowitz & Stegun 7.1.26, absolute error ≤ 1.5e-7); exp(-x²) underflows
 * to 0 for large |x|, giving exactly ±1. */
T erf_approx(T x)
{
    T x2 = x * x;
    /* 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1)), n = 0..5 */
    T series = T(-0.0008548327023450852);
    series = series * x2 + 0.005223977625442188;
    series = series * x2 - 0.026866170645131252;
    series = series * x2 + 0.11283791670955126;
    series = series * x2 - 0.37612638903183754;
    series = (series * x2 + 1.1283791670955126) * x;
    T a = abs(x);
    T t = 1.0 / (1.0 + 0.3275911 * a);
    T poly = T(1.061405429);
    poly = poly * t - 1.453152027;
    poly = poly * t + 1.421413741;
    poly = poly * t - 0.284496736;
    poly = (poly * t + 0.254829592) * t;
    T tail = sign(x) * (1.0 - poly * exp(-x2));
    return mix(tail, series, LESS(a, T(0.5)));
}

T sigmoid(T x) { return 1.0 / (1.0 + exp(-x)); }

T activation(T x)
{
    switch (OP) {
    case FV_UNARY_SCALE:
        return x * p.alpha;
    case FV_UNARY_GELU:
        return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
    case FV_UNARY_GELU_TANH: {
        /* tanh(u) = 1 - 2 / (exp(2u) + 1), u clamped: some drivers' tanh
         * returns NaN for large |u|, and tanh(±10) is ±1 in f32 already */
        T u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -10.0, 10.0);
        return 0.5 * x * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
    }
    case FV_UNARY_QUICK_GELU:
        return x * sigmoid(1.702 * x);
    default: /* FV_UNARY_SILU */
        return x * sigmoid(x);
    }
}

void main()
{
    uint i = fv_linear_id();
    if (i >= p.n) return;
    UNIT x = unit_load(X, i);
#if defined(WIDE)
    unit_store(y, i, UNIT(activation(x[0]), activation(x[1])));
#else
    unit_store(y, i, activation(x));
#endif
}
