"""Meta-testing learners on datasets they were not meta-trained on (paper Section 4.4, Figures 8, 12, 13).

Figure 8 meta-tests VSML and five baselines on MNIST, Fashion-MNIST,
KMNIST, EMNIST, Random and Sum Sign and reads the cumulative accuracy after
2,000 examples (Figure 13: after 100; Figure 12: the whole curves), with the
tasks "not seen during meta training" marked as the ones that matter. The
paper's claim: "VSML generalizes much better than Meta RNNs, Hebbian fast
weights, and the external memory", and learns "a little more sample
efficient in the beginning" than SGD.

This module holds the two registries and the protocol:

* :data:`TASKS`: every meta-test task by name, a dataset of :mod:`vsml.data`
  (its test split; scikit-learn's ``digits``, which has no official split,
  both splits) or a synthetic task of :mod:`vsml.tasks` (``random``,
  ``sum_sign``), built at one input size so that the fixed-size baselines can
  take them all. :meth:`Task.availability` says whether it can run here, so a
  missing dataset becomes a visible "not run" row, never a silent gap.
* :data:`LEARNERS`: VSML, the three meta-learned baselines of Appendix C.2
  (Meta RNN, HebbianFW, FWMemory) and online SGD with one layer and with a
  hidden layer holding as many weights as VSML has state dimensions in V_L.
* :func:`meta_test_learner`: one learner on one batch of episodes.
  Learners with a fixed number of inputs and outputs (the meta-learned
  baselines) get their inputs zero-padded ("Inputs are padded to be equal
  size", Appendix C.2) and are scored on the task's classes only (the
  logits of unused outputs are dropped before the argmax); VSML and SGD are
  built at the task's size.
* :func:`compare`: the paired difference of two learners' cumulative accuracy
  on the same episodes, and the verdict rules of the chapter (on the means,
  as the reproduction report reads them, with the standard error beside).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch

from . import data, tasks
from . import horizon as horizon_lib
from .baselines import online_sgd
from .evaluate import FAST_WEIGHT_MODELS, meta_test
from .metarnn import metarnn_episode
from .online import online_metrics

PAPER_NUM_RUNS = 32              # meta-test runs per bar (Figures 8, 13)
PAPER_HORIZONS = (100, 2000)     # Figure 13 and Figure 8
FIXED_SIZE_METHODS = ("metarnn", "hebbian", "fwmemory")


# --------------------------------------------------------------------------- tasks

@dataclass(frozen=True)
class Task:
    """One meta-test task. ``source`` is ``"dataset"`` (``name`` is a :mod:`vsml.data` name),
    ``"random"`` or ``"sum_sign"``; ``in_paper``: one of Figure 8's tasks."""

    name: str
    label: str
    source: str
    num_classes: int
    in_paper: bool = True

    def __post_init__(self):
        if self.source not in ("dataset", "random", "sum_sign"):
            raise ValueError(f"task source must be 'dataset', 'random' or 'sum_sign', got {self.source!r}")
        if self.num_classes < 2:
            raise ValueError(f"a task needs >= 2 classes, got {self.num_classes}")

    def availability(self, data_dir=None) -> tuple[bool, str]:
        """``(True, where from)`` when the task can run on this machine, else ``(False, why not)``."""
        if self.source != "dataset":
            return True, f"synthetic ({self.source}, vsml.tasks)"
        return data.available(self.name, data_dir=data_dir)

    def dataset(self, data_dir=None) -> data.Dataset:
        """The examples meta-testing draws from: the test split, or all of ``digits`` (no official split)."""
        if self.source != "dataset":
            raise ValueError(f"task {self.name!r} is synthetic and has no dataset")
        test = data.load(self.name, "test", data_dir=data_dir)
        if self.name != "digits":
            return test
        train = data.load(self.name, "train", data_dir=data_dir)
        note = "both splits (no official split; never used in meta-training)"
        return data.Dataset(test.name, "train+test", torch.cat([train.x, test.x]), torch.cat([train.y, test.y]),
                            test.num_classes, test.source, test.partial, f"{test.note}; {note}",
                            test.classes, test.is_standardized)

    def episodes(self, num_runs: int, length: int, seed: int = 0, *, image_size: int = 7,
                 dataset: data.Dataset | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``num_runs`` online episodes ``x [P, T, image_size**2]``, ``y [P, T]``.

        Datasets are standardised and resized to ``image_size`` (as in meta-training);
        Random draws its 20 points at ``image_size`` x ``image_size``, Sum Sign sums
        ``image_size**2`` inputs. ``T`` is ``length``, or the dataset's size when it
        has fewer examples (episodes draw without replacement): see :meth:`horizon`.
        """
        if self.source == "random":
            return tasks.random_task(num_runs, length, seed, num_classes=self.num_classes,
                                     image_shape=(1, image_size, image_size))
        if self.source == "sum_sign":
            return tasks.sum_sign(num_runs, length, seed, dim=image_size * image_size)
        ds = self.dataset() if dataset is None else dataset
        return tasks.online_episodes(ds, num_runs, min(length, len(ds)), seed, image_size=image_size)

    def horizon(self, length: int, dataset: data.Dataset | None = None) -> int:
        """The episode length :meth:`episodes` gives for ``length`` (capped by a dataset's size)."""
        if self.source != "dataset":
            return length
        return min(length, len(self.dataset() if dataset is None else dataset))


TASKS = {t.name: t for t in (
    Task("mnist", "MNIST", "dataset", len(data.CLASSES["mnist"])),
    Task("fashion_mnist", "Fashion-MNIST", "dataset", len(data.CLASSES["fashion_mnist"])),
    Task("kmnist", "KMNIST", "dataset", len(data.CLASSES["kmnist"])),
    Task("emnist", "EMNIST", "dataset", len(data.CLASSES["emnist"])),
    Task("random", "Random", "random", 10),
    Task("sum_sign", "Sum Sign", "sum_sign", 2),
    Task("digits", "sklearn digits", "dataset", len(data.CLASSES["digits"]), in_paper=False),
)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


# --------------------------------------------------------------------------- learners

@dataclass(frozen=True)
class Learner:
    """A learner of Figure 8. ``method``: ``vsml``, ``vsml_conv`` (Figure 20), ``metarnn``, ``hebbian``, ``fwmemory`` (need
    ``pretrained``, a shipped name) or ``sgd``; ``hidden``: for ``sgd``, ``None`` (one layer) or
    ``"V_L"`` (one tanh hidden layer with as many weights as VSML's V_L has state dimensions);
    ``lr``: for ``sgd``, the learning rate (``None``: the paper's tuned 1e-2)."""

    name: str
    method: str
    pretrained: str | None = None
    hidden: str | None = None
    lr: float | None = None

    def __post_init__(self):
        if self.method not in ("vsml", "vsml_conv", "sgd", *FIXED_SIZE_METHODS):
            raise ValueError(f"learner method must be vsml, vsml_conv, sgd or one of {FIXED_SIZE_METHODS}, "
                             f"got {self.method!r}")
        if (self.method == "sgd") == (self.pretrained is not None):
            raise ValueError("meta-learned learners need `pretrained`, SGD must not have it")
        if self.hidden not in (None, "V_L"):
            raise ValueError(f"hidden must be None or 'V_L', got {self.hidden!r}")
        if self.lr is not None and (self.method != "sgd" or not self.lr > 0):
            raise ValueError(f"lr applies to sgd learners and must be > 0, got {self.lr!r} for {self.method}")


LEARNERS = {l.name: l for l in (
    Learner("VSML", "vsml", "mnist_bptt_long"),
    Learner("Meta RNN", "metarnn", "mnist_metarnn_bptt"),
    Learner("HebbianFW", "hebbian", "mnist_hebbian_bptt"),
    Learner("FWMemory", "fwmemory", "mnist_fwmemory_bptt"),
    Learner("SGD", "sgd"),
    Learner("SGD, hidden |V_L|", "sgd", hidden="V_L"),
)}
META_LEARNED_RIVALS = ("Meta RNN", "HebbianFW", "FWMemory")   # Figure 8's claim: VSML above these
SGD_LEARNERS = ("SGD", "SGD, hidden |V_L|")                   # Figure 13's claim: VSML at or above these


def seen_tasks(provenance: dict) -> tuple[str, ...]:
    """The task names a meta-learned learner saw in meta-training (its export's config:
    ``dataset``, or the ``tasks`` of a mixture, :mod:`vsml.task_mixture`)."""
    cfg = provenance.get("config", {})
    if cfg.get("tasks"):
        return tuple(dict.fromkeys(t["dataset"] if isinstance(t, dict) else t.dataset for t in cfg["tasks"]))
    if "dataset" not in cfg and isinstance(provenance.get("dataset"), str):  # a cloning export: its shadow data
        return (provenance["dataset"],)
    if "dataset" not in cfg:
        raise ValueError(f"provenance of {provenance.get('name', '?')!r} names no meta-training dataset or tasks")
    return (cfg["dataset"],)


def vl_matched_hidden_size(input_size: int, num_classes: int, state_size: int = 16) -> int:
    """Hidden units ``h`` with ``h * (input_size + num_classes)`` weights closest to VSML's
    ``|V_L| = input_size * num_classes * state_size`` (the paper's 160 at 784 x 10)."""
    for key, value in (("input_size", input_size), ("num_classes", num_classes), ("state_size", state_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int, got {value!r}")
    return max(1, round(input_size * num_classes * state_size / (input_size + num_classes)))


def fixed_sizes(provenance: dict) -> tuple[int, int]:
    """``(inputs, outputs)`` a fixed-size baseline was meta-trained with (its export's ``model_config``)."""
    cfg = provenance.get("model_config", {})
    if "input_size" not in cfg or "num_classes" not in cfg:
        raise ValueError(f"provenance of {provenance.get('name', '?')!r} has no model_config input_size/num_classes")
    return int(cfg["input_size"]), int(cfg["num_classes"])


def applicable(learner: Learner, provenance: dict | None, input_size: int, num_classes: int) -> tuple[bool, str]:
    """Whether ``learner`` can take a task of this size, and why not (fixed-size baselines only)."""
    if learner.method not in FIXED_SIZE_METHODS:
        return True, ""
    d, c = fixed_sizes(provenance)
    if input_size > d:
        return False, f"{d} inputs < {input_size}"
    if num_classes > c:
        return False, f"{c} outputs < {num_classes} classes"
    return True, ""


def meta_test_learner(learner: Learner, x: torch.Tensor, y: torch.Tensor, num_classes: int, *,
                      params: dict | None = None, provenance: dict | None = None,
                      seed: int = 0) -> dict[str, torch.Tensor]:
    """Run ``learner`` on episodes ``x [P, T, D]``, ``y [P, T]`` (one run per episode) and score it.

    Meta-learned learners need their ``params`` and export ``provenance``
    (:func:`vsml.meta.load_pretrained`). Fixed-size baselines get ``x`` zero-padded
    to their input size and are scored on the first ``num_classes`` logits.
    Returns :func:`vsml.evaluate.meta_test`'s dict (``correct``, ``loss``, ``cum_acc``
    ``[P, T]``, ``seconds``).
    """
    D = x.shape[-1]
    if learner.method == "sgd":
        hidden = None
        if learner.hidden == "V_L":
            hidden = vl_matched_hidden_size(D, num_classes)
        t0 = time.perf_counter()
        res = online_sgd(x, y, num_classes, hidden_size=hidden, optimizer="sgd", seed=seed, lr=learner.lr)
        out = online_metrics(res["logits"], y)
        out["seconds"] = torch.tensor(time.perf_counter() - t0)
        return out
    if params is None or provenance is None:
        raise ValueError(f"learner {learner.name!r} needs params and provenance (vsml.meta.load_pretrained)")
    if learner.method == "vsml":
        from .network import VSMLConfig
        cfg = VSMLConfig.from_dict(provenance["model_config"])
        return meta_test("vsml", x, y, num_classes, params=params, vsml_config=cfg, seed=seed)
    if learner.method == "vsml_conv":  # Appendix B.2: the conv layer, then dense; any square input size
        return meta_test("vsml_conv", x, y, num_classes, params=params, vsml_config=provenance["model_config"],
                         seed=seed)
    ok, why = applicable(learner, provenance, D, num_classes)
    if not ok:
        raise ValueError(f"{learner.name} cannot take this task: {why}")
    d, c = fixed_sizes(provenance)
    if D < d:  # Appendix C.2: inputs padded to equal size
        x = torch.nn.functional.pad(x, (0, d - D))
    t0 = time.perf_counter()
    with torch.inference_mode():
        if learner.method == "metarnn":
            logits = metarnn_episode(params, x, y)["logits"]
        else:
            config_class, episode = FAST_WEIGHT_MODELS[learner.method]
            cfg = config_class.from_dict({k: v for k, v in provenance["model_config"].items()
                                          if k not in ("input_size", "num_classes")})
            logits = episode(params, x, y, cfg)["logits"]
    # Unused outputs never count: score the argmax over the task's classes only.
    out = online_metrics(logits[..., :num_classes], y)
    out["seconds"] = torch.tensor(time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- comparisons

@dataclass(frozen=True)
class Difference:
    """Paired difference ``a - b`` of cumulative accuracy (percentage points) after ``horizon`` examples."""

    horizon: int
    mean: float
    standard_error: float

    @property
    def above(self) -> bool:
        """Figure 8's rule: the mean of ``a`` is above ``b``'s."""
        return self.mean > 0

    @property
    def at_or_above(self) -> bool:
        """Figure 13's rule: the mean of ``a`` is at or above ``b``'s."""
        return self.mean >= 0

    @property
    def significant(self) -> bool:
        """The means differ by more than two standard errors of the paired difference."""
        return abs(self.mean) > 2 * self.standard_error


def compare(cum_acc_a: torch.Tensor, cum_acc_b: torch.Tensor, horizon: int) -> Difference:
    """Paired difference of two learners' cumulative accuracies ``[P, T]`` on the same episodes."""
    a, b = torch.as_tensor(cum_acc_a).float(), torch.as_tensor(cum_acc_b).float()
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"need two [P, T] curves of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if not 1 <= horizon <= a.shape[1]:
        raise ValueError(f"horizon {horizon} is outside the curves' 1..{a.shape[1]} steps")
    diff = 100 * (a[:, horizon - 1] - b[:, horizon - 1])
    se = float(diff.std() / math.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return Difference(horizon, float(diff.mean()), se)


def mean_and_se(cum_acc: torch.Tensor, horizon: int) -> tuple[float, float]:
    """Mean and standard error (percent) over runs of the cumulative accuracy after ``horizon`` examples
    (:func:`vsml.horizon.at`, the book's one rule: the standard error of one run is 0)."""
    c = torch.as_tensor(cum_acc).float()
    if c.dim() != 2 or not 1 <= horizon <= c.shape[1]:
        raise ValueError(f"need [P, T] curves with T >= {horizon}, got shape {tuple(c.shape)}")
    mean, se = horizon_lib.at(c, [horizon])[horizon]
    return 100 * mean, 100 * se


def replace_learner(learner: Learner, **changes) -> Learner:
    """A copy of ``learner`` with fields changed (e.g. another shipped ``pretrained``)."""
    return dataclasses.replace(learner, **changes)
