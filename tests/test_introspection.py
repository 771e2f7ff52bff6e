"""vsml.introspection: accuracy on the k-th example of a class, sequences with k images per class."""
import math

import pytest
import torch

from vsml.data import Dataset
from vsml.introspection import (across_runs_se, encounter_accuracy, encounter_hits, per_class_sequence,
                                plot_probabilities)


def test_second_encounter_accuracy_on_a_hand_made_sequence():
    #          t: 0  1  2  3  4  5  6
    y = torch.tensor([0, 1, 0, 2, 1, 1, 2])
    correct = torch.tensor([1, 0, 1, 0, 0, 1, 1], dtype=torch.bool)
    # second examples: t=2 (class 0, right), t=4 (class 1, wrong), t=6 (class 2, right); t=5 is a third
    assert encounter_accuracy(correct, y, k=2) == (2 / 3, 3)
    # first examples: t=0 (right), t=1 (wrong), t=3 (wrong)
    assert encounter_accuracy(correct, y, k=1) == (1 / 3, 3)
    assert encounter_accuracy(correct, y, k=3) == (1.0, 1)
    acc, n = encounter_accuracy(correct, y, k=4)
    assert n == 0 and math.isnan(acc)


def test_runs_count_separately():
    y = torch.tensor([[3, 3, 5], [5, 3, 3]])
    correct = torch.tensor([[0, 1, 0], [0, 0, 0]])
    # run 0: second 3 at t=1 (right); run 1: second 3 at t=2 (wrong)
    assert encounter_accuracy(correct, y) == (0.5, 2)


def test_encounter_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="same|\\[P, T\\]"):
        encounter_accuracy(torch.zeros(2, 3), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="positive int"):
        encounter_accuracy(torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.long), k=0)
    with pytest.raises(ValueError, match="integer labels"):
        encounter_accuracy(torch.zeros(1, 3), torch.zeros(1, 3))


def _toy_dataset():
    y = torch.arange(3).repeat_interleave(4)  # 4 images of each of 3 classes
    return Dataset("toy", "test", torch.rand(12, 1, 2, 2), y, 3, "test fixture")


def test_per_class_sequence_holds_k_distinct_images_of_every_class():
    ds = _toy_dataset()
    index = per_class_sequence(ds, 2, seed=1)
    assert len(index) == 6 and len(set(index.tolist())) == 6
    assert torch.bincount(ds.y[index], minlength=3).tolist() == [2, 2, 2]
    assert torch.equal(index, per_class_sequence(ds, 2, seed=1))      # seeded
    with pytest.raises(ValueError, match="fewer than"):
        per_class_sequence(ds, 5)


def test_plot_probabilities_marks_truth_and_prediction():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    image = plot_probabilities(ax, logits, torch.tensor([0, 1]))
    probs = image.get_array()
    assert probs.shape == (3, 2) and abs(float(probs[0, 0]) - torch.softmax(logits[0], 0)[0].item()) < 1e-6
    truth, pred = ax.collections[:2]
    assert truth.get_offsets()[:, 1].tolist() == [0, 1] and pred.get_offsets()[:, 1].tolist() == [0, 2]
    plt.close(fig)
    with pytest.raises(ValueError, match="logits"):
        plot_probabilities(ax, torch.zeros(3), torch.zeros(3))


def test_encounter_hits_per_run_and_the_across_runs_standard_error():
    y = torch.tensor([[0, 1, 0, 1], [2, 2, 3, 3], [0, 0, 0, 1]])
    correct = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1]], dtype=torch.bool)
    hits, counts = encounter_hits(correct, y, k=2)
    assert hits.tolist() == [1.0, 1.0, 1.0] and counts.tolist() == [2.0, 2.0, 1.0]
    assert encounter_accuracy(correct, y, k=2) == (3 / 5, 5)
    # equal counts: the standard error of the per-run accuracies' mean
    h, c = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.full((4,), 4.0)
    per_run = h / c
    assert across_runs_se(h, c) == pytest.approx(float(per_run.std() / 2))
    assert across_runs_se(torch.full((3,), 2.0), torch.full((3,), 4.0)) == 0.0  # identical runs: no spread
    with pytest.raises(ValueError, match="R >= 2"):
        across_runs_se(torch.ones(1), torch.ones(1))
