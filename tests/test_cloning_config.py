"""The shadow network's learning as CloningConfig fields: bias scale, initial weights, named configs.

Paper: Section 3.2 / Figure 4 (the local rule a sub-LSTM clones), Section 4.1 and
Appendix B.1 (Figures 5, 11: meta-testing beside exact SGD). The defaults must keep
the shipped clones' rule bit for bit; the named ``well_conditioned_*`` configs must
hold the setting :mod:`vsml.cloning.shadow_sweep` chose.
"""
import torch

from tiny_tasks import tiny_cfg, tiny_dataset
from vsml import cloning
from vsml.cloning import CloningConfig, cli
from vsml.cloning.shadow_sweep import WELL_CONDITIONED
from vsml.cloning.trainer import ShadowStream, random_tuples, target_scales
from vsml.lstm import init_params

torch.set_num_threads(1)


def _tuple(n=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g) * s for s in (2.0, 0.5, 3.0, 1.0)]  # x, e, w, b


def test_local_targets_scale_only_the_bias_step():
    x, e, w, b = _tuple()
    plain, scaled = cloning.local_targets(x, e, w, b, 0.7), cloning.local_targets(x, e, w, b, 0.7, bias_scale=0.01)
    torch.testing.assert_close(scaled["db"], -0.01 * 0.7 * e)
    for k in ("y", "dw", "e_prev"):
        assert torch.equal(scaled[k], plain[k])


def test_default_targets_are_the_figure_4_rule_bit_for_bit():
    x, e, w, b = _tuple()
    t = cloning.local_targets(x, e, w, b, 0.3)
    assert torch.equal(t["db"], -0.3 * e)           # the rule the shipped clones were cloned onto
    assert torch.equal(t["dw"], -0.3 * e * torch.tanh(x))


def test_defaults_are_the_shipped_clones_learning():
    cfg = CloningConfig()
    assert (cfg.w_init, cfg.bias_scale, cfg.b_range, cfg.bias_range) == (cloning.W_INIT, 1.0, None, cfg.w_range)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    old_style = random_tuples(100, cfg, g1)
    explicit = random_tuples(100, CloningConfig(b_range=cfg.w_range), g2)
    assert all(torch.equal(old_style[k], explicit[k]) for k in old_style)


def test_random_biases_follow_b_range():
    t = random_tuples(2000, CloningConfig(w_range=10.0, b_range=0.5), torch.Generator().manual_seed(0))
    assert float(t["b"].abs().max()) <= 0.5 < float(t["w"].abs().max())


def test_shadow_stream_learns_with_the_configs_rule():
    """The shadow tuples' networks start at U(-w_init, w_init) and take shadow_step with G, lr, bias scale."""
    ds = tiny_dataset()
    for cfg in (tiny_cfg(), tiny_cfg(w_init=1.0, logit_gain=100.0, lr=3.0, bias_scale=0.01)):
        stream = ShadowStream((ds.num_features, 10), cfg, ds, seed=5)
        stream.next()
        g = torch.Generator().manual_seed(5)
        layers = cloning.init_layers((ds.num_features, 10), cfg.w_init, g)
        idx = torch.randint(len(ds.y), (cfg.shadow_batch,), generator=g)
        want, _, _ = cloning.shadow_step(layers, ds.x.flatten(1)[idx], ds.y[idx], cfg.logit_gain, cfg.lr,
                                         cfg.bias_scale)
        for (w_got, b_got), (w_want, b_want) in zip(stream.layers, want):
            assert torch.equal(w_got, w_want) and torch.equal(b_got, b_want)


def test_target_scales_follow_the_bias_scale():
    base, scaled = target_scales(CloningConfig()), target_scales(CloningConfig(bias_scale=0.01))
    assert abs(scaled["db"] / base["db"] - 0.01) < 1e-6
    assert scaled["dw"] == base["dw"]


