"""Run I/O in one place: atomic writes, checkpoints, exported V_M files, provenance, the shipped manifest.

The meta-learned and cloned learning algorithms (``V_M``; Algorithm 1 of
Section 3.1, the cloning of Section 3.2) are small dicts of tensors. Runs save
them in checkpoints; finished runs *export* them as ``NAME.pt`` (tensors,
loaded with ``weights_only=True``) plus ``NAME.json`` (provenance: config,
data, steps, device, wall time, commit). Nothing here may lose work or load
something silently wrong:

* every file is written to a temporary name and renamed over the target
  (a crash leaves the old file or the new one, never half of one);
* a checkpoint without the keys its reader needs, or with NaN/inf in its
  tensors, is a one-line error, not a traceback or a resumed broken run;
* exports go to a user folder (``$VSML_HOME/pretrained``, else
  ``$XDG_DATA_HOME/vsml/pretrained``, else ``~/.local/share/vsml/pretrained``),
  never into the installed package, and never replace an existing file or
  shadow a shipped name without ``force``; :func:`load_pretrained` looks in
  the user folder first, then among the files shipped in ``vsml/pretrained/``;
* the shipped files are listed with their SHA-256 in
  ``vsml/pretrained/MANIFEST.json`` (a test checks it), so a changed shipped
  file is a visible, deliberate change: ``python -m vsml.runio manifest``;
* provenance holds no machine-specific absolute paths (:func:`portable`).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import torch

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = PACKAGE_DIR / "pretrained"
MANIFEST = SHIPPED_DIR / "MANIFEST.json"
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


# --------------------------------------------------------------------------- atomic writes

def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _replace(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_save(obj, path) -> None:
    """``torch.save`` to a temporary file, flushed to disk, then renamed over ``path``."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _replace(tmp, path)


