"""Task mixtures for meta-training (vsml/task_mixture.py; Sections 4.3-4.4, Figure 8)."""
import pytest
import torch

from tiny_tasks import tiny
from vsml import meta
from vsml.data import Dataset
from vsml.task_mixture import TaskMixture, TaskSpec, task_specs


def images(num_classes, side=4, n=120, seed=0, channels=1):
    g = torch.Generator().manual_seed(seed)
    return Dataset("mnist", "train", torch.rand(n, channels, side, side, generator=g),
                   torch.arange(n) % num_classes, num_classes, "built in the test")


def mixture(specs, **datasets):
    return TaskMixture(specs, "train", None, datasets=datasets)


def test_specs_are_checked_with_one_line_errors():
    assert task_specs([{"dataset": "mnist", "classes": [3, 4]}])[0] == TaskSpec("mnist", 1.0, (3, 4))
    for bad, message in [([], "non-empty list"), ("mnist", "non-empty list"),
                         ([{"dataset": "cifar"}], r"tasks\[0\]: task dataset must be one of"),
                         ([{"dataset": "mnist", "weight": 0}], "weight must be > 0"),
                         ([{"dataset": "random", "classes": [3]}], "not to 'random'"),
                         ([{"dataset": "mnist", "classes": [1]}], "subset sizes >= 2"),
                         ([{"dataset": "mnist", "wieght": 1}], "unknown")]:
        with pytest.raises(ValueError, match=message):
            task_specs(bad)
    with pytest.raises(ValueError, match="exceed its 10 classes"):
        mixture([{"dataset": "mnist", "classes": [11]}], mnist=images(10))


def test_tasks_are_drawn_by_weight_and_episodes_share_one_shape():
    mix = mixture([{"dataset": "mnist", "weight": 3}, {"dataset": "random"}, {"dataset": "sum_sign"}],
                  mnist=images(10, side=4))
    assert (mix.num_features, mix.num_classes, mix.name) == (16, 10, "mnist+random+sum_sign")
    draws = [mix.draw(s)[0].dataset for s in range(3000)]
    share = draws.count("mnist") / len(draws)
    assert 0.55 < share < 0.65 and draws.count("random") > 450 and draws.count("sum_sign") > 450  # 3:1:1
    for s in range(30):
        x, y = mix.episode(s, 20)
        assert x.shape == (1, 20, 16) and y.shape == (1, 20) and int(y.max()) < 10
    a, b = mix.episode(5, 20), mix.episode(5, 20)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_class_subsets_and_padding_to_the_largest_input():
    mix = mixture([{"dataset": "mnist", "classes": [3, 4]}, {"dataset": "cifar10"}],
                  mnist=images(10, side=4), cifar10=images(5, side=4, channels=3))
    assert mix.num_features == 48 and mix.num_classes == 5  # 3 x 4 x 4 inputs; the 5 classes of cifar10
    seen = set()
    for s in range(40):
        spec, k = mix.draw(s)  # the episode's task
        x, y = mix.episode(s, 30)
        assert x.shape == (1, 30, 48)
        if spec.dataset == "mnist":
            assert len(y.unique()) <= k < 5 and int(y.max()) < k
            assert torch.all(x[..., 16:] == 0) and x[..., :16].abs().sum() > 0  # padded 16 -> 48 inputs
            seen.add(k)
        else:
            assert int(y.max()) < 5 and x[..., 16:].abs().sum() > 0
    assert seen == {3, 4}


def test_meta_config_and_trainer_use_the_mixture():
    specs = [{"dataset": "mnist", "classes": [2]}, {"dataset": "sum_sign"}]
    cfg = tiny(tasks=specs, episode_length=10, eval_length=10)
    assert cfg.tasks == specs and meta.MetaConfig.from_dict(cfg.to_dict()).tasks == specs
    data = mixture(specs, mnist=images(3, side=2))
    trainer = meta.MetaTrainer(cfg, data)
    assert (trainer.input_size, trainer.num_classes) == (4, 2)  # the 2-class subsets, the 2 signs
    x, y, _ = trainer.episodes(0, 0, 4)
    assert x.shape == (4, 10, 4)
    assert torch.isfinite(torch.tensor(trainer.step(0)["loss"]))
    assert meta.dataset_info(data)["tasks"][1]["dataset"] == "sum_sign"
    with pytest.raises(ValueError, match=r"tasks\[1\]"):
        tiny(tasks=[{"dataset": "mnist"}, {"dataset": "nope"}])


def test_long_horizon_segments_of_a_mixture_are_slices_of_its_episodes():
    specs = [{"dataset": "mnist", "classes": [2, 3]}, {"dataset": "random"}]
    cfg = tiny(method="bptt", tasks=specs, episode_length=10, episode_length_max=40, segment_length=10,
               random_projection=True)
    data = mixture(specs, mnist=images(4, side=3))
    for seed in range(6):  # both tasks, with their projection (a matmul over 10 rows or 40: float32 rounding)
        x, y = meta.make_episodes(cfg, data, [seed], 40)
        parts = [meta.make_episode_segment(cfg, data, seed, 40, a, a + 10) for a in range(0, 40, 10)]
        torch.testing.assert_close(torch.cat([p[0] for p in parts], 1), x, rtol=0, atol=1e-5)
        assert torch.equal(torch.cat([p[1] for p in parts], 1), y)
    with pytest.raises(ValueError, match="start < stop"):
        data.episode_segment(0, 40, 30, 50)
    trainer = meta.MetaTrainer(cfg, data)
    losses = [trainer.step(s)["loss"] for s in range(3)]  # the pool restarts slots across segments
    assert all(torch.isfinite(torch.tensor(v)) for v in losses)
