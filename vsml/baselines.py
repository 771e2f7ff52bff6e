"""Baselines on VSML's online protocol: online SGD / Adam and the Meta RNN.

Paper Section 4.2 and 4.4 (Figures 6, 8, 12, 13) and Appendix C.2:

* **Online SGD / Adam** ("SGD baseline architecture"): a single layer
  ``x -> logits`` (the architecture VSML's single layer implements), or one
  hidden layer of 160 tanh units (about 125k weights on MNIST, matching the
  number of VSML state dimensions). Logits are squashed to ``+-100`` with
  ``tanh`` like VSML's predictions. Batch size 1, learning rate tuned by grid
  search on MNIST: SGD 1e-2, Adam 1e-3.
* **Meta RNN** ("Meta RNN baseline"; Hochreiter et al. 2001): one LSTM that
  receives ``[x_t, e_{t-1}]`` with ``e = softmax(y_hat) - onehot(y)``, and a
  linear readout to the logits. Its learning algorithm lives in its
  activations; its weights are the meta variables, meta-trained by ES or BPTT.
  (The authors' code also feeds the previous one-hot label: ``feed_label``.)

Protocol (Section 4.2): at step ``t`` the learner predicts ``x_t`` first (that
prediction is recorded and scored), and only then learns from ``(x_t, y_t)``.
Episodes are ``x`` float ``[P, T, D]``, ``y`` int64 ``[P, T]``: ``P``
independent runs, each a tensor slice, with per-run parameters carrying a
leading ``P`` dimension and batched matmuls (no Python loop over runs).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from vsml.evaluate import cumulative_accuracy, online_metrics

PAPER_HIDDEN_SIZE = 160            # deep SGD baseline (Appendix C.2)
PAPER_LR = {"sgd": 1e-2, "adam": 1e-3}
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
METARNN_HIDDEN_SIZE = 16           # paper text; the authors' config uses 128 (see metarnn_episode)
FORGET_GATE_OFFSET = 1.0           # as in Haiku's LSTM, which the authors' Meta RNN uses


def _check_episode(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    if not torch.is_floating_point(x) or x.dim() != 3:
        raise ValueError(f"x must be a float tensor [P, T, D], got {x.dtype} of shape {tuple(x.shape)}")
    if y.dtype != torch.int64 or y.shape != x.shape[:2]:
        raise ValueError(f"y must be int64 [P, T] = {tuple(x.shape[:2])} to match x, "
                         f"got {y.dtype} of shape {tuple(y.shape)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, num_classes={num_classes}), "
                         f"got range [{int(y.min())}, {int(y.max())}]")


def _bound(z: torch.Tensor, output_bound: float | None) -> torch.Tensor:
    return z if output_bound is None else output_bound * torch.tanh(z / output_bound)


# --------------------------------------------------------------------------- online SGD / Adam

def _truncated_normal(shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights ~ normal with std 1/sqrt(fan_in) truncated at 2 std (fan_in = shape[-2])."""
    std = 1.0 / math.sqrt(shape[-2])
    return torch.nn.init.trunc_normal_(torch.empty(shape), std=std, a=-2 * std, b=2 * std, generator=generator)


def _init_layers(P: int, sizes: Sequence[int], seed: int, device=None,
                 dtype=torch.float32) -> list[list[torch.Tensor]]:
    """Per-run layers ``[W [P, n_in, n_out] (truncated normal), b [P, n_out] (zeros)]``.

    Run ``p`` draws all its weights from one generator seeded with
    ``seed + p``, so a run does not depend on how many runs share the batch.
    """
    generators = [torch.Generator().manual_seed(seed + p) for p in range(P)]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = torch.stack([_truncated_normal((n_in, n_out), g) for g in generators])  # init only
        layers.append([W.to(device, dtype), torch.zeros(P, n_out, device=device, dtype=dtype)])
    return layers


