"""Meta-training speed: ES generations (or BPTT steps) per second and sub-LSTM micro-ticks per second.

Algorithm 1's cost is ``members x T x sum_k(A_k B_k) x micro-ticks`` sub-LSTM
updates per step (Section 3.1; the paper's ES run, Appendix C.2, is
2,048 x 500 x 7,840 x 2 = 16 G micro-ticks per generation). This times whole
steps of :class:`vsml.meta.MetaTrainer` (noise, episodes, states, forward,
update) on random images of the config's shape, so it needs no dataset; the
speed does not depend on the pixel values.

A config too slow for this device (the ``paper`` config on a CPU) is measured
with fewer pairs and shorter episodes and extrapolated linearly in both (the
work is linear in each); the output says so.

    python -m vsml.bench_meta                       # cpu_es, cpu_bptt, cpu_bptt_long, paper (reduced on CPU)
    python -m vsml.bench_meta --configs cpu_es --compile both
    python -m vsml.bench_meta --configs paper --device cuda --set model_options.state_dtype=bfloat16
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import time

import torch

from .data import Dataset
from .device import describe, peak_memory_mb, resolve_device, synchronize, threads_text
from .meta import MetaConfig, MetaTrainer, load_config
from .runloop import run_reporting_bad_input

IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "kmnist": (1, 28, 28),
                "emnist": (1, 28, 28), "cifar10": (3, 32, 32), "digits": (1, 8, 8), "omniglot": (1, 28, 28)}
NUM_CLASSES = {"emnist": 62}


def random_images(config: MetaConfig, num: int = 2000) -> Dataset:
    """Uniform random images of the config's dataset shape (for timing only); enough for its longest episode."""
    num = max(num, config.episode_length, config.episode_length_max or 0)
    shape = IMAGE_SHAPES.get(config.dataset, (1, 28, 28))
    classes = NUM_CLASSES.get(config.dataset, 10)
    g = torch.Generator().manual_seed(0)
    return Dataset(config.dataset, "bench", torch.rand(num, *shape, generator=g),
                   torch.randint(0, classes, (num,), generator=g), classes, "random images (timing only)")


def micro_ticks_per_step(trainer: MetaTrainer) -> int:
    """Sub-LSTM micro-ticks in one step (forward pass only), for the VSML model."""
    c = trainer.config
    members = 2 * c.num_pairs if c.method == "es" else c.meta_batch_size
    net = trainer.model.config
    examples = c.segment_length if c.long_horizon and c.segment_length else c.episode_length  # pool: one segment
    return members * examples * sum(a * b for a, b in net.layer_shapes()) * net.num_micro_ticks


def benchmark(config: MetaConfig, steps: int = 3, warmup: int = 1, num_pairs: int | None = None,
              episode_length: int | None = None, device=None) -> dict:
    """Time ``steps`` meta-training steps after ``warmup`` (which absorbs torch.compile).

    ``num_pairs`` / ``episode_length`` shrink the measured config; the result's
    ``*_full`` numbers extrapolate linearly back to the config's sizes.
    """
    full = config
    changes = {"eval_every": 0, "device": device or config.device}
    if num_pairs is not None:
        changes["num_pairs"] = num_pairs
        changes["meta_batch_size"] = num_pairs
    if episode_length is not None:
        changes["episode_length"] = episode_length
    config = dataclasses.replace(config, **changes)
    trainer = MetaTrainer(config, random_images(config))
    t0 = time.perf_counter()
    for s in range(warmup):
        trainer.step(s)
    synchronize(trainer.device)
    warmup_s = time.perf_counter() - t0
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    t0 = time.perf_counter()
    for s in range(warmup, warmup + steps):
        trainer.step(s)
    synchronize(trainer.device)
    sec = (time.perf_counter() - t0) / steps
    scale = 1.0
    if config.method == "es":
        scale *= full.num_pairs / config.num_pairs
    else:
        scale *= full.meta_batch_size / config.meta_batch_size
    scale *= full.episode_length / config.episode_length
    ticks = micro_ticks_per_step(trainer) if full.model == "vsml" else None
    return {"method": config.method, "device": str(trainer.device), "sec_per_step": sec, "warmup_s": warmup_s,
            "steps_per_s": 1 / sec, "micro_ticks_per_s": ticks / sec if ticks else None,
            "peak_memory_mb": peak_memory_mb(trainer.device), "extrapolated": scale != 1.0, "sec_per_step_full": sec * scale, "steps_per_s_full": 1 / (sec * scale),
            "measured": {"num_pairs": config.num_pairs, "meta_batch_size": config.meta_batch_size,
                         "episode_length": config.episode_length}}


