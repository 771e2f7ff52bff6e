"""vsml.tasks: episode shapes, label ranges, determinism, and the augmentations (Section 4)."""
import math

import pytest
import torch

from vsml import tasks
from vsml.data import Dataset


def toy_dataset(n=200, num_classes=10, size=4):
    """Example i is a constant image with value i / n, so every input tells its index."""
    x = (torch.arange(n, dtype=torch.float32) / n).view(n, 1, 1, 1).expand(n, 1, size, size).clone()
    y = torch.arange(n) % num_classes
    return Dataset("toy", "train", x, y, num_classes, "built in the test")


def index_of(x, n=200):
    return torch.round(x[..., 0] * n).long()


# ----------------------------------------------------------------------------- online episodes

def test_online_episodes_shapes_and_no_repeats():
    ds = toy_dataset()
    x, y = tasks.online_episodes(ds, 3, 50, seed=0, standardize=False)
    assert x.shape == (3, 50, 16) and x.dtype == torch.float32 and y.shape == (3, 50) and y.dtype == torch.int64
    idx = index_of(x)
    for p in range(3):
        assert len(set(idx[p].tolist())) == 50  # without replacement
    assert torch.equal(y, idx % 10)  # labels belong to their inputs
    assert not torch.equal(idx[0], idx[1])  # independent episodes


