"""The run loop shared by meta-training and cloning (vsml/runloop.py): stop signals, NaN stop, resume.

Ctrl-C (SIGINT) or SIGTERM during ``meta train`` or ``cloning train`` must write a
checkpoint before exiting, and the resume command it prints must continue the
run (issue 10, item 3). The commands run in subprocesses, as a user runs them.
"""
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tiny_tasks import remember_the_class, tiny
from vsml import meta
from vsml.runloop import NonFiniteError, RunInterrupted

ROOT = Path(__file__).resolve().parent.parent
# The first run's steps are slowed down so that the signal arrives mid-run; the resume runs unmodified.
SLOW = """
import sys, time
from {module} import {cls} as C
step = C.{method}
def slow(self, *a):
    time.sleep(0.2)
    return step(self, *a)
C.{method} = slow
from {cli} import main
raise SystemExit(main(sys.argv[1:]))
"""
COMMANDS = {
    "meta": (dict(module="vsml.meta.trainer", cls="MetaTrainer", method="step", cli="vsml.meta.cli"),
             ["train", "--config", "smoke", "--no-progress", "--set", "steps=30", "checkpoint_every=1000",
              "eval_every=0"]),
    "cloning": (dict(module="vsml.cloning.trainer", cls="CloningTrainer", method="train_step", cli="vsml.cloning.cli"),
                ["train", "--steps", "30", "--no-progress", "--set", "dataset=digits", "state_size=8",
                 "batch_size=64", "buffer_size=64", "shadow_batch=4", "eval_size=64", "checkpoint_every=1000",
                 "log_every=1"]),
}


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def _steps(out: Path) -> list[int]:
    path = out / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("kind, sig", [("meta", signal.SIGTERM), ("cloning", signal.SIGINT)])
def test_a_stop_signal_writes_a_checkpoint_and_the_printed_command_resumes(tmp_path, kind, sig):
    hooks, args = COMMANDS[kind]
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", SLOW.format(**hooks), *args, "--out", str(out)], cwd=tmp_path,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(_steps(out)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    stopped = meta.load_checkpoint(out)["step"] if kind == "meta" else torch.load(
        out / "checkpoint.pt", weights_only=True)["state"]["step"]
    assert 2 <= stopped < 30  # written on the signal: the cadence (every 1,000 steps) never came
    assert _steps(out) == list(range(1, stopped + 1))
    assert f"stopped at step {stopped}" in err and "Traceback" not in err
    command = err.split("continue with: ")[1].strip()
    assert command == f"python -m vsml.{kind} train --out {shlex.quote(str(out))} --resume"
    argv = shlex.split(command)
    resumed = subprocess.run([sys.executable, *argv[1:], "--no-progress"], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"step {stopped}" in resumed.stdout  # it continued, it did not start again
    assert _steps(out) == list(range(1, 31))


def test_a_signal_stop_resumes_bit_identically(tmp_path, monkeypatch):
    """The checkpoint written on a signal (between two steps) continues exactly like an uninterrupted run."""
    torch.set_num_threads(1)
    handler = signal.getsignal(signal.SIGINT)
    data, cfg = remember_the_class(), tiny(method="bptt", lr=0.01, checkpoint_every=100, eval_every=0)
    full = meta.train(cfg, tmp_path / "full", dataset=data, progress=False)
    real = meta.MetaTrainer.step

    def step_then_signal(self, s):
        out = real(self, s)
        if s == 2:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does, during step 3
        return out

    monkeypatch.setattr(meta.MetaTrainer, "step", step_then_signal)
    with pytest.raises(RunInterrupted, match="stopped at step 3") as info:
        meta.train(cfg, tmp_path / "cut", dataset=data, progress=False)
    assert info.value.exit_code == 130 and "resume=True" in info.value.resume
    monkeypatch.setattr(meta.MetaTrainer, "step", real)
    resumed = meta.train(cfg, tmp_path / "cut", resume=True, dataset=data, progress=False)
    assert torch.equal(resumed.params_flat, full.params_flat)
    assert signal.getsignal(signal.SIGINT) is handler  # the loop restored the handlers


def test_one_exception_type_for_a_nan_stop(tmp_path, monkeypatch):
    from tiny_tasks import tiny_cfg, tiny_dataset
    from vsml import cloning
    assert issubclass(NonFiniteError, FloatingPointError) and meta.NonFiniteError is NonFiniteError
    monkeypatch.setattr(cloning.trainer, "cloning_loss",
                        lambda *a: (torch.tensor(float("nan")), {}, {}))
    with pytest.raises(NonFiniteError, match="step 1: the cloning loss is nan; cloning .* no checkpoint"):
        cloning.train(tiny_cfg(), tmp_path, dataset=tiny_dataset(), progress=False)


def test_a_run_whose_gradient_stays_zero_gets_one_warning(tmp_path, capsys):
    from vsml.runloop import DEAD_GRADIENT_STEPS, RunLoop
    loop = RunLoop(tmp_path, what="test run", resume_command="-", progress=False)
    grads = [0.5] + [0.0] * (DEAD_GRADIENT_STEPS - 1) + [0.3] + [0.0] * (2 * DEAD_GRADIENT_STEPS)
    loop.run(start=0, total=len(grads), step=lambda s: {"loss": 2.3, "grad_norm": grads[s]},
             save=lambda step, wall: None, records=[], checkpoint_every=1000)
    err = capsys.readouterr().err
    assert err.count("the gradient has been exactly 0") == 1  # not after 9 zeros; once after the next 10
    assert f"(step {2 * DEAD_GRADIENT_STEPS + 1})" in err
