"""Parsing ``--set key=value`` overrides against a method's frozen hyperparameter dataclass."""
from __future__ import annotations

import ast
import dataclasses
import difflib
import typing
from typing import Any

from bench.errors import ConfigError


def _coerce(name: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind) or kind   # a bare ``tuple`` annotation has no origin
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            return int(raw)
        if kind is float:
            value = float(raw)
            if value != value:
                raise ValueError
            return value
        if kind is str:
            return raw
        if origin in (tuple, list):
            value = ast.literal_eval(raw)
            if not isinstance(value, (tuple, list)):
                value = (value,)
            return tuple(value) if origin is tuple else list(value)
        if origin is typing.Union:  # Optional[X]
            if raw.lower() == "none":
                return None
            inner = [a for a in typing.get_args(kind) if a is not type(None)]
            return _coerce(name, raw, inner[0])
    except (ValueError, SyntaxError):
        pass
    else:
        return raw
    type_name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"--set {name}={raw}: {name} expects a {type_name}")


def parse_overrides(hparams_cls: type, pairs: list[str]) -> dict[str, Any]:
    """["lr=0.01", "epochs=3"] -> {"lr": 0.01, "epochs": 3}, typed by the dataclass fields."""
    hints = typing.get_type_hints(hparams_cls)
    names = [f.name for f in dataclasses.fields(hparams_cls)]
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set lr=0.01")
        key, raw = (s.strip() for s in pair.split("=", 1))
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--set {key}: no such hyperparameter{hint} "
                              f"(known: {', '.join(names)})")
        out[key] = _coerce(key, raw, hints[key])
    return out


def resolve(hparams_cls: type, overrides: dict[str, Any]) -> Any:
    """Defaults with overrides applied; the dataclass may validate in __post_init__."""
    try:
        return dataclasses.replace(hparams_cls(), **overrides)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid hyperparameters: {exc}") from None