def online_sgd(x: torch.Tensor, y: torch.Tensor, num_classes: int, *, hidden_size: int | None = None,
               optimizer: str = "sgd", lr: float | None = None, seed: int = 0,
               output_bound: float | None = 100.0) -> dict[str, torch.Tensor]:
    """Online (batch size 1) gradient descent on ``P`` independent runs at once.

    ``hidden_size=None`` trains a single layer ``x -> logits``; an int adds one
    tanh hidden layer (the paper uses ``PAPER_HIDDEN_SIZE = 160``). Logits are
    ``output_bound * tanh(z / output_bound)`` (``None``: unbounded); the loss is
    cross-entropy. ``optimizer`` is ``"sgd"`` or ``"adam"`` (betas .9/.999,
    eps 1e-8); ``lr=None`` takes the paper's tuned 1e-2 (SGD) or 1e-3 (Adam).
    Weights start truncated normal with std 1/sqrt(fan_in) (Haiku's default,
    which the authors' baselines use), biases 0; run ``p`` is seeded with
    ``seed + p``, so a run's result does not depend on ``P``.

    Returns ``logits`` ``[P, T, C]`` (each made before its label was used),
    ``loss`` and ``correct`` ``[P, T]``.
    """
    _check_episode(x, y, num_classes)
    if optimizer not in PAPER_LR:
        raise ValueError(f"optimizer must be one of {sorted(PAPER_LR)}, got {optimizer!r}")
    lr = PAPER_LR[optimizer] if lr is None else float(lr)
    if lr < 0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    if hidden_size is not None and hidden_size < 1:
        raise ValueError(f"hidden_size must be None (single layer) or >= 1, got {hidden_size}")
    if output_bound is not None and output_bound <= 0:
        raise ValueError(f"output_bound must be > 0 or None, got {output_bound}")

    P, T, D = x.shape
    sizes = [D, num_classes] if hidden_size is None else [D, hidden_size, num_classes]
    layers = _init_layers(P, sizes, seed, x.device, x.dtype)  # [[W [P, n_in, n_out], b [P, n_out]], ...]
    params = [p for layer in layers for p in layer]
    if optimizer == "adam":
        # Adam is element-wise, so one torch Adam over the [P, ...] tensors is
        # exactly P independent Adams (its step count is the same for every run).
        for p in params:
            p.grad = torch.zeros_like(p)
        adam = torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS,
                                fused=x.device.type in ("cpu", "cuda"))
    onehot = F.one_hot(y, num_classes).to(x.dtype)
    logits_all = torch.empty(P, T, num_classes, dtype=x.dtype, device=x.device)

    with torch.no_grad():
        for t in range(T):
            # Predict x_t with the current weights: this is the recorded prediction.
            inputs = [x[:, t]]
            for i, (W, b) in enumerate(layers):
                z = torch.baddbmm(b.unsqueeze(1), inputs[-1].unsqueeze(1), W).squeeze(1)
                if i < len(layers) - 1:
                    inputs.append(torch.tanh(z))
            logits = _bound(z, output_bound)
            logits_all[:, t] = logits

            # Learn from (x_t, y_t): backprop by hand through the bound and the tanh layers.
            grad_z = torch.softmax(logits, -1) - onehot[:, t]
            if output_bound is not None:
                grad_z = grad_z * (1 - (logits / output_bound) ** 2)
            for i in reversed(range(len(layers))):
                W, b = layers[i]
                a = inputs[i]
                grad_in = torch.bmm(grad_z.unsqueeze(1), W.transpose(1, 2)).squeeze(1) if i > 0 else None
                if optimizer == "sgd":
                    W.baddbmm_(a.unsqueeze(2), grad_z.unsqueeze(1), alpha=-lr)  # W -= lr * outer(a, grad_z)
                    b.sub_(grad_z, alpha=lr)
                else:
                    torch.bmm(a.unsqueeze(2), grad_z.unsqueeze(1), out=W.grad)
                    b.grad.copy_(grad_z)
                if i > 0:
                    grad_z = grad_in * (1 - a ** 2)  # through tanh of the hidden layer
            if optimizer == "adam":
                adam.step()

    metrics = online_metrics(logits_all, y)
    return {"logits": logits_all, "loss": metrics["loss"], "correct": metrics["correct"]}


