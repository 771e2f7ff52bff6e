"""Timing one meta-test step of a cloned learning algorithm (``python -m vsml.bench --cloned``).

Paper: Section 4.1 (Figure 5) and Appendix B.1 (Figure 11): a VSML network
learns by running the cloned ``V_M`` forward, one batch of 64 examples per
step (C.1 "Batching"). We time ``ClonedNetwork.step`` of the shipped clones
on the shallow (784-10) and the deep (784-32-10) network with each pass,
called in turn on the same batch so that a busy machine slows all alike:

* ``fast``: the PyTorch passes that use decision D3 (the default before the kernel);
* ``fast compiled``: the same with ``torch.compile`` fusing their big ticks (optional);
* ``kernel``: the fused C++ passes of :mod:`vsml.cloning.kernel` (now the default).

Every row's outputs (``z = logits / G`` and the new ``w, b``) are compared
with the ``fast`` row's (``max |diff|``).
"""
from __future__ import annotations

import statistics
import time

import torch

from .network import ClonedNetwork
from .rule import init_layers
from .run import load_cloned

NETWORKS = (("shallow 784-10", "cloned_shallow", (784, 10)), ("deep 784-32-10", "cloned_deep", (784, 32, 10)))


def _max_diff(a, b, gain: float) -> float:
    (new_a, logits_a), (new_b, logits_b) = a, b
    diffs = [float((logits_a - logits_b).abs().max()) / gain]
    for (wa, ba), (wb, bb) in zip(new_a, new_b):
        diffs += [float((wa - wb).abs().max()), float((ba - bb).abs().max())]
    return max(diffs)


def cloned_step_benchmark(batch: int = 64, repeats: int = 3, compile: bool = True, seed: int = 0) -> list[dict]:
    """Rows of (network, impl, seconds per step: best and median of ``repeats``, max |diff| to ``fast``)."""
    rows = []
    for label, name, sizes in NETWORKS:
        params, cfg, _ = load_cloned(name)
        g = torch.Generator().manual_seed(seed)
        layers = init_layers(sizes, cfg.w_init, g)
        x, y = torch.randn(batch, sizes[0], generator=g), torch.randint(sizes[-1], (batch,), generator=g)
        nets = {"fast": ClonedNetwork(params, cfg, sizes, impl="fast")}
        if compile:
            nets["fast compiled"] = ClonedNetwork(params, cfg, sizes, impl="fast", compile=True)
        nets["kernel"] = ClonedNetwork(params, cfg, sizes, impl="kernel")
        times, outs = {k: [] for k in nets}, {}
        with torch.inference_mode():
            for net in nets.values():  # warm-up on a small batch (kernel build, compilation)
                net.step(layers, x[:8], y[:8])
            for _ in range(repeats):
                for impl, net in nets.items():
                    t0 = time.perf_counter()
                    outs[impl] = net.step(layers, x, y)
                    times[impl].append(time.perf_counter() - t0)
        for impl in nets:
            rows.append(dict(network=label, impl=impl, batch=batch, secs=min(times[impl]),
                             secs_median=statistics.median(times[impl]),
                             max_diff=_max_diff(outs[impl], outs["fast"], cfg.logit_gain)))
    return rows


def cloned_speedups(rows: list[dict]) -> dict:
    """Per network: the kernel's speed-up over ``fast`` (and over ``fast compiled`` where timed)."""
    out = {}
    for label in dict.fromkeys(r["network"] for r in rows):
        by = {r["impl"]: r for r in rows if r["network"] == label}
        out[label] = {"speedup": by["fast"]["secs"] / by["kernel"]["secs"], "max_diff": by["kernel"]["max_diff"],
                      "ms_kernel": by["kernel"]["secs"] * 1e3, "ms_fast": by["fast"]["secs"] * 1e3}
        if "fast compiled" in by:
            out[label]["speedup_vs_compiled"] = by["fast compiled"]["secs"] / by["kernel"]["secs"]
    return out
