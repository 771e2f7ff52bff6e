"""Learning algorithm cloning: teach the shared sub-LSTM to *be* backpropagation.

Paper: Section 3.2 (Figure 4), Section 4.1 (Figure 5), Appendix B.1 (Figure 10,
the curriculum, Figure 11), Appendix C ("LSTM implementation", "Bounded
states in LSTMs") and C.1 ("General training remarks", "Batching", "Stability
during meta testing") of Kirsch & Schmidhuber (2021). The authors published no
code for this part; every choice below is ours and is stated with its reason.

What is cloned (Figure 4). Every sub-LSTM ``(a, b)`` of a dense layer plays one
weight ``w`` and one bias ``b`` of a standard network and must

1. keep ``w`` and ``b`` in two designated state dimensions,
2. forward: send ``y = tanh(x) w + b`` (its forward-message output),
3. backward: change ``w`` and ``b`` as SGD would, ``dw = -lr e tanh(x)`` and
   ``db = -lr e``, and send the backpropagated error
   ``e' = e w (1 - tanh(x)^2)`` (its backward-message output; ``w`` is the
   weight *before* the update, as in backpropagation).

Design decisions (D1-D10)
-------------------------
D1  State layout. ``w / 4`` and ``b / 4`` live in the *cell* state
    ``c[0]``, ``c[1]`` (Appendix C, "Bounded states": scale 4). The cell is
    the LSTM's memory: with the constant forget-gate offset +5 it persists and
    changes additively (``c <- sig(f) c + sig(i) tanh(g)``), which is what an
    accumulating weight needs; ``h`` is re-squashed every tick. ``|c| <= 1``
    covers ``|w|, |b| <= 4``; the meta-test clip ``c in [-4, 4]`` (C.1) then
    bounds ``|w| <= 16``.
D2  Messages. ``x`` enters slot 0 of the forward message, ``e`` slot 0 of the
    backward message, every other input dimension is zero (C.1). ``y`` is read
    from slot 0 of the forward-message output and ``e'`` from slot 0 of the
    backward-message output, so layer ``k``'s output slot feeds layer
    ``k+1``'s input slot directly.
D3  What persists (C.1: "During the backward pass, we only retain two state
    dimensions"). Between steps a sub-LSTM's state is exactly
    ``h = 0, c = (w/4, b/4, 0, ..., 0)``. The forward pass runs
    ``num_ticks`` micro-ticks from that state and the state is then discarded
    (C.1: "we freeze the LSTM state"); the backward pass runs ``num_ticks``
    micro-ticks from the *same* state and only ``c[0], c[1]`` are kept. So the
    cloned rule is a memoryless function of ``(x, e, w, b)``: nothing but the
    two designated numbers can drift, and random ``(x, e, w, b)`` cover every
    state the network can be in.
D4  Feeding activations back. The paper's simpler choice (Section 3.2): the
    backward pass receives the forward pass's input ``x`` again in forward
    slot 0 (with ``e`` in backward slot 0). Layers run forward ``1..K`` with
    error input zero (the state is frozen, so no update happens), then
    backward ``K..1``.
D5  Averaged messages change the network (Appendix C averages instead of
    Eq. 7's sums). The network the sub-LSTMs implement is the *mean* MLP
    ``z^k_b = mean_a(tanh(z^{k-1}_a) w^k_ab + b^k_ab)`` and the backward
    message is ``eps^{k-1}_a = mean_b e'_ab``. With the local rule above this
    is exactly gradient descent on that MLP with per-layer learning rates:
    for ``logits = G z^K``, cross-entropy ``L`` and the top error
    ``e^K = softmax(logits) - onehot = (1/G) dL/dz^K``,
    ``e^k = (s_k / G) dL/dz^k`` with ``s_K = 1``, ``s_k = s_{k+1} A_{k+1}/B_{k+1}``, and
    ``dw^k = -lr (A_k s_k / G) dL/dw^k`` (``db`` likewise). ``shadow_step``
    computes the targets this way; ``tests/test_cloning.py`` checks them
    against autograd to float precision.
D6  Logit gain ``G = 30`` (``CloningConfig.logit_gain``). With mean
    aggregation over 784 pixels and ``|w| <= 4`` (D1) the logits of the plain
    mean MLP stay within about +-2: too flat for a confident softmax. Reading
    the prediction as ``G * z^K`` (outside the sub-LSTMs, like the package's
    output bound) restores the range; a shadow-network sweep (G in {10, 30},
    lr in {0.1, 0.3, 1, 3}, |w| clipped to 4) chose ``G = 30, lr = 1``.
D7  Inner learning rate ``lr = 1`` (``CloningConfig.lr``): per batch of 64 a
    weight moves by at most ``lr * mean|e tanh x|`` (well below 1) while its
    useful range is about +-4, and in the sweep it learned fastest without
    diverging. One learning rate for all layers; D5 says what it means per layer.
D8  Training data for the regression (Section 3.2, C.1): per step a batch of
    random ``(x, e, w, b)``, ``(w, b)`` partly drawn from a buffer of states
    that the sub-LSTM itself produced (C.1: sample a batch from the buffer,
    append one of the new states), plus tuples read off shadow networks
    trained on MNIST by the exact rule (their activations, errors, weights and
    updates; fresh shadow networks every ``shadow_reset`` steps so that early
    and late training are both seen). Forward and backward passes are
    regressed separately (the forward sees ``e = 0``). Loss: mean squared
    error of ``y``, ``e'``, ``dw``, ``db``, each divided by its target variance
    under the random distribution, so no output dominates by scale.
D9  Curriculum (B.1). Stage ``shallow``: tuples from random data and a
    784-10 shadow network. Stage ``deep``: continue from a shallow run and add
    tuples from a 784-32-10 shadow network whose hidden-layer inputs and
    errors come (a) from the ground-truth shadow network and (b) from the
    VSML network's own intermediate outputs (the paper's "use the RNN's
    intermediate predictions"); the targets are always the exact rule applied
    to the inputs the sub-LSTM actually receives. Because of D3 every stage is
    a regression on single sub-LSTMs; no backpropagation through whole
    networks is needed.
D10 Meta-test (Section 4.1, C.1): a VSML network of ``DenseTick`` layers
    driven by the cloned ``V_M`` learns with no autograd
    (``torch.inference_mode``); each step runs a batch of 64 examples, each
    with its own sub-LSTM copies, and the retained ``w, b`` are averaged over
    the batch (C.1 "Batching"); the cell state is clipped to [-4, 4] in every
    tick. The reference is the same mean MLP trained by exact SGD
    (``shadow_step``, equal to autograd by D5).

Command line::

    python -m vsml.cloning train --out runs/clone_shallow [--stage shallow|deep] [--steps N] [--resume]
    python -m vsml.cloning export --run runs/clone_shallow --name cloned_shallow
    python -m vsml.cloning metatest --name cloned_shallow --steps 150 --seeds 6
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .lstm import DenseTick, SubLSTMConfig, init_params, lstm_update, param_shapes

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
CHECKPOINT, METRICS = "checkpoint.pt", "metrics.jsonl"
FORMAT = "vsml.cloning/1"

W_DIM, B_DIM = 0, 1          # cell-state dimensions holding w/scale and b/scale (D1)
X_SLOT = E_SLOT = 0          # input slots of the forward / backward message (D2)
Y_SLOT = EPREV_SLOT = 0      # output slots of the forward / backward message (D2)
TARGETS = ("y", "dw", "db", "e_prev")


@dataclass(frozen=True)
class CloningConfig:
    """Everything that defines a cloning run (and the network a cloned V_M drives)."""

    stage: str = "shallow"       # curriculum stage (D9): shallow | deep
    state_size: int = 64         # N for cloning (Appendix C)
    num_ticks: int = 2           # micro-ticks per forward and per backward pass
    state_scale: float = 4.0     # w, b stored as c / 4 (Appendix C, "Bounded states")
    lr: float = 1.0              # inner learning rate of the cloned SGD (D7)
    logit_gain: float = 30.0     # prediction = G * last forward message (D6)
    w_range: float = 4.0         # random w, b ~ U(-w_range, w_range)
    x_range: float = 3.0         # random x ~ U(-x_range, x_range) (pixels lie in [-0.42, 2.82])
    batch_size: int = 2048       # sub-LSTMs per regression step (forward and backward each)
    random_fraction: float = 0.5  # of the batch; the rest comes from shadow networks
    buffer_fraction: float = 0.5  # of the random part, (w, b) drawn from the state buffer
    buffer_size: int = 20_000
    shadow_reset: int = 400      # fresh shadow networks every this many steps
    shadow_batch: int = 64
    deep_own_fraction: float = 0.5  # deep stage: share of hidden-layer tuples from the VSML's own outputs
    steps: int = 20_000
    adam_lr: float = 3e-3
    final_adam_lr: float = 1e-4  # cosine decay of Adam's learning rate to this value
    grad_clip: float = 1.0
    seed: int = 0
    dataset: str = "mnist"       # shadow networks' data (Section 4.1: MNIST)
    checkpoint_every: int = 500
    log_every: int = 100
    eval_size: int = 8192        # fixed random tuples for the logged cloning errors

    def __post_init__(self):
        if self.stage not in ("shallow", "deep"):
            raise ValueError(f"stage must be 'shallow' or 'deep', got {self.stage!r}")
        for name in ("state_size", "num_ticks", "batch_size", "steps", "shadow_reset", "shadow_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("random_fraction", "buffer_fraction", "deep_own_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.state_scale <= 0 or self.logit_gain <= 0 or self.lr < 0:
            raise ValueError("state_scale and logit_gain must be > 0 and lr >= 0")

    @property
    def sub_lstm(self) -> SubLSTMConfig:
        return SubLSTMConfig(state_size=self.state_size)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "CloningConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown CloningConfig option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)


# --------------------------------------------------------------------------- the rule to clone

def local_targets(x, e, w, b, lr: float) -> dict[str, torch.Tensor]:
    """What one sub-LSTM must compute (Figure 4): ``y``, the SGD updates and the backpropagated error."""
    tx = torch.tanh(x)
    return {"y": tx * w + b, "dw": -lr * e * tx, "db": -lr * e, "e_prev": e * w * (1 - tx * tx)}


# --------------------------------------------------------------------------- one sub-LSTM, any batch shape

def _gate_offsets(sub: SubLSTMConfig, like: torch.Tensor) -> torch.Tensor:
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
    bias = params["lstm_b"] + _gate_offsets(sub, params["lstm_b"])
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
        got, want = clone_outputs(params, cfg, x, e, w, b), local_targets(x, e, w, b, cfg.lr)
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


def shadow_step(layers: Layers, x, y, gain: float, lr: float):
    """One batched step of exact backpropagation/SGD on the mean MLP, written as the local rule.

    Returns ``(new_layers, zs, errors)`` where ``errors[k]`` is the error
    entering layer ``k``'s backward message (``errors[-1]`` the top error).
    Every example's update is the local rule; the batch's updates are
    averaged, as the VSML network averages its ``w, b`` states (C.1).
    """
    zs = shadow_forward(layers, x)
    errors = [None] * len(layers)
    e = top_error(zs[-1], y, gain)
    new = list(layers)
    for k in reversed(range(len(layers))):
        w, b = layers[k]
        errors[k] = e
        tx = torch.tanh(zs[k])                                     # [P, A]
        dw = -lr * tx.T @ e / x.shape[0]                           # mean over the batch of -lr e tanh(x)
        db = (-lr * e.mean(0)).expand_as(b)
        e = (e @ w.T) / w.shape[1] * (1 - tx * tx)                 # mean over b of e w (1 - tanh^2 x)
        new[k] = (w + dw, b + db)
    return new, zs, errors


def shadow_loss(layers: Layers, x, y, gain: float) -> torch.Tensor:
    """Cross-entropy of ``G z^K`` (the loss that ``shadow_step`` descends, D5)."""
    return F.cross_entropy(gain * shadow_forward(layers, x)[-1], y)


# --------------------------------------------------------------------------- the VSML network it drives (D10)

class ClonedNetwork:
    """A VSML network of dense sub-LSTM layers that learns with a cloned V_M, without autograd.

    ``layers`` hold only the retained ``(w, b)`` of every sub-LSTM (D3); a
    step builds the full states from them, runs layers forward ``1..K``
    (error input zero, states discarded) and backward ``K..1`` (inputs fed
    back, only ``c[0], c[1]`` kept, then averaged over the batch: C.1).
    ``chunk`` splits the batch to bound memory (``[chunk, A, B, 4N]`` floats).
    """

    def __init__(self, params, cfg: CloningConfig, sizes, state_clip: float | None = 4.0,
                 chunk: int = 8, fast: bool = True, compile: bool = False):
        self.params, self.cfg, self.sizes = params, cfg, tuple(int(s) for s in sizes)
        self.state_clip, self.chunk, self.fast, self.compile = state_clip, chunk, fast, compile
        self.tick = DenseTick(cfg.sub_lstm, cfg.num_ticks, state_clip)
        self.prepared = _prepare(params, cfg.sub_lstm)

    def _messages(self, values: torch.Tensor, size: int) -> torch.Tensor:
        msg = values.new_zeros(*values.shape, size)
        msg[..., 0] = values
        return msg

    def _run(self, w, b, x, e):
        """One layer's sub-LSTMs on inputs ``x [P, A]``, errors ``e [P, B]``: ``(h, c, fwd_out, bwd_out)``."""
        sub = self.cfg.sub_lstm
        P, (A, B) = x.shape[0], w.shape
        h, c = initial_state(w, b, self.cfg)
        h, c = h.expand(P, A, B, sub.state_size).contiguous(), c.expand(P, A, B, sub.state_size).contiguous()
        return self.tick(self.params, h, c, self._messages(x, sub.fwd_size), self._messages(e, sub.bwd_size))

    def forward(self, layers: Layers, x: torch.Tensor) -> list[torch.Tensor]:
        """``[z^0 = x, z^1, ..., z^K]`` computed by the sub-LSTMs (error input zero, states frozen)."""
        zs = [x]
        for w, b in layers:
            outs = []
            for xc in zs[-1].split(self.chunk):
                if self.fast:
                    outs.append(fast_layer_forward(self.prepared, self.cfg, xc, w, b, self.state_clip, self.compile))
                    continue
                zero = xc.new_zeros(xc.shape[0], w.shape[1])
                outs.append(self._run(w, b, xc, zero)[2][..., Y_SLOT])
            zs.append(torch.cat(outs))
        return zs

    def predict(self, layers: Layers, x: torch.Tensor) -> torch.Tensor:
        return self.cfg.logit_gain * self.forward(layers, x)[-1]

    def backward(self, layers: Layers, zs: list[torch.Tensor], e_top: torch.Tensor) -> Layers:
        """Layers ``K..1``: feed ``z^{k-1}`` back with the error; keep ``w, b`` averaged over the batch."""
        scale, new, e = self.cfg.state_scale, list(layers), e_top
        for k in reversed(range(len(layers))):
            w, b = layers[k]
            w_sum, b_sum, e_prev = torch.zeros_like(w), torch.zeros_like(b), []
            for xc, ec in zip(zs[k].split(self.chunk), e.split(self.chunk)):
                if self.fast:
                    dw_sum, db_sum, e_chunk = fast_layer_backward(self.prepared, self.cfg, xc, ec, w, b,
                                                                  self.state_clip, k > 0, self.compile)
                    w_sum += dw_sum
                    b_sum += db_sum
                    if k > 0:
                        e_prev.append(e_chunk)
                    continue
                _, c, _, bwd_out = self._run(w, b, xc, ec)
                w_sum += c[..., W_DIM].sum(0) * scale
                b_sum += c[..., B_DIM].sum(0) * scale
                if k > 0:
                    e_prev.append(bwd_out[..., EPREV_SLOT])
            new[k] = (w_sum / e.shape[0], b_sum / e.shape[0])
            if k > 0:
                e = torch.cat(e_prev)
        return new

    def step(self, layers: Layers, x: torch.Tensor, y: torch.Tensor):
        """One learning step on a batch: ``(new_layers, logits)``; logits are made before the update."""
        zs = self.forward(layers, x)
        logits = self.cfg.logit_gain * zs[-1]
        return self.backward(layers, zs, top_error(zs[-1], y, self.cfg.logit_gain)), logits


