"""Test-wide settings: under pytest-xdist (-n 2 on 2 cores) each worker and each
notebook kernel gets one thread, so workers do not oversubscribe the cores."""
import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by nbval's kernels
    import torch

    torch.set_num_threads(1)
