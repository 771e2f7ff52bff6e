"""Meta-training, Algorithm 1 (vsml/meta/): configs, learning, resume, processes, NaN, export."""
import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from tiny_tasks import remember_the_class, tiny
from vsml import meta
from vsml.data import Dataset

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------- configs

@pytest.mark.parametrize("name", meta.config_names())
def test_every_shipped_config_loads_as_written_and_builds_its_model(name):
    """Each YAML value reaches the config (converted to the field's type) and the model builds at its size."""
    written = yaml.safe_load(meta.config_path(name).read_text())
    cfg = meta.load_config(name)
    for key, value in written.items():
        assert getattr(cfg, key) == value, key
    side = cfg.resize or 28
    channels = (cfg.model_options or {}).get("input_shape", [1])[0]  # CIFAR-10's configs: three colour channels
    model = meta.build_model(cfg, channels * side * side, 10)
    assert model.init_flat(cfg.seed).shape == (sum(torch.Size(s).numel() for s in model.shapes.values()),)


def test_paper_config_matches_appendix_c2():
    cfg = meta.load_config("paper")
    assert (cfg.method, cfg.num_pairs, cfg.episode_length, cfg.steps) == ("es", 1024, 500, 10_000)
    assert (cfg.sigma, cfg.lr, cfg.b1, cfg.b2, cfg.resize) == (0.05, 0.025, 0.9, 0.999, None)


def test_unknown_config_keys_are_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("method: es\nnum_pair: 3\n")
    with pytest.raises(ValueError, match="num_pair"):
        meta.load_config(path)
    with pytest.raises(ValueError, match="state_sise"):
        meta.load_config("smoke", ["model_options.state_sise=3"])
    with pytest.raises(FileNotFoundError, match="smoke"):
        meta.load_config("no_such_config")


def test_overrides_reach_nested_options():
    cfg = meta.load_config("cpu_bptt", ["lr=3e-4", "model_options.sub_lstm.layer_norm=true"])
    assert cfg.lr == 3e-4 and cfg.model_options["sub_lstm"]["layer_norm"] is True


def test_data_source_restricts_loading_to_that_source_and_rejects_foreign_ones():
    from vsml.meta.episodes import dataset_info, load_dataset
    cfg = meta.load_config("smoke", ["dataset=digits", "data_source=sklearn"])
    info = dataset_info(load_dataset(cfg, "train"))
    assert info["name"] == "digits" and "scikit-learn" in info["source"]
    with pytest.raises(ValueError, match="'npm' is not a source of 'digits'"):
        meta.load_config("smoke", ["dataset=digits", "data_source=npm"])
    with pytest.raises(ValueError, match="task mixture"):
        meta.load_config("cpu_bptt_mix", ["data_source=npm"])


# ------------------------------------------------------------------- learning

def test_bptt_meta_learns_a_tiny_task():
    cfg = tiny(method="bptt", lr=0.03, episode_length=20, meta_batch_size=8, eval_episodes=8, eval_length=20)
    trainer = meta.MetaTrainer(cfg, remember_the_class())
    before = trainer.evaluate()["eval_loss"]
    for s in range(20):
        trainer.step(s)
    after = trainer.evaluate()
    # Starts at chance (ln 2 for two interchangeable outputs), ends well below it: over seeds 0-11 the
    # loss went from 0.68-0.71 to 0.17-0.30 and accuracy to 0.93-0.98.
    assert abs(before - math.log(2)) < 0.05
    assert after["eval_loss"] < 0.5 and after["eval_accuracy"] > 0.8


def test_es_reduces_the_meta_loss_on_a_tiny_task():
    cfg = tiny(lr=0.1, episode_length=20, num_pairs=8, eval_episodes=8, eval_length=20)
    trainer = meta.MetaTrainer(cfg, remember_the_class())
    before = trainer.evaluate()["eval_loss"]
    for s in range(40):
        trainer.step(s)
    # Over seeds 0-11 these 40 generations lowered the loss by 0.42-0.61, so 0.2 is a real effect, not noise.
    assert trainer.evaluate()["eval_loss"] < before - 0.2


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_metarnn_baseline_trains_with_either_method(method):
    cfg = tiny(method=method, model="metarnn", model_options={"hidden_size": 4}, lr=0.01)
    trainer = meta.MetaTrainer(cfg, remember_the_class())
    start = trainer.params_flat
    records = [trainer.step(s) for s in range(2)]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    assert not torch.equal(start, trainer.params_flat)


