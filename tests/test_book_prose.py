"""No number in a chapter's prose is typed by hand: results reach the text through myst-nb's glue.

The rule, for every markdown cell of a chapter source ``book/src/NN_*.py``
listed in ``CHAPTERS``: outside the spans exempted below, the text contains

* no number followed by ``%`` (``66.9%``, ``80 %``),
* no decimal number (``0.4``, ``1.2 s``), and
* no number written with a thousands separator (``2,384``, ``10,000``).

Such numbers are results or facts that change when the chapter is re-run
(another dataset, Colab, a GPU). They must come from the chapter's outputs
with ``glue("key", value)`` in a code cell and ``{glue:text}`key``` in the
prose. Small integers are not checked: they mostly name sizes of the setup
(784 inputs, 10 classes, N = 16), and a test cannot tell them from results.

Exempt spans: ``{role}`...``` (glue, cite, numref, doc, eq, ...), inline and
display math, code spans and fenced code, directive option lines
(``:width: 80%``), link targets, text in double quotes (quoting the paper),
references to parts of the paper or the book (``Section 4.2``, ``Appendix
C.1``, ``Eq. 8-15``, ``Figures 5 and 11``), and the phrases in ``ALLOWED``.
"""
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
# add a chapter once it follows the rule
CHAPTERS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11_reproduction", "12", "13", "14", "15"]
# Per chapter, exact phrases that may keep a number (state why next to each).
ALLOWED: dict[str, list[str]] = {}

PAPER_PART = re.compile(
    r"\b(?:Sections?|Appendix|Appendices|Eqs?\.|Equations?|Figs?\.|Figures?|Tables?|Algorithms?|Theorems?)"
    r"\s+(?:[A-Z]?\d+(?:\.\d+)*[a-z]?)(?:\s*(?:,|and|or|to|-|–)\s*[A-Z]?\d+(?:\.\d+)*[a-z]?)*")
SPANS = [
    re.compile(r"^\s*```+\s*(?:python|py|bash|console|text|sh)?\s*\n.*?^\s*```+\s*$", re.S | re.M),  # code blocks
    re.compile(r"\$\$.*?\$\$", re.S),                 # display math
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S),
    re.compile(r"\{[\w:.-]+\}`[^`]*`"),               # MyST roles: {glue:text}`k`, {cite}`k`, {numref}`k`
    re.compile(r"``.*?``|`[^`]*`"),                   # code spans
    re.compile(r"(?<![\\$])\$[^$\n]+\$"),             # inline math
    re.compile(r"^\s*:[\w-]+:.*$", re.M),             # directive options
    re.compile(r"\]\([^)]*\)"),                       # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"\"[^\"]{1,300}\"|“[^”]{1,300}”"),     # quotations (of the paper), also across a line break
    PAPER_PART,
]
HAND_TYPED = {
    "a percentage": re.compile(r"\d(?:[\d.,]*\d)?\s?%"),
    "a decimal": re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]|\s?%)"),
    "a thousands separator": re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\d])"),
}


def strip_exempt(text: str, allowed=()) -> str:
    """The prose left once every exempt span is blanked out (lines kept, for messages)."""
    for phrase in allowed:
        text = text.replace(phrase, " ")
    for pattern in SPANS:
        text = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    return text


def hand_typed_numbers(text: str, allowed=()) -> list[str]:
    prose = strip_exempt(text, allowed)
    found = []
    for what, pattern in HAND_TYPED.items():
        for m in pattern.finditer(prose):
            line = text.splitlines()[prose[:m.start()].count("\n")].strip()
            found.append(f"{what} {m.group(0)!r} in: {line[:120]}")
    return found


def _source(chapter: str) -> Path:
    hits = sorted((ROOT / "book" / "src").glob(f"{chapter}_*.py"))
    assert len(hits) == 1, chapter
    return hits[0]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_prose_has_no_hand_typed_numbers(chapter):
    cells = jupytext.read(_source(chapter)).cells
    found = [hit for c in cells if c.cell_type == "markdown"
             for hit in hand_typed_numbers(c.source, ALLOWED.get(chapter, ()))]
    assert not found, f"chapter {chapter}: glue these from outputs:\n" + "\n".join(found)


def test_the_rule_flags_results_and_spares_exempt_spans():
    assert len(hand_typed_numbers("accuracy 66.9% after 3,840 examples, loss 0.45")) == 3
    assert hand_typed_numbers("after 60 steps (6 seeds), 784 inputs") == []
    exempt = ("{glue:text}`acc`% and $|V_M| = 2{,}384$, `0.5`, Section 4.2, Appendix C.1, Eq. 8-15, "
              "Figures 5 and 11, \"about 257,200\", {cite}`a2021`, [x](https://a.b/1.5)\n:width: 80%\n"
              "```python\nx = 0.5\n```\n$$y = 1.5$$")
    assert hand_typed_numbers(exempt) == []
    assert hand_typed_numbers("we saw 12%", allowed=["12%"]) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_heading_is_hidden_in_a_code_cell(chapter):
    """A markdown heading written as a comment in a code cell (a missing ``# %% [markdown]``) never renders."""
    cells = jupytext.read(_source(chapter)).cells
    hidden = [line for c in cells if c.cell_type == "code"
              for line in c.source.splitlines() if re.match(r"#\s+#{1,4}\s+\w", line)]
    assert not hidden, f"chapter {chapter}: headings inside code cells (start a markdown cell):\n" + "\n".join(hidden)