# --------------------------------------------------------------------------- training data (D8, D9)

def random_tuples(n: int, cfg: CloningConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random ``(x, e, w, b)``: uniform ``x``, ``w``, ``b``; ``e`` half uniform in [-1, 1], half log-uniform small."""
    u = lambda r: (torch.rand(n, generator=generator) * 2 - 1) * r  # noqa: E731
    e = u(1.0)
    small = torch.rand(n, generator=generator) < 0.5
    e = torch.where(small, e * 10 ** (-2 * torch.rand(n, generator=generator)), e)
    return {"x": u(cfg.x_range), "e": e, "w": u(cfg.w_range), "b": u(cfg.w_range)}


def tuples_from_network(zs, errors, layers: Layers, n: int, generator: torch.Generator, layer_ids=None):
    """``n`` tuples ``(x, e, w, b)`` read off a network's activations, errors and weights (uniform over layers)."""
    layer_ids = list(range(len(layers))) if layer_ids is None else list(layer_ids)
    parts = {k: [] for k in ("x", "e", "w", "b")}
    counts = torch.bincount(torch.randint(len(layer_ids), (n,), generator=generator), minlength=len(layer_ids))
    for k, m in zip(layer_ids, counts.tolist()):
        if m == 0:
            continue
        w, b = layers[k]
        P, (A, B) = zs[k].shape[0], w.shape
        p, a, j = (torch.randint(s, (m,), generator=generator) for s in (P, A, B))
        for name, value in (("x", zs[k][p, a]), ("e", errors[k][p, j]), ("w", w[a, j]), ("b", b[a, j])):
            parts[name].append(value)
    return {k: torch.cat(v) for k, v in parts.items()}


def target_scales(cfg: CloningConfig) -> dict[str, float]:
    """Standard deviation of every target under the random distribution (fixed loss normalisers, D8)."""
    t = random_tuples(200_000, cfg, torch.Generator().manual_seed(12345))
    targets = local_targets(t["x"], t["e"], t["w"], t["b"], cfg.lr)
    return {k: float(v.std()) for k, v in targets.items()}


class ShadowStream:
    """Shadow networks trained by exact SGD on a dataset, re-initialised every ``reset`` steps (D8)."""

    def __init__(self, sizes, cfg: CloningConfig, dataset, seed: int):
        self.sizes, self.cfg, self.seed = tuple(sizes), cfg, seed
        self.x = dataset.x.flatten(1)
        self.y = dataset.y
        self.count = 0
        self.generator = torch.Generator().manual_seed(seed)
        self.layers = None

    def next(self):
        """One SGD step on a fresh batch: ``(zs, errors, layers_before_the_step)``."""
        if self.count % self.cfg.shadow_reset == 0:
            self.layers = init_layers(self.sizes, W_INIT, self.generator)
        self.count += 1
        idx = torch.randint(len(self.y), (self.cfg.shadow_batch,), generator=self.generator)
        before = self.layers
        new, zs, errors = shadow_step(before, self.x[idx], self.y[idx], self.cfg.logit_gain, self.cfg.lr)
        self.layers = [(w.clamp(-4 * self.cfg.state_scale, 4 * self.cfg.state_scale),
                        b.clamp(-4 * self.cfg.state_scale, 4 * self.cfg.state_scale)) for w, b in new]
        return zs, errors, before

    def state_dict(self):
        return {"count": self.count, "generator": self.generator.get_state(), "layers": self.layers}

    def load_state_dict(self, state):
        self.count, self.layers = state["count"], state["layers"]
        self.generator.set_state(state["generator"])


W_INIT = 3.0  # initial |w| bound of shadow and VSML networks: U(-3, 3) (a shadow sweep: deep nets start faster)


# --------------------------------------------------------------------------- the regression (Section 3.2)

def cloning_loss(params, cfg: CloningConfig, fwd: dict, bwd: dict, scales: dict):
    """Normalised MSE of the forward output (on ``fwd`` tuples, ``e`` ignored) and the backward outputs.

    Returns ``(loss, per_target_mse, learned_backward)``.
    """
    y = clone_forward(params, cfg, fwd["x"], fwd["w"], fwd["b"])
    y_target = torch.tanh(fwd["x"]) * fwd["w"] + fwd["b"]
    got = clone_backward(params, cfg, bwd["x"], bwd["e"], bwd["w"], bwd["b"])
    want = local_targets(bwd["x"], bwd["e"], bwd["w"], bwd["b"], cfg.lr)
    mse = {"y": F.mse_loss(y, y_target)}
    for k in ("dw", "db", "e_prev"):
        mse[k] = F.mse_loss(got[k], want[k])
    loss = sum(mse[k] / scales[k] ** 2 for k in TARGETS) / len(TARGETS)
    return loss, mse, got


class StateBuffer:
    """Retained ``(w, b)`` states that the sub-LSTM produced itself (C.1: diversity of VSML states)."""

    def __init__(self, size: int, cfg: CloningConfig, generator: torch.Generator):
        t = random_tuples(size, cfg, generator)
        self.w, self.b, self.pos = t["w"], t["b"], 0
        self.limit = 4 * cfg.state_scale  # the meta-test clip of c, in units of w

    def sample(self, n: int, generator: torch.Generator):
        idx = torch.randint(len(self.w), (n,), generator=generator)
        return self.w[idx], self.b[idx]

    def append(self, w: torch.Tensor, b: torch.Tensor) -> None:
        self.w[self.pos] = float(w.clamp(-self.limit, self.limit))
        self.b[self.pos] = float(b.clamp(-self.limit, self.limit))
        self.pos = (self.pos + 1) % len(self.w)

    def state_dict(self):
        return {"w": self.w, "b": self.b, "pos": self.pos}

    def load_state_dict(self, state):
        self.w, self.b, self.pos = state["w"], state["b"], int(state["pos"])


class CloningTrainer:
    """Regress the shared sub-LSTM onto the rule (``local_targets``), with the data mix of D8/D9."""

    def __init__(self, cfg: CloningConfig, dataset=None, params=None):
        self.cfg = cfg
        if dataset is None:
            from .data import load
            dataset = load(cfg.dataset, "train").standardized()
        self.dataset = dataset
        self.generator = torch.Generator().manual_seed(cfg.seed)
        if params is None:
            params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(cfg.seed))
        self.params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.opt = torch.optim.Adam(self.params.values(), lr=cfg.adam_lr)
        self.scales = target_scales(cfg)
        self.buffer = StateBuffer(cfg.buffer_size, cfg, self.generator)
        self.streams = {"shallow": ShadowStream((dataset.num_features, 10), cfg, dataset, cfg.seed + 1)}
        if cfg.stage == "deep":
            self.streams["deep"] = ShadowStream((dataset.num_features, 32, 10), cfg, dataset, cfg.seed + 2)
        self.step = 0
        self.eval_set = self._eval_set()

    def _eval_set(self):
        """Fixed held-out tuples: random ones and ones from a separate MNIST shadow network."""
        g = torch.Generator().manual_seed(self.cfg.seed + 999)
        rand = random_tuples(self.cfg.eval_size, self.cfg, g)
        stream = ShadowStream((self.dataset.num_features, 10), self.cfg, self.dataset, self.cfg.seed + 998)
        parts = []
        for _ in range(8):
            zs, errors, layers = stream.next()
            parts.append(tuples_from_network(zs, errors, layers, self.cfg.eval_size // 8, g))
        shadow = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        return {"random": rand, "shadow": shadow}

    def _batch(self):
        cfg, g = self.cfg, self.generator
        n_rand = int(round(cfg.batch_size * cfg.random_fraction))
        rand = random_tuples(n_rand, cfg, g)
        n_buf = int(round(n_rand * cfg.buffer_fraction))
        rand["w"][:n_buf], rand["b"][:n_buf] = self.buffer.sample(n_buf, g)
        parts = [rand]
        n_shadow = cfg.batch_size - n_rand
        names = list(self.streams)
        for i, name in enumerate(names):
            m = n_shadow // len(names) + (i < n_shadow % len(names))
            zs, errors, layers = self.streams[name].next()
            if name == "deep" and cfg.deep_own_fraction > 0:
                m_own = int(round(m * cfg.deep_own_fraction))
                parts.append(self._own_deep_tuples(layers, zs, errors, m_own))
                m -= m_own
            parts.append(tuples_from_network(zs, errors, layers, m, g))
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}, n_buf

    def _own_deep_tuples(self, layers, zs, errors, m):
        """Deep stage (B.1): hidden inputs and errors computed by the VSML network itself, exact targets."""
        if m == 0:
            return {k: torch.zeros(0) for k in ("x", "e", "w", "b")}
        few = 2  # examples: 784 x 32 sub-LSTMs each
        params = {k: v.detach() for k, v in self.params.items()}
        net = ClonedNetwork(params, self.cfg, [w.shape[0] for w, _ in layers] + [layers[-1][0].shape[1]],
                            state_clip=4.0)
        with torch.no_grad():
            own_zs = net.forward(layers, zs[0][:few])
            top = errors[-1][:few]  # the shadow network's top error (B.1: ground truth at the output)
            # The hidden layer's error is the VSML's own backward message from the top layer.
            _, _, _, bwd_out = net._run(*layers[-1], own_zs[-2], top)
            own_errors = [bwd_out[..., EPREV_SLOT], top]
        return tuples_from_network(own_zs, own_errors, layers, m, self.generator, layer_ids=range(len(layers)))

    def train_step(self) -> dict:
        cfg = self.cfg
        frac = min(self.step / max(cfg.steps, 1), 1.0)
        lr = cfg.final_adam_lr + 0.5 * (cfg.adam_lr - cfg.final_adam_lr) * (1 + math.cos(math.pi * frac))
        for group in self.opt.param_groups:
            group["lr"] = lr
        batch, n_buf = self._batch()
        # The same tuples serve the forward regression (e ignored) and the backward one.
        loss, mse, got = cloning_loss(self.params, cfg, batch, batch, self.scales)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"cloning loss is {float(loss.detach())} at step {self.step}")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params.values(), cfg.grad_clip)
        self.opt.step()
        # C.1: append one of the new states (one that came from the buffer) to the buffer.
        j = int(torch.randint(max(n_buf, 1), (1,), generator=self.generator))
        self.buffer.append(batch["w"][j] + got["dw"][j].detach(), batch["b"][j] + got["db"][j].detach())
        self.step += 1
        return {"step": self.step, "loss": float(loss.detach()), "adam_lr": lr, "grad_norm": float(grad_norm),
                **{f"mse_{k}": float(v.detach()) for k, v in mse.items()}}

    def evaluate(self) -> dict:
        params = {k: v.detach() for k, v in self.params.items()}
        out = {}
        for name, t in self.eval_set.items():
            errs = cloning_errors(params, self.cfg, t["x"], t["e"], t["w"], t["b"])
            out.update({f"{name}_{k}": round(v, 6) for k, v in errs.items()})
        return out

    def state_dict(self) -> dict:
        return {"step": self.step, "params": {k: v.detach().clone() for k, v in self.params.items()},
                "opt": self.opt.state_dict(), "generator": self.generator.get_state(),
                "buffer": self.buffer.state_dict(),
                "streams": {k: s.state_dict() for k, s in self.streams.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        with torch.no_grad():
            for k, v in state["params"].items():
                self.params[k].copy_(v)
        self.opt.load_state_dict(state["opt"])
        self.generator.set_state(state["generator"])
        self.buffer.load_state_dict(state["buffer"])
        for k, s in state["streams"].items():
            if k in self.streams:
                self.streams[k].load_state_dict(s)


# --------------------------------------------------------------------------- fast layer passes (D3 structure)
#
# Between steps every sub-LSTM holds h = 0 and c = (w/4, b/4, 0, ...) (D3), and
# only slot 0 of each message is non-zero (D2). So in the forward pass the
# first tick's gates depend on the input a alone, only two cell dims depend
# on (a, b), and the second tick's gate input is a per-a term plus a rank-2
# term in (a, b): no [P*A*B, N] x [N, 4N] matrix product is needed. In the
# backward pass the last tick of the first layer only has to produce the two
# kept cell dims (6 of the 4N gate columns). ``ClonedNetwork(fast=False)``
# runs the plain ``DenseTick`` instead; the tests check both agree.

def _prepare(params, sub: SubLSTMConfig) -> dict:
    W = params["lstm_w"]
    N = sub.state_size
    bias = params["lstm_b"] + _gate_offsets(sub, params["lstm_b"])
    kept = torch.tensor([W_DIM, B_DIM])
    cols = torch.cat([kept, kept + N, kept + 2 * N])   # i, g, f of the kept dims
    return {"r_x": W[X_SLOT], "r_e": W[sub.fwd_size + E_SLOT], "w_h": W[sub.input_size:].contiguous(),
            "bias": bias, "cols": cols, "v_fwd": params["fwd_w"][:, Y_SLOT], "v0_fwd": params["fwd_b"][Y_SLOT],
            "v_bwd": params["bwd_w"][:, EPREV_SLOT], "v0_bwd": params["bwd_b"][EPREV_SLOT]}


def _clip(c, clip):
    return c if clip is None else c.clamp(-clip, clip)


def _forward_tick2(u, h_wb, w_h0, w_h1, c_wb, c_rest, clip: float | None):
    """Second forward tick: gates = per-a term + rank-2 (a, b) term; returns ``(h, c)`` ``[P, A, B, N]``."""
    pre = u + h_wb[..., 0:1] * w_h0 + h_wb[..., 1:2] * w_h1
    i, g, f, o = pre.chunk(4, dim=-1)
    P, A, B, _ = pre.shape
    c = torch.cat([c_wb, c_rest.expand(P, A, B, c_rest.shape[-1])], dim=-1)
    c = _clip(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g), clip)
    return torch.sigmoid(o) * torch.tanh(c), c


def _backward_tick1(drive_a, e, r_e, c0_wb, clip: float | None):
    """First backward tick from h = 0: gates = per-a term + e_b r_e; returns ``(h, c)``."""
    pre = drive_a + e[:, None, :, None] * r_e
    i, g, f, o = pre.chunk(4, dim=-1)
    write = torch.sigmoid(i) * torch.tanh(g)
    kept = torch.sigmoid(f[..., :2]) * c0_wb + write[..., :2]
    c = _clip(torch.cat([kept, write[..., 2:]], dim=-1), clip)
    return torch.sigmoid(o) * torch.tanh(c), c


_FAST = {}


def _fast_fns(compile: bool):
    """The two big element-wise ticks, fused by ``torch.compile`` when asked for and available."""
    if not compile:
        return _forward_tick2, _backward_tick1
    if "fns" not in _FAST:
        try:
            _FAST["fns"] = (torch.compile(_forward_tick2, dynamic=False), torch.compile(_backward_tick1, dynamic=False))
        except Exception:  # no compiler toolchain: eager
            _FAST["fns"] = (_forward_tick2, _backward_tick1)
    return _FAST["fns"]


def fast_layer_forward(pp: dict, cfg: CloningConfig, x, w, b, clip=None, compile: bool = False):
    """Forward pass of a whole layer (e = 0, states discarded): ``z [P, B] = mean_a y_ab``."""
    tick2, _ = _fast_fns(compile)
    drive = x[:, :, None, None] * pp["r_x"] + pp["bias"]                  # [P, A, 1, 4N]
    i, g, f, o = drive.chunk(4, dim=-1)
    write = torch.sigmoid(i) * torch.tanh(g)
    c0_wb = torch.stack([w, b], dim=-1) / cfg.state_scale                 # [A, B, 2]
    c_wb = _clip(torch.sigmoid(f[..., :2]) * c0_wb + write[..., :2], clip)  # [P, A, B, 2]
    c_rest = _clip(write[..., 2:], clip)                                  # [P, A, 1, N-2]
    so = torch.sigmoid(o)
    h_wb, h_rest = so[..., :2] * torch.tanh(c_wb), so[..., 2:] * torch.tanh(c_rest)
    if cfg.num_ticks == 1:
        P, A, B = c_wb.shape[:3]
        h = torch.cat([h_wb, h_rest.expand(P, A, B, h_rest.shape[-1])], dim=-1)
    else:
        u = drive + h_rest @ pp["w_h"][2:]
        h, c = tick2(u, h_wb, pp["w_h"][0], pp["w_h"][1], c_wb, c_rest, clip)
        for _ in range(cfg.num_ticks - 2):
            h, c = lstm_update(drive + h @ pp["w_h"], c, clip)
    return h.mean(dim=1) @ pp["v_fwd"] + pp["v0_fwd"]


def fast_layer_backward(pp: dict, cfg: CloningConfig, x, e, w, b, clip=None, need_error: bool = True,
                        compile: bool = False):
    """Backward pass of a whole layer: ``(sum over P of new w, of new b, e_prev [P, A] or None)``."""
    _, tick1 = _fast_fns(compile)
    drive_a = x[:, :, None, None] * pp["r_x"] + pp["bias"]                # [P, A, 1, 4N]
    c0_wb = torch.stack([w, b], dim=-1) / cfg.state_scale
    h, c = tick1(drive_a, e, pp["r_e"], c0_wb, clip)
    T = cfg.num_ticks
    for t in range(1, T):
        if t == T - 1 and not need_error:   # only the kept dims: gates i, g, f of dims 0 and 1
            pre = (drive_a[..., pp["cols"]] + e[:, None, :, None] * pp["r_e"][pp["cols"]]
                   + h @ pp["w_h"][:, pp["cols"]])
            i, g, f = pre.chunk(3, dim=-1)
            kept = _clip(torch.sigmoid(f) * c[..., :2] + torch.sigmoid(i) * torch.tanh(g), clip)
            break
        pre = drive_a + e[:, None, :, None] * pp["r_e"] + h @ pp["w_h"]
        h, c = lstm_update(pre, c, clip)
    else:
        kept = c[..., :2]
    kept = kept.sum(0) * cfg.state_scale
    e_prev = h.mean(dim=2) @ pp["v_bwd"] + pp["v0_bwd"] if need_error else None
    return kept[..., 0], kept[..., 1], e_prev


# --------------------------------------------------------------------------- training run (checkpoints, log)

def train(cfg: CloningConfig | None, out_dir, *, resume: bool = False, init_from=None, progress: bool = True,
          dataset=None, num_threads: int | None = None) -> dict:
    """Regress V_M onto the rule with atomic checkpoints (``out_dir/checkpoint.pt``) and a metrics log.

    ``init_from`` (a run folder, checkpoint or exported name) starts the
    parameters from an earlier stage (D9: shallow, then deep). ``resume=True``
    continues ``out_dir``'s run; without it an existing checkpoint is an error.
    A non-finite loss raises ``FloatingPointError`` and leaves the last good
    checkpoint untouched. Returns the final parameters.
    """
    from .meta import _atomic_save, _atomic_write_text

    out = Path(out_dir)
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    saved = None
    if ckpt_path.exists():
        if not resume:
            raise FileExistsError(f"{out} already holds a cloning run; pass --resume or choose another folder")
        saved = load_run(ckpt_path)
        cfg = cfg or CloningConfig.from_dict(saved["config"])
        if cfg.to_dict() | {"steps": 0} != saved["config"] | {"steps": 0}:
            raise ValueError("cannot resume: the config differs from the checkpoint's (only steps may change)")
    if cfg is None:
        raise ValueError(f"no config given and no checkpoint to resume in {out}")
    if num_threads:
        torch.set_num_threads(num_threads)
    params = None
    if init_from is not None and saved is None:
        is_run = Path(init_from).is_dir() or Path(init_from).name == CHECKPOINT  # else an exported name or .pt
        params = load_run(init_from)["state"]["params"] if is_run else load_cloned(init_from)[0]
    trainer = CloningTrainer(cfg, dataset, params)
    records, wall_before, parent = [], 0.0, str(init_from) if init_from else None
    if saved is not None:
        trainer.load_state_dict(saved["state"])
        records, wall_before, parent = list(saved["metrics"]), float(saved["wall_time"]), saved.get("init_from")
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write_text("".join(json.dumps(r) + "\n" for r in records), metrics_path)
    print(f"vsml.cloning: stage {cfg.stage}, N={cfg.state_size}, step {trainer.step} -> {cfg.steps}; "
          f"shadow data {trainer.dataset.name} ({len(trainer.dataset.y)} images); run folder {out}", flush=True)

    def checkpoint(wall):
        _atomic_save({"format": FORMAT, "config": cfg.to_dict(), "state": trainer.state_dict(), "metrics": records,
                      "wall_time": wall, "init_from": parent, "dataset": trainer.dataset.name,
                      "dataset_note": f"{trainer.dataset.source}; {len(trainer.dataset.y)} images",
                      "torch": str(torch.__version__)}, ckpt_path)

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, initial=trainer.step, desc=f"cloning ({cfg.stage})", dynamic_ncols=True,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
    t_start, last_good = time.perf_counter(), trainer.step if saved is not None else None
    with open(metrics_path, "a") as log:
        try:
            while trainer.step < cfg.steps:
                try:
                    rec = trainer.train_step()
                except FloatingPointError as exc:
                    where = (f"the last good checkpoint {ckpt_path} (step {last_good}) was left untouched"
                             if last_good is not None else "no checkpoint had been written yet")
                    raise FloatingPointError(f"{exc}; cloning stopped, {where}") from None
                done = trainer.step
                if done % cfg.log_every == 0 or done == cfg.steps:
                    rec.update(trainer.evaluate())
                    rec["wall_time"] = wall_before + time.perf_counter() - t_start
                    records.append(rec)
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                    checkpoint(wall_before + time.perf_counter() - t_start)
                    last_good = done
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{rec['loss']:.4f}", refresh=False)
        finally:
            if bar is not None:
                bar.close()
    return {k: v.detach().clone() for k, v in trainer.params.items()}


def load_run(path) -> dict:
    """A cloning checkpoint (run folder or file); a clear error when missing, unreadable or not from cloning."""
    from .meta import load_checkpoint

    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise RuntimeError(f"{path} is not a vsml.cloning checkpoint")
    return ckpt


# --------------------------------------------------------------------------- shipped cloned V_M

def export(run_dir, name: str, dest=None) -> tuple[Path, Path]:
    """Write a cloning run's V_M as ``vsml/pretrained/NAME.pt`` with ``NAME.json`` (config, provenance, curve)."""
    from .meta import _git_commit, check_export_name, write_export

    check_export_name(name)
    ckpt = load_run(run_dir)
    params = {k: v.detach().clone().contiguous() for k, v in ckpt["state"]["params"].items()}
    records = ckpt["metrics"]
    provenance = {
        "name": name, "model": "cloned", "format": FORMAT, "cloning_config": ckpt["config"],
        "steps": int(ckpt["state"]["step"]), "init_from": ckpt.get("init_from"),
        "dataset": ckpt.get("dataset"), "dataset_note": ckpt.get("dataset_note"),
        "device": "cpu", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "wall_time_s": round(float(ckpt["wall_time"]), 1), "torch": ckpt.get("torch"),
        "git_commit": _git_commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "num_params": int(sum(v.numel() for v in params.values())),
        "final_metrics": records[-1] if records else None,
        "curve": records[::max(1, len(records) // 200)],
    }
    return write_export(params, provenance, name, dest)


def load_cloned(name: str, directory=None) -> tuple[dict, CloningConfig, dict]:
    """``(params, config, provenance)`` of a shipped cloned V_M (a name in ``vsml/pretrained/`` or a path)."""
    from .meta import load_pretrained

    params, provenance = load_pretrained(name, directory)
    if provenance.get("model") != "cloned":
        raise ValueError(f"{name} is a {provenance.get('model')!r} export, not a cloned learning algorithm")
    cfg = CloningConfig.from_dict(provenance["cloning_config"])
    want = param_shapes(cfg.sub_lstm)
    if {k: tuple(v.shape) for k, v in params.items()} != want:
        raise RuntimeError(f"{name}: parameter shapes do not match its config (N={cfg.state_size})")
    return params, cfg, provenance


# --------------------------------------------------------------------------- meta-test (Section 4.1, Figure 5)

def metatest(params, cfg: CloningConfig, train_set, test_set, *, hidden: int | None = None, steps: int = 100,
             seeds=range(6), batch_size: int = 64, eval_every: int = 25, test_size: int = 1000,
             progress: bool = False, state_clip: float | None = 4.0, compile: bool = False) -> dict:
    """Train a network purely by running the cloned V_M forward, beside exact SGD on the same network.

    For every seed both learners start from the same weights (``U(-3, 3)``, b = 0)
    and see the same batches of ``batch_size`` training examples. Returns, per
    learner (``"vsml"``, ``"sgd"``), ``loss`` and ``accuracy`` ``[S, steps]`` on
    each batch *before* its update, and ``test_accuracy`` ``[S, E]`` on the
    first ``test_size`` test images at the steps in ``eval_steps``.
    """
    sizes = [train_set.num_features] + ([hidden] if hidden else []) + [train_set.num_classes]
    x_all, y_all = train_set.x.flatten(1), train_set.y
    x_test, y_test = test_set.x.flatten(1)[:test_size], test_set.y[:test_size]
    net = ClonedNetwork(params, cfg, sizes, state_clip=state_clip, compile=compile)
    eval_steps = sorted({0, *range(eval_every, steps + 1, eval_every), steps})
    out = {k: {"loss": [], "accuracy": [], "test_accuracy": []} for k in ("vsml", "sgd")}
    seeds = list(seeds)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(seeds) * steps, desc=f"meta-test {'-'.join(map(str, sizes))}", dynamic_ncols=True)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            start = init_layers(sizes, W_INIT, g)
            layers = {"vsml": start, "sgd": start}
            rows = {k: {"loss": [], "accuracy": [], "test_accuracy": []} for k in layers}

            def test(kind):
                logits = (net.predict(layers[kind], x_test) if kind == "vsml"
                          else cfg.logit_gain * shadow_forward(layers[kind], x_test)[-1])
                rows[kind]["test_accuracy"].append(float((logits.argmax(-1) == y_test).float().mean()))

            for step in range(steps + 1):
                if step in eval_steps:
                    test("vsml"), test("sgd")
                if step == steps:
                    break
                idx = torch.randint(len(y_all), (batch_size,), generator=g)
                x, y = x_all[idx], y_all[idx]
                layers["vsml"], logits = net.step(layers["vsml"], x, y)
                new, zs, _ = shadow_step(layers["sgd"], x, y, cfg.logit_gain, cfg.lr)
                layers["sgd"] = new
                for kind, lg in (("vsml", logits), ("sgd", cfg.logit_gain * zs[-1])):
                    rows[kind]["loss"].append(float(F.cross_entropy(lg, y)))
                    rows[kind]["accuracy"].append(float((lg.argmax(-1) == y).float().mean()))
                if bar is not None:
                    bar.update(1)
            for kind in out:
                for key in rows[kind]:
                    out[kind][key].append(rows[kind][key])
    if bar is not None:
        bar.close()
    result = {k: {m: torch.tensor(v) for m, v in d.items()} for k, d in out.items()}
    result.update(eval_steps=eval_steps, sizes=sizes, seconds=time.perf_counter() - t0)
    return result


def save_metatest(result: dict, path, *, name: str, train_set, test_set) -> None:
    """Write :func:`metatest` curves with their provenance (data, device, runtime, commit) as JSON."""
    from .meta import _atomic_write_text, _git_commit

    doc = {"cloned": name, "sizes": result["sizes"], "eval_steps": result["eval_steps"],
           "seconds": round(result["seconds"], 1), "train_data": train_set.describe(), "test_data": test_set.describe(),
           "device": f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)", "torch": str(torch.__version__),
           "git_commit": _git_commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    for kind in ("vsml", "sgd"):
        doc[kind] = {k: [[round(float(v), 5) for v in row] for row in t.tolist()] for k, t in result[kind].items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(json.dumps(doc) + "\n", path)


def load_metatest(path) -> dict:
    """The inverse of :func:`save_metatest`: curves back as tensors ``[S, steps]``."""
    doc = json.loads(Path(path).read_text())
    for kind in ("vsml", "sgd"):
        doc[kind] = {k: torch.tensor(v) for k, v in doc[kind].items()}
    return doc


# --------------------------------------------------------------------------- CLI

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.cloning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train", help="clone backpropagation into V_M (Section 3.2)")
    p.add_argument("--out", required=True, help="run folder (checkpoint.pt, metrics.jsonl)")
    p.add_argument("--stage", choices=("shallow", "deep"), default=None)
    p.add_argument("--steps", type=int, default=None, help="total steps")
    p.add_argument("--init-from", default=None, help="deep stage: a shallow run folder or exported name")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="other CloningConfig fields")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p = sub.add_parser("export", help="write a run's V_M to vsml/pretrained/NAME.pt + .json")
    p.add_argument("--run", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--dest", default=None)
    p = sub.add_parser("metatest", help="train a network with a cloned V_M, beside SGD (Figures 5, 11)")
    p.add_argument("--name", required=True, help="an exported cloned V_M")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--hidden", type=int, default=None, help="hidden units (deep network), e.g. 32")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--test-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-compile", action="store_true", help="eager ticks (torch.compile fuses them, ~3-5x)")
    p.add_argument("--out", default=None, help="save the curves and their provenance as JSON")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "export":
            pt, js = export(args.run, args.name, args.dest)
            print(f"wrote {pt}\nwrote {js}")
            return 0
        if args.cmd == "metatest":
            from .data import load
            if args.threads:
                torch.set_num_threads(args.threads)
            params, cfg, _ = load_cloned(args.name)
            tr, te = load(args.dataset, "train").standardized(), load(args.dataset, "test").standardized()
            res = metatest(params, cfg, tr, te, hidden=args.hidden, steps=args.steps, seeds=range(args.seeds),
                           eval_every=args.eval_every, test_size=args.test_size, progress=True,
                           compile=not args.no_compile)
            for kind in ("vsml", "sgd"):
                acc = res[kind]["test_accuracy"][:, -1]
                print(f"{kind:5s} test accuracy after {args.steps} steps: {acc.mean():.3f} +- {acc.std():.3f}")
            if args.out:
                save_metatest(res, args.out, name=args.name, train_set=tr, test_set=te)
                print(f"wrote {args.out}")
            return 0
        resuming = args.resume and (Path(args.out) / CHECKPOINT).exists()
        cfg = CloningConfig.from_dict(load_run(args.out)["config"]) if resuming else CloningConfig()
        changes = {"stage": args.stage, "steps": args.steps}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep or not hasattr(cfg, key):
                raise ValueError(f"--set takes KEY=VALUE with a CloningConfig field, got {item!r}")
            changes[key] = type(getattr(cfg, key))(value)
        cfg = dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})
        train(cfg, args.out, resume=args.resume, init_from=args.init_from, progress=not args.no_progress,
              num_threads=args.threads)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python -m vsml.cloning train --out {args.out} --resume", file=sys.stderr)
        return 130
    print("vsml.cloning: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
