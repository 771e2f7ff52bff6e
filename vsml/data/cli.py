"""``python -m vsml.data status | fetch``: what data of Section 4 / Appendix B.2 is here, from
where, official or partial, and whether a cache is damaged; prepare datasets ahead of time.

Bad settings (an unknown name, ``VSML_DATA`` pointing at a file) end with a one-line error
and exit status 2, no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from .catalog import NAMES
from .loader import check_name, fetch, status
from .sources import data_root


def _print_status(data_dir) -> int:
    print(f"cache folder: {data_root(data_dir)}")
    for name in NAMES:
        s = status(name, data_dir=data_dir)
        print(f"{name:14s} {'available  ' if s.available else 'unavailable'} {s.kind or '-':18s} {s.where}")
        for problem in s.problems:
            print(f"{'':14s} ! {problem}")
    return 0


def main(argv=None) -> int:
    from . import __doc__ as package_doc

    parser = argparse.ArgumentParser(prog="python -m vsml.data", description=package_doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="cache folder (default: $VSML_DATA or ~/.cache/vsml)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fetch_p = sub.add_parser("fetch", help="download / convert datasets into the cache")
    fetch_p.add_argument("names", nargs="+", help=f"dataset names or 'all' ({', '.join(NAMES)})")
    fetch_p.add_argument("--no-download", action="store_true", help="only use local and offline sources")
    sub.add_parser("status", help="which datasets are available without the network, from where, "
                                  "official or partial, and damaged cache files")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "status":
            return _print_status(args.data_dir)
        names = list(NAMES) if args.names == ["all"] else [check_name(n) for n in args.names]
        report = fetch(names, data_dir=args.data_dir, download=not args.no_download)
    except BrokenPipeError:  # e.g. `status | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, OSError) as exc:  # DataRootError, unknown names, an unwritable cache folder
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(ok for ok, _ in report.values()) else 1
