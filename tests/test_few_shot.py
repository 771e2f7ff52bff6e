"""Few-shot meta-training and meta-testing (Appendix B.2, Omniglot, Figure 18): vsml.meta episode_kind, vsml.few_shot."""
import dataclasses

import pytest
import torch

from test_data import offline, publish, write_omniglot  # noqa: F401 (fixture)
from tiny_tasks import tiny
from vsml import data, few_shot, meta
from vsml.data import Dataset

pytestmark = pytest.mark.usefixtures("one_thread")
MODELS = {"vsml": {}, "metarnn": {"hidden_size": 4}, "fwmemory": {"hidden_size": 4, "memory_size": 2}}


def classes_dataset(num_classes=6, per_class=4, side=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_classes).repeat_interleave(per_class)
    x = torch.rand(len(y), 1, side, side, generator=g) + y[:, None, None, None].float()
    return Dataset("synthetic", "train", x, y, num_classes, "test fixture")


def fs_config(**changes):
    values = dict(method="bptt", episode_kind="few_shot", n_way=3, k_shot=1, episode_length=4, eval_length=4,
                  meta_batch_size=4, eval_episodes=3, lr=0.01)
    values.update(changes)
    return tiny(**values)


@pytest.mark.parametrize("changes, match", [
    (dict(episode_kind="batch"), "episode_kind must be one of"),
    (dict(episode_kind="online", n_way=3), "apply to episode_kind: few_shot"),
    (dict(n_way=None), "needs n_way and k_shot"),
    (dict(n_way=1), "n_way >= 2"),
    (dict(episode_length=12), "set episode_length and eval_length to 4"),
    (dict(eval_length=5), "set episode_length and eval_length to 4"),
    (dict(tasks=[{"dataset": "mnist"}]), "mixture"),
    (dict(episode_length_max=8), "episode_length_max"),
])
def test_bad_few_shot_configs_are_rejected(changes, match):
    with pytest.raises(ValueError, match=match):
        fs_config(**changes)


def test_old_checkpoints_without_the_new_keys_still_resume():
    cfg = tiny()
    saved = {k: v for k, v in cfg.to_dict().items() if k not in ("episode_kind", "n_way", "k_shot")}
    meta.check_resumable(saved, cfg)
    with pytest.raises(ValueError, match="episode_kind"):
        meta.check_resumable(saved, fs_config())


def test_few_shot_episodes_depend_only_on_their_seed():
    cfg, ds = fs_config(), classes_dataset()
    x, y, mask = meta.make_few_shot_episodes(cfg, ds, [11, 12, 13])
    x2, y2, _ = meta.make_few_shot_episodes(cfg, ds, [12])
    assert torch.equal(x[1:2], x2) and torch.equal(y[1:2], y2)
    assert mask.tolist() == [False, False, False, True]
    assert not torch.equal(x[0], x[2])
    support = y[:, :-1].sort(1).values
    assert torch.equal(support, torch.arange(3).expand(3, 3))  # one labelled example of each of the 3 classes


def test_the_meta_loss_counts_only_the_query():
    ds = classes_dataset()
    trainer = meta.MetaTrainer(fs_config(), ds)
    x, y, state = trainer.episodes(0, 0, 4)
    theta = trainer.theta.detach().clone().requires_grad_(True)
    loss, _ = trainer.model.run(theta, x, y, state)
    query_grad, = torch.autograd.grad(loss[:, -1].mean(), theta, retain_graph=True)
    all_grad, = torch.autograd.grad(loss.mean(), theta)
    assert trainer.num_classes == 3
    record = trainer.step(0)
    assert record["loss"] == pytest.approx(float(loss[:, -1].mean().detach()), rel=1e-5)
    assert record["grad_norm"] == pytest.approx(float(query_grad.norm()), rel=1e-4)
    assert not torch.allclose(query_grad, all_grad)  # the support steps would change it


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("method", ["bptt", "es"])
def test_each_model_takes_few_shot_meta_training_steps(model, method):
    cfg = fs_config(model=model, model_options=MODELS[model], method=method, num_pairs=2)
    trainer = meta.MetaTrainer(cfg, classes_dataset())
    start = trainer.params_flat
    records = [trainer.step(s) for s in range(2)]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    assert not torch.equal(start, trainer.params_flat)
    ev = trainer.evaluate()
    assert 0.0 <= ev["eval_accuracy"] <= 1.0 and ev["eval_accuracy"] * 3 == pytest.approx(round(ev["eval_accuracy"] * 3))


def test_online_runs_are_unchanged_by_the_few_shot_path():
    cfg = tiny(method="bptt")
    assert cfg.episode_kind == "online" and cfg.few_shot_length is None
    trainer = meta.MetaTrainer(cfg, classes_dataset())
    assert trainer.loss_mask is None
    values = torch.rand(2, 5)
    assert trainer.scored(values) is values


