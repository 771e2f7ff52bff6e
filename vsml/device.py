"""Where tensors live: ``device="auto"`` and a clear error when CUDA is asked for but absent.

Every entry point of the package (meta-training, meta-testing, cloning, the
benchmarks, the chapters' parameters cells) takes ``device`` as one of
``"auto"`` (CUDA when present, else the CPU), ``"cpu"``, ``"cuda"`` or
``"cuda:N"`` and resolves it here, so a CUDA request on a machine without a
GPU fails with one readable line instead of a deep ``AssertionError`` from the
first ``.to("cuda")``.
"""
from __future__ import annotations

import os
import platform

import torch


class DeviceError(RuntimeError):
    """A device was asked for that this machine does not have."""


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; check that a CUDA request can be met."""
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} was requested but CUDA is not available on this machine "
                              f"(torch {torch.__version__}); use device='auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} was requested but only {torch.cuda.device_count()} GPU(s) exist")
    elif dev.type != "cpu":
        raise DeviceError(f"device {name!r} is not supported: use auto, cpu, cuda or cuda:N")
    return dev


def describe(device: str | torch.device) -> str:
    """A one-line description for provenance: the GPU's name, or the CPU and its thread count."""
    dev = torch.device(device)
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return (f"cuda ({props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                f"torch {torch.__version__})")
    return (f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{threads_text()})")


def synchronize(device: str | torch.device) -> None:
    """Wait for queued GPU work (timings); a no-op on the CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: str | torch.device) -> float | None:
    """Peak GPU memory allocated by torch since the last reset, in MiB (None on the CPU)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(dev) / 2**20


def threads_text() -> str:
    """'1 torch thread' or 'N torch threads': the CPU threads torch uses now."""
    n = torch.get_num_threads()
    return f"{n} torch thread" + ("s" if n != 1 else "")
