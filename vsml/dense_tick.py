"""The fast tick of a dense VSML layer: ``DenseTick`` and the kernels it dispatches to.

Paper: Section 3 (Eq. 7, Figures 2-3), Appendix C ("LSTM implementation").
Same numbers as :func:`vsml.lstm.dense_tick_reference` within float32
rounding (tested), computed with fewer passes over memory: the message part of
the gates splits into a per-``a`` and a per-``b`` term that are projected once
and broadcast, the projection is reused across micro-ticks, and messages are
averaged before they are projected (they are linear in ``h``). Without
autograd (ES, meta-testing) a fused kernel keeps every sub-LSTM's state in
registers across the micro-ticks (``vsml.kernels``: C++ on the CPU, Triton on
CUDA, each checked once against this module's PyTorch path); under autograd
(BPTT) PyTorch ops, optionally fused by ``torch.compile``.
"""
from __future__ import annotations

import warnings

import torch

from .lstm import (SubLSTMConfig, _gate_offsets, _project, dense_messages, lstm_update, num_members,
                   param_shapes)


def _fused_ticks(h, c, x_a, x_b, w_h, num_ticks: int, state_clip: float | None):
    """Micro-ticks on fixed incoming messages; ``x_a``/``x_b`` are the projected message terms."""
    P, A, B, N = h.shape
    for _ in range(num_ticks):
        pre = torch.matmul(h.reshape(P, A * B, N), w_h).reshape(P, A, B, 4 * N)
        pre = pre + x_a.unsqueeze(2) + x_b.unsqueeze(1)
        h, c = lstm_update(pre, c, state_clip)
    return h, c


_COMPILED = {}


def _compiled_ticks():
    """``torch.compile`` of the micro-tick loop (fuses the element-wise passes); eager fallback."""
    if "fn" not in _COMPILED:
        try:
            _COMPILED["fn"] = torch.compile(_fused_ticks, dynamic=False)
        except Exception as exc:  # no compiler toolchain: stay eager
            warnings.warn(f"torch.compile unavailable ({exc}); using eager ticks")
            _COMPILED["fn"] = _fused_ticks
    return _COMPILED["fn"]


