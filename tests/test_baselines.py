"""Online SGD / Adam and the Meta RNN baseline (Section 4.2, Appendix C.2) on the online protocol."""
import pytest
import torch
import torch.nn.functional as F

from tiny_tasks import torch_lstm_cell
from vsml.baselines import _init_layers, online_sgd, tune_lr
from vsml.evaluate import cumulative_accuracy
from vsml.flat_params import flatten, num_params, unflatten
from vsml.metarnn import metarnn_episode, metarnn_init, metarnn_param_shapes

C, D = 3, 8


def separable_episodes(P=4, T=200, seed=0):
    """Gaussian blobs around 3 well separated class means: linearly separable."""
    gen = torch.Generator().manual_seed(seed)
    means = 3 * torch.randn(C, D, generator=gen)
    y = torch.randint(0, C, (P, T), generator=gen)
    x = means[y] + 0.5 * torch.randn(P, T, D, generator=gen)
    return x, y


# --------------------------------------------------------------------------- online SGD / Adam

@pytest.mark.parametrize("hidden_size", [None, 16])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_online_sgd_shapes_and_learning(hidden_size, optimizer):
    x, y = separable_episodes()
    lr = 0.1 if optimizer == "sgd" else 0.05
    out = online_sgd(x, y, C, hidden_size=hidden_size, optimizer=optimizer, lr=lr)
    assert out["logits"].shape == (4, 200, C)
    assert out["loss"].shape == out["correct"].shape == (4, 200)
    assert out["correct"].dtype == torch.bool
    learned = cumulative_accuracy(out["correct"])[:, -1]
    frozen = cumulative_accuracy(online_sgd(x, y, C, hidden_size=hidden_size, optimizer=optimizer,
                                            lr=0.0)["correct"])[:, -1]
    assert learned.min() > 0.9  # chance is 1/3
    assert frozen.mean() < 0.6   # lr=0 never learns: its accuracy is whatever the init gives


def reference_online(x, y, hidden_size, optimizer, lr, seed, output_bound=100.0):
    """One run with torch autograd and torch.optim, same init: the ground truth."""
    sizes = [D, C] if hidden_size is None else [D, hidden_size, C]
    params = [p[0].clone().requires_grad_() for layer in _init_layers(1, sizes, seed, "cpu") for p in layer]
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(params, lr=lr)
    logits_steps = []
    for t in range(x.shape[0]):
        h = x[t]
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = torch.tanh(h)
        logits = output_bound * torch.tanh(h / output_bound)
        logits_steps.append(logits.detach())
        opt.zero_grad()
        F.cross_entropy(logits[None], y[t:t + 1]).backward()
        opt.step()
    return torch.stack(logits_steps)