def tune_lr(x: torch.Tensor, y: torch.Tensor, num_classes: int, grid: Sequence[float],
            **kwargs) -> tuple[float, dict[float, float]]:
    """Grid search for online_sgd's learning rate by final cumulative accuracy.

    The paper tuned on MNIST (Appendix C.2). ``kwargs`` go to :func:`online_sgd`.
    Returns the best ``lr`` (the first on ties) and ``{lr: mean final cumulative accuracy}``.
    """
    if len(grid) == 0:
        raise ValueError("grid must hold at least one learning rate")
    table = {}
    for lr in grid:
        correct = online_sgd(x, y, num_classes, lr=lr, **kwargs)["correct"]
        table[float(lr)] = float(cumulative_accuracy(correct)[:, -1].mean())
    best_lr = max(table, key=table.get)
    return best_lr, table


# --------------------------------------------------------------------------- flat <-> dict

def num_params(shapes: Mapping[str, Sequence[int]]) -> int:
    return sum(math.prod(s) for s in shapes.values())


def flatten(params: Mapping[str, torch.Tensor], shapes: Mapping[str, Sequence[int]] | None = None) -> torch.Tensor:
    """Concatenate parameters in dict order into ``[..., n]``.

    Without ``shapes`` every tensor is flattened whole (result ``[n]``). With
    ``shapes``, dimensions in front of each shape are kept as leading
    (population) dimensions, e.g. per-member ``[P, ...]`` -> ``[P, n]``.
    """
    if shapes is None:
        return torch.cat([p.reshape(-1) for p in params.values()])
    if list(params) != list(shapes):
        raise ValueError(f"params keys {list(params)} do not match shapes keys {list(shapes)}")
    pieces = []
    for name, shape in shapes.items():
        p = params[name]
        lead = p.shape[:p.dim() - len(shape)]
        if tuple(p.shape[len(lead):]) != tuple(shape):
            raise ValueError(f"{name} has shape {tuple(p.shape)}, expected [..., {', '.join(map(str, shape))}]")
        pieces.append(p.reshape(*lead, -1))
    return torch.cat(pieces, -1)


