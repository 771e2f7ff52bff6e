"""A cloning export states the device and machine the run was trained on (Section 3.2 runs, vsml.cloning.run).

The export used to write ``"device": "cpu"`` and the *exporting* machine
whatever the training run had used; both now come from the checkpoint.
"""
import pytest
import torch

from tiny_tasks import tiny_cfg, tiny_dataset
from vsml import cloning
from vsml.device import describe


def test_export_takes_device_and_machine_from_the_checkpoint(tmp_path):
    cloning.train(tiny_cfg(steps=2), tmp_path / "run", dataset=tiny_dataset(), progress=False)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ckpt["device"] == describe("cpu") and "cores" in ckpt["machine"]
    ckpt["device"], ckpt["machine"] = "cuda (Some GPU, 80 GiB)", "aarch64, 72 cores"
    torch.save(ckpt, tmp_path / "run" / "checkpoint.pt")
    _, js = cloning.export(tmp_path / "run", "tiny", dest=tmp_path / "out")
    _, _, prov = cloning.load_cloned(str(js.with_suffix(".pt")))
    assert (prov["device"], prov["machine"]) == ("cuda (Some GPU, 80 GiB)", "aarch64, 72 cores")


def test_export_of_an_old_checkpoint_does_not_guess(tmp_path):
    cloning.train(tiny_cfg(steps=2), tmp_path / "run", dataset=tiny_dataset(), progress=False)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    del ckpt["device"], ckpt["machine"]
    torch.save(ckpt, tmp_path / "run" / "checkpoint.pt")
    _, js = cloning.export(tmp_path / "run", "tiny", dest=tmp_path / "out")
    _, _, prov = cloning.load_cloned(str(js.with_suffix(".pt")))
    assert prov["device"].startswith("unknown") and prov["machine"].startswith("unknown")


@pytest.mark.parametrize("path", sorted(cloning.PRETRAINED_DIR.glob("metatest_cloned_wc_*.json")), ids=lambda p: p.stem)
def test_shipped_recloned_metatests_carry_their_setting_and_drift(path):
    """Figures 5/11 curves of the re-clones: which V_M, network, test images, data, device; drift per layer."""
    doc = cloning.load_metatest(path)
    assert doc["cloned"].startswith("cloned_wc_") and path.stem.startswith(f"metatest_{doc['cloned']}")
    assert doc["test_size"] > 0 and doc["device"] and doc["git_commit"] and doc["train_data"]
    seeds, steps = doc["vsml"]["loss"].shape
    evals, layers = len(doc["eval_steps"]), len(doc["sizes"]) - 1
    assert doc["eval_steps"][-1] == steps and doc["sgd"]["loss"].shape == (seeds, steps)
    for kind in ("vsml", "sgd"):
        assert doc[kind]["test_accuracy"].shape == (seeds, evals)
        assert doc[kind]["w_abs_max"].shape == (seeds, evals, layers)
    assert doc["vsml"]["rel_distance"].shape == doc["vsml"]["out_of_range"].shape == (seeds, evals, layers)
    assert bool((doc["vsml"]["rel_distance"][:, 0] == 0).all())  # both learners start from the same weights
