"""Figure 21's path (vsml/conv_transfer.py): meta-train the conv VSML on CIFAR-10, meta-test on CIFAR-10 and
Fashion-MNIST; run here on a tiny CIFAR-format archive, and "not run" without one."""
import pytest
import torch

from test_data import offline, publish, write_cifar, write_mnist_like  # noqa: F401 (fixture)
from vsml import conv_transfer, data


def test_without_cifar_nothing_runs_and_the_reason_is_given(offline, tmp_path):  # noqa: F811
    out = conv_transfer.figure21(tmp_path, steps=1, init_from=None, num_runs=2, length=5, progress=False)
    assert out["ran"] is False and out["why"].startswith("not run: CIFAR-10 is not on this machine")
    assert "fetch cifar10" in out["why"] and "install_offline_data.sh" in out["why"]
    assert not (tmp_path / "run").exists()


def test_figure21_on_a_tiny_cifar_archive(offline, tmp_path, monkeypatch):  # noqa: F811
    folder = tmp_path / "cache" / "cifar10"
    write_cifar(folder, per_batch=6)
    publish(monkeypatch, "cifar10", folder)
    fashion = tmp_path / "cache" / "fashion_mnist"
    write_mnist_like(fashion, n_train=12, n_test=8)
    publish(monkeypatch, "fashion_mnist", fashion)
    monkeypatch.setitem(data.SIZES, "fashion_mnist", (12, 8))
    out = conv_transfer.figure21(tmp_path / "fig21", steps=1, init_from=None, num_runs=2, length=6,
                                 image_size=4, tune_runs=2, sgd_grid=(1e-2, 1e-1), progress=False,
                                 meta_batch_size=2, episode_length=6, episode_length_max=None, segment_length=3,
                                 eval_every=0, checkpoint_every=1, device="cpu")
    assert out["ran"] and (tmp_path / "fig21" / "cifar_conv_bptt.pt").exists()
    prov = out["provenance"]
    assert prov["model"] == "vsml_conv" and prov["model_config"]["input_shape"] == [3, 4, 4]
    assert prov["config"]["dataset"] == "cifar10"
    for task in conv_transfer.TEST_TASKS:  # three colour channels, then one: the same V_M
        for learner, curve in out["curves"][task].items():
            assert curve.shape == (2, 6) and torch.all((curve >= 0) & (curve <= 1)), (task, learner)
        assert out["sgd_lr"][task] in (1e-2, 1e-1)
    mean, se = conv_transfer.final_accuracy(out["curves"]["cifar10"]["SGD"])
    assert 0 <= mean <= 100 and se >= 0
    assert out["trained_here"]

    # An exported V_M is meta-tested as it is: nothing is trained, and its run must be the one asked for.
    exported = str(tmp_path / "fig21" / "cifar_conv_bptt.pt")
    same = dict(init_from=None, num_runs=2, length=6, image_size=4, tune_runs=2, sgd_grid=(1e-2, 1e-1),
                progress=False, meta_batch_size=2, episode_length=6, episode_length_max=None, segment_length=3,
                eval_every=0, checkpoint_every=1, device="cpu")
    again = conv_transfer.figure21(tmp_path / "fig21b", steps=1, pretrained=exported, **same)
    assert again["ran"] and not again["trained_here"] and not (tmp_path / "fig21b" / "run").exists()
    assert again["train_seconds"] == out["provenance"]["wall_time_s"]
    assert torch.equal(again["curves"]["cifar10"]["VSML, conv"], out["curves"]["cifar10"]["VSML, conv"])
    with pytest.raises(ValueError, match=r"steps \(1 there, 5 asked\)"):
        conv_transfer.figure21(tmp_path / "fig21c", steps=5, pretrained=exported, **same)
    with pytest.raises(ValueError, match="episode_length"):
        conv_transfer.figure21(tmp_path / "fig21c", steps=1, pretrained=exported, **dict(same, episode_length=8))

    # Continuing an exported V_M: the start is meta-tested beside it, unchanged.
    more = conv_transfer.figure21(tmp_path / "fig21d", steps=1, **dict(same, init_from=exported))
    start = "VSML, conv start (cifar_conv_bptt)"
    assert set(more["curves"]["cifar10"]) == {"VSML, conv", "SGD", start} and more["start_label"] == start
    assert torch.equal(more["curves"]["cifar10"][start], out["curves"]["cifar10"]["VSML, conv"])


def test_the_shipped_figure21_config_is_what_cifar_config_builds():
    from vsml import meta
    assert meta.load_config("cpu_bptt_conv_cifar") == conv_transfer.cifar_config(600, "mnist_conv_bptt")
