"""Plotting helpers of the book: learning curves with bands, and a run's meta-training curve.

Paper: Figures 5-8 and 11-13 (cumulative online accuracy over examples seen,
mean with a band over meta-test runs; Section 4.2) and the meta-training
curves of Algorithm 1 (Section 3.1). Every function draws on a matplotlib
``ax`` and returns it; matplotlib is imported only when a plot is drawn.
"""
from __future__ import annotations

from typing import Mapping

import torch

from .evaluate import summarize
from .runio import read_metrics


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


def plot_metrics(path_or_records, ax=None, *, smooth: int = 1):
    """Meta-loss (left axis) and accuracy (right axis, percent) against the step; returns ``ax``.

    ``smooth`` > 1 applies a trailing moving average to the training curves.
    Evaluation points (``eval_accuracy``) are drawn as markers, with one standard error over the evaluation
    episodes where the run logged it (``eval_accuracy_se``).
    """
    import matplotlib.pyplot as plt
    records = read_metrics(path_or_records)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))

    def series(key):
        pts = [(r["step"], r[key]) for r in records if key in r]
        return [p[0] for p in pts], [p[1] for p in pts]

    def moving(v):
        if smooth <= 1:
            return v
        return [sum(v[max(0, i - smooth + 1):i + 1]) / len(v[max(0, i - smooth + 1):i + 1]) for i in range(len(v))]

    steps, loss = series("loss")
    ax.plot(steps, moving(loss), color="C0", label="meta-loss")
    ax.set_xlabel("meta-training step")
    ax.set_ylabel("meta-loss (cross-entropy)", color="C0")
    acc_ax = ax.twinx()
    steps, acc = series("accuracy")
    acc_ax.plot(steps, [100 * a for a in moving(acc)], color="C1", alpha=0.8, label="accuracy (train episodes)")
    steps, eval_acc = series("eval_accuracy")
    if steps:
        se = [100 * r.get("eval_accuracy_se", 0.0) for r in records if "eval_accuracy" in r]  # runs before it: none
        acc_ax.errorbar(steps, [100 * a for a in eval_acc], yerr=se if any(se) else None, fmt="o", color="C2",
                        markersize=3, capsize=2, label="accuracy (eval" + (", +- 1 SE)" if any(se) else ")"))
    acc_ax.set_ylabel("online accuracy (%)", color="C1")
    handles, labels = (sum(pair, []) for pair in zip(ax.get_legend_handles_labels(),
                                                       acc_ax.get_legend_handles_labels()))
    ax.legend(handles, labels, loc="center right", fontsize="small")
    return ax
