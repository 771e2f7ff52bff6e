"""Test-wide settings: under pytest-xdist (-n 2 on 2 cores) each worker and each
notebook kernel gets one thread, so workers do not oversubscribe the cores."""
import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by nbval's kernels
    import torch

    torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture
def one_thread():
    """One torch thread for the test (tiny tensors: more threads only add overhead on a busy machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def offline_data_cache(monkeypatch, tmp_path):
    """An empty ``VSML_DATA`` cache folder, no network, no Debian data: what a fresh offline machine has."""
    import urllib.error

    from vsml.data import packaged, sources

    def no_network(url, dest, timeout):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(sources, "_http_get", no_network)
    monkeypatch.setattr(sources, "_UNREACHABLE", {})
    monkeypatch.setattr(packaged, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("VSML_OFFLINE", "1")
    monkeypatch.setenv("VSML_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"
