"""Chapters run on Colab as they are: device "auto", GPU-runtime metadata, a pinned and complete install cell.

The rules, per chapter listed in ``CHAPTERS`` (add a chapter once it follows them):

* its ``parameters`` cell sets ``device = "auto"`` (CUDA when present; smoke
  mode still forces the CPU, :func:`vsml.book.chapter_device`);
* its Colab install cell installs ``vsml @ git+REPO_URL@BOOK_RELEASE`` (the
  release named in ``_config.yml``) and every third-party package the chapter
  imports that is not a dependency of ``vsml`` itself;
* the notebook built from it carries Colab's GPU-runtime metadata and the pin.
"""
import ast
import re
import sys
from pathlib import Path

import jupytext
import pytest

from vsml import book, book_runner

ROOT = Path(__file__).resolve().parent.parent
# add a chapter once it follows the rules
CHAPTERS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11_reproduction", "12", "13", "14", "15"]
# Import name -> pip name, for packages that vsml itself does not depend on.
PIP_NAMES = {"sklearn": "scikit-learn", "scipy": "scipy", "pandas": "pandas"}
# Installed with vsml (pyproject's dependencies) or part of Jupyter/Colab itself.
WITH_VSML = {"vsml", "torch", "numpy", "matplotlib", "tqdm", "yaml", "IPython"}
# Packages a chapter needs through vsml (e.g. scikit-learn's digits in vsml.data).
INDIRECT = {"05": {"scikit-learn"}, "13": {"scikit-learn"}}


def _source(chapter: str) -> Path:
    hits = sorted((ROOT / "book" / "src").glob(f"{chapter}_*.py"))
    assert len(hits) == 1, chapter
    return hits[0]


def _cells(chapter: str):
    return jupytext.read(_source(chapter)).cells


def _install_cell(chapter: str) -> str:
    hits = [c.source for c in _cells(chapter) if c.cell_type == "code" and "google.colab" in c.source
            and "pip" in c.source]
    assert len(hits) == 1, f"chapter {chapter}: expected one Colab install cell, found {len(hits)}"
    return hits[0]


def _imported_top_level(chapter: str) -> set[str]:
    names = set()
    for cell in _cells(chapter):
        if cell.cell_type != "code":
            continue
        tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.startswith(("%", "!"))))
        optional = set()  # imports inside ``try: ... except ImportError`` have a fallback: Colab need not install them
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(isinstance(h.type, ast.Name) and h.type.id in
                                                 ("ImportError", "ModuleNotFoundError") for h in node.handlers):
                optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell_uses_device_auto(chapter):
    cells = [c for c in _cells(chapter) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assigned = {t.id: node.value for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)
                for t in node.targets}
    assert isinstance(assigned.get("device"), ast.Constant) and assigned["device"].value == "auto"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_install_cell_is_pinned_and_complete(chapter):
    cell = _install_cell(chapter)
    assert f"vsml @ git+{book_runner.REPO_MARK}@{book_runner.RELEASE_MARK}" in cell
    needed = {PIP_NAMES.get(n, n) for n in _imported_top_level(chapter)
              if n not in WITH_VSML and n not in sys.stdlib_module_names}
    needed |= INDIRECT.get(chapter, set())
    missing = {name for name in needed if f'"{name}"' not in cell}
    assert not missing, f"chapter {chapter} imports {sorted(missing)} but its Colab cell does not install them"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_built_notebook_has_colab_gpu_metadata_and_the_pin(chapter):
    src = _source(chapter)
    nb = book_runner.build_notebook(src, ROOT / "book" / f"{src.stem}.ipynb")
    assert nb.metadata["accelerator"] == "GPU" and "gpuType" in nb.metadata["colab"]
    release = book_runner.book_release()
    text = "\n".join(c.source for c in nb.cells)
    assert f"@{release}\"" in text and book_runner.RELEASE_MARK not in text and book_runner.REPO_MARK not in text
    assert f"/blob/{release}/book/{src.stem}.ipynb" in text  # the badge opens the same release


def test_release_is_a_git_ref_name():
    release = book_runner.book_release()
    assert re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._/-]*", release), release


def test_chapter_device_resolves_auto_and_smoke_forces_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert book.chapter_device("auto", smoke=False) == ("cpu", "")
    assert book.chapter_device("cuda", smoke=False)[0] == "cpu"  # a Colab CPU runtime still runs
    assert book.chapter_device("auto", smoke=True) == ("cpu", "smoke mode uses the CPU")
    assert book.chapter_device("auto", smoke=False, cpu_only="tiny checks") == ("cpu", "tiny checks")
    with pytest.raises(ValueError, match="device='tpu'"):
        book.chapter_device("tpu", smoke=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert book.chapter_device("auto", smoke=False) == ("cuda", "")
    assert book.chapter_device("auto", smoke=True)[0] == "cpu"


def test_glue_writes_what_myst_nb_reads(monkeypatch):
    """vsml.book.glue records exactly what myst_nb.glue records (the book build reads it)."""
    myst_glue = pytest.importorskip("myst_nb.ext.glue")
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, kw)))
    book.glue("key", "12.5")
    ours = shown.pop()
    monkeypatch.setattr(myst_glue, "ipy_display", lambda obj, **kw: shown.append((obj, kw)))
    myst_glue.glue("key", "12.5", display=False)
    assert ours == shown.pop()
    assert list(ours[0]) == [book.GLUE_PREFIX + "text/plain"]