def unflatten(flat: torch.Tensor, shapes: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`flatten`: ``[..., n]`` -> ``{name: [..., *shape]}`` (views, no copy)."""
    n = num_params(shapes)
    if flat.dim() < 1 or flat.shape[-1] != n:
        raise ValueError(f"flat must be [..., {n}] for these shapes, got shape {tuple(flat.shape)}")
    lead = flat.shape[:-1]
    sizes = [math.prod(s) for s in shapes.values()]
    return {name: piece.reshape(*lead, *shape)
            for (name, shape), piece in zip(shapes.items(), flat.split(sizes, -1))}


# --------------------------------------------------------------------------- Meta RNN

def metarnn_param_shapes(input_size: int, num_classes: int, hidden_size: int = METARNN_HIDDEN_SIZE,
                         feed_label: bool = False) -> dict[str, tuple[int, ...]]:
    """Shapes of the Meta RNN's meta variables.

    ``lstm_weight`` rows are ``[x (input_size), error (num_classes),
    previous label (num_classes, only with feed_label), h (hidden_size)]``;
    its columns (and ``lstm_bias``) are the gates in the order i, g, f, o.
    """
    if min(input_size, num_classes, hidden_size) < 1:
        raise ValueError(f"sizes must be >= 1, got input_size={input_size}, "
                         f"num_classes={num_classes}, hidden_size={hidden_size}")
    H = hidden_size
    rows = input_size + num_classes * (2 if feed_label else 1) + H
    return {"lstm_weight": (rows, 4 * H), "lstm_bias": (4 * H,),
            "readout_weight": (H, num_classes), "readout_bias": (num_classes,)}


def metarnn_init(input_size: int, num_classes: int, hidden_size: int = METARNN_HIDDEN_SIZE,
                 generator: torch.Generator | None = None, feed_label: bool = False) -> dict[str, torch.Tensor]:
    """Weights truncated normal (at 2 std) with std 1/sqrt(fan_in), biases 0."""
    shapes = metarnn_param_shapes(input_size, num_classes, hidden_size, feed_label)
    return {name: _truncated_normal(shape, generator) if name.endswith("weight") else torch.zeros(shape)
            for name, shape in shapes.items()}


def _matmul(a: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``a [P, k] @ W``, with W shared ``[k, n]`` or per member ``[P, k, n]``."""
    return a @ W if W.dim() == 2 else torch.bmm(a.unsqueeze(1), W).squeeze(1)


def metarnn_episode(params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, *,
                    num_micro_ticks: int = 2, output_bound: float | None = 100.0) -> dict[str, torch.Tensor]:
    """Run the Meta RNN online over ``P`` episodes ``x [P, T, D]``, ``y [P, T]``.

    Each step the LSTM gets ``[x_t, e_{t-1}]`` with the previous step's error
    ``e = softmax(logits) - onehot(y)`` (``e_0 = 0``), so the prediction for
    ``x_t`` never sees ``y_t``; it ticks ``num_micro_ticks`` times on that same
    input, then a linear readout gives the logits, bounded as
    ``output_bound * tanh(z / output_bound)``. The LSTM state starts at zero;
    the forget gate has a constant +1 offset.

    ``params`` (see :func:`metarnn_param_shapes`) are either shared by all
    episodes or carry a leading ``P`` dimension (one member of an ES
    population per episode). Differentiable (BPTT) and usable under
    ``torch.inference_mode`` (ES). The meta-loss is ``out["loss"].mean()``.

    Paper vs. the authors' code: Appendix C.2 says hidden size 16 and input
    ``|image| + |error|`` ("about 100k to 150k parameters"; 16 gives ~52k on
    MNIST); the authors' default config uses hidden size 128 and 2 micro-ticks,
    and their Meta RNN also feeds the previous one-hot label. Both are
    supported: pick ``hidden_size`` in :func:`metarnn_init`, and
    ``feed_label=True`` there adds the label rows (detected here from the
    shapes).

    Returns ``logits [P, T, C]``, ``loss [P, T]`` and ``correct [P, T]``.
    """
    expected = {"lstm_weight", "lstm_bias", "readout_weight", "readout_bias"}
    if set(params) != expected:
        raise ValueError(f"params must have exactly the keys {sorted(expected)}, got {sorted(params)}")
    if num_micro_ticks < 1:
        raise ValueError(f"num_micro_ticks must be >= 1, got {num_micro_ticks}")
    if x.dim() != 3:
        raise ValueError(f"x must be a float tensor [P, T, D], got shape {tuple(x.shape)}")
    per_member = params["lstm_bias"].dim() == 2
    H = params["lstm_bias"].shape[-1] // 4
    C = params["readout_bias"].shape[-1]
    P, T, D = x.shape
    _check_episode(x, y, C)
    feed_label = params["lstm_weight"].shape[-2] == D + 2 * C + H
    for name, shape in metarnn_param_shapes(D, C, H, feed_label).items():
        want = ((P,) if per_member else ()) + shape
        if tuple(params[name].shape) != want:
            raise ValueError(f"{name} must be {want} for x of shape {tuple(x.shape)} and {C} classes "
                             f"({'per-member' if per_member else 'shared'} params), got {tuple(params[name].shape)}")

    W, b = params["lstm_weight"], params["lstm_bias"]
    W_x, W_rec = W[..., :D, :], W[..., D:, :]  # rows for x; rows for [error, (label), h]
    # The x part of the gates is the same in every micro-tick: project all steps at once.
    x_gates = torch.bmm(x, W_x) + b.unsqueeze(1) if per_member else x @ W_x + b
    onehot = F.one_hot(y, C).to(x.dtype)

    h = x.new_zeros(P, H)
    c = x.new_zeros(P, H)
    feedback = x.new_zeros(P, W_rec.shape[-2] - H)  # [e_{t-1}] or [e_{t-1}, onehot(y_{t-1})]
    logits_steps = []
    for t in range(T):
        for _ in range(num_micro_ticks):
            gates = x_gates[:, t] + _matmul(torch.cat([feedback, h], -1), W_rec)
            i, g, f, o = gates.chunk(4, -1)
            c = torch.sigmoid(f + FORGET_GATE_OFFSET) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        logits = _bound(_matmul(h, params["readout_weight"]) + params["readout_bias"], output_bound)
        logits_steps.append(logits)
        error = torch.softmax(logits, -1) - onehot[:, t]  # arrives with x_{t+1}
        feedback = torch.cat([error, onehot[:, t]], -1) if feed_label else error
    logits_all = torch.stack(logits_steps, 1)
    metrics = online_metrics(logits_all, y)
    return {"logits": logits_all, "loss": metrics["loss"], "correct": metrics["correct"]}
