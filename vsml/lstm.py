"""The shared sub-LSTM: meta variables V_M and one tick of a dense VSML layer.

Paper: Section 3 ("Stacking VSML RNNs", Eq. 7, Figures 2-3) and Appendix C
(Eq. 16, "LSTM implementation"). Every weight of a dense layer with ``A``
inputs and ``B`` outputs is replaced by a tiny LSTM with state ``(h, c)`` of
size ``N``; all of them share one set of parameters ``V_M``:

* gates from one affine map of ``[fwd_msg (N'), bwd_msg (N''), h (N)]`` to
  ``4N`` pre-activations in the order i, g, f, o, with constant offsets
  (forget +5, input -5: memory persists, writes are slow);
  ``c <- sig(f) c + sig(i) tanh(g)``, ``h <- sig(o) tanh(c)``;
* messages ``f_fwd, f_bwd: R^N -> R^8`` are affine maps of ``h``, AVERAGED over
  the summed axis (Appendix C: averaging stabilises meta-training).

``|V_M| = 32*64 + 64 + 2*(16*8 + 8) = 2,384`` for ``N = 16``.

Parameters are a dict of tensors (``param_shapes`` gives the fixed order).
Without a leading dimension they are shared by every episode in a batch; with
a leading dimension ``P`` each batch member has its own (an ES population,
evotorch-style ``[P, D]`` flat vectors via ``unflatten_params``).

The tick has two formulations. ``dense_tick_reference`` (here) is the
straightforward one (one affine map per sub-LSTM over the concatenated input,
messages projected per sub-LSTM, then averaged). ``DenseTick``
(:mod:`vsml.dense_tick`) is the fast one:
the message part of the gates splits into a per-``a`` and a per-``b`` term that
are projected once and broadcast, the projection is reused across
micro-ticks, messages are averaged before they are projected (they are linear
in ``h``). Without autograd (ES, meta-testing) it runs a fused kernel that
keeps every sub-LSTM's state in registers across the micro-ticks and never
writes the gate pre-activations (``vsml.kernels``: C++ on the CPU, Triton on
CUDA); under autograd (BPTT) it runs PyTorch ops, optionally fused by
``torch.compile``. All give the same numbers within float32 rounding (tested).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GATE_ORDER = ("i", "g", "f", "o")


@dataclass(frozen=True)
class SubLSTMConfig:
    """Hyper-parameters of the shared sub-LSTM (paper defaults for meta learning from scratch)."""

    state_size: int = 16      # N (64 for learning-algorithm cloning)
    fwd_size: int = 8         # N', forward message size
    bwd_size: int = 8         # N'', backward message size
    forget_bias: float = 5.0  # constant offset on the forget gate
    input_bias: float = -5.0  # constant offset on the input gate
    layer_norm: bool = False  # LayerNorm (with scale and offset) on each sub-LSTM's messages

    def __post_init__(self):
        for name in ("state_size", "fwd_size", "bwd_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.fwd_size < 2:
            raise ValueError("fwd_size must be >= 2: slot 0 carries the input, slot 1 the prediction")

    @property
    def input_size(self) -> int:
        return self.fwd_size + self.bwd_size


def param_shapes(cfg: SubLSTMConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of V_M, in the order used by flat vectors."""
    N, Fw, Bw = cfg.state_size, cfg.fwd_size, cfg.bwd_size
    shapes = {
        "lstm_w": (cfg.input_size + N, 4 * N),  # rows: fwd msg, bwd msg, h
        "lstm_b": (4 * N,),
        "fwd_w": (N, Fw),
        "fwd_b": (Fw,),
        "bwd_w": (N, Bw),
        "bwd_b": (Bw,),
    }
    if cfg.layer_norm:
        shapes.update(fwd_ln_scale=(Fw,), fwd_ln_bias=(Fw,), bwd_ln_scale=(Bw,), bwd_ln_bias=(Bw,))
    return shapes


