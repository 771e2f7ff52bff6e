"""Chapter tooling that chapters import: the smoke switch, the chapter's setup and provenance, glue.

Every chapter of the book is one notebook that serves three uses (appendix 'Design notes'):
a full run whose outputs are stored and rendered, a smoke run in CI
(``VSML_SMOKE=1``, seconds on 2 CPU cores), and an nbval check of the cells
marked ``# NBVAL_CHECK_OUTPUT``. The runner (``python -m vsml.book run | prose |
sync | list``) is :mod:`vsml.book_runner`::

    python -m vsml.book run 03            # one chapter, full mode, in place
    python -m vsml.book run 01 02 --smoke  # smoke mode, written to _build/smoke/
    python -m vsml.book run all -p seed 1  # every chapter, with a parameter
    python -m vsml.book run 07 --device cuda  # on the GPU (chapters marked CPU-only stay there)
    python -m vsml.book prose 07             # text edits only: keep the stored outputs
    python -m vsml.book list
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Figures are read on slides too: no text below 11 pt.
BOOK_STYLE = {"font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12, "xtick.labelsize": 11,
              "ytick.labelsize": 11, "legend.fontsize": 11, "legend.title_fontsize": 11,
              "figure.titlesize": 13, "figure.dpi": 100}
GLUE_PREFIX = "application/papermill.record/"  # the mime prefix myst-nb reads glued values from


def is_smoke() -> bool:
    """True when ``VSML_SMOKE`` is set to a true value (CI sets ``VSML_SMOKE=1``)."""
    return os.environ.get("VSML_SMOKE", "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class ChapterRun:
    """What a chapter runs with: the smoke flag wins over the parameters cell."""

    smoke: bool
    device: str
    seed: int
    started: float = field(default_factory=time.time)

    def elapsed(self) -> str:
        return f"{time.time() - self.started:.1f} s"


def git_commit() -> str:
    """The checkout's short commit, with ``+changes`` when the code that runs differs from it: tracked files of
    the package, and the running chapter's source where the runner names it (``VSML_CHAPTER_SOURCE``; a chapter
    is usually re-run before its change is committed, so the commit alone does not name that code)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        paths = ["vsml"] + ([os.environ["VSML_CHAPTER_SOURCE"]] if os.environ.get("VSML_CHAPTER_SOURCE") else [])
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *paths], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def chapter_device(device: str, smoke: bool, cpu_only: str | None = None) -> tuple[str, str]:
    """``(device, note)`` a chapter computes on: ``"auto"`` through :func:`vsml.device.resolve_device`.

    Smoke mode (CI) and ``cpu_only`` chapters use the CPU; a CUDA request on a
    machine without CUDA falls back to the CPU with a note (a Colab CPU runtime
    should still run every chapter).
    """
    from .device import DeviceError, resolve_device

    if smoke:
        return "cpu", "smoke mode uses the CPU"
    if cpu_only:
        return "cpu", cpu_only
    try:
        return str(resolve_device(device)), ""
    except DeviceError as exc:
        if not str(device).strip().lower().startswith("cuda"):
            raise ValueError(f"chapter parameter device={device!r}: {exc}") from None
        return "cpu", f"device {device!r} requested but CUDA is not available: using cpu"


def use_book_style() -> None:
    """Matplotlib defaults for the book's figures (:data:`BOOK_STYLE`)."""
    import matplotlib

    matplotlib.rcParams.update(BOOK_STYLE)


def chapter_setup(smoke: bool = False, device: str = "auto", seed: int = 0,
                  quiet: bool = False, cpu_only: str | None = None) -> ChapterRun:
    """Apply the environment switch, resolve the device, set the figure style and print the provenance.

    ``VSML_SMOKE=1`` always wins: it turns smoke mode on and forces the CPU,
    also when nbval replays a stored ``injected-parameters`` cell. ``device``
    is ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``;
    a chapter whose code runs on the CPU whatever the machine passes
    ``cpu_only`` (the reason, printed), so its provenance never names a GPU
    that did no work.
    """
    import torch

    if is_smoke():
        smoke = True
    device, note = chapter_device(device, smoke, cpu_only)
    torch.manual_seed(seed)
    use_book_style()
    run = ChapterRun(smoke=smoke, device=device, seed=seed)
    if not quiet:
        if note.startswith("device "):
            print(note)
        from .device import threads_text

        dev_name = torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu"
        why = f"; {note}" if note and not note.startswith("device ") else ""
        print(f"mode: {'SMOKE (tiny sizes, numbers are not results)' if smoke else 'full'} | "
              f"device: {device} ({dev_name}, {threads_text()}{why}) | seed: {seed}")
        print(f"torch {torch.__version__} | python {platform.python_version()} | commit {git_commit()} | "
              f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    return run


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value``'s display under ``name`` for ``{glue:text}`` / ``glue:figure`` (myst-nb's format).

    The same record as ``myst_nb.glue`` without importing myst-nb (which Colab
    does not have). On Colab a glued figure is also shown in place, since no
    book build is there to show it.
    """
    import IPython.core.formatters
    from IPython.display import display as ipy_display

    bundle, metadata = IPython.core.formatters.format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
    if not display and "google.colab" in sys.modules and "image/png" in bundle:
        ipy_display(value)


def main(argv=None) -> int:
    """``python -m vsml.book``: the chapter runner's command line (:func:`vsml.book_runner.main`)."""
    from .book_runner import main as runner_main
    return runner_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
