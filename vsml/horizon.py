"""Learning curves over long horizons: error bands, per-horizon tuning, and who overtakes whom.

Paper: Section 4.2 (Figure 6: cumulative online accuracy of VSML against
online gradient descent whose learning rate is "appropriately tuned") and
Appendix B.2 (Figure 19, the short-horizon bias: "at some point gradient descent
overtakes VSML"). The helpers here turn ``[P, T]`` cumulative-accuracy curves
(``P`` meta-test runs, ``T`` examples; :mod:`vsml.online`) into the numbers the
chapters state:

* :func:`mean_sem` / :func:`band` -- the mean over runs with a band of one
  standard error of the mean, clipped to the quantity's range, so a band never
  leaves [0, 100] %;
* :func:`tune_lr_at_horizons` -- one online-SGD/Adam run per learning rate
  gives the whole curve, so the best rate for each reported horizon comes
  from the same runs; the grid is widened until each best rate lies strictly
  inside it (or a widening limit is reached, which the result says);
* :func:`windowed_accuracy` -- accuracy over the last ``w`` examples, the
  learning progress that a cumulative curve shows only slowly;
* :func:`overtakes` -- the first example count from which one learner's mean
  curve stays above another's to the end of the run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from .baselines import online_sgd
from .online import cumulative_accuracy


def _curves(curves) -> torch.Tensor:
    curves = torch.as_tensor(curves).detach().cpu().float()
    if curves.dim() != 2 or curves.shape[0] == 0 or curves.shape[1] == 0:
        raise ValueError(f"curves must be [P, T] with P, T >= 1, got shape {tuple(curves.shape)}")
    return curves


def mean_sem(curves) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over runs and its standard error ``std / sqrt(P)`` (sample std; 0 for one run): ``[T]``, ``[T]``."""
    curves = _curves(curves)
    P = curves.shape[0]
    sem = curves.std(0) / math.sqrt(P) if P > 1 else torch.zeros_like(curves[0])
    return curves.mean(0), sem


