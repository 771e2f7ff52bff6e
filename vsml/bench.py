"""Speed of the dense VSML layer: sub-LSTM micro-ticks per second.

One example on a dense layer costs ``P * A * B * num_micro_ticks`` sub-LSTM
micro-ticks. We time two cases on the 784x10 MNIST layer of Section 4.2:

(a) one episode (``P = 1``, shared ``V_M``), as in meta-testing;
(b) an ES population of ``--pop-size`` members with per-member ``V_M`` (Algorithm 1).

and these formulations, all in the same run on the same inputs, called in
turn (so that a busy machine slows all of them alike; the best of ``--repeats``
timings is reported, the median is printed too; a timing repeats a fast call until it lasts
at least ``MIN_MEASURE_S``, since a single 1 ms call is mostly timer and thread wake-up noise):

* ``reference``: the straightforward one (``vsml.lstm.dense_tick_reference``):
  one affine map per sub-LSTM over the concatenated ``[fwd, bwd, h]``, messages
  projected per sub-LSTM and then averaged;
* ``fast eager``: the project's layer (``vsml.dense_tick.DenseTick``) on its PyTorch path;
* ``fast compiled``: the same with ``torch.compile`` (what autograd-free runs used before the kernels);
* ``kernel``: the fused kernel that ``DenseTick`` uses for inference (``vsml.kernels``:
  C++ on the CPU, Triton on CUDA). On CUDA more rows time the Triton kernel's
  tile sizes and, marked inexact, its tensor-core precisions (``tf32x3``, ``tf32``);
* ``kernel, in place`` (CPU): the same kernel writing the new states over the old
  ones, as the loops that own their states call it (``run_episode``, ES episodes);
  it spares allocating and page-faulting ``h, c`` on every example.

Each row checks that its outputs equal the reference's (``max |diff|``). The
last two lines give the speed-up of the fastest exact formulation over the
reference for cases (a) and (b). ``--step`` also times one whole example of the
VSML network (``online_step``: tick, prediction, error) at ``--pop-size`` per-member
parameters, and prints the implied seconds per 500-example ES generation. ``--conv``
times the convolutional VSML layer of Appendix B.2 (``vsml.conv``: kernel 3, stride 2,
padding 1, 8 channels; its PyTorch path, under ``torch.compile``, and the default, on the CPU
the fused kernel ``vsml.kernels.cpu_conv``) on the same 28x28 image beside the dense 784x10
layer, and the dense 1568x10 layer after it (printed before the two speed-up lines). ``--cloned`` times one
batch-64 meta-test step of the shipped cloned learning algorithms (Section 4.1, Appendix B.1;
``vsml.cloning.step_timing``) on the shallow 784-10 and deep 784-32-10 networks: the fused kernel
beside the PyTorch passes it replaced, outputs compared, its two speed-ups on the last two lines::

    python -m vsml.bench [--device cuda] [--pop-size 64] [--repeats 5] [--threads 1] [--step] [--conv]
                         [--cloned] [--json out.json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import statistics
import time

import torch

from .dense_tick import DenseTick
from .device import describe, resolve_device
from .lstm import SubLSTMConfig, dense_tick_reference, param_count, unflatten_params
from .runloop import run_reporting_bad_input

EXACT = 1e-5          # max |diff| to the reference for a row to count as exact (float32 rounding)
EPISODE_LENGTH = 500  # examples per episode in the paper's ES generation (Appendix C.2)


def _inputs(members: int | None, batch: int, A: int, B: int, cfg: SubLSTMConfig, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    D = param_count(cfg)
    flat = 0.3 * torch.randn(*(() if members is None else (members,)), D, generator=gen)
    params = {k: v.to(device) for k, v in unflatten_params(flat, cfg).items()}
    N = cfg.state_size
    h = (0.5 * torch.randn(batch, A, B, N, generator=gen)).tanh().to(device)
    c = torch.randn(batch, A, B, N, generator=gen).to(device)
    fwd = torch.zeros(batch, A, cfg.fwd_size)
    fwd[..., 0] = torch.randn(batch, A, generator=gen)  # an input image in slot 0
    bwd = torch.zeros(batch, B, cfg.bwd_size)
    bwd[..., 0] = 0.1 * torch.randn(batch, B, generator=gen)  # an error in slot 0
    return params, h, c, fwd.to(device), bwd.to(device)


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


MIN_MEASURE_S = 0.05  # a timing shorter than this is repeated: one 1 ms call is mostly timer and wake-up noise


def _time_in_turn(fns: dict, repeats: int, device, min_measure_s: float = MIN_MEASURE_S) -> dict:
    """Seconds per call of each function, calling them in turn (after two warm-up calls each).

    Each of the ``repeats`` measurements of a function times ``number`` consecutive calls, with
    ``number`` chosen from the second warm-up call so that one measurement lasts about
    ``min_measure_s`` or more (as ``timeit.autorange`` does, from one call instead of a doubling
    search). Returns ``name -> (best, median, number)`` in seconds per call: the best measurement
    is the least disturbed by other work on a shared machine (as ``timeit`` reports), the median
    says how disturbed the run was.
    """
    number = {}
    for name, fn in fns.items():
        fn()
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        number[name] = max(1, math.ceil(min_measure_s / max(time.perf_counter() - t0, 1e-9)))
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(number[name]):
                fn()
            _sync(device)
            times[name].append((time.perf_counter() - t0) / number[name])
    return {name: (min(ts), statistics.median(ts), number[name]) for name, ts in times.items()}


@contextlib.contextmanager
def _triton_tile(precision: str, block_m: int, num_warps: int, use_dot: bool, fuse_messages: bool = False):
    """Run the Triton kernel with another tile (and with the messages projected in the kernel or not); a failure
    there does not switch the default tile off."""
    from . import dense_tick
    from .kernels import triton_tick
    old, status = triton_tick.TILES[precision], dict(dense_tick._TRITON_STATUS)
    old_fuse = triton_tick.FUSE_MESSAGES
    triton_tick.TILES[precision] = (block_m, num_warps, use_dot)
    triton_tick.FUSE_MESSAGES = fuse_messages
    try:
        yield
    finally:
        triton_tick.TILES[precision] = old
        triton_tick.FUSE_MESSAGES = old_fuse
        dense_tick._TRITON_STATUS.clear()
        dense_tick._TRITON_STATUS.update(status)


# Triton variants timed on CUDA besides the default: (precision, rows per tile, warps, tl.dot)
# (the default since the H100 run of 2026-11-27 is ieee 64/4w with tl.dot: 6.19 vs 8.02 ms per example for the
# rank-1 updates at 2,048 members; vsml/results/gpu_h100_2026-11-27/bench_pop2048.json)
TRITON_SWEEP = (("ieee", 64, 4, False), ("ieee", 32, 2, True), ("ieee", 128, 4, True), ("ieee", 128, 8, True),
                ("tf32x3", 64, 4, True), ("tf32x3", 128, 8, True), ("tf32", 64, 4, True))
# ... and with the states stored in bfloat16 (inexact by design: rounded once per example; tests/test_state_dtype.py)
BF16_SWEEP = (("ieee", 64, 4, True), ("ieee", 128, 8, True))
# ... and with the message part of the gates projected inside the kernel (triton_tick.FUSE_MESSAGES), float32 and bf16
FUSED_MESSAGE_SWEEP = (("ieee", 64, 4, "float32"), ("ieee", 128, 8, "float32"), ("ieee", 64, 4, "bfloat16"))


def _kernel_rows(cfg, num_ticks, device, sweep: bool):
    """``(name, DenseTick, tile or None)`` of the kernel rows: the default, and on CUDA a few alternatives."""
    rows = [("kernel", DenseTick(cfg, num_ticks, backend="kernel"), None)]
    if sweep and str(device).startswith("cuda"):
        for prec, bm, nw, dot in TRITON_SWEEP:
            name = f"kernel {prec} {bm}/{nw}w{' dot' if dot and prec == 'ieee' else ''}"
            rows.append((name, DenseTick(cfg, num_ticks, backend="kernel", precision=prec), (prec, bm, nw, dot)))
        for prec, bm, nw, dot in BF16_SWEEP:
            rows.append((f"kernel {prec} {bm}/{nw}w bf16 states",
                         DenseTick(cfg, num_ticks, backend="kernel", precision=prec, state_dtype="bfloat16"),
                         (prec, bm, nw, dot)))
        for prec, bm, nw, dtype in FUSED_MESSAGE_SWEEP:
            rows.append((f"kernel {prec} {bm}/{nw}w fused messages{' bf16 states' if dtype == 'bfloat16' else ''}",
                         DenseTick(cfg, num_ticks, backend="kernel", precision=prec, state_dtype=dtype),
                         (prec, bm, nw, True, True)))
    return rows


def benchmark(pop_size: int = 64, A: int = 784, B: int = 10, num_ticks: int = 2, repeats: int = 5,
              device: str = "cpu", compile: bool = True, kernel: bool = False, sweep: bool = False) -> list[dict]:
    """Rows of (case, formulation, seconds per example, M micro-ticks/s, max abs diff to reference).

    ``kernel`` adds the fused kernel's row(s) (``sweep``: Triton tile and precision variants on CUDA).
    """
    cfg = SubLSTMConfig()
    rows = []
    cases = [("(a) 1 episode, shared V_M", None, 1), (f"(b) population {pop_size}, per-member V_M", pop_size, pop_size)]
    for case, members, batch in cases:
        params, h, c, fwd, bwd = _inputs(members, batch, A, B, cfg, device)
        eager = DenseTick(cfg, num_ticks, backend="torch")
        formulations = {
            "reference": lambda: dense_tick_reference(params, cfg, h, c, fwd, bwd, num_ticks),
            "fast eager": lambda: eager(params, h, c, fwd, bwd),
        }
        if compile:
            compiled = DenseTick(cfg, num_ticks, compile=True, backend="torch")
            formulations["fast compiled"] = lambda: compiled(params, h, c, fwd, bwd)
        tiles = {}
        if kernel:
            for name, layer, tile in _kernel_rows(cfg, num_ticks, device, sweep and members is not None):
                def run(layer=layer, tile=tile):
                    with (_triton_tile(*tile) if tile else contextlib.nullcontext()):
                        return layer(params, h, c, fwd, bwd)
                formulations[name] = run
                tiles[name] = tile
            if not str(device).startswith("cuda"):  # CUDA's caching allocator has no first-touch cost
                layer, own = DenseTick(cfg, num_ticks, backend="kernel"), [h.clone(), c.clone()]
                formulations["kernel, in place"] = lambda: layer(params, *own, fwd, bwd, in_place=True)
        with torch.inference_mode():
            ref_out = formulations["reference"]()
            diffs, errors = {}, {}
            for name, fn in list(formulations.items()):
                try:
                    out = fn()
                except Exception as exc:  # noqa: BLE001 -- e.g. a kernel that does not build here: report it
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    del formulations[name]
                    continue
                diffs[name] = max((a - b).abs().max().item() for a, b in zip(out, ref_out))
            secs = _time_in_turn(formulations, repeats, device)
        for name in formulations:
            best, median, number = secs[name]
            rows.append(dict(case=case, formulation=name, secs=best, secs_median=median, calls_per_timing=number,
                             max_diff=diffs[name],
                             mticks=batch * A * B * num_ticks / best / 1e6, exact=diffs[name] <= EXACT,
                             tile=tiles.get(name)))
        for name, err in errors.items():
            rows.append(dict(case=case, formulation=name, secs=None, secs_median=None, max_diff=None, mticks=None,
                             exact=False,
                             tile=tiles.get(name), error=err))
    return rows


def time_step(pop_size: int, A: int = 784, B: int = 10, steps: int = 5, device: str = "cpu",
              backend: str = "auto", state_dtype: str = "float32") -> dict:
    """One example of Algorithm 1's inner loop (``VSMLNetwork.online_step``) for ``pop_size`` members."""
    from .network import NetworkState, VSMLConfig, VSMLNetwork
    net = VSMLNetwork(VSMLConfig(layer_sizes=(A, B), state_dtype=state_dtype))
    net.tick.backend = backend
    cfg = net.config.sub_lstm
    params, *_ = _inputs(pop_size, 1, 1, 1, cfg, device)
    g = torch.Generator(device=device).manual_seed(1)
    shape = (pop_size, A, B, cfg.state_size)  # a random state, made on the device (1 GB each at P = 2048)
    state = NetworkState([torch.zeros(shape, device=device)], [0.1 * torch.randn(shape, generator=g, device=device)],
                         [torch.zeros(pop_size, B, cfg.bwd_size, device=device)])
    x = torch.rand(steps + 2, pop_size, A, generator=g, device=device)
    y = torch.randint(0, B, (steps + 2, pop_size), generator=g, device=device)
    with torch.inference_mode():
        for t in range(2):  # warm-up (kernel build, self-check)
            _, _, state = net.online_step(params, state, x[t], y[t], in_place=True)  # the loop's own state
        _sync(device)
        t0 = time.perf_counter()
        for t in range(2, steps + 2):
            _, _, state = net.online_step(params, state, x[t], y[t], in_place=True)
        _sync(device)
    sec = (time.perf_counter() - t0) / steps
    from .dense_tick import _TRITON_STATUS
    return {"pop_size": pop_size, "layer": f"{A}x{B}", "backend": backend, "state_dtype": state_dtype,
            "sec_per_example": sec,
            "triton_status": {" ".join(k): v for k, v in _TRITON_STATUS.items()},
            "sec_per_generation": sec * EPISODE_LENGTH, "episode_length": EPISODE_LENGTH,
            "mticks": pop_size * A * B * net.config.num_micro_ticks / sec / 1e6}


