"""C++ source of the fused cloned-layer passes (``vsml.cloning.kernel`` builds and calls it).

Paper: Section 4.1 (Figure 5: meta-testing a cloned learning algorithm),
Appendix B.1 (Figure 11, the 784-32-10 network) and C.1 ("Batching", "we
only retain two state dimensions"). The passes rest on decision D3 of
:mod:`vsml.cloning`: between steps every sub-LSTM holds ``h = 0`` and
``c = (w/4, b/4, 0, ...)``, and only slot 0 of each message is non-zero (D2).
So, for ``num_ticks = 2``:

* forward (``e = 0``): tick 1's gates depend on ``x_pa`` alone, so everything
  but cell dims 0 and 1 is computed once per ``(p, a)``, and so is tick 2's
  gate input apart from a rank-2 term in ``h_0, h_1`` of ``(a, b)``. Per
  sub-LSTM ``(p, a, b)`` the kernel then runs tick 2 in vector registers and
  adds ``h . v_fwd`` to ``y_pb`` (Appendix C averages over ``a``): no
  ``[P, A, B, N]`` tensor is ever written.
* backward: tick 1's gates are ``drive_a + e_pb r_e``; tick 2 either needs
  only the six gate columns (i, g, f of dims 0, 1) that make the kept
  ``c[0], c[1]`` (first layer: no error to send), or the full ``h1 @ W_h``
  and ``e'`` (deeper layers). Kept dims are summed over the batch here; the
  caller averages (C.1 "Batching").

``exp`` is the branch-free polynomial of :mod:`vsml.kernels.vector_math`
(about 1 ulp, shared with the fused tick), so results equal the PyTorch passes within float32 rounding.
``NS`` (the state size ``N``, a multiple of 16) is fixed at compile time.
One thread; the work is ``P * A * B * N`` gate evaluations per pass.
"""

from ..kernels.vector_math import VECTOR_MATH

