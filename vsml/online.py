"""Scoring online predictions (paper Section 4.2): per-step loss, correctness and cumulative accuracy.

A learner sees one example at a time. At step ``t`` it predicts ``x_t`` before
it has seen ``y_t``; ``c_t`` is 1 where that prediction was right. The paper
plots the cumulative accuracy after ``T'`` examples,

    acc(T') = (1 / T') * sum_{t <= T'} c_t.

Every learner of the package (VSML, the Meta RNN, online SGD/Adam) scores its
predictions here; :mod:`vsml.evaluate` summarises the curves over runs.
Episodes are ``x`` float ``[P, T, D]`` and ``y`` int64 ``[P, T]``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def check_episode(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    """One-line ``ValueError`` unless ``x`` is float ``[P, T, D]`` and ``y`` int64 ``[P, T]`` in ``[0, C)``."""
    if not torch.is_floating_point(x) or x.dim() != 3:
        raise ValueError(f"x must be a float tensor [P, T, D], got {x.dtype} of shape {tuple(x.shape)}")
    if y.dtype != torch.int64 or y.shape != x.shape[:2]:
        raise ValueError(f"y must be int64 [P, T] = {tuple(x.shape[:2])} to match x, "
                         f"got {y.dtype} of shape {tuple(y.shape)} (labels: convert with y.long())")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, num_classes={num_classes}), "
                         f"got range [{int(y.min())}, {int(y.max())}]")


def cumulative_accuracy(correct: torch.Tensor) -> torch.Tensor:
    """``(1/T') sum_{t <= T'} c_t`` along the last (time) axis; ``[P, T]`` -> float ``[P, T]``."""
    if correct.dim() < 1 or correct.shape[-1] == 0:
        raise ValueError(f"correct must be [..., T] with T >= 1, got shape {tuple(correct.shape)}")
    steps = torch.arange(1, correct.shape[-1] + 1, device=correct.device, dtype=torch.float32)
    return correct.float().cumsum(-1) / steps


def online_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-step cross-entropy, correctness and cumulative accuracy of online predictions.

    ``logits`` ``[P, T, C]`` must be the predictions made *before* each label
    was seen; ``y`` is int64 ``[P, T]``. Returns ``correct`` (bool), ``loss``
    and ``cum_acc``, each ``[P, T]``.
    """
    if logits.dim() != 3 or y.shape != logits.shape[:2]:
        raise ValueError(f"need logits [P, T, C] and y [P, T], got {tuple(logits.shape)} and {tuple(y.shape)}")
    C = logits.shape[-1]
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= C):
        raise ValueError(f"labels must lie in [0, {C}), got range [{int(y.min())}, {int(y.max())}]")
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
    correct = logits.argmax(-1) == y
    return {"correct": correct, "loss": loss, "cum_acc": cumulative_accuracy(correct)}


def bound(z: torch.Tensor, output_bound: float | None) -> torch.Tensor:
    """``output_bound * tanh(z / output_bound)`` (``None``: unbounded), as VSML bounds its predictions."""
    return z if output_bound is None else output_bound * torch.tanh(z / output_bound)


def truncated_normal(shape, generator: torch.Generator | None = None) -> torch.Tensor:
    """Weights ~ normal with std 1/sqrt(fan_in) truncated at 2 std (fan_in = shape[-2]; Haiku's default)."""
    std = 1.0 / math.sqrt(shape[-2])
    return torch.nn.init.trunc_normal_(torch.empty(shape), std=std, a=-2 * std, b=2 * std, generator=generator)
