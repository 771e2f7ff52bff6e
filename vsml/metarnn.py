"""The Meta RNN baseline (Hochreiter et al. 2001): a single LSTM whose activations are the learner.

Paper Section 4.2/4.4 (Figures 6, 8, 12, 13) and Appendix C.2 ("Meta RNN
baseline"): one LSTM receives ``[x_t, e_{t-1}]`` with
``e = softmax(y_hat) - onehot(y)``, and a linear readout gives the logits. Its
learning algorithm lives in its activations; its weights are the meta
variables, meta-trained by ES or BPTT (:mod:`vsml.meta`) like VSML's V_M.
(The authors' code also feeds the previous one-hot label: ``feed_label``.)
Episodes follow the online protocol of :mod:`vsml.online`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

from .config import ConfigMixin, coerce_fields
from .controller import check_member_params, input_gates, lstm_cell, member_matmul
from .online import bound as _bound
from .online import check_episode as _check_episode
from .online import online_metrics
from .online import truncated_normal as _truncated_normal

METARNN_HIDDEN_SIZE = 16           # paper text; the authors' config uses 128 (see metarnn_episode)


@dataclass(frozen=True)
class MetaRNNConfig(ConfigMixin):
    """The Meta RNN's options when it is meta-trained (``model_options`` of :class:`vsml.meta.MetaConfig`)."""

    hidden_size: int = METARNN_HIDDEN_SIZE
    num_micro_ticks: int = 2
    output_bound: float | None = 100.0
    feed_label: bool = False

    def __post_init__(self):
        coerce_fields(self)
        if self.hidden_size < 1 or self.num_micro_ticks < 1:
            raise ValueError(f"hidden_size and num_micro_ticks must be >= 1, got {self.hidden_size}, "
                             f"{self.num_micro_ticks}")
        if self.output_bound is not None and self.output_bound <= 0:
            raise ValueError(f"output_bound must be > 0 or null, got {self.output_bound}")


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
    H = params["lstm_bias"].shape[-1] // 4
    C = params["readout_bias"].shape[-1]
    P, T, D = x.shape
    _check_episode(x, y, C)
    feed_label = params["lstm_weight"].shape[-2] == D + 2 * C + H
    per_member = check_member_params(params, metarnn_param_shapes(D, C, H, feed_label), x, C, "metarnn")

    W, b = params["lstm_weight"], params["lstm_bias"]
    W_x, W_rec = W[..., :D, :], W[..., D:, :]  # rows for x; rows for [error, (label), h]
    # The x part of the gates is the same in every micro-tick: project all steps at once.
    x_gates = input_gates(x, W_x, b, per_member)
    onehot = F.one_hot(y, C).to(x.dtype)

    h = x.new_zeros(P, H)
    c = x.new_zeros(P, H)
    feedback = x.new_zeros(P, W_rec.shape[-2] - H)  # [e_{t-1}] or [e_{t-1}, onehot(y_{t-1})]
    logits_steps = []
    for t in range(T):
        for _ in range(num_micro_ticks):
            h, c = lstm_cell(x_gates[:, t] + member_matmul(torch.cat([feedback, h], -1), W_rec), c)
        logits = _bound(member_matmul(h, params["readout_weight"]) + params["readout_bias"], output_bound)
        logits_steps.append(logits)
        error = torch.softmax(logits, -1) - onehot[:, t]  # arrives with x_{t+1}
        feedback = torch.cat([error, onehot[:, t]], -1) if feed_label else error
    logits_all = torch.stack(logits_steps, 1)
    metrics = online_metrics(logits_all, y)
    return {"logits": logits_all, "loss": metrics["loss"], "correct": metrics["correct"]}