def test_pairs_share_data_and_initial_state():
    # With sigma -> tiny, both members of a pair must see (almost) the same loss.
    trainer = meta.MetaTrainer(tiny(sigma=1e-6), remember_the_class())
    estimator = trainer.estimator
    population, _ = meta.es.ask(estimator.state, estimator.hp, torch.Generator().manual_seed(0))
    x, y, state = trainer.episodes(0, 0, estimator.hp.num_pairs)
    with torch.inference_mode():
        loss, _ = trainer.model.run(population, x, y, state, repeats=2)
    per_member = loss.mean(1)
    torch.testing.assert_close(per_member[0::2], per_member[1::2], atol=1e-4, rtol=0)
    assert per_member[0::2].std() > 1e-3  # different pairs see different episodes


def test_model_run_leaves_a_given_state_alone():
    """VSMLModel.run updates states in place only once they are its own: the caller's initial state
    can serve a second run (as both halves of an antithetic pair) and gives the same losses."""
    trainer = meta.MetaTrainer(tiny(), remember_the_class())
    estimator = trainer.estimator
    population, _ = meta.es.ask(estimator.state, estimator.hp, torch.Generator().manual_seed(0))
    x, y, state = trainer.episodes(0, 0, estimator.hp.num_pairs)
    kept = state.clone()
    with torch.inference_mode():
        first, _ = trainer.model.run(population[0::2], x, y, state)
        again, _ = trainer.model.run(population[0::2], x, y, state)
    assert torch.equal(first, again)
    for a, b in zip(state.h + state.c + state.bwd_in, kept.h + kept.c + kept.bwd_in):
        assert torch.equal(a, b)


# ------------------------------------------------------------------- runs, resume, NaN

def _theta(run_dir):
    state = meta.load_checkpoint(run_dir)["state"]
    return state["es"]["mean"] if "es" in state else state["theta"]


def _losses(records):
    return [(r["step"], r["loss"], r.get("eval_loss")) for r in records]


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_resume_is_bit_identical(tmp_path, monkeypatch, method):
    data, cfg = remember_the_class(), tiny(method=method, lr=0.01)
    full = meta.train(cfg, tmp_path / "full", dataset=data, progress=False)

    real_step = meta.MetaTrainer.step

    def dies_at_step_5(self, s):
        if s == 4:  # after the checkpoint of step 4: steps 5.. are lost, as in a kill
            raise KeyboardInterrupt
        return real_step(self, s)

    monkeypatch.setattr(meta.MetaTrainer, "step", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        meta.train(cfg, tmp_path / "cut", dataset=data, progress=False)
    assert meta.load_checkpoint(tmp_path / "cut")["step"] == 4
    monkeypatch.setattr(meta.MetaTrainer, "step", real_step)
    with pytest.raises(FileExistsError, match="resume"):
        meta.train(cfg, tmp_path / "cut", dataset=data, progress=False)
    resumed = meta.train(cfg, tmp_path / "cut", resume=True, dataset=data, progress=False)

    assert torch.equal(full.params_flat, resumed.params_flat)
    assert torch.equal(_theta(tmp_path / "full"), _theta(tmp_path / "cut"))
    assert _losses(full.metrics) == _losses(resumed.metrics)
    assert _losses(meta.read_metrics(tmp_path / "cut")) == _losses(full.metrics)
    # Stopping with --steps and continuing to the config's total is the same run again.
    meta.train(cfg, tmp_path / "short", steps=3, dataset=data, progress=False)
    longer = meta.train(cfg, tmp_path / "short", resume=True, dataset=data, progress=False)
    assert torch.equal(full.params_flat, longer.params_flat)
    with pytest.raises(ValueError, match="lr"):
        meta.train(tiny(method=method, lr=0.5), tmp_path / "short", resume=True, dataset=data, progress=False)


def test_eval_at_start_logs_the_initial_v_m_as_step_0_with_its_standard_error(tmp_path):
    data, cfg = remember_the_class(), tiny(method="es", eval_every=3, eval_at_start=True, steps=3)
    res = meta.train(cfg, tmp_path / "run", dataset=data, progress=False)
    first = res.metrics[0]
    assert first["step"] == 0 and "loss" not in first
    # step 0 is the initial V_M: the same episodes give the same numbers as a fresh trainer's evaluate()
    fresh = meta.MetaTrainer(cfg, dataset=data).evaluate()
    assert first["eval_accuracy"] == fresh["eval_accuracy"] and first["eval_loss"] == fresh["eval_loss"]
    assert first["eval_accuracy_se"] == fresh["eval_accuracy_se"] > 0  # several episodes, not all alike
    assert [r["step"] for r in meta.read_metrics(tmp_path / "run")] == [0, 1, 2, 3]
    # resuming a finished run does not log a second step 0
    meta.train(cfg, tmp_path / "run", resume=True, steps=4, dataset=data, progress=False)
    assert [r["step"] for r in meta.read_metrics(tmp_path / "run")] == [0, 1, 2, 3, 4]


def _nan_after(monkeypatch, calls_ok):
    real_run = meta.VSMLModel.run
    calls = {"n": 0}

    def run(self, flat, x, y, state, repeats=1):
        loss, correct = real_run(self, flat, x, y, state, repeats)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] > calls_ok else loss), correct

    monkeypatch.setattr(meta.VSMLModel, "run", run)


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, method):
    cfg = tiny(method=method, eval_every=0)
    _nan_after(monkeypatch, calls_ok=3)  # steps 1-3 are fine (one run call per step)
    with pytest.raises(meta.NonFiniteError, match=r"step 4: .*non-finite.*checkpoint .*\(step 2\).*untouched"):
        meta.train(cfg, tmp_path, dataset=remember_the_class(), progress=False)
    ckpt = meta.load_checkpoint(tmp_path)
    assert ckpt["step"] == 2 and torch.isfinite(_theta(tmp_path)).all()


