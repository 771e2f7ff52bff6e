"""Run I/O (vsml/runio.py): nothing lost, nothing silently wrong (issue 10, item 3)."""
import json
import re

import pytest
import torch

from tiny_tasks import remember_the_class, tiny, tiny_cfg, tiny_dataset
from vsml import cloning, meta, runio


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """Exports of this test go to tmp_path/home/pretrained, never to the real user folder."""
    monkeypatch.setenv("VSML_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "pretrained"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    torch.set_num_threads(1)
    meta.train(tiny(steps=2, eval_every=0), out, dataset=remember_the_class(), progress=False)
    return out


# ------------------------------------------------------------------ exports

def test_export_goes_to_the_user_folder_by_default(run_dir, user_home):
    assert runio.user_dir() == user_home
    pt, js = meta.export(run_dir, "mine")
    assert pt == user_home / "mine.pt" and js.is_file()
    params, info = meta.load_pretrained("mine")  # the user folder is searched first
    assert info["steps"] == 2 and set(params) == set(meta.param_shapes(meta.VSMLConfig().sub_lstm))


def test_the_readme_export_command_cannot_replace_a_shipped_file(run_dir, user_home, capsys):
    """``python -m vsml.meta export --name mnist_bptt`` used to overwrite vsml/pretrained/mnist_bptt.pt."""
    before = {p.name: runio.sha256(p) for p in runio.shipped_files()}
    assert meta.main(["export", "--run", str(run_dir), "--name", "mnist_bptt"]) == 2
    err = capsys.readouterr().err
    assert "is the name of a shipped V_M" in err and len(err.strip().splitlines()) == 1
    assert meta.main(["export", "--run", str(run_dir), "--name", "mnist_bptt", "--dest", str(runio.SHIPPED_DIR)]) == 2
    assert "is a shipped file; not replaced" in capsys.readouterr().err
    assert {p.name: runio.sha256(p) for p in runio.shipped_files()} == before
    assert not (user_home / "mnist_bptt.pt").exists()


def test_exports_never_replace_an_earlier_export_without_force(run_dir, user_home, capsys):
    pt, _ = meta.export(run_dir, "mine")
    first = pt.read_bytes()
    with pytest.raises(FileExistsError, match="an earlier export; not replaced"):
        meta.export(run_dir, "mine")
    pt.write_bytes(b"damaged")
    assert meta.main(["export", "--run", str(run_dir), "--name", "mine", "--force"]) == 0
    assert pt.read_bytes() == first


def test_a_forced_user_export_of_a_shipped_name_is_found_first(run_dir, user_home):
    meta.export(run_dir, "mnist_bptt", force=True)
    with pytest.warns(UserWarning, match="shadows the shipped V_M"):  # a stale copy must not pass silently
        _, info = meta.load_pretrained("mnist_bptt")
    assert info["steps"] == 2  # the user's, not the shipped 3,350-step V_M
    _, shipped = meta.load_pretrained("mnist_bptt", directory=runio.SHIPPED_DIR)
    assert shipped["steps"] > 2


def test_cloning_export_follows_the_same_rules(tmp_path, user_home):
    cloning.train(tiny_cfg(steps=1), tmp_path / "c", dataset=tiny_dataset(), progress=False)
    with pytest.raises(FileExistsError, match="shipped V_M"):
        cloning.export(tmp_path / "c", "cloned_shallow")
    pt, _ = cloning.export(tmp_path / "c", "clone")
    assert pt.parent == user_home and cloning.load_cloned("clone")[2]["steps"] == 1


# ------------------------------------------------------------------ loading what cannot be trusted

def test_checkpoint_without_the_expected_keys_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    torch.save({"state": {"theta": torch.zeros(3)}}, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(RuntimeError, match=r"lacks \['config', 'step', 'metrics', 'wall_time'\]"):
        meta.load_checkpoint(tmp_path / "run")
    assert meta.main(["train", "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "lacks" in err and len(err.strip().splitlines()) == 1
    torch.save({"format": cloning.FORMAT, "state": {}}, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(RuntimeError, match=r"cloning checkpoint .* lacks \['config', 'metrics', 'wall_time'\]"):
        cloning.load_run(tmp_path / "run")


def test_nan_in_a_checkpoint_or_export_is_a_clear_error(run_dir, tmp_path, user_home):
    ckpt = meta.load_checkpoint(run_dir)
    ckpt["state"]["es"]["mean"][0] = float("nan")
    (tmp_path / "bad").mkdir()
    torch.save(ckpt, tmp_path / "bad" / "checkpoint.pt")
    with pytest.raises(RuntimeError, match=r"holds NaN/inf in state.es.mean"):
        meta.train(None, tmp_path / "bad", resume=True, dataset=remember_the_class(), progress=False)
    pt, _ = meta.export(run_dir, "fine")
    params = torch.load(pt, weights_only=True)
    params["lstm_w"][0, 0] = float("inf")
    torch.save(params, pt)
    with pytest.raises(RuntimeError, match="does not match its checksum"):  # changed after export
        meta.load_pretrained("fine")
    js = pt.with_suffix(".json")
    js.write_text(json.dumps({k: v for k, v in json.loads(js.read_text()).items() if k != "sha256"}))
    with pytest.raises(RuntimeError, match="holds NaN/inf in lstm_w"):  # an export from before checksums
        meta.load_pretrained("fine")
    with pytest.raises(ValueError, match="refusing to export"):
        runio.write_export(params, {}, "nan_params", user_home)


def test_a_changed_export_is_refused_not_used(run_dir, user_home):
    pt, js = meta.export(run_dir, "checked")
    assert json.loads(js.read_text())["sha256"] == runio.sha256(pt)
    params = torch.load(pt, weights_only=True)
    params["lstm_w"][0, 0] += 0.5  # a plausible number: only the checksum can tell
    torch.save(params, pt)
    with pytest.raises(RuntimeError, match=r"checked.pt does not match its checksum .* its provenance says"):
        meta.load_pretrained("checked")


def test_a_damaged_shipped_file_is_refused_with_a_reinstall_hint(tmp_path, monkeypatch):
    for suffix in (".pt", ".json"):
        (tmp_path / f"mnist_bptt{suffix}").write_bytes((runio.SHIPPED_DIR / f"mnist_bptt{suffix}").read_bytes())
    monkeypatch.setattr(runio, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(runio, "MANIFEST", tmp_path / "MANIFEST.json")
    monkeypatch.setenv("VSML_HOME", str(tmp_path / "home"))
    runio.update_manifest()
    params, _ = runio.load_pretrained("mnist_bptt")
    raw = bytearray((tmp_path / "mnist_bptt.pt").read_bytes())
    raw[-200] ^= 0xFF  # a byte near the end: tensor data or zip index
    (tmp_path / "mnist_bptt.pt").write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="(checksum|corrupted).*reinstall"):
        runio.load_pretrained("mnist_bptt")


def test_a_pickle_is_refused_without_torchs_unsafe_advice(tmp_path):
    import pickle
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"lstm_w": object()}))
    (tmp_path / "evil.json").write_text("{}")
    with pytest.raises(RuntimeError, match="corrupted or not a vsml export") as err:
        runio.load_pretrained(str(tmp_path / "evil.pt"))
    assert "weights_only` set to `False`" not in str(err.value) and "False" not in str(err.value)


def test_atomic_writes_leave_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "ckpt.pt"
    runio.atomic_save({"a": torch.ones(2)}, path)
    with pytest.raises(Exception):
        runio.atomic_save({"a": lambda: 0}, path)  # not picklable: fails half-way
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


# ------------------------------------------------------------------ shipped files

def test_shipped_files_match_their_manifest():
    """A changed shipped file must be a deliberate change: ``python -m vsml.runio manifest`` and commit."""
    assert runio.manifest_problems() == []


def test_the_manifest_check_detects_a_changed_file(tmp_path, monkeypatch):
    monkeypatch.setattr(runio, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(runio, "MANIFEST", tmp_path / "MANIFEST.json")
    (tmp_path / "a.pt").write_bytes(b"abc")
    runio.update_manifest()
    assert runio.manifest_problems() == []
    (tmp_path / "a.pt").write_bytes(b"abd")
    (tmp_path / "b.json").write_text("{}")
    problems = runio.manifest_problems()
    assert any(p.startswith("a.pt: SHA-256") for p in problems) and "b.json: shipped but not listed" in problems


MACHINE_PATH = re.compile(r"(?<![\w.~$<>/])/(?:root|home|tmp|Users|mnt|work|var|private)/")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("path", sorted(runio.SHIPPED_DIR.glob("*.json")), ids=lambda p: p.name)
def test_shipped_provenance_holds_no_machine_specific_paths(path):
    bad = [s for s in _strings(json.loads(path.read_text())) if MACHINE_PATH.search(s)]
    assert not bad, bad[:2]


def test_portable_replaces_machine_specific_prefixes(monkeypatch, tmp_path):
    monkeypatch.setenv("VSML_DATA", str(tmp_path / "data"))
    from pathlib import Path
    home = str(Path.home())
    assert runio.portable(f"converted in {tmp_path / 'data'}/mnist; cache {home}/.cache/x") == \
        "converted in $VSML_DATA/mnist; cache ~/.cache/x"
    assert runio.portable({"a": [f"{home}/x"]}) == {"a": ["~/x"]}


def test_vsml_home_pointing_at_a_file_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("VSML_HOME", str(tmp_path / "f"))
    with pytest.raises(ValueError, match="is a file; point it at a folder"):
        runio.user_dir()


def test_a_cloning_run_given_to_meta_training_names_the_right_command(tmp_path):
    from tiny_tasks import tiny_cfg, tiny_dataset
    cloning.train(tiny_cfg(), tmp_path / "clone", dataset=tiny_dataset(), progress=False)
    with pytest.raises(RuntimeError, match="is a learning-algorithm cloning run.*python -m vsml.cloning train"):
        meta.load_checkpoint(tmp_path / "clone")
