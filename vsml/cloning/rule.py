"""The rule a cloned sub-LSTM must implement, the sub-LSTM on single synapses, and the shadow network.

Paper: Section 3.2 (Figure 4: what one sub-LSTM computes), Appendix C.1
(retained state dimensions, messages in slot 0); decisions D1-D5 of
:mod:`vsml.cloning`. ``local_targets`` is backpropagation written as a local
rule; ``clone_forward`` / ``clone_backward`` run the sub-LSTM on any batch of
single synapses; the *shadow network* is the mean MLP (D5) that the rule
trains exactly, used as training data (D8) and as the meta-test reference (D10).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..lstm import SubLSTMConfig, lstm_update
from .config import B_DIM, E_SLOT, EPREV_SLOT, TARGETS, W_DIM, X_SLOT, Y_SLOT, CloningConfig

# --------------------------------------------------------------------------- the rule to clone

def local_targets(x, e, w, b, lr: float, bias_scale: float = 1.0) -> dict[str, torch.Tensor]:
    """What one sub-LSTM must compute (Figure 4): ``y``, the SGD updates and the backpropagated error.

    ``db = -bias_scale lr e``: ``bias_scale = 1`` is Figure 4's rule; a smaller
    one keeps the bias from outpacing the weights (``shadow_step``, D7).
    """
    tx = torch.tanh(x)
    # (-bias_scale * lr) is exactly -lr for bias_scale = 1: the targets of the shipped clones, bit for bit.
    return {"y": tx * w + b, "dw": -lr * e * tx, "db": -bias_scale * lr * e, "e_prev": e * w * (1 - tx * tx)}


# --------------------------------------------------------------------------- one sub-LSTM, any batch shape

def gate_offsets(sub: SubLSTMConfig, like: torch.Tensor) -> torch.Tensor:
    N = sub.state_size
    off = torch.zeros(4 * N, dtype=like.dtype, device=like.device)
    off[:N] = sub.input_bias
    off[2 * N:3 * N] = sub.forget_bias
    return off


def initial_state(w: torch.Tensor, b: torch.Tensor, cfg: CloningConfig):
    """The state a sub-LSTM holds between steps (D3): ``h = 0``, ``c = (w/4, b/4, 0, ...)``."""
    shape = torch.broadcast_shapes(w.shape, b.shape)
    c = w.new_zeros(*shape, cfg.state_size)
    c[..., W_DIM] = w / cfg.state_scale
    c[..., B_DIM] = b / cfg.state_scale
    return torch.zeros_like(c), c


def sub_lstm_ticks(params, cfg: CloningConfig, h, c, x, e, state_clip: float | None = None):
    """``num_ticks`` micro-ticks of single sub-LSTMs ``[..., N]`` on fixed inputs ``x``, ``e`` ``[...]``."""
    sub = cfg.sub_lstm
    w_all = params["lstm_w"]
    bias = params["lstm_b"] + gate_offsets(sub, params["lstm_b"])
    # Only slot X_SLOT of the forward and E_SLOT of the backward message are non-zero (D2).
    drive = (x.unsqueeze(-1) * w_all[X_SLOT] + e.unsqueeze(-1) * w_all[sub.fwd_size + E_SLOT] + bias)
    w_h = w_all[sub.input_size:]
    for _ in range(cfg.num_ticks):
        h, c = lstm_update(drive + h @ w_h, c, state_clip)
    return h, c


def clone_forward(params, cfg: CloningConfig, x, w, b) -> torch.Tensor:
    """Forward pass of single sub-LSTMs (error input zero, state discarded): the learned ``y``."""
    h, c = initial_state(w, b, cfg)
    h, _ = sub_lstm_ticks(params, cfg, h, c, x, torch.zeros_like(x))
    return h @ params["fwd_w"][:, Y_SLOT] + params["fwd_b"][Y_SLOT]


def clone_backward(params, cfg: CloningConfig, x, e, w, b) -> dict[str, torch.Tensor]:
    """Backward pass of single sub-LSTMs: the learned ``dw``, ``db`` (from the kept cell dims) and ``e'``."""
    h, c = initial_state(w, b, cfg)
    h, c = sub_lstm_ticks(params, cfg, h, c, x, e)
    return {"dw": c[..., W_DIM] * cfg.state_scale - w, "db": c[..., B_DIM] * cfg.state_scale - b,
            "e_prev": h @ params["bwd_w"][:, EPREV_SLOT] + params["bwd_b"][EPREV_SLOT]}


