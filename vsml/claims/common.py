"""What every claim module shares: the paper's numbers, the tolerances of the verdicts, small helpers.

Paper: the constants below, each with its place in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..report import Claim, MissingResult, not_run
from ..stats import beyond  # noqa: F401  (the claim modules' rule: vsml.stats)

# Defaults of Tolerances: "comparable" / "similar" means at most this many points apart (as chapter 'Robustness');
# Figure 6b's "lacks behind a little", at most this many points behind (chapter 07's rule).
TOLERANCE_POINTS = 5.0
FASHION_TRAIL_POINTS = 3
ASSOCIATION_MIN = 90.0    # Figure 9's "almost always" right the second time, read as at least 90 % (chapter 09)
CHANCE_10 = 10.0          # chance accuracy with 10 classes, %
SPEED_TARGET_S = 1.5      # seconds per paper-scale ES generation on one GPU (appendix 'Speed')
PAPER_ES_GENERATIONS = 10_000  # Appendix C.2: "a total of 10k steps"
PAPER_GPUS = 128               # Appendix C.2: "Meta training is done across 128 GPUs"
# Section 4.1, Figure 5: "87% (deep) and 90% (shallow) test accuracy on MNIST and 76% (deep) and 80% (shallow)
# on Fashion MNIST".
PAPER_CLONING = {("shallow", "mnist"): 90, ("shallow", "fashion_mnist"): 80,
                 ("deep", "mnist"): 87, ("deep", "fashion_mnist"): 76}
NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
# The cloned V_Ms the report reads (chapter 06): the re-clones of the well-conditioned shadow network.
# The first clones (cloned_shallow, cloned_deep) stay shipped as the chapter's comparison.
CLONED = {"shallow": "cloned_wc_shallow", "deep": "cloned_wc_deep"}




@dataclass(frozen=True)
class Tolerances:
    """How far apart two accuracies may be, in points, for the paper's words to hold."""

    comparable_points: float = TOLERANCE_POINTS  # "comparable" / "similar"
    trail_points: float = FASHION_TRAIL_POINTS   # "lacks behind a little"


def se_text(se: float | None) -> str:
    """' (paired standard error X)' for a check's text, or '' where the chapter stored none."""
    return f" (paired standard error {se:.1f})" if se is not None else ""


def book_own(row: Claim) -> Claim:
    """Mark a row as the book's own check (an extra task, a speed target): not counted as a claim of the paper."""
    row.in_paper = False
    return row


def _pct(x: float) -> str:
    return f"{x:.1f} %"


def _guard(figure: str, claim: str, paper: str, source: str, build) -> list[Claim]:
    """``build()``'s rows, or one 'not yet run' row saying which stored result is missing."""
    try:
        return build()
    except MissingResult as exc:
        return [not_run(figure, claim, paper, str(exc), source)]
