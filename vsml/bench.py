"""Speed of the dense VSML layer: sub-LSTM micro-ticks per second.

One example on a dense layer costs ``P * A * B * num_micro_ticks`` sub-LSTM
micro-ticks. We time two cases on the 784x10 MNIST layer of Section 4.2:

(a) one episode (``P = 1``, shared ``V_M``), as in meta-testing;
(b) an ES population of 64 members with per-member ``V_M`` (Algorithm 1).

and three formulations, all in the same run on the same inputs:

* ``reference``: the straightforward one (``vsml.lstm.dense_tick_reference``):
  one affine map per sub-LSTM over the concatenated ``[fwd, bwd, h]``, messages
  projected per sub-LSTM and then averaged;
* ``fast eager``: the project's layer (``vsml.lstm.DenseTick``) without fusion;
* ``fast compiled``: the project's layer with ``torch.compile`` (the default for ES).

Each row checks that its outputs equal the reference's. The last line states
the speed-up of the project's layer over the reference for case (b)::

    python -m vsml.bench [--device cuda] [--pop-size 64] [--repeats 5]
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from .device import describe, resolve_device
from .lstm import DenseTick, SubLSTMConfig, dense_tick_reference, param_count, unflatten_params


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


def _time(fn, repeats: int, device) -> float:
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    fn()
    fn()  # warm-up (and compilation)
    sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - t0) / repeats


def benchmark(pop_size: int = 64, A: int = 784, B: int = 10, num_ticks: int = 2, repeats: int = 5,
              device: str = "cpu", compile: bool = True) -> list[dict]:
    """Rows of (case, formulation, seconds per example, M micro-ticks/s, max abs diff to reference)."""
    cfg = SubLSTMConfig()
    rows = []
    cases = [("(a) 1 episode, shared V_M", None, 1), (f"(b) population {pop_size}, per-member V_M", pop_size, pop_size)]
    for case, members, batch in cases:
        params, h, c, fwd, bwd = _inputs(members, batch, A, B, cfg, device)
        formulations = [
            ("reference", lambda: dense_tick_reference(params, cfg, h, c, fwd, bwd, num_ticks)),
            ("fast eager", lambda: DenseTick(cfg, num_ticks)(params, h, c, fwd, bwd)),
        ]
        if compile:
            layer = DenseTick(cfg, num_ticks, compile=True)
            formulations.append(("fast compiled", lambda: layer(params, h, c, fwd, bwd)))
        with torch.inference_mode():
            ref_out = formulations[0][1]()
            for name, fn in formulations:
                out = fn()
                diff = max((a - b).abs().max().item() for a, b in zip(out, ref_out))
                secs = _time(fn, repeats, device)
                rows.append(dict(case=case, formulation=name, secs=secs,
                                 mticks=batch * A * B * num_ticks / secs / 1e6, max_diff=diff))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pop-size", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=784, help="A: layer inputs")
    parser.add_argument("--outputs", type=int, default=10, help="B: layer outputs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--json", default=None, help="also write the rows, with the device, to this JSON file")
    args = parser.parse_args(argv)
    args.device = str(resolve_device(args.device))
    dev = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"device: {args.device} ({dev}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"layer {args.inputs}x{args.outputs}, N=16, 2 micro-ticks per example")
    rows = benchmark(args.pop_size, args.inputs, args.outputs, repeats=args.repeats, device=args.device,
                     compile=not args.no_compile)
    print(f"{'case':38s} {'formulation':14s} {'ms/example':>11s} {'M ticks/s':>10s} {'vs ref':>7s} {'max |diff|':>11s}")
    ref = {}
    for r in rows:
        ref.setdefault(r["case"], r["secs"])
        print(f"{r['case']:38s} {r['formulation']:14s} {r['secs'] * 1e3:11.2f} {r['mticks']:10.2f} "
              f"{ref[r['case']] / r['secs']:6.2f}x {r['max_diff']:11.2e}")
    best = rows[-1]
    print(f"speed-up of the project's layer ({best['formulation']}) over the straightforward formulation "
          f"for {best['case']}: {ref[best['case']] / best['secs']:.2f}x")
    if args.json:
        import json
        for r in rows:
            r["speedup_vs_reference"] = ref[r["case"]] / r["secs"]
        with open(args.json, "w") as f:
            json.dump({"device": describe(args.device), "pop_size": args.pop_size, "inputs": args.inputs,
                       "outputs": args.outputs, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