def _sgd_losses(cfg, ds, sizes, steps, seed):
    """Exact SGD as metatest's reference arm must run it: same generator, init, batches and rule."""
    g = torch.Generator().manual_seed(seed)
    layers = cloning.init_layers(sizes, cfg.w_init, g)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(ds.y), (64,), generator=g)
        x, y = ds.x.flatten(1)[idx], ds.y[idx]
        layers, zs, _ = cloning.shadow_step(layers, x, y, cfg.logit_gain, cfg.lr, cfg.bias_scale)
        losses.append(float(torch.nn.functional.cross_entropy(cfg.logit_gain * zs[-1], y)))
    return torch.tensor(losses)


def test_metatest_sgd_arm_runs_the_configs_setting():
    ds = tiny_dataset(num=80)
    setting = WELL_CONDITIONED["deep"]
    cfg = tiny_cfg(w_init=setting.w_init, logit_gain=setting.logit_gain, lr=setting.lrs[0],
                   bias_scale=setting.bias_scale)
    params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(0))
    res = cloning.metatest(params, cfg, ds, ds, hidden=4, steps=3, seeds=[0, 1], eval_every=3, test_size=10,
                           impl="fast")
    for row, seed in zip(res["sgd"]["loss"], (0, 1)):
        assert torch.equal(row, _sgd_losses(cfg, ds, res["sizes"], 3, seed))
    # The setting matters: today's defaults give other losses on the same batches.
    assert not torch.equal(res["sgd"]["loss"][0], _sgd_losses(tiny_cfg(), ds, res["sizes"], 3, 0))


def test_named_configs_hold_the_well_conditioned_setting_and_round_trip():
    assert {"well_conditioned_shallow", "well_conditioned_deep"} <= set(cloning.config_names())
    cfgs = {stage: cloning.load_config(f"well_conditioned_{stage}") for stage in ("shallow", "deep")}
    for stage, cfg in cfgs.items():
        s = WELL_CONDITIONED[stage]
        assert cfg.stage == stage and set(s.lrs) == {cfg.lr}  # one rate fits every layer of the setting
        assert (cfg.w_init, cfg.logit_gain, cfg.bias_scale) == (s.w_init, s.logit_gain, s.bias_scale)
        assert CloningConfig.from_dict(cfg.to_dict()) == cfg
        assert cfg.w_range >= 4.0 * s.w_init / 3.0 and cfg.bias_range > 0  # room beyond the initial weights
    assert cfgs["shallow"].state_scale == cfgs["deep"].state_scale  # the deep stage starts from the shallow clone
    assert cloning.load_config("well_conditioned_deep", ["bias_scale=0.1"]).bias_scale == 0.1


def test_cli_train_reads_a_named_config(tmp_path):
    args = cli._parser().parse_args(["train", "--config", "well_conditioned_deep", "--out", str(tmp_path / "r"),
                                     "--steps", "2", "--set", "seed=4"])
    cfg = cli._train_config(args)
    assert (cfg.steps, cfg.seed, cfg.bias_scale, cfg.stage) == (2, 4, 0.01, "deep")
    bad = tmp_path / "bad.yaml"
    bad.write_text("bias_scal: 0.1\n")
    assert cli.main(["train", "--config", str(bad), "--out", str(tmp_path / "r2")]) != 0


def test_shipped_clones_configs_load_with_the_old_rule():
    for name in ("cloned_shallow", "cloned_deep"):
        _, cfg, info = cloning.load_cloned(name)
        assert "bias_scale" not in info["cloning_config"]   # recorded before these fields existed
        assert (cfg.w_init, cfg.bias_scale, cfg.bias_range) == (3.0, 1.0, cfg.w_range)
        assert (cfg.lr, cfg.logit_gain) == (1.0, 30.0)


def test_a_checkpoint_from_before_the_new_fields_resumes(tmp_path):
    ds = tiny_dataset()
    cloning.train(tiny_cfg(steps=2), tmp_path / "run", dataset=ds, progress=False)
    path = tmp_path / "run" / cloning.CHECKPOINT
    ckpt = torch.load(path, weights_only=False)
    for key in ("bias_scale", "w_init", "b_range"):
        del ckpt["config"][key]
    torch.save(ckpt, path)
    cloning.train(None, tmp_path / "run", dataset=ds, progress=False, resume=True)
    cloning.train(tiny_cfg(steps=3), tmp_path / "run", dataset=ds, progress=False, resume=True)
    assert cloning.load_run(tmp_path / "run")["state"]["step"] == 3
