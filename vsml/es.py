"""OpenAI-ES with antithetic sampling and Adam (Salimans et al. 2017, arXiv 1703.03864).

The gradient-free source of Algorithm 1's meta-gradient (Section 3.1; Appendix
C.2: "ES as proposed by OpenAI ... noise with a fixed standard deviation of
0.05 ... Adam with a learning rate of 0.025 and betas 0.9 and 0.999",
population 1,024). Written in the ``ask``/``tell`` style of evosax: the
hyper-parameters (:class:`ESHyperParams`) and the search state
(:class:`ESState`) are separate, and both functions are pure.

For a search distribution ``N(theta, sigma^2 I)`` and ``num_pairs`` antithetic
pairs ``theta +- sigma eps_i``, the smoothed-loss gradient estimate is

    grad = 1/num_pairs * sum_i eps_i (L(theta + sigma eps_i) - L(theta - sigma eps_i)) / (2 sigma)

and Adam takes a step *down* it (we minimise a loss). With
``centered_rank=True`` the losses are first replaced by their centred ranks in
[-0.5, 0.5] over the whole population (fitness shaping, as in Salimans et
al.), which makes the step invariant to the scale of the loss.

>>> hp = ESHyperParams(num_pairs=8)
>>> state = init(torch.zeros(3))
>>> population, noise = ask(state, hp, torch.Generator().manual_seed(0))   # [16, 3], [8, 3]
>>> state = tell(state, hp, noise, (population ** 2).sum(1))
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ESHyperParams:
    """Fixed settings of the search; defaults are the paper's (Appendix C.2)."""

    num_pairs: int = 1024         # antithetic pairs: population = 2 * num_pairs
    sigma: float = 0.05           # noise standard deviation (fixed)
    lr: float = 0.025             # Adam learning rate
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    centered_rank: bool = False   # fitness shaping by centred ranks

    def __post_init__(self):
        if self.num_pairs < 1:
            raise ValueError(f"num_pairs must be >= 1, got {self.num_pairs}")
        if self.sigma <= 0 or self.lr < 0:
            raise ValueError(f"need sigma > 0 and lr >= 0, got sigma={self.sigma}, lr={self.lr}")
        if not (0 <= self.b1 < 1 and 0 <= self.b2 < 1):
            raise ValueError(f"Adam betas must lie in [0, 1), got b1={self.b1}, b2={self.b2}")


@dataclass(frozen=True)
class ESState:
    """Search state: the mean ``[D]`` and Adam's moments ``m, v`` ``[D]`` after ``step`` updates."""

    mean: torch.Tensor
    m: torch.Tensor
    v: torch.Tensor
    step: int = 0

    def to_dict(self) -> dict:
        return {"mean": self.mean, "m": self.m, "v": self.v, "step": self.step}

    @classmethod
    def from_dict(cls, d: dict) -> "ESState":
        return cls(d["mean"], d["m"], d["v"], int(d["step"]))

    def to(self, device) -> "ESState":
        return ESState(self.mean.to(device), self.m.to(device), self.v.to(device), self.step)


def init(mean: torch.Tensor) -> ESState:
    """A search state centred on the flat parameter vector ``mean`` ``[D]``."""
    if mean.dim() != 1:
        raise ValueError(f"mean must be a flat vector [D], got shape {tuple(mean.shape)}")
    mean = mean.detach().clone()
    return ESState(mean, torch.zeros_like(mean), torch.zeros_like(mean), 0)


@torch.inference_mode()
def ask(state: ESState, hp: ESHyperParams, generator: torch.Generator | None = None):
    """Sample the population.

    Returns ``population`` ``[2 * num_pairs, D]`` with antithetic members
    interleaved (row ``2i`` is ``mean + sigma eps_i``, row ``2i+1`` is
    ``mean - sigma eps_i``) and ``noise`` ``[num_pairs, D]`` (the ``eps_i``).
    ``noise`` is drawn on the generator's device (CPU by default) and then
    moved to the mean's device, so a seed gives the same noise everywhere.
    """
    D = state.mean.shape[0]
    gen_device = generator.device if generator is not None else torch.device("cpu")
    noise = torch.randn(hp.num_pairs, D, generator=generator, device=gen_device,
                        dtype=state.mean.dtype).to(state.mean.device)
    step = hp.sigma * noise
    population = torch.stack([state.mean + step, state.mean - step], dim=1).reshape(2 * hp.num_pairs, D)
    return population, noise


def centered_ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks of ``x`` scaled to [-0.5, 0.5] (smallest -> -0.5); ties get distinct ranks."""
    n = x.numel()
    ranks = torch.empty(n, dtype=x.dtype, device=x.device)
    ranks[x.flatten().argsort(stable=True)] = torch.arange(n, dtype=x.dtype, device=x.device)
    return (ranks / max(n - 1, 1) - 0.5).reshape(x.shape)


@torch.inference_mode()
def gradient(hp: ESHyperParams, noise: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
    """ES estimate of the gradient of the smoothed loss from interleaved ``losses [2 * num_pairs]``."""
    if losses.shape != (2 * noise.shape[0],):
        raise ValueError(f"expected {2 * noise.shape[0]} losses (interleaved pairs), got {tuple(losses.shape)}")
    losses = losses.to(noise.dtype)
    if hp.centered_rank:
        losses = centered_ranks(losses)
    diff = losses[0::2] - losses[1::2]                     # L(theta + sigma eps) - L(theta - sigma eps)
    return diff @ noise / (2 * hp.sigma * noise.shape[0])


@torch.inference_mode()
def tell(state: ESState, hp: ESHyperParams, noise: torch.Tensor, losses: torch.Tensor) -> ESState:
    """One Adam step down the ES gradient; returns the new state (the old one is unchanged)."""
    grad = gradient(hp, noise, losses.to(state.mean.device))
    t = state.step + 1
    m = hp.b1 * state.m + (1 - hp.b1) * grad
    v = hp.b2 * state.v + (1 - hp.b2) * grad * grad
    m_hat = m / (1 - hp.b1 ** t)
    v_hat = v / (1 - hp.b2 ** t)
    mean = state.mean - hp.lr * m_hat / (v_hat.sqrt() + hp.eps)
    return ESState(mean, m, v, t)
