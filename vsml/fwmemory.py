"""The FWMemory baseline: an LSTM with an external fast-weight memory, meta-trained like VSML.

Paper Section 4.4 (Figures 8, 12, 13: "an external (fast weight) memory
approach [42]"), after Schlag, Munkhdalai & Schmidhuber, "Learning
associative inference using fast weight memory" (ICLR 2021). An LSTM (the
slow net) gets ``[x_t, e_{t-1}]`` (``e = softmax(logits) - onehot(y)``, as the
Meta RNN of :mod:`vsml.metarnn`; ``feed_label`` adds ``onehot(y_{t-1})``) and
programs a memory ``F [M, M*M]`` that starts at zero in every episode:

* write: ``k1, k2, v = tanh(.)`` and ``beta = sigmoid(.)`` from ``h``;
  key ``k = vec(k1 outer k2)``; ``F += beta * (v - F k) outer k`` (replace the
  value stored under ``k``), then ``F /= max(1, ||F||)``;
* read: ``n, e_1 .. e_R = tanh(.)`` from ``h``; ``n <- LayerNorm(F vec(n outer e_r))``
  for ``r = 1 .. R`` (``num_reads``; one in the authors' baseline);
* predict: ``logits = bound((h + W_read n) @ W_out)``.

So the prediction for ``x_t`` uses ``y_1 .. y_{t-1}`` only. Sizes follow the
authors' code (hidden 32, memory 16). The LSTM's gates are ordered i, g, f, o
with a +1 forget-gate offset, as in :mod:`vsml.metarnn`. Parameters are
shared by all episodes or per member (ES). Episodes follow :mod:`vsml.online`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

from .config import ConfigMixin, coerce_fields
from .controller import check_member_params, input_gates, lstm_cell, member_matmul
from .online import bound, check_episode, online_metrics, truncated_normal


@dataclass(frozen=True)
class FWMemoryConfig(ConfigMixin):
    """FWMemory's options (``model_options`` of :class:`vsml.meta.MetaConfig` with ``model: fwmemory``)."""

    hidden_size: int = 32
    memory_size: int = 16              # M: the memory is M x M^2
    num_reads: int = 1                 # R: chained reads per step
    feed_label: bool = False           # also feed onehot(y_{t-1}) (the authors' code does)
    output_bound: float | None = 100.0

    def __post_init__(self):
        coerce_fields(self)
        if min(self.hidden_size, self.memory_size, self.num_reads) < 1:
            raise ValueError(f"hidden_size, memory_size and num_reads must be >= 1, got {self.hidden_size}, "
                             f"{self.memory_size}, {self.num_reads}")
        if self.output_bound is not None and self.output_bound <= 0:
            raise ValueError(f"output_bound must be > 0 or null, got {self.output_bound}")


def fwmemory_param_shapes(input_size: int, num_classes: int,
                          config: FWMemoryConfig | None = None) -> dict[str, tuple[int, ...]]:
    """Shapes of FWMemory's meta variables.

    ``lstm_weight`` rows: ``[x, error, (label with feed_label), h]``; columns
    the gates i, g, f, o. ``write_weight`` columns: ``k1, k2, v`` (M each) and
    ``beta``; ``read_weight`` columns: ``n`` and ``e_1 .. e_R`` (M each).
    """
    c = config or FWMemoryConfig()
    if min(input_size, num_classes) < 1:
        raise ValueError(f"sizes must be >= 1, got input_size={input_size}, num_classes={num_classes}")
    H, M = c.hidden_size, c.memory_size
    rows = input_size + num_classes * (2 if c.feed_label else 1) + H
    return {"lstm_weight": (rows, 4 * H), "lstm_bias": (4 * H,),
            "write_weight": (H, 3 * M + 1), "write_bias": (3 * M + 1,),
            "read_weight": (H, (1 + c.num_reads) * M), "read_bias": ((1 + c.num_reads) * M,),
            "memory_out_weight": (M, H), "memory_out_bias": (H,),
            "readout_weight": (H, num_classes), "readout_bias": (num_classes,)}


