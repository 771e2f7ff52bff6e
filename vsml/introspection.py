"""Introspection of a learning algorithm: output probabilities over time and fast association.

Paper: Section 5 ("Introspection", Figure 9: MNIST with two examples of each
class; Appendix B, Figure 17: 100 examples of the full MNIST). For one online
episode we plot the probability a learner gives to every class before each
label arrives, with the true class (square) and the predicted class (circle)
marked, for VSML beside online gradient descent.

One number summarises what the figures show ("almost always making the right
prediction the second time"): :func:`encounter_accuracy` with ``k = 2``, the
accuracy on the examples whose class has been seen exactly once before in the
episode (the second example of each class), averaged over all such examples of
all runs. With ``k = 1`` it is the accuracy on a class's first example, which no
learner can know from its label history (a hit there is luck or a bias towards
some classes, not learning from the label). Steps within one run are not
independent, so :func:`encounter_hits` and :func:`across_runs_se` give a
standard error with runs as the units (also for paired differences).
"""
from __future__ import annotations

import torch

from .data import Dataset


def encounter_accuracy(correct: torch.Tensor, y: torch.Tensor, k: int = 2) -> tuple[float, int]:
    """Accuracy on the ``k``-th example of each class within each run.

    ``correct`` (bool or 0/1) and ``y`` (int labels) are ``[P, T]``. Step ``t`` of
    run ``p`` counts when ``y[p, t]`` occurred exactly ``k - 1`` times in
    ``y[p, :t]``. Returns ``(accuracy, number of counted steps)``; the accuracy is
    ``nan`` when no step counts.
    """
    hits, counts = encounter_hits(correct, y, k)
    count = int(counts.sum())
    if count == 0:
        return float("nan"), 0
    return float(hits.sum() / count), count


def encounter_hits(correct: torch.Tensor, y: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Per run: how many ``k``-th examples of a class were predicted right, and how many there were.

    Same arguments as :func:`encounter_accuracy`; returns ``(hits [P], counts [P])``
    as float64, the ingredients of a standard error across runs
    (:func:`across_runs_se`), since steps within one run are not independent.
    """
    correct, y = torch.as_tensor(correct), torch.as_tensor(y)
    if correct.dim() == 1:
        correct, y = correct[None], y[None]
    if correct.dim() != 2 or correct.shape != y.shape:
        raise ValueError(f"correct and y must both be [P, T], got {tuple(correct.shape)} and {tuple(y.shape)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if torch.is_floating_point(y):
        raise ValueError(f"y must hold integer labels, got {y.dtype}")
    y = y.long()
    onehot = torch.nn.functional.one_hot(y - y.min(), int(y.max() - y.min()) + 1)  # [P, T, C]
    seen_before = (onehot.cumsum(1) - onehot).gather(2, (y - y.min())[..., None]).squeeze(2)  # [P, T]
    mask = (seen_before == (k - 1)).double()
    return (correct.double() * mask).sum(1), mask.sum(1)


def across_runs_se(hits: torch.Tensor, counts: torch.Tensor) -> float:
    """Standard error of the pooled accuracy ``sum(hits) / sum(counts)`` with runs as the independent units.

    The ratio (cluster) estimator: ``sqrt(R / (R - 1) * sum((hits - acc * counts)^2)) / sum(counts)``
    over ``R`` runs; for equal counts it is the standard error of the per-run accuracies' mean.
    Differences of paired learners (the same runs) go in as ``hits_a - hits_b`` with the same counts.
    """
    hits, counts = torch.as_tensor(hits).double(), torch.as_tensor(counts).double()
    if hits.dim() != 1 or hits.shape != counts.shape or len(hits) < 2:
        raise ValueError(f"need hits and counts of shape [R], R >= 2, got {tuple(hits.shape)}, {tuple(counts.shape)}")
    total = float(counts.sum())
    if total == 0:
        return float("nan")
    acc = float(hits.sum()) / total
    r = len(hits)
    return float((r / (r - 1) * ((hits - acc * counts) ** 2).sum()).sqrt()) / total


def per_class_sequence(dataset: Dataset, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``per_class`` random images of every class, in a random order (Figure 9: 2 per class)."""
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive int, got {per_class!r}")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(dataset.num_classes):
        members = torch.nonzero(dataset.y == c).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {c} of {dataset.name}/{dataset.split} has {len(members)} images, "
                             f"fewer than per_class={per_class}")
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    index = torch.cat(picks)
    return index[torch.randperm(len(index), generator=g)]


def plot_probabilities(ax, logits: torch.Tensor, y: torch.Tensor, *, title: str | None = None,
                       cmap: str = "viridis", marker_size: float = 60, start: int = 1):
    """Heat map of ``softmax(logits)`` (classes x examples) with the true class (white square)
    and the predicted class (red circle) of every step; ``logits [T, C]``, ``y [T]``. Returns the image.
    """
    logits, y = torch.as_tensor(logits).detach().cpu().float(), torch.as_tensor(y).detach().cpu()
    if logits.dim() != 2 or y.shape != logits.shape[:1]:
        raise ValueError(f"need logits [T, C] and y [T], got {tuple(logits.shape)} and {tuple(y.shape)}")
    probs = torch.softmax(logits, -1).T.numpy()  # [C, T]
    T, C = logits.shape
    steps = torch.arange(start, start + T).numpy()
    image = ax.imshow(probs, aspect="auto", origin="lower", cmap=cmap, vmin=0, vmax=1, interpolation="nearest",
                      extent=(start - 0.5, start + T - 0.5, -0.5, C - 0.5))
    ax.scatter(steps, y.numpy(), marker="s", s=marker_size, facecolors="none", edgecolors="white", linewidths=1.6,
               label="true class")
    ax.scatter(steps, logits.argmax(-1).numpy(), marker="o", s=marker_size * 0.45, facecolors="none",
               edgecolors="red", linewidths=1.6, label="prediction")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yticks(range(C))
    ax.set_ylabel("class")
    ax.set_xlabel("examples seen")
    if title:
        ax.set_title(title)
    return image
