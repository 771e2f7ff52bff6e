"""Learning algorithm cloning (vsml/cloning/; paper Section 3.2, Appendix B.1, C.1)."""
import json

import pytest
import torch
import torch.nn.functional as F

from tiny_tasks import mean_mlp_problem, tiny_cfg, tiny_dataset
from vsml import cloning, runio
from vsml.cloning import CloningConfig
from vsml.data import Dataset
from vsml.lstm import init_params
from vsml.runloop import NonFiniteError

SHIPPED = "cloned_shallow"


# ----------------------------------------------------------------- targets (D5)

@pytest.mark.parametrize("sizes", [(5, 3), (6, 4, 3), (4, 5, 3, 2)])
def test_shadow_step_is_scaled_gradient_descent_on_the_mean_mlp(sizes):
    """D5: the local rule on the mean MLP is SGD with per-layer rates A_k s_k / G (checked by autograd, float64)."""
    layers, x, y = mean_mlp_problem(sizes)
    gain, lr = 3.0, 0.5
    new, _, _ = cloning.shadow_step(layers, x, y, gain, lr)
    leaves = [(w.clone().requires_grad_(), b.clone().requires_grad_()) for w, b in layers]
    cloning.shadow_loss(leaves, x, y, gain).backward()
    K = len(layers)
    s = [1.0] * K
    for k in reversed(range(K - 1)):
        s[k] = s[k + 1] * sizes[k + 1] / sizes[k + 2]
    for k, ((w, b), (w_new, b_new), (lw, lb)) in enumerate(zip(layers, new, leaves)):
        assert w_new.dtype == torch.float64
        rate = lr * sizes[k] * s[k] / gain
        torch.testing.assert_close(w_new - w, -rate * lw.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b_new - b, -rate * lb.grad, rtol=1e-10, atol=1e-12)


def test_local_targets_are_the_backprop_rule():
    x, e, w, b = (torch.tensor([0.3]), torch.tensor([-0.2]), torch.tensor([1.5]), torch.tensor([0.1]))
    t = cloning.local_targets(x, e, w, b, lr=0.5)
    tx = torch.tanh(x)
    torch.testing.assert_close(t["y"], tx * w + b)
    torch.testing.assert_close(t["dw"], -0.5 * e * tx)
    torch.testing.assert_close(t["db"], -0.5 * e)
    torch.testing.assert_close(t["e_prev"], e * w * (1 - tx ** 2))


# ----------------------------------------------------------------- the cloned network

