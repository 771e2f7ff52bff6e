"""A fused CPU kernel for the micro-ticks of a convolutional VSML layer (Appendix B.2; :mod:`vsml.conv`).

``vsml.conv.ConvTick`` calls :func:`conv_ticks` for inference (no autograd,
float32, CPU): one call does every micro-tick of every kernel weight at all its
instances and the message sums, where the PyTorch path materialises
``[P, L, C_in, K_h, K_w, C_out, 4N]`` gate pre-activations per tick. The
source (``cpu_conv_source``) is built like the dense kernel's
(:mod:`vsml.kernels.build`); every sum has a fixed order, so the result does
not depend on the number of threads. Where no compiler works,
:func:`library` returns None and ``ConvTick`` keeps its PyTorch path
(``VSML_CPU_KERNEL=0`` turns both CPU kernels off).
"""
from __future__ import annotations

import ctypes
import threading

import torch

from . import cpu_tick
from .build import cached_function
from .cpu_conv_source import SOURCE

_POINTERS = ("h", "c", "x_in", "x_out", "w_h", "fwd_w", "fwd_b", "bwd_w", "bwd_b",
             "fwd_ln_scale", "fwd_ln_bias", "bwd_ln_scale", "bwd_ln_bias", "inst_l", "inst_i", "inst_count",
             "h_out", "c_out", "fwd_part", "fwd_sum", "bwd_cols")
_INTS = ("P", "CI", "K", "CO", "HW", "L", "MAXI", "FW", "BW", "per_member", "ticks", "layer_norm", "has_clip",
         "threads")


class _ConvArgs(ctypes.Structure):
    _fields_ = ([(n, ctypes.c_void_p) for n in _POINTERS] + [(n, ctypes.c_int64) for n in _INTS]
                + [("clip", ctypes.c_float), ("ln_eps", ctypes.c_float)])


_SCRATCH = threading.local()  # per thread: the forward partial sums, reused (first-touch faults cost as much)


def _scratch(numel: int) -> torch.Tensor:
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.numel() < numel:
        buf = _SCRATCH.buf = torch.empty(numel)
    return buf[:numel]


def library(state_size: int):
    """The compiled kernel for ``N = state_size`` (cached), or None where it cannot be built."""
    return cached_function(SOURCE, "vsml_conv", "vsml_conv_tick", _ConvArgs, state_size, "CPU conv tick kernel")


def supports(cfg, mask: torch.Tensor, *tensors: torch.Tensor) -> bool:
    """The dense kernel's conditions (:func:`vsml.kernels.cpu_tick.supports`: float32 CPU tensors, ``N`` a
    multiple of 16, small messages, not disabled), and every kernel element has an instance."""
    if not cpu_tick.supports(cfg, *tensors):
        return False
    return bool((mask.sum(0) > 0).all())  # the PyTorch path would divide by zero there


def instance_table(geom, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per kernel element: its instances' output positions ``l`` and input positions ``iy * W + ix``
    (``[K, max]``, padded), and how many there are (``[K]``). Cached on ``geom`` (it depends on nothing else)."""
    cached = getattr(geom, "_instance_table", None)
    if cached is not None:
        return cached
    Kh, Kw = geom.kernel
    (sy, sx), (py, px), (_, W), (_, Wo) = geom.stride, geom.padding, geom.in_size, geom.out_size
    valid = mask.reshape(mask.shape[0], Kh * Kw).bool().t()  # [K, L]
    count = valid.sum(1)
    ls = torch.zeros(Kh * Kw, int(count.max()), dtype=torch.int64)
    iis = torch.zeros_like(ls)
    for k in range(Kh * Kw):
        l = valid[k].nonzero().flatten()
        ky, kx = divmod(k, Kw)
        iy, ix = (l // Wo) * sy + ky - py, (l % Wo) * sx + kx - px
        ls[k, :len(l)], iis[k, :len(l)] = l, iy * W + ix
    geom._instance_table = (ls, iis, count.to(torch.int64))
    return geom._instance_table


def conv_ticks(params, cfg, geom, mask, h, c, x_in, x_out, num_ticks: int, state_clip: float | None,
               threads: int | None = None):
    """The micro-ticks of ``vsml.conv._conv_ticks`` and its message sums, fused.

    ``h, c`` ``[P, C_in, K_h, K_w, C_out, N]``; ``x_in`` ``[P, C_in, H, W, 4N]`` (the forward message part
    of the gates per input position), ``x_out`` ``[P, C_out, H_o, W_o, 4N]`` (backward part with the bias).
    Returns ``(h, c, fwd_sum [P, L, C_out, .], bwd_cols [P, L, C_in, K_h, K_w, .])`` with ``.`` = ``N``
    (sums of the instances' ``h``) or, with LayerNorm, ``N'`` / ``N''`` (sums of their normalised messages);
    None where the kernel cannot be built.
    """
    fn = library(cfg.state_size)
    if fn is None:
        return None
    P, C_in, Kh, Kw, C_out, N = h.shape
    L, K = geom.num_out, Kh * Kw
    G = 4 * N
    H, W = geom.in_size
    want = {"c": tuple(h.shape), "x_in": (P, C_in, H, W, G), "x_out": (P, C_out, *geom.out_size, G)}
    for name, t in zip(want, (c, x_in, x_out)):  # the C++ side trusts every shape: check them here
        if tuple(t.shape) != want[name]:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {want[name]} (h is {tuple(h.shape)})")
    per_member = params["lstm_w"].dim() == 3
    w_h = params["lstm_w"][..., cfg.fwd_size + cfg.bwd_size:, :]
    tensors = {"h": h, "c": c, "x_in": x_in, "x_out": x_out, "w_h": w_h,
               **{k: params[k] for k in ("fwd_w", "fwd_b", "bwd_w", "bwd_b")}}
    if cfg.layer_norm:
        tensors.update({k: params[k] for k in ("fwd_ln_scale", "fwd_ln_bias", "bwd_ln_scale", "bwd_ln_bias")})
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    ls, iis, count = instance_table(geom, mask)
    fwid = cfg.fwd_size if cfg.layer_norm else N
    bwid = cfg.bwd_size if cfg.layer_norm else N
    out = {"h_out": torch.empty_like(tensors["h"]), "c_out": torch.empty_like(tensors["c"]),
           "fwd_part": _scratch(P * C_in * K * L * C_out * fwid), "fwd_sum": h.new_empty(P, L, C_out, fwid),
           "bwd_cols": h.new_empty(P, L, C_in, K, bwid)}
    args = _ConvArgs(**{k: v.data_ptr() for k, v in {**tensors, **out}.items()},
                     inst_l=ls.data_ptr(), inst_i=iis.data_ptr(), inst_count=count.data_ptr(),
                     P=P, CI=C_in, K=K, CO=C_out, HW=H * W, L=L, MAXI=ls.shape[1], FW=cfg.fwd_size,
                     BW=cfg.bwd_size, per_member=int(per_member), ticks=num_ticks, layer_norm=int(cfg.layer_norm),
                     has_clip=int(state_clip is not None), threads=threads or torch.get_num_threads(),
                     clip=float(state_clip or 0.0), ln_eps=1e-5)
    if fn(ctypes.byref(args)) != 0:
        raise RuntimeError("CPU conv tick kernel failed")
    return (out["h_out"], out["c_out"], out["fwd_sum"],
            out["bwd_cols"].reshape(P, L, C_in, Kh, Kw, bwid))
