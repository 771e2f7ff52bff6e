"""Memory that stays flat in the episode length (meta-testing runs of thousands of examples).

Each online step (Algorithm 2) frees the previous state tensors and allocates
new ones of the same size (about 2 MB for 4 episodes on the 784x10 layer).
glibc's malloc raises its mmap threshold after such frees, so later buffers
come from the heap, where fragments are not returned: resident memory grew
by about 2 MB per example (790 MB at 200 examples, 1.4-2 GB at 800). Keeping
large buffers on mmap (a fixed threshold of 64 KiB) returns them to the
system when freed, and peak memory no longer depends on the episode length.
The package applies this once at import; set ``VSML_KEEP_MALLOC=1`` to leave
the allocator alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 64 * 1024
_applied: bool | None = None


def apply_allocator_settings() -> bool:
    """Fix glibc's mmap threshold (Linux only; a no-op elsewhere). True when the setting is in force."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("VSML_KEEP_MALLOC", "").strip() in {"1", "true", "yes"} or not sys.platform.startswith("linux"):
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _applied = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to set
        _applied = False
    return _applied


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (for the chapters' provenance lines)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
