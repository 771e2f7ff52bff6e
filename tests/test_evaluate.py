"""The meta-test protocol of Section 4.2: cumulative online accuracy and its summaries."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from vsml.evaluate import accuracy_at, cumulative_accuracy, online_metrics, plot_curves, summarize  # noqa: E402


def test_cumulative_accuracy_by_hand():
    correct = torch.tensor([[True, False, True, True], [False, False, False, True]])
    expected = torch.tensor([[1.0, 1 / 2, 2 / 3, 3 / 4], [0.0, 0.0, 0.0, 1 / 4]])
    torch.testing.assert_close(cumulative_accuracy(correct), expected)
    torch.testing.assert_close(cumulative_accuracy(correct.float()), expected)


def test_cumulative_accuracy_rejects_empty():
    with pytest.raises(ValueError, match="T >= 1"):
        cumulative_accuracy(torch.zeros(3, 0))


def test_online_metrics_by_hand():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [3.0, -1.0]]])  # [P=1, T=3, C=2]
    y = torch.tensor([[0, 0, 0]])
    out = online_metrics(logits, y)
    assert out["correct"].tolist() == [[True, False, True]]
    torch.testing.assert_close(out["cum_acc"], torch.tensor([[1.0, 0.5, 2 / 3]]))
    torch.testing.assert_close(out["loss"], F.cross_entropy(logits[0], y[0], reduction="none")[None])


def test_online_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="logits"):
        online_metrics(torch.zeros(2, 5, 3), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must lie"):
        online_metrics(torch.zeros(2, 5, 3), torch.full((2, 5), 3))


def test_summarize_and_accuracy_at():
    curves = torch.tensor([[0.0, 0.5, 1.0], [1.0, 0.5, 0.0]])
    mean, std = summarize(curves)
    torch.testing.assert_close(mean, torch.tensor([0.5, 0.5, 0.5]))
    torch.testing.assert_close(std, torch.tensor([2 ** -0.5, 0.0, 2 ** -0.5]))
    at = accuracy_at(curves, horizons=(1, 3))  # horizons count examples, 1-based
    assert at[1] == pytest.approx((0.5, 2 ** -0.5)) and at[3] == pytest.approx((0.5, 2 ** -0.5))
    _, single_std = summarize(curves[:1])
    assert torch.equal(single_std, torch.zeros(3))


def test_accuracy_at_horizon_beyond_curves():
    with pytest.raises(ValueError, match="horizon 2000 is outside"):
        accuracy_at(torch.zeros(4, 100))  # the paper's default horizons are (100, 2000)
    with pytest.raises(ValueError, match=r"\[P, T\]"):
        summarize(torch.zeros(5))


def test_plot_curves_draws_mean_and_band():
    fig, ax = plt.subplots()
    curves = {"a": torch.rand(3, 10), "b": torch.rand(2, 7)}
    assert plot_curves(ax, curves) is ax
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    assert len(ax.collections) == 2  # one std band per method
    assert ax.lines[0].get_ydata()[0] == pytest.approx(100 * float(curves["a"][:, 0].mean()))
    plt.close(fig)


def test_meta_test_runs_every_method_on_the_given_episodes():
    """Each registered learner is run on exactly the episodes passed in: its results equal the learner
    called directly on those episodes, and change when the labels change."""
    from vsml import VSMLNetwork
    from vsml.baselines import online_sgd
    from vsml.evaluate import BASELINES, meta_test
    from vsml.metarnn import metarnn_episode, metarnn_init

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(2, 5, 9, generator=gen), torch.randint(0, 3, (2, 5), generator=gen)
    net = VSMLNetwork(layer_sizes=(9, 3))
    vm, rnn = net.init_params(0), metarnn_init(9, 3, generator=gen)
    direct = {
        "vsml": net.run_episode(vm, x, y, generator=torch.Generator().manual_seed(4)).logits,
        "metarnn": metarnn_episode(rnn, x, y)["logits"],
        **{name: online_sgd(x, y, 3, seed=4, **BASELINES[name])["logits"] for name in BASELINES},
    }
    runs = {"vsml": meta_test("vsml", x, y, 3, params=vm, seed=4),
            "metarnn": meta_test("metarnn", x, y, 3, params=rnn)}
    runs.update({name: meta_test(name, x, y, 3, seed=4) for name in BASELINES})
    assert set(runs) == set(direct) and len(runs) == 2 + len(BASELINES)
    for name, out in runs.items():
        expected = online_metrics(direct[name], y)
        assert torch.equal(out["correct"], expected["correct"]), name
        torch.testing.assert_close(out["loss"], expected["loss"], rtol=1e-6, atol=1e-6, msg=name)
        steps = torch.arange(1, y.shape[1] + 1)  # (1/T) sum_{t <= T} c_t, written out here
        torch.testing.assert_close(out["cum_acc"], out["correct"].float().cumsum(1) / steps, msg=name)
    other_y = (y + 1) % 3  # other labels: a learner that ignored y would not notice
    for name in ("vsml", "metarnn", "SGD"):
        kwargs = {"params": vm} if name == "vsml" else {"params": rnn} if name == "metarnn" else {}
        changed = meta_test(name, x, other_y, 3, seed=4, **kwargs)
        assert not torch.equal(changed["loss"], runs[name]["loss"]), name
    with pytest.raises(ValueError, match="unknown method 'hopfield'; known: vsml, vsml_conv, metarnn, hebbian, fwmemory, SGD"):
        meta_test("hopfield", x, y, 3)
    with pytest.raises(ValueError, match="needs params"):
        meta_test("vsml", x, y, 3)
