"""The chapter runner: sources to notebooks, papermill runs, text refreshes (``python -m vsml.book``).

Chapter sources are jupytext percent scripts in ``book/src/NN_slug.py``; the
runner turns one into ``book/NN_slug.ipynb`` (filling in ``COLAB_BADGE``,
``REPO_URL`` and ``BOOK_RELEASE`` from ``repository.url`` and ``release`` in
``_config.yml``, and adding Colab's GPU-runtime metadata), executes it with
papermill into a temporary file and replaces the stored notebook only on
success; a smoke run (``--smoke``, ``VSML_SMOKE``, ``-p smoke True``) goes to
``_build/smoke/``. ``prose`` updates a stored chapter's text from its source
where no code changed, keeping the outputs of the run that executed that code.
"""
from __future__ import annotations

import argparse
import ast
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .book import is_smoke
from .config import parse_value

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SRC = BOOK / "src"
BADGE_MARK = "COLAB_BADGE"
REPO_MARK = "REPO_URL"
RELEASE_MARK = "BOOK_RELEASE"
# Colab opens the notebooks on a GPU runtime (the chapters run on CPU too).
COLAB_METADATA = {"accelerator": "GPU", "colab": {"provenance": [], "gpuType": "T4"}}


def read_config() -> dict:
    import yaml

    with open(ROOT / "_config.yml") as f:
        return yaml.safe_load(f)


def book_release(config: dict | None = None) -> str:
    """The git ref (tag or commit) the book pins: ``release`` in ``_config.yml``, else the branch."""
    config = read_config() if config is None else config
    return str(config.get("release") or config["repository"].get("branch", "main"))


def colab_badge(notebook: Path) -> str:
    """Markdown Colab badge for a chapter at the book's release, from ``_config.yml``."""
    config = read_config()
    slug = config["repository"]["url"].rstrip("/").split("github.com/")[-1]
    rel = notebook.resolve().relative_to(ROOT).as_posix()
    url = f"https://colab.research.google.com/github/{slug}/blob/{book_release(config)}/{rel}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def chapters() -> list[Path]:
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def find_chapters(names: list[str]) -> list[Path]:
    allc = chapters()
    if names == ["all"]:
        return allc
    found = []
    for name in names:
        stem = Path(name).stem
        hits = [c for c in allc if c.stem == stem or c.stem.startswith(stem + "_") or c.stem.startswith(stem)]
        if len(hits) != 1:
            known = ", ".join(c.stem for c in allc)
            raise ValueError(f"chapter {name!r} matches {len(hits)} chapters; known: {known}")
        found.append(hits[0])
    return found


def build_notebook(src: Path, dest: Path):
    """Convert a percent script to a notebook: python3 kernelspec, Colab GPU metadata, badge, pinned install."""
    import copy

    import jupytext

    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.update(copy.deepcopy(COLAB_METADATA))
    nb.metadata.pop("jupytext", None)
    config = read_config()
    badge, repo_url, release = colab_badge(dest), config["repository"]["url"].rstrip("/"), book_release(config)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(BADGE_MARK, badge)
        else:  # the Colab install cell: pip install "vsml @ git+REPO_URL@BOOK_RELEASE"
            cell.source = cell.source.replace(REPO_MARK, repo_url).replace(RELEASE_MARK, release)
    return nb


def strip_volatile(nb) -> None:
    """Drop metadata that changes on every run (timings, papermill bookkeeping)."""
    nb.metadata.pop("papermill", None)
    nb.metadata.get("widgets", None) and nb.metadata.pop("widgets")
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "outputs" in cell:
            for out in cell.outputs:
                # Progress bars write carriage-return updates; keep only the final state.
                if out.get("name") == "stderr" and "\r" in out.get("text", ""):
                    out["text"] = "\n".join(line.split("\r")[-1] for line in out["text"].split("\n"))


