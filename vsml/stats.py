"""Differences judged against their noise: the one rule every chapter and the report use.

The book never calls a difference real because one number is larger: it
compares the difference with its standard error (the standard error of the
mean over runs). Two runs of a comparison are *paired* when run ``i`` of both
learners saw the same episodes (the same images in the same order), as in
every meta-test of the book; then the standard error is that of the run-by-run
differences, which removes what the runs share. Means from different episodes
are *independent* and their standard errors add in quadrature.

The rule: a difference counts when it is further from zero than ``z`` standard
errors (``z = 2`` by default, about a 95 % two-sided interval for many runs);
otherwise it is "within the noise". Where one of many candidates is picked
(e.g. the peak of a curve), chapters ask for more (``z = 3``).
"""
from __future__ import annotations

import math

import torch

__all__ = ["sem", "paired_difference", "independent_difference", "beyond", "sign_beyond"]


def sem(values) -> float:
    """The standard error of the mean of ``values`` (one per run; sample standard deviation, ``n - 1``)."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if len(v) < 2:
        raise ValueError(f"a standard error needs at least two runs, got {len(v)}")
    return float(v.std() / math.sqrt(len(v)))


def paired_difference(a, b) -> tuple[float, float]:
    """``mean(a - b)`` and its standard error, from per-run values of paired runs (run ``i`` of both alike)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.dim() != 1 or a.shape != b.shape:
        raise ValueError(f"paired runs need two 1-d tensors of the same length (one value per run), got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    d = a - b
    return float(d.mean()), sem(d)


def independent_difference(mean_a: float, se_a: float, mean_b: float, se_b: float) -> tuple[float, float]:
    """``mean_a - mean_b`` and its standard error for two independent means (errors added in quadrature)."""
    if se_a < 0 or se_b < 0:
        raise ValueError(f"standard errors must be >= 0, got {se_a} and {se_b}")
    return mean_a - mean_b, math.hypot(se_a, se_b)


def beyond(diff: float, se: float | None, z: float = 2.0) -> bool | None:
    """Whether ``diff > 0`` holds beyond the noise: True above ``z`` standard errors, False below minus ``z``
    of them, None (within the noise) between; without a standard error (``se=None``) the sign decides."""
    if se is None:
        return diff > 0
    return True if diff > z * se else False if diff < -z * se else None


def sign_beyond(diff: float, se: float, z: float = 2.0) -> int:
    """+1 / -1 when ``diff`` is above / below zero by more than ``z`` standard errors, else 0."""
    return {True: 1, False: -1, None: 0}[beyond(diff, se, z)]
