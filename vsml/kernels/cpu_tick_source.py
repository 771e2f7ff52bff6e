"""C++ source of the fused CPU tick (``vsml.kernels.cpu_tick`` builds and calls it).

Section 3 (Eq. 7) and Appendix C of the paper: per work item (member ``p``,
16 inputs ``a``, all outputs ``b``) the message part of the gates, ``num_ticks``
LSTM updates of every sub-LSTM with ``h, c`` in vector registers (4 sub-LSTMs at
a time for independent FMA chains), one write of ``h, c``, the backward message
(mean over ``b``), and partial sums for the forward message (mean over ``a``),
which the calling thread finishes in a fixed order once the workers are done.
``NS`` (the state size ``N``, a multiple of 16) is fixed at compile time.
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
#define CHUNK 16                   /* inputs a per work item */
#define ROWS (G <= 64 ? 4 : (G <= 128 ? 2 : 1))  /* sub-LSTMs updated together: independent FMA chains */
#define MAXM 64

""" + VECTOR_MATH + r"""
struct TickArgs {
    const float *h, *c, *fwd_in, *bwd_in, *lstm_w, *bias, *fwd_w, *fwd_b, *bwd_w, *bwd_b;
    const float *fwd_ln_scale, *fwd_ln_bias, *bwd_ln_scale, *bwd_ln_bias;
    float *h_out, *c_out, *fwd_out, *bwd_out, *fwd_part;
    int64_t P, A, B, FW, BW, per_member, ticks, layer_norm, has_clip, threads;
    float clip, ln_eps;
};

""" + PROJECT + THREADS + r"""
struct Member {  /* one member's parameters (the same pointers for shared ones) */
    const float *w_fwd, *w_bwd, *w_h, *bias, *fwd_w, *fwd_b, *bwd_w, *bwd_b, *fls, *flb, *bls, *blb;
};

static Member member(const TickArgs &g, int64_t p) {
    const int64_t m = g.per_member ? p : 0, rows = g.FW + g.BW + NS;
    const float *w = g.lstm_w + m * rows * G;
    Member q = {w, w + g.FW * G, w + (g.FW + g.BW) * G, g.bias + m * G,
                g.fwd_w + m * NS * g.FW, g.fwd_b + m * g.FW, g.bwd_w + m * NS * g.BW, g.bwd_b + m * g.BW,
                nullptr, nullptr, nullptr, nullptr};
    if (g.layer_norm) {
        q.fls = g.fwd_ln_scale + m * g.FW; q.flb = g.fwd_ln_bias + m * g.FW;
        q.bls = g.bwd_ln_scale + m * g.BW; q.blb = g.bwd_ln_bias + m * g.BW;
    }
    return q;
}

/* R sub-LSTMs (rows r0.. of work item (p, a0)): all micro-ticks, write h and c, add to the message sums. */
template <int R>
static inline void update_rows(const TickArgs &g, const Member &q, const float *xa, const float *xb,
                               int64_t p, int64_t a0, int64_t r0, float *bsum, float *fsum) {
    const int64_t B = g.B;
    vf msg[R][4 * NV], pre[R][4 * NV], hh[R][NV], cc[R][NV];
    int64_t al[R], bl[R], off[R];
    for (int i = 0; i < R; i++) {
        al[i] = (r0 + i) / B; bl[i] = (r0 + i) % B;
        off[i] = ((p * g.A + a0 + al[i]) * B + bl[i]) * NS;
        for (int v = 0; v < 4 * NV; v++) msg[i][v] = vload(xa + al[i] * G + v * VW) + vload(xb + bl[i] * G + v * VW);
        for (int v = 0; v < NV; v++) {
            hh[i][v] = vload(g.h + off[i] + v * VW);
            cc[i][v] = vload(g.c + off[i] + v * VW);
        }
    }
    for (int64_t t = 0; t < g.ticks; t++) {
        for (int i = 0; i < R; i++)
            for (int v = 0; v < 4 * NV; v++) pre[i][v] = msg[i][v];
        for (int k = 0; k < NS; k++)
            for (int v = 0; v < 4 * NV; v++) {
                vf w = vload(q.w_h + k * G + v * VW);
                for (int i = 0; i < R; i++) pre[i][v] += hh[i][k / VW][k % VW] * w;
            }
        for (int i = 0; i < R; i++)
            for (int v = 0; v < NV; v++) {  /* gates i, g, f, o */
                vf cn = vsigmoid(pre[i][2 * NV + v]) * cc[i][v] + sig_tanh(pre[i][v], pre[i][NV + v]);
                if (g.has_clip) { cn = cn < -g.clip ? -g.clip : cn; cn = cn > g.clip ? g.clip : cn; }
                cc[i][v] = cn;
                hh[i][v] = sig_tanh(pre[i][3 * NV + v], cn);
            }
    }
    for (int i = 0; i < R; i++) {
        for (int v = 0; v < NV; v++) {
            vstore(g.h_out + off[i] + v * VW, hh[i][v]);
            vstore(g.c_out + off[i] + v * VW, cc[i][v]);
        }
        if (!g.layer_norm) {  /* sums of h; projected once the means are known */
            for (int v = 0; v < NV; v++) {
                float *bs = bsum + al[i] * MAXM + v * VW, *fs = fsum + bl[i] * NS + v * VW;
                vstore(bs, vload(bs) + hh[i][v]);
                vstore(fs, vload(fs) + hh[i][v]);
            }
        } else {  /* LayerNorm: project and normalise each sub-LSTM's messages, then sum */
            float hrow[NS], y[MAXM];
            for (int v = 0; v < NV; v++) vstore(hrow + v * VW, hh[i][v]);
            project(hrow, NS, q.fwd_w, q.fwd_b, g.FW, y, q.fls, q.flb, g.ln_eps);
            for (int64_t j = 0; j < g.FW; j++) fsum[bl[i] * g.FW + j] += y[j];
            project(hrow, NS, q.bwd_w, q.bwd_b, g.BW, y, q.bls, q.blb, g.ln_eps);
            for (int64_t j = 0; j < g.BW; j++) bsum[al[i] * MAXM + j] += y[j];
        }
    }
}

/* The backward-message part of the gates of member p, with the bias (and gate offsets): xb[b] for every b. */
static void member_xb(const TickArgs &g, const Member &q, int64_t p, float *xb) {
    for (int64_t b = 0; b < g.B; b++) {
        const float *m = g.bwd_in + (p * g.B + b) * g.BW;
        for (int v = 0; v < 4 * NV; v++) {
            vf s = vload(q.bias + v * VW);
            for (int64_t k = 0; k < g.BW; k++) s += m[k] * vload(q.w_bwd + k * G + v * VW);
            vstore(xb + b * G + v * VW, s);
        }
    }
}

/* One work item (member p, CHUNK inputs a): ticks, states, the backward message, forward partial sums. */
static void run_item(const TickArgs &g, const Member &q, int64_t p, int64_t ch, int64_t nch, const float *xb) {
    const int64_t A = g.A, B = g.B, a0 = ch * CHUNK, na = A - a0 < CHUNK ? A - a0 : CHUNK;
    const int64_t fwidth = g.layer_norm ? g.FW : NS;  /* what fwd_part sums */
    float xa[CHUNK * G], bsum[CHUNK * MAXM];
    std::memset(bsum, 0, sizeof bsum);
    float *fsum = g.fwd_part + (p * nch + ch) * B * fwidth;
    std::memset(fsum, 0, sizeof(float) * B * fwidth);
    for (int64_t a = 0; a < na; a++) {  /* the forward-message part of the gates */
        const float *m = g.fwd_in + (p * A + a0 + a) * g.FW;
        for (int v = 0; v < 4 * NV; v++) {
            vf s = vload(q.w_fwd + v * VW) * m[0];
            for (int64_t k = 1; k < g.FW; k++) s += m[k] * vload(q.w_fwd + k * G + v * VW);
            vstore(xa + a * G + v * VW, s);
        }
    }
    const int64_t rows = na * B;
    int64_t r = 0;
    for (; r + ROWS <= rows; r += ROWS) update_rows<ROWS>(g, q, xa, xb, p, a0, r, bsum, fsum);
    for (; r < rows; r++) update_rows<1>(g, q, xa, xb, p, a0, r, bsum, fsum);
    for (int64_t a = 0; a < na; a++) {  /* backward message: mean over b */
        float *out = g.bwd_out + (p * A + a0 + a) * g.BW, mean[MAXM];
        if (g.layer_norm) {
            for (int64_t j = 0; j < g.BW; j++) out[j] = bsum[a * MAXM + j] / (float)B;
        } else {
            for (int64_t j = 0; j < NS; j++) mean[j] = bsum[a * MAXM + j] / (float)B;
            project(mean, NS, q.bwd_w, q.bwd_b, g.BW, out, nullptr, nullptr, 0.0f);
        }
    }
}

struct Work { const TickArgs *g; int64_t nch, next, failed; };

/* Threads claim items from a shared counter: a thread the OS delays holds back only its own item. */
static void *worker(void *arg) {
    Work *w = (Work *)arg;
    const TickArgs &g = *w->g;
    float *xb = (float *)std::malloc(sizeof(float) * g.B * G);
    if (!xb) { __atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED); return nullptr; }
    int64_t have = -1;
    for (;;) {
        const int64_t item = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
        if (item >= g.P * w->nch) break;
        const int64_t p = item / w->nch;
        const Member q = member(g, p);
        if (p != have) { member_xb(g, q, p, xb); have = p; }
        run_item(g, q, p, item % w->nch, w->nch, xb);
    }
    std::free(xb);
    return nullptr;
}

extern "C" int vsml_dense_tick(const TickArgs *args) {
    const TickArgs &g = *args;
    const int64_t P = g.P, A = g.A, B = g.B, nch = (A + CHUNK - 1) / CHUNK;
    Work w = {args, nch, 0, 0};
    run_threads(worker, &w, g.threads, P * nch);
    if (w.failed) return -1;
    /* forward message: mean over a, from the items' partial sums in a fixed order */
    const int64_t fwidth = g.layer_norm ? g.FW : NS;
    for (int64_t pb = 0; pb < P * B; pb++) {
        const int64_t p = pb / B, b = pb % B;
        const Member q = member(g, p);
        float mean[MAXM], *out = g.fwd_out + pb * g.FW;
        for (int64_t j = 0; j < fwidth; j++) {
            float s = 0.0f;
            for (int64_t ch = 0; ch < nch; ch++) s += g.fwd_part[((p * nch + ch) * B + b) * fwidth + j];
            mean[j] = s / (float)A;
        }
        if (g.layer_norm) {
            for (int64_t j = 0; j < g.FW; j++) out[j] = mean[j];
        } else {
            project(mean, NS, q.fwd_w, q.fwd_b, g.FW, out, nullptr, nullptr, 0.0f);
        }
    }
    return 0;
}
"""