@pytest.mark.parametrize("hidden_size", [None, 5])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_online_sgd_matches_autograd(hidden_size, optimizer):
    x, y = separable_episodes(P=2, T=12)
    out = online_sgd(x, y, C, hidden_size=hidden_size, optimizer=optimizer, lr=0.05, seed=7,
                     output_bound=2.0)  # a tight bound so its derivative matters
    for p in range(2):
        expected = reference_online(x[p], y[p], hidden_size, optimizer, 0.05, seed=7 + p, output_bound=2.0)
        torch.testing.assert_close(out["logits"][p], expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_online_sgd_prediction_never_sees_its_label(optimizer):
    x, y = separable_episodes(P=2, T=20)
    y2 = y.clone()
    y2[:, 10] = (y[:, 10] + 1) % C
    a = online_sgd(x, y, C, hidden_size=6, optimizer=optimizer, lr=0.1)["logits"]
    b = online_sgd(x, y2, C, hidden_size=6, optimizer=optimizer, lr=0.1)["logits"]
    assert torch.equal(a[:, :11], b[:, :11])          # up to and including step 10
    assert not torch.allclose(a[:, 11], b[:, 11])     # the label is learned from afterwards


def test_online_sgd_runs_are_independent():
    """Per-run parameters and Adam states: two runs batched == each run alone."""
    x, y = separable_episodes(P=2, T=30)
    both = online_sgd(x, y, C, hidden_size=6, optimizer="adam", lr=0.05, seed=3)["logits"]
    first = online_sgd(x[:1], y[:1], C, hidden_size=6, optimizer="adam", lr=0.05, seed=3)["logits"]
    second = online_sgd(x[1:], y[1:], C, hidden_size=6, optimizer="adam", lr=0.05, seed=4)["logits"]
    torch.testing.assert_close(both, torch.cat([first, second]), atol=1e-6, rtol=1e-5)


def test_tune_lr_picks_a_learning_rate_that_learns():
    x, y = separable_episodes(P=2, T=100)
    best, table = tune_lr(x, y, C, [0.0, 0.1])
    assert best == 0.1 and set(table) == {0.0, 0.1}
    assert table[0.1] > table[0.0]


def test_online_sgd_rejects_bad_input():
    x, y = separable_episodes(P=2, T=10)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        online_sgd(x, y, C, optimizer="rmsprop")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=2\)"):
        online_sgd(x, torch.full_like(y, 2), 2)
    with pytest.raises(ValueError, match="y must be int64"):
        online_sgd(x, y[:, :5], C)
    with pytest.raises(ValueError, match="y must be int64"):
        online_sgd(x, y.int(), C)
    with pytest.raises(ValueError, match=r"x must be a float tensor \[P, T, D\]"):
        online_sgd(x[0], y, C)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        online_sgd(x, y, C, lr=-1.0)
    with pytest.raises(ValueError, match="tune_lr|at least one"):
        tune_lr(x, y, C, [])


# --------------------------------------------------------------------------- flat <-> dict

def test_flatten_roundtrip_shared_and_per_member():
    shapes = metarnn_param_shapes(D, C, 4)
    params = metarnn_init(D, C, 4, torch.Generator().manual_seed(0))
    flat = flatten(params)
    assert flat.shape == (num_params(shapes),)
    for name, p in unflatten(flat, shapes).items():
        assert torch.equal(p, params[name])
    population = torch.randn(5, num_params(shapes))
    members = unflatten(population, shapes)
    assert members["lstm_weight"].shape == (5, *shapes["lstm_weight"])
    assert torch.equal(flatten(members, shapes), population)
    with pytest.raises(ValueError, match="flat must be"):
        unflatten(flat[:-1], shapes)


# --------------------------------------------------------------------------- Meta RNN

def metarnn_setup(P=3, T=15, hidden_size=8, seed=0, feed_label=False):
    x, y = separable_episodes(P=P, T=T, seed=seed)
    params = metarnn_init(D, C, hidden_size, torch.Generator().manual_seed(seed), feed_label=feed_label)
    return params, x, y


def test_metarnn_shapes_and_paper_size():
    shapes = metarnn_param_shapes(784, 10, 16)
    assert shapes["lstm_weight"] == (784 + 10 + 16, 64)
    assert num_params(shapes) == 810 * 64 + 64 + 16 * 10 + 10
    params, x, y = metarnn_setup()
    out = metarnn_episode(params, x, y)
    assert out["logits"].shape == (3, 15, C) and out["loss"].shape == out["correct"].shape == (3, 15)
    assert out["logits"].abs().max() < 100  # bounded as 100 tanh(z / 100)


def test_metarnn_prediction_never_sees_its_label():
    params, x, y = metarnn_setup()
    y2 = y.clone()
    y2[:, 7] = (y[:, 7] + 1) % C
    a, b = metarnn_episode(params, x, y)["logits"], metarnn_episode(params, x, y2)["logits"]
    assert torch.equal(a[:, :8], b[:, :8])
    assert not torch.allclose(a[:, 8], b[:, 8])  # e_7 arrives with x_8


