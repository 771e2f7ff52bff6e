"""A cloning run: checkpoints, resume, the metrics log, export and loading of a cloned V_M.

Paper: Section 3.2 and Appendix B.1 (the shallow stage, then the deep stage
started from it: decision D9 of :mod:`vsml.cloning`). The loop itself
(checkpoint cadence, NaN stop, Ctrl-C/SIGTERM) is :class:`vsml.runloop.RunLoop`,
shared with meta-training; files go through :mod:`vsml.runio`.
"""
from __future__ import annotations

import os
import platform
import shlex
from pathlib import Path

import torch

from .. import runio
from ..device import describe
from ..lstm import param_shapes
from ..runloop import CHECKPOINT, RunLoop
from .config import FORMAT, CloningConfig
from .trainer import CloningTrainer

REQUIRED_KEYS = ("format", "config", "state", "metrics", "wall_time")


def load_run(path) -> dict:
    """A cloning checkpoint (run folder or file); a clear error when missing, unreadable or not from cloning."""
    ckpt = runio.load_checkpoint(path)
    if ckpt.get("format") != FORMAT:
        raise RuntimeError(f"{path} is not a vsml.cloning checkpoint (format {ckpt.get('format')!r})")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise RuntimeError(f"cloning checkpoint {path} lacks {missing}; it cannot be resumed or exported")
    return ckpt


def train(cfg: CloningConfig | None, out_dir, *, resume: bool = False, init_from=None, progress: bool = True,
          dataset=None, num_threads: int | None = None) -> dict:
    """Regress V_M onto the rule with atomic checkpoints (``out_dir/checkpoint.pt``) and a metrics log.

    ``init_from`` (a run folder, checkpoint or exported name) starts the
    parameters from an earlier stage (D9: shallow, then deep). ``resume=True``
    continues ``out_dir``'s run; without it an existing checkpoint is an error.
    A non-finite loss raises :class:`vsml.runloop.NonFiniteError` and leaves
    the last good checkpoint untouched; Ctrl-C or SIGTERM writes a checkpoint
    and raises :class:`vsml.runloop.RunInterrupted`. Returns the final parameters.
    """
    out = Path(out_dir)
    resume_command = (f"python -m vsml.cloning train --out {shlex.quote(str(out))} --resume" if dataset is None
                      else f"vsml.cloning.train(None, {str(out)!r}, resume=True, dataset=<the same data>)")
    loop = RunLoop(out, what="cloning", resume_command=resume_command, progress=progress)
    saved = loop.existing_checkpoint(resume, load_run)
    if saved is not None:
        cfg = cfg or CloningConfig.from_dict(saved["config"])
        # Through from_dict, so that fields added since the checkpoint was written count at their defaults.
        if cfg.to_dict() | {"steps": 0} != CloningConfig.from_dict(saved["config"]).to_dict() | {"steps": 0}:
            raise ValueError("cannot resume: the config differs from the checkpoint's (only steps may change)")
    if cfg is None:
        raise ValueError(f"no config given and no checkpoint to resume in {out}")
    loop.what = f"cloning ({cfg.stage})"
    if num_threads:
        torch.set_num_threads(num_threads)
    params = None
    if init_from is not None and saved is None:
        is_run = Path(init_from).is_dir() or Path(init_from).name == CHECKPOINT  # else an exported name or .pt
        params = load_run(init_from)["state"]["params"] if is_run else load_cloned(init_from)[0]
    trainer = CloningTrainer(cfg, dataset, params)
    records, wall_before, parent = [], 0.0, str(init_from) if init_from else None
    if saved is not None:
        trainer.load_state_dict(saved["state"])
        records, wall_before, parent = list(saved["metrics"]), float(saved["wall_time"]), saved.get("init_from")
    loop.start_log(records)
    if trainer.step >= cfg.steps:
        print(f"vsml.cloning: nothing to do, the run is at step {trainer.step} of {cfg.steps} "
              f"(pass --steps N for more)", flush=True)
        return {k: v.detach().clone() for k, v in trainer.params.items()}
    print(f"vsml.cloning: stage {cfg.stage}, N={cfg.state_size}, step {trainer.step} -> {cfg.steps}; "
          f"shadow data {trainer.dataset.name} ({len(trainer.dataset.y)} images); run folder {out}", flush=True)

    # Provenance of the machine that trains (not the one that later exports): the device the
    # parameters live on, and the CPU.
    where = {"device": describe(next(iter(trainer.params.values())).device), "machine": _machine()}

    def save(done, wall):
        loop.save_checkpoint({
            "format": FORMAT, "config": cfg.to_dict(), "state": trainer.state_dict(), "metrics": records,
            "wall_time": wall, "init_from": parent, "dataset": trainer.dataset.name,
            "dataset_note": runio.portable(f"{trainer.dataset.source}; {len(trainer.dataset.y)} images"),
            "torch": str(torch.__version__), **where})

    loop.run(start=trainer.step, total=cfg.steps, step=lambda s: trainer.train_step(), save=save, records=records,
             wall_before=wall_before, log_every=cfg.log_every, checkpoint_every=cfg.checkpoint_every,
             evaluate=lambda done: trainer.evaluate(), eval_every=cfg.log_every,
             postfix=lambda rec: {"loss": f"{rec['loss']:.4f}"})
    return {k: v.detach().clone() for k, v in trainer.params.items()}


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores"


# --------------------------------------------------------------------------- shipped cloned V_M

def export(run_dir, name: str, dest=None, *, force: bool = False) -> tuple[Path, Path]:
    """Write a cloning run's V_M as ``NAME.pt`` + ``NAME.json`` (config, provenance, curve).

    ``dest`` defaults to the user folder (:func:`vsml.runio.user_dir`); see
    :func:`vsml.runio.write_export` for when ``force`` is needed.
    """
    runio.check_export_name(name)
    ckpt = load_run(run_dir)
    params = {k: v.detach().clone().contiguous() for k, v in ckpt["state"]["params"].items()}
    records = ckpt["metrics"]
    info = {
        "name": name, "model": "cloned", "format": FORMAT, "cloning_config": ckpt["config"],
        "steps": int(ckpt["state"]["step"]), "init_from": ckpt.get("init_from"),
        "dataset": ckpt.get("dataset"), "dataset_note": ckpt.get("dataset_note"),
        "device": ckpt.get("device", "unknown (not recorded by the training run)"),
        "machine": ckpt.get("machine", "unknown (not recorded by the training run)"),
        "wall_time_s": round(float(ckpt["wall_time"]), 1), "torch": ckpt.get("torch"),
        "git_commit": runio.git_commit(), "date": runio.provenance()["date"],
        "num_params": int(sum(v.numel() for v in params.values())),
        "final_metrics": records[-1] if records else None,
        "curve": records[::max(1, len(records) // 200)],
    }
    return runio.write_export(params, info, name, dest, force=force)


def load_cloned(name: str, directory=None) -> tuple[dict, CloningConfig, dict]:
    """``(params, config, provenance)`` of an exported cloned V_M (a name, user folder then shipped, or a path)."""
    params, info = runio.load_pretrained(name, directory)
    if info.get("model") != "cloned":
        raise ValueError(f"{name} is a {info.get('model')!r} export, not a cloned learning algorithm")
    cfg = CloningConfig.from_dict(info["cloning_config"])
    want = param_shapes(cfg.sub_lstm)
    if {k: tuple(v.shape) for k, v in params.items()} != want:
        raise RuntimeError(f"{name}: parameter shapes do not match its config (N={cfg.state_size})")
    return params, cfg, info
