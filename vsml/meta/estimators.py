"""The meta-gradient estimator interface of Algorithm 1: ES or BPTT, one file each.

Paper: Section 3.1 / Algorithm 1 ("VSML: Meta Training") and Appendix C.2.
An estimator owns the meta variables ``V_M`` (as one flat vector) and the
optimizer state that goes with them, and turns the episodes of step ``s`` into
one meta-update. :class:`vsml.meta.trainer.MetaTrainer` only calls this
interface, so a new estimator (e.g. persistent ES) is one new file and one
line in :data:`vsml.meta.trainer.ESTIMATORS`:

* ``init(theta)`` -- start from the flat parameters ``theta [D]``;
* ``step(step) -> dict`` -- one meta-update with the randomness of
  ``(config.seed, step)``; returns ``loss``, ``accuracy``, ``grad_norm``
  (and estimator-specific numbers); raises
  :class:`vsml.runloop.NonFiniteError` *before* applying a non-finite update;
* ``params_flat`` -- the current ``V_M`` as a detached ``[D]`` copy;
* ``state_dict()`` / ``load_state_dict(state)`` -- everything a bit-identical
  resume needs (the checkpoint format of earlier runs is kept).
"""
from __future__ import annotations

import torch


class Estimator:
    """Base class: the interface above. ``trainer`` supplies config, model, device, dist and episodes."""

    name = "?"

    def __init__(self, trainer):
        self.trainer = trainer
        self.config, self.model, self.device, self.dist = trainer.config, trainer.model, trainer.device, trainer.dist

    def init(self, theta: torch.Tensor) -> None:
        raise NotImplementedError

    def step(self, step: int) -> dict:
        raise NotImplementedError

    @property
    def params_flat(self) -> torch.Tensor:
        raise NotImplementedError

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError

