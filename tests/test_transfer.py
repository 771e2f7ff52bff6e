"""vsml.transfer: the Figure 8 task and learner registries, padding/scoring of fixed-size baselines, verdicts."""
import pytest
import torch

from vsml import meta, transfer
from vsml.metarnn import metarnn_episode
from vsml.online import online_metrics
from vsml.transfer import LEARNERS, TASKS, Learner, Task


def test_registry_holds_the_paper_tasks_and_digits():
    assert {"mnist", "fashion_mnist", "kmnist", "emnist", "random", "sum_sign"} <= {
        n for n, t in TASKS.items() if t.in_paper}
    assert not TASKS["digits"].in_paper
    assert TASKS["sum_sign"].num_classes == 2 and TASKS["emnist"].num_classes == 62
    assert set(transfer.META_LEARNED_RIVALS) | set(transfer.SGD_LEARNERS) | {"VSML"} == set(LEARNERS)
    with pytest.raises(ValueError, match="unknown task"):
        transfer.get_task("cifar100")
    with pytest.raises(ValueError, match="source"):
        Task("x", "X", "web", 10)
    with pytest.raises(ValueError, match="pretrained"):
        Learner("bad", "vsml")


def test_synthetic_tasks_are_available_and_sized_by_image_size():
    for name, classes in (("random", 10), ("sum_sign", 2)):
        task = TASKS[name]
        assert task.availability()[0]
        x, y = task.episodes(3, 25, seed=0, image_size=3)
        assert x.shape == (3, 25, 9) and y.shape == (3, 25) and int(y.max()) < classes
        assert task.horizon(25) == 25


def test_digits_uses_both_splits_and_caps_the_horizon():
    task = TASKS["digits"]
    ds = task.dataset()
    assert len(ds) == 1797 and ds.split == "train+test"
    x, y = task.episodes(2, 5000, seed=0, image_size=7, dataset=ds)
    assert x.shape == (2, 1797, 49) and task.horizon(5000, ds) == 1797
    assert sorted(y[0].tolist()) == sorted(ds.y.tolist())  # without replacement: every image once


def test_seen_tasks_from_provenance():
    assert transfer.seen_tasks({"config": {"dataset": "mnist"}}) == ("mnist",)
    mix = {"config": {"dataset": "mnist", "tasks": [{"dataset": "mnist"}, {"dataset": "random", "weight": 2},
                                                    {"dataset": "mnist", "classes": [3, 4]}]}}
    assert transfer.seen_tasks(mix) == ("mnist", "random")
    with pytest.raises(ValueError, match="names no"):
        transfer.seen_tasks({"name": "x", "config": {}})
    # Every shipped export says what it saw, the clones (cloning exports: their shadow data) included.
    for name in meta.pretrained_names():
        assert transfer.seen_tasks(meta.load_pretrained(name)[1])


def test_vl_matched_hidden_size():
    assert transfer.vl_matched_hidden_size(784, 10) == 158   # the paper's "160" at 784 x 10
    assert transfer.vl_matched_hidden_size(49, 10) == 133
    with pytest.raises(ValueError, match="num_classes"):
        transfer.vl_matched_hidden_size(49, 0)


def test_fixed_size_baseline_is_padded_and_scored_on_the_task_classes(one_thread):
    learner = LEARNERS["Meta RNN"]
    params, prov = meta.load_pretrained(learner.pretrained)
    assert transfer.fixed_sizes(prov) == (49, 10)
    x, y = TASKS["sum_sign"].episodes(2, 6, seed=1, image_size=3)     # 9 inputs, 2 classes
    out = transfer.meta_test_learner(learner, x, y, 2, params=params, provenance=prov)
    padded = torch.nn.functional.pad(x, (0, 40))
    full = metarnn_episode(params, padded, y)["logits"]
    expected = online_metrics(full[..., :2], y)
    assert torch.equal(out["correct"], expected["correct"])
    assert out["cum_acc"].shape == (2, 6)
    too_wide = torch.zeros(1, 3, 50)
    with pytest.raises(ValueError, match="49 inputs"):
        transfer.meta_test_learner(learner, too_wide, torch.zeros(1, 3, dtype=torch.long), 2,
                                   params=params, provenance=prov)
    assert not transfer.applicable(learner, prov, 49, 62)[0]


def test_sgd_learners_run_at_the_task_size(one_thread):
    x, y = TASKS["random"].episodes(2, 8, seed=0, image_size=2)
    for name in transfer.SGD_LEARNERS:
        out = transfer.meta_test_learner(LEARNERS[name], x, y, 10)
        assert out["cum_acc"].shape == (2, 8)
    with pytest.raises(ValueError, match="needs params"):
        transfer.meta_test_learner(LEARNERS["VSML"], x, y, 10)


def test_compare_is_paired_and_its_rules_can_fail():
    a = torch.tensor([[0.5, 0.5], [0.5, 0.7]])
    b = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    d = transfer.compare(a, b, 2)
    assert d.mean == pytest.approx(10.0) and d.standard_error == pytest.approx(10.0)
    assert d.above and d.at_or_above and not d.significant      # 10 points, SE 10
    worse = transfer.compare(b, a, 2)
    assert not worse.above and not worse.at_or_above
    tie = transfer.compare(a, b, 1)
    assert tie.mean == 0 and not tie.above and tie.at_or_above
    clear = transfer.compare(torch.tensor([[0.1], [0.1]]), torch.tensor([[0.5], [0.6]]), 1)
    assert clear.significant and not clear.at_or_above        # 45 points below, SE 5
    with pytest.raises(ValueError, match="horizon"):
        transfer.compare(a, b, 3)
    assert transfer.mean_and_se(a, 2) == pytest.approx((60.0, 10.0))


def test_sgd_learner_takes_its_learning_rate():
    with pytest.raises(ValueError, match="lr applies to sgd"):
        transfer.Learner("VSML", "vsml", "mnist_bptt_long", lr=0.1)
    with pytest.raises(ValueError, match="lr applies to sgd"):
        transfer.Learner("SGD", "sgd", lr=0.0)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 20, 9, generator=g), torch.randint(0, 3, (2, 20), generator=g)
    slow = transfer.meta_test_learner(transfer.Learner("SGD", "sgd", lr=1e-4), x, y, 3)["loss"]
    fast = transfer.meta_test_learner(transfer.Learner("SGD", "sgd", lr=1.0), x, y, 3)["loss"]
    default = transfer.meta_test_learner(transfer.Learner("SGD", "sgd"), x, y, 3)["loss"]
    paper = transfer.meta_test_learner(transfer.Learner("SGD", "sgd", lr=1e-2), x, y, 3)["loss"]
    assert not torch.allclose(slow, fast) and torch.equal(default, paper)
