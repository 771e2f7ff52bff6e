"""A cloning export states the device and machine the run was trained on (Section 3.2 runs, vsml.cloning.run).

The export used to write ``"device": "cpu"`` and the *exporting* machine
whatever the training run had used; both now come from the checkpoint.
"""
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