BACKENDS = ("auto", "torch", "kernel")
STATE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class DenseTick:
    """Fast dense-layer update: ``num_ticks`` micro-ticks on fixed messages, then the outgoing messages.

    ``backend="auto"`` (default) uses the fused kernel of ``vsml.kernels``
    wherever it applies: no autograd recording (``torch.no_grad`` /
    ``inference_mode``, or no tensor requiring grad), float32, on the CPU
    (C++, when a compiler is present) or CUDA (Triton, when importable); else
    the PyTorch path. ``"torch"`` always takes the PyTorch path, ``"kernel"``
    requires the kernel (an error where none applies). ``compile=True`` fuses
    the PyTorch path with ``torch.compile`` where autograd does not record.
    ``precision`` is the Triton kernel's ``h @ W_h`` precision: ``"ieee"``
    (float32, default); ``"tf32x3"`` or ``"tf32"`` (tensor cores) only when
    asked for. See ``python -m vsml.bench`` for the speeds.

    ``in_place=True`` (a call argument) lets the CPU kernel write the new ``h, c``
    over the given ones instead of into new tensors, which spares allocating and
    page-faulting them on every example (about half the kernel's time for one
    episode). Only for a caller that holds the only use of the old states; the
    other paths ignore it and return new tensors.

    ``state_dtype="bfloat16"`` stores ``h, c`` in bfloat16 between examples: every
    micro-tick runs in float32 and the new states are rounded once, after the
    last tick; the outgoing messages are computed from the rounded ``h``. The
    Triton kernel stores them as bfloat16 tensors (half the memory traffic);
    the other paths keep float32 tensors holding the rounded values, with the
    same numbers.
    """

    def __init__(self, cfg: SubLSTMConfig, num_ticks: int = 2, state_clip: float | None = None,
                 compile: bool = False, *, backend: str = "auto", precision: str = "ieee",
                 state_dtype: str = "float32"):
        if isinstance(num_ticks, bool) or not isinstance(num_ticks, int) or num_ticks < 1:
            raise ValueError(f"num_ticks must be an int >= 1 (micro-ticks per example), got {num_ticks!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if precision not in ("ieee", "tf32x3", "tf32"):
            raise ValueError(f"precision must be 'ieee', 'tf32x3' or 'tf32', got {precision!r}")
        if state_dtype not in STATE_DTYPES:
            raise ValueError(f"state_dtype must be one of {tuple(STATE_DTYPES)}, got {state_dtype!r}")
        self.cfg, self.num_ticks, self.state_clip, self.compile = cfg, num_ticks, state_clip, compile
        self.backend, self.precision, self.state_dtype = backend, precision, state_dtype

    def __call__(self, params, h, c, fwd_in, bwd_in, in_place: bool = False):
        """``h, c``: ``[P, A, B, N]``; ``fwd_in``: ``[P, A, N']``; ``bwd_in``: ``[P, B, N'']``."""
        if torch.bfloat16 in (h.dtype, c.dtype) and h.device.type != "cuda":  # only the Triton kernel reads them
            h, c = h.float(), c.float()
        h, c, fwd_out, bwd_out = self._tick(params, h, c, fwd_in, bwd_in, in_place)
        if self.state_dtype == "bfloat16" and h.dtype != torch.bfloat16:  # not stored by the kernel: round here
            h, c = h.to(torch.bfloat16).to(h.dtype), c.to(torch.bfloat16).to(c.dtype)
            fwd_out, bwd_out = dense_messages(params, self.cfg, h)
        return h, c, fwd_out, bwd_out

    def _tick(self, params, h, c, fwd_in, bwd_in, in_place: bool):
        cfg, members = self.cfg, num_members(params)
        Fw, Bw = cfg.fwd_size, cfg.bwd_size
        w = params["lstm_w"]
        bias = params["lstm_b"] + _gate_offsets(cfg, params["lstm_b"])
        recording = torch.is_grad_enabled() and any(
            t.requires_grad for t in (h, c, fwd_in, bwd_in, *params.values()))
        if self.backend != "torch" and not recording:
            out = self._kernel(params, bias, h, c, fwd_in, bwd_in, in_place)
            if out is not None:
                return out
        if torch.bfloat16 in (h.dtype, c.dtype):  # bfloat16 states the kernel did not take: tick in float32
            h, c = h.float(), c.float()
        if self.backend == "kernel":
            raise RuntimeError("backend='kernel': no fused kernel applies here (autograd records, or not "
                               f"float32 on the CPU / CUDA with a compiler / triton; device {h.device})")
        w_fwd, w_bwd, w_h = w[..., :Fw, :], w[..., Fw:Fw + Bw, :], w[..., Fw + Bw:, :]
        # The message part of the gates, once per a and once per b, reused by every micro-tick.
        x_a = _project(fwd_in, w_fwd, None, members)  # [P, A, 4N]
        x_b = _project(bwd_in, w_bwd, bias, members)                     # [P, B, 4N]
        if members is not None:
            w_h = w_h.contiguous()
        fn = _fused_ticks
        if self.compile and not recording:
            fn = _compiled_ticks()
        h, c = fn(h, c, x_a, x_b, w_h, self.num_ticks, self.state_clip)
        fwd_out, bwd_out = dense_messages(params, cfg, h)
        return h, c, fwd_out, bwd_out

    def _kernel(self, params, bias, h, c, fwd_in, bwd_in, in_place: bool = False):
        """The fused kernel's result, or None where none applies."""
        tensors = (fwd_in, bwd_in, *params.values())
        if any(t.dtype != torch.float32 or t.device != h.device for t in tensors):
            return None
        if h.dtype != torch.float32 or c.dtype != torch.float32:  # bfloat16 states: the Triton kernel only
            if h.device.type != "cuda" or c.device != h.device or h.dtype not in STATE_DTYPES.values() \
                    or c.dtype not in STATE_DTYPES.values():
                return None
        tensors = (h, c, *tensors)
        if h.device.type == "cpu":
            from .kernels import cpu_tick
            if not cpu_tick.supports(self.cfg, *tensors):
                return None
            in_place = in_place and h.is_contiguous() and c.is_contiguous()
            return cpu_tick.dense_tick(params, self.cfg, h, c, fwd_in, bwd_in, self.num_ticks, self.state_clip, bias,
                                       in_place=in_place)
        if h.device.type == "cuda":
            return _triton_tick(self, params, bias, h, c, fwd_in, bwd_in)
        return None


_TRITON_STATUS: dict = {}  # (device, precision, state dtype[, "fused messages"]) -> True (checked) or why the kernel is off there


def _triton_tick(tick: DenseTick, params, bias, h, c, fwd_in, bwd_in):
    """``DenseTick`` with the Triton micro-ticks; None (after one warning) where Triton is absent or fails."""
    try:
        from .kernels import triton_tick
    except Exception:  # noqa: BLE001 -- a broken triton install: stay on PyTorch
        return None
    if not triton_tick.supports(tick.cfg.state_size, h.shape[0]):
        return None
    key = (str(h.device), tick.precision, tick.state_dtype) + (("fused messages",) if triton_tick.FUSE_MESSAGES else ())
    try:
        if key not in _TRITON_STATUS:
            _TRITON_STATUS[key] = _check_triton(tick, params, bias, h, c, fwd_in, bwd_in)
        if _TRITON_STATUS[key] is not True:
            return None
        return _triton_run(tick, params, bias, h, c, fwd_in, bwd_in)
    except Exception as exc:  # noqa: BLE001 -- e.g. the kernel does not compile for this GPU
        _TRITON_STATUS[key] = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"Triton tick kernel failed on {h.device} ({_TRITON_STATUS[key]}); "
                      f"using the PyTorch path (torch.compile={tick.compile})")
        return None


