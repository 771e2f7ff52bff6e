"""Meta-testing a cloned learning algorithm beside exact SGD (decision D10; Figures 5 and 11).

Paper: Section 4.1 ("Learning algorithm cloning": a VSML network trained
purely by running the cloned V_M forward, compared with backpropagation on
the same network) and Appendix B.1 (Figure 11: deeper networks).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import runio
from .config import CloningConfig
from .network import ClonedNetwork
from .rule import init_layers, shadow_forward, shadow_step

DRIFT = ("w_abs_max", "b_abs_max", "out_of_range", "rel_distance")
METRICS = {"vsml": ("loss", "accuracy", "test_accuracy", *DRIFT),
           "sgd": ("loss", "accuracy", "test_accuracy", "w_abs_max", "b_abs_max")}


def weight_drift(layers, reference, cfg: CloningConfig) -> dict[str, list[float]]:
    """Per layer: largest |w| and |b|, the fraction of synapses outside the cloning ranges
    (``|w| > cfg.w_range`` or ``|b|`` beyond the random biases) and the distance to ``reference``'s
    weights relative to their norm."""
    drift = {k: [] for k in DRIFT}
    for (w, b), (w_ref, _) in zip(layers, reference):
        drift["w_abs_max"].append(float(w.abs().max()))
        drift["b_abs_max"].append(float(b.abs().max()))
        drift["out_of_range"].append(float(((w.abs() > cfg.w_range) | (b.abs() > cfg.bias_range)).float().mean()))
        drift["rel_distance"].append(float((w - w_ref).norm() / w_ref.norm().clamp_min(1e-12)))
    return drift


def metatest(params, cfg: CloningConfig, train_set, test_set, *, hidden: int | None = None, steps: int = 100,
             seeds=range(6), batch_size: int = 64, eval_every: int = 25, test_size: int = 1000,
             progress: bool = False, state_clip: float | None = 4.0, compile: bool = False,
             impl: str = "auto") -> dict:
    """Train a network purely by running the cloned V_M forward, beside exact SGD on the same network.

    For every seed both learners start from the same weights (``U(-w_init, w_init)``
    of ``cfg``, b = 0) and see the same batches of ``batch_size`` training examples;
    SGD learns with ``cfg``'s ``logit_gain``, ``lr`` and ``bias_scale`` (the rule the
    V_M was cloned onto). Returns, per learner (``"vsml"``, ``"sgd"``), ``loss`` and
    ``accuracy`` ``[S, steps]`` on each batch *before* its update, and
    ``test_accuracy`` ``[S, E]`` on the first ``test_size`` test images at the
    steps in ``eval_steps``. At the same steps it records how far the weights drift
    (Section 4.1: "the VSML states ('weights') deviate too far from ranges seen
    during cloning"), each ``[S, E, K]`` over the K layers: ``w_abs_max`` and
    ``b_abs_max`` for both learners; for ``"vsml"`` also ``out_of_range``, the
    fraction of synapses with ``|w| > cfg.w_range`` or ``|b| > cfg.bias_range`` (outside
    the random tuples V_M was cloned on), and ``rel_distance``,
    ``||w_vsml - w_sgd|| / ||w_sgd||`` (how far the cloned run is from exact SGD).
    ``impl`` (see :class:`ClonedNetwork`): ``"auto"`` runs the fused kernel
    (:mod:`vsml.cloning.kernel`, exact up to float32 round-off; by D3 one call per
    layer and batch) where it applies, ``"fast"`` the PyTorch passes it replaced.
    """
    sizes = [train_set.num_features] + ([hidden] if hidden else []) + [train_set.num_classes]
    x_all, y_all = train_set.x.flatten(1), train_set.y
    x_test, y_test = test_set.x.flatten(1)[:test_size], test_set.y[:test_size]
    net = ClonedNetwork(params, cfg, sizes, state_clip=state_clip, compile=compile, impl=impl)
    eval_steps = sorted({0, *range(eval_every, steps + 1, eval_every), steps})
    out = {k: {m: [] for m in METRICS[k]} for k in ("vsml", "sgd")}
    seeds = list(seeds)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(seeds) * steps, desc=f"meta-test {'-'.join(map(str, sizes))}", dynamic_ncols=True)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            start = init_layers(sizes, cfg.w_init, g)
            layers = {"vsml": start, "sgd": start}
            rows = {k: {m: [] for m in METRICS[k]} for k in layers}

            def test(kind):
                logits = (net.predict(layers[kind], x_test) if kind == "vsml"
                          else cfg.logit_gain * shadow_forward(layers[kind], x_test)[-1])
                rows[kind]["test_accuracy"].append(float((logits.argmax(-1) == y_test).float().mean()))
                for key, value in weight_drift(layers[kind], layers["sgd"], cfg).items():
                    if key in rows[kind]:
                        rows[kind][key].append(value)

            for step in range(steps + 1):
                if step in eval_steps:
                    test("vsml"), test("sgd")
                if step == steps:
                    break
                idx = torch.randint(len(y_all), (batch_size,), generator=g)
                x, y = x_all[idx], y_all[idx]
                layers["vsml"], logits = net.step(layers["vsml"], x, y)
                new, zs, _ = shadow_step(layers["sgd"], x, y, cfg.logit_gain, cfg.lr, cfg.bias_scale)
                layers["sgd"] = new
                for kind, lg in (("vsml", logits), ("sgd", cfg.logit_gain * zs[-1])):
                    rows[kind]["loss"].append(float(F.cross_entropy(lg, y)))
                    rows[kind]["accuracy"].append(float((lg.argmax(-1) == y).float().mean()))
                if bar is not None:
                    bar.update(1)
            for kind in out:
                for key in rows[kind]:
                    out[kind][key].append(rows[kind][key])
    if bar is not None:
        bar.close()
    result = {k: {m: torch.tensor(v) for m, v in d.items()} for k, d in out.items()}
    result.update(eval_steps=eval_steps, sizes=sizes, test_size=len(y_test), seconds=time.perf_counter() - t0)
    return result


def check_metatest_out(path, force: bool = False) -> bool:
    """Before a meta-test runs: ``FileExistsError`` if ``path`` is a shipped file and ``force`` is off,
    ``ValueError`` if it is a folder. Returns whether ``path`` lies in the shipped folder."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {path / 'metatest.json'}")
    shipped = path.parent.resolve() == runio.SHIPPED_DIR.resolve()
    if shipped and path.exists() and not force:
        raise FileExistsError(f"{path} is a shipped file; not replaced (pass --force to replace it deliberately)")
    return shipped