def fwmemory_init(input_size: int, num_classes: int, config: FWMemoryConfig | None = None,
                  generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Weights truncated normal (at 2 std) with std 1/sqrt(fan_in), biases 0."""
    shapes = fwmemory_param_shapes(input_size, num_classes, config)
    return {name: truncated_normal(shape, generator) if name.endswith("weight") else torch.zeros(shape)
            for name, shape in shapes.items()}


def _outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``vec(a outer b)`` per row: ``[P, M]``, ``[P, M]`` -> ``[P, M*M]``."""
    return (a[:, :, None] * b[:, None, :]).flatten(1)


def fwmemory_episode(params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                     config: FWMemoryConfig | None = None) -> dict[str, torch.Tensor]:
    """Run FWMemory online over ``P`` episodes ``x [P, T, D]``, ``y [P, T]`` (module docstring).

    ``config`` gives the sizes the params must have (:func:`fwmemory_param_shapes`;
    default :class:`FWMemoryConfig`) and the output bound; ``C`` is read off
    ``params["readout_bias"]``. Params are shared or carry a leading ``P``
    dimension. Differentiable (BPTT) and usable under ``torch.inference_mode``
    (ES). Returns ``logits [P, T, C]``, ``loss [P, T]``, ``correct [P, T]``.
    """
    c = config or FWMemoryConfig()
    if x.dim() != 3:
        raise ValueError(f"x must be a float tensor [P, T, D], got shape {tuple(x.shape)}")
    if "readout_bias" not in params:
        raise ValueError(f"fwmemory params must have exactly the keys "
                         f"{sorted(fwmemory_param_shapes(1, 1, c))}, got {sorted(params)}")
    P, T, D = x.shape
    C = params["readout_bias"].shape[-1]
    check_episode(x, y, C)
    try:
        per_member = check_member_params(params, fwmemory_param_shapes(D, C, c), x, C, "fwmemory")
    except ValueError as exc:
        raise ValueError(f"{exc} (config: {c})") from None
    H, M = c.hidden_size, c.memory_size
    W, b = params["lstm_weight"], params["lstm_bias"]
    W_x, W_rec = W[..., :D, :], W[..., D:, :]  # rows for x; rows for [error, (label), h]
    x_gates = input_gates(x, W_x, b, per_member)
    onehot = F.one_hot(y, C).to(x.dtype)

    def affine(a, name):
        return member_matmul(a, params[f"{name}_weight"]) + params[f"{name}_bias"]

    h, cell = x.new_zeros(P, H), x.new_zeros(P, H)
    memory = x.new_zeros(P, M, M * M)
    feedback = x.new_zeros(P, W_rec.shape[-2] - H)  # [e_{t-1}] or [e_{t-1}, onehot(y_{t-1})]
    logits_steps = []
    for t in range(T):
        h, cell = lstm_cell(x_gates[:, t] + member_matmul(torch.cat([feedback, h], -1), W_rec), cell)

        write = affine(h, "write")
        k1, k2, value = torch.tanh(write[:, :3 * M]).chunk(3, -1)
        beta = torch.sigmoid(write[:, 3 * M:])                           # [P, 1]
        key = _outer(k1, k2)                                              # [P, M*M]
        old = torch.bmm(memory, key[:, :, None]).squeeze(-1)              # F k: what k retrieves now
        memory = memory + (beta * (value - old))[:, :, None] * key[:, None, :]
        memory = memory / memory.flatten(1).norm(dim=-1).clamp_min(1.0)[:, None, None]

        n, *queries = torch.tanh(affine(h, "read")).chunk(1 + c.num_reads, -1)
        for e in queries:
            n = F.layer_norm(torch.bmm(memory, _outer(n, e)[:, :, None]).squeeze(-1), (M,))
        logits = bound(affine(h + affine(n, "memory_out"), "readout"), c.output_bound)
        logits_steps.append(logits)
        error = torch.softmax(logits, -1) - onehot[:, t]  # arrives with x_{t+1}
        feedback = torch.cat([error, onehot[:, t]], -1) if c.feed_label else error
    logits_all = torch.stack(logits_steps, 1)
    metrics = online_metrics(logits_all, y)
    return {"logits": logits_all, "loss": metrics["loss"], "correct": metrics["correct"]}