def _triton_run(tick: DenseTick, params, bias, h, c, fwd_in, bwd_in):
    from .kernels import triton_tick
    cfg, members = tick.cfg, num_members(params)
    Fw, Bw = cfg.fwd_size, cfg.bwd_size
    w = params["lstm_w"]
    reduce = not cfg.layer_norm  # with LayerNorm, messages are projected per sub-LSTM before the mean
    options = dict(reduce=reduce, precision=tick.precision, state_dtype=STATE_DTYPES[tick.state_dtype])
    if triton_tick.FUSE_MESSAGES and max(Fw, Bw) <= triton_tick.MSG_K:  # the kernel projects the messages
        h, c, sum_b, sum_a = triton_tick.fused_ticks_from_messages(h, c, fwd_in, bwd_in, w, bias, tick.num_ticks,
                                                                   tick.state_clip, **options)
    else:
        x_a = _project(fwd_in, w[..., :Fw, :], None, members)
        x_b = _project(bwd_in, w[..., Fw:Fw + Bw, :], bias, members)
        h, c, sum_b, sum_a = triton_tick.fused_ticks(h, c, x_a, x_b, w[..., Fw + Bw:, :], tick.num_ticks,
                                                     tick.state_clip, **options)
    if not reduce:
        fwd_out, bwd_out = dense_messages(params, cfg, h.float())
        return h, c, fwd_out, bwd_out
    A, B = h.shape[1], h.shape[2]
    fwd_out = _project(sum_a / A, params["fwd_w"], params["fwd_b"], members)
    bwd_out = _project(sum_b / B, params["bwd_w"], params["bwd_b"], members)
    return h, c, fwd_out, bwd_out


def _check_triton(tick: DenseTick, params, bias, h, c, fwd_in, bwd_in):
    """Once per device and precision: the kernel on a slice of this call equals the PyTorch path."""
    P, A = min(h.shape[0], 2), min(h.shape[1], 33)
    shapes = param_shapes(tick.cfg)
    part = {k: v[:P] if v.dim() > len(shapes[k]) else v for k, v in params.items()}
    args = (h[:P, :A], c[:P, :A], fwd_in[:P, :A], bwd_in[:P])
    got = _triton_run(tick, part, bias[:P] if bias.dim() == 2 else bias, *args)
    want = DenseTick(tick.cfg, tick.num_ticks, tick.state_clip, backend="torch",
                     state_dtype=tick.state_dtype)(part, *args)
    bf16 = tick.state_dtype == "bfloat16"  # a float32 difference may flip a rounding, and the messages follow
    tol = 1e-2 if tick.precision == "tf32" or bf16 else 1e-4
    rel = 2.0 ** -7 if bf16 else 0.0
    err = max(((a.float() - b.float()).abs() - rel * b.float().abs()).max().item() for a, b in zip(got, want))
    if not err <= tol:  # also catches NaN
        raise RuntimeError(f"self-check failed: max |kernel - PyTorch| = {err:.3g} > {tol}")
    return True