def test_few_shot_meta_test_scores_the_query_of_each_learner(tmp_path):
    cfg = fs_config(steps=2, checkpoint_every=2, eval_every=0)
    ds = classes_dataset()
    meta.train(cfg, tmp_path / "run", dataset=ds, progress=False)
    meta.export(tmp_path / "run", "fs_tiny", dest=tmp_path)
    learners = [few_shot.Learner("VSML", "vsml", str(tmp_path / "fs_tiny.pt")), few_shot.Learner("Adam", "Adam")]
    out = few_shot.evaluate(learners, ds, num_episodes=7, n_way=3, chunk=3)
    assert set(out) == {"VSML", "Adam"} and all(r["episodes"] == 7 for r in out.values())
    for r in out.values():
        assert round(r["acc"] * 7 / 100) == pytest.approx(r["acc"] * 7 / 100, abs=1e-4)  # whole episodes
        # the per-episode outcomes, for paired comparisons: one per episode, and they give the accuracy
        assert r["correct"].shape == (7,) and r["correct"].dtype == torch.bool
        assert 100 * float(r["correct"].float().mean()) == pytest.approx(r["acc"])
    with pytest.raises(ValueError, match="needs a pretrained"):
        few_shot.load_learner(few_shot.Learner("x", "metarnn"))


def test_only_the_query_step_is_scored(monkeypatch):
    """The support steps' outcomes must not count: a learner right on every support step and wrong on
    the query scores 0 %, one wrong on the support and right on the query 100 %."""
    def fake_meta_test(method, x, y, n_way, **kwargs):
        correct = torch.ones(x.shape[:2], dtype=torch.bool)
        correct[:, -1] = False                    # right on the support, wrong on the query
        return {"correct": correct if kwargs["lr"] < 1 else ~correct}
    monkeypatch.setattr(few_shot, "meta_test", fake_meta_test)
    x, y = torch.zeros(4, 6, 3), torch.zeros(4, 6, dtype=torch.long)
    assert not few_shot.query_correct(few_shot.Learner("a", "SGD", lr=0.5), x, y, 3).any()
    assert few_shot.query_correct(few_shot.Learner("b", "SGD", lr=3.0), x, y, 3).all()


def test_binomial_sem():
    acc, sem = few_shot.binomial_sem(torch.tensor([True, False, True, False]))
    assert acc == 50.0 and sem == pytest.approx(100 * (0.25 / 3) ** 0.5)
    assert few_shot.binomial_sem_of(50.0, 4) == pytest.approx(sem)
    assert few_shot.binomial_sem_of(25.0, 1) == pytest.approx((25.0 * 75.0) ** 0.5)  # one episode: no n - 1


def test_omniglot_path_on_a_tiny_archive(offline, tmp_path, monkeypatch):  # noqa: F811
    """The chapter's Omniglot path: meta-train on background alphabets, meta-test on evaluation alphabets."""
    folder = tmp_path / "cache" / "omniglot"
    folder.mkdir(parents=True)
    write_omniglot(folder / "images_background.zip", alphabets=("Greek", "Latin"), characters=3, drawings=3)
    write_omniglot(folder / "images_evaluation.zip", alphabets=("Atlantean",), characters=5, drawings=2)
    publish(monkeypatch, "omniglot", folder)
    cfg = dataclasses.replace(meta.load_config("cpu_bptt_fewshot_vsml"), init_from=None, dataset="omniglot",
                              meta_batch_size=2, steps=1, eval_every=0, checkpoint_every=1, device="cpu")
    train, test = data.load("omniglot", "train"), data.load("omniglot", "test")
    assert train.num_classes == 6 and test.num_classes == 5
    meta.train(cfg, tmp_path / "run", dataset=train, eval_dataset=test, progress=False)
    meta.export(tmp_path / "run", "fs_omniglot", dest=tmp_path)
    out = few_shot.evaluate([few_shot.Learner("VSML", "vsml", str(tmp_path / "fs_omniglot.pt"))], test,
                            num_episodes=4, n_way=5, image_size=7)
    assert out["VSML"]["episodes"] == 4


def test_a_baseline_learner_takes_its_own_learning_rate():
    ds = classes_dataset()
    ep = few_shot.tasks.few_shot_episodes(ds, 8, 5, 1, seed=0)
    paper = few_shot.query_correct(few_shot.Learner("SGD", "SGD"), ep.x, ep.y, 5)
    out = {lr: few_shot.meta_test("SGD", ep.x, ep.y, 5, lr=lr)["loss"] for lr in (None, 1e-2, 3.0)}
    assert torch.equal(out[None], out[1e-2])        # None is the paper's rate
    assert not torch.allclose(out[None], out[3.0])  # the rate reaches the baseline
    assert paper.shape == (8,)
    with pytest.raises(ValueError, match="learns without one"):
        few_shot.meta_test("metarnn", ep.x, ep.y, 5, params={}, lr=0.1)


def test_tune_lr_widens_until_the_best_rate_is_inside(monkeypatch):
    def fake_evaluate(learners, dataset, **kw):  # accuracy peaks at lr 0.1
        return {l.name: {"acc": -abs(torch.tensor(l.lr).log10().item() + 1)} for l in learners}

    monkeypatch.setattr(few_shot, "evaluate", fake_evaluate)
    best, table = few_shot.tune_lr("Adam", None, [1e-3, 1e-2], num_episodes=4)
    assert best == pytest.approx(0.1) and max(table) == pytest.approx(1.0)  # widened twice to the right
    assert min(table) == pytest.approx(1e-3)
    best, table = few_shot.tune_lr("Adam", None, [1e-8, 1e-7], num_episodes=4, max_widen=2)
    assert best == pytest.approx(1e-5) and len(table) == 4  # stopped at the limit, still at the edge
    with pytest.raises(ValueError, match="baseline"):
        few_shot.tune_lr("vsml", None, [1e-3, 1e-2], num_episodes=4)
