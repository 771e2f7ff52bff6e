"""Meta-training on a mixture of tasks (Sections 4.3-4.4, Figure 8: "meta training is on subsets of datasets").

``MetaConfig.tasks`` lists the tasks of the meta-training distribution, each
with a weight; every episode draws one task from its own seed, then its
data. A task is a dataset of :mod:`vsml.data` (optionally restricted to a
random subset of its classes per episode, as Section 4.3's 3, 4, 6 and 7-class
MNIST) or one of the synthetic tasks of :mod:`vsml.tasks`, ``random`` (20
points with random labels, new per episode) and ``sum_sign``. For example::

    tasks:
      - {dataset: mnist, weight: 2}
      - {dataset: fashion_mnist, classes: [3, 4, 6, 7]}
      - {dataset: random}

Every episode of a meta-batch has the same shape, as the meta-learners
need: images are resized to ``MetaConfig.resize`` (all tasks share it),
inputs of smaller tasks are zero-padded to the largest (the authors pad
inputs across datasets, Appendix C.2), and the model gets as many outputs as
the task with the most classes (fewer classes leave outputs unused).
Size variation across episodes (Section 4.3's 14x14 / 28x28 / 32x32) is not
covered here: it needs a model built per size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import tasks
from .config import ConfigMixin, coerce_fields

SYNTHETIC = {"random": 10, "sum_sign": 2}  # name -> number of classes


@dataclass(frozen=True)
class TaskSpec(ConfigMixin):
    """One entry of ``MetaConfig.tasks``."""

    dataset: str                              # a vsml.data name, "random" or "sum_sign"
    weight: float = 1.0                       # relative probability of the task
    classes: tuple[int, ...] | None = None    # class-subset sizes, one drawn per episode (None: all classes)

    def __post_init__(self):
        coerce_fields(self)
        from .data import NAMES
        if self.dataset not in NAMES and self.dataset not in SYNTHETIC:
            raise ValueError(f"task dataset must be one of {(*NAMES, *SYNTHETIC)}, got {self.dataset!r}")
        if not self.weight > 0:
            raise ValueError(f"task weight must be > 0, got {self.weight}")
        if self.classes is not None:
            if self.dataset in SYNTHETIC:
                raise ValueError(f"classes (a class subset) applies to datasets, not to {self.dataset!r}")
            if not self.classes or min(self.classes) < 2:
                raise ValueError(f"classes must list subset sizes >= 2, got {list(self.classes)}")


def task_specs(values) -> tuple[TaskSpec, ...]:
    """``MetaConfig.tasks`` (a non-empty list of mappings) as specs; one-line errors otherwise."""
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"tasks must be a non-empty list of {{dataset: ..., weight: ...}} mappings, got {values!r}")
    specs = []
    for i, value in enumerate(values):
        if isinstance(value, TaskSpec):
            specs.append(value)
            continue
        try:
            specs.append(TaskSpec.from_dict(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"tasks[{i}]: {exc}") from None
    return tuple(specs)


class TaskMixture:
    """The episodes of a task mixture; stands in for a dataset in meta-training (:mod:`vsml.meta.episodes`).

    ``datasets`` (name -> :class:`vsml.data.Dataset`) replaces loading by name,
    e.g. for tests. ``num_classes`` and ``num_features`` are the largest over the tasks.
    """

    def __init__(self, specs, split: str = "train", image_size: int | None = None, datasets=None):
        self.specs, self.split, self.image_size = task_specs(specs), split, image_size
        given = dict(datasets or {})
        self.datasets = {}
        for spec in self.specs:
            if spec.dataset not in SYNTHETIC and spec.dataset not in self.datasets:
                if spec.dataset not in given:
                    from .data import load
                    given[spec.dataset] = load(spec.dataset, split)
                self.datasets[spec.dataset] = given[spec.dataset]
        for spec in self.specs:
            if spec.classes and max(spec.classes) > self.datasets[spec.dataset].num_classes:
                raise ValueError(f"task {spec.dataset}: class subsets {list(spec.classes)} exceed its "
                                 f"{self.datasets[spec.dataset].num_classes} classes")
        features = [tasks.online_episodes(d, 1, 1, 0, image_size=image_size)[0].shape[-1]
                    for d in self.datasets.values()]
        side = image_size or 28
        self.num_features = max(features, default=side * side)
        self.num_classes = max(SYNTHETIC[s.dataset] if s.dataset in SYNTHETIC else
                               max(s.classes or [self.datasets[s.dataset].num_classes]) for s in self.specs)
        weights = torch.tensor([s.weight for s in self.specs], dtype=torch.float64)
        self.probabilities = weights / weights.sum()
        self.name = "+".join(dict.fromkeys(s.dataset for s in self.specs))

    def info(self) -> dict:
        """What a run used (for its provenance)."""
        return {"name": self.name, "split": self.split, "tasks": [s.to_dict() for s in self.specs],
                "sources": {n: d.source for n, d in self.datasets.items()},
                "partial": any(bool(d.partial) for d in self.datasets.values()),
                "num_features": self.num_features, "num_classes": self.num_classes}

    def draw(self, seed) -> tuple[TaskSpec, int | None]:
        """The task of the episode with this seed, and its class-subset size (``None``: all classes)."""
        return self._draw(tasks.generator(seed))

    def _draw(self, g: torch.Generator) -> tuple[TaskSpec, int | None]:
        spec = self.specs[int(torch.multinomial(self.probabilities, 1, generator=g))]
        k = None if not spec.classes else spec.classes[int(torch.randint(len(spec.classes), (1,), generator=g))]
        return spec, k

    def episode(self, seed, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One episode ``x [1, T, num_features]``, ``y [1, T]`` from its seed: the task of
        :meth:`draw` (same seed), then its data."""
        g = tasks.generator(seed)
        spec, k = self._draw(g)
        data_seed = int(torch.randint(2 ** 62, (1,), generator=g))
        D = self.num_features
        if spec.dataset == "random":
            x, y = tasks.random_task(1, length, data_seed, image_shape=(D,))
        elif spec.dataset == "sum_sign":
            x, y = tasks.sum_sign(1, length, data_seed, dim=D)
        else:
            dataset = self.datasets[spec.dataset]
            if k is None:
                x, y = tasks.online_episodes(dataset, 1, length, data_seed, image_size=self.image_size)
            else:
                x, y = tasks.class_subset_episodes(dataset, 1, length, k, data_seed, image_size=self.image_size)
            x = F.pad(x, (0, D - x.shape[-1]))
        return x, y

    def episode_segment(self, seed, length: int, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Examples ``start:stop`` of :meth:`episode` (long-horizon training reads episodes a segment at a time).

        The whole episode is drawn and kept for the next segment of the same
        episode (one per pool slot), so a 2,000-example episode is built once.
        """
        if not 0 <= start < stop <= length:
            raise ValueError(f"need 0 <= start < stop <= length, got start={start}, stop={stop}, length={length}")
        key = (seed, length)
        cache = self.__dict__.setdefault("_segment_cache", {})
        if key not in cache:
            if len(cache) >= 64:  # more than the slots of one pool: drop the oldest episode
                cache.pop(next(iter(cache)))
            cache[key] = self.episode(seed, length)
        x, y = cache[key]
        return x[:, start:stop], y[:, start:stop]
