"""Meta-training episodes and their seeds (Algorithm 1's task distribution, Section 4.2).

Paper: Section 4.2 (online episodes: one example at a time, batch size 1),
Section 4.3 (random projections as augmentation) and Appendix B.2 (segments of
long episodes). Each episode depends only on its own seed, so any split of
the episodes over processes, and any resume, sees the same data.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .config import MetaConfig


def derive_seed(*keys) -> int:
    """A 63-bit seed from ``(seed, step, purpose, index, ...)``: independent streams, no shared state."""
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2 ** 63 - 1)


def load_dataset(config: MetaConfig, split: str):
    """``config.dataset``'s split, by name (:func:`vsml.data.load`, from ``config.data_source`` if set), or the
    mixture of ``config.tasks``."""
    from .. import data
    if config.tasks is not None:
        from ..task_mixture import TaskMixture
        return TaskMixture(config.tasks, split, config.resize)
    return data.load(config.dataset, split, source=config.data_source)


def dataset_info(dataset) -> dict:
    """What a run actually used (never relabel one dataset as another)."""
    from ..task_mixture import TaskMixture
    if isinstance(dataset, TaskMixture):
        return dataset.info()
    return {"name": getattr(dataset, "name", "?"), "split": getattr(dataset, "split", "?"),
            "source": getattr(dataset, "source", "?"), "partial": bool(getattr(dataset, "partial", False)),
            "note": getattr(dataset, "note", ""), "num_examples": int(len(dataset.y))}


def make_episodes(config: MetaConfig, dataset, seeds: list[int], length: int, device=None):
    """One online episode per seed (Section 4.2), standardised, resized and optionally projected.

    Each episode depends only on its seed, so any split of the episodes over
    processes sees the same data. Returns ``x [n, T, D]``, ``y [n, T]``.
    """
    from .. import tasks
    from ..task_mixture import TaskMixture
    xs, ys = [], []
    for s in seeds:
        if isinstance(dataset, TaskMixture):  # it draws the episode's task, then its data
            x, y = dataset.episode(derive_seed(s, "data"), length)
        else:
            x, y = tasks.online_episodes(dataset, 1, length, seed=derive_seed(s, "data"), image_size=config.resize)
        if config.random_projection:
            x = tasks.random_projection(x, seed=derive_seed(s, "projection"))
        xs.append(x)
        ys.append(y)
    return torch.cat(xs).to(device), torch.cat(ys).to(device)


def make_few_shot_episodes(config: MetaConfig, dataset, seeds: list[int], device=None, by_class=None):
    """One N-way K-shot episode per seed (Appendix B.2, Omniglot; :func:`vsml.tasks.few_shot_episodes`).

    Like :func:`make_episodes`, each episode depends only on its seed. Returns
    ``x [n, T, D]``, ``y [n, T]`` (labels ``0..n_way-1``) and the loss mask
    ``[T]`` shared by all episodes: only the query, the last step, is scored.
    """
    from .. import tasks
    by_class = tasks.class_index(dataset) if by_class is None else by_class
    xs, ys, mask = [], [], None
    for s in seeds:
        ep = tasks.few_shot_episodes(dataset, 1, config.n_way, config.k_shot, seed=derive_seed(s, "data"),
                                     image_size=config.resize, by_class=by_class)
        x = ep.x
        if config.random_projection:
            x = tasks.random_projection(x, seed=derive_seed(s, "projection"))
        xs.append(x)
        ys.append(ep.y)
        mask = ep.loss_mask[0]
    return torch.cat(xs).to(device), torch.cat(ys).to(device), mask.to(device)


def scored(values: torch.Tensor, loss_mask: torch.Tensor | None) -> torch.Tensor:
    """The steps of ``values [n, T]`` that count for the meta-loss and accuracy: all (``None``) or ``loss_mask [T]``."""
    return values if loss_mask is None else values[:, loss_mask]


def make_episode_segment(config: MetaConfig, dataset, seed: int, length: int, start: int, stop: int, device=None):
    """Examples ``start:stop`` of ``make_episodes(config, dataset, [seed], length)`` (same data, same projection)."""
    from .. import tasks
    from ..task_mixture import TaskMixture
    if isinstance(dataset, TaskMixture):
        x, y = dataset.episode_segment(derive_seed(seed, "data"), length, start, stop)
    else:
        x, y = tasks.online_episode_segment(dataset, length, start, stop, seed=derive_seed(seed, "data"),
                                            image_size=config.resize)
    if config.random_projection:
        x = tasks.random_projection(x, seed=derive_seed(seed, "projection"))
    return x.to(device), y.to(device)


class PreparedInputs:
    """A dataset's model inputs computed once and kept on the device, for fast episode draws.

    ``make_episodes`` standardises and resizes every drawn image again on the CPU and
    copies the episode to the device: for the paper's ES generation (1,024 episodes of 500
    28x28 images) that is 1.6 GB built and copied per generation, and at 7x7 it costs ten
    times the GPU work (both measured with the profiler on an H100). This keeps
    ``tasks.model_inputs`` of every image (``[N, D]``, 188 MB for MNIST at 28x28) and the labels
    on the device and gathers episodes there. The draws are the same as ``make_episodes``'
    (one ``randperm`` per episode seed, drawn in a thread pool), so the episodes are equal.
    Only plain datasets without random projections take this path (:meth:`applies`).
    """

    def __init__(self, config: MetaConfig, dataset, device=None, chunk: int = 4096):
        from .. import tasks
        self.config, self.dataset = config, dataset
        n = len(dataset.y)
        parts = [tasks.model_inputs(dataset, torch.arange(i, min(i + chunk, n)), True, config.resize)
                 for i in range(0, n, chunk)]
        self.x = torch.cat(parts).to(device)
        self.y = dataset.y.to(device)

    @staticmethod
    def applies(config: MetaConfig, dataset) -> bool:
        from ..task_mixture import TaskMixture
        return not isinstance(dataset, TaskMixture) and not config.random_projection

    def episodes(self, seeds: list[int], length: int):
        """``make_episodes(config, dataset, seeds, length, device)``, gathered on the device."""
        from .. import tasks

        def draw(seed):
            return tasks.episode_index(self.dataset, length, derive_seed(seed, "data"))

        if len(seeds) > 8:  # randperm releases the GIL: 1,024 draws of 60,000 take 0.2 s on one core
            with ThreadPoolExecutor(max_workers=min(8, torch.get_num_threads() or 1)) as pool:
                rows = list(pool.map(draw, seeds))
        else:
            rows = [draw(s) for s in seeds]
        index = torch.stack(rows).to(self.x.device, non_blocking=True)
        return self.x[index], self.y[index]
