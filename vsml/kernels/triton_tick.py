"""A Triton kernel for the micro-ticks of a dense VSML layer (Section 3, Eq. 7; Appendix C).

One launch does all ``num_ticks`` LSTM updates of a tile of sub-LSTMs of one
member ``p`` with ``h, c`` in registers: per tick and gate ``q`` in (i, g, f, o)
``pre_q = h @ W_h[p]_q + x_a[p, a]_q + x_b[p, b]_q`` (the message terms are
projected once per call by ``vsml.lstm.DenseTick``; the gate offsets are in
``x_b``'s bias), then ``c <- sig(f) c + sig(i) tanh(g)``, optional clip,
``h <- sig(o) tanh(c)``. ``h, c`` are read and written once; the gate
pre-activations never reach memory. The same pass sums ``h`` over ``b`` (for the
backward message) and, per tile, over ``a`` (for the forward message): a tile
is ``BLOCK_A`` inputs x ``BLOCK_B`` outputs, so the first sum is complete and
the second is a per-tile partial that the caller adds up in a fixed order
(deterministic, no atomics). Both sums are ``tl.dot`` with 0/1 selection
matrices in IEEE float32, i.e. exact sums of the selected rows.

``precision`` is ``tl.dot``'s ``input_precision`` for ``h @ W_h``: ``"ieee"``
(default, float32 FMA) or, only when asked for, ``"tf32x3"`` / ``"tf32"``
(tensor cores; ``tf32`` rounds ``h`` and ``W_h`` to 10 mantissa bits).

Runs on CUDA, and on the CPU under ``TRITON_INTERPRET=1`` (the tests).
"""
from __future__ import annotations

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs: vsml.lstm never calls in here
    triton = None

PRECISIONS = ("ieee", "tf32x3", "tf32")

if triton is not None:
    @triton.jit
    def _sigmoid(x):
        return 1.0 / (1.0 + tl.exp(-x))

    @triton.jit
    def _sig_tanh(s, x):
        # sigmoid(s) * tanh(x) with one division: (1 - e) / ((1 + exp(-s)) (1 + e)), e = exp(-2|x|)
        e = tl.exp(-2.0 * tl.abs(x))
        t = (1.0 - e) / ((1.0 + tl.exp(-s)) * (1.0 + e))
        return tl.where(x < 0.0, -t, t)

    @triton.jit
    def _dense_ticks_kernel(h_ptr, c_ptr, xa_ptr, xb_ptr, wh_ptr, wh_stride, h_out_ptr, c_out_ptr,
                            bsum_ptr, fsum_ptr, A, B, n_btiles, n_atiles, clip,
                            N: tl.constexpr, BLOCK_A: tl.constexpr, BLOCK_B: tl.constexpr,
                            BLOCK_M: tl.constexpr, SUM_A: tl.constexpr, SUM_B: tl.constexpr,
                            TICKS: tl.constexpr, HAS_CLIP: tl.constexpr, REDUCE: tl.constexpr,
                            PRECISION: tl.constexpr):
        tile = tl.program_id(0)
        p = tl.program_id(1).to(tl.int64)
        ta = tile // n_btiles
        tb = tile % n_btiles
        r = tl.arange(0, BLOCK_M)            # row of the tile: (a, b) = (r // BLOCK_B, r % BLOCK_B)
        a_loc = r // BLOCK_B
        b_loc = r % BLOCK_B
        a = ta * BLOCK_A + a_loc
        b = tb * BLOCK_B + b_loc
        valid = (r < BLOCK_A * BLOCK_B) & (a < A) & (b < B)
        vmask = valid[:, None]
        n = tl.arange(0, N)
        state = ((p * A + a) * B + b)[:, None] * N + n[None, :]
        h = tl.load(h_ptr + state, mask=vmask, other=0.0)
        c = tl.load(c_ptr + state, mask=vmask, other=0.0)
        xa = xa_ptr + ((p * A + a) * (4 * N))[:, None] + n[None, :]
        xb = xb_ptr + ((p * B + b) * (4 * N))[:, None] + n[None, :]
        m_i = tl.load(xa, mask=vmask, other=0.0) + tl.load(xb, mask=vmask, other=0.0)
        m_g = tl.load(xa + N, mask=vmask, other=0.0) + tl.load(xb + N, mask=vmask, other=0.0)
        m_f = tl.load(xa + 2 * N, mask=vmask, other=0.0) + tl.load(xb + 2 * N, mask=vmask, other=0.0)
        m_o = tl.load(xa + 3 * N, mask=vmask, other=0.0) + tl.load(xb + 3 * N, mask=vmask, other=0.0)
        w = wh_ptr + p * wh_stride + n[:, None] * (4 * N) + n[None, :]
        w_i = tl.load(w)
        w_g = tl.load(w + N)
        w_f = tl.load(w + 2 * N)
        w_o = tl.load(w + 3 * N)
        for _ in tl.static_range(TICKS):
            p_i = tl.dot(h, w_i, acc=m_i, input_precision=PRECISION)
            p_g = tl.dot(h, w_g, acc=m_g, input_precision=PRECISION)
            p_f = tl.dot(h, w_f, acc=m_f, input_precision=PRECISION)
            p_o = tl.dot(h, w_o, acc=m_o, input_precision=PRECISION)
            c = _sigmoid(p_f) * c + _sig_tanh(p_i, p_g)
            if HAS_CLIP:
                c = tl.minimum(tl.maximum(c, -clip), clip)
            h = _sig_tanh(p_o, c)
        tl.store(h_out_ptr + state, h, mask=vmask)
        tl.store(c_out_ptr + state, c, mask=vmask)
        if REDUCE:
            hz = tl.where(vmask, h, 0.0)
            ia = tl.arange(0, SUM_A)
            sel_a = ((ia[:, None] == a_loc[None, :]) & valid[None, :]).to(tl.float32)
            s_a = tl.dot(sel_a, hz, input_precision="ieee")            # sum over this tile's b, per a
            a_out = ta * BLOCK_A + ia
            ok_a = (ia < BLOCK_A) & (a_out < A)
            dst_a = ((p * n_btiles + tb) * A + a_out)[:, None] * N + n[None, :]
            tl.store(bsum_ptr + dst_a, s_a, mask=ok_a[:, None])
            ib = tl.arange(0, SUM_B)
            sel_b = ((ib[:, None] == b_loc[None, :]) & valid[None, :]).to(tl.float32)
            s_b = tl.dot(sel_b, hz, input_precision="ieee")            # sum over this tile's a, per b
            b_out = tb * BLOCK_B + ib
            ok_b = (ib < BLOCK_B) & (b_out < B)
            dst_b = ((p * n_atiles + ta) * B + b_out)[:, None] * N + n[None, :]
            tl.store(fsum_ptr + dst_b, s_b, mask=ok_b[:, None])