def run_chapter(src: Path, smoke: bool, params: dict, inplace: bool) -> tuple[Path, float, float]:
    import nbformat
    import papermill

    dest = BOOK / f"{src.stem}.ipynb"
    out = dest if (inplace or not smoke) else ROOT / "_build" / "smoke" / dest.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nb = build_notebook(src, dest)
    env_before = os.environ.get("VSML_SMOKE")
    if smoke:
        os.environ["VSML_SMOKE"] = "1"
    os.environ["VSML_CHAPTER_SOURCE"] = str(src.resolve())  # the kernel's provenance line checks this file
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_in, tmp_out = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        nbformat.write(nb, tmp_in)
        try:
            papermill.execute_notebook(str(tmp_in), str(tmp_out), parameters=params, kernel_name="python3",
                                       cwd=str(BOOK), progress_bar=sys.stderr.isatty() or not smoke,
                                       request_save_on_cell_execute=False)
        finally:
            os.environ.pop("VSML_CHAPTER_SOURCE", None)
            if env_before is None:
                os.environ.pop("VSML_SMOKE", None)
            else:
                os.environ["VSML_SMOKE"] = env_before
        result = nbformat.read(tmp_out, as_version=4)
        strip_volatile(result)
        nbformat.write(result, tmp_out)
        shutil.move(str(tmp_out), out)  # only reached when papermill succeeded
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out, time.time() - t0, peak_mb


def _code_cells(nb) -> list:
    """A notebook's code cells as run, without the cell papermill injects for ``-p`` parameters."""
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def stale_cells(src: Path, stored: Path) -> tuple[list[int], list[int]]:
    """Where a stored chapter differs from its source: ``(code cells, text)``, the indices of changed code
    cells (re-run the chapter) and of changed markdown cells or code-cell captions/tags (``prose`` fixes them)."""
    import nbformat

    return _differences(build_notebook(src, stored), nbformat.read(stored, as_version=4))


def _differences(new, old) -> tuple[list[int], list]:
    """:func:`stale_cells` on two notebooks already read."""
    code_new, code_old = _code_cells(new), _code_cells(old)
    code = [i for i in range(max(len(code_new), len(code_old)))
            if i >= len(code_new) or i >= len(code_old) or code_new[i].source != code_old[i].source]
    # Text: markdown cells, and the code cells' presentation metadata (figure captions, tags).
    md_new, md_old = ([c for c in nb.cells if c.cell_type == "markdown"] for nb in (new, old))
    text = [i for i in range(max(len(md_new), len(md_old)))
            if i >= len(md_new) or i >= len(md_old) or md_new[i].source != md_old[i].source]
    text += [f"code {i} metadata" for i, (a, b) in enumerate(zip(code_new, code_old))
             if i not in code and _shown_metadata(a) != _shown_metadata(b)]
    return code, text


def _shown_metadata(cell) -> dict:
    """The metadata of a code cell that the book shows (captions, tags), without run bookkeeping."""
    return {k: v for k, v in cell.metadata.items() if k in ("mystnb", "tags") and v}  # papermill adds tags: []


def refresh_prose(src: Path) -> Path:
    """Rebuild a stored chapter's text from its source, keeping every output, when no code cell changed.

    The outputs stay those of the run that executed exactly this code; a changed
    code cell (or a missing stored notebook) is an error: run the chapter instead.
    """
    import nbformat

    stored = BOOK / f"{src.stem}.ipynb"
    if not stored.exists():
        raise ValueError(f"{src.stem} has no stored notebook: run it (python -m vsml.book run {src.stem[:2]})")
    old, new = nbformat.read(stored, as_version=4), build_notebook(src, stored)
    code, _ = _differences(new, old)
    if code:
        raise ValueError(f"{src.stem}: code cells {code} differ from the stored run; its outputs would not be "
                         f"theirs: run the chapter (python -m vsml.book run {src.stem[:2]})")
    new.metadata = old.metadata
    ran = iter(_code_cells(old))
    injected = [c for c in old.cells if "injected-parameters" in c.metadata.get("tags", [])]
    old_ids: dict[str, list[str]] = {}  # unchanged text keeps its cell id: diffs show only what changed
    for cell in old.cells:
        if cell.cell_type != "code" and "id" in cell:
            old_ids.setdefault(cell.source, []).append(cell.id)
    cells = []
    for cell in new.cells:
        if cell.cell_type != "code" and old_ids.get(cell.source):
            cell.id = old_ids[cell.source].pop(0)
        if cell.cell_type == "code":  # the run's outputs, the source's captions and tags
            done = next(ran)
            for key in ("mystnb", "tags"):  # the source's say, including a removed caption or tag
                done.metadata.pop(key, None)
            done.metadata.update(_shown_metadata(cell))
            cell = done
        cells.append(cell)
        if injected and cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            cells.extend(injected)  # papermill's -p cell stays right after the parameters cell
    new.cells = cells
    nbformat.write(new, stored)
    return stored


