"""Pieces the learned baselines share: the per-member parameter check and the LSTM controller.

Paper: Appendix C.2 (the Meta RNN, Hebbian fast weights and the LSTM with a
fast-weight memory, all meta-trained like VSML). Each takes parameters shared
by every episode, or with a leading ``P`` axis (one ES population member per
episode); :func:`check_member_params` tells which. The Meta RNN and FWMemory
drive their output with an LSTM whose input part of the gates is projected
for all steps at once (:func:`input_gates`) and whose forget gate has a
constant +1 offset, as in Haiku's LSTM, which the authors' code uses.
"""
from __future__ import annotations

from typing import Mapping

import torch

FORGET_GATE_OFFSET = 1.0


def check_member_params(params: Mapping[str, torch.Tensor], shapes: Mapping[str, tuple], x: torch.Tensor,
                        num_classes: int, model: str) -> bool:
    """One-line ``ValueError`` unless ``params`` has exactly ``shapes`` (shared) or ``[P, *shape]``
    (one member per episode of ``x [P, T, D]``); returns whether they are per member."""
    if set(params) != set(shapes):
        raise ValueError(f"{model} params must have exactly the keys {sorted(shapes)}, got {sorted(params)}")
    name = next(iter(shapes))
    per_member = params[name].dim() == len(shapes[name]) + 1
    for name, shape in shapes.items():
        want = ((x.shape[0],) if per_member else ()) + tuple(shape)
        if tuple(params[name].shape) != want:
            raise ValueError(f"{model} {name} must be {want} for x of shape {tuple(x.shape)} and {num_classes} "
                             f"classes ({'per-member' if per_member else 'shared'} params), "
                             f"got {tuple(params[name].shape)}")
    return per_member


def member_matmul(a: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``a [P, k] @ W``, with ``W`` shared ``[k, n]`` or per member ``[P, k, n]``."""
    return a @ W if W.dim() == 2 else torch.bmm(a.unsqueeze(1), W).squeeze(1)


def input_gates(x: torch.Tensor, W_x: torch.Tensor, b: torch.Tensor, per_member: bool) -> torch.Tensor:
    """The input part of the gates for every step at once: ``x [P, T, D] -> [P, T, 4H]``."""
    return torch.bmm(x, W_x) + b.unsqueeze(1) if per_member else x @ W_x + b


def lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM update from pre-activations ``[P, 4H]`` in the order i, g, f, o; returns ``(h, c)``."""
    i, g, f, o = gates.chunk(4, -1)
    c = torch.sigmoid(f + FORGET_GATE_OFFSET) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c