@pytest.mark.parametrize("sizes", [(6, 3), (6, 4, 3)])
@pytest.mark.parametrize("clip", [None, 4.0])
def test_fast_layer_passes_match_the_plain_dense_tick(sizes, clip):
    cfg = tiny_cfg(num_ticks=3)
    params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(0))
    layers = cloning.init_layers(sizes, 3.0, torch.Generator().manual_seed(1))
    x = torch.randn(5, sizes[0], generator=torch.Generator().manual_seed(2))
    y = torch.randint(sizes[-1], (5,), generator=torch.Generator().manual_seed(3))
    fast = cloning.ClonedNetwork(params, cfg, sizes, state_clip=clip, chunk=2, fast=True)
    slow = cloning.ClonedNetwork(params, cfg, sizes, state_clip=clip, chunk=3, fast=False)
    with torch.inference_mode():
        (nf, lf), (ns, ls) = fast.step(layers, x, y), slow.step(layers, x, y)
    torch.testing.assert_close(lf, ls, rtol=1e-4, atol=1e-5)
    for (wf, bf), (ws, bs) in zip(nf, ns):
        torch.testing.assert_close(wf, ws, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(bf, bs, rtol=1e-4, atol=1e-5)


def test_a_zero_error_changes_w_and_b_only_when_the_rule_is_not_cloned():
    """The rule says dw = db = 0 when e = 0: the shipped clone keeps that, an untrained V_M does not.

    Tolerance: the shipped clone's mean |dw|, |db| at e = 0 stay below 1% of
    the typical update (the std of -lr e tanh(x) over the random distribution);
    an untrained V_M drifts more than ten times as much.
    """
    x = (torch.rand(2000, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 3
    w = (torch.rand(2000, generator=torch.Generator().manual_seed(1)) * 2 - 1) * 4
    b = (torch.rand(2000, generator=torch.Generator().manual_seed(2)) * 2 - 1) * 4
    zero = torch.zeros(2000)
    params, cfg, _ = _shipped()
    typical = cloning.target_scales(cfg)
    cloned = cloning.clone_backward(params, cfg, x, zero, w, b)
    untrained = cloning.clone_backward(init_params(cfg.sub_lstm, torch.Generator().manual_seed(0)), cfg,
                                       x, zero, w, b)
    for k in ("dw", "db"):
        kept = float(cloned[k].abs().mean())
        assert kept < 0.01 * typical[k], (k, kept, typical[k])
        assert float(untrained[k].abs().mean()) > 10 * kept, k  # what the cloning loss removes


# ----------------------------------------------------------------- training run

def test_training_reduces_the_cloning_loss():
    """The normalised loss on fixed held-out random tuples falls (the regression of Section 3.2 works)."""
    cfg = tiny_cfg(state_size=16, steps=150, batch_size=512, eval_size=2048, adam_lr=1e-2, final_adam_lr=1e-3)
    trainer = cloning.CloningTrainer(cfg, tiny_dataset())
    held_out = trainer.eval_set["random"]

    def loss():
        with torch.no_grad():
            return float(cloning.cloning_loss(trainer.params, cfg, held_out, held_out, trainer.scales)[0])

    first = loss()
    for _ in range(cfg.steps):
        trainer.train_step()
    assert loss() < 0.85 * first  # a detached or wrong gradient leaves it at ~1.0


def test_resume_is_bit_identical(tmp_path):
    ds = tiny_dataset()
    full = cloning.train(tiny_cfg(), tmp_path / "full", dataset=ds, progress=False)
    real = cloning.CloningTrainer.train_step

    def killed_after_step_3(self):  # a run killed after its step-2 checkpoint
        if self.step == 3:
            raise KeyboardInterrupt
        return real(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cloning.CloningTrainer, "train_step", killed_after_step_3)
        with pytest.raises(KeyboardInterrupt):
            cloning.train(tiny_cfg(), tmp_path / "cut", dataset=ds, progress=False)
    resumed = cloning.train(tiny_cfg(), tmp_path / "cut", dataset=ds, progress=False, resume=True)
    for k in full:
        assert torch.equal(full[k], resumed[k]), k
    lines = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    again = cloning.train(tiny_cfg(), tmp_path / "cut", dataset=ds, progress=False, resume=True)  # at its end
    assert all(torch.equal(again[k], resumed[k]) for k in resumed)
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 4


def test_existing_run_needs_resume_and_same_config(tmp_path):
    ds = tiny_dataset()
    cloning.train(tiny_cfg(steps=2), tmp_path / "run", dataset=ds, progress=False)
    with pytest.raises(FileExistsError, match="resume"):
        cloning.train(tiny_cfg(), tmp_path / "run", dataset=ds, progress=False)
    with pytest.raises(ValueError, match="config differs"):
        cloning.train(tiny_cfg(lr=0.3), tmp_path / "run", dataset=ds, progress=False, resume=True)


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    ds = tiny_dataset()
    cloning.train(tiny_cfg(steps=2), tmp_path / "run", dataset=ds, progress=False)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    real = cloning.cloning_loss

    def poisoned(*args, **kwargs):
        loss, mse, got = real(*args, **kwargs)
        return loss * float("nan"), mse, got

    monkeypatch.setattr(cloning.trainer, "cloning_loss", poisoned)
    with pytest.raises(NonFiniteError, match=r"step 3: the cloning loss is nan; .*last good checkpoint .*\(step 2\)"):
        cloning.train(tiny_cfg(), tmp_path / "run", dataset=ds, progress=False, resume=True)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_export_and_load_round_trip_and_bad_files(tmp_path):
    ds = tiny_dataset()
    params = cloning.train(tiny_cfg(steps=2), tmp_path / "run", dataset=ds, progress=False)
    pt, js = cloning.export(tmp_path / "run", "tiny", dest=tmp_path / "out")
    loaded, cfg, prov = cloning.load_cloned(str(pt))
    assert cfg == tiny_cfg(steps=2) and prov["steps"] == 2 and prov["model"] == "cloned"
    for k in params:
        assert torch.equal(loaded[k], params[k])
    pt.write_bytes(pt.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="corrupted"):
        cloning.load_cloned(str(pt))
    with pytest.raises(FileNotFoundError, match="no pretrained"):
        cloning.load_cloned("no_such_name", directory=tmp_path)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="stage"):
        CloningConfig(stage="medium")
    with pytest.raises(ValueError, match="unknown"):
        CloningConfig.from_dict({"stat_size": 3})
    with pytest.raises(ValueError, match="random_fraction"):
        CloningConfig(random_fraction=1.5)


def test_cli_errors_are_clear(tmp_path, capsys):
    assert cloning.main(["train", "--out", str(tmp_path), "--set", "nonsense=1"]) == 2
    assert "unknown CloningConfig option(s) ['nonsense']" in capsys.readouterr().err
    assert cloning.main(["train", "--out", str(tmp_path), "--set", "lr=[1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set lr: cannot read the value '[1'") and len(err.splitlines()) == 1
    assert cloning.main(["train", "--out", str(tmp_path), "--set", "steps=many"]) == 2
    assert "steps must be an integer, got 'many'" in capsys.readouterr().err


# ----------------------------------------------------------------- the shipped cloned V_M

def _shipped():
    try:
        return cloning.load_cloned(SHIPPED)
    except FileNotFoundError as exc:  # pragma: no cover - the package ships it
        pytest.fail(f"the shipped cloned V_M is missing: {exc}")


def test_shipped_sub_lstm_reproduces_the_rule_on_random_inputs():
    """Tolerance: RMSE of each output below 5% of the target's std over the random distribution."""
    params, cfg, _ = _shipped()
    t = cloning.random_tuples(20_000, cfg, torch.Generator().manual_seed(2024))
    errs = cloning.cloning_errors(params, cfg, t["x"], t["e"], t["w"], t["b"])
    scales = cloning.target_scales(cfg)
    for k in cloning.TARGETS:
        assert errs[f"rmse_{k}"] < 0.05 * scales[k], (k, errs[f"rmse_{k}"], scales[k])


def test_shipped_cloned_vm_reduces_the_loss_of_a_shallow_network_on_real_digits():
    from sklearn.datasets import load_digits

    params, cfg, _ = _shipped()
    digits = load_digits()
    x = torch.tensor(digits.data[:256], dtype=torch.float32) / 16.0
    x = (x - x.mean()) / x.std()
    y = torch.tensor(digits.target[:256])
    net = cloning.ClonedNetwork(params, cfg, (64, 10))
    layers = cloning.init_layers((64, 10), cloning.W_INIT, torch.Generator().manual_seed(0))
    with torch.inference_mode():
        before = float(F.cross_entropy(net.predict(layers, x), y))
        for i in range(30):
            idx = torch.arange(i * 8, i * 8 + 64) % 256
            layers, _ = net.step(layers, x[idx], y[idx])
        after = float(F.cross_entropy(net.predict(layers, x), y))
    assert after < 0.8 * before, (before, after)


def test_metatest_shapes_and_save_load_round_trip(tmp_path):
    cfg = tiny_cfg()
    params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(0))
    ds = tiny_dataset(num=60)
    res = cloning.metatest(params, cfg, ds, ds, hidden=4, steps=4, seeds=range(2), batch_size=5, eval_every=2,
                           test_size=10)
    assert res["eval_steps"] == [0, 2, 4] and res["sizes"] == [9, 4, 10]
    for kind in ("vsml", "sgd"):
        assert res[kind]["loss"].shape == res[kind]["accuracy"].shape == (2, 4)
        assert res[kind]["test_accuracy"].shape == (2, 3)
        assert res[kind]["w_abs_max"].shape == res[kind]["b_abs_max"].shape == (2, 3, 2)  # seeds, evals, layers
    assert res["vsml"]["out_of_range"].shape == res["vsml"]["rel_distance"].shape == (2, 3, 2)
    assert "rel_distance" not in res["sgd"]
    # Both learners start from the same weights: no distance, same largest |w|, b = 0.
    assert torch.equal(res["vsml"]["rel_distance"][:, 0], torch.zeros(2, 2))
    assert torch.equal(res["vsml"]["w_abs_max"][:, 0], res["sgd"]["w_abs_max"][:, 0])
    assert torch.equal(res["vsml"]["b_abs_max"][:, 0], torch.zeros(2, 2))
    cloning.save_metatest(res, tmp_path / "mt.json", name="tiny", train_set=ds, test_set=ds)
    back = cloning.load_metatest(tmp_path / "mt.json")
    torch.testing.assert_close(back["sgd"]["loss"], res["sgd"]["loss"].double(), atol=1e-5, rtol=0)
    torch.testing.assert_close(back["vsml"]["rel_distance"], res["vsml"]["rel_distance"].double(), atol=1e-5, rtol=0)
    assert back["sizes"] == [9, 4, 10] and "synthetic" in back["test_data"] and back["test_size"] == 10


def test_weight_drift_measures_range_and_distance():
    """The drift of Figures 5/11 ("states deviate too far from ranges seen during cloning", Section 4.1)."""
    cfg = tiny_cfg(w_range=2.0, b_range=0.5)
    w = torch.tensor([[1.0, -3.0], [0.5, 0.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, -0.6]])
    ref_w = torch.tensor([[1.0, -3.0], [0.5, 1.0]])
    drift = cloning.meta_test.weight_drift([(w, b)], [(ref_w, b)], cfg)
    assert drift["w_abs_max"] == [3.0] and drift["b_abs_max"] == [pytest.approx(0.6)]
    assert drift["out_of_range"] == [0.5]          # |w| = 3 > 2 and |b| = 0.6 > 0.5: two of four synapses
    assert drift["rel_distance"] == [pytest.approx(1.0 / ref_w.norm().item())]


def test_metatest_sgd_side_is_exact_sgd_and_learns():
    """The reference learner of Figures 5/11 is shadow_step: on a separable toy problem it learns."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, 2, 2, generator=g)
    y = (x.flatten(1)[:, 0] > 0).long()
    ds = Dataset("synthetic", "train", x, y, 2, "test fixture")
    cfg = tiny_cfg()
    params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(0))
    res = cloning.metatest(params, cfg, ds, ds, steps=30, seeds=range(1), batch_size=16, eval_every=30,
                           test_size=200)
    assert res["sgd"]["test_accuracy"][0, -1] > 0.9


def test_deep_stage_trains_on_a_hidden_layer_network():
    """D9: the deep stage adds a 784-32-10-shaped shadow stream (here 9-32-10) and the VSML's own tuples."""
    trainer = cloning.CloningTrainer(tiny_cfg(stage="deep", deep_own_fraction=0.5), tiny_dataset())
    assert set(trainer.streams) == {"shallow", "deep"}
    assert trainer.streams["deep"].sizes == (9, 32, 10)
    rec = trainer.train_step()
    assert torch.isfinite(torch.tensor(rec["loss"]))


def test_deep_stage_own_tuples_come_from_the_vsml_network(monkeypatch):
    """B.1: in the deep stage part of the hidden layer's tuples use the VSML network's own hidden inputs and
    its own backward message as the error, with the shadow network's weights and its top (ground-truth) error."""
    trainer = cloning.CloningTrainer(tiny_cfg(stage="deep", deep_own_fraction=0.5), tiny_dataset())
    zs, errors, layers = trainer.streams["deep"].next()
    seen = {}

    def capture(zs_, errors_, layers_, m, generator, layer_ids=None):
        seen.update(zs=zs_, errors=errors_, layers=layers_, m=m)
        return {k: torch.zeros(0) for k in ("x", "e", "w", "b")}

    monkeypatch.setattr(cloning.trainer, "tuples_from_network", capture)
    trainer._own_deep_tuples(layers, zs, errors, 7)
    assert seen["m"] == 7 and seen["layers"] is layers
    few = seen["zs"][0].shape[0]
    torch.testing.assert_close(seen["zs"][0], zs[0][:few])          # the same images go in
    assert not torch.allclose(seen["zs"][1], zs[1][:few])            # hidden inputs: the VSML's own
    torch.testing.assert_close(seen["errors"][-1], errors[-1][:few])  # top error: the shadow's
    assert seen["errors"][0].shape == errors[0][:few].shape
    assert not torch.allclose(seen["errors"][0], errors[0][:few])    # hidden error: the VSML's own message


def test_init_from_accepts_a_run_folder_or_an_export(tmp_path):
    ds = tiny_dataset()
    first = cloning.train(tiny_cfg(steps=2), tmp_path / "shallow", dataset=ds, progress=False)
    pt, _ = cloning.export(tmp_path / "shallow", "tiny", dest=tmp_path / "out")
    for i, source in enumerate((tmp_path / "shallow", str(pt))):
        real = cloning.CloningTrainer.__init__
        seen = {}

        def spy(self, cfg, dataset=None, params=None):
            seen["params"] = params
            real(self, cfg, dataset, params)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cloning.CloningTrainer, "__init__", spy)
            cloning.train(tiny_cfg(stage="deep", steps=1), tmp_path / f"deep{i}", dataset=ds, progress=False,
                          init_from=source)
        for k in first:
            assert torch.equal(seen["params"][k], first[k]), (source, k)
    with pytest.raises(RuntimeError, match="not a vsml.cloning checkpoint|unreadable"):
        cloning.load_run(tmp_path / "out" / "tiny.pt")


def test_final_test_accuracy_is_the_same_from_a_file_and_from_tensors(tmp_path):
    """Chapter 06 (load_metatest's tensors) and the reproduction report (the JSON lists) print the same number."""
    runs = [[0.1, 0.806], [0.2, 0.805], [0.3, 0.806], [0.1, 0.805], [0.0, 0.805], [0.1, 0.806]]
    mean, sem = cloning.final_test_accuracy(runs)
    assert mean == pytest.approx(80.55) and sem == pytest.approx(100 * 0.0005 * (6 / 5) ** 0.5 / 6 ** 0.5)
    (tmp_path / "mt.json").write_text(json.dumps({"vsml": {"test_accuracy": runs}, "sgd": {"test_accuracy": runs}}))
    loaded = cloning.load_metatest(tmp_path / "mt.json")["vsml"]["test_accuracy"]
    assert cloning.final_test_accuracy(loaded) == (mean, sem)  # bit for bit: the same rounding at a tie


def test_metatest_cli_refuses_bad_arguments_before_it_runs(capsys, monkeypatch):
    """--seeds 0, --out onto a shipped file, --out a folder: one-line errors, before any (long) meta-test."""
    from vsml.cloning import cli
    ran = []
    monkeypatch.setattr(cli, "load_cloned", lambda name: ran.append(name))
    shipped = str(runio.SHIPPED_DIR / "metatest_cloned_wc_shallow_mnist.json")
    for args, match in ((["--seeds", "0"], "--seeds and --steps must be >= 1"),
                        (["--out", shipped], "is a shipped file; not replaced"),
                        (["--out", str(runio.SHIPPED_DIR)], "is a folder")):
        assert cli.main(["metatest", "--name", "cloned_wc_shallow", *args]) == 2
        assert match in capsys.readouterr().err
    assert ran == []  # nothing was loaded or run
