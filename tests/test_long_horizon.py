"""Long-horizon meta-training (vsml/meta/episode_pool.py; Appendix B.2's proposed fix for short-horizon bias)."""
import dataclasses

import pytest
import torch

from tiny_tasks import assert_segments_equal_one_pass
from vsml import meta, tasks
from vsml.data import Dataset


def images(num=300, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Dataset("synthetic", "train", torch.rand(num, 1, 3, 3, generator=g),
                   torch.randint(0, classes, (num,), generator=g), classes, "test fixture")


def config(**changes):
    values = dict(method="bptt", dataset="synthetic", episode_length=8, segment_length=4, meta_batch_size=3,
                  lr=0.01, steps=6, checkpoint_every=2, eval_every=0, device="cpu")
    values.update(changes)
    return meta.MetaConfig(**values)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_segment_is_a_slice_of_the_whole_episode():
    data = images()
    cfg = config(random_projection=True)
    x, y = meta.make_episodes(cfg, data, [7], 40)
    xs, ys = meta.make_episode_segment(cfg, data, 7, 40, 12, 20)
    assert torch.equal(xs, x[:, 12:20]) and torch.equal(ys, y[:, 12:20])
    with pytest.raises(ValueError, match="start < stop"):
        tasks.online_episode_segment(data, 40, 20, 20)
    with pytest.raises(ValueError, match="exceeds"):
        tasks.online_episode_segment(data, 400, 0, 4)


def test_carried_segments_give_the_logits_of_one_long_pass():
    data = images()
    cfg = config()
    trainer = meta.MetaTrainer(cfg, data)
    model, theta = trainer.model, trainer.theta.detach()
    x, y = meta.make_episodes(cfg, data, [1, 2], 24)
    assert_segments_equal_one_pass(model, theta, x, y, [1, 2], 6)


def test_pool_slots_continue_their_episodes_and_restart_on_schedule():
    data = images()
    cfg = config(episode_length=4, segment_length=4, episode_length_max=40)
    trainer = meta.MetaTrainer(cfg, data)
    pool = trainer.pool
    lengths = []
    for s in range(12):
        before = pool.position.clone()
        stats = trainer.step(s)
        assert 0 <= stats["pool_position_mean"] and stats["loss"] > 0
        lengths.append(pool.length.clone())
        assert torch.all((pool.position == before + 4) | (pool.position == 4))  # continued, or restarted
    drawn = torch.stack(lengths)
    assert drawn.min() >= 4 and drawn.max() <= 40 and torch.all(drawn % 4 == 0)
    assert len(set(drawn.flatten().tolist())) > 1  # lengths are drawn per episode, not fixed
    # The schedule depends only on (seed, slot, episode): a second pool draws the same lengths.
    again = meta.MetaTrainer(cfg, data).pool
    assert [again.episode_length(again.episode_seed(i, k)) for i in range(3) for k in range(4)] == \
        [pool.episode_length(pool.episode_seed(i, k)) for i in range(3) for k in range(4)]
    other = meta.MetaTrainer(dataclasses.replace(cfg, seed=1), data).pool
    assert [other.episode_length(other.episode_seed(i, k)) for i in range(3) for k in range(4)] != \
        [pool.episode_length(pool.episode_seed(i, k)) for i in range(3) for k in range(4)]


def test_first_segment_state_is_the_fresh_episode_state():
    data = images()
    trainer = meta.MetaTrainer(config(), data)
    x, y, state = trainer.pool.next_segment()
    seeds = [trainer.pool.episode_seed(i, 0) for i in range(3)]
    fresh = trainer.model.initial_state(seeds, "cpu")
    assert all(torch.equal(a, b) for a, b in zip(state.c, fresh.c))
    x_full, y_full = meta.make_episodes(trainer.config, data, seeds, 8)
    assert torch.equal(x, x_full[:, :4]) and torch.equal(y, y_full[:, :4])


def test_resume_with_a_pool_is_bit_identical(tmp_path, monkeypatch):
    data = images()
    cfg = config(episode_length_max=16, steps=8, checkpoint_every=3)
    full = meta.train(cfg, tmp_path / "full", dataset=data, progress=False)
    original = meta.MetaTrainer.step

    def dies_at_step_5(self, s):
        if s == 5:
            raise KeyboardInterrupt
        return original(self, s)

    monkeypatch.setattr(meta.MetaTrainer, "step", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        meta.train(cfg, tmp_path / "cut", dataset=data, progress=False)
    monkeypatch.setattr(meta.MetaTrainer, "step", original)
    resumed = meta.train(cfg, tmp_path / "cut", resume=True, dataset=data, progress=False)
    assert torch.equal(resumed.params_flat, full.params_flat)
    assert [r["loss"] for r in resumed.metrics] == [r["loss"] for r in full.metrics]


def test_default_config_keeps_todays_behaviour():
    cfg = config(segment_length=None)
    assert not cfg.long_horizon and meta.MetaTrainer(cfg, images()).pool is None
    assert not config(segment_length=8).long_horizon  # a window equal to the episode: today's BPTT


@pytest.mark.parametrize("changes, match", [
    (dict(episode_length=10, segment_length=4), "multiple of segment_length"),
    (dict(episode_length_max=4), "must be >= episode_length"),
    (dict(method="es"), "need method: bptt"),
    (dict(model="metarnn"), "not implemented for the Meta RNN"),
    (dict(segment_length=0), "segment_length must be >= 1"),
])
def test_bad_long_horizon_configs(changes, match):
    with pytest.raises(ValueError, match=match):
        meta.MetaTrainer(config(**changes), images())


def test_init_from_a_run_folder_and_a_shipped_name(tmp_path):
    data = images()
    first = meta.train(config(steps=2), tmp_path / "a", dataset=data, progress=False)
    cont = meta.MetaTrainer(config(init_from=str(tmp_path / "a")), data)
    assert torch.equal(cont.theta.detach(), first.params_flat)
    with pytest.raises(FileNotFoundError, match="no pretrained parameters"):
        meta.MetaTrainer(config(init_from="no_such_name"), data)
    with pytest.raises(ValueError, match="does not fit this model"):
        # mnist_bptt was trained with LayerNorm on the messages: more parameters than this model
        meta.MetaTrainer(config(init_from="mnist_bptt"), data)
    shipped = meta.MetaTrainer(config(init_from="mnist_bptt", model_options={"sub_lstm": {"layer_norm": True}}), data)
    params, _ = meta.load_pretrained("mnist_bptt")
    assert torch.equal(shipped.theta.detach(), meta.flatten_params(params, shipped.model.config.sub_lstm))
