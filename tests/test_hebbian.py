"""Hebbian fast weights (vsml/hebbian.py; Appendix C.2, Miconi et al. 2018) on the online protocol."""
import pytest
import torch

from fast_weight_tasks import label_changes, meta_train_by_bptt, one_label_episodes
from tiny_tasks import remember_the_class, tiny
from vsml import meta
from vsml.evaluate import meta_test
from vsml.flat_params import num_params
from vsml.hebbian import HebbianConfig, hebbian_episode, hebbian_init, hebbian_param_shapes
from vsml.meta.models import model_shapes

D, C = 4, 3


pytestmark = pytest.mark.usefixtures("one_thread")


def setup(P=3, T=12, seed=0, config=None):
    x, y = one_label_episodes(P, T, D, C, seed)
    y = (y + torch.arange(T)) % C  # labels that change over time
    return hebbian_init(D, C, config, torch.Generator().manual_seed(seed)), x, y


def test_shapes_with_batch_dims_and_bound():
    shapes = hebbian_param_shapes(784, 10)
    assert shapes["weight"] == shapes["plasticity"] == (784 + 20, 10)  # x, error, label rows
    params, x, y = setup(P=3, T=12)
    for rule in ("oja", "hebb"):
        out = hebbian_episode(params, x, y, HebbianConfig(rule=rule, output_bound=2.0))
        assert out["logits"].shape == (3, 12, C) and out["loss"].shape == out["correct"].shape == (3, 12)
        assert out["correct"].dtype == torch.bool and out["logits"].abs().max() < 2.0


@pytest.mark.parametrize("rule", ["oja", "hebb"])
def test_prediction_never_sees_its_label_but_learns_from_the_previous_one(rule):
    params, x, y = setup()
    params["plasticity"] = torch.full_like(params["plasticity"], 1.0)  # make the fast weights matter
    first, second = label_changes(hebbian_episode, params, x, y, HebbianConfig(rule=rule), t=6, C=C)
    assert torch.equal(first[:, :7], second[:, :7])            # up to and including x_6
    assert (first[:, 7] - second[:, 7]).abs().max() > 1e-4     # y_6 reached the fast weights


def test_fast_weights_start_at_zero_and_plasticity_off_means_no_learning():
    """With alpha = 0 the layer is a fixed linear map: each prediction depends on x_t alone."""
    params, x, y = setup()
    params["plasticity"] = torch.zeros_like(params["plasticity"])
    logits = hebbian_episode(params, x, y)["logits"]
    torch.testing.assert_close(logits, 100 * torch.tanh((x @ params["weight"][:D] + params["bias"]) / 100))


