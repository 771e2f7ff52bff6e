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
"""
from __future__ import annotations

import dataclasses

import torch

from .. import es
from .config import MetaConfig
from .trainer import MetaTrainer


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def gradient_agreement(config: MetaConfig, state_dtype: str = "bfloat16", dataset=None, draw: int = 0,
                       theta: torch.Tensor | None = None) -> dict:
    """ES gradient estimates at ``theta`` (default: the config's initial V_M) with float32 and with
    ``state_dtype`` states on the same draw, and a float32 estimate from the next draw.

    Returns the cosine and relative distance of the two same-draw estimates, the cosine and relative
    distance of the two float32 draws (ES's sampling noise), the largest per-member loss change and the
    RMS of the antithetic loss differences (the signal ES estimates from).
    """
    if config.method != "es" or config.model != "vsml":
        raise ValueError(f"gradient_agreement needs an ES config of the VSML model, got {config.method} / "
                         f"{config.model}")
    trainers = {dt: MetaTrainer(dataclasses.replace(config, model_options={**config.model_options,
                                                                           "state_dtype": dt}),
                                dataset=dataset, eval_dataset=dataset)
                for dt in ("float32", state_dtype)}

    def estimate(dtype: str, d: int):
        trainer = trainers[dtype]
        est = trainer.estimator
        state = est.state if theta is None else es.init(theta.to(est.state.mean))
        population, noise = es.ask(state, est.hp, torch.Generator().manual_seed(10_000 + d))
        x, y, init = trainer.episodes(d, 0, est.hp.num_pairs)
        with torch.inference_mode():
            loss, _ = trainer.model.run(population, x, y, init, repeats=2)
        loss = loss.mean(1)
        return es.gradient(est.hp, noise, loss).cpu(), loss.cpu()

    g_ref, loss_ref = estimate("float32", draw)
    g_low, loss_low = estimate(state_dtype, draw)
    g_other, _ = estimate("float32", draw + 1)
    norm = float(g_ref.norm())
    return {"state_dtype": state_dtype, "num_pairs": config.num_pairs, "episode_length": config.episode_length,
            "cosine": _cosine(g_low, g_ref), "rel_distance": float((g_low - g_ref).norm()) / norm,
            "cosine_two_draws": _cosine(g_other, g_ref),
            "rel_distance_two_draws": float((g_other - g_ref).norm()) / norm,
            "max_loss_change": float((loss_low - loss_ref).abs().max()),
            "antithetic_diff_rms": float((loss_ref[0::2] - loss_ref[1::2]).pow(2).mean().sqrt())}
