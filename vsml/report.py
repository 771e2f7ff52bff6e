"""Reading stored results for the reproduction report: glued values of executed chapters, and verdicts.

The book's chapter 'Reproduction report' puts every claim of Kirsch &
Schmidhuber (2021) that the book tests in one table, with the paper's number,
ours, the setting we ran at, and a verdict. Nothing in that table is typed:
the numbers come from the shipped files (``vsml/pretrained/*.json``,
``vsml/results/*/``) and from the executed chapters stored in ``book/``,
whose values myst-nb's ``glue`` stores as display outputs with a
``scrapbook`` name (:func:`read_glue`). The claims themselves are built in
:mod:`vsml.claims`.

The verdict rule (:func:`verdict_of`): a claim becomes one or more *checks*,
each a comparison computed from stored numbers; where the chapter stored a
standard error, a check holds or fails only beyond two of them and is
otherwise *within the noise* (``passed is None``). All checks pass:
**reproduced**; some pass: **partly**; none pass and some fail: **not
reproduced**; every check within the noise: **within the noise**; no stored
result to check (the chapter is stored only from a smoke run, or a file or
dataset is missing): **not yet run**.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN = "reproduced", "partly", "not reproduced", "not yet run"
WITHIN_NOISE = "within the noise"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, WITHIN_NOISE, NOT_RUN)
GLUE_PREFIX = "application/papermill.record/"


class MissingResult(LookupError):
    """A stored result the report needs is not there (which file, which key)."""


@dataclass(frozen=True)
class Check:
    """One comparison behind a verdict: what was compared, and whether it held.

    ``passed``: True / False when the comparison is decided, ``None`` when the
    difference lies within the noise of the runs (two standard errors).
    """

    what: str
    passed: bool | None

    @property
    def mark(self) -> str:
        return {True: "yes", False: "NO", None: "within noise"}[self.passed]


@dataclass
class Claim:
    """One row of the report.

    ``figure``: where the paper makes the claim; ``claim``: what it says;
    ``paper``: the paper's number or words; ``ours``: what we measured;
    ``setting``: scale, data and device of our run; ``checks``: the
    comparisons the verdict is computed from (empty: not yet run, ``note``
    says why); ``source``: the file the numbers were read from.
    """

    figure: str
    claim: str
    paper: str
    ours: str = ""
    setting: str = ""
    checks: list[Check] = field(default_factory=list)
    source: str = ""
    note: str = ""
    in_paper: bool = True  # False: a check of the book's own (an extra task, a speed target), not a paper claim

    @property
    def verdict(self) -> str:
        return verdict_of(self.checks)


def verdict_of(checks: list[Check]) -> str:
    """The report's rule: all checks pass, reproduced; some, partly; none pass and some fail, not reproduced;
    all within the noise, within the noise; no checks, not yet run."""
    if not checks:
        return NOT_RUN
    passed = sum(c.passed is True for c in checks)
    failed = sum(c.passed is False for c in checks)
    if passed == len(checks):
        return REPRODUCED
    if passed:
        return PARTLY
    return NOT_REPRODUCED if failed else WITHIN_NOISE


def count_verdicts(claims: list[Claim]) -> dict[str, int]:
    """How many claims got each verdict, in the order of :data:`VERDICTS`."""
    counts = {v: 0 for v in VERDICTS}
    for c in claims:
        counts[c.verdict] += 1
    return counts


def paper_claims(claims: list[Claim]) -> int:
    """How many distinct claims of the paper the rows check: a row tagged ``"... [V_M name]"`` or
    ``"... [task]"`` re-checks its claim with another learner or task and is not counted again, and a row of
    the book's own (``in_paper=False``) is not a claim of the paper."""
    return len({c.figure.split(" [")[0] for c in claims if c.in_paper})


def not_run(figure: str, claim: str, paper: str, note: str, source: str = "") -> Claim:
    return Claim(figure=figure, claim=claim, paper=paper, note=note, source=source)


