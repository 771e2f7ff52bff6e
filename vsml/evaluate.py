"""The meta-test protocol: cumulative online accuracy (paper Section 4.2, 4.4).

A learner sees one example at a time. At step ``t`` it predicts ``x_t`` before
it has seen ``y_t``; ``c_t`` is 1 where that prediction was right. The paper
plots the cumulative accuracy after ``T'`` examples,

    acc(T') = (1 / T') * sum_{t <= T'} c_t,

averaged over many meta-test runs (seeds) with a standard-deviation band
(Figures 6-8; Figure 8 reads it off at 2,000 examples, Figure 13 at 100).

Every function here takes curves shaped ``[P, T]``: ``P`` independent runs,
``T`` online steps.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

PAPER_HORIZONS = (100, 2000)  # Figure 13 and Figure 8


def cumulative_accuracy(correct: torch.Tensor) -> torch.Tensor:
    """``(1/T') sum_{t <= T'} c_t`` along the last (time) axis; ``[P, T]`` -> float ``[P, T]``."""
    if correct.dim() < 1 or correct.shape[-1] == 0:
        raise ValueError(f"correct must be [..., T] with T >= 1, got shape {tuple(correct.shape)}")
    steps = torch.arange(1, correct.shape[-1] + 1, device=correct.device, dtype=torch.float32)
    return correct.float().cumsum(-1) / steps


def online_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-step cross-entropy, correctness and cumulative accuracy of online predictions.

    ``logits`` ``[P, T, C]`` must be the predictions made *before* each label
    was seen; ``y`` is int64 ``[P, T]``. Returns ``correct`` (bool), ``loss``
    and ``cum_acc``, each ``[P, T]``.
    """
    if logits.dim() != 3 or y.shape != logits.shape[:2]:
        raise ValueError(f"need logits [P, T, C] and y [P, T], got {tuple(logits.shape)} and {tuple(y.shape)}")
    C = logits.shape[-1]
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= C):
        raise ValueError(f"labels must lie in [0, {C}), got range [{int(y.min())}, {int(y.max())}]")
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
    correct = logits.argmax(-1) == y
    return {"correct": correct, "loss": loss, "cum_acc": cumulative_accuracy(correct)}


def _check_curves(curves: torch.Tensor) -> torch.Tensor:
    curves = torch.as_tensor(curves)
    if curves.dim() != 2 or curves.shape[0] == 0 or curves.shape[1] == 0:
        raise ValueError(f"curves must be [P, T] with P, T >= 1, got shape {tuple(curves.shape)}")
    return curves.float()


def summarize(curves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over runs: ``[P, T]`` -> (``[T]``, ``[T]``).

    The std is the sample std (``P - 1`` in the denominator); a single run gets 0.
    """
    curves = _check_curves(curves)
    std = curves.std(0) if curves.shape[0] > 1 else torch.zeros_like(curves[0])
    return curves.mean(0), std


def accuracy_at(curves: torch.Tensor,
                horizons: Sequence[int] = PAPER_HORIZONS) -> dict[int, tuple[float, float]]:
    """``{h: (mean, std)}`` of the curves after ``h`` examples (1-based, like the paper's x axis)."""
    mean, std = summarize(curves)
    T = mean.shape[0]
    out = {}
    for h in horizons:
        if not 1 <= h <= T:
            raise ValueError(f"horizon {h} is outside the curves' 1..{T} steps; "
                             f"run at least {h} examples or pass smaller horizons")
        out[int(h)] = (float(mean[h - 1]), float(std[h - 1]))
    return out


def plot_curves(ax, curves_by_name: Mapping[str, torch.Tensor], *, percent: bool = True,
                colors: Mapping[str, str] | None = None, band_alpha: float = 0.2,
                xlabel: str = "examples seen", ylabel: str | None = None, legend: bool = True):
    """Mean learning curve with a +-1 std band per method, on a matplotlib ``ax``.

    ``curves_by_name`` maps a method's label to its ``[P, T]`` cumulative
    accuracies; curves of different lengths may share one axis. Returns ``ax``.
    """
    scale = 100.0 if percent else 1.0
    for name, curves in curves_by_name.items():
        mean, std = summarize(torch.as_tensor(curves).detach().cpu())
        steps = torch.arange(1, mean.shape[0] + 1).numpy()
        mean, std = (scale * mean).numpy(), (scale * std).numpy()
        color = None if colors is None else colors.get(name)
        (line,) = ax.plot(steps, mean, label=name, color=color)
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=band_alpha, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or ("cumulative accuracy (%)" if percent else "cumulative accuracy"))
    if legend:
        ax.legend()
    return ax


# ------------------------------------------------------------- meta-testing

BASELINES = {  # name -> online_sgd options (Appendix C.2: tuned lr 1e-2 SGD, 1e-3 Adam; 160 tanh hidden units)
    "SGD": dict(optimizer="sgd"),
    "Adam": dict(optimizer="adam"),
    "SGD, 160 hidden": dict(optimizer="sgd", hidden_size=160),
    "Adam, 160 hidden": dict(optimizer="adam", hidden_size=160),
}


def meta_test(method: str, x: torch.Tensor, y: torch.Tensor, num_classes: int, *, params=None,
              vsml_config=None, seed: int = 0, progress: bool = False) -> dict[str, torch.Tensor]:
    """Algorithm 2 / the baselines on episodes ``x [P, T, D]``, ``y [P, T]``: one run per episode.

    ``method`` is ``"vsml"`` (``params``: V_M dict, ``vsml_config``: a ``VSMLConfig``
    whose layer sizes are set to ``D`` and ``num_classes`` here), ``"metarnn"``
    (``params``: Meta RNN dict), or a name in ``BASELINES``. VSML starts every
    run from fresh random states (seeded), the baselines from fresh random
    parameters. Returns ``correct``, ``loss``, ``cum_acc`` (``[P, T]``) and ``seconds``.
    """
    import dataclasses
    import time

    from .baselines import metarnn_episode, online_sgd
    from .network import VSMLConfig, VSMLNetwork

    t0 = time.perf_counter()
    with torch.inference_mode():
        if method == "vsml":
            if params is None:
                raise ValueError("meta_test('vsml', ...) needs params (V_M)")
            cfg = dataclasses.replace(vsml_config or VSMLConfig(), layer_sizes=(x.shape[-1], num_classes))
            res = VSMLNetwork(cfg).run_episode(params, x, y, generator=torch.Generator().manual_seed(seed),
                                               progress=progress)
            logits = res.logits
        elif method == "metarnn":
            if params is None:
                raise ValueError("meta_test('metarnn', ...) needs the Meta RNN's params")
            logits = metarnn_episode(params, x, y)["logits"]
        elif method in BASELINES:
            logits = None
        else:
            raise ValueError(f"unknown method {method!r}; known: vsml, metarnn, {', '.join(BASELINES)}")
    if logits is None:  # gradient-based baselines need autograd-free but not inference-mode tensors
        logits = online_sgd(x, y, num_classes, seed=seed, **BASELINES[method])["logits"]
    out = online_metrics(logits, y)
    out["seconds"] = torch.tensor(time.perf_counter() - t0)
    return out
