"""The paper's task suite: online episodes, Random, SumSign, few-shot Omniglot, augmentations.

* Online episodes (Section 4.2, Algorithm 1): VSML learns online, one example at a
  time, over ``T`` examples (500 in meta-training) drawn without replacement from a
  dataset; meta-testing uses the official test split (Section 4.4, Figure 8).
* Random and Sum Sign (Section 4.4): Random is a classification dataset of 20 points
  with N(0, 1) 28x28 inputs and 10 uniform labels, new for every task; Sum Sign asks
  for the sign of the sum of 784 random inputs.
* Omniglot 5-way 1-shot (Appendix B.2): 5 random classes, one labelled example each,
  then one query from one of them; only the query's prediction counts.
* Augmentations (Section 4.3): 3, 4, 6 or 7-class subsets (of a dataset, or drawn
  per episode by ``class_subset_episodes``), inputs resized to 14x14,
  28x28 or 32x32, a random linear projection fixed within a task
  (Glorot-uniform), and permutations of pixels and labels (VSML is invariant to both).

Conventions: a batch of ``P`` independent episodes (tasks) of ``T`` steps is
``x`` float32 ``[P, T, D]`` (flattened inputs) and ``y`` int64 ``[P, T]``. Every
function takes ``seed`` (an int, or a CPU ``torch.Generator``) and draws all its
randomness on the CPU from it, so the same seed gives the same tensors on any
machine (for a given torch version); ``device`` only moves the result. Per-task
augmentations draw one transformation per episode, fixed over its ``T`` steps.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .data import Dataset


def generator(seed) -> torch.Generator:
    """A CPU generator from an int seed (a generator is passed through unchanged)."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a torch.Generator, got {type(seed).__name__}")
    return torch.Generator().manual_seed(seed)


def _positive(**values) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be a positive int, got {value!r}")


def model_inputs(dataset: Dataset, index: torch.Tensor, standardize: bool, image_size) -> torch.Tensor:
    """The learners' inputs for the images at ``index`` (any shape): standardised, optionally resized, flattened."""
    images = dataset.x[index.reshape(-1)]
    if standardize and not dataset.is_standardized:
        mean, std = dataset.stats
        images = (images - mean) / std
    if image_size is not None:
        images = resize_images(images, image_size)
    return images.reshape(*index.shape, -1)


# --------------------------------------------------------------------------- episodes

def _check_length(dataset: Dataset, length: int) -> None:
    if length > len(dataset):
        raise ValueError(f"length {length} exceeds the {len(dataset):,} examples of "
                         f"{dataset.name}/{dataset.split} (episodes draw without replacement)")


def episode_index(dataset: Dataset, length: int, seed=0) -> torch.Tensor:
    """The example indices ``[length]`` of the single episode ``online_episodes(dataset, 1, length, seed)``."""
    _positive(length=length)
    _check_length(dataset, length)
    return torch.randperm(len(dataset), generator=generator(seed))[:length]