def conv_benchmark(pop_size: int = 64, repeats: int = 5, device: str = "cpu", side: int = 28,
                   out_channels: int = 8, num_ticks: int = 2) -> list[dict]:
    """The conv VSML layer (Appendix B.2) beside the dense layer on the same ``side x side`` image.

    Rows: the dense ``side^2 x 10`` layer (``DenseTick``, the default backend), the conv layer
    (``ConvTick``: eager PyTorch ops, with ``torch.compile``, and the default backend, which on the
    CPU is the fused C++ kernel) and the dense layer that follows it in the conv network; ``mticks``:
    million sub-LSTM (instance) micro-ticks per second.
    """
    from .conv import ConvTick
    cfg = SubLSTMConfig()
    conv = ConvTick(cfg, (side, side), 3, 2, 1, num_ticks, backend="torch")
    conv_compiled = ConvTick(cfg, (side, side), 3, 2, 1, num_ticks, compile=True, backend="torch")
    conv_default = ConvTick(cfg, (side, side), 3, 2, 1, num_ticks)
    (Ho, Wo), L = conv.geom.out_size, conv.geom.num_out
    instances = int(conv.geom.instance_mask(torch.zeros(())).sum()) * out_channels  # per member and tick
    rows = []
    for case, members, batch in (("(a) 1 episode, shared V_M", None, 1),
                                 (f"(b) population {pop_size}, per-member V_M", pop_size, pop_size)):
        params, h, c, fwd, bwd = _inputs(members, batch, side * side, 10, cfg, device)
        g = torch.Generator().manual_seed(1)
        ch = torch.randn(batch, 1, 3, 3, out_channels, cfg.state_size, generator=g).to(device)
        cbwd = (0.1 * torch.randn(batch, out_channels, Ho, Wo, cfg.bwd_size, generator=g)).to(device)
        A2 = out_channels * L
        _, h2, c2, fwd2, bwd2 = _inputs(members, batch, A2, 10, cfg, device, seed=2)
        dense = DenseTick(cfg, num_ticks)
        conv_in = (params, ch.tanh(), ch, fwd.reshape(batch, 1, side, side, -1), cbwd)
        conv_name = f"conv 3x3/s2 -> {out_channels}x{Ho}x{Wo}"
        fns = {f"dense {side * side}x10": (lambda: dense(params, h, c, fwd, bwd), batch * side * side * 10),
               conv_name: (lambda: conv(*conv_in), batch * instances),
               f"{conv_name} compiled": (lambda: conv_compiled(*conv_in), batch * instances),
               f"{conv_name} default{' (kernel)' if str(device) == 'cpu' else ''}":
                   (lambda: conv_default(*conv_in), batch * instances),
               f"dense {A2}x10 after the conv": (lambda: dense(params, h2, c2, fwd2, bwd2), batch * A2 * 10)}
        with torch.inference_mode():
            secs = _time_in_turn({k: f for k, (f, _) in fns.items()}, repeats, device)
        for name, (_, ticks) in fns.items():
            best, median, number = secs[name]
            rows.append(dict(case=case, formulation=name, secs=best, secs_median=median, calls_per_timing=number,
                             mticks=ticks * num_ticks / best / 1e6))
    return rows


