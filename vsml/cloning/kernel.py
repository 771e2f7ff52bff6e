"""Fused CPU passes of a cloned layer: the default meta-test path of ``ClonedNetwork`` (D3, D10).

Paper: Section 4.1 (Figure 5: a network trained purely by running the cloned
``V_M`` forward), Appendix B.1 (Figure 11: 784-32-10) and C.1 ("Batching":
every example has its own sub-LSTM copies; the retained ``w, b`` are averaged
over the batch). The C++ source (:mod:`vsml.cloning.kernel_source`) says how
decision D3 (the cloned rule is a memoryless function of ``(x, e, w, b)``
between steps) lets one call run a whole layer for the whole batch without
materialising ``[P, A, B, N]`` states.

The kernel is built with the system's C++ compiler on first use (as
:mod:`vsml.kernels.cpu_tick`, whose cache folder it shares) and called through
``ctypes``. It applies to float32 CPU tensors, ``num_ticks = 2`` (the shipped
clones) and ``N`` a multiple of 16 up to 64; elsewhere :func:`available` says
no and ``ClonedNetwork`` keeps its PyTorch passes (``impl="fast"``), which the
tests compare it with (float32 round-off: ``atol = 1e-5``).
"""
from __future__ import annotations

import ctypes
import threading
import warnings

import torch

from ..kernels.build import build
from .config import W_DIM, B_DIM, CloningConfig
from .kernel_source import SOURCE


class _ClonedArgs(ctypes.Structure):
    _fields_ = ([(n, ctypes.c_void_p) for n in ("x", "e", "w", "b", "r_x", "r_e", "bias", "w_h", "w_cols", "v",
                                                 "out", "w_sum", "b_sum")]
                + [(n, ctypes.c_int64) for n in ("P", "A", "B", "need_error", "has_clip")]
                + [(n, ctypes.c_float) for n in ("v0", "scale", "clip")])


_LIBS: dict[int, object] = {}
_LOCK = threading.Lock()


def _build(state_size: int):
    lib = build(SOURCE, "vsml_cloned", state_size, "cloned-layer kernel")
    for name in ("vsml_cloned_forward", "vsml_cloned_backward"):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = [ctypes.POINTER(_ClonedArgs)], ctypes.c_int
    return lib


def library(state_size: int):
    """The compiled kernel for ``N = state_size`` (cached), or None where it cannot be built."""
    with _LOCK:
        if state_size not in _LIBS:
            try:
                _LIBS[state_size] = _build(state_size)
            except (RuntimeError, OSError) as exc:
                warnings.warn(f"cloned-layer kernel unavailable ({exc}); using the PyTorch passes")
                _LIBS[state_size] = None
        return _LIBS[state_size]


def available(cfg: CloningConfig, params) -> bool:
    """Whether the fused passes apply to this clone (two micro-ticks, N a multiple of 16 <= 64, float32 CPU)."""
    N = cfg.state_size
    if cfg.num_ticks != 2 or N % 16 or N > 64 or W_DIM != 0 or B_DIM != 1:
        return False
    if any(t.dtype != torch.float32 or t.device.type != "cpu" for t in params.values()):
        return False
    return library(N) is not None


def prepare(pp: dict) -> dict:
    """Contiguous float32 copies of the prepared parameters (``network._prepare``) the kernel reads."""
    cols = pp["w_h"][:, pp["cols"]].T          # [6, N]: i, g, f columns of cell dims 0 and 1
    out = {k: pp[k].detach().float().contiguous() for k in ("r_x", "r_e", "bias", "w_h", "v_fwd", "v_bwd")}
    out["w_cols"] = cols.detach().float().contiguous()
    out["v0_fwd"], out["v0_bwd"] = float(pp["v0_fwd"]), float(pp["v0_bwd"])
    return out


def _args(kp, cfg, x, e, w, b, v, v0, clip, need_error, out, w_sum=None, b_sum=None):
    ptr = lambda t: None if t is None else t.data_ptr()  # noqa: E731
    return _ClonedArgs(x=ptr(x), e=ptr(e), w=ptr(w), b=ptr(b), r_x=ptr(kp["r_x"]), r_e=ptr(kp["r_e"]),
                       bias=ptr(kp["bias"]), w_h=ptr(kp["w_h"]), w_cols=ptr(kp["w_cols"]), v=ptr(v),
                       out=ptr(out), w_sum=ptr(w_sum), b_sum=ptr(b_sum), P=x.shape[0], A=w.shape[0],
                       B=w.shape[1], need_error=int(need_error), has_clip=int(clip is not None),
                       v0=v0, scale=float(cfg.state_scale), clip=float(clip or 0.0))


def _inputs(x, w, b, e=None):
    x, w, b = (t.detach().float().contiguous() for t in (x, w, b))
    if x.shape[1] != w.shape[0] or w.shape != b.shape:
        raise ValueError(f"x {tuple(x.shape)} does not fit w {tuple(w.shape)}, b {tuple(b.shape)}")
    if e is not None:
        e = e.detach().float().contiguous()
        if e.shape != (x.shape[0], w.shape[1]):
            raise ValueError(f"e has shape {tuple(e.shape)}, expected {(x.shape[0], w.shape[1])}")
    return x, w, b, e


def layer_forward(kp: dict, cfg: CloningConfig, x, w, b, clip=None) -> torch.Tensor:
    """``z [P, B] = mean_a y_pab``, as ``network.fast_layer_forward`` (error input zero, states discarded)."""
    x, w, b, _ = _inputs(x, w, b)
    out = x.new_empty(x.shape[0], w.shape[1])
    args = _args(kp, cfg, x, None, w, b, kp["v_fwd"], kp["v0_fwd"], clip, False, out)
    if library(cfg.state_size).vsml_cloned_forward(ctypes.byref(args)) != 0:
        raise MemoryError("cloned-layer kernel: out of memory")
    return out


def layer_backward(kp: dict, cfg: CloningConfig, x, e, w, b, clip=None, need_error: bool = True):
    """``(sum over P of new w, of new b, e_prev [P, A] or None)``, as ``network.fast_layer_backward``."""
    x, w, b, e = _inputs(x, w, b, e)
    w_sum, b_sum = torch.empty_like(w), torch.empty_like(b)
    e_prev = x.new_empty(x.shape) if need_error else None
    args = _args(kp, cfg, x, e, w, b, kp["v_bwd"], kp["v0_bwd"], clip, need_error, e_prev, w_sum, b_sum)
    library(cfg.state_size).vsml_cloned_backward(ctypes.byref(args))
    return w_sum, b_sum, e_prev