# ------------------------------------------------------------------ stored chapters

def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _plain_value(text: str):
    """A text/plain repr back to its value, as myst-nb's glue:text does (quotes of a str removed)."""
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError):
        return text


def read_notebook(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise MissingResult(f"no stored chapter {path.name}")
    try:
        nb = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a notebook (invalid JSON: {exc})") from None
    if not isinstance(nb, dict) or "cells" not in nb:
        raise ValueError(f"{path}: not a notebook (expected a JSON object with 'cells')")
    return nb


def read_glue(path: str | Path) -> dict[str, object]:
    """Every value glued in a stored notebook, by name: markdown as its text, the rest as their values.

    myst-nb's ``glue`` (and :func:`vsml.book.glue`) store a display output whose
    metadata carries ``scrapbook: {name, mime_prefix}`` and whose data keys
    carry that prefix. A ``text/markdown`` value is returned as its string;
    a ``text/plain`` one through ``ast.literal_eval`` (numbers, strings,
    dicts); a figure (no text) as ``None``.
    """
    values = {}
    for cell in read_notebook(path)["cells"]:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if not meta or "name" not in meta:
                continue
            prefix, data = meta.get("mime_prefix", ""), out.get("data", {})
            if prefix + "text/markdown" in data:
                values[meta["name"]] = _text(data[prefix + "text/markdown"])
            elif prefix + "text/plain" in data and not any(k.startswith(prefix + "image/") for k in data):
                values[meta["name"]] = _plain_value(_text(data[prefix + "text/plain"]))
            else:
                values[meta["name"]] = None
    return values


def stored_stdout(path: str | Path) -> str:
    """Everything a stored notebook printed (stdout streams), in cell order."""
    return "".join(_text(o.get("text", "")) for c in read_notebook(path)["cells"]
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def stored_run(path: str | Path) -> dict[str, str]:
    """``mode`` ('full'/'smoke'), ``device``, ``commit`` and ``date`` from the lines
    :func:`vsml.book.chapter_setup` prints (``unknown`` where a stored chapter lacks them)."""
    out = stored_stdout(path)
    m = re.search(r"^mode: (full|SMOKE)[^|]*\| device: ([^|]+?) \| seed", out, re.M)
    c = re.search(r"\| commit (\S+) \| ([0-9-]+ [0-9:]+)", out)
    run = {"commit": c.group(1) if c else "unknown", "date": c.group(2) if c else "unknown"}
    if not m:
        return {"mode": "unknown", "device": "unknown", **run}
    return {"mode": "full" if m.group(1) == "full" else "smoke", "device": m.group(2).strip(), **run}


class StoredChapter:
    """The glued values of one stored chapter, with clear errors for what is not there."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.values = read_glue(self.path)
        self.run = stored_run(self.path)

    def __getitem__(self, key: str):
        if key not in self.values:
            raise MissingResult(f"{self.path.name} glues no value {key!r}")
        return self.values[key]

    def num(self, key: str) -> float:
        value = self[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                return float(str(value).replace(",", ""))
            except ValueError:
                raise MissingResult(f"{self.path.name}: {key!r} is {value!r}, expected a number") from None
        return float(value)

    def md(self, key: str) -> str:
        """A glued markdown value as plain words (bold and code marks removed)."""
        return str(self[key]).replace("**", "").replace("`", "")

    def require_full(self) -> None:
        if self.run["mode"] != "full":
            raise MissingResult(f"{self.path.name} is stored from a {self.run['mode']} run, not a full one")


def find_chapter(book_dir: str | Path, slug_words: tuple[str, ...]) -> Path | None:
    """The stored chapter notebook ``book/NN_*.ipynb`` whose name contains one of ``slug_words``, if any."""
    for path in sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb")):
        if any(w in path.stem for w in slug_words):
            return path
    return None
