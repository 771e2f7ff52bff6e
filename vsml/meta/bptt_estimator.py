"""The BPTT meta-gradient: backpropagation through the online episode, Adam, global-norm clipping.

Paper: Section 3.1 / Algorithm 1 with the meta-gradient computed by
backpropagation through time instead of ES (Appendix C.2 mentions
"distributed gradient descent ... with gradient clipping"): a meta-batch of
episodes with shared parameters, the mean online cross-entropy as the
meta-loss. With ``segment_length`` / ``episode_length_max`` the episodes come
from a persistent pool and are cut into segments with the state carried
(Appendix B.2's proposed fix for short-horizon bias: :mod:`vsml.meta.episode_pool`).
With ``torchrun`` the meta-batch is split and gradients are averaged by an
all-reduce (not bit-identical across process counts: the summation order changes).
"""
from __future__ import annotations

import math

import torch

from ..runloop import NonFiniteError
from .distributed import all_reduce_mean
from .estimators import Estimator


class BPTTEstimator(Estimator):
    """Adam on ``theta``; state ``{"theta", "adam"}`` plus ``"pool"`` in long-horizon mode."""

    name = "bptt"

    def __init__(self, trainer):
        super().__init__(trainer)
        c = self.config
        if c.meta_batch_size % self.dist.world_size:
            raise ValueError(f"meta_batch_size={c.meta_batch_size} must be divisible by the "
                             f"{self.dist.world_size} processes")
        self.n_local = c.meta_batch_size // self.dist.world_size
        self.lo = self.dist.rank * self.n_local
        self.theta, self.optimizer, self.pool = None, None, None

    def init(self, theta: torch.Tensor) -> None:
        c = self.config
        self.pool = None
        if c.long_horizon:
            from .episode_pool import EpisodePool
            self.pool = EpisodePool(c, self.model, self.trainer.data, range(self.lo, self.lo + self.n_local),
                                    self.device)
        self.theta = theta.clone().requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.theta], lr=c.lr, betas=(c.b1, c.b2), eps=c.adam_eps)

    @property
    def params_flat(self) -> torch.Tensor:
        return self.theta.detach().clone()

    def step(self, step: int) -> dict:
        c = self.config
        if self.pool is not None:  # the next segment of each slot's episode in progress
            x, y, state = self.pool.next_segment()
        else:
            x, y, state = self.trainer.episodes(step, self.lo, self.lo + self.n_local)
        self.optimizer.zero_grad(set_to_none=False)
        if self.pool is not None:
            loss, correct, final = self.model.run(self.theta, x, y, state, return_state=True)
            pool_stats = self.pool.stats()
            self.pool.advance(final)
        else:  # resize_choices: this update's input size has its own model (one V_M)
            loss, correct = self.trainer.model_for(x.shape[-1]).run(self.theta, x, y, state)
        loss, correct = self.trainer.scored(loss), self.trainer.scored(correct)  # few-shot: the query only
        meta_loss = loss.mean()
        meta_loss.backward()
        stats = torch.stack([meta_loss.detach(), correct.float().mean()])
        all_reduce_mean(stats, self.dist)
        all_reduce_mean(self.theta.grad, self.dist)
        if not torch.isfinite(stats[0]):
            raise NonFiniteError("the meta-loss is non-finite")
        grad_norm = float(self.theta.grad.norm())
        if not math.isfinite(grad_norm):
            raise NonFiniteError("the meta-gradient is non-finite")
        if c.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([self.theta], c.grad_clip)
        self.optimizer.step()
        out = {"loss": float(stats[0]), "accuracy": float(stats[1]), "grad_norm": grad_norm}
        if self.pool is not None:
            out.update(pool_stats)
        return out

    def state_dict(self) -> dict:
        out = {"theta": self.theta.detach().cpu(), "adam": self.optimizer.state_dict()}
        if self.pool is not None:
            out["pool"] = self.pool.state_dict()  # per process: the run loop saves rank 0's (one process)
        return out

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.theta.copy_(state["theta"].to(self.device))
        self.optimizer.load_state_dict(state["adam"])
        if self.pool is not None:
            if "pool" not in state:
                raise ValueError("the checkpoint has no episode pool, but the config asks for long-horizon "
                                 "training; start a new run (use init_from to continue from its V_M)")
            self.pool.load_state_dict(state["pool"])
