"""Does a cheaper state precision keep the ES meta-gradient? (Algorithm 1 with antithetic OpenAI-ES.)

Storing ``V_L`` in bfloat16 between examples (``model_options.state_dtype``)
halves the GPU kernel's state traffic, but rounds every state once per
example. What matters for meta-training is the ES gradient estimate
``1/n sum_i eps_i (L(theta + sigma eps_i) - L(theta - sigma eps_i)) / (2 sigma)``
(Section 3.1, Appendix C.2), whose antithetic loss differences are small. We
compare, on the same noise, episodes and initial states, the estimate with
bfloat16 states against the float32 one, and put the difference beside ES's
own sampling noise: the distance between two float32 estimates from
independent draws. ``tests/test_state_dtype.py`` states the tolerance
(bfloat16 may move the estimate by at most a quarter of that noise);
chapter "Speed" measures it live.

Two more float32 estimates, with every pair on one and the same episode and
two noise draws, separate the two sources of that noise. For a loss that is
linear within ``sigma`` of ``theta``, ``n`` pairs in ``D`` dimensions give
two independent estimates of one gradient an expected cosine of
``n / (n + D + 1)``: the random search directions. Whatever is left comes from
the episodes: every pair sees its own, and the meta-gradient is their mean.
"""
from __future__ import annotations

import dataclasses

import torch

from .. import es
from .config import MetaConfig
from .episodes import load_dataset
from .trainer import MetaTrainer


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def gradient_agreement(config: MetaConfig, state_dtype: str = "bfloat16", dataset=None, draw: int = 0,
                       theta: torch.Tensor | None = None) -> dict:
    """ES gradient estimates at ``theta`` (default: the config's initial V_M) with float32 and with
    ``state_dtype`` states on the same draw, a float32 estimate from the next draw (noise and episodes),
    and two float32 estimates (this draw's and the next draw's noise) with all pairs on one episode.

    Returns the cosine and relative distance of the two same-draw estimates, the cosine and relative
    distance of the two float32 draws (ES's sampling noise), the cosine of the one-episode pair of
    estimates with its linear-loss expectation ``n / (n + D + 1)``, the largest per-member loss change
    and the RMS of the antithetic loss differences.
    """
    if config.method != "es" or config.model != "vsml":
        raise ValueError(f"gradient_agreement needs an ES config of the VSML model, got {config.method} / "
                         f"{config.model}")
    if dataset is None:  # loaded once for both trainers (episodes come from the training split only)
        dataset = load_dataset(config, config.split)
    trainers = {dt: MetaTrainer(dataclasses.replace(config, model_options={**config.model_options,
                                                                           "state_dtype": dt}),
                                dataset=dataset, eval_dataset=dataset)
                for dt in ("float32", state_dtype)}

    def estimate(dtype: str, d: int, one_episode: bool = False):
        trainer = trainers[dtype]
        est = trainer.estimator
        state = est.state if theta is None else es.init(theta.to(est.state.mean))
        population, noise = es.ask(state, est.hp, torch.Generator().manual_seed(10_000 + d))
        if one_episode:  # draw 0's first episode and initial state, for every pair
            x, y, init = trainer.episodes(draw, 0, 1)
            n = est.hp.num_pairs
            x, y, init = x.expand(n, *x.shape[1:]), y.expand(n, *y.shape[1:]), init.repeat_interleave(n)
        else:
            x, y, init = trainer.episodes(d, 0, est.hp.num_pairs)
        with torch.inference_mode():
            loss, _ = trainer.model.run(population, x, y, init, repeats=2)
        loss = loss.mean(1)
        return es.gradient(est.hp, noise, loss).cpu(), loss.cpu()

    g_ref, loss_ref = estimate("float32", draw)
    g_low, loss_low = estimate(state_dtype, draw)
    g_other, _ = estimate("float32", draw + 1)
    g_one, _ = estimate("float32", draw, one_episode=True)
    g_one_other, _ = estimate("float32", draw + 1, one_episode=True)
    norm, dim = float(g_ref.norm()), g_ref.numel()
    return {"state_dtype": state_dtype, "num_pairs": config.num_pairs, "episode_length": config.episode_length,
            "cosine": _cosine(g_low, g_ref), "rel_distance": float((g_low - g_ref).norm()) / norm,
            "cosine_two_draws": _cosine(g_other, g_ref),
            "rel_distance_two_draws": float((g_other - g_ref).norm()) / norm,
            "cosine_one_episode": _cosine(g_one_other, g_one),
            "cosine_linear": config.num_pairs / (config.num_pairs + dim + 1), "dim": dim,
            "max_loss_change": float((loss_low - loss_ref).abs().max()),
            "antithetic_diff_rms": float((loss_ref[0::2] - loss_ref[1::2]).pow(2).mean().sqrt())}
