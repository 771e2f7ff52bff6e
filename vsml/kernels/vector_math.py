"""C++ vector helpers shared by the fused CPU kernels (``vsml.kernels.cpu_tick``, ``vsml.cloning.kernel``).

16-float GCC vector types, unaligned loads and stores, and a branch-free ``exp``
(about 1 ulp) with the sigmoid and ``sigmoid * tanh`` built on it: the LSTM gate
nonlinearities of Appendix C, evaluated for 16 state dimensions at a time. Both
kernels paste :data:`VECTOR_MATH` into their source, so their gates round alike.
"""

VECTOR_MATH = r"""
#include <cstdint>
#include <cstring>

typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));

static inline vf vload(const float *p) { vf v; std::memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float *p, vf v) { std::memcpy(p, &v, sizeof v); }

/* exp(x) = 2^n e^r with |r| <= ln2/2 and a degree-7 Taylor polynomial (about 1 ulp), x clamped to
   [-87, 87]. The integer n + 127 sits in the low mantissa bits of t; shifted, it is 2^n's exponent. */
static inline vf vexp(vf x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 87.0f ? 87.0f : x;
    const float shift = 12582912.0f + 127.0f;  /* 1.5 * 2^23 rounds to an integer; 127: exponent bias */
    vf t = x * 1.44269504088896341f + shift;
    vf n = t - shift;
    vf r = x - n * 0.693145751953125f;         /* ln 2, high part (exact product) */
    r = r - n * 1.428606765330187045e-06f;     /* ln 2, low part */
    vf p = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    vi bits = (vi)t << 23;
    return p * (vf)bits;
}
static inline vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }
/* sigmoid(s) * tanh(x) with one division: (1 - e) / ((1 + exp(-s)) (1 + e)), e = exp(-2|x|). */
static inline vf sig_tanh(vf s, vf x) {
    vf ax = x < 0.0f ? -x : x;
    vf e = vexp(-2.0f * ax);
    vf t = (1.0f - e) / ((1.0f + vexp(-s)) * (1.0f + e));
    return x < 0.0f ? -t : t;
}
"""
