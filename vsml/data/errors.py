"""The errors of :mod:`vsml.data`: every failure names the file or the setting at fault."""
from __future__ import annotations


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


class DataRootError(ValueError):
    """The cache folder setting (``VSML_DATA`` or ``data_dir``) does not name a usable folder."""


class Skip(Exception):
    """A source that does not have the data; the message says why.

    ``corrupt`` marks a source whose files exist but failed a check: ``load`` then tells,
    in the note of whatever source it falls back to, why that source was passed over.
    """

    def __init__(self, message: str, *, corrupt: bool = False):
        super().__init__(message)
        self.corrupt = corrupt
