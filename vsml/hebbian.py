"""The Hebbian fast-weight baseline (HebbianFW): one layer adapted online by meta-learned plasticity.

Paper Section 4.4 (Figures 8, 12, 13) and Appendix C.2 ("Hebbian fast weight
baseline"): "a single layer is adapted using learned synaptic plasticity ...
using Oja's rule by feeding the prediction errors and label as additional
inputs", after Miconi, Clune & Stanley, "Differentiable plasticity: training
plastic neural networks with backpropagation" (ICML 2018; the paper's [25]).

Each connection ``(i, j)`` of the layer has a slow weight ``w_ij``, a
plasticity coefficient ``alpha_ij`` and a fast (Hebbian) trace ``F_ij`` that
starts at zero in every episode; the layer computes
``z = u @ (w + alpha * F) + b`` on ``u = [x, e, onehot(y)]``. Step ``t``:

1. predict: ``u = [x_t, 0, 0]`` (nothing about ``y_t`` yet), logits
   ``bound(z)``, error ``e_t = softmax(logits) - onehot(y_t)``;
2. learn: ``u = [x_t, e_t, onehot(y_t)]`` drives the post-synaptic activity
   ``v = softmax(z)`` and the traces follow Oja's rule
   ``F_ij += eta * v_j * (u_i - v_j * F_ij)`` (or Miconi's decaying Hebb rule
   ``F_ij = (1 - eta) F_ij + eta * u_i * v_j`` with ``rule="hebb"``).

The meta variables are ``w``, ``alpha``, ``b`` and the plasticity rate
``eta = sigmoid(plasticity_lr)``; meta-training (:mod:`vsml.meta`, ``model:
hebbian``) fits them by BPTT or ES like VSML's V_M. The authors' code does
the same two passes per step (with zero extra inputs for the prediction).
Episodes follow the online protocol of :mod:`vsml.online`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

from .config import ConfigMixin, coerce_fields
from .controller import check_member_params
from .online import bound, check_episode, online_metrics, truncated_normal

RULES = ("oja", "hebb")
PLASTICITY_INIT = 0.01        # alpha: every connection starts slightly plastic
PLASTICITY_LR_INIT = -4.5     # eta = sigmoid(-4.5) ~ 0.011


@dataclass(frozen=True)
class HebbianConfig(ConfigMixin):
    """HebbianFW's options (``model_options`` of :class:`vsml.meta.MetaConfig` with ``model: hebbian``)."""

    rule: str = "oja"                  # oja | hebb (Miconi et al.'s decaying Hebbian trace)
    output_bound: float | None = 100.0

    def __post_init__(self):
        coerce_fields(self)
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        if self.output_bound is not None and self.output_bound <= 0:
            raise ValueError(f"output_bound must be > 0 or null, got {self.output_bound}")


def hebbian_param_shapes(input_size: int, num_classes: int,
                         config: HebbianConfig | None = None) -> dict[str, tuple[int, ...]]:
    """Shapes of HebbianFW's meta variables (the same for every ``config``).

    Rows of ``weight`` and ``plasticity`` are the layer's inputs
    ``[x (input_size), error (num_classes), label (num_classes)]``, columns its outputs.
    """
    if min(input_size, num_classes) < 1:
        raise ValueError(f"sizes must be >= 1, got input_size={input_size}, num_classes={num_classes}")
    rows = input_size + 2 * num_classes
    return {"weight": (rows, num_classes), "plasticity": (rows, num_classes), "bias": (num_classes,),
            "plasticity_lr": (1,)}


def hebbian_init(input_size: int, num_classes: int, config: HebbianConfig | None = None,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Weights truncated normal (2 std, std 1/sqrt(fan_in)), bias 0, ``alpha = 0.01``, ``eta ~ 0.011``."""
    shapes = hebbian_param_shapes(input_size, num_classes, config)
    return {"weight": truncated_normal(shapes["weight"], generator),
            "plasticity": torch.full(shapes["plasticity"], PLASTICITY_INIT),
            "bias": torch.zeros(shapes["bias"]),
            "plasticity_lr": torch.full(shapes["plasticity_lr"], PLASTICITY_LR_INIT)}


def _member(t: torch.Tensor, per_member: bool) -> torch.Tensor:
    """A parameter with a leading episode axis: per member as is, shared broadcast (``[1, ...]``)."""
    return t if per_member else t.unsqueeze(0)


def hebbian_episode(params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                    config: HebbianConfig | None = None) -> dict[str, torch.Tensor]:
    """Run HebbianFW online over ``P`` episodes ``x [P, T, D]``, ``y [P, T]`` (module docstring).

    The number of classes ``C`` is read off ``params["bias"]``. ``params``
    (:func:`hebbian_param_shapes`) are shared by all episodes or carry a
    leading ``P`` dimension (one ES population member per episode). The
    prediction for ``x_t`` depends on ``y_1 .. y_{t-1}`` only. Differentiable
    (BPTT) and usable under ``torch.inference_mode`` (ES); the meta-loss is
    ``out["loss"].mean()``. Returns ``logits [P, T, C]``, ``loss [P, T]``, ``correct [P, T]``.
    """
    config = config or HebbianConfig()
    if x.dim() != 3:
        raise ValueError(f"x must be a float tensor [P, T, D], got shape {tuple(x.shape)}")
    if "bias" not in params:
        raise ValueError(f"hebbian params must have exactly the keys "
                         f"{sorted(hebbian_param_shapes(1, 1))}, got {sorted(params)}")
    P, T, D = x.shape
    C = params["bias"].shape[-1]
    check_episode(x, y, C)
    per_member = check_member_params(params, hebbian_param_shapes(D, C), x, C, "hebbian")
    weight, plasticity = _member(params["weight"], per_member), _member(params["plasticity"], per_member)
    b = _member(params["bias"], per_member)                              # [P or 1, C]
    eta = torch.sigmoid(_member(params["plasticity_lr"], per_member))[..., None]  # [P or 1, 1, 1]
    onehot = F.one_hot(y, C).to(x.dtype)

    fast = x.new_zeros(P, D + 2 * C, C)
    logits_steps = []
    for t in range(T):
        effective = weight + plasticity * fast                           # [P, D + 2C, C]
        z = torch.einsum("pi,pij->pj", x[:, t], effective[:, :D]) + b    # the extra inputs are 0 here
        logits = bound(z, config.output_bound)
        logits_steps.append(logits)
        error = torch.softmax(logits, -1) - onehot[:, t]
        extra = torch.cat([error, onehot[:, t]], -1)
        post = torch.softmax(z + torch.einsum("pi,pij->pj", extra, effective[:, D:]), -1)[:, None, :]
        pre = torch.cat([x[:, t], extra], -1)[:, :, None]
        if config.rule == "oja":
            fast = fast + eta * post * (pre - post * fast)
        else:
            fast = (1 - eta) * fast + eta * pre * post
    logits_all = torch.stack(logits_steps, 1)
    metrics = online_metrics(logits_all, y)
    return {"logits": logits_all, "loss": metrics["loss"], "correct": metrics["correct"]}
