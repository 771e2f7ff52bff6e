"""Meta-testing on configurations never seen in meta-training (paper Section 4.3, Figure 7).

One set of meta-parameters ``V_M`` serves every layer size, and VSML's
sub-LSTMs are shared across all weights, so the learned learning algorithm
is invariant to the order of inputs and outputs (Section 3). Figure 7
meta-tests a ``V_M`` on six configurations outside its meta-training
distribution, beside the unchanged reference, with 32 runs each, and finds
all of them "comparable to the unchanged reference".

A :class:`Configuration` says how one meta-test episode differs from the
reference: another input size (resized images), a random subset of the
classes, one fixed permutation of the inputs or of the labels per episode,
or one fixed random linear projection of the inputs per episode
(:mod:`vsml.tasks` holds the transformations). :func:`figure7_configurations`
builds the registry for a ``V_M`` meta-trained at a given resolution;
:data:`CONFIGURATIONS` is the one for the shipped 7x7 ``V_M``.
:func:`gap` turns two cumulative accuracies into the robustness verdict;
:func:`paired_gap` does the same from the per-run accuracies of paired
episodes, with the paired standard error.

Every configuration draws the same images as the reference where it can
(same ``seed``: the size changes, permutations and the projection transform
the reference's episodes), so its gap to the reference is a paired
comparison; class subsets need their own draw.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import stats, tasks
from .data import Dataset

REFERENCE = "unchanged"
PAPER_NUM_RUNS = 32          # meta-test runs per configuration (Figure 7)
PAPER_HORIZON = 2000         # examples per run; the verdict reads the cumulative accuracy there
TOLERANCE_POINTS = 5.0       # "comparable": at most this many points below the reference


@dataclass(frozen=True)
class Configuration:
    """How a meta-test episode differs from the unchanged reference (Section 4.3).

    ``image_size``: side of the resized images (``None``: the reference's);
    ``num_classes``: size of a random class subset drawn per episode and
    relabelled ``0..k-1`` (``None``: all classes); ``permute_inputs`` /
    ``permute_outputs``: one fixed random permutation of the input pixels /
    of the class labels per episode; ``random_projection``: one fixed
    Glorot-uniform ``D x D`` projection of the inputs per episode.
    """

    name: str
    description: str
    image_size: int | None = None
    num_classes: int | None = None
    permute_inputs: bool = False
    permute_outputs: bool = False
    random_projection: bool = False

    def __post_init__(self):
        if not self.name:
            raise ValueError("a configuration needs a name")
        for key in ("image_size", "num_classes"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{key} must be None or a positive int, got {value!r}")
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (a one-class task has nothing to learn), "
                             f"got {self.num_classes}")

    @property
    def paired(self) -> bool:
        """Whether its episodes are the reference's, transformed (same images, same order): all but class subsets."""
        return self.num_classes is None

    def episodes(self, dataset: Dataset, num_runs: int, length: int, seed: int = 0, *,
                 base_size: int | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``num_runs`` episodes of ``length`` examples in this configuration: ``x [P, T, D]``,
        ``y [P, T]`` and the number of classes the learner must output.

        ``base_size`` is the reference's image side (``None``: the dataset's own).
        """
        size = self.image_size if self.image_size is not None else base_size
        if self.num_classes is None:
            x, y = tasks.online_episodes(dataset, num_runs, length, seed, image_size=size)
            num_classes = dataset.num_classes
        else:
            if self.num_classes > dataset.num_classes:
                raise ValueError(f"configuration {self.name!r} needs {self.num_classes} classes; "
                                 f"{dataset.name} has {dataset.num_classes}")
            x, y = tasks.class_subset_episodes(dataset, num_runs, length, self.num_classes, seed,
                                               image_size=size)
            num_classes = self.num_classes
        # Seeds of the transformations differ from the data's, and from each other's.
        if self.permute_inputs:
            x = tasks.permute_pixels(x, seed=seed + 1)
        if self.random_projection:
            x = tasks.random_projection(x, seed=seed + 2)
        if self.permute_outputs:
            y = tasks.permute_labels(y, num_classes, seed=seed + 3)
        return x.to(device), y.to(device), num_classes


def figure7_configurations(base_size: int | None = 7, sizes=(14, 28),
                           class_counts=(3, 5)) -> dict[str, Configuration]:
    """The reference and the held-out configurations for a ``V_M`` meta-trained at ``base_size``.

    The reference is the meta-training task itself (all classes, ``base_size``
    inputs; ``None`` is the dataset's 28x28). ``sizes`` are image sides and
    ``class_counts`` class-subset sizes, all different from the reference;
    then permuted inputs, permuted outputs and a random projection.
    """
    ref_side = 28 if base_size is None else base_size
    if isinstance(ref_side, bool) or not isinstance(ref_side, int) or ref_side < 1:
        raise ValueError(f"base_size must be None or a positive int, got {base_size!r}")
    if ref_side in sizes:
        raise ValueError(f"sizes {list(sizes)} contain the reference size {ref_side}: that one is not unseen")
    configs = {REFERENCE: Configuration(REFERENCE, f"MNIST, 10 classes, {ref_side}x{ref_side} (as meta-trained)")}
    for k in class_counts:
        configs[f"{k} classes"] = Configuration(f"{k} classes", f"{k} random classes per run, relabelled 0..{k - 1}",
                                                num_classes=k)
    for s in sizes:
        configs[f"{s}x{s} inputs"] = Configuration(f"{s}x{s} inputs", f"images resized to {s}x{s} ({s * s} inputs)",
                                                   image_size=s)
    configs["permuted inputs"] = Configuration("permuted inputs", "one fixed random pixel order per run",
                                               permute_inputs=True)
    configs["permuted outputs"] = Configuration("permuted outputs", "one fixed random renaming of the classes per run",
                                                permute_outputs=True)
    configs["random projection"] = Configuration("random projection",
                                                 "inputs times one fixed Glorot-uniform D x D matrix per run",
                                                 random_projection=True)
    return configs


CONFIGURATIONS = figure7_configurations(7)   # for the shipped 7x7 V_M (vsml/pretrained/mnist_bptt_long)


def chance_corrected(accuracy: float, num_classes: int) -> float:
    """``(acc - 1/k) / (1 - 1/k)``: 0 at chance, 1 when always right, comparable across class counts."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    chance = 1.0 / num_classes
    return (accuracy - chance) / (1.0 - chance)


@dataclass(frozen=True)
class Gap:
    """A configuration's cumulative accuracy minus the reference's, in points, and the verdict."""

    points: float        # configuration - reference
    sem: float           # standard error of that difference
    met: bool            # points >= -tolerance
    paired: bool = False  # sem from the run-by-run differences (True) or from two independent means

    def describe(self) -> str:
        return f"{self.points:+5.1f} +- {self.sem:3.1f}{'p' if self.paired else ' '} {'met' if self.met else 'NOT MET'}"

    def beyond_noise(self, z: float = 2.0) -> bool:
        """Whether the gap is further from zero than ``z`` standard errors (:func:`vsml.stats.sign_beyond`)."""
        return stats.sign_beyond(self.points, self.sem, z) != 0


def _check_accuracies(reference: tuple[float, float], configuration: tuple[float, float], tolerance: float) -> None:
    """``ValueError`` unless the tolerance is >= 0 and both are ``(mean in [0, 1], sem >= 0)`` accuracies."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 points, got {tolerance}")
    for name, (mean, sem) in (("reference", reference), ("configuration", configuration)):
        if not (0.0 <= mean <= 1.0 and sem >= 0):
            raise ValueError(f"{name} must be (mean in [0, 1], sem >= 0), got ({mean}, {sem})")


def gap(reference: tuple[float, float], configuration: tuple[float, float],
        tolerance: float = TOLERANCE_POINTS) -> Gap:
    """The verdict for one configuration from ``(mean, sem)`` accuracies in [0, 1].

    Met when the configuration is at most ``tolerance`` points below the
    reference; above it counts as met (robustness is not losing accuracy).
    The standard error treats the two means as independent, which overstates
    it for paired episodes.
    """
    _check_accuracies(reference, configuration, tolerance)
    points, sem = stats.independent_difference(100.0 * configuration[0], 100.0 * configuration[1],
                                               100.0 * reference[0], 100.0 * reference[1])
    return Gap(points=points, sem=sem, met=points >= -tolerance)


def chance_corrected_gap(reference: tuple[float, float], reference_classes: int,
                         configuration: tuple[float, float], classes: int,
                         tolerance: float = TOLERANCE_POINTS) -> Gap:
    """The verdict of :func:`gap` for a configuration with another number of classes, on the chance-corrected
    scale (:func:`chance_corrected`, times 100): fewer classes raise raw accuracy by chance alone, so a 3-class
    run at 62 % is not "within 5 points" of a 10-class reference at 67 %. Means and standard errors are
    converted alike (the correction is linear); the two means are taken as independent."""
    _check_accuracies(reference, configuration, tolerance)
    (m_ref, s_ref), (m, s) = reference, configuration
    k_ref, k = chance_corrected(m_ref, reference_classes), chance_corrected(m, classes)
    points, sem = stats.independent_difference(100.0 * k, 100.0 * s / (1 - 1 / classes),
                                               100.0 * k_ref, 100.0 * s_ref / (1 - 1 / reference_classes))
    return Gap(points=points, sem=sem, met=points >= -tolerance)


def paired_gap(reference: torch.Tensor, configuration: torch.Tensor,
               tolerance: float = TOLERANCE_POINTS) -> Gap:
    """The verdict from per-run accuracies in [0, 1] of paired runs (run ``i`` of both saw the same images).

    Same rule as :func:`gap`; the standard error is that of the mean of the
    run-by-run differences, which removes what the runs share (which images,
    in which order) and is smaller than the independent one when they agree.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 points, got {tolerance}")
    reference, configuration = torch.as_tensor(reference).double(), torch.as_tensor(configuration).double()
    if reference.dim() != 1 or reference.shape != configuration.shape or len(reference) < 2:
        raise ValueError(f"need two 1-d tensors of the same length >= 2 (one accuracy per run), got shapes "
                         f"{tuple(reference.shape)} and {tuple(configuration.shape)}")
    if not bool(((reference >= 0) & (reference <= 1) & (configuration >= 0) & (configuration <= 1)).all()):
        raise ValueError("per-run accuracies must lie in [0, 1]")
    points, sem = stats.paired_difference(100.0 * configuration, 100.0 * reference)
    return Gap(points=points, sem=sem, met=points >= -tolerance, paired=True)