SOURCE = r"""
#include <cstdint>
#include <cstring>
#include <cmath>
#include <cstdlib>

#define VW 16
#define NV (NS / VW)
#define G4 (4 * NS)

""" + VECTOR_MATH + r"""
struct ClonedArgs {
    const float *x, *e, *w, *b, *r_x, *r_e, *bias, *w_h, *w_cols, *v;
    float *out, *w_sum, *b_sum;
    int64_t P, A, B, need_error, has_clip;
    float v0, scale, clip;
};

static inline float hsum(vf v) { float s = 0.0f; for (int k = 0; k < VW; k++) s += v[k]; return s; }
static inline float ssig(float x) { return 1.0f / (1.0f + std::exp(-x)); }

static inline vf vclip(const ClonedArgs *g, vf c) {
    if (!g->has_clip) return c;
    c = c < -g->clip ? -g->clip : c;
    return c > g->clip ? g->clip : c;
}
static inline float sclip(const ClonedArgs *g, float c) {
    if (!g->has_clip) return c;
    return c < -g->clip ? -g->clip : (c > g->clip ? g->clip : c);
}

/* The message part of every gate for input x: drive = x r_x + bias. */
static inline void drive_of(const ClonedArgs *g, float xv, float *drive) {
    for (int k = 0; k < G4; k += VW) vstore(drive + k, xv * vload(g->r_x + k) + vload(g->bias + k));
}

/* out[p, b] = mean_a h2_pab . v + v0 (forward message slot 0, error input zero). */
extern "C" int vsml_cloned_forward(const ClonedArgs *g) {
    const int64_t P = g->P, A = g->A, B = g->B;
    float *ypart = (float *)std::calloc(B, sizeof(float));
    if (!ypart) return 1;
    alignas(64) float drive[G4], u[G4], sf[NS], wr[NS], c1[NS], hr[NS];
    const float *W0 = g->w_h, *W1 = g->w_h + G4;
    for (int64_t p = 0; p < P; p++) {
        std::memset(ypart, 0, B * sizeof(float));
        for (int64_t a = 0; a < A; a++) {
            drive_of(g, g->x[p * A + a], drive);
            for (int j = 0; j < NV; j++) {  /* tick 1, everything that depends on (p, a) only */
                const int o = j * VW;
                vf w1 = sig_tanh(vload(drive + o), vload(drive + NS + o));
                vstore(wr + o, w1);
                vstore(sf + o, vsigmoid(vload(drive + 2 * NS + o)));
                vf c = vclip(g, w1);
                vstore(c1 + o, c);
                vstore(hr + o, sig_tanh(vload(drive + 3 * NS + o), c));
            }
            std::memcpy(u, drive, sizeof u);  /* tick 2's gate input without dims 0, 1 of h */
            for (int k = 2; k < NS; k++) {
                const float hk = hr[k];
                const float *row = g->w_h + (int64_t)k * G4;
                for (int m = 0; m < G4; m += VW) vstore(u + m, vload(u + m) + hk * vload(row + m));
            }
            for (int64_t b = 0; b < B; b++) {
                const float cw = sclip(g, sf[0] * (g->w[a * B + b] / g->scale) + wr[0]);
                const float cb = sclip(g, sf[1] * (g->b[a * B + b] / g->scale) + wr[1]);
                const float hw = ssig(drive[3 * NS]) * std::tanh(cw), hb = ssig(drive[3 * NS + 1]) * std::tanh(cb);
                c1[0] = cw;
                c1[1] = cb;
                vf acc = {};
                for (int j = 0; j < NV; j++) {
                    const int o = j * VW;
                    vf pi = vload(u + o) + hw * vload(W0 + o) + hb * vload(W1 + o);
                    vf pg = vload(u + NS + o) + hw * vload(W0 + NS + o) + hb * vload(W1 + NS + o);
                    vf pf = vload(u + 2 * NS + o) + hw * vload(W0 + 2 * NS + o) + hb * vload(W1 + 2 * NS + o);
                    vf po = vload(u + 3 * NS + o) + hw * vload(W0 + 3 * NS + o) + hb * vload(W1 + 3 * NS + o);
                    vf c = vclip(g, vsigmoid(pf) * vload(c1 + o) + sig_tanh(pi, pg));
                    acc += sig_tanh(po, c) * vload(g->v + o);
                }
                ypart[b] += hsum(acc);
            }
        }
        for (int64_t b = 0; b < B; b++) g->out[p * B + b] = ypart[b] / (float)A + g->v0;
    }
    std::free(ypart);
    return 0;
}

/* w_sum, b_sum [A, B] = scale * sum_p kept c[0], c[1]; with need_error out[p, a] = mean_b h2_pab . v + v0. */
extern "C" int vsml_cloned_backward(const ClonedArgs *g) {
    const int64_t P = g->P, A = g->A, B = g->B;
    alignas(64) float drive[G4], pre[G4], c1[NS], po1[NS], h1[NS];
    static const int kept_cols[6] = {0, 1, NS, NS + 1, 2 * NS, 2 * NS + 1};  /* i, g, f of dims 0, 1 */
    std::memset(g->w_sum, 0, A * B * sizeof(float));
    std::memset(g->b_sum, 0, A * B * sizeof(float));
    for (int64_t p = 0; p < P; p++) {
        for (int64_t a = 0; a < A; a++) {
            drive_of(g, g->x[p * A + a], drive);
            float eacc = 0.0f;
            for (int64_t b = 0; b < B; b++) {
                const float ev = g->e[p * B + b];
                for (int j = 0; j < NV; j++) {  /* tick 1 from h = 0, c = (w/4, b/4, 0, ...) */
                    const int o = j * VW;
                    vstore(c1 + o, sig_tanh(vload(drive + o) + ev * vload(g->r_e + o),
                                            vload(drive + NS + o) + ev * vload(g->r_e + NS + o)));
                    vstore(po1 + o, vload(drive + 3 * NS + o) + ev * vload(g->r_e + 3 * NS + o));
                }
                c1[0] += ssig(drive[2 * NS] + ev * g->r_e[2 * NS]) * (g->w[a * B + b] / g->scale);
                c1[1] += ssig(drive[2 * NS + 1] + ev * g->r_e[2 * NS + 1]) * (g->b[a * B + b] / g->scale);
                for (int j = 0; j < NV; j++) {
                    const int o = j * VW;
                    vf c = vclip(g, vload(c1 + o));
                    vstore(c1 + o, c);
                    vstore(h1 + o, sig_tanh(vload(po1 + o), c));
                }
                float k0, k1;
                if (!g->need_error) {  /* tick 2: only the six gate columns of the kept dims */
                    float q[6];
                    for (int d = 0; d < 6; d++) {
                        vf acc = {};
                        for (int j = 0; j < NV; j++) acc += vload(h1 + j * VW) * vload(g->w_cols + d * NS + j * VW);
                        q[d] = drive[kept_cols[d]] + ev * g->r_e[kept_cols[d]] + hsum(acc);
                    }
                    k0 = sclip(g, ssig(q[4]) * c1[0] + ssig(q[0]) * std::tanh(q[2]));
                    k1 = sclip(g, ssig(q[5]) * c1[1] + ssig(q[1]) * std::tanh(q[3]));
                } else {  /* tick 2 in full, and the error message */
                    for (int m = 0; m < G4; m += VW) vstore(pre + m, vload(drive + m) + ev * vload(g->r_e + m));
                    for (int k = 0; k < NS; k++) {
                        const float hk = h1[k];
                        const float *row = g->w_h + (int64_t)k * G4;
                        for (int m = 0; m < G4; m += VW) vstore(pre + m, vload(pre + m) + hk * vload(row + m));
                    }
                    vf acc = {};
                    for (int j = 0; j < NV; j++) {
                        const int o = j * VW;
                        vf c = vclip(g, vsigmoid(vload(pre + 2 * NS + o)) * vload(c1 + o)
                                        + sig_tanh(vload(pre + o), vload(pre + NS + o)));
                        if (j == 0) { k0 = c[0]; k1 = c[1]; }
                        acc += sig_tanh(vload(pre + 3 * NS + o), c) * vload(g->v + o);
                    }
                    eacc += hsum(acc);
                }
                g->w_sum[a * B + b] += k0;
                g->b_sum[a * B + b] += k1;
            }
            if (g->need_error) g->out[p * A + a] = eacc / (float)B + g->v0;
        }
    }
    for (int64_t k = 0; k < A * B; k++) { g->w_sum[k] *= g->scale; g->b_sum[k] *= g->scale; }
    return 0;
}
"""
