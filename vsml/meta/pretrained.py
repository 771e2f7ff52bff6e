"""Exporting a meta-trained V_M with its provenance, and running an exported one on any layer size.

Paper: Section 4.2 (meta-test: the learned V_M runs on unseen data) and
Section 4.3 (the same V_M on any input size: "the same learning algorithm
... can be applied to any number of inputs and outputs"). File handling
(the user folder, refusing to replace shipped files, the manifest) is
:mod:`vsml.runio`.
"""
from __future__ import annotations

from pathlib import Path

from .. import runio
from ..flat_params import unflatten
from ..network import VSMLConfig, VSMLNetwork
from .config import MetaConfig
from .models import model_shapes
from .run import load_checkpoint
from .trainer import checkpoint_params


def export(run_dir, name: str, dest=None, *, force: bool = False) -> tuple[Path, Path]:
    """Write a run's final V_M as ``NAME.pt`` (a dict of plain tensors) and ``NAME.json`` (provenance).

    ``dest`` defaults to the user folder (:func:`vsml.runio.user_dir`), never
    the installed package; see :func:`vsml.runio.write_export` for ``force``.
    Returns both paths.
    """
    runio.check_export_name(name)
    ckpt = load_checkpoint(run_dir)
    config = MetaConfig.from_dict(ckpt["config"])
    flat = checkpoint_params(ckpt)
    mc = ckpt["model_config"]
    params = {k: v.detach().clone().contiguous() for k, v in unflatten(flat, model_shapes(ckpt["model"], mc)).items()}
    records = ckpt["metrics"]
    evals = [r for r in records if "eval_accuracy" in r]
    info = {
        "name": name, "model": ckpt["model"], "method": config.method, "model_config": mc,
        "config": ckpt["config"], "dataset": ckpt.get("dataset"), "eval_dataset": ckpt.get("eval_dataset"),
        "steps": int(ckpt["step"]),
        "device": ckpt.get("device", "?"), "world_size": ckpt.get("world_size", 1),
        "wall_time_s": round(ckpt["wall_time"], 1),
        "git_commit": runio.git_commit(), "date": runio.provenance()["date"],
        "torch": ckpt.get("torch", "?"), "num_params": int(flat.numel()),
        "final_metrics": records[-1] if records else None, "final_eval": evals[-1] if evals else None,
        # the meta-training curve, thinned to <= 300 points (plus every evaluation), for the book's plots
        "curve": [{k: r[k] for k in ("step", "loss", "accuracy") if k in r}
                  for r in records[::max(1, len(records) // 300)] if "loss" in r],
        "eval_curve": [{k: v for k, v in r.items() if k == "step" or k.startswith("eval_")} for r in evals],
    }
    return runio.write_export(params, info, name, dest, force=force)


def pretrained_network(name: str, layer_sizes=None, directory=None, **options):
    """``(VSMLNetwork, params, provenance)`` for an exported VSML V_M.

    The same V_M runs on any layer sizes (Section 4.3): ``layer_sizes`` (e.g.
    ``(784, 10)`` for a V_M meta-trained on 7x7 inputs) and ``options`` (other
    :class:`VSMLConfig` fields, e.g. ``state_clip=4``) replace the exported ones.
    """
    params, info = runio.load_pretrained(name, directory)
    if info.get("model") != "vsml":
        raise ValueError(f"{name} holds a {info.get('model')!r} model, not a VSML RNN")
    values = dict(info["model_config"])
    if layer_sizes is not None:
        values["layer_sizes"] = tuple(layer_sizes)
    values.update(options)
    return VSMLNetwork(VSMLConfig.from_dict(values)), params, info
