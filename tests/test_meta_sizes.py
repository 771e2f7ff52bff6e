"""Meta-training across input sizes (Section 4.3: "we train across rescaled versions"; MetaConfig.resize_choices)."""
import pytest
import torch

from tiny_tasks import tiny, tiny_dataset
from vsml import meta


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_each_update_draws_one_size_and_one_v_m_serves_all(method):
    data = tiny_dataset(num=60, side=6)
    cfg = tiny(method=method, resize=3, resize_choices=[2, 3, 4], meta_batch_size=2)
    trainer = meta.MetaTrainer(cfg, data)
    sizes = {trainer.step_resize(s) for s in range(40)}
    assert sizes == {2, 3, 4}  # every choice is drawn, and nothing else
    for step in range(6):
        side = trainer.step_resize(step)
        x, y, state = trainer.episodes(step, 0, 2)
        assert x.shape == (2, cfg.episode_length, side * side)  # all episodes of one update share the size
        assert state.h[0].shape[1] == side * side
    assert trainer.step_resize(3) == meta.MetaTrainer(cfg, data).step_resize(3)  # seeded by (seed, step)
    before = trainer.params_flat.clone()
    for step in range(3):
        assert torch.isfinite(torch.tensor(trainer.step(step)["loss"]))
    assert trainer.params_flat.shape == before.shape and not torch.equal(trainer.params_flat, before)
    assert trainer.input_size == 9 and set(trainer._models) >= {9}  # evaluation at resize (3x3)
    assert 0 <= trainer.evaluate()["eval_accuracy"] <= 1


def test_without_choices_the_size_is_fixed():
    trainer = meta.MetaTrainer(tiny(resize=3), tiny_dataset(side=6))
    assert {trainer.step_resize(s) for s in range(10)} == {3}
    assert trainer.model_for(9) is trainer.model


@pytest.mark.parametrize("changes, message", [
    (dict(resize_choices=[]), "non-empty list"),
    (dict(resize_choices=[0, 3]), "side lengths >= 1"),
    (dict(resize_choices=[2, 3], model="metarnn"), "needs model: vsml"),
    (dict(resize_choices=[2, 3], resize=None), "needs resize"),
    (dict(resize_choices=[2, 3], method="bptt", segment_length=6), "long-horizon pool"),
])
def test_bad_size_choices_get_one_line_errors(changes, message):
    values = dict(resize=3)
    values.update(changes)
    with pytest.raises(ValueError, match=message):
        tiny(**values)