def band(curves, lo: float = 0.0, hi: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mean, mean - sem, mean + sem)`` with the band clipped to ``[lo, hi]`` (accuracies: [0, 1])."""
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    mean, sem = mean_sem(curves)
    return mean, (mean - sem).clamp(lo, hi), (mean + sem).clamp(lo, hi)


def at(curves, horizons: Sequence[int]) -> dict[int, tuple[float, float]]:
    """``{h: (mean, sem)}`` after ``h`` examples (1-based, like the paper's x axis)."""
    mean, sem = mean_sem(curves)
    T = mean.shape[0]
    out = {}
    for h in horizons:
        if not 1 <= int(h) <= T:
            raise ValueError(f"horizon {h} is outside the curves' 1..{T} examples")
        out[int(h)] = (float(mean[h - 1]), float(sem[h - 1]))
    return out


def plot_bands(ax, curves_by_name: Mapping[str, torch.Tensor], *, colors: Mapping[str, str] | None = None,
               styles: Mapping[str, str] | None = None, alpha: float = 0.25, lw: float = 2.0,
               legend: bool = True, legend_kw: dict | None = None):
    """Mean cumulative accuracy (percent) with a +-1 standard-error band per learner; returns ``ax``."""
    for name, curves in curves_by_name.items():
        mean, low, high = band(curves)
        steps = torch.arange(1, mean.shape[0] + 1).numpy()
        color = (colors or {}).get(name)
        (line,) = ax.plot(steps, 100 * mean.numpy(), (styles or {}).get(name, "-"), color=color, lw=lw, label=name)
        ax.fill_between(steps, 100 * low.numpy(), 100 * high.numpy(), color=line.get_color(), alpha=alpha, lw=0)
    ax.set_xlabel("examples seen")
    ax.set_ylabel("cumulative accuracy (%)")
    if legend:
        ax.legend(**(legend_kw or {}))
    return ax


# ------------------------------------------------------------- tuning

@dataclass
class Tuned:
    """Result of :func:`tune_lr_at_horizons` for one baseline.

    ``best[h]``: the learning rate with the highest mean cumulative accuracy
    after ``h`` examples; ``table[lr][h]``: that accuracy; ``inside[h]``: True
    when ``best[h]`` has a tried rate on each side of it.
    """

    best: dict[int, float]
    table: dict[float, dict[int, float]]
    inside: dict[int, bool]

    @property
    def grid(self) -> list[float]:
        return sorted(self.table)

    def describe(self, horizon: int) -> str:
        """One line: the grid's accuracies at ``horizon`` and the chosen rate, flagged if on an edge."""
        cells = ", ".join(f"{lr:g}: {100 * self.table[lr][horizon]:.1f}" for lr in self.grid)
        edge = "inside the grid" if self.inside[horizon] else "ON THE GRID'S EDGE"
        return f"@{horizon}: {cells} -> lr {self.best[horizon]:g} ({edge})"


def best_rates(table: dict[float, dict]) -> dict:
    """Per key, the rate of ``table`` ``{lr: {key: score}}`` with the highest score (ties: the larger rate)."""
    keys = next(iter(table.values())).keys()
    return {k: max(table, key=lambda lr: (table[lr][k], lr)) for k in keys}


def widening_grid_search(score: Callable[[float], dict], grid: Sequence[float], *, max_widen: int) -> dict:
    """``{lr: score(lr)}`` for every rate of ``grid``, grown where a key's best rate is on the grid's edge.

    ``score(lr)`` returns ``{key: value}`` (e.g. accuracy per horizon). While some
    key's best rate (:func:`best_rates`) is the smallest or the largest tried, one
    rate is added beyond that edge (the ratio of the two rates there, rounded to 3
    significant digits), at most ``max_widen`` times per side.
    """
    grid = sorted({float(lr) for lr in grid})
    ratio_lo, ratio_hi = grid[1] / grid[0], grid[-1] / grid[-2]
    table = {lr: score(lr) for lr in grid}
    widened = {"lo": 0, "hi": 0}
    while True:
        lrs, best = sorted(table), best_rates(table).values()
        if any(b == lrs[0] for b in best) and widened["lo"] < max_widen:
            grow, side = lrs[0] / ratio_lo, "lo"
        elif any(b == lrs[-1] for b in best) and widened["hi"] < max_widen:
            grow, side = lrs[-1] * ratio_hi, "hi"
        else:
            return table
        widened[side] += 1
        lr = float(f"{grow:.3g}")
        table[lr] = score(lr)


def tune_lr_at_horizons(x: torch.Tensor, y: torch.Tensor, num_classes: int, grid: Sequence[float],
                        horizons: Sequence[int], *, max_widen: int = 4, seed: int = 0, **options) -> Tuned:
    """Grid search of online SGD/Adam's learning rate, separately for every horizon.

    Every rate of ``grid`` runs once on the tuning episodes ``x [P, T, D]``,
    ``y [P, T]`` (``T >= max(horizons)``); its mean cumulative accuracy is read
    at each horizon. Where a horizon's best rate is the smallest or largest
    tried, the grid grows by one rate beyond that edge (the grid's ratio
    between neighbours), at most ``max_widen`` times per side. ``options`` go
    to :func:`vsml.baselines.online_sgd`. Ties go to the larger rate (on a plateau of
    rates too small to learn anything, the search moves up, not down).
    """
    grid = sorted({float(lr) for lr in grid})
    if len(grid) < 3:
        raise ValueError(f"the grid needs at least 3 learning rates to have an inside, got {grid}")
    if any(lr <= 0 for lr in grid):
        raise ValueError(f"learning rates must be > 0, got {grid}")
    horizons = sorted({int(h) for h in horizons})
    if not horizons or horizons[0] < 1 or horizons[-1] > x.shape[1]:
        raise ValueError(f"horizons must lie in 1..{x.shape[1]} (the tuning episodes' length), got {horizons}")

    def score(lr: float) -> dict[int, float]:
        correct = online_sgd(x[:, :horizons[-1]], y[:, :horizons[-1]], num_classes, lr=lr, seed=seed,
                             **options)["correct"]
        cum = cumulative_accuracy(correct).mean(0)
        return {h: float(cum[h - 1]) for h in horizons}

    table = widening_grid_search(score, grid, max_widen=max_widen)
    best = best_rates(table)
    lrs = sorted(table)
    inside = {h: lrs[0] < best[h] < lrs[-1] for h in horizons}
    return Tuned(best=best, table=table, inside=inside)


# ------------------------------------------------------------- crossings

def windowed_accuracy(correct, window: int) -> torch.Tensor:
    """Accuracy over the last ``window`` predictions: ``[P, T]`` correctness -> ``[P, T - window + 1]``.

    Entry ``i`` is the mean of ``correct[:, i : i + window]``, i.e. the accuracy
    after ``i + window`` examples over the ``window`` examples just seen.
    """
    correct = torch.as_tensor(correct).detach().cpu()
    if correct.dim() != 2:
        raise ValueError(f"correct must be [P, T], got shape {tuple(correct.shape)}")
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= correct.shape[1]:
        raise ValueError(f"window must be an int in 1..{correct.shape[1]} (the episode length), got {window!r}")
    csum = torch.nn.functional.pad(correct.double().cumsum(1), (1, 0))
    return ((csum[:, window:] - csum[:, :-window]) / window).float()


def overtakes(reference, challenger) -> int | None:
    """First example count ``t`` (1-based) from which ``challenger``'s mean curve is above
    ``reference``'s at every later step, to the end; ``None`` if it is not above at the end.

    Both are ``[P, T]`` curves (or ``[T]`` mean curves) of the same length ``T``.
    """
    ref, ch = (torch.as_tensor(c).detach().cpu().float() for c in (reference, challenger))
    ref, ch = (c.mean(0) if c.dim() == 2 else c for c in (ref, ch))
    if ref.dim() != 1 or ref.shape != ch.shape or ref.numel() == 0:
        raise ValueError(f"need two curves of the same length T >= 1, got {tuple(ref.shape)} and {tuple(ch.shape)}")
    above = ch > ref
    if not bool(above[-1]):
        return None
    not_above = torch.nonzero(~above).flatten()
    return 1 if not_above.numel() == 0 else int(not_above[-1]) + 2
