"""Building the C++ kernels on first use (``cpu_tick``, ``cpu_conv``, ``vsml.cloning.kernel``).

A kernel's source is compiled with the system's C++ compiler (the one
``torch.compile`` also needs) into a shared library, cached per source, state
size, compiler and CPU (``-march=native`` depends on the CPU), and loaded with
``ctypes`` (whose calls release the GIL). ``gnu++17``, not ``c++17``: ISO mode
turns off the contraction of ``a * b + c`` into one FMA.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path


def cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU model and flags."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        keep = [line for line in lines if line.startswith(("model name", "flags"))][:2]
        return "\n".join(keep)
    except OSError:
        return platform.processor() or platform.machine()


def cache_dir() -> Path:
    base = os.environ.get("VSML_KERNEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "vsml", "kernels")
    try:
        Path(base).mkdir(parents=True, exist_ok=True)
        return Path(base)
    except OSError:
        return Path(tempfile.gettempdir())


def build(source: str, stem: str, state_size: int, what: str) -> ctypes.CDLL:
    """The shared library of ``source`` with ``-DNS=state_size`` (built once, then cached).

    Raises RuntimeError (naming ``what``) if no compiler is found or none builds it.
    """
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if not cxx:
        raise RuntimeError("no C++ compiler found (g++, c++ or clang++)")
    key = hashlib.sha256(f"{source}\n{state_size}\n{cxx}\n{cpu_signature()}".encode()).hexdigest()[:16]
    out = cache_dir() / f"{stem}_n{state_size}_{key}.so"
    if not out.exists():
        src = out.with_suffix(f".{os.getpid()}.cpp")
        src.write_text(source)
        base = [cxx, "-O3", "-std=gnu++17", "-pthread", "-fPIC", "-shared", f"-DNS={state_size}"]
        errors = []
        for flags in (["-march=native"], []):  # this CPU's vector width where the compiler knows it
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            proc = subprocess.run(base + flags + [str(src), "-o", str(tmp)], capture_output=True, text=True)
            if proc.returncode == 0:
                os.replace(tmp, out)  # atomic: concurrent builders (pytest -n 2) agree
                break
            errors.append((proc.stderr.strip().splitlines() or ["?"])[-1])
        src.unlink(missing_ok=True)
        if not out.exists():
            raise RuntimeError(f"{cxx} could not build the {what}: {errors[0]}")
    return ctypes.CDLL(str(out))


_FUNCTIONS: dict = {}
_LOCK = threading.Lock()


def cached_function(source: str, stem: str, name: str, args_type, state_size: int, what: str):
    """The C function ``name(const args_type *) -> int`` of ``source`` for ``N = state_size``, built once per
    process; None (after one warning) where it cannot be built, so the caller keeps its PyTorch path."""
    key = (stem, state_size)
    with _LOCK:
        if key not in _FUNCTIONS:
            fn = None
            try:
                fn = getattr(build(source, stem, state_size, what), name)
                fn.argtypes, fn.restype = [ctypes.POINTER(args_type)], ctypes.c_int
            except (RuntimeError, OSError) as exc:
                warnings.warn(f"{what} unavailable ({exc}); using the PyTorch path")
            _FUNCTIONS[key] = fn
        return _FUNCTIONS[key]