def device_name(device: str) -> str:
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({platform.processor() or platform.machine()}), {threads_text()}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.bench_meta", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["cpu_es", "cpu_bptt", "cpu_bptt_long", "paper"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per config")
    parser.add_argument("--compile", choices=["config", "on", "off", "both"], default="config",
                        help="torch.compile of the tick (VSML, ES only): as the config says, on, off, or both")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: the config's, auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; 1 is faster on a busy shared machine)")
    parser.add_argument("--reduced-pairs", type=int, default=4,
                        help="pairs measured for a config too slow here (paper on CPU)")
    parser.add_argument("--reduced-length", type=int, default=50, help="episode length measured in that case")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value in every config measured (repeatable), e.g. "
                             "model_options.state_dtype=bfloat16")
    parser.add_argument("--json", default=None, help="also write every result, with the device, to this JSON file")
    args = parser.parse_args(argv)
    return run_reporting_bad_input(_run, args, {"--steps": args.steps, "--reduced-pairs": args.reduced_pairs,
                                                  "--reduced-length": args.reduced_length})


def _run(args) -> int:
    results = []
    if args.threads:
        torch.set_num_threads(args.threads)

    for name in args.configs:
        config = dataclasses.replace(load_config(name, args.set), num_threads=None)  # keep this process's threads
        device = str(resolve_device(args.device or config.device))
        reduce = name == "paper" and device == "cpu"
        variants = [None]
        if config.model == "vsml" and args.compile != "config":
            variants = [False, True] if args.compile == "both" else [args.compile == "on"]
        for compiled in variants:
            cfg = config
            if compiled is not None:
                cfg = dataclasses.replace(config, model_options={**config.model_options, "compile": compiled})
            r = benchmark(cfg, steps=args.steps, device=device,
                          num_pairs=args.reduced_pairs if reduce else None,
                          episode_length=args.reduced_length if reduce else None)
            unit = "generations" if r["method"] == "es" else "steps"
            comp = cfg.model_options.get("compile", False)
            line = (f"{name:9s} {r['method']:4s} compile={str(comp):5s}{''.join(' ' + o for o in args.set)} "
                    f"on {device_name(r['device'])}: "
                    f"{r['steps_per_s']:.3g} {unit}/s ({r['sec_per_step']:.3g} s each, warm-up {r['warmup_s']:.1f} s)")
            if r["micro_ticks_per_s"]:
                line += f", {r['micro_ticks_per_s'] / 1e6:.2f} M sub-LSTM micro-ticks/s"
            if r["peak_memory_mb"] is not None:
                line += f", peak GPU memory {r['peak_memory_mb']:.0f} MiB"
            results.append({"config": name, "compile": bool(comp), "overrides": list(args.set),
                            "device_description": describe(r["device"]), **r})
            print(line, flush=True)
            if r["extrapolated"]:
                m = r["measured"]
                print(f"{'':9s} measured with {m['num_pairs']} pairs x {m['episode_length']} examples; linear "
                      f"extrapolation to {cfg.num_pairs} pairs x {cfg.episode_length}: "
                      f"{r['sec_per_step_full']:.3g} s per {unit[:-1]} ({r['steps_per_s_full']:.2g} {unit}/s)",
                      flush=True)
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

