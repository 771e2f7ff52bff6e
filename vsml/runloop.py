"""The run loop shared by meta-training (Algorithm 1, Section 3.1) and cloning (Section 3.2).

A run is a folder with ``checkpoint.pt`` (the whole state, written
atomically every ``checkpoint_every`` steps and at the end) and
``metrics.jsonl`` (one JSON record per logged step). :class:`RunLoop` owns
what both kinds of run need around their own ``step``:

* the resume check: an existing checkpoint is an error unless resuming, and
  a resumed log restarts from the checkpoint's records (steps after it are
  redone, so the log never holds a step twice);
* the NaN stop: a step raising :class:`NonFiniteError` ends the run with
  one message naming the step and the last good checkpoint, which is left
  untouched (the bad update was never applied);
* Ctrl-C (SIGINT) and SIGTERM: the signal is noted, the current step
  finishes, a checkpoint is written, and :class:`RunInterrupted` (a
  ``KeyboardInterrupt``) carries the command that resumes the run;
  a second Ctrl-C stops at once (the last periodic checkpoint stays);
* a tqdm progress bar and the wall time across resumes.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from .device import DeviceError
from .runio import atomic_save, atomic_write_text

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class NonFiniteError(FloatingPointError):
    """A loss or gradient became NaN/inf; the step raising it did not apply its update."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped on SIGINT/SIGTERM after writing a checkpoint; ``resume`` is the command to continue."""

    def __init__(self, message: str, *, signum: int, step: int, resume: str | None):
        super().__init__(message)
        self.signum, self.step, self.resume = signum, step, resume

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 130 for Ctrl-C, 143 for SIGTERM, as shells report them


DEAD_GRADIENT_STEPS = 10  # after this many steps in a row with a zero gradient, RunLoop.run warns (once per streak)
CLI_ERRORS = (KeyboardInterrupt, NonFiniteError, FileNotFoundError, FileExistsError, ValueError, RuntimeError)


