"""File formats of the datasets of Section 4 and Appendix B.2: IDX (MNIST-like), and
label-plus-pixels CSV; pure parsing of bytes and files, nothing about where files come from.

Every reader raises :class:`~vsml.data.errors.CorruptFile` naming the file and what is wrong,
never returns silently damaged arrays. Archive formats (EMNIST, CIFAR-10, Omniglot, the npm and
PyPI packages) are in :mod:`vsml.data.archives`.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from .errors import CorruptFile


def md5sum(path) -> str:
    """MD5 of a file (the official datasets publish MD5 checksums)."""
    return file_digest(path, "md5")


def file_digest(path, algorithm: str, *, prefix: bytes = b"", skip: int = 0) -> str:
    """The file's digest; with ``prefix`` and ``skip``, of ``prefix`` followed by the file from byte ``skip``."""
    digest = hashlib.new(algorithm, prefix)
    with open(path, "rb") as f:
        f.seek(skip)
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gunzip(raw: bytes, where) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; truncation is EOFError
        raise CorruptFile(where, f"not a valid gzip file ({exc})") from None


def part_path(path: Path) -> Path:
    """A temporary name beside ``path``, unique per process: files appear whole or not at all."""
    return path.with_name(f"{path.name}.{os.getpid()}.part")


def write_bytes_atomic(path, raw: bytes) -> None:
    path = Path(path)
    tmp = part_path(path)
    tmp.write_bytes(raw)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- IDX

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
              np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


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


def read_idx_bytes(path) -> bytes:
    """The IDX bytes of a file, gunzipped when it is gzipped."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b" or str(path).endswith(".gz"):
        raw = gunzip(raw, path)
    return raw


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzipped or not; raises :class:`CorruptFile` naming the path."""
    return parse_idx(read_idx_bytes(path), path)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``; int64 is stored as int32 when its values fit (labels)."""
    array = np.asarray(array)
    if array.dtype == np.int64:
        if array.size and (array.min() < -2**31 or array.max() >= 2**31):
            raise ValueError("int64 values outside the int32 range cannot be written as IDX")
        array = array.astype(np.int32)
    code = _IDX_CODES.get(array.dtype)
    if code is None:
        raise ValueError(f"IDX has no type for {array.dtype}; use one of "
                         f"{', '.join(str(d) for d in _IDX_CODES)}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    body = np.ascontiguousarray(array, dtype=np.dtype(_IDX_TYPES[code]))
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + body.tobytes()


def write_idx(path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in .gz), atomically."""
    raw = idx_bytes(array)
    path = Path(path)
    write_bytes_atomic(path, gzip.compress(raw, mtime=0) if path.name.endswith(".gz") else raw)


def images_labels(images: np.ndarray, labels: np.ndarray, where, num_classes: int):
    """Check and shape an image/label pair: images ``[N, 1, H, W]``, labels int64 in range."""
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise CorruptFile(where, f"images {images.shape} and labels {labels.shape} do not match")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise CorruptFile(where, f"labels outside 0..{num_classes - 1}")
    return images[:, None], labels.astype(np.int64)


def read_idx_pair(images_path, labels_path, num_classes: int = 10):
    """Images ``uint8 [N, 1, H, W]`` and labels ``int64 [N]`` from an IDX image/label file pair."""
    return images_labels(read_idx(images_path), read_idx(labels_path), images_path, num_classes)


# ----------------------------------------------------------------------------- CSV

def parse_label_pixel_csv(raw: bytes, where="<bytes>", *, side: int = 28):
    """Rows of ``label,p1,...,p784`` after one header row (``label,...``), all integers 0..255.

    Returns images ``uint8 [N, side, side]`` and labels ``uint8 [N]``. Values outside 0..255,
    non-integers, ragged or truncated rows raise :class:`CorruptFile`.
    """
    columns = 1 + side * side
    end = raw.find(b"\n")
    header = raw[: end if end >= 0 else len(raw)].rstrip(b"\r").split(b",")
    if header[0].strip().lower() != b"label" or len(header) != columns:
        raise CorruptFile(where, f"header is not 'label' + {columns - 1} pixel columns "
                                 f"({len(header)} fields, first {header[0][:20]!r})")
    if not raw.endswith(b"\n"):
        raise CorruptFile(where, "the last row does not end with a newline: truncated")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
            rows = np.loadtxt(io.BytesIO(raw[end + 1:]), delimiter=",", dtype=np.uint8, comments=None, ndmin=2)
    except ValueError as exc:  # bad value, value outside uint8, or a row with another column count
        raise CorruptFile(where, f"not a CSV of integers 0..255 in {columns} columns ({exc})") from None
    if rows.shape[0] == 0 or rows.shape[1] != columns:
        raise CorruptFile(where, f"{rows.shape[0]} rows of {rows.shape[1]} values, expected rows of {columns}")
    return np.ascontiguousarray(rows[:, 1:]).reshape(-1, side, side), np.ascontiguousarray(rows[:, 0])
