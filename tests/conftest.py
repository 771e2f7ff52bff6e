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