def test_cli_nan_exits_nonzero(tmp_path, monkeypatch, capsys):
    _nan_after(monkeypatch, calls_ok=1)
    code = meta.main(["train", "--config", "smoke", "--out", str(tmp_path), "--no-progress"])
    assert code != 0
    assert "non-finite" in capsys.readouterr().err
    assert meta.load_checkpoint(tmp_path)["step"] == 1


def test_cli_smoke_run_export_and_load(tmp_path, capsys):
    run = tmp_path / "run"
    assert meta.main(["train", "--config", "smoke", "--out", str(run), "--no-progress",
                      "--set", "steps=2", "--set", "checkpoint_every=1"]) == 0  # repeated --set: both apply
    out = capsys.readouterr().out
    assert meta.load_checkpoint(run)["config"]["checkpoint_every"] == 1
    assert str(run / "checkpoint.pt") in out and str(run / "metrics.jsonl") in out
    assert [r["step"] for r in meta.read_metrics(run)] == [1, 2]
    # --resume takes the config from the checkpoint; --steps extends the run.
    assert meta.main(["train", "--out", str(run), "--resume", "--steps", "3", "--no-progress"]) == 0
    assert meta.load_checkpoint(run)["step"] == 3

    assert meta.main(["export", "--run", str(run), "--name", "smoke_test", "--dest", str(tmp_path / "pre")]) == 0
    params, provenance = meta.load_pretrained("smoke_test", directory=tmp_path / "pre")
    flat = meta.flatten_params(params, meta.VSMLConfig.from_dict(provenance["model_config"]).sub_lstm)
    assert torch.equal(flat, _theta(run))
    assert provenance["steps"] == 3 and provenance["dataset"]["name"] == "digits"
    assert provenance["config"]["resize"] == 4 and "git_commit" in provenance and "date" in provenance
    assert "scikit-learn" in provenance["dataset"]["source"]
    # The same V_M on a wider layer (Section 4.3).
    net, params, _ = meta.pretrained_network("smoke_test", layer_sizes=(64, 10), directory=tmp_path / "pre")
    x, y = torch.randn(2, 5, 64), torch.randint(0, 10, (2, 5))
    assert torch.isfinite(net.run_episode(params, x, y).loss).all()


def test_load_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no pretrained"):
        meta.load_pretrained("missing", directory=tmp_path)
    (tmp_path / "broken.pt").write_bytes(b"not a torch file at all")
    (tmp_path / "broken.json").write_text("{}")
    with pytest.raises(RuntimeError, match="corrupted"):
        meta.load_pretrained("broken", directory=tmp_path)
    torch.save({"lstm_w": torch.zeros(2)}, tmp_path / "odd.pt")
    (tmp_path / "odd.json").write_text("{not json")
    with pytest.raises(RuntimeError, match="corrupted"):
        meta.load_pretrained("odd", directory=tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"\x00" * 10)
    with pytest.raises(RuntimeError, match="unreadable"):
        meta.load_checkpoint(tmp_path / "run")


def test_plot_metrics(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    records = [{"step": s, "loss": 2.3 - 0.01 * s, "accuracy": 0.1 + 0.01 * s} for s in range(1, 6)]
    records[-1].update(eval_loss=2.0, eval_accuracy=0.2)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    ax = meta.plot_metrics(tmp_path, smooth=2)
    assert len(ax.get_lines()) == 1 and ax.get_xlabel() == "meta-training step"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["meta-loss", "accuracy (train episodes)",
                                                                    "accuracy (eval)"]
    # a run with eval_at_start and standard errors: step 0 has no training loss, the evaluations get error bars
    records = [{"step": 0, "eval_loss": 2.2, "eval_accuracy": 0.12, "eval_accuracy_se": 0.01}] + records
    records[-1]["eval_accuracy_se"] = 0.02
    ax = meta.plot_metrics(records)
    acc_ax = ax.figure.axes[1]
    drawn = [t.get_text() for t in ax.get_legend().get_texts()]  # the legend as drawn
    assert drawn == ["meta-loss", "accuracy (train episodes)", "accuracy (eval, +- 1 SE)"]
    assert len(acc_ax.containers) == 1  # one errorbar container
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]  # the loss curve starts at the first step