def test_online_episodes_deterministic_and_seeded():
    ds = toy_dataset()
    a = tasks.online_episodes(ds, 2, 20, seed=7)
    b = tasks.online_episodes(ds, 2, 20, seed=7)
    c = tasks.online_episodes(ds, 2, 20, seed=8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_online_episodes_standardize_and_resize():
    ds = toy_dataset()
    ds.name = "mnist"  # use MNIST's statistics
    x, _ = tasks.online_episodes(ds, 1, 5, seed=0, image_size=2)
    raw, _ = tasks.online_episodes(ds, 1, 5, seed=0, standardize=False)
    assert x.shape == (1, 5, 4)
    assert torch.allclose(x[..., 0], (raw[..., 0] - 0.13066047430038452) / 0.3081078827381134, atol=1e-6)


def test_online_episodes_label_balance():
    ds = toy_dataset(n=1000)
    _, y = tasks.online_episodes(ds, 40, 500, seed=1)
    freq = torch.bincount(y.flatten(), minlength=10).float() / y.numel()
    assert y.min() >= 0 and y.max() <= 9
    assert torch.allclose(freq, torch.full((10,), 0.1), atol=0.01)


def test_online_episodes_bad_arguments():
    ds = toy_dataset(n=30)
    with pytest.raises(ValueError, match="exceeds the 30 examples"):
        tasks.online_episodes(ds, 1, 31, seed=0)
    with pytest.raises(ValueError, match="num_episodes"):
        tasks.online_episodes(ds, 0, 5, seed=0)
    with pytest.raises(TypeError, match="seed"):
        tasks.online_episodes(ds, 1, 5, seed=1.5)


# ----------------------------------------------------------------------------- Random and Sum Sign

def test_random_task_is_fixed_per_task_and_cycles():
    x, y = tasks.random_task(3, 50, seed=0)
    assert x.shape == (3, 50, 784) and y.shape == (3, 50) and y.min() >= 0 and y.max() <= 9
    for p in range(3):
        points = {tuple(row[:4].tolist()) for row in x[p]}
        assert len(points) == 20  # 20 examples per task, nothing else
        first_pass = {tuple(row[:4].tolist()) for row in x[p, :20]}
        assert len(first_pass) == 20  # each example once per pass of 20 steps
        label_of = {}
        for row, label in zip(x[p], y[p]):
            assert label_of.setdefault(tuple(row[:4].tolist()), int(label)) == int(label)  # fixed labels
    assert not torch.equal(x[0, :20].sort(0).values, x[1, :20].sort(0).values)  # a new task per episode
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    assert torch.equal(tasks.random_task(3, 50, seed=0)[0], x)


def test_random_task_labels_are_uniform():
    _, y = tasks.random_task(200, 20, seed=3)
    freq = torch.bincount(y.flatten(), minlength=10).float() / y.numel()
    assert torch.allclose(freq, torch.full((10,), 0.1), atol=0.02)


def test_sum_sign_labels_by_construction():
    x, y = tasks.sum_sign(4, 300, seed=0)
    assert x.shape == (4, 300, 784) and y.dtype == torch.int64
    assert torch.equal(y, (x.sum(-1) >= 0).long())
    assert 0.4 < float(y.float().mean()) < 0.6
    # x = m + z with m in (-1, 1) and |z| <= 2: every example lies within 3 of 0, within 2 of its mean.
    m = x.mean(-1, keepdim=True)
    assert x.abs().max() <= 3 and (x - m).abs().max() <= 2 + 0.2
    assert torch.equal(tasks.sum_sign(4, 300, seed=0)[0], x)
    assert not torch.equal(tasks.sum_sign(4, 300, seed=1)[0], x)


# ----------------------------------------------------------------------------- few-shot

def test_few_shot_episodes_structure():
    ds = toy_dataset(n=200, num_classes=10)
    fs = tasks.few_shot_episodes(ds, 6, n_way=5, k_shot=2, seed=0, standardize=False)
    x, y, mask = fs
    assert x.shape == (6, 11, 16) and y.shape == (6, 11) and mask.shape == (6, 11)
    assert mask[:, -1].all() and not mask[:, :-1].any()
    true = index_of(x) % 10  # the original class of every step
    for p in range(6):
        assert sorted(y[p, :-1].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
        mapping = dict(zip(y[p, :-1].tolist(), true[p, :-1].tolist()))
        assert len(set(mapping.values())) == 5  # 5 distinct classes, relabelled consistently
        assert all(mapping[int(lab)] == int(cls) for lab, cls in zip(y[p, :-1], true[p, :-1]))
        assert mapping[int(y[p, -1])] == int(true[p, -1])  # the query belongs to its label's class
        assert int(index_of(x)[p, -1]) not in index_of(x)[p, :-1].tolist()  # a new example
    again = tasks.few_shot_episodes(ds, 6, n_way=5, k_shot=2, seed=0, standardize=False)
    assert torch.equal(again.x, x) and torch.equal(again.y, y)


def test_few_shot_bad_arguments():
    ds = toy_dataset(n=20, num_classes=10)  # 2 examples per class
    with pytest.raises(ValueError, match="n_way=11"):
        tasks.few_shot_episodes(ds, 1, n_way=11, k_shot=1, seed=0)
    with pytest.raises(ValueError, match="k_shot\\+1=3"):
        tasks.few_shot_episodes(ds, 1, n_way=5, k_shot=2, seed=0)


# ----------------------------------------------------------------------------- augmentations

def test_projection_fixed_within_a_task_and_seeded():
    x = torch.randn(3, 10, 16)
    x[:, 5] = x[:, 0]  # a repeated input within each episode
    out = tasks.random_projection(x, seed=0)
    assert out.shape == x.shape and torch.allclose(out[:, 5], out[:, 0])
    w = tasks.glorot_projections(3, 16, seed=0)
    assert torch.allclose(out[1], x[1] @ w[1]) and not torch.allclose(w[0], w[1])
    assert w.abs().max() <= math.sqrt(6 / 32)
    assert torch.equal(tasks.random_projection(x, seed=0), out)
    assert not torch.allclose(tasks.random_projection(x, seed=1), out)
    assert tasks.random_projection(x[0], seed=0).shape == (10, 16)


def test_permute_pixels_is_a_fixed_permutation_per_episode():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    out = tasks.permute_pixels(x, seed=0)
    assert torch.equal(out.sort(-1).values, x)
    order = out[:, 0].long() % 8
    assert torch.equal(out - out[:, :1], x - x[:, :1])  # the same permutation at every step
    assert not torch.equal(order[0], torch.arange(8))


def test_permute_labels_is_a_bijection_per_episode():
    y = torch.arange(10).repeat(4, 3)
    out = tasks.permute_labels(y, 10, seed=0)
    for p in range(4):
        mapping = dict(zip(y[p].tolist(), out[p].tolist()))
        assert sorted(mapping.values()) == list(range(10))
        assert all(mapping[a] == b for a, b in zip(y[p].tolist(), out[p].tolist()))
    with pytest.raises(ValueError, match="0..4"):
        tasks.permute_labels(y, 5, seed=0)


@pytest.mark.parametrize("k", [3, 4, 6, 7])
def test_subset_classes_relabels_contiguously(k):
    ds = toy_dataset(n=100)
    sub = tasks.subset_classes(ds, k, seed=k)
    assert sub.num_classes == k and sorted(sub.y.unique().tolist()) == list(range(k))
    assert len(sub) == 10 * k
    original = index_of(sub.x.flatten(1), 100) % 10  # original labels
    mapping = dict(zip(sub.y.tolist(), original.tolist()))
    assert [mapping[i] for i in range(k)] == sorted(mapping.values())  # ascending order kept
    assert "relabelled" in sub.note


def test_subset_classes_explicit_and_errors():
    ds = toy_dataset(n=100)
    sub = tasks.subset_classes(ds, classes=[7, 2])
    assert sub.num_classes == 2 and torch.equal(torch.bincount(sub.y), torch.tensor([10, 10]))
    with pytest.raises(ValueError, match="num_classes=11"):
        tasks.subset_classes(ds, 11)
    with pytest.raises(ValueError, match="distinct"):
        tasks.subset_classes(ds, classes=[1, 1])


@pytest.mark.parametrize("size", [7, 14, 28, 32])
def test_resize_images(size):
    images = torch.rand(2, 3, 1, 28, 28)
    out = tasks.resize_images(images, size)
    assert out.shape == (2, 3, 1, size, size)
    flat = torch.full((1, 1, 28, 28), 0.25)
    assert torch.allclose(tasks.resize_images(flat, size), torch.full((1, 1, size, size), 0.25))
    if size in (7, 14):  # area pooling keeps the mean exactly
        assert torch.allclose(out.mean((-1, -2)), images.mean((-1, -2)), atol=1e-6)


@pytest.mark.parametrize("k", [3, 7])
def test_class_subset_episodes_draw_classes_per_episode(k):
    ds = toy_dataset(n=200)
    x, y = tasks.class_subset_episodes(ds, 4, 15, k, seed=k, standardize=False)
    assert x.shape == (4, 15, 16) and y.shape == (4, 15) and int(y.max()) < k
    original = index_of(x) % 10  # the toy example's own label
    subsets = []
    for p in range(4):
        idx = index_of(x[p])
        assert len(set(idx.tolist())) == 15  # without replacement
        mapping = dict(zip(y[p].tolist(), original[p].tolist()))
        assert all(mapping[a] == b for a, b in zip(y[p].tolist(), original[p].tolist()))  # one class, one label
        assert list(mapping) and sorted(mapping, key=mapping.get) == sorted(mapping)  # ascending relabelling
        subsets.append(frozenset(original[p].tolist()))
    assert len(set(subsets)) > 1  # each episode draws its own classes
    again = tasks.class_subset_episodes(ds, 4, 15, k, seed=k, standardize=False)
    assert torch.equal(again[0], x) and torch.equal(again[1], y)
    x2, y2, classes = tasks.class_subset_episodes(ds, 4, 15, k, seed=k, standardize=False, return_classes=True)
    assert torch.equal(x2, x) and torch.equal(y2, y) and classes.shape == (4, k)
    assert torch.equal(classes.gather(1, y), original)  # each new label's original class
    assert bool((classes.diff(dim=1) > 0).all())  # ascending
    with pytest.raises(ValueError, match="num_classes=11"):
        tasks.class_subset_episodes(ds, 1, 5, 11)
    with pytest.raises(ValueError, match="exceeds the 60 examples"):
        tasks.class_subset_episodes(ds, 1, 61, 3)