def atomic_write_text(text: str, path) -> None:
    """Write ``text`` to a temporary file, then rename it over ``path``."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        tmp.write_text(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _replace(tmp, path)


# --------------------------------------------------------------------------- checkpoints

def non_finite(tree, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a nested dict/list that hold NaN or inf."""
    bad = []
    if torch.is_tensor(tree):
        if tree.is_floating_point() and not bool(torch.isfinite(tree).all()):
            bad.append(prefix or "tensor")
    elif isinstance(tree, dict):
        for k, v in tree.items():
            bad += non_finite(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            bad += non_finite(v, f"{prefix}[{i}]")
    return bad


def load_checkpoint(path, *, required=(), checkpoint_name: str = "checkpoint.pt") -> dict:
    """A checkpoint (a run folder or the file): clear errors when missing, unreadable, incomplete or not finite.

    ``required`` names the top-level keys the caller needs; the tensors under
    ``"state"`` must all be finite (a run never saves a non-finite state, so a
    NaN there means the file was damaged or written by something else).
    """
    path = Path(path)
    path = path / checkpoint_name if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, garbage, or pickled objects
        raise RuntimeError(f"checkpoint {path} is unreadable ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(ckpt, dict):
        raise RuntimeError(f"checkpoint {path} holds a {type(ckpt).__name__}, not a vsml checkpoint")
    require_keys(ckpt, path, required)
    bad = non_finite(ckpt.get("state", {}), "state")
    if bad:
        raise RuntimeError(f"checkpoint {path} holds NaN/inf in {', '.join(bad[:3])}"
                           f"{' ...' if len(bad) > 3 else ''}; it cannot be resumed or exported")
    return ckpt


def require_keys(ckpt: dict, path, required) -> None:
    """A one-line ``RuntimeError`` unless checkpoint ``ckpt`` (read from ``path``) has every key in ``required``."""
    missing = [k for k in required if k not in ckpt]
    if missing:
        raise RuntimeError(f"checkpoint {path} lacks {missing} (it has {sorted(ckpt)}); "
                           f"it was not written by this kind of run")


def read_metrics(path_or_records) -> list[dict]:
    """Records from a run folder, a ``metrics.jsonl`` file, or a list of dicts."""
    if isinstance(path_or_records, (list, tuple)):
        return list(path_or_records)
    path = Path(path_or_records)
    if path.is_dir():
        path = path / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- provenance

def git_commit() -> str:
    """The package's git commit, with ``+dirty`` when its working tree has changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE_DIR, capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PACKAGE_DIR,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _path_replacements() -> list[tuple[str, str]]:
    pairs = []
    for var in ("VSML_DATA", "VSML_HOME"):
        if os.environ.get(var):
            pairs.append((str(Path(os.environ[var]).expanduser().resolve()), f"${var}"))
    pairs.append((str(PACKAGE_DIR.parent), "<repo>"))
    pairs.append((str(Path.home()), "~"))
    return sorted(pairs, key=lambda p: -len(p[0]))


def portable(value):
    """``value`` (str, or a nested dict/list of them) with machine-specific path prefixes replaced.

    ``$VSML_DATA``/``$VSML_HOME`` (when set), the repository (``<repo>``) and
    the home folder (``~``): provenance says *what* was used, not whose disk.
    """
    if isinstance(value, str):
        for prefix, name in _path_replacements():
            if prefix not in ("", "/"):
                value = re.sub(re.escape(prefix) + r"(?=/|$|[\s;,)\]])", name, value)
        return value
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(portable(v) for v in value)
    return value


def provenance(device=None) -> dict:
    """Where and when: device (:func:`vsml.device.describe`), torch, commit, UTC date."""
    from .device import describe

    return {"device": describe(device if device is not None else "cpu"), "torch": str(torch.__version__),
            "git_commit": git_commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


# --------------------------------------------------------------------------- exported V_M files

def user_dir() -> Path:
    """Where exports go by default: ``$VSML_HOME/pretrained`` or the user's data folder, never the package."""
    if os.environ.get("VSML_HOME"):
        home = Path(os.environ["VSML_HOME"]).expanduser()
        if home.exists() and not home.is_dir():
            raise ValueError(f"VSML_HOME={home} is a file; point it at a folder (exports go to VSML_HOME/pretrained)")
        return home / "pretrained"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "vsml" / "pretrained"


def check_export_name(name: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"name must be letters, digits, '_', '-', '.', got {name!r}")


def pretrained_names(directory=None) -> list[str]:
    """Exported V_M names in ``directory``, or in the user folder and the shipped one together."""
    dirs = [Path(directory)] if directory is not None else [user_dir(), SHIPPED_DIR]
    return sorted({p.stem for d in dirs for p in d.glob("*.pt")})


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.pt"))


def write_export(params: dict, info: dict, name: str, dest=None, *, force: bool = False) -> tuple[Path, Path]:
    """Atomically write ``dest/NAME.pt`` (a dict of tensors) and ``dest/NAME.json`` (portable provenance).

    ``dest`` defaults to :func:`user_dir`. Without ``force`` an existing file
    is never replaced, and a user export never takes a shipped name (it would
    shadow the shipped file for :func:`load_pretrained`). Writing into the
    shipped folder updates ``MANIFEST.json``.
    """
    check_export_name(name)
    bad = non_finite(params)
    if bad:
        raise ValueError(f"refusing to export {name}: NaN/inf in {', '.join(bad)}")
    dest = Path(dest) if dest is not None else user_dir()
    pt, js = dest / f"{name}.pt", dest / f"{name}.json"
    shipped = _is_shipped_dir(dest)
    if not force:
        existing = [str(p) for p in (pt, js) if p.exists()]
        if existing:
            kind = "a shipped file" if shipped else "an earlier export"
            raise FileExistsError(f"{existing[0]} is {kind}; not replaced (pass --force / force=True to replace "
                                  f"it deliberately, or choose another --name)")
        if not shipped and name in shipped_names():
            raise FileExistsError(f"{name!r} is the name of a shipped V_M; an export of that name in {dest} would "
                                  f"be loaded instead of it. Choose another --name (or pass --force)")
    dest.mkdir(parents=True, exist_ok=True)
    atomic_save({k: v.detach().cpu().contiguous() for k, v in params.items()}, pt)
    info = {**info, "sha256": sha256(pt)}  # load_pretrained checks it: a damaged file is refused, not used
    atomic_write_text(json.dumps(portable(info), indent=2) + "\n", js)
    if shipped:
        update_manifest()
    return pt, js


def _is_shipped_dir(path: Path) -> bool:
    try:
        return path.resolve() == SHIPPED_DIR.resolve()
    except OSError:
        return False


def find_pretrained(name: str, directory=None) -> Path:
    """The ``.pt`` file of an export: a path ending in ``.pt``, else NAME in ``directory`` or user then shipped."""
    if str(name).endswith(".pt"):
        return Path(name)
    dirs = [Path(directory)] if directory is not None else [user_dir(), SHIPPED_DIR]
    for d in dirs:
        if (d / f"{name}.pt").is_file():
            return d / f"{name}.pt"
    where = " or ".join(str(d) for d in dirs)
    raise FileNotFoundError(f"no pretrained parameters {name!r} in {where}; available: "
                            f"{', '.join(pretrained_names(directory)) or 'none'} "
                            f"(make one with `python -m vsml.meta export --run DIR --name NAME`)")


def load_pretrained(name: str, directory=None) -> tuple[dict, dict]:
    """``(params, provenance)`` of an exported V_M: a name (user folder, then shipped) or a ``.pt`` path.

    Raises ``FileNotFoundError`` (listing what exists) when missing and
    ``RuntimeError`` when the file is corrupted, not a vsml export, holds
    NaN/inf, or does not match the shapes its provenance describes.
    """
    pt = find_pretrained(name, directory)
    js = pt.with_suffix(".json")
    if not pt.is_file():
        raise FileNotFoundError(f"no pretrained parameters {pt}")
    hint = "re-export it with `python -m vsml.meta export --run DIR --name NAME`"
    shipped = _is_shipped_dir(pt.parent)
    if not shipped and directory is None and not str(name).endswith(".pt") and (SHIPPED_DIR / f"{name}.pt").is_file():
        # an export forced under a shipped name wins the search: say so, or a stale copy passes for the shipped one
        warnings.warn(f"{name!r}: loading your export {pt}, which shadows the shipped V_M of the same name "
                      f"(remove it, or unset VSML_HOME, to use the shipped one)", stacklevel=2)
    if shipped:
        hint = "the installed package is damaged: reinstall it (or `git checkout vsml/pretrained` in a clone)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's pickle-protocol warnings about a file we refuse anyway
            params = torch.load(pt, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, garbage, pickled objects: all mean "do not trust it"
        why = ("it holds Python objects, not only tensors, and loading those could run code" if
               "weights_only" in str(exc) or "Weights only" in str(exc) else
               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise RuntimeError(f"pretrained file {pt} is corrupted or not a vsml export ({why}); {hint}") from None
    if not isinstance(params, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in params.items()):
        raise RuntimeError(f"pretrained file {pt} does not hold a dict of tensors; {hint}")
    try:
        info = json.loads(js.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{pt} has no provenance file {js}; {hint}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RuntimeError(f"provenance file {js} is corrupted ({exc}); {hint}") from None
    if not isinstance(info, dict):
        raise RuntimeError(f"provenance file {js} does not hold a mapping; {hint}")
    expected = _listed_sha256(pt) if shipped else info.get("sha256")  # exports before checksums: none
    actual = sha256(pt) if expected is not None else None
    if actual != expected:
        raise RuntimeError(f"pretrained file {pt} does not match its checksum (SHA-256 {actual[:12]}..., "
                           f"{'MANIFEST.json' if shipped else 'its provenance'} says {expected[:12]}...): it was "
                           f"damaged or changed after it was written; {hint}")
    bad = non_finite(params)
    if bad:
        raise RuntimeError(f"pretrained file {pt} holds NaN/inf in {', '.join(bad)}; {hint}")
    if info.get("model") in ("vsml", "vsml_conv"):
        from .conv_network import ConvVSMLConfig
        from .lstm import param_shapes
        from .network import VSMLConfig
        config_class = VSMLConfig if info["model"] == "vsml" else ConvVSMLConfig
        want = param_shapes(config_class.from_dict(info["model_config"]).sub_lstm)
        got = {k: tuple(v.shape) for k, v in params.items()}
        if got != want:
            raise RuntimeError(f"pretrained file {pt} has parameters {got}, but its provenance describes "
                               f"{want}; {hint}")
    return params, info


# --------------------------------------------------------------------------- shipped manifest

def sha256(path) -> str:
    """The SHA-256 hex digest of a file."""
    from .data.readers import file_digest
    return file_digest(path, "sha256")


def shipped_files() -> list[Path]:
    return sorted(p for p in SHIPPED_DIR.iterdir() if p.is_file() and p != MANIFEST and not p.name.startswith("."))


def compute_manifest() -> dict[str, str]:
    """``{file name: SHA-256}`` of every file in ``vsml/pretrained/`` (the manifest itself excluded)."""
    return {p.name: sha256(p) for p in shipped_files()}


def update_manifest() -> Path:
    atomic_write_text(json.dumps(compute_manifest(), indent=1, sort_keys=True) + "\n", MANIFEST)
    return MANIFEST


def _listed_sha256(path: Path) -> str | None:
    """The SHA-256 that ``MANIFEST.json`` lists for a shipped file (None if unlisted or unreadable)."""
    try:
        return json.loads(MANIFEST.read_text()).get(path.name)
    except (OSError, ValueError):
        return None


def manifest_problems() -> list[str]:
    """What differs between ``MANIFEST.json`` and the shipped files (empty when they agree)."""
    try:
        listed = json.loads(MANIFEST.read_text())
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST} is missing or unreadable ({exc})"]
    actual = compute_manifest()
    problems = [f"{n}: listed but missing" for n in sorted(set(listed) - set(actual))]
    problems += [f"{n}: shipped but not listed" for n in sorted(set(actual) - set(listed))]
    problems += [f"{n}: SHA-256 {actual[n][:12]}... differs from the listed {listed[n][:12]}..."
                 for n in sorted(set(listed) & set(actual)) if listed[n] != actual[n]]
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.runio", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("manifest", help="rewrite vsml/pretrained/MANIFEST.json from the shipped files")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    sub.add_parser("where", help="the user folder for exports, and the shipped folder")
    args = parser.parse_args(argv)
    if args.cmd == "where":
        print(f"user exports:  {user_dir()}\nshipped files: {SHIPPED_DIR}")
        return 0
    if args.check:
        problems = manifest_problems()
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    print(f"wrote {update_manifest()} ({len(shipped_files())} files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