def test_metarnn_per_member_params():
    params, x, y = metarnn_setup(P=3)
    shared = metarnn_episode(params, x, y)["logits"]
    copies = {k: v.expand(3, *v.shape).clone() for k, v in params.items()}
    torch.testing.assert_close(metarnn_episode(copies, x, y)["logits"], shared, atol=1e-6, rtol=1e-5)
    copies["lstm_weight"][1] += 0.3 * torch.randn_like(copies["lstm_weight"][1])
    mixed = metarnn_episode(copies, x, y)["logits"]
    torch.testing.assert_close(mixed[[0, 2]], shared[[0, 2]], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(mixed[1], shared[1])


def test_metarnn_matches_torch_lstm_cell():
    """An independent reference: torch's LSTMCell (gate order i, f, g, o) fed [x_t, e_{t-1}] with the forget
    bias +1, micro-ticking twice on the same input, then the linear readout and 100 tanh(z / 100) bound."""
    params, x, y = metarnn_setup(P=2, T=6, hidden_size=5)
    params = {k: v + 0.1 * torch.randn_like(v) for k, v in params.items()}  # non-zero biases too
    H = 5
    cell = torch_lstm_cell(params["lstm_weight"], params["lstm_bias"], D + C, forget_offset=1.0)
    with torch.no_grad():
        h, c, error, want = torch.zeros(2, H), torch.zeros(2, H), torch.zeros(2, C), []
        for t in range(6):
            for _ in range(2):
                h, c = cell(torch.cat([x[:, t], error], -1), (h, c))
            logits = 100 * torch.tanh((h @ params["readout_weight"] + params["readout_bias"]) / 100)
            want.append(logits)
            error = torch.softmax(logits, -1) - torch.nn.functional.one_hot(y[:, t], C)
    got = metarnn_episode(params, x, y, num_micro_ticks=2)["logits"]
    torch.testing.assert_close(got, torch.stack(want, 1), atol=1e-5, rtol=1e-5)


def test_metarnn_feed_label_variant():
    params, x, y = metarnn_setup(feed_label=True)
    assert params["lstm_weight"].shape[0] == D + 2 * C + 8
    assert metarnn_episode(params, x, y)["logits"].shape == (3, 15, C)


def test_metarnn_bptt_and_inference_mode():
    params, x, y = metarnn_setup()
    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    out = metarnn_episode(leaves, x, y)
    out["loss"].mean().backward()
    for name, p in leaves.items():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    # The first step's loss depends on nothing learned; the last one's gradient reaches the error rows.
    leaves["lstm_weight"].grad = None
    metarnn_episode(leaves, x, y)["loss"][:, -1].sum().backward()
    assert leaves["lstm_weight"].grad[D:D + C].abs().sum() > 0
    with torch.inference_mode():
        frozen = metarnn_episode(params, x, y)
    torch.testing.assert_close(frozen["logits"], out["logits"].detach())


def test_metarnn_bptt_lowers_the_meta_loss():
    params, x, y = metarnn_setup(P=8, T=20, hidden_size=8)
    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    opt = torch.optim.Adam(leaves.values(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = metarnn_episode(leaves, x, y)["loss"].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_metarnn_rejects_bad_input():
    params, x, y = metarnn_setup()
    with pytest.raises(ValueError, match="lstm_weight must be"):
        metarnn_episode(params, x[..., :-1], y)
    with pytest.raises(ValueError, match="labels must lie"):
        metarnn_episode(params, x, torch.full_like(y, C))
    with pytest.raises(ValueError, match="exactly the keys"):
        metarnn_episode({"lstm_weight": params["lstm_weight"]}, x, y)
    per_member = {k: v.expand(2, *v.shape) for k, v in params.items()}  # P=2 members, 3 episodes
    with pytest.raises(ValueError, match="per-member"):
        metarnn_episode(per_member, x, y)
