"""Command line of learning algorithm cloning: ``python -m vsml.cloning train | export | metatest``.

Paper: Section 3.2 (cloning backpropagation into V_M), Appendix B.1 (the
curriculum) and Section 4.1 (Figures 5 and 11: meta-testing the clone).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import config as configs
from ..runloop import CHECKPOINT, CLI_ERRORS, cli_failure
from .config import CloningConfig, config_names, load_config
from .meta_test import check_metatest_out, metatest, save_metatest
from .run import export, load_cloned, load_run, train

USAGE = """examples:
  python -m vsml.cloning train --out runs/clone_shallow [--stage shallow|deep] [--steps N] [--resume]
  python -m vsml.cloning train --config well_conditioned_shallow --out runs/clone_wc_shallow
  python -m vsml.cloning export --run runs/clone_shallow --name my_clone     # -> the user folder
  python -m vsml.cloning metatest --name cloned_wc_shallow --steps 500 --seeds 6
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vsml.cloning", epilog=USAGE,
                                     description="Learning algorithm cloning (Section 3.2).",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train", help="clone backpropagation into V_M (Section 3.2)")
    p.add_argument("--out", required=True, help="run folder (checkpoint.pt, metrics.jsonl)")
    p.add_argument("--config", default=None,
                   help="a cloning config: a name in vsml/cloning/configs/ (" + ", ".join(config_names())
                        + ") or a YAML path (default: CloningConfig's defaults; ignored when resuming)")
    p.add_argument("--stage", choices=("shallow", "deep"), default=None)
    p.add_argument("--steps", type=int, default=None, help="total steps")
    p.add_argument("--init-from", default=None, help="deep stage: a shallow run folder or exported name")
    p.add_argument("--resume", action="store_true", help="continue the run folder's checkpoint (if any)")
    p.add_argument("--set", nargs="*", action="extend", default=[],
                   metavar="KEY=VALUE", help="other CloningConfig fields")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p = sub.add_parser("export", help="write a run's V_M as NAME.pt + NAME.json (default: the user folder)")
    p.add_argument("--run", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--dest", default=None,
                   help="folder (default: $VSML_HOME/pretrained or ~/.local/share/vsml/pretrained)")
    p.add_argument("--force", action="store_true", help="replace an existing or shipped file deliberately")
    p = sub.add_parser("metatest", help="train a network with a cloned V_M, beside SGD (Figures 5, 11)")
    p.add_argument("--name", required=True, help="an exported cloned V_M")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--hidden", type=int, default=None, help="hidden units (deep network), e.g. 32")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--test-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-compile", action="store_true", help="impl fast: eager ticks (torch.compile fuses them)")
    p.add_argument("--impl", default="auto", choices=("auto", "kernel", "fast", "plain"),
                   help="the network's passes (auto: the fused C++ kernel where it applies, ~20x the fast ones)")
    p.add_argument("--out", default=None, help="save the curves and their provenance as JSON")
    p.add_argument("--force", action="store_true", help="with --out: replace a shipped file deliberately")
    return parser


def _train_config(args) -> CloningConfig:
    """The checkpoint's config when resuming (else --config's, else the defaults), with --stage, --steps
    and --set applied."""
    resuming = args.resume and (Path(args.out) / CHECKPOINT).exists()
    if resuming:
        values = CloningConfig.from_dict(load_run(args.out)["config"]).to_dict()
    else:
        values = (load_config(args.config) if args.config else CloningConfig()).to_dict()
    if args.resume and not resuming:
        print(f"vsml.cloning: no checkpoint in {args.out}; starting a new run", flush=True)
    configs.apply_overrides(values, args.set)
    values.update({k: v for k, v in (("stage", args.stage), ("steps", args.steps)) if v is not None})
    return CloningConfig.from_dict(values)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "export":
            pt, js = export(args.run, args.name, args.dest, force=args.force)
            print(f"wrote {pt}\nwrote {js}")
            return 0
        if args.cmd == "metatest":
            from ..data import load
            if args.seeds < 1 or args.steps < 1:
                raise ValueError(f"--seeds and --steps must be >= 1, got {args.seeds} and {args.steps}")
            if args.out:
                check_metatest_out(args.out, args.force)  # now, not after the run
            if args.threads:
                torch.set_num_threads(args.threads)
            params, cfg, _ = load_cloned(args.name)
            tr, te = load(args.dataset, "train").standardized(), load(args.dataset, "test").standardized()
            res = metatest(params, cfg, tr, te, hidden=args.hidden, steps=args.steps, seeds=range(args.seeds),
                           eval_every=args.eval_every, test_size=args.test_size, progress=True,
                           compile=not args.no_compile, impl=args.impl)
            for kind in ("vsml", "sgd"):
                acc = res[kind]["test_accuracy"][:, -1]
                spread = f" +- {acc.std():.3f} (std over {len(acc)} seeds)" if len(acc) > 1 else " (one seed)"
                print(f"{kind:5s} test accuracy after {args.steps} steps: {acc.mean():.3f}{spread}")
            if args.out:
                save_metatest(res, args.out, name=args.name, train_set=tr, test_set=te, force=args.force)
                print(f"wrote {args.out}")
            return 0
        cfg = _train_config(args)
        if cfg.stage == "deep" and args.init_from is None and not (Path(args.out) / CHECKPOINT).exists():
            print("vsml.cloning: warning: the deep stage without --init-from starts from scratch; the curriculum "
                  "(Appendix B.1) starts it from a shallow clone (--init-from RUN_OR_NAME)", flush=True)
        train(cfg, args.out, resume=args.resume, init_from=args.init_from,
              progress=not args.no_progress, num_threads=args.threads)
    except CLI_ERRORS as exc:
        return cli_failure(exc, "vsml.cloning", args.out if args.cmd == "train" else None)
    print("vsml.cloning: done")
    return 0
