"""The ES meta-gradient (OpenAI-ES, Salimans et al. 2017), as the paper meta-trains V_M.

Paper: Section 3.1 / Algorithm 1 and Appendix C.2: antithetic pairs
``theta +- sigma eps`` (1,024 pairs, sigma 0.05), Adam 0.025, 10k generations.
The whole population runs as one batched forward pass with per-member
parameters ``[2 * num_pairs, D]`` under ``torch.inference_mode``; both
members of a pair see the same episode and the same initial state; every
generation draws fresh episodes and states. The update rule itself is
:mod:`vsml.es`. With ``torchrun`` every rank draws the same full noise,
evaluates its slice of pairs and all-gathers the losses, so every rank applies
the same update (bit-identical to one process on CPU).
"""
from __future__ import annotations

import math

import torch

from .. import es
from ..runloop import NonFiniteError
from .distributed import all_gather
from .episodes import derive_seed
from .estimators import Estimator


class ESEstimator(Estimator):
    """OpenAI-ES with Adam on the mean; state ``{"es": ESState}``."""

    name = "es"

    def __init__(self, trainer):
        super().__init__(trainer)
        if self.config.num_pairs % self.dist.world_size:
            raise ValueError(f"num_pairs={self.config.num_pairs} must be divisible by the "
                             f"{self.dist.world_size} processes")
        self.hp = self.config.es_hyperparams()
        self.state = None

    def init(self, theta: torch.Tensor) -> None:
        self.state = es.init(theta)

    @property
    def params_flat(self) -> torch.Tensor:
        return self.state.mean.detach().clone()

    def step(self, step: int) -> dict:
        hp, n_local = self.hp, self.hp.num_pairs // self.dist.world_size
        noise_gen = torch.Generator().manual_seed(derive_seed(self.config.seed, step, "noise"))
        population, noise = es.ask(self.state, hp, noise_gen)  # every rank draws the full noise
        lo, hi = self.dist.rank * n_local, (self.dist.rank + 1) * n_local
        x, y, state = self.trainer.episodes(step, lo, hi)
        with torch.inference_mode():
            model = self.trainer.model_for(x.shape[-1])  # resize_choices: a model per input size, one V_M
            loss, correct = model.run(population[2 * lo:2 * hi], x, y, state, repeats=2)
            loss, correct = self.trainer.scored(loss), self.trainer.scored(correct)  # few-shot: the query only
            member = torch.stack([loss.mean(1), correct.float().mean(1)], 1)  # [2 n_local, 2]
        member = all_gather(member, self.dist)
        losses = member[:, 0]
        if not torch.isfinite(losses).all():
            bad = int((~torch.isfinite(losses)).sum())
            raise NonFiniteError(f"{bad} of {losses.numel()} population members have a non-finite meta-loss")
        grad = es.gradient(hp, noise, losses)
        grad_norm = float(grad.norm())
        if not math.isfinite(grad_norm):
            raise NonFiniteError("the ES gradient is non-finite")
        self.state = es.tell(self.state, hp, noise, losses)
        return {"loss": float(losses.mean()), "accuracy": float(member[:, 1].mean()), "grad_norm": grad_norm}

    def state_dict(self) -> dict:
        return {"es": {k: (v.cpu() if torch.is_tensor(v) else v) for k, v in self.state.to_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        self.state = es.ESState.from_dict(state["es"]).to(self.device)