def speedups(rows: list[dict]) -> dict:
    """Per case: the fastest exact formulation and its speed-up over the reference (same run)."""
    out = {}
    for case in dict.fromkeys(r["case"] for r in rows):
        rs = [r for r in rows if r["case"] == case]
        ref = next(r for r in rs if r["formulation"] == "reference")
        best = min((r for r in rs if r["exact"] and r["secs"]), key=lambda r: r["secs"])
        out[case] = {"formulation": best["formulation"], "speedup": ref["secs"] / best["secs"],
                     "ms_per_example": best["secs"] * 1e3}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pop-size", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=784, help="A: layer inputs")
    parser.add_argument("--outputs", type=int, default=10, help="B: layer outputs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    parser.add_argument("--no-kernel", action="store_true", help="skip the fused kernel row(s)")
    parser.add_argument("--no-sweep", action="store_true", help="CUDA: only the default Triton tile and precision")
    parser.add_argument("--step", action="store_true",
                        help="also time a whole example (online_step) at --pop-size members (default on CUDA)")
    parser.add_argument("--conv", action="store_true",
                        help="also time the conv VSML layer (Appendix B.2) beside the dense layer on a 28x28 image")
    parser.add_argument("--cloned", action="store_true",
                        help="also time one batch-64 meta-test step of the cloned learning algorithms (CPU)")
    parser.add_argument("--cloned-repeats", type=int, default=3, help="timed steps per pass with --cloned")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch (and CPU kernel) threads (default: torch's; 1 is steadier on a busy machine)")
    parser.add_argument("--json", default=None, help="also write the rows, with the device, to this JSON file")
    args = parser.parse_args(argv)
    return run_reporting_bad_input(_run, args, {"--pop-size": args.pop_size, "--inputs": args.inputs,
                                                  "--outputs": args.outputs, "--repeats": args.repeats,
                                                  "--cloned-repeats": args.cloned_repeats})


def _run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    args.device = str(resolve_device(args.device))
    cuda = args.device.startswith("cuda")
    dev = torch.cuda.get_device_name(args.device) if cuda else platform.processor() or "cpu"
    print(f"device: {args.device} ({dev}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"layer {args.inputs}x{args.outputs}, N=16, 2 micro-ticks per example; best of {args.repeats} "
          f"timings per row (each about {MIN_MEASURE_S * 1e3:.0f} ms or more of back-to-back calls), rows called in "
          f"turn", flush=True)
    rows = benchmark(args.pop_size, args.inputs, args.outputs, repeats=args.repeats, device=args.device,
                     compile=not args.no_compile, kernel=not args.no_kernel, sweep=not args.no_sweep)
    print(f"{'case':38s} {'formulation':20s} {'ms/example':>11s} {'M ticks/s':>10s} {'vs ref':>7s} {'max |diff|':>11s}"
          f" {'median ms':>10s}")
    ref = {r["case"]: r["secs"] for r in rows if r["formulation"] == "reference"}
    for r in rows:
        if r["secs"] is None:
            print(f"{r['case']:38s} {r['formulation']:20s} FAILED: {r['error']}")
            continue
        r["speedup_vs_reference"] = ref[r["case"]] / r["secs"]
        print(f"{r['case']:38s} {r['formulation']:20s} {r['secs'] * 1e3:11.2f} {r['mticks']:10.2f} "
              f"{r['speedup_vs_reference']:6.2f}x {r['max_diff']:11.2e} {r['secs_median'] * 1e3:10.2f}"
              f"{'' if r['exact'] else '  (inexact)'}")
    step = step_bf16 = None
    if args.step or cuda:
        step = time_step(args.pop_size, args.inputs, args.outputs, device=args.device)
        if cuda:  # the same with the states stored in bfloat16 between examples
            step_bf16 = time_step(args.pop_size, args.inputs, args.outputs, device=args.device,
                                  state_dtype="bfloat16")
        for s in (step, step_bf16):
            if s is None:
                continue
            print(f"whole example (online_step), {args.pop_size} members, per-member V_M, {s['state_dtype']} states: "
                  f"{s['sec_per_example'] * 1e3:.2f} ms/example ({s['mticks']:.0f} M ticks/s) -> "
                  f"{s['sec_per_generation']:.2f} s per {EPISODE_LENGTH}-example generation (forward passes only)")
        for key, status in (step_bf16 or step)["triton_status"].items():
            print(f"Triton kernel on {key}: {'in use (self-check passed)' if status is True else status}")
    conv_rows = None
    if args.conv:
        conv_rows = conv_benchmark(args.pop_size, args.repeats, args.device)
        for r in conv_rows:
            print(f"{r['case']:38s} {r['formulation']:37s} {r['secs'] * 1e3:10.2f} ms/example "
                  f"{r['mticks']:10.2f} M ticks/s (median {r['secs_median'] * 1e3:.2f} ms)")
    best = speedups(rows)
    for case, b in best.items():
        print(f"speed-up over the straightforward formulation, {case}: {b['speedup']:.2f}x "
              f"({b['formulation']}, {b['ms_per_example']:.3f} ms/example)")
    cloned = _cloned(args) if args.cloned else None
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": describe(args.device), "pop_size": args.pop_size, "inputs": args.inputs,
                       "outputs": args.outputs, "threads": torch.get_num_threads(), "repeats": args.repeats,
                       "rows": rows, "speedups": best, "step": step, "step_bf16": step_bf16, "conv": conv_rows,
                       "cloned": cloned}, f,
                      indent=1)
    return 0


def _cloned(args) -> dict:
    """``--cloned``: print the step rows, then one speed-up line per network (the run's last lines)."""
    from .cloning.step_timing import cloned_speedups, cloned_step_benchmark
    rows = cloned_step_benchmark(repeats=args.cloned_repeats, compile=not args.no_compile)
    for r in rows:
        print(f"cloned meta-test step, {r['network']:15s} {r['impl']:14s} {r['secs'] * 1e3:10.1f} ms/step "
              f"(batch {r['batch']}, median {r['secs_median'] * 1e3:.1f} ms) max |diff| {r['max_diff']:.2e}"
              f"{'' if r['max_diff'] <= EXACT else '  (inexact)'}")
    ups = cloned_speedups(rows)
    for label, u in ups.items():
        vs = f", {u['speedup_vs_compiled']:.2f}x over fast compiled" if "speedup_vs_compiled" in u else ""
        print(f"cloned meta-test step speed-up, {label}: {u['speedup']:.2f}x (kernel {u['ms_kernel']:.1f} vs fast "
              f"{u['ms_fast']:.1f} ms per batch-64 step{vs}; max |diff| {u['max_diff']:.1e})")
    return {"rows": rows, "speedups": ups}


if __name__ == "__main__":
    raise SystemExit(main())