def cli_failure(exc: BaseException, prog: str, out_dir=None) -> int:
    """One line on stderr and the exit code for an error the training CLIs report (``CLI_ERRORS``).

    ``RunInterrupted`` (a stop signal, checkpoint written): its own message and code; a NaN stop: 3;
    a plain Ctrl-C: 130, with the resume command when ``out_dir`` holds a checkpoint; anything else: 2.
    """
    if isinstance(exc, RunInterrupted):
        print(f"\n{exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        has_ckpt = out_dir is not None and (Path(out_dir) / CHECKPOINT).exists()
        hint = (f"continue with: python -m {prog} train --out {out_dir} --resume" if has_ckpt
                else "no checkpoint was written; run the same command again")
        print(f"\ninterrupted; {hint}", file=sys.stderr)
        return 130
    print(f"error: {exc}", file=sys.stderr)
    return 3 if isinstance(exc, NonFiniteError) else 2


def run_reporting_bad_input(run, args, counts: dict[str, int] | None = None) -> int:
    """``run(args)`` for a command line: bad input (``ValueError``, ``FileNotFoundError``, an unknown device, or
    one of ``counts`` below 1) is one line on stderr and exit code 2, as in ``vsml.meta`` and ``vsml.cloning``.
    Other runtime failures (CUDA out of memory, a kernel that does not compile) keep their traceback."""
    try:
        for flag, value in (counts or {}).items():
            if value < 1:
                raise ValueError(f"{flag} must be >= 1, got {value}")
        return run(args)
    except (ValueError, FileNotFoundError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class _StopSignals:
    """Turn SIGINT/SIGTERM into a flag checked between steps (main thread only; else a no-op)."""

    def __init__(self):
        self.signum, self._old = None, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping after the current step and writing a checkpoint "
              f"(Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


class RunLoop:
    """Checkpoints, metrics, progress, the NaN stop and signals around a run's ``step`` function.

    ``is_main`` is False on the other ranks of a distributed run (they step,
    but write nothing); ``agree_to_stop`` makes all ranks stop at the same
    step (e.g. an all-reduce of the flag).
    """

    def __init__(self, out_dir, *, what: str, resume_command: str | None = None, is_main: bool = True,
                 progress: bool = True, agree_to_stop: Callable[[bool], bool] | None = None):
        self.out = Path(out_dir)
        self.checkpoint_path, self.metrics_path = self.out / CHECKPOINT, self.out / METRICS
        self.what, self.resume_command, self.is_main, self.progress = what, resume_command, is_main, progress
        self.agree_to_stop = agree_to_stop or (lambda flag: flag)

    # ---- before the loop
    def existing_checkpoint(self, resume: bool, load: Callable[[Path], dict]) -> dict | None:
        """The checkpoint to resume from (``None`` for a fresh run); an existing one without ``resume`` is an error."""
        if not self.checkpoint_path.exists():
            return None
        if not resume:
            raise FileExistsError(f"{self.out} already holds a run ({self.checkpoint_path}); pass --resume "
                                  f"(resume=True) to continue it or choose another output folder")
        return load(self.checkpoint_path)

    def start_log(self, records: list[dict]) -> None:
        """Create the folder and rewrite the metrics log from the checkpoint's records."""
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text("".join(json.dumps(r) + "\n" for r in records), self.metrics_path)

    # ---- the loop
    def run(self, *, start: int, total: int, step: Callable[[int], dict], save: Callable[[int, float], None],
            records: list[dict], wall_before: float = 0.0, log_every: int = 1, checkpoint_every: int = 1,
            evaluate: Callable[[int], dict] | None = None, eval_every: int = 0,
            postfix: Callable[[dict], dict] | None = None, eval_at_start: bool = False) -> list[dict]:
        """Steps ``start+1 .. total``: ``step(s)`` returns the record of step ``s + 1``.

        ``evaluate(done)`` runs every ``eval_every`` steps and at the end (and, with ``eval_at_start``
        on a run that starts at step 0, before the first step: a record ``{"step": 0, **evaluate(0)}``); a
        record is logged every ``log_every`` steps, at evaluations and at the
        end; ``save(done, wall_time)`` writes the checkpoint every
        ``checkpoint_every`` steps, at the end, and on a stop signal.
        """
        bar = None
        if self.is_main and self.progress and total > start:
            from tqdm.auto import tqdm
            bar = tqdm(total=total, initial=start, desc=self.what, dynamic_ncols=True,
                       mininterval=1.0 if sys.stderr.isatty() else 30.0)
        last_good = start if self.checkpoint_path.exists() else None
        t_start = time.perf_counter()
        wall = lambda: wall_before + time.perf_counter() - t_start  # noqa: E731
        log = open(self.metrics_path, "a") if self.is_main else None
        zero_grads = 0  # consecutive steps with an exactly zero gradient: a run that cannot learn any more
        try:
            with _StopSignals() as stop:
                if eval_at_start and start == 0 and total > 0 and self.is_main and evaluate is not None:
                    records.append({"step": 0, **evaluate(0), "wall_time": wall()})
                    log.write(json.dumps(records[-1]) + "\n")
                    log.flush()
                for s in range(start, total):
                    t0 = time.perf_counter()
                    try:
                        rec = step(s)
                    except NonFiniteError as exc:
                        where = (f"the last good checkpoint {self.checkpoint_path} (step {last_good}) was left "
                                 f"untouched" if last_good is not None else "no checkpoint had been written yet")
                        raise NonFiniteError(f"step {s + 1}: {exc}; {self.what} stopped, {where}") from None
                    done = s + 1
                    zero_grads = zero_grads + 1 if rec.get("grad_norm") == 0.0 else 0
                    if zero_grads == DEAD_GRADIENT_STEPS and self.is_main:
                        print(f"\n{self.what}: warning: the gradient has been exactly 0 for {zero_grads} steps "
                              f"(step {done}): nothing is learned any more (saturated outputs? a learning rate "
                              f"far too large?)", file=sys.stderr, flush=True)
                    rec = {"step": done, **rec, "sec_per_step": time.perf_counter() - t0}
                    due = bool(eval_every) and (done % eval_every == 0 or done == total)
                    evaluated = self.is_main and evaluate is not None and due
                    if evaluated:
                        rec.update(evaluate(done))
                    rec["wall_time"] = wall()
                    if done % log_every == 0 or done == total or evaluated:
                        records.append(rec)
                        if log:
                            log.write(json.dumps(rec) + "\n")
                            log.flush()
                    stopping = self.agree_to_stop(stop.signum is not None)
                    if done % checkpoint_every == 0 or done == total or stopping:
                        save(done, rec["wall_time"])
                        last_good = done
                    if bar is not None:
                        bar.update(1)
                        if postfix is not None:
                            bar.set_postfix(postfix(rec), refresh=False)
                    if stopping and done < total:
                        raise self._interrupted(stop.signum or signal.SIGTERM, done)
        finally:
            if bar is not None:
                bar.close()
            if log:
                log.close()
        return records

    def _interrupted(self, signum: int, step: int) -> RunInterrupted:
        name = signal.Signals(signum).name
        msg = f"{name}: {self.what} stopped at step {step}; checkpoint {self.checkpoint_path} written"
        if self.resume_command:
            msg += f"; continue with: {self.resume_command}"
        return RunInterrupted(msg, signum=signum, step=step, resume=self.resume_command)

    def save_checkpoint(self, payload: dict) -> None:
        if self.is_main:
            atomic_save(payload, self.checkpoint_path)