def clone_outputs(params, cfg: CloningConfig, x, e, w, b) -> dict[str, torch.Tensor]:
    """All four learned outputs of single sub-LSTMs, keyed like :func:`local_targets`."""
    return {"y": clone_forward(params, cfg, x, w, b), **clone_backward(params, cfg, x, e, w, b)}


def cloning_errors(params, cfg: CloningConfig, x, e, w, b) -> dict[str, float]:
    """Root-mean-square and max absolute error of each output against the rule, on given inputs."""
    with torch.no_grad():
        got, want = clone_outputs(params, cfg, x, e, w, b), local_targets(x, e, w, b, cfg.lr, cfg.bias_scale)
    out = {}
    for k in TARGETS:
        d = (got[k] - want[k]).abs()
        out[f"rmse_{k}"] = float(d.pow(2).mean().sqrt())
        out[f"max_{k}"] = float(d.max())
    return out


# --------------------------------------------------------------------------- the shadow network (D5)

Layers = list  # [(w [A, B], b [A, B]), ...]: one weight and one bias per sub-LSTM


def init_layers(sizes, w_init: float, generator: torch.Generator | None = None) -> Layers:
    """``w ~ U(-w_init, w_init)``, ``b = 0`` for every synapse (shadow and VSML networks alike)."""
    layers = []
    for A, B in zip(sizes[:-1], sizes[1:]):
        w = (torch.rand(A, B, generator=generator) * 2 - 1) * w_init
        layers.append((w, torch.zeros(A, B)))
    return layers


def shadow_forward(layers: Layers, x: torch.Tensor) -> list[torch.Tensor]:
    """Inputs of every layer and the output, ``[z^0 = x, z^1, ..., z^K]``, of the mean MLP (D5)."""
    zs = [x]
    for w, b in layers:
        zs.append((torch.tanh(zs[-1]) @ w + b.sum(0)) / w.shape[0])
    return zs


def top_error(z_top: torch.Tensor, y: torch.Tensor, gain: float) -> torch.Tensor:
    """``softmax(G z^K) - onehot(y)``: the error fed into the last layer's backward message (D5, D6)."""
    return torch.softmax(gain * z_top, -1) - F.one_hot(y, z_top.shape[-1]).to(z_top.dtype)


def layer_rates(lr, num_layers: int) -> list[float]:
    """One inner learning rate per layer from a number or a sequence of ``num_layers`` numbers."""
    rates = [float(lr)] * num_layers if isinstance(lr, (int, float)) else [float(r) for r in lr]
    if len(rates) != num_layers or any(not r >= 0 for r in rates):
        raise ValueError(f"lr must be a number >= 0 or {num_layers} such numbers (one per layer), got {lr!r}")
    return rates


def shadow_step(layers: Layers, x, y, gain: float, lr, bias_scale: float = 1.0):
    """One batched step of exact backpropagation/SGD on the mean MLP, written as the local rule.

    ``lr`` is one inner learning rate for all layers or a sequence of one per
    layer (D5 gives each layer its effective rate ``lr_k A_k s_k / G``);
    the biases move with ``bias_scale`` times it (``db = -bias_scale lr e``:
    every one of a unit's ``A`` synapses gets the same ``db``, so with
    ``bias_scale = 1`` the bias outpaces the weights, see
    :mod:`vsml.cloning.shadow_sweep`).
    Returns ``(new_layers, zs, errors)`` where ``errors[k]`` is the error
    entering layer ``k``'s backward message (``errors[-1]`` the top error).
    Every example's update is the local rule; the batch's updates are
    averaged, as the VSML network averages its ``w, b`` states (C.1).
    """
    zs = shadow_forward(layers, x)
    errors = [None] * len(layers)
    e = top_error(zs[-1], y, gain)
    new = list(layers)
    lrs = layer_rates(lr, len(layers))
    for k in reversed(range(len(layers))):
        w, b = layers[k]
        errors[k] = e
        tx = torch.tanh(zs[k])                                     # [P, A]
        dw = -lrs[k] * tx.T @ e / x.shape[0]                       # mean over the batch of -lr e tanh(x)
        db = (-lrs[k] * bias_scale * e.mean(0)).expand_as(b)
        e = (e @ w.T) / w.shape[1] * (1 - tx * tx)                 # mean over b of e w (1 - tanh^2 x)
        new[k] = (w + dw, b + db)
    return new, zs, errors


def shadow_loss(layers: Layers, x, y, gain: float) -> torch.Tensor:
    """Cross-entropy of ``G z^K`` (the loss that ``shadow_step`` descends, D5)."""
    return F.cross_entropy(gain * shadow_forward(layers, x)[-1], y)
