"""The shadow-network sweep (vsml/cloning/shadow_sweep.py; paper Section 4.1, Appendix B.1)."""
import math

import pytest
import torch

from tiny_tasks import mean_mlp_problem
from vsml import cloning
from vsml.cloning import shadow_sweep as ss


def separable(num, dim=8, classes=3, seed=0):
    """Gaussian clusters around fixed class means: a few exact steps learn them."""
    means = torch.randn(classes, dim, generator=torch.Generator().manual_seed(7)) * 2
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(classes, (num,), generator=g)
    return means[y] + 0.3 * torch.randn(num, dim, generator=g), y


def strokes(num, seed):
    """MNIST-like 784-pixel images: background -0.42 (a standardised 0), ~19% 'ink' pixels at 2.8 in a
    class prototype, 5% of pixels flipped: the same common-mode input that makes MNIST hard to condition."""
    protos = torch.rand(10, 784, generator=torch.Generator().manual_seed(99)) < 0.19
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(10, (num,), generator=g)
    on = protos[y] ^ (torch.rand(num, 784, generator=g) < 0.05)
    return torch.where(on, 2.8, -0.42), y


@pytest.mark.parametrize("sizes", [(5, 3), (6, 4, 3)])
def test_per_layer_rates_and_bias_scale_are_scaled_gradient_descent(sizes):
    """D5 with one rate per layer and a bias scale: dw^k = -lr_k A_k s_k / G dL/dw^k, db^k the same times bias_scale."""
    layers, x, y = mean_mlp_problem(sizes)
    setting = ss.ShadowSetting(1.0, 3.0, tuple(0.2 + 0.3 * k for k in range(len(layers))), bias_scale=0.25)
    new, _, _ = cloning.shadow_step(layers, x, y, setting.logit_gain, setting.lrs, setting.bias_scale)
    leaves = [(w.clone().requires_grad_(), b.clone().requires_grad_()) for w, b in layers]
    cloning.shadow_loss(leaves, x, y, setting.logit_gain).backward()
    for (w, b), (w_new, b_new), (lw, lb), rate in zip(layers, new, leaves, setting.effective_rates(sizes)):
        torch.testing.assert_close(w_new - w, -rate * lw.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b_new - b, -0.25 * rate * lb.grad, rtol=1e-10, atol=1e-12)


def test_one_rate_for_all_layers_is_the_old_step():
    layers = cloning.init_layers((6, 4, 3), 3.0, torch.Generator().manual_seed(0))
    x, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 0, 1])
    old, _, _ = cloning.shadow_step(layers, x, y, 30.0, 1.0)
    new, _, _ = cloning.shadow_step(layers, x, y, 30.0, [1.0, 1.0], bias_scale=1.0)
    for (wo, bo), (wn, bn) in zip(old, new):
        assert torch.equal(wo, wn) and torch.equal(bo, bn)


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0, 3.0], [1.0, -1.0], [float("nan"), 1.0]])
def test_bad_rates_are_refused(bad):
    with pytest.raises(ValueError, match="one per layer"):
        cloning.rule.layer_rates(bad, 2)
    with pytest.raises(ValueError):
        ss.ShadowSetting(1.0, 10.0, (1.0,)).effective_rates((6, 4, 3))


def test_the_sweep_ranks_settings_and_skips_blow_ups():
    """On separable clusters a sensible rate learns, a zero rate stays at chance, a huge one blows up."""
    x, y = separable(300)
    xv, yv = separable(200, seed=1)
    good, frozen, wild = (ss.ShadowSetting(1.0, 3.0, (1.0,), 0.1), ss.ShadowSetting(1.0, 3.0, (0.0,)),
                          ss.ShadowSetting(1.0, 300.0, (30.0,)))
    rows = ss.sweep([good, frozen, wild], (8, 3), x, y, xv, yv, budgets=(5, 30), seeds=(0, 1), batch_size=16)
    assert [r["label"] for r in rows] == [s.label() for s in (good, frozen, wild)]
    assert rows[0]["30"]["val_accuracy"] > 0.9 > 0.6 > rows[1]["30"]["val_accuracy"]
    assert rows[0]["30"]["val_accuracy"] >= rows[0]["5"]["val_accuracy"]
    assert rows[2]["30"]["max_loss"] > 10                      # the blow-up is measured ...
    limit = 1.5 * math.log(3)
    assert not ss.admissible(rows[2], 30, loss_limit=limit, w_limit=1e9)
    assert ss.select(rows, 30, loss_limit=limit, w_limit=1e9)["label"] == good.label()   # ... and excluded
    assert rows[0]["effective_rates"] == pytest.approx([1.0 * 8 / 3.0])
    with pytest.raises(ValueError, match="no setting is admissible"):
        ss.select(rows, 30, loss_limit=0.0, w_limit=1e9)


def test_exact_run_checks_its_input_and_is_seeded():
    x, y = separable(50)
    s = ss.ShadowSetting(1.0, 3.0, (1.0,))
    a = ss.exact_run(s, (8, 3), x, y, {"train": (x, y)}, [4], seed=3, keep_loss=True)
    b = ss.exact_run(s, (8, 3), x, y, {"train": (x, y)}, [4], seed=3, keep_loss=True)
    assert a == b and len(a["losses"]) == 4
    with pytest.raises(ValueError, match="x must be"):
        ss.exact_run(s, (9, 3), x, y, {}, [4])
    with pytest.raises(ValueError, match="budgets"):
        ss.exact_run(s, (8, 3), x, y, {}, [0])
    with pytest.raises(ValueError, match="val_size"):
        ss.validation_split(10, 10)


@pytest.mark.parametrize("net", ["shallow", "deep"])
def test_the_chosen_settings_do_not_blow_up_where_the_shipped_deep_one_does(net):
    """The named well-conditioned settings keep every batch loss below 1.5 ln 10 on MNIST-like strokes;
    the shipped deep setting (U(-3, 3), G = 30, lr = 1, bias as fast as the weights) jumps above 10 there."""
    x, y = strokes(600, 0)
    xt, yt = strokes(300, 1)
    sizes = ss.SHALLOW if net == "shallow" else ss.DEEP
    run = ss.exact_run(ss.WELL_CONDITIONED[net], sizes, x, y, {"test": (xt, yt)}, [60])["60"]
    assert run["finite"] and run["max_loss"] < 1.5 * math.log(10)
    assert run["accuracy"]["test"] > 0.9
    assert run["w_abs_max"] <= 8.0
    if net == "deep":
        assert ss.exact_run(ss.SHIPPED_DEEP, sizes, x, y, {}, [60])["60"]["max_loss"] > 10


def test_the_named_settings_are_the_recorded_choices():
    doc = ss.load_sweep()
    for net, setting in ss.WELL_CONDITIONED.items():
        chosen = doc["networks"][net]["chosen"][str(ss.WELL_CONDITIONED_BUDGET)]["setting"]
        assert ss.ShadowSetting(**chosen) == setting
