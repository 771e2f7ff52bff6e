"""One config mechanism for every run description: plain values in, typed dataclasses out.

Every config class of the package (:class:`vsml.meta.MetaConfig`,
:class:`vsml.cloning.CloningConfig`, :class:`vsml.network.VSMLConfig` and
the nested :class:`vsml.lstm.SubLSTMConfig`) is a dataclass built from plain
values, e.g. a YAML file (the paper's hyper-parameters: Appendix C.2 for
meta-training, Section 3.2 / Appendix C.1 for cloning) plus command-line
``--set key=value`` overrides. This module does that in one place:

* :func:`from_dict` rejects unknown keys (naming the known ones) and coerces
  each value to its field's annotated type (:func:`coerce_fields`), so YAML
  1.1's ``1e-3`` (read as a *string*) becomes a float, ``"16"`` an int,
  a list a tuple, a mapping the nested dataclass;
* :func:`load_yaml`, :func:`parse_override` and :func:`parse_value` (also
  used by ``vsml.book run -p``) turn malformed YAML or values into one-line
  ``ValueError`` messages instead of parser tracebacks.

Coercion is strict where guessing would corrupt a run: ``2.5`` for an int
field, ``"yes please"`` for a bool or a number for a string field is an error.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from pathlib import Path

import yaml

_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


@functools.lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _describe(annotation) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def coerce(value, annotation, name: str = "value"):
    """``value`` converted to ``annotation`` (int, float, bool, str, Optional, tuple, dict, dataclass)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return coerce(value, option, name)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if len(errors) == 1 else
                         f"{name} must be {' or '.join(map(_describe, args))}, got {value!r}")
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if isinstance(value, dict):
            return from_dict(annotation, value, where=name)
        raise ValueError(f"{name} must be a mapping of {annotation.__name__} fields, got {value!r}")
    if origin is tuple or annotation is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else typing.Any
            return tuple(coerce(v, item, f"{name}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{name} must hold {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be a mapping, got {value!r}")
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            number = float(value) if isinstance(value, (str, float)) else None
        except ValueError:
            number = None
        if number is None or not number.is_integer():
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(number)
    if annotation is float:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    return value


def coerce_fields(obj) -> None:
    """Convert every field of the dataclass instance ``obj`` in place (frozen ones too); call from ``__post_init__``."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        new = coerce(value, hints[f.name], f.name)
        if new is not value:
            object.__setattr__(obj, f.name, new)


def field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls, values, *, where: str | None = None):
    """``cls(**values)`` with unknown keys rejected and values coerced to the fields' types."""
    label = where or cls.__name__
    if not isinstance(values, dict):
        raise ValueError(f"{label} must be a mapping of options, got {values!r}")
    known = field_names(cls)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {label} option(s) {unknown}; known: {sorted(known)}")
    hints = _hints(cls)
    typed = {k: coerce(v, hints[k], k if where is None else f"{where}.{k}") for k, v in values.items()}
    return cls(**typed)


def to_dict(obj) -> dict:
    """Plain values (nested dataclasses as dicts, tuples kept), the inverse of :func:`from_dict`."""
    return dataclasses.asdict(obj)


class ConfigMixin:
    """``from_dict`` / ``to_dict`` for a config dataclass (its ``__post_init__`` calls :func:`coerce_fields`)."""

    @classmethod
    def from_dict(cls, values: dict):
        return from_dict(cls, values)

    def to_dict(self) -> dict:
        return to_dict(self)


# --------------------------------------------------------------------------- YAML and --set

def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def load_yaml(path) -> dict:
    """A YAML mapping from ``path``; a one-line ``ValueError`` for malformed YAML or a non-mapping."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or _one_line(exc)
        raise ValueError(f"{path}: malformed YAML{at}: {problem}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping, got {type(values).__name__}")
    return values


def parse_value(raw: str, what: str = "value"):
    """A command-line value: JSON first (``3e-4`` is a number there), else YAML (``true``, ``[7, 10]``, words)."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or _one_line(exc)
        raise ValueError(f"{what}: cannot read the value {raw!r} ({problem})") from None


def parse_override(text: str) -> tuple[str, object]:
    """``"a.b=value"`` -> ``("a.b", value)``, the value read by :func:`parse_value`."""
    key, sep, raw = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set expects key=value, got {text!r}")
    return key, parse_value(raw, f"--set {key}")


def set_dotted(values: dict, key: str, value) -> None:
    """``values["a"]["b"] = value`` for ``key = "a.b"`` (creating missing mappings)."""
    *path, last = key.split(".")
    node = values
    for part in path:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: {part!r} is not a mapping")
    node[last] = value


def apply_overrides(values: dict, overrides) -> dict:
    """``values`` with overrides applied: a dict ``{dotted key: value}`` or a list of ``"key=value"`` strings."""
    items = overrides.items() if isinstance(overrides, dict) else [parse_override(s) for s in overrides or []]
    for key, value in items:
        set_dotted(values, key, value)
    return values


def shipped_config_names(config_dir) -> list[str]:
    """Names of the YAML configs shipped in ``config_dir``."""
    return sorted(p.stem for p in Path(config_dir).glob("*.yaml"))


def shipped_config_path(config_dir, name_or_path, kind: str = "config"):
    """A YAML file path, or the config of that name shipped in ``config_dir`` (``kind`` names it in errors)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    path = Path(config_dir) / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no config file {name_or_path!r} and no shipped {kind} of that name; "
                                f"shipped: {', '.join(shipped_config_names(config_dir))}")
    return path