def param_count(cfg: SubLSTMConfig) -> int:
    """|V_M|: 2,384 for the paper's N=16, N'=N''=8."""
    return sum(math.prod(s) for s in param_shapes(cfg).values())


def init_params(cfg: SubLSTMConfig, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32, device=None) -> dict[str, torch.Tensor]:
    """Weights truncated normal (2 std) with std 1/sqrt(fan_in), biases 0, LayerNorm scale 1."""
    params = {}
    for name, shape in param_shapes(cfg).items():
        t = torch.zeros(shape, dtype=dtype, device=device)
        if name.endswith("_w"):
            std = 1.0 / math.sqrt(shape[0])
            torch.nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std, generator=generator)
        elif name.endswith("_ln_scale"):
            t.fill_(1.0)
        params[name] = t
    return params


def flatten_params(params: dict[str, torch.Tensor], cfg: SubLSTMConfig) -> torch.Tensor:
    """Dict -> flat ``[D]`` (shared) or ``[P, D]`` (per member) vector."""
    shapes = param_shapes(cfg)
    if set(params) != set(shapes):
        raise ValueError(f"parameter names {sorted(params)} do not match the config's {sorted(shapes)}")
    lead = params["lstm_b"].shape[:-1]
    parts = []
    for name, shape in shapes.items():
        t = params[name]
        if tuple(t.shape) != (*lead, *shape):
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {(*lead, *shape)}")
        parts.append(t.reshape(*lead, -1))
    return torch.cat(parts, dim=-1)


def unflatten_params(flat: torch.Tensor, cfg: SubLSTMConfig) -> dict[str, torch.Tensor]:
    """Flat ``[D]`` or ``[P, D]`` vector -> dict of views (shared or per member)."""
    D = param_count(cfg)
    if flat.dim() not in (1, 2) or flat.shape[-1] != D:
        raise ValueError(f"expected a flat parameter vector [D={D}] or [P, D={D}], got {tuple(flat.shape)}")
    lead = flat.shape[:-1]
    params, offset = {}, 0
    for name, shape in param_shapes(cfg).items():
        n = math.prod(shape)
        params[name] = flat[..., offset:offset + n].reshape(*lead, *shape)
        offset += n
    return params


def num_members(params: dict[str, torch.Tensor]) -> int | None:
    """``P`` for per-member parameters, ``None`` for shared ones."""
    b = params["lstm_b"]
    return b.shape[0] if b.dim() == 2 else None


def check_params(params: dict[str, torch.Tensor], cfg: SubLSTMConfig, batch_size: int) -> None:
    """One-line ``ValueError`` unless ``params`` is a V_M dict of ``cfg``'s shapes, shared or one per batch row."""
    shapes = param_shapes(cfg)
    if set(params) != set(shapes):
        missing, extra = set(shapes) - set(params), set(params) - set(shapes)
        raise ValueError(f"parameters do not match SubLSTMConfig: missing {sorted(missing)}, unknown {sorted(extra)}")
    members = num_members(params)
    for name, shape in shapes.items():
        want = shape if members is None else (members, *shape)
        if tuple(params[name].shape) != want:
            raise ValueError(f"parameter {name} has shape {tuple(params[name].shape)}, expected {want}")
    if members is not None and members != batch_size:
        raise ValueError(f"per-member parameters for {members} members but the batch has {batch_size}")


def _gate_offsets(cfg: SubLSTMConfig, like: torch.Tensor) -> torch.Tensor:
    N = cfg.state_size
    off = torch.zeros(4 * N, dtype=like.dtype, device=like.device)
    off[0:N] = cfg.input_bias
    off[2 * N:3 * N] = cfg.forget_bias
    return off


def _expand_member(t: torch.Tensor, members: int | None, ndim_extra: int) -> torch.Tensor:
    """Insert broadcast axes after the member axis (per-member) or in front (shared)."""
    if members is None:
        return t
    return t.reshape(t.shape[0], *([1] * ndim_extra), *t.shape[1:])


