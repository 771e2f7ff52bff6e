"""vsml.robustness: the Figure 7 configurations, their episodes, the verdict, and the invariance they test."""
import dataclasses

import pytest
import torch

from vsml import robustness
from vsml.data import Dataset
from vsml.network import VSMLConfig, VSMLNetwork
from vsml.robustness import REFERENCE, Configuration, figure7_configurations


def toy_dataset(n=300, num_classes=10, side=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, side, side, generator=g)
    return Dataset("toy", "test", x, torch.arange(n) % num_classes, num_classes, "built in the test")


def test_registry_holds_the_reference_and_only_unseen_configurations():
    configs = robustness.CONFIGURATIONS
    assert list(configs)[0] == REFERENCE
    assert set(configs) == {REFERENCE, "3 classes", "5 classes", "14x14 inputs", "28x28 inputs",
                            "permuted inputs", "permuted outputs", "random projection"}
    for name, c in configs.items():
        changed = (c.image_size is not None, c.num_classes is not None, c.permute_inputs, c.permute_outputs,
                   c.random_projection)
        assert sum(changed) == (0 if name == REFERENCE else 1), name  # one change per held-out configuration
    assert all(c.image_size != 7 for c in configs.values())
    custom = figure7_configurations(28, sizes=(21, 48), class_counts=(5,))
    assert {"21x21 inputs", "48x48 inputs", "5 classes"} <= set(custom) and "3 classes" not in custom


def test_bad_configurations_are_rejected():
    with pytest.raises(ValueError, match="reference size"):
        figure7_configurations(7, sizes=(7, 14))
    with pytest.raises(ValueError, match=">= 2"):
        Configuration("one class", "", num_classes=1)
    with pytest.raises(ValueError, match="positive int"):
        Configuration("bad size", "", image_size=0)
    with pytest.raises(ValueError, match="needs 12 classes"):
        Configuration("12", "", num_classes=12).episodes(toy_dataset(), 1, 5)


def test_episode_shapes_sizes_and_class_counts():
    ds = toy_dataset()
    ref = Configuration(REFERENCE, "")
    x, y, k = ref.episodes(ds, 3, 20, seed=0, base_size=2)
    assert x.shape == (3, 20, 4) and y.shape == (3, 20) and k == 10
    x, y, k = Configuration("6x6", "", image_size=6).episodes(ds, 3, 20, seed=0, base_size=2)
    assert x.shape == (3, 20, 36) and k == 10
    x, y, k = Configuration("3 classes", "", num_classes=3).episodes(ds, 4, 50, seed=0, base_size=2)
    assert k == 3 and x.shape == (4, 50, 4) and int(y.max()) == 2 and int(y.min()) == 0


def test_permutations_and_projection_transform_the_reference_episodes():
    ds = toy_dataset()
    P, T, base = 3, 40, 2
    x_ref, y_ref, _ = Configuration(REFERENCE, "").episodes(ds, P, T, seed=5, base_size=base)

    x, y, _ = Configuration("pi", "", permute_inputs=True).episodes(ds, P, T, seed=5, base_size=base)
    assert torch.equal(y, y_ref) and not torch.equal(x, x_ref)
    for p in range(P):  # one pixel order per episode, fixed over its steps
        perm = [int((x_ref[p, 0] == v).nonzero()[0]) for v in x[p, 0]]
        assert sorted(perm) == list(range(x.shape[-1]))
        assert torch.equal(x[p], x_ref[p][:, perm])

    x, y, _ = Configuration("po", "", permute_outputs=True).episodes(ds, P, T, seed=5, base_size=base)
    assert torch.equal(x, x_ref) and not torch.equal(y, y_ref)
    for p in range(P):  # a bijection of the labels, the same at every step of the episode
        pairs = set(zip(y_ref[p].tolist(), y[p].tolist()))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})

    x, y, _ = Configuration("rp", "", random_projection=True).episodes(ds, P, T, seed=5, base_size=base)
    assert torch.equal(y, y_ref) and not torch.allclose(x, x_ref)
    for p in range(P):  # one linear map per episode: x = x_ref @ W exactly (T > D)
        W = torch.linalg.lstsq(x_ref[p].double(), x[p].double()).solution
        assert torch.allclose(x_ref[p].double() @ W, x[p].double(), atol=1e-5)


