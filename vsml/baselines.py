"""Online SGD / Adam on VSML's online protocol: the gradient-descent baselines.

Paper Section 4.2 and 4.4 (Figures 6, 8, 12, 13) and Appendix C.2
("SGD baseline architecture"): a single layer ``x -> logits`` (the
architecture VSML's single layer implements), or one hidden layer of 160 tanh
units (about 125k weights on MNIST, matching the number of VSML state
dimensions). Logits are squashed to ``+-100`` with ``tanh`` like VSML's
predictions. Batch size 1, learning rate tuned by grid search on MNIST: SGD
1e-2, Adam 1e-3. The Meta RNN baseline is :mod:`vsml.metarnn`; the registry
of all learners for meta-testing is :mod:`vsml.evaluate`.

Protocol (Section 4.2): at step ``t`` the learner predicts ``x_t`` first (that
prediction is recorded and scored), and only then learns from ``(x_t, y_t)``.
Episodes are ``x`` float ``[P, T, D]``, ``y`` int64 ``[P, T]``: ``P``
independent runs, each a tensor slice, with per-run parameters carrying a
leading ``P`` dimension and batched matmuls (no Python loop over runs).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .online import bound as _bound
from .online import check_episode as _check_episode
from .online import cumulative_accuracy, online_metrics
from .online import truncated_normal as _truncated_normal

PAPER_HIDDEN_SIZE = 160            # deep SGD baseline (Appendix C.2)
PAPER_LR = {"sgd": 1e-2, "adam": 1e-3}
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


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