def parameter_names(src: Path) -> list[str]:
    """Names assigned in a chapter's ``parameters`` cell (what ``-p NAME VALUE`` may set)."""
    import jupytext

    for cell in jupytext.read(src).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return [t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]
    return []


def check_parameters(srcs: list[Path], params: dict) -> None:
    """A one-line ``ValueError`` for a ``-p`` name that some chapter's parameters cell does not define."""
    for src in srcs:
        known = parameter_names(src)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"chapter {src.stem} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters: {', '.join(known) or 'none'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run_p = sub.add_parser("run", help="execute chapters (names like 03, 03_sparse_shared_rnn, or all)")
    run_p.add_argument("chapters", nargs="+")
    run_p.add_argument("--smoke", action="store_true", help="VSML_SMOKE=1; output goes to _build/smoke/")
    run_p.add_argument("--inplace", action="store_true", help="with --smoke, overwrite the stored chapter anyway")
    run_p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    run_p.add_argument("--device", help="the chapters' device parameter (auto, cpu, cuda); same as -p device DEV")
    sub.add_parser("list", help="list chapters")
    sync_p = sub.add_parser("sync", help="rebuild notebooks from sources without executing (drops outputs)")
    sync_p.add_argument("chapters", nargs="+")
    prose_p = sub.add_parser("prose", help="update stored chapters' text from their sources, keeping the outputs "
                                           "(only where no code cell changed)")
    prose_p.add_argument("chapters", nargs="+")
    args = parser.parse_args(argv)

    if args.cmd == "list":
        for c in chapters():
            nb = BOOK / f"{c.stem}.ipynb"
            print(f"{c.stem:40s} {'stored' if nb.exists() else 'not yet run'}")
        return 0
    if args.cmd == "sync":
        import nbformat
        try:
            srcs = find_chapters(args.chapters)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for c in srcs:
            nbformat.write(build_notebook(c, BOOK / f"{c.stem}.ipynb"), BOOK / f"{c.stem}.ipynb")
        return 0

    if args.cmd == "prose":
        try:
            for c in find_chapters(args.chapters):
                print(f"text of {c.stem} updated -> {refresh_prose(c).relative_to(ROOT)}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0

    try:
        srcs = find_chapters(args.chapters)
        params = {k: parse_value(v, f"-p {k}") for k, v in args.param}
        if args.device is not None:
            from .device import resolve_device
            resolve_device(args.device)  # a clear error now, not after the first chapters ran
            params["device"] = args.device
        check_parameters(srcs, params)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Smoke mode from any source (--smoke, VSML_SMOKE, -p smoke True) writes to _build/smoke/: a smoke run must
    # never replace a stored full run unless --inplace asks for it.
    smoke = args.smoke or is_smoke() or bool(params.get("smoke"))
    failed = []
    for src in srcs:
        print(f"running {src.stem} ({'smoke' if smoke else 'full'}) ...", flush=True)
        try:
            out, secs, peak = run_chapter(src, smoke, params, args.inplace)
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            print(f"FAILED {src.stem}: {exc}", file=sys.stderr)
            failed.append(src.stem)
            continue
        print(f"ok {src.stem}: {secs:.1f} s, peak RSS {peak:.0f} MB -> {out.relative_to(ROOT)}")
    if failed:
        print(f"{len(failed)} chapter(s) failed: {', '.join(failed)}; stored notebooks left unchanged",
              file=sys.stderr)
        return 1
    return 0