def test_vsml_is_invariant_to_input_order_and_equivariant_to_label_names():
    """The property Figure 7's permutation configurations test. With deterministic (zero) initial
    states every sub-LSTM starts alike, so a permuted input order gives the same predictions and
    renamed classes give the same predictions, renamed."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(VSMLConfig(), layer_sizes=(5, 3), init_rand_proportion=0.0)
    net = VSMLNetwork(cfg)
    params = net.init_params(seed=1)
    x, y = torch.randn(2, 12, 5), torch.randint(3, (2, 12))
    base = net.run_episode(params, x, y).logits
    perm_in = torch.tensor([3, 0, 4, 1, 2])
    assert torch.allclose(net.run_episode(params, x[..., perm_in], y).logits, base, atol=1e-5)
    rename = torch.tensor([2, 0, 1])                    # class c is called rename[c]
    renamed = net.run_episode(params, x, rename[y]).logits
    assert torch.allclose(renamed[..., rename], base, atol=1e-5)
    assert not torch.allclose(net.run_episode(params, x, (y + 1) % 3).logits, base, atol=1e-3)  # labels matter


def test_gap_verdict_and_chance_correction():
    ref = (0.70, 0.01)
    assert robustness.gap(ref, (0.651, 0.01)).met
    assert not robustness.gap(ref, (0.649, 0.01)).met
    assert robustness.gap(ref, (0.90, 0.0)).met  # better than the reference is not a failure
    g = robustness.gap(ref, (0.66, 0.02))
    assert g.points == pytest.approx(-4.0) and g.sem == pytest.approx(100 * (0.01 ** 2 + 0.02 ** 2) ** 0.5)
    assert g.describe().endswith(" met") and robustness.gap(ref, (0.5, 0.0)).describe().endswith("NOT MET")
    with pytest.raises(ValueError, match="mean in"):
        robustness.gap(ref, (70.0, 1.0))  # points instead of a fraction
    with pytest.raises(ValueError, match="tolerance"):
        robustness.gap(ref, ref, tolerance=-1)
    assert robustness.chance_corrected(1 / 3, 3) == pytest.approx(0.0)
    assert robustness.chance_corrected(1.0, 5) == pytest.approx(1.0)
    assert robustness.chance_corrected(0.55, 10) == pytest.approx(0.5)


def test_class_subsets_are_judged_on_the_chance_corrected_scale():
    ref = (0.674, 0.01)  # 10 classes: chance-corrected 0.638
    raw = robustness.gap(ref, (0.625, 0.01))
    assert raw.met  # within 5 raw points ...
    g = robustness.chance_corrected_gap(ref, 10, (0.625, 0.01), 3)  # ... but 3 classes: chance-corrected 0.4375
    assert not g.met and g.points == pytest.approx(100 * (0.4375 - 0.64 * (0.674 - 0.1) / 0.9 / 0.64), abs=1e-9)
    assert g.sem == pytest.approx(100 * ((0.01 / (2 / 3)) ** 2 + (0.01 / 0.9) ** 2) ** 0.5)
    assert robustness.chance_corrected_gap(ref, 10, (0.85, 0.01), 3).met  # 0.775 against 0.638
    same = robustness.chance_corrected_gap(ref, 10, (0.674, 0.0), 10)
    assert same.points == pytest.approx(0.0) and same.met
    with pytest.raises(ValueError, match="mean in"):
        robustness.chance_corrected_gap(ref, 10, (62.5, 1.0), 3)
    with pytest.raises(ValueError):
        robustness.chance_corrected(0.5, 1)


def test_paired_gap_uses_the_run_by_run_differences():
    ref = torch.tensor([0.60, 0.70, 0.80, 0.65])
    shifted = ref - 0.01  # every run one point lower: the paired error is zero, the independent one is not
    g = robustness.paired_gap(ref, shifted)
    assert g.paired and g.points == pytest.approx(-1.0) and g.sem == pytest.approx(0.0, abs=1e-9)
    assert g.beyond_noise() and g.met and g.describe().startswith(" -1.0 +- 0.0p")
    independent = robustness.gap((float(ref.mean()), float(ref.std() / 2)), (float(shifted.mean()),
                                                                              float(shifted.std() / 2)))
    assert independent.sem > 5 and not independent.beyond_noise()
    noisy = robustness.paired_gap(ref, torch.tensor([0.70, 0.60, 0.70, 0.75]))
    d = 100 * (torch.tensor([0.70, 0.60, 0.70, 0.75], dtype=torch.float64) - ref.double())
    assert noisy.points == pytest.approx(float(d.mean())) and noisy.sem == pytest.approx(float(d.std() / 2))
    assert not robustness.paired_gap(ref, ref - 0.06).met
    assert robustness.CONFIGURATIONS["permuted inputs"].paired and not robustness.CONFIGURATIONS["3 classes"].paired
    with pytest.raises(ValueError, match="same length"):
        robustness.paired_gap(ref, ref[:3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        robustness.paired_gap(100 * ref, 100 * ref)
