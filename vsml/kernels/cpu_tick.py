"""A fused CPU kernel for one dense VSML layer update (Section 3, Eq. 7; Appendix C).

One call does all of ``vsml.dense_tick.DenseTick``: the message part of the gates
(one ``fwd_in[a] @ W_fwd`` per input ``a``, one ``bwd_in[b] @ W_bwd + bias`` per
output ``b``), ``num_ticks`` LSTM updates of every sub-LSTM with ``h, c`` in
registers, one write of ``h, c``, and the outgoing messages (Appendix C:
averaged; without LayerNorm averaged first and projected after, with LayerNorm
projected and normalised per sub-LSTM, then averaged).

The source (``cpu_tick_source``) is C++ with GCC vector extensions (16 floats per vector: one
AVX-512 register, two AVX2 ones) and POSIX threads that claim work items
(member ``p``, 16 inputs ``a``) from a shared counter, so a thread that a busy
machine delays holds back only its own item. It is compiled on first use with
the system's C++ compiler (the one ``torch.compile`` also needs), cached per
state size, source and CPU, and called through ``ctypes`` (which releases the
GIL). ``exp`` is a branch-free polynomial (about 1 ulp), so the results equal
PyTorch's within float32 rounding; they do not depend on the number of
threads (every sum has a fixed order). Where no compiler works, ``library``
returns None and ``vsml.lstm`` keeps its PyTorch path.

First-touch page faults on the new ``h, c`` cost about half as much as the
kernel itself at P = 64 (measured again on 2026-11-28 for one episode on the
784x10 layer, 2 threads: 0.59 ms per call with new buffers, 0.31 ms writing
into existing ones). ``VSML_HUGE_PAGES=1`` asks Linux for transparent huge
pages there: measured here 85 instead of 127 ms per example in a loop of
kernel calls, but 230-370 ms right after large PyTorch allocations had been
freed, so it is off by default.

``in_place=True`` writes the new ``h, c`` over the old ones instead: safe
because every work item reads a sub-LSTM's state into registers before it
writes it, and no other item touches that sub-LSTM. Loops that own their state
(``VSMLNetwork.run_episode``, ES episodes) use it from their second example on.
"""
from __future__ import annotations

import ctypes
import os
import platform

import torch

from .build import cached_function
from .cpu_tick_source import SOURCE

MAX_MESSAGE = 64  # largest N, N', N'' the kernel's stack buffers hold

_POINTERS = ("h", "c", "fwd_in", "bwd_in", "lstm_w", "bias", "fwd_w", "fwd_b", "bwd_w", "bwd_b",
             "fwd_ln_scale", "fwd_ln_bias", "bwd_ln_scale", "bwd_ln_bias",
             "h_out", "c_out", "fwd_out", "bwd_out", "fwd_part")
_INTS = ("P", "A", "B", "FW", "BW", "per_member", "ticks", "layer_norm", "has_clip", "threads")
CHUNK = 16  # must match the source


class _TickArgs(ctypes.Structure):
    _fields_ = ([(n, ctypes.c_void_p) for n in _POINTERS] + [(n, ctypes.c_int64) for n in _INTS]
                + [("clip", ctypes.c_float), ("ln_eps", ctypes.c_float)])


def library(state_size: int):
    """The compiled kernel for ``N = state_size`` (cached), or None where it cannot be built."""
    return cached_function(SOURCE, "vsml_tick", "vsml_dense_tick", _TickArgs, state_size, "CPU tick kernel")


_HUGE = 2 << 20