def save_metatest(result: dict, path, *, name: str, train_set, test_set, force: bool = False) -> None:
    """Write :func:`metatest` curves with their provenance (data, device, runtime, commit) as JSON.

    A file shipped in ``vsml/pretrained/`` is only replaced with ``force``
    (and then ``MANIFEST.json`` is updated).
    """
    path = Path(path)
    shipped = check_metatest_out(path, force)
    doc = {"cloned": name, "sizes": result["sizes"], "eval_steps": result["eval_steps"],
           "test_size": result["test_size"],
           "seconds": round(result["seconds"], 1), "train_data": train_set.describe(), "test_data": test_set.describe(),
           **runio.provenance("cpu")}
    for kind in ("vsml", "sgd"):
        doc[kind] = {k: _rounded(t.tolist()) for k, t in result[kind].items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    runio.atomic_write_text(json.dumps(runio.portable(doc)) + "\n", path)
    if shipped:
        runio.update_manifest()


def final_test_accuracy(test_accuracy) -> tuple[float, float]:
    """Mean and standard error over seeds of the last test accuracy, in percent.

    ``test_accuracy``: ``[S, E]`` as a tensor or nested lists (a saved file). Computed
    with :func:`math.fsum` in float64, so the chapter and the reproduction report,
    which read the same file, print the same rounded number.
    """
    last = [float(run[-1]) for run in (test_accuracy.tolist() if hasattr(test_accuracy, "tolist") else test_accuracy)]
    mean = math.fsum(last) / len(last)
    var = math.fsum((v - mean) ** 2 for v in last) / max(len(last) - 1, 1)
    return 100 * mean, 100 * math.sqrt(var / len(last))


def _rounded(values):
    return [_rounded(v) for v in values] if isinstance(values, list) else round(float(values), 5)


def load_metatest(path) -> dict:
    """The inverse of :func:`save_metatest`: curves back as tensors ``[S, steps]`` (drift ``[S, E, K]``;
    files written before drift was recorded lack those keys)."""
    doc = json.loads(Path(path).read_text())
    for kind in ("vsml", "sgd"):
        doc[kind] = {k: torch.tensor(v, dtype=torch.float64) for k, v in doc[kind].items()}  # the file's exact values
    return doc
