"""A Triton kernel for the micro-ticks of a dense VSML layer (Section 3, Eq. 7; Appendix C).

One launch does all ``num_ticks`` LSTM updates of a tile of sub-LSTMs of one
member ``p``: per tick and gate ``q`` in (i, g, f, o)
``pre_q = h @ W_h[p]_q + x_a[p, a]_q + x_b[p, b]_q`` (the message terms are
projected once per call by ``vsml.dense_tick.DenseTick``; the gate offsets are in
``x_b``'s bias), then ``c <- sig(f) c + sig(i) tanh(g)``, optional clip,
``h <- sig(o) tanh(c)``. ``c`` stays in registers, ``h, c`` are read once and
written once, and the gate pre-activations never reach memory. A tile is
``BLOCK_A`` inputs x ``BLOCK_B`` outputs (all ``B`` where they fit), so after the
ticks the tile sums ``h`` over its ``b`` (complete: the backward message) and
over its ``a`` (a partial that the caller adds up in a fixed order:
deterministic, no atomics), reading back the ``h`` it just wrote (L1/L2).

``h @ W_h`` is computed one of two ways:

* ``tl.dot`` (the default): with ``precision="ieee"`` float32 FMA, or, only when
  asked for, ``"tf32x3"`` / ``"tf32"`` (tensor cores; ``tf32`` rounds ``h`` and
  ``W_h`` to 10 mantissa bits);
* ``use_dot=False``: float32 rank-1 updates, ``pre += h[:, k] W_h[k]`` for
  ``k < N``, with the columns ``h[:, k]`` read from memory (the input ``h``, then
  the ``h`` the previous tick wrote): fewer registers, but slower on an H100.

States may be stored in bfloat16 between examples (``state_dtype``): the
kernel loads them (float32 or bfloat16), runs every micro-tick in float32 and
rounds ``h, c`` once, when it stores them; the message sums read the stored
(rounded) ``h``. That halves the state traffic, the kernel's main memory cost;
``vsml.dense_tick.DenseTick`` does the same rounding on the other paths, and
``tests/test_state_dtype.py`` bounds what it does to the ES meta-gradient.

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
# (rows per tile, warps, tl.dot) per precision; ``python -m vsml.bench --device cuda`` times alternatives.
# ieee uses tl.dot (float32 FMA): on an H100, 6.19 ms per example at 2,048 members vs 8.02 ms for the rank-1
# updates (vsml/results/gpu_h100_2026-11-27/bench_pop2048.json).
TILES = {"ieee": (64, 4, True), "tf32x3": (64, 4, True), "tf32": (64, 4, True)}

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
    def _round_bf16(x):
        # round to the nearest bfloat16 (ties to even) in float32 bits: GPUs round a cast so, the
        # interpreter truncates; the cast of the result is then exact on both
        bits = x.to(tl.uint32, bitcast=True)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        return tl.where(x != x, x, bits.to(tl.float32, bitcast=True))  # NaN stays NaN

    @triton.jit
    def _lstm_update(p_i, p_g, p_f, p_o, c, clip, HAS_CLIP: tl.constexpr):
        c = _sigmoid(p_f) * c + _sig_tanh(p_i, p_g)
        if HAS_CLIP:
            c = tl.minimum(tl.maximum(c, -clip), clip)
        return _sig_tanh(p_o, c), c

    @triton.jit
    def _dense_ticks_kernel(h_ptr, c_ptr, xa_ptr, xb_ptr, wh_ptr, wh_stride, h_out_ptr, c_out_ptr,
                            bsum_ptr, fsum_ptr, A, B, n_btiles, n_atiles, clip,
                            wm_ptr, wm_stride, bias_ptr, bias_stride, FW, BW,
                            N: tl.constexpr, BLOCK_A: tl.constexpr, BLOCK_B: tl.constexpr,
                            BLOCK_M: tl.constexpr, SUM_A: tl.constexpr, SUM_B: tl.constexpr,
                            TICKS: tl.constexpr, HAS_CLIP: tl.constexpr, REDUCE: tl.constexpr,
                            USE_DOT: tl.constexpr, PRECISION: tl.constexpr, ROUND_BF16: tl.constexpr,
                            FUSE_MSG: tl.constexpr, MSG_K: tl.constexpr):
        tile = tl.program_id(0)
        p = tl.program_id(1).to(tl.int64)
        ta = tile // n_btiles
        tb = tile % n_btiles
        r = tl.arange(0, BLOCK_M)            # row of the tile: (a, b) = (r // BLOCK_B, r % BLOCK_B)
        a = ta * BLOCK_A + r // BLOCK_B
        b = tb * BLOCK_B + r % BLOCK_B
        valid = (r < BLOCK_A * BLOCK_B) & (a < A) & (b < B)
        vmask = valid[:, None]
        n = tl.arange(0, N)
        rows = (p * A + a) * B + b
        state = rows[:, None] * N + n[None, :]
        c = tl.load(c_ptr + state, mask=vmask, other=0.0).to(tl.float32)
        if FUSE_MSG:  # xa_ptr, xb_ptr hold the raw messages [P, A, FW], [P, B, BW]: project them here
            k = tl.arange(0, MSG_K)
            f_rows = tl.load(xa_ptr + ((p * A + a) * FW)[:, None] + k[None, :], mask=vmask & (k[None, :] < FW),
                             other=0.0)
            b_rows = tl.load(xb_ptr + ((p * B + b) * BW)[:, None] + k[None, :], mask=vmask & (k[None, :] < BW),
                             other=0.0)
            wm = wm_ptr + p * wm_stride
            wf = wm + k[:, None] * (4 * N) + n[None, :]          # lstm_w rows 0..FW-1: the forward message
            wb = wm + (FW + k[:, None]) * (4 * N) + n[None, :]   # rows FW..FW+BW-1: the backward message
            fk = k[:, None] < FW
            bk = k[:, None] < BW
            bias = bias_ptr + p * bias_stride + n[None, :]
            m_i = tl.dot(b_rows, tl.load(wb, mask=bk, other=0.0), acc=tl.dot(
                f_rows, tl.load(wf, mask=fk, other=0.0), input_precision=PRECISION),
                input_precision=PRECISION) + tl.load(bias)
            m_g = tl.dot(b_rows, tl.load(wb + N, mask=bk, other=0.0), acc=tl.dot(
                f_rows, tl.load(wf + N, mask=fk, other=0.0), input_precision=PRECISION),
                input_precision=PRECISION) + tl.load(bias + N)
            m_f = tl.dot(b_rows, tl.load(wb + 2 * N, mask=bk, other=0.0), acc=tl.dot(
                f_rows, tl.load(wf + 2 * N, mask=fk, other=0.0), input_precision=PRECISION),
                input_precision=PRECISION) + tl.load(bias + 2 * N)
            m_o = tl.dot(b_rows, tl.load(wb + 3 * N, mask=bk, other=0.0), acc=tl.dot(
                f_rows, tl.load(wf + 3 * N, mask=fk, other=0.0), input_precision=PRECISION),
                input_precision=PRECISION) + tl.load(bias + 3 * N)
        else:
            xa = xa_ptr + ((p * A + a) * (4 * N))[:, None] + n[None, :]
            xb = xb_ptr + ((p * B + b) * (4 * N))[:, None] + n[None, :]
            m_i = tl.load(xa, mask=vmask, other=0.0) + tl.load(xb, mask=vmask, other=0.0)
            m_g = tl.load(xa + N, mask=vmask, other=0.0) + tl.load(xb + N, mask=vmask, other=0.0)
            m_f = tl.load(xa + 2 * N, mask=vmask, other=0.0) + tl.load(xb + 2 * N, mask=vmask, other=0.0)
            m_o = tl.load(xa + 3 * N, mask=vmask, other=0.0) + tl.load(xb + 3 * N, mask=vmask, other=0.0)
        w = wh_ptr + p * wh_stride
        if USE_DOT:
            h = tl.load(h_ptr + state, mask=vmask, other=0.0).to(tl.float32)
            wt = w + n[:, None] * (4 * N) + n[None, :]
            w_i = tl.load(wt)
            w_g = tl.load(wt + N)
            w_f = tl.load(wt + 2 * N)
            w_o = tl.load(wt + 3 * N)
            for _ in tl.static_range(TICKS):
                h, c = _lstm_update(tl.dot(h, w_i, acc=m_i, input_precision=PRECISION),
                                    tl.dot(h, w_g, acc=m_g, input_precision=PRECISION),
                                    tl.dot(h, w_f, acc=m_f, input_precision=PRECISION),
                                    tl.dot(h, w_o, acc=m_o, input_precision=PRECISION), c, clip, HAS_CLIP)
            if ROUND_BF16:
                h = _round_bf16(h)
                c = _round_bf16(c)
            tl.store(h_out_ptr + state, h.to(h_out_ptr.dtype.element_ty), mask=vmask)
        else:
            for t in tl.static_range(TICKS):
                if t == 0:
                    h_src = h_ptr
                else:
                    h_src = h_out_ptr    # the h the previous tick wrote
                p_i = m_i
                p_g = m_g
                p_f = m_f
                p_o = m_o
                for k in tl.static_range(N):
                    h_k = tl.load(h_src + rows * N + k, mask=valid, other=0.0).to(tl.float32)[:, None]
                    w_k = w + k * (4 * N) + n
                    p_i += h_k * tl.load(w_k)[None, :]
                    p_g += h_k * tl.load(w_k + N)[None, :]
                    p_f += h_k * tl.load(w_k + 2 * N)[None, :]
                    p_o += h_k * tl.load(w_k + 3 * N)[None, :]
                h, c = _lstm_update(p_i, p_g, p_f, p_o, c, clip, HAS_CLIP)
                if t > 0:
                    tl.debug_barrier()   # every thread has read this tick's columns before they change
                tl.store(h_out_ptr + state, h, mask=vmask)
                if t + 1 < TICKS:
                    tl.debug_barrier()   # ... and the next tick reads what the other threads wrote
        tl.store(c_out_ptr + state, c.to(c_out_ptr.dtype.element_ty), mask=vmask)
        if REDUCE:
            tl.debug_barrier()           # the sums read h that other threads of the tile wrote
            ia = tl.arange(0, SUM_A)
            a_out = ta * BLOCK_A + ia
            ok_a = (ia < BLOCK_A) & (a_out < A)
            s_a = tl.full([SUM_A, N], 0.0, tl.float32)  # (tl.full: a builtin, also under the interpreter)
            for j in range(BLOCK_B):     # sum over the tile's b, per a: complete
                b_j = ia * 0 + tb * BLOCK_B + j  # (a vector: both interpreters take it in a mask)
                h_j = h_out_ptr + ((p * A + a_out) * B + b_j)[:, None] * N + n[None, :]
                s_a += tl.load(h_j, mask=(ok_a & (b_j < B))[:, None], other=0.0).to(tl.float32)
            tl.store(bsum_ptr + ((p * n_btiles + tb) * A + a_out)[:, None] * N + n[None, :], s_a,
                     mask=ok_a[:, None])
            ib = tl.arange(0, SUM_B)
            b_out = tb * BLOCK_B + ib
            ok_b = (ib < BLOCK_B) & (b_out < B)
            s_b = tl.full([SUM_B, N], 0.0, tl.float32)
            for i in range(BLOCK_A):     # sum over the tile's a, per b: a partial
                a_i = ib * 0 + ta * BLOCK_A + i
                h_i = h_out_ptr + ((p * A + a_i) * B + b_out)[:, None] * N + n[None, :]
                s_b += tl.load(h_i, mask=(ok_b & (a_i < A))[:, None], other=0.0).to(tl.float32)
            tl.store(fsum_ptr + ((p * n_atiles + ta) * B + b_out)[:, None] * N + n[None, :], s_b,
                     mask=ok_b[:, None])


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
    """Whether the kernel applies (triton importable, ``N`` 16 or 32, grid fits); else the PyTorch path.

    ``N = 64`` (learning-algorithm cloning) would keep four 64-wide gate tiles per row in registers.
    """
    return triton is not None and state_size in (16, 32) and population <= 65535


def launch_config(A: int, B: int, N: int, num_ticks: int, state_clip: float | None, reduce: bool = True,
                  precision: str = "ieee", block_m: int | None = None, num_warps: int | None = None,
                  use_dot: bool | None = None, round_bf16: bool = False,
                  fuse_msg: bool = False) -> tuple[dict, int, tuple[int, int]]:
    """The kernel's compile-time arguments, its warps and ``(a tiles, b tiles)``, for one layer shape.

    ``block_m`` (rows per tile, for ``N = 16``; half as many for ``N = 32``), ``num_warps`` and ``use_dot``
    default to ``TILES[precision]``; the tensor-core precisions always use ``tl.dot``. ``round_bf16``:
    the states are stored as bfloat16; ``fuse_msg``: the kernel projects the raw messages itself.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    block_m = block_m or max(16, TILES[precision][0] * 16 // N)  # the same registers per row for N = 32
    num_warps = num_warps or TILES[precision][1]
    use_dot = precision != "ieee" or (TILES[precision][2] if use_dot is None else use_dot)
    block_a, block_b, block = tile_shape(A, B, block_m)
    meta = dict(N=N, BLOCK_A=block_a, BLOCK_B=block_b, BLOCK_M=block, SUM_A=_pow2(block_a), SUM_B=_pow2(block_b),
                TICKS=int(num_ticks), HAS_CLIP=state_clip is not None, REDUCE=bool(reduce), USE_DOT=bool(use_dot),
                PRECISION=precision, ROUND_BF16=bool(round_bf16), FUSE_MSG=bool(fuse_msg), MSG_K=MSG_K)
    return meta, num_warps, (-(-A // block_a), -(-B // block_b))


STATE_DTYPES = (torch.float32, torch.bfloat16)
MSG_K = 16  # the message widths N', N'' padded to tl.dot's smallest K
# Project the messages inside the kernel (fused_ticks_from_messages) in vsml.dense_tick.DenseTick: not the default until
# a GPU has timed it (python -m vsml.bench --device cuda times both); the tests check it on the interpreter.
FUSE_MESSAGES = False


def fused_ticks(h, c, x_a, x_b, w_h, num_ticks: int, state_clip: float | None, reduce: bool = True,
                precision: str = "ieee", block_m: int | None = None, num_warps: int | None = None,
                use_dot: bool | None = None, state_dtype: torch.dtype = torch.float32):
    """Micro-ticks of ``h, c`` ``[P, A, B, N]`` on the projected messages ``x_a`` ``[P, A, 4N]`` and ``x_b``
    ``[P, B, 4N]`` (bias included), with ``w_h`` ``[N, 4N]`` shared or ``[P, N, 4N]`` per member.

    Returns ``(h, c, sum_b h [P, A, N], sum_a h [P, B, N])``; the sums are None unless ``reduce``.
    ``h, c`` come in as float32 or bfloat16 and go out as ``state_dtype`` (the sums are float32, of the
    stored ``h``). The tile options are ``launch_config``'s.
    """
    P, A, B, N = h.shape
    _check(h, c, state_dtype, {"c": (c, (P, A, B, N)), "x_a": (x_a, (P, A, 4 * N)), "x_b": (x_b, (P, B, 4 * N)),
                               "w_h": (w_h, (P, N, 4 * N) if w_h.dim() == 3 else (N, 4 * N))})
    meta, num_warps, (n_atiles, n_btiles) = launch_config(A, B, N, num_ticks, state_clip, reduce, precision,
                                                          block_m, num_warps, use_dot,
                                                          round_bf16=state_dtype == torch.bfloat16)
    if state_dtype != torch.float32 and not meta["USE_DOT"]:
        raise ValueError("bfloat16 states need the tl.dot tile: the rank-1 path reads h back between ticks")
    w_stride = 0 if w_h.dim() == 2 else N * 4 * N
    return _launch(h, c, x_a.contiguous(), x_b.contiguous(), w_h.contiguous(), w_stride, None, meta, num_warps,
                   n_atiles, n_btiles, state_clip, reduce, state_dtype)


def _check(h, c, state_dtype, want: dict) -> None:
    """The kernel trusts every shape and dtype: check them here (``want``: name -> (tensor, shape))."""
    if triton is None:
        raise RuntimeError("triton is not installed")
    P, A, B, N = h.shape
    if not supports(N, P):
        raise ValueError(f"the Triton tick needs N in (16, 32) and P <= 65535, got N={N}, P={P}")
    for name, (t, shape) in want.items():
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {shape} (h is {tuple(h.shape)})")
    if state_dtype not in STATE_DTYPES or h.dtype not in STATE_DTYPES or c.dtype not in STATE_DTYPES:
        raise ValueError(f"states must be float32 or bfloat16, got h {h.dtype}, c {c.dtype}, out {state_dtype}")


def _launch(h, c, xa, xb, w_h, w_stride, messages, meta, num_warps, n_atiles, n_btiles, state_clip, reduce,
            state_dtype):
    P, A, B, N = h.shape
    h, c = h.contiguous(), c.contiguous()
    h_out, c_out = torch.empty_like(h, dtype=state_dtype), torch.empty_like(c, dtype=state_dtype)
    if reduce:
        bsum = h.new_empty(P, n_btiles, A, N, dtype=torch.float32)
        fsum = h.new_empty(P, n_atiles, B, N, dtype=torch.float32)
    else:
        bsum = fsum = h_out  # not written (REDUCE is off)
    wm, wm_stride, bias, bias_stride, fw, bw = messages or (xa, 0, xa, 0, 0, 0)  # unused without FUSE_MSG
    _dense_ticks_kernel[(n_atiles * n_btiles, P)](
        h, c, xa, xb, w_h, w_stride, h_out, c_out, bsum, fsum, A, B, n_btiles, n_atiles,
        float(state_clip or 0.0), wm, wm_stride, bias, bias_stride, fw, bw, num_warps=num_warps, **meta)
    if not reduce:
        return h_out, c_out, None, None
    return h_out, c_out, bsum.sum(dim=1), fsum.sum(dim=1)


def fused_ticks_from_messages(h, c, fwd_in, bwd_in, lstm_w, bias, num_ticks: int, state_clip: float | None,
                              reduce: bool = True, precision: str = "ieee", block_m: int | None = None,
                              num_warps: int | None = None, state_dtype: torch.dtype = torch.float32):
    """``fused_ticks`` with the message part of the gates projected inside the kernel.

    ``fwd_in`` ``[P, A, N']``, ``bwd_in`` ``[P, B, N'']``: the raw messages; ``lstm_w`` ``[N' + N'' + N, 4N]``
    shared or ``[P, ...]`` per member (rows: forward message, backward message, ``h``); ``bias`` ``[4N]`` or
    ``[P, 4N]`` with the gate offsets. Spares writing and reading ``x_a`` ``[P, A, 4N]`` (at the paper's
    2,048 members on 784 inputs 0.4 GB per example) and two batched matmuls; the kernel does two more
    ``tl.dot`` per gate instead. Always the ``tl.dot`` tile.
    """
    P, A, B, N = h.shape
    Fw, Bw = fwd_in.shape[-1], bwd_in.shape[-1]
    if max(Fw, Bw) > MSG_K:
        raise ValueError(f"message widths up to {MSG_K} are projected in the kernel, got {Fw} and {Bw}")
    rows = Fw + Bw + N
    _check(h, c, state_dtype, {"c": (c, (P, A, B, N)), "fwd_in": (fwd_in, (P, A, Fw)), "bwd_in": (bwd_in, (P, B, Bw)),
                               "lstm_w": (lstm_w, (P, rows, 4 * N) if lstm_w.dim() == 3 else (rows, 4 * N)),
                               "bias": (bias, (P, 4 * N) if bias.dim() == 2 else (4 * N,))})
    meta, num_warps, (n_atiles, n_btiles) = launch_config(A, B, N, num_ticks, state_clip, reduce, precision,
                                                          block_m, num_warps, use_dot=True,
                                                          round_bf16=state_dtype == torch.bfloat16, fuse_msg=True)
    lstm_w, bias = lstm_w.contiguous(), bias.contiguous()
    per_member = lstm_w.dim() == 3
    w_h = lstm_w[..., Fw + Bw:, :]  # a view: rows of h, member stride rows * 4N
    messages = (lstm_w, rows * 4 * N if per_member else 0, bias, 4 * N if bias.dim() == 2 else 0, Fw, Bw)
    return _launch(h, c, fwd_in.contiguous(), bwd_in.contiguous(), w_h, rows * 4 * N if per_member else 0,
                   messages, meta, num_warps, n_atiles, n_btiles, state_clip, reduce, state_dtype)