def _huge_page_hint(t: torch.Tensor) -> torch.Tensor:
    """Ask Linux to back the 2 MiB-aligned interior of a large new tensor with huge pages (a hint only)."""
    if _MADVISE is None or t.numel() * t.element_size() < 4 * _HUGE:
        return t
    start, end = t.data_ptr(), t.data_ptr() + t.numel() * t.element_size()
    lo, hi = -(-start // _HUGE) * _HUGE, end // _HUGE * _HUGE
    if hi > lo:
        _MADVISE(lo, hi - lo, 14)  # MADV_HUGEPAGE; an error (e.g. THP off) changes nothing
    return t


def _madvise():
    if platform.system() != "Linux" or os.environ.get("VSML_HUGE_PAGES", "0") != "1":
        return None
    try:
        fn = ctypes.CDLL(None).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return fn


_MADVISE = _madvise()


def supports(cfg, *tensors: torch.Tensor) -> bool:
    """Whether the kernel applies: float32 CPU tensors, ``N`` a multiple of 16, small messages, not disabled."""
    if os.environ.get("VSML_CPU_KERNEL", "1") == "0":
        return False
    if cfg.state_size % 16 or max(cfg.state_size, cfg.fwd_size, cfg.bwd_size) > MAX_MESSAGE:
        return False
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


def dense_tick(params, cfg, h, c, fwd_in, bwd_in, num_ticks: int, state_clip: float | None, bias: torch.Tensor,
               threads: int | None = None, in_place: bool = False):
    """``DenseTick``'s result from the kernel. ``bias``: ``lstm_b`` plus the gate offsets.

    ``in_place``: write the new states into ``h`` and ``c`` themselves (both contiguous and distinct; the
    caller promises that nothing else needs the old states). Returns None where the kernel cannot be built
    (the caller falls back).
    """
    fn = library(cfg.state_size)
    if fn is None:
        return None
    from ..lstm import check_params
    P, A, B, N = h.shape
    check_params(params, cfg, P)  # the C++ side trusts every shape: check them all here
    per_member = params["lstm_b"].dim() == 2
    want = {"h": (P, A, B, N), "c": (P, A, B, N), "fwd_in": (P, A, cfg.fwd_size), "bwd_in": (P, B, cfg.bwd_size),
            "bias": ((P,) if per_member else ()) + (4 * N,)}
    for name, t in zip(want, (h, c, fwd_in, bwd_in, bias)):
        if tuple(t.shape) != want[name]:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {want[name]} (h is {tuple(h.shape)})")
    tensors = {"h": h, "c": c, "fwd_in": fwd_in, "bwd_in": bwd_in, "bias": bias,
               **{k: params[k] for k in ("lstm_w", "fwd_w", "fwd_b", "bwd_w", "bwd_b")}}
    if cfg.layer_norm:
        tensors.update({k: params[k] for k in ("fwd_ln_scale", "fwd_ln_bias", "bwd_ln_scale", "bwd_ln_bias")})
    if in_place and not (h.is_contiguous() and c.is_contiguous() and h.data_ptr() != c.data_ptr()):
        raise ValueError("in_place needs contiguous, distinct h and c")
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    nch = -(-A // CHUNK)
    if in_place:
        new_h, new_c = tensors["h"], tensors["c"]
    else:
        new_h, new_c = (_huge_page_hint(torch.empty_like(tensors[k])) for k in ("h", "c"))
    out = {"h_out": new_h, "c_out": new_c,
           "fwd_out": h.new_empty(P, B, cfg.fwd_size), "bwd_out": h.new_empty(P, A, cfg.bwd_size),
           "fwd_part": h.new_empty(P, nch, B, cfg.fwd_size if cfg.layer_norm else N)}
    args = _TickArgs(**{k: v.data_ptr() for k, v in {**tensors, **out}.items()},
                     P=P, A=A, B=B, FW=cfg.fwd_size, BW=cfg.bwd_size, per_member=int(per_member),
                     ticks=num_ticks, layer_norm=int(cfg.layer_norm), has_clip=int(state_clip is not None),
                     threads=threads or torch.get_num_threads(),
                     clip=float(state_clip or 0.0), ln_eps=1e-5)
    if fn(ctypes.byref(args)) != 0:
        raise MemoryError("CPU tick kernel: out of memory for its per-thread buffers")
    return out["h_out"], out["c_out"], out["fwd_out"], out["bwd_out"]