def online_episodes(dataset: Dataset, num_episodes: int, length: int, seed=0, *, standardize: bool = True,
                    image_size=None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``P = num_episodes`` online episodes of ``T = length`` examples (Section 4.2).

    Each episode draws its ``T`` examples without replacement from ``dataset`` (a
    fresh draw per episode). Returns ``x`` float32 ``[P, T, D]`` (standardised with the
    dataset's statistics, optionally resized to ``image_size``, flattened) and ``y``
    int64 ``[P, T]``.
    """
    _positive(num_episodes=num_episodes, length=length)
    _check_length(dataset, length)
    g = generator(seed)
    index = torch.stack([torch.randperm(len(dataset), generator=g)[:length] for _ in range(num_episodes)])
    x, y = model_inputs(dataset, index, standardize, image_size), dataset.y[index]
    return x.to(device), y.to(device)


def online_episode_segment(dataset: Dataset, length: int, start: int, stop: int, seed=0, *,
                           standardize: bool = True, image_size=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Examples ``start:stop`` of the single episode ``online_episodes(dataset, 1, length, seed)``.

    The same draw, without materialising the whole episode: long-horizon
    meta-training (:mod:`vsml.meta.episode_pool`) reads episodes of thousands of
    examples one segment at a time. Returns ``x [1, stop - start, D]``, ``y [1, stop - start]``.
    """
    _positive(length=length)
    if not 0 <= start < stop <= length:
        raise ValueError(f"need 0 <= start < stop <= length, got start={start}, stop={stop}, length={length}")
    index = episode_index(dataset, length, seed)[start:stop].unsqueeze(0)
    return model_inputs(dataset, index, standardize, image_size), dataset.y[index]


def class_subset_episodes(dataset: Dataset, num_episodes: int, length: int, num_classes: int, seed=0, *,
                          standardize: bool = True, image_size=None, device=None,
                          return_classes: bool = False) -> tuple[torch.Tensor, ...]:
    """Online episodes that each see only ``num_classes`` random classes (Section 4.3: 3, 4, 6, 7 of MNIST's).

    Per episode: ``num_classes`` distinct classes drawn from ``seed``, relabelled
    ``0..k-1`` in ascending order (as :func:`subset_classes`), then ``length``
    of their examples without replacement. Indexes the dataset instead of
    copying it. Returns ``x [P, T, D]`` and ``y [P, T]`` with labels ``< num_classes``;
    with ``return_classes`` also ``classes [P, num_classes]``, each episode's original
    class of every new label (``classes[p, y[p, t]]`` is example ``t``'s own class).
    """
    _positive(num_episodes=num_episodes, length=length, num_classes=num_classes)
    if num_classes > dataset.num_classes:
        raise ValueError(f"num_classes={num_classes} > the {dataset.num_classes} classes of {dataset.name}")
    g = generator(seed)
    index = torch.empty(num_episodes, length, dtype=torch.long)
    labels = torch.empty(num_episodes, length, dtype=torch.long)
    drawn = torch.empty(num_episodes, num_classes, dtype=torch.long)
    for p in range(num_episodes):
        classes = drawn[p] = torch.randperm(dataset.num_classes, generator=g)[:num_classes].sort().values
        relabel = torch.full((dataset.num_classes,), -1, dtype=torch.long)
        relabel[classes] = torch.arange(num_classes)
        pool = torch.nonzero(relabel[dataset.y] >= 0).flatten()
        if length > len(pool):
            raise ValueError(f"length {length} exceeds the {len(pool):,} examples of classes {classes.tolist()} "
                             f"of {dataset.name}/{dataset.split} (episodes draw without replacement)")
        index[p] = pool[torch.randperm(len(pool), generator=g)[:length]]
        labels[p] = relabel[dataset.y[index[p]]]
    x = model_inputs(dataset, index, standardize, image_size)
    if return_classes:
        return x.to(device), labels.to(device), drawn.to(device)
    return x.to(device), labels.to(device)


def random_task(num_episodes: int, length: int, seed=0, *, num_examples: int = 20, num_classes: int = 10,
                image_shape=(1, 28, 28), device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The "Random" dataset (Section 4.4): per task, ``num_examples`` (20) inputs from
    N(0, 1) of ``image_shape`` (28x28) with uniform labels from ``num_classes`` (10).

    An episode shows the task's examples in shuffled passes (every example once per
    pass of 20 steps, a new order each pass) until ``length`` steps are filled.
    Returns ``x`` ``[P, T, D]`` (already zero-mean unit-variance) and ``y`` ``[P, T]``.
    """
    _positive(num_episodes=num_episodes, length=length, num_examples=num_examples, num_classes=num_classes)
    g = generator(seed)
    dim = math.prod(image_shape)
    points = torch.randn(num_episodes, num_examples, dim, generator=g)
    labels = torch.randint(0, num_classes, (num_episodes, num_examples), generator=g)
    passes = -(-length // num_examples)
    order = torch.rand(num_episodes, passes, num_examples, generator=g).argsort(-1)
    order = order.reshape(num_episodes, -1)[:, :length]
    x = points.gather(1, order[..., None].expand(-1, -1, dim))
    return x.to(device), labels.gather(1, order).to(device)


def _truncated_normal(shape, bound: float, g: torch.Generator) -> torch.Tensor:
    """N(0, 1) restricted to [-bound, bound], by inverting the CDF of a clipped uniform."""
    lo = 0.5 * (1 + math.erf(-bound / math.sqrt(2)))
    u = lo + (1 - 2 * lo) * torch.rand(shape, generator=g, dtype=torch.float64)
    return torch.special.ndtri(u).float()


def sum_sign(num_episodes: int, length: int, seed=0, *, dim: int = 784, bound: float = 2.0,
             device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The "Sum Sign" task (Section 4.4): label = [sum(x) >= 0], 2 classes.

    Every example draws its own mean ``m ~ U(-1, 1)`` and ``x = m + z`` with ``z`` a
    ``dim``-dimensional standard normal truncated to ``[-bound, bound]``, so the label is
    mostly the sign of ``m``, seen through noise. Returns ``x`` ``[P, T, dim]``, ``y`` ``[P, T]``.
    """
    _positive(num_episodes=num_episodes, length=length, dim=dim)
    if not bound > 0:
        raise ValueError(f"bound must be positive, got {bound}")
    g = generator(seed)
    mean = torch.rand(num_episodes, length, 1, generator=g) * 2 - 1
    x = mean + _truncated_normal((num_episodes, length, dim), bound, g)
    y = (x.sum(-1) >= 0).long()
    return x.to(device), y.to(device)


class FewShotEpisodes(NamedTuple):
    """``x`` ``[P, n*k+1, D]``, ``y`` ``[P, n*k+1]`` and ``loss_mask`` (True only at the query)."""

    x: torch.Tensor
    y: torch.Tensor
    loss_mask: torch.Tensor


def class_index(dataset: Dataset) -> list[torch.Tensor]:
    """The example indices of each class of ``dataset`` (``[by_class[c] for c in classes]``)."""
    return [torch.nonzero(dataset.y == c).flatten() for c in range(dataset.num_classes)]


def few_shot_episodes(dataset: Dataset, num_episodes: int, n_way: int = 5, k_shot: int = 1, seed=0, *,
                      standardize: bool = True, image_size=None, device=None,
                      by_class: list[torch.Tensor] | None = None) -> FewShotEpisodes:
    """N-way K-shot episodes as in the paper's Omniglot experiment (Appendix B.2).

    Per episode: ``n_way`` random classes, relabelled 0..n-1 in random order; ``k_shot``
    labelled examples of each, shuffled; then one query, a new example of one of those
    classes. The loss counts only the query (``loss_mask[:, -1]``). Use the background
    alphabets (``split="train"``) for meta-training and the evaluation alphabets
    (``split="test"``) for meta-testing. ``by_class`` (:func:`class_index`) saves
    recomputing the class index when many episodes are drawn one seed at a time.
    """
    _positive(num_episodes=num_episodes, n_way=n_way, k_shot=k_shot)
    by_class = class_index(dataset) if by_class is None else by_class
    eligible = torch.tensor([c for c, idx in enumerate(by_class) if len(idx) >= k_shot + 1])
    if n_way > len(eligible):
        raise ValueError(f"n_way={n_way} needs {n_way} classes with at least k_shot+1={k_shot + 1} examples; "
                         f"{dataset.name}/{dataset.split} has {len(eligible)} (of {dataset.num_classes} classes)")
    g = generator(seed)
    steps = n_way * k_shot + 1
    index = torch.empty(num_episodes, steps, dtype=torch.long)
    labels = torch.empty(num_episodes, steps, dtype=torch.long)
    for p in range(num_episodes):
        classes = eligible[torch.randperm(len(eligible), generator=g)[:n_way]]
        picks = [by_class[c][torch.randperm(len(by_class[c]), generator=g)[:k_shot + 1]] for c in classes.tolist()]
        support = torch.cat([pick[:k_shot] for pick in picks])
        support_labels = torch.arange(n_way).repeat_interleave(k_shot)
        order = torch.randperm(len(support), generator=g)
        query = int(torch.randint(n_way, (1,), generator=g))
        index[p, :-1], labels[p, :-1] = support[order], support_labels[order]
        index[p, -1], labels[p, -1] = picks[query][k_shot], query
    loss_mask = torch.zeros(num_episodes, steps, dtype=torch.bool)
    loss_mask[:, -1] = True
    x = model_inputs(dataset, index, standardize, image_size)
    return FewShotEpisodes(x.to(device), labels.to(device), loss_mask.to(device))


# --------------------------------------------------------------------------- augmentations

def _episodes(x: torch.Tensor) -> torch.Tensor:
    """View ``[T, D]`` as one episode ``[1, T, D]``; ``[P, T, D]`` stays."""
    if x.dim() == 2:
        return x[None]
    if x.dim() != 3:
        raise ValueError(f"expected [P, T, D] or [T, D], got shape {tuple(x.shape)}")
    return x


def glorot_projections(num: int, dim: int, seed=0, *, out_dim: int | None = None) -> torch.Tensor:
    """``num`` matrices ``[dim, out_dim]`` with entries U(-a, a), a = sqrt(6 / (dim + out_dim))."""
    _positive(num=num, dim=dim)
    out_dim = dim if out_dim is None else out_dim
    limit = math.sqrt(6.0 / (dim + out_dim))
    return (torch.rand(num, dim, out_dim, generator=generator(seed)) * 2 - 1) * limit


def random_projection(x: torch.Tensor, seed=0) -> torch.Tensor:
    """Project every episode's inputs with its own fixed Glorot-uniform ``D x D`` matrix
    (Section 4.3): ``x[p, t] @ W_p``; ``W_p`` is the same for all ``t`` of episode ``p``."""
    xs = _episodes(x)
    weights = glorot_projections(xs.shape[0], xs.shape[-1], seed).to(xs.device, xs.dtype)
    return torch.bmm(xs, weights).reshape(x.shape)


def permute_pixels(x: torch.Tensor, seed=0) -> torch.Tensor:
    """Shuffle the input dimensions with one fixed permutation per episode."""
    xs = _episodes(x)
    perm = torch.rand(xs.shape[0], xs.shape[-1], generator=generator(seed)).argsort(-1).to(xs.device)
    return xs.gather(-1, perm[:, None, :].expand_as(xs)).reshape(x.shape)


def permute_labels(y: torch.Tensor, num_classes: int, seed=0) -> torch.Tensor:
    """Rename the classes with one fixed random bijection per episode (``y`` ``[P, T]`` or ``[T]``)."""
    _positive(num_classes=num_classes)
    ys = y[None] if y.dim() == 1 else y
    if ys.dim() != 2:
        raise ValueError(f"expected y [P, T] or [T], got shape {tuple(y.shape)}")
    if ys.numel() and (ys.min() < 0 or ys.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    perm = torch.rand(ys.shape[0], num_classes, generator=generator(seed)).argsort(-1).to(ys.device)
    return perm.gather(1, ys).reshape(y.shape)


def subset_classes(dataset: Dataset, num_classes: int | None = None, seed=0, *, classes=None) -> Dataset:
    """Keep only some classes and relabel them 0..k-1 in ascending order (Section 4.3 uses
    3, 4, 6 and 7 of MNIST's classes). Give ``classes`` explicitly or draw ``num_classes``
    of them at random from ``seed``."""
    if classes is None:
        if num_classes is None:
            raise ValueError("give num_classes or classes")
        _positive(num_classes=num_classes)
        if num_classes > dataset.num_classes:
            raise ValueError(f"num_classes={num_classes} > the {dataset.num_classes} classes of {dataset.name}")
        classes = torch.randperm(dataset.num_classes, generator=generator(seed))[:num_classes]
    classes = sorted(int(c) for c in classes)
    if not classes or len(set(classes)) != len(classes) or classes[0] < 0 or classes[-1] >= dataset.num_classes:
        raise ValueError(f"classes must be distinct labels in 0..{dataset.num_classes - 1}, got {classes}")
    relabel = torch.full((dataset.num_classes,), -1, dtype=torch.long)
    relabel[classes] = torch.arange(len(classes))
    keep = relabel[dataset.y] >= 0
    names = [dataset.classes[c] for c in classes] if dataset.classes else None
    note = f"classes {classes} relabelled 0..{len(classes) - 1}"
    return Dataset(dataset.name, dataset.split, dataset.x[keep], relabel[dataset.y[keep]], len(classes),
                   dataset.source, dataset.partial, f"{dataset.note}; {note}" if dataset.note else note,
                   names, dataset.is_standardized)


def resize_images(images: torch.Tensor, size, mode: str = "auto") -> torch.Tensor:
    """Resize images ``[..., C, H, W]`` to ``size`` (int or (h, w)) with ``F.interpolate``.

    ``mode="auto"`` averages areas when shrinking (28 -> 14 or 7) and interpolates
    bilinearly when growing (28 -> 32), as for the Section 4.3 size variations.
    """
    if images.dim() < 3:
        raise ValueError(f"expected images [..., C, H, W], got shape {tuple(images.shape)}")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    _positive(height=h, width=w)
    if mode == "auto":
        mode = "area" if h <= images.shape[-2] and w <= images.shape[-1] else "bilinear"
    flat = images.reshape(-1, *images.shape[-3:])
    extra = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(flat, size=(h, w), mode=mode, **extra)
    return out.reshape(*images.shape[:-2], h, w)