def _pow2(x: int) -> int:
    return 1 << max(0, int(x) - 1).bit_length()


def tile_shape(A: int, B: int, block_m: int) -> tuple[int, int, int]:
    """``(BLOCK_A, BLOCK_B, BLOCK_M)``: whole rows of ``B`` outputs per tile where they fit in ``block_m``."""
    if block_m < 16 or block_m & (block_m - 1):
        raise ValueError(f"block_m must be a power of two >= 16, got {block_m}")
    block_b = min(B, block_m)
    block_a = max(1, min(A, block_m // block_b))
    return block_a, block_b, max(16, _pow2(block_a * block_b))


def supports(state_size: int, population: int) -> bool:
    """Whether the kernel applies at all (triton importable, ``N`` a power of two >= 16, grid fits)."""
    n = state_size
    return triton is not None and n >= 16 and n & (n - 1) == 0 and population <= 65535


def fused_ticks(h, c, x_a, x_b, w_h, num_ticks: int, state_clip: float | None, reduce: bool = True,
                precision: str = "ieee", block_m: int = 64, num_warps: int = 4):
    """Micro-ticks of ``h, c`` ``[P, A, B, N]`` on the projected messages ``x_a`` ``[P, A, 4N]`` and ``x_b``
    ``[P, B, 4N]`` (bias included), with ``w_h`` ``[N, 4N]`` shared or ``[P, N, 4N]`` per member.

    Returns ``(h, c, sum_b h [P, A, N], sum_a h [P, B, N])``; the sums are None unless ``reduce``.
    """
    if triton is None:
        raise RuntimeError("triton is not installed")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    P, A, B, N = h.shape
    if not supports(N, P):
        raise ValueError(f"the Triton tick needs N a power of two >= 16 and P <= 65535, got N={N}, P={P}")
    h, c, x_a, x_b = (t.contiguous() for t in (h, c, x_a, x_b))
    w_stride = 0 if w_h.dim() == 2 else N * 4 * N
    w_h = w_h.contiguous()
    block_a, block_b, block = tile_shape(A, B, block_m)
    n_atiles, n_btiles = -(-A // block_a), -(-B // block_b)
    h_out, c_out = torch.empty_like(h), torch.empty_like(c)
    if reduce:
        bsum = h.new_empty(P, n_btiles, A, N)
        fsum = h.new_empty(P, n_atiles, B, N)
    else:
        bsum = fsum = h_out  # not written (REDUCE is off)
    grid = (n_atiles * n_btiles, P)
    _dense_ticks_kernel[grid](
        h, c, x_a, x_b, w_h, w_stride, h_out, c_out, bsum, fsum, A, B, n_btiles, n_atiles,
        float(state_clip or 0.0), N=N, BLOCK_A=block_a, BLOCK_B=block_b, BLOCK_M=block,
        SUM_A=max(16, _pow2(block_a)), SUM_B=max(16, _pow2(block_b)), TICKS=int(num_ticks),
        HAS_CLIP=state_clip is not None, REDUCE=bool(reduce), PRECISION=precision, num_warps=num_warps)
    if not reduce:
        return h_out, c_out, None, None
    return h_out, c_out, bsum.sum(dim=1), fsum.sum(dim=1)
