"""C++ vector helpers shared by the fused CPU kernels (``vsml.kernels.cpu_tick``, ``vsml.cloning.kernel``).

16-float GCC vector types, unaligned loads and stores, and a branch-free ``exp``
(about 1 ulp) with the sigmoid and ``sigmoid * tanh`` built on it: the LSTM gate
nonlinearities of Appendix C, evaluated for 16 state dimensions at a time. Both
kernels paste :data:`VECTOR_MATH` into their source, so their gates round alike.
:data:`PROJECT` (an affine map of one small vector, optionally LayerNorm'ed) and
:data:`THREADS` (run a worker on several threads) are pasted after it by the
dense and the convolutional tick kernels.
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

PROJECT = r"""
#include <cmath>

/* y[j] = b[j] + sum_k x[k] w[k, j] for j < m, optionally LayerNorm'ed (biased variance, as F.layer_norm). */
static inline void project(const float *x, int64_t n, const float *w, const float *b, int64_t m, float *y,
                           const float *ln_scale, const float *ln_bias, float eps) {
    for (int64_t j = 0; j < m; j++) y[j] = b[j];
    for (int64_t k = 0; k < n; k++)
        for (int64_t j = 0; j < m; j++) y[j] += x[k] * w[k * m + j];
    if (!ln_scale) return;
    float mean = 0.0f, var = 0.0f;
    for (int64_t j = 0; j < m; j++) mean += y[j];
    mean /= (float)m;
    for (int64_t j = 0; j < m; j++) var += (y[j] - mean) * (y[j] - mean);
    float inv = 1.0f / std::sqrt(var / (float)m + eps);
    for (int64_t j = 0; j < m; j++) y[j] = (y[j] - mean) * inv * ln_scale[j] + ln_bias[j];
}
"""

THREADS = r"""
#include <pthread.h>

/* worker(arg) on min(threads, items) threads, this one included, then joined; the worker claims its
   work items from a shared counter, so a thread the OS delays holds back only its own item. */
static void run_threads(void *(*worker)(void *), void *arg, int64_t threads, int64_t items) {
    const int64_t want = threads < items ? threads : items;
    pthread_t tid[63];
    int started = 0;
    for (int64_t t = 1; t < want && started < 63; t++)
        if (pthread_create(&tid[started], nullptr, worker, arg) == 0) started++;
    worker(arg);
    for (int t = 0; t < started; t++) pthread_join(tid[t], nullptr);
}
"""