def test_per_member_params_match_shared_ones_and_stay_separate():
    params, x, y = setup(P=3)
    shared = hebbian_episode(params, x, y)["logits"]
    copies = {k: v.expand(3, *v.shape).clone() for k, v in params.items()}
    torch.testing.assert_close(hebbian_episode(copies, x, y)["logits"], shared, atol=1e-6, rtol=1e-5)
    copies["weight"][1] += 0.5
    mixed = hebbian_episode(copies, x, y)["logits"]
    torch.testing.assert_close(mixed[[0, 2]], shared[[0, 2]], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(mixed[1], shared[1])


def test_bptt_meta_training_learns_to_use_the_labels():
    before, after, chance = meta_train_by_bptt(hebbian_episode, setup()[0], HebbianConfig())
    # The labels are independent of x: without online learning nothing beats the chance loss log(C).
    assert after[5:].mean() < 0.6 * min(chance, before[5:].mean())


def test_flat_params_round_trip_through_the_meta_training_adapter():
    cfg = tiny(method="bptt", model="hebbian", model_options={"rule": "hebb"})
    model = meta.build_model(cfg, D, C)
    flat = model.init_flat(0)
    assert flat.shape == (num_params(hebbian_param_shapes(D, C)),)
    assert torch.equal(model.flatten(model.unflatten(flat)), flat)
    assert model_shapes("hebbian", model.model_config()) == model.shapes
    population = flat + 0.1 * torch.randn(4, flat.numel(), generator=torch.Generator().manual_seed(0))
    x, y = setup(P=2)[1:]
    loss, correct = model.run(population, x, y, None, repeats=2)
    for m in range(4):
        alone = hebbian_episode(model.unflatten(population[m]), x[m // 2:m // 2 + 1], y[m // 2:m // 2 + 1],
                                HebbianConfig(rule="hebb"))["loss"]
        torch.testing.assert_close(loss[m:m + 1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_meta_trainer_steps_with_either_method(method):
    trainer = meta.MetaTrainer(tiny(method=method, model="hebbian", lr=0.05), remember_the_class())
    start = trainer.params_flat.clone()
    records = [trainer.step(s) for s in range(2)]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    assert not torch.equal(start, trainer.params_flat)


def test_meta_test_registry_runs_the_given_params():
    params, x, y = setup()
    direct = hebbian_episode(params, x, y, HebbianConfig(rule="hebb"))
    out = meta_test("hebbian", x, y, C, params=params, model_config={"input_size": D, "num_classes": C,
                                                                      "rule": "hebb", "output_bound": 100.0})
    torch.testing.assert_close(out["loss"], direct["loss"])
    with pytest.raises(ValueError, match="needs the baseline's params"):
        meta_test("hebbian", x, y, C)


def test_bad_inputs_give_clear_errors():
    params, x, y = setup()
    wrong_size = r"hebbian weight must be \(14, 3\) for x of shape \(3, 12, 8\) .* got \(10, 3\)"
    with pytest.raises(ValueError, match=wrong_size):
        hebbian_episode(params, torch.cat([x, x], -1), y)
    with pytest.raises(ValueError, match="must have exactly the keys"):
        hebbian_episode({k: v for k, v in params.items() if k != "plasticity"}, x, y)
    with pytest.raises(ValueError, match=r"x must be a float tensor \[P, T, D\]"):
        hebbian_episode(params, x[0], y)
    with pytest.raises(ValueError, match="y must be int64"):
        hebbian_episode(params, x, y[:, :5])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=3\)"):
        hebbian_episode(params, x, y + C)
    with pytest.raises(ValueError, match="rule must be one of"):
        HebbianConfig(rule="sgd")
    with pytest.raises(ValueError, match="model_options for model 'hebbian'"):
        meta.MetaConfig(model="hebbian", model_options={"hidden_size": 4})


@pytest.mark.parametrize("rule", ["oja", "hebb"])
def test_matches_a_scalar_loop_of_the_appendix_c2_rule(rule):
    """An independent element-by-element reference of the module docstring's two passes per step:
    predict from x alone, then update every trace F_ij from pre u_i = [x, e, onehot(y)] and post v_j."""
    params, x, y = setup(P=1, T=4)
    g = torch.Generator().manual_seed(1)
    params = {k: v + 0.3 * torch.randn(v.shape, generator=g) for k, v in params.items()}
    # Strong plasticity (eta ~ 0.5, alpha ~ 1) so that every term of the rule shows in the logits.
    params["plasticity"] = params["plasticity"] + 1.0
    params["plasticity_lr"] = torch.zeros(1)
    w, alpha, b = params["weight"].double(), params["plasticity"].double(), params["bias"].double()
    eta = float(torch.sigmoid(params["plasticity_lr"].double()))
    rows = D + 2 * C
    fast = [[0.0] * C for _ in range(rows)]
    want = []
    for t in range(4):
        eff = [[float(w[i, j] + alpha[i, j] * fast[i][j]) for j in range(C)] for i in range(rows)]
        z = [sum(float(x[0, t, i]) * eff[i][j] for i in range(D)) + float(b[j]) for j in range(C)]
        logits = [100 * torch.tanh(torch.tensor(v / 100)).item() for v in z]
        want.append(logits)
        p = torch.softmax(torch.tensor(logits, dtype=torch.float64), 0).tolist()
        extra = [p[j] - (j == int(y[0, t])) for j in range(C)] + [float(j == int(y[0, t])) for j in range(C)]
        pre = [float(x[0, t, i]) for i in range(D)] + extra
        z2 = [z[j] + sum(extra[k] * eff[D + k][j] for k in range(2 * C)) for j in range(C)]
        post = torch.softmax(torch.tensor(z2, dtype=torch.float64), 0).tolist()
        for i in range(rows):
            for j in range(C):
                if rule == "oja":
                    fast[i][j] += eta * post[j] * (pre[i] - post[j] * fast[i][j])
                else:
                    fast[i][j] = (1 - eta) * fast[i][j] + eta * pre[i] * post[j]
    got = hebbian_episode(params, x, y, HebbianConfig(rule=rule))["logits"][0]
    torch.testing.assert_close(got.double(), torch.tensor(want, dtype=torch.float64), atol=1e-5, rtol=1e-5)
    frozen = dict(params, plasticity=torch.zeros_like(params["plasticity"]))
    assert not torch.allclose(hebbian_episode(frozen, x, y, HebbianConfig(rule=rule))["logits"][0, 1:], got[1:],
                              atol=1e-4)  # the traces do move the prediction: this checks them, not only w