# ------------------------------------------------------------------- processes

WORKER = textwrap.dedent("""
    import sys, torch
    sys.path.insert(0, {tests!r})
    torch.set_num_threads(1)
    from tiny_tasks import remember_the_class, tiny
    from vsml import meta
    meta.train(tiny(method={method!r}, num_pairs=4, meta_batch_size=4, num_threads=1), {out!r},
               dataset=remember_the_class(), progress=False)
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_two_gloo_processes_match_one(tmp_path, method):
    one = meta.train(tiny(method=method, num_threads=1), tmp_path / "one", dataset=remember_the_class(),
                     progress=False)
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(ROOT / "tests"), method=method, out=str(tmp_path / "two")))
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2",
               OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, str(script)], env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert "2 process(es)" in outputs[0]
    two = _theta(tmp_path / "two")
    if method == "es":  # same noise, same episodes, same losses: the very same parameters
        assert torch.equal(one.params_flat, two)
    else:  # the all-reduce sums in another order: the same run up to rounding
        for a, b in zip(one.metrics, meta.read_metrics(tmp_path / "two")):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
            assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
        # (Adam turns rounding noise in near-zero gradients into +-lr steps, so compare typical entries.)
        assert (one.params_flat - two).abs().median() < 1e-6


@pytest.mark.parametrize("name,model,num_params", [("mnist_bptt", "vsml", 2416), ("mnist_metarnn_bptt", "metarnn", 5034)])
def test_shipped_meta_learned_parameters_load_with_provenance(name, model, num_params):
    """The book's shipped learners (chapter 'Meta learning from scratch') load with weights_only and say how they were made."""
    params, prov = meta.load_pretrained(name)
    assert prov["model"] == model and prov["num_params"] == num_params
    assert sum(v.numel() for v in params.values()) == num_params
    for key in ("config", "dataset", "steps", "device", "wall_time_s", "git_commit", "date", "curve", "eval_curve"):
        assert key in prov, key
    assert prov["dataset"]["name"] == "mnist" and prov["config"]["resize"] == 7
    assert all(torch.isfinite(v).all() for v in params.values())


def test_shipped_vsml_runs_on_any_input_size_deterministically():
    """Section 4.3: the V_M meta-trained on 49 inputs drives a 784 x 10 layer; same seed, same predictions."""
    x, y = torch.randn(2, 6, 784, generator=torch.Generator().manual_seed(0)), torch.randint(0, 10, (2, 6))
    outs = []
    for _ in range(2):
        net, params, _ = meta.pretrained_network("mnist_bptt", layer_sizes=(784, 10))
        with torch.inference_mode():
            outs.append(net.run_episode(params, x, y, generator=torch.Generator().manual_seed(3)).logits)
    assert outs[0].shape == (2, 6, 10) and torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("resize", [None, 7])
@pytest.mark.parametrize("num_seeds", [3, 20])  # 20: the thread-pool draw
def test_prepared_inputs_give_the_same_episodes_as_make_episodes(resize, num_seeds):
    from vsml.meta.episodes import PreparedInputs, make_episodes
    g = torch.Generator().manual_seed(0)
    data = Dataset("synthetic", "train", torch.randint(0, 256, (300, 1, 28, 28), generator=g).float(),
                        torch.randint(10, (300,), generator=g), 10, "test fixture")
    config = tiny(resize=resize)
    seeds = [meta.derive_seed(0, 5, "episode", i) for i in range(num_seeds)]
    x_ref, y_ref = make_episodes(config, data, seeds, 40)
    x, y = PreparedInputs(config, data, chunk=64).episodes(seeds, 40)
    assert x.shape == x_ref.shape == (num_seeds, 40, 784 if resize is None else 49)
    assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
    with pytest.raises(ValueError, match="exceeds"):
        PreparedInputs(config, data).episodes(seeds, 301)


def test_trainer_draws_prepared_episodes_only_where_they_equal_the_plain_path():
    from vsml.meta.episodes import PreparedInputs
    assert PreparedInputs.applies(tiny(), remember_the_class())
    assert not PreparedInputs.applies(tiny(random_projection=True), remember_the_class())
    trainer = meta.MetaTrainer(tiny(), remember_the_class())
    x, y, _ = trainer.episodes(3, 0, 4)
    x_ref, y_ref = meta.make_episodes(trainer.config, trainer.data,
                                      [meta.derive_seed(0, 3, "episode", i) for i in range(4)], 12)
    assert torch.equal(x, x_ref) and torch.equal(y, y_ref) and "train" in trainer._prepared
