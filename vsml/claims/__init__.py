"""The paper's claims that the book tests, each read from the shipped results and checked (reproduction report).

One function per experiment of Kirsch & Schmidhuber (2021) returns its rows
(:class:`vsml.report.Claim`): the paper's number or words (:mod:`.common`,
each with its place in the paper), ours (read from ``vsml/pretrained``,
``vsml/results`` or a stored chapter's glued values), the setting, and the
checks the verdict is computed from (:func:`vsml.report.verdict_of`), with
the tolerances of :class:`Tolerances`. :mod:`.stored` reads shipped files and
the chapters it parses itself; :mod:`.glued` reads chapters that feed the
report one glued dict each (its docstring gives each dict's format).
"""
from __future__ import annotations

from pathlib import Path

from ..report import Claim
from .common import (ASSOCIATION_MIN, CHANCE_10, CLONED, FASHION_TRAIL_POINTS, NAMES, PAPER_CLONING,  # noqa: F401
                     PAPER_ES_GENERATIONS, PAPER_GPUS, SPEED_TARGET_S, TOLERANCE_POINTS, Tolerances)
from .glued import figure7, figure8, figure18, figures14_16, figures20_21
from .stored import cloning, figure6, figure11a, figure19, introspection, speed


def all_claims(root: str | Path, tol: Tolerances = Tolerances()) -> list[Claim]:
    """Every row of the report, in the paper's order, from a checkout's ``book/`` and ``vsml/`` folders."""
    root = Path(root)
    book_dir, pre, res = root / "book", root / "vsml" / "pretrained", root / "vsml" / "results"
    return (cloning(pre, tol) + figure11a(pre, tol) + figure6(book_dir, pre, tol) + figure7(book_dir, tol)
            + figure8(book_dir) + figures14_16(book_dir) + introspection(book_dir, pre) + figure18(book_dir) + figure19(book_dir, pre)
            + figures20_21(book_dir, tol) + speed(res))
