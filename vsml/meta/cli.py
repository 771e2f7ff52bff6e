"""Command line of meta-training: ``python -m vsml.meta train | export | list`` (Algorithm 1).

Paper: Section 3.1 / Algorithm 1 and Appendix C.2 (the shipped configs in
``vsml/configs/``: ``paper`` is the paper's ES setting, the ``cpu_*`` ones
fit two CPU cores).
"""
from __future__ import annotations

import argparse
import json
import os

from ..runio import user_dir
from ..runloop import CLI_ERRORS, cli_failure
from .config import CONFIG_DIR, config_names, load_config
from .pretrained import export
from .run import train

USAGE = """examples:
  python -m vsml.meta train --config cpu_bptt --out runs/bptt [--steps N] [--resume] [--set lr=3e-4]
  torchrun --nproc_per_node 8 -m vsml.meta train --config paper --out runs/paper
  python -m vsml.meta export --run runs/bptt --name my_bptt   # -> ~/.local/share/vsml/pretrained ($VSML_HOME)
  python -m vsml.meta list
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vsml.meta", epilog=USAGE,
                                     description="Meta-training (Algorithm 1): learn V_M by ES or BPTT.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_train = sub.add_parser("train", help="meta-train (Algorithm 1)")
    p_train.add_argument("--config", help=f"a shipped config ({', '.join(config_names())}) or a YAML path; "
                                           "optional with --resume")
    p_train.add_argument("--out", required=True, help="run folder for checkpoint.pt, metrics.jsonl, config.yaml")
    p_train.add_argument("--steps", type=int, default=None, help="total steps (overrides the config)")
    p_train.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    p_train.add_argument("--set", nargs="*", action="extend", default=[],
                         metavar="KEY=VALUE", help="override config values")
    p_train.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_export = sub.add_parser("export", help="write a run's final V_M as NAME.pt + NAME.json")
    p_export.add_argument("--run", required=True)
    p_export.add_argument("--name", required=True)
    p_export.add_argument("--dest", default=None, help=f"folder (default {user_dir()}, or $VSML_HOME/pretrained)")
    p_export.add_argument("--force", action="store_true", help="replace an existing or shipped file deliberately")
    sub.add_parser("list", help="shipped configs")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "list":
        for name in config_names():
            first = (CONFIG_DIR / f"{name}.yaml").read_text().splitlines()[0].lstrip("# ")
            print(f"{name:10s} {first}")
        return 0
    try:
        if args.cmd == "export":
            pt, js = export(args.run, args.name, args.dest, force=args.force)
            print(f"wrote {pt}\nwrote {js}")
            return 0
        if args.config is None and not args.resume:
            raise ValueError("--config is required (unless --resume continues an existing run)")
        config = load_config(args.config, args.set) if args.config is not None else None
        if config is None and args.set:
            raise ValueError("--set needs --config")
        result = train(config, args.out, steps=args.steps, resume=args.resume, progress=not args.no_progress)
    except CLI_ERRORS as exc:
        return cli_failure(exc, "vsml.meta", args.out if args.cmd == "train" else None)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    last = result.metrics[-1] if result.metrics else {}
    print(f"vsml.meta: done at step {result.step}; last metrics {json.dumps(last)}", flush=True)
    return 0
