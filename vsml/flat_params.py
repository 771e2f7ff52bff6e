"""Named parameter tensors <-> flat vectors ``[..., n]`` with leading population dimensions.

Paper Section 3.1 / Algorithm 1: ES perturbs the meta variables as one
vector per population member; meta-training handles any model (the VSML
RNN, the Meta RNN) through this view. ``shapes`` fixes names, order and
per-member shapes; dimensions in front of them are kept as leading
(population) dimensions, e.g. ``[P, ...]`` per member -> ``[P, n]``.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch


def num_params(shapes: Mapping[str, Sequence[int]]) -> int:
    """How many numbers a parameter dict of these shapes holds (the length of its flat vector)."""
    return sum(math.prod(s) for s in shapes.values())


def flatten(params: Mapping[str, torch.Tensor], shapes: Mapping[str, Sequence[int]] | None = None) -> torch.Tensor:
    """Concatenate parameters in dict order into ``[..., n]``.

    Without ``shapes`` every tensor is flattened whole (result ``[n]``). With
    ``shapes``, dimensions in front of each shape are kept as leading
    (population) dimensions, e.g. per-member ``[P, ...]`` -> ``[P, n]``.
    """
    if shapes is None:
        return torch.cat([p.reshape(-1) for p in params.values()])
    if list(params) != list(shapes):
        raise ValueError(f"params keys {list(params)} do not match shapes keys {list(shapes)}")
    pieces = []
    for name, shape in shapes.items():
        p = params[name]
        lead = p.shape[:p.dim() - len(shape)]
        if tuple(p.shape[len(lead):]) != tuple(shape):
            raise ValueError(f"{name} has shape {tuple(p.shape)}, expected [..., {', '.join(map(str, shape))}]")
        pieces.append(p.reshape(*lead, -1))
    return torch.cat(pieces, -1)


def unflatten(flat: torch.Tensor, shapes: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`flatten`: ``[..., n]`` -> ``{name: [..., *shape]}`` (views, no copy)."""
    n = num_params(shapes)
    if flat.dim() < 1 or flat.shape[-1] != n:
        raise ValueError(f"flat must be [..., {n}] for these shapes, got shape {tuple(flat.shape)}")
    lead = flat.shape[:-1]
    sizes = [math.prod(s) for s in shapes.values()]
    return {name: piece.reshape(*lead, *shape)
            for (name, shape), piece in zip(shapes.items(), flat.split(sizes, -1))}
