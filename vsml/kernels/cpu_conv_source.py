"""C++ source of the fused CPU tick of a convolutional VSML layer (``vsml.kernels.cpu_conv`` builds and calls it).

Appendix B.2 of the paper, in the layout of :mod:`vsml.conv`: kernel weight
``(c_in, k, c_out)`` is one sub-LSTM whose state all output positions share;
at every micro-tick each of its *instances* (output position ``l`` with input
position ``i`` inside the input) updates that shared state with its own
messages, and the new shared state is the mean over the instances.

A work item is (member ``p``, input channel ``c_in``, kernel element ``k``),
all ``c_out``. Per micro-tick ``h W_h`` is computed once per kernel weight
(the shared ``h``), and only the message part of the gates (``x_in[i] +
x_out[l]``, projected by the caller) differs per instance. After the last
tick the instances' ``h`` go into the message sums as in :mod:`vsml.conv`:
the forward partial sum per ``(l, c_out)`` of this item (finished over the
items in a fixed order once the workers are done) and the backward column
``(l, c_in, k)`` summed over ``c_out``; with LayerNorm each instance's
message is projected and normalised first, as the dense kernel does.
"""

from .vector_math import PROJECT, THREADS, VECTOR_MATH

SOURCE = r"""
#include <cstdint>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <pthread.h>

#define VW 16                      /* floats per vector */
#define NV (NS / VW)               /* vectors per gate */
#define G (4 * NS)                 /* gate pre-activations per sub-LSTM */
#define MAXM 64

""" + VECTOR_MATH + PROJECT + THREADS + r"""
struct ConvArgs {
    const float *h, *c, *x_in, *x_out, *w_h, *fwd_w, *fwd_b, *bwd_w, *bwd_b;
    const float *fwd_ln_scale, *fwd_ln_bias, *bwd_ln_scale, *bwd_ln_bias;
    const int64_t *inst_l, *inst_i, *inst_count;  /* per kernel element: its instances (l, i), MAXI slots */
    float *h_out, *c_out, *fwd_part, *fwd_sum, *bwd_cols;
    int64_t P, CI, K, CO, HW, L, MAXI, FW, BW, per_member, ticks, layer_norm, has_clip, threads;
    float clip, ln_eps;
};

/* One work item (member p, input channel ci, kernel element k): every c_out, all micro-ticks. */
static void run_item(const ConvArgs &g, int64_t p, int64_t ci, int64_t k) {
    const int64_t m = g.per_member ? p : 0, K = g.K, CO = g.CO, L = g.L, n_inst = g.inst_count[k];
    const int64_t fwid = g.layer_norm ? g.FW : NS, bwid = g.layer_norm ? g.BW : NS;
    const float *wh = g.w_h + m * NS * G;
    const float *fw = g.fwd_w + m * NS * g.FW, *fb = g.fwd_b + m * g.FW;
    const float *bw = g.bwd_w + m * NS * g.BW, *bb = g.bwd_b + m * g.BW;
    const float *fls = nullptr, *flb = nullptr, *bls = nullptr, *blb = nullptr;
    if (g.layer_norm) {
        fls = g.fwd_ln_scale + m * g.FW; flb = g.fwd_ln_bias + m * g.FW;
        bls = g.bwd_ln_scale + m * g.BW; blb = g.bwd_ln_bias + m * g.BW;
    }
    const int64_t *ls = g.inst_l + k * g.MAXI, *is = g.inst_i + k * g.MAXI;
    float *fpart = g.fwd_part + ((p * g.CI + ci) * K + k) * L * CO * fwid;
    std::memset(fpart, 0, sizeof(float) * L * CO * fwid);
    for (int64_t l = 0; l < L; l++)
        std::memset(g.bwd_cols + (((p * L + l) * g.CI + ci) * K + k) * bwid, 0, sizeof(float) * bwid);
    const float inv = 1.0f / (float)n_inst;
    for (int64_t co = 0; co < CO; co++) {
        const int64_t off = (((p * g.CI + ci) * K + k) * CO + co) * NS;
        vf hv[NV], cv[NV];
        for (int v = 0; v < NV; v++) { hv[v] = vload(g.h + off + v * VW); cv[v] = vload(g.c + off + v * VW); }
        for (int64_t t = 0; t < g.ticks; t++) {
            const bool last = t + 1 == g.ticks;
            vf hw[4 * NV], hs[NV], cs[NV];
            for (int v = 0; v < 4 * NV; v++) hw[v] = vf{} ;
            for (int kk = 0; kk < NS; kk++)
                for (int v = 0; v < 4 * NV; v++) hw[v] += hv[kk / VW][kk % VW] * vload(wh + kk * G + v * VW);
            for (int v = 0; v < NV; v++) { hs[v] = vf{}; cs[v] = vf{}; }
            for (int64_t j = 0; j < n_inst; j++) {
                const int64_t l = ls[j];
                const float *xi = g.x_in + ((p * g.CI + ci) * g.HW + is[j]) * G;
                const float *xo = g.x_out + ((p * CO + co) * L + l) * G;
                vf hn[NV];
                for (int v = 0; v < NV; v++) {  /* gates i, g, f, o */
                    vf pi = hw[v] + vload(xi + v * VW) + vload(xo + v * VW);
                    vf pg = hw[NV + v] + vload(xi + (NV + v) * VW) + vload(xo + (NV + v) * VW);
                    vf pf = hw[2 * NV + v] + vload(xi + (2 * NV + v) * VW) + vload(xo + (2 * NV + v) * VW);
                    vf po = hw[3 * NV + v] + vload(xi + (3 * NV + v) * VW) + vload(xo + (3 * NV + v) * VW);
                    vf cn = vsigmoid(pf) * cv[v] + sig_tanh(pi, pg);
                    if (g.has_clip) { cn = cn < -g.clip ? -g.clip : cn; cn = cn > g.clip ? g.clip : cn; }
                    hn[v] = sig_tanh(po, cn);
                    hs[v] += hn[v];
                    cs[v] += cn;
                }
                if (!last) continue;
                float *fdst = fpart + (l * CO + co) * fwid;
                float *bdst = g.bwd_cols + (((p * L + l) * g.CI + ci) * K + k) * bwid;
                if (!g.layer_norm) {
                    for (int v = 0; v < NV; v++) {
                        vstore(fdst + v * VW, hn[v]);
                        vstore(bdst + v * VW, vload(bdst + v * VW) + hn[v]);
                    }
                } else {
                    float hrow[NS], y[MAXM];
                    for (int v = 0; v < NV; v++) vstore(hrow + v * VW, hn[v]);
                    project(hrow, NS, fw, fb, g.FW, y, fls, flb, g.ln_eps);
                    for (int64_t q = 0; q < g.FW; q++) fdst[q] = y[q];
                    project(hrow, NS, bw, bb, g.BW, y, bls, blb, g.ln_eps);
                    for (int64_t q = 0; q < g.BW; q++) bdst[q] += y[q];
                }
            }
            for (int v = 0; v < NV; v++) { hv[v] = hs[v] * inv; cv[v] = cs[v] * inv; }
        }
        for (int v = 0; v < NV; v++) { vstore(g.h_out + off + v * VW, hv[v]); vstore(g.c_out + off + v * VW, cv[v]); }
    }
}

struct Work { const ConvArgs *g; int64_t next; };

static void *worker(void *arg) {
    Work *w = (Work *)arg;
    const ConvArgs &g = *w->g;
    for (;;) {
        const int64_t item = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
        if (item >= g.P * g.CI * g.K) break;
        run_item(g, item / (g.CI * g.K), (item / g.K) % g.CI, item % g.K);
    }
    return nullptr;
}

extern "C" int vsml_conv_tick(const ConvArgs *args) {
    const ConvArgs &g = *args;
    Work w = {args, 0};
    run_threads(worker, &w, g.threads, g.P * g.CI * g.K);
    /* forward sums over the items (c_in, k) of each (l, c_out), in a fixed order */
    const int64_t fwid = g.layer_norm ? g.FW : NS, row = g.L * g.CO * fwid;
    for (int64_t p = 0; p < g.P; p++) {
        float *dst = g.fwd_sum + p * row;
        std::memset(dst, 0, sizeof(float) * row);
        for (int64_t it = 0; it < g.CI * g.K; it++) {
            const float *src = g.fwd_part + (p * g.CI * g.K + it) * row;
            for (int64_t q = 0; q < row; q++) dst[q] += src[q];
        }
    }
    return 0;
}
"""