def lstm_update(pre: torch.Tensor, c: torch.Tensor, state_clip: float | None):
    """Element-wise LSTM update from gate pre-activations ``[..., 4N]`` (order i, g, f, o)."""
    i, g, f, o = pre.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if state_clip is not None:
        c = c.clamp(-state_clip, state_clip)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def _layer_norm(x, scale, bias, members):
    y = F.layer_norm(x, x.shape[-1:])
    return y * _expand_member(scale, members, x.dim() - 2) + _expand_member(bias, members, x.dim() - 2)


def dense_messages(params, cfg: SubLSTMConfig, h: torch.Tensor):
    """Outgoing messages of a dense layer from ``h`` ``[P, A, B, N]``.

    Forward: mean over ``a`` -> ``[P, B, N']``; backward: mean over ``b`` -> ``[P, A, N'']``.
    Without LayerNorm, mean first and project after (the maps are affine).
    """
    members = num_members(params)
    if cfg.layer_norm:
        fwd = _project(h, params["fwd_w"], params["fwd_b"], members)
        bwd = _project(h, params["bwd_w"], params["bwd_b"], members)
        fwd = _layer_norm(fwd, params["fwd_ln_scale"], params["fwd_ln_bias"], members)
        bwd = _layer_norm(bwd, params["bwd_ln_scale"], params["bwd_ln_bias"], members)
        return fwd.mean(dim=1), bwd.mean(dim=2)
    fwd = _project(h.mean(dim=1), params["fwd_w"], params["fwd_b"], members)
    bwd = _project(h.mean(dim=2), params["bwd_w"], params["bwd_b"], members)
    return fwd, bwd


def _project(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, members: int | None) -> torch.Tensor:
    """Affine map on the last axis of ``x`` ``[P, ..., n]`` with shared or per-member ``w``."""
    if members is None:
        return x @ w if b is None else x @ w + b
    lead = x.shape[1:-1]
    out = torch.bmm(x.reshape(x.shape[0], -1, x.shape[-1]), w)
    if b is not None:
        out = out + b.unsqueeze(1)
    return out.reshape(x.shape[0], *lead, w.shape[-1])


def dense_tick_reference(params, cfg: SubLSTMConfig, h, c, fwd_in, bwd_in, num_ticks: int = 2,
                         state_clip: float | None = None):
    """The straightforward formulation, kept as the reference for tests and the benchmark.

    Every sub-LSTM ``(a, b)`` applies one affine map to its own concatenated
    ``[fwd_in[a], bwd_in[b], h[a, b]]``; messages are projected per sub-LSTM, then averaged.
    """
    members = num_members(params)
    P, A, B, N = h.shape
    w = params["lstm_w"]
    bias = params["lstm_b"] + _gate_offsets(cfg, params["lstm_b"])
    msgs = torch.cat([fwd_in.unsqueeze(2).expand(P, A, B, cfg.fwd_size),
                      bwd_in.unsqueeze(1).expand(P, A, B, cfg.bwd_size)], dim=-1)
    for _ in range(num_ticks):
        inp = torch.cat([msgs, h], dim=-1)
        pre = _project(inp, w, bias, members)
        h, c = lstm_update(pre, c, state_clip)
    fwd = _project(h, params["fwd_w"], params["fwd_b"], members)
    bwd = _project(h, params["bwd_w"], params["bwd_b"], members)
    if cfg.layer_norm:
        fwd = _layer_norm(fwd, params["fwd_ln_scale"], params["fwd_ln_bias"], members)
        bwd = _layer_norm(bwd, params["bwd_ln_scale"], params["bwd_ln_bias"], members)
    return h, c, fwd.mean(dim=1), bwd.mean(dim=2)


def __getattr__(name):
    # DenseTick moved to vsml.dense_tick (imported lazily: it imports this module).
    if name in ("DenseTick", "BACKENDS", "STATE_DTYPES"):
        from . import dense_tick
        return getattr(dense_tick, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
