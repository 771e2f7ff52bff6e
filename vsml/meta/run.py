"""A meta-training run: Algorithm 1 with checkpoints, resume, metrics and the stop signals.

Paper: Section 3.1 / Algorithm 1 (the outer loop run for thousands of steps:
the paper's ES run took about 4 hours on 128 GPUs, our CPU runs hours on one
core, so every run must survive being stopped). The loop is
:class:`vsml.runloop.RunLoop`, shared with cloning: a checkpoint every
``checkpoint_every`` steps, at the end and on Ctrl-C/SIGTERM; a resumed run is
bit-identical on CPU to one that was never interrupted.
"""
from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from .. import runio
from ..device import describe, resolve_device
from ..runloop import RunLoop
from .config import RESUMABLE_CHANGES, MetaConfig, load_config
from .distributed import any_rank, setup_distributed
from .episodes import dataset_info
from .trainer import MetaTrainer

FORMAT = "vsml.meta/1"
REQUIRED_KEYS = ("config", "state", "step", "metrics", "wall_time")


def load_checkpoint(run_dir) -> dict:
    """The last checkpoint of a run folder (or a checkpoint file); one-line errors when it cannot be used."""
    ckpt = runio.load_checkpoint(run_dir)
    if str(ckpt.get("format", "")).startswith("vsml.cloning"):
        raise RuntimeError(f"{run_dir} is a learning-algorithm cloning run, not meta-training: continue it with "
                           f"`python -m vsml.cloning train --out {run_dir} --resume`")
    runio.require_keys(ckpt, run_dir, REQUIRED_KEYS)
    return ckpt


def config_differences(saved: dict, config: MetaConfig) -> list[str]:
    """``"key: saved -> now"`` for each setting of ``config`` that differs from the ``saved`` config dict (a
    checkpoint's or an export's), apart from those that never touch the parameters (:data:`RESUMABLE_CHANGES`)."""
    now = config.to_dict()
    defaults = MetaConfig().to_dict()  # keys added after the checkpoint was written have their default there
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k, defaults[k]) != now[k])
    return [f"{k}: {saved.get(k, defaults[k])!r} -> {now[k]!r}" for k in changed]


def check_resumable(saved: dict, config: MetaConfig) -> None:
    """Only settings that never touch the parameters (:data:`RESUMABLE_CHANGES`) may differ on resume."""
    changed = config_differences(saved, config)
    if changed:
        raise ValueError(f"cannot resume: the config differs from the checkpoint's in {', '.join(changed)}")


@dataclass
class TrainResult:
    params: dict            # V_M as a dict of tensors (unflattened)
    params_flat: torch.Tensor
    step: int
    metrics: list
    out_dir: Path


def resume_command(out: Path, library_data: bool) -> str:
    """The command that continues the run in ``out`` (the checkpoint holds the config)."""
    if library_data:  # datasets passed in by the caller: only the caller can pass them again
        return f"vsml.meta.train(None, {str(out)!r}, resume=True, dataset=..., eval_dataset=...) with the same data"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    launcher = f"torchrun --nproc_per_node {world} -m vsml.meta" if world > 1 else "python -m vsml.meta"
    return f"{launcher} train --out {shlex.quote(str(out))} --resume"


def train(config: MetaConfig | str | None, out_dir, *, steps: int | None = None, resume: bool = False,
          dataset=None, eval_dataset=None, progress: bool = True, device=None) -> TrainResult:
    """Run Algorithm 1 with checkpoints (``out_dir/checkpoint.pt``) and metrics (``out_dir/metrics.jsonl``).

    ``config`` is a :class:`MetaConfig`, a config name/path, or ``None`` to
    take the checkpoint's when resuming. ``steps`` overrides ``config.steps``
    (the total, not additional steps).
    ``resume=True`` continues from ``out_dir``'s checkpoint (bit-identical on
    CPU to a run that was never interrupted); without it an existing
    checkpoint is an error. A non-finite loss or gradient raises
    :class:`vsml.runloop.NonFiniteError` and leaves the last good checkpoint
    untouched; Ctrl-C or SIGTERM writes a checkpoint and raises
    :class:`vsml.runloop.RunInterrupted` with the command that resumes.
    """
    out = Path(out_dir)
    loop = RunLoop(out, what="meta-training", resume_command=resume_command(out, dataset is not None),
                   progress=progress)
    saved = loop.existing_checkpoint(resume, load_checkpoint)
    if saved is not None and config is None:
        config = MetaConfig.from_dict(saved["config"])
    if config is None:
        raise ValueError(f"no config given and no checkpoint to resume in {out}")
    if isinstance(config, str):
        config = load_config(config)
    if steps is not None:
        config = dataclasses.replace(config, steps=int(steps))
    if saved is not None:
        check_resumable(saved["config"], config)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)

    kind = resolve_device(device if device is not None else config.device).type
    dist_info = setup_distributed(kind)
    try:
        return _train(loop, config, saved, dataset, eval_dataset, device, dist_info)
    finally:
        if dist_info.owns_group:
            import torch.distributed as dist
            dist.destroy_process_group()


def _train(loop: RunLoop, config, saved, dataset, eval_dataset, device, dist_info):
    trainer = MetaTrainer(config, dataset, eval_dataset, device, dist_info)
    start, records, wall_before = 0, [], 0.0
    if saved is not None:
        trainer.load_state_dict(saved["state"])
        start, records, wall_before = int(saved["step"]), list(saved["metrics"]), float(saved["wall_time"])
    loop.is_main = dist_info.is_main
    loop.what = f"meta-training ({config.method})"
    loop.agree_to_stop = lambda flag: any_rank(flag, dist_info, trainer.device)
    loop.start_log(records)  # the log restarts from the checkpoint: lines of steps after it are redone
    if loop.is_main:
        runio.atomic_write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), loop.out / "config.yaml")
        print(f"vsml.meta: {config.method} / {config.model} on {dataset_info(trainer.data)['name']} "
              f"({trainer.input_size} inputs, {trainer.num_classes} classes), {dist_info.world_size} process(es) "
              f"on {trainer.device}; {'resuming at' if saved is not None else 'starting at'} step {start}, "
              f"until step {config.steps}\n"
              f"  checkpoints: {loop.checkpoint_path}\n  metrics:     {loop.metrics_path}", flush=True)

    def save(step, wall):
        loop.save_checkpoint({
            "format": FORMAT, "step": step, "config": config.to_dict(), "state": trainer.state_dict(),
            "metrics": records, "wall_time": wall, "dataset": dataset_info(trainer.data),
            "eval_dataset": dataset_info(trainer.eval_data), "model": trainer.model.name,
            "model_config": trainer.model.model_config(), "device": describe(trainer.device),
            "world_size": dist_info.world_size, "torch": str(torch.__version__)})

    loop.run(start=start, total=config.steps, step=trainer.step, save=save, records=records,
             wall_before=wall_before, log_every=config.log_every, checkpoint_every=config.checkpoint_every,
             evaluate=lambda done: trainer.evaluate(), eval_every=config.eval_every,
             eval_at_start=config.eval_at_start,
             postfix=lambda rec: {"loss": f"{rec['loss']:.3f}", "acc": f"{rec['accuracy']:.3f}"})
    if start >= config.steps and loop.is_main:
        print(f"vsml.meta: nothing to do, the run is at step {start} of {config.steps} "
              f"(pass --steps N for more)", flush=True)
    flat = trainer.params_flat.cpu()
    return TrainResult(trainer.model.unflatten(flat), flat, max(start, config.steps), records, loop.out)

