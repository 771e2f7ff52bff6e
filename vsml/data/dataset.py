"""One split of a dataset as tensors (Section 4's inputs: images in [0, 1], standardised per
dataset as in the authors' code), and the deterministic per-class split used where a source
has no official split."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .catalog import CLASSES, STATS


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



def to_dataset(name, split, x, y, source, *, partial=False, note="", classes=None) -> Dataset:
    """Wrap arrays: uint8 images are scaled by 1/255, float images must already be in [0, 1]."""
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    x = torch.from_numpy(np.ascontiguousarray(x)).float().div_(scale)
    classes = classes if classes is not None else CLASSES.get(name)
    num_classes = len(classes) if classes is not None else int(y.max()) + 1
    return Dataset(name, split, x, torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
                   num_classes, source, partial, note, list(classes) if classes is not None else None)


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

