"""Parsing ``--set key=value`` overrides against a method's frozen hyperparameter dataclass,
and the valid range each hyperparameter declares next to its default (:func:`hparam`)."""
from __future__ import annotations

import ast
import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError


@dataclass(frozen=True)
class Bounds:
    """The valid values of one hyperparameter. Numbers must be finite; for a tuple every
    element is checked and the tuple must not be empty. ``at_most_train_size``: the value
    cannot exceed the number of training images (checked once the data is known)."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False        # low itself is invalid (lr > 0)
    high_open: bool = False
    choices: tuple = ()
    at_most_train_size: bool = False

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        if self.at_most_train_size:
            parts.append("<= the training set size")
        return " and ".join(parts) or "any value"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (tuple, list)):
            return len(value) > 0 and all(self.accepts(v) for v in value)
        if self.choices:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True           # types are checked when parsing; only numbers have ranges
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or
                                          (self.high_open and value == self.high))


def hparam(default: Any, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, choices: tuple = (),
           at_most_train_size: bool = False, added_later: bool = False) -> Any:
    """A dataclass field with its default and valid range: ``lr: float = hparam(0.1, low=0,
    low_open=True)``. The range is metadata, so it never enters ``asdict`` or a spec hash.
    A subclass that only changes the default (``epochs: int = 20``) keeps the range.

    ``added_later``: a field added to a class whose runs are already stored. A run spec
    leaves it out while it holds its default (:func:`spec_fields`), so that every stored spec
    hashes as before; the resolved hyperparameters still have it."""
    bounds = Bounds(low, high, low_open, high_open, tuple(choices), at_most_train_size)
    return dataclasses.field(default=default,
                             metadata={"bounds": bounds, "added_later": added_later})


def _declaration(hparams_cls: type, name: str) -> dataclasses.Field | None:
    """The nearest declaration of field ``name`` that carries :func:`hparam` metadata (a
    subclass that only changes a default declares a plain field)."""
    for klass in hparams_cls.__mro__:
        declared = getattr(klass, "__dataclass_fields__", {}).get(name)
        if declared is not None and "bounds" in declared.metadata:
            return declared
    return None


def bounds_of(hparams_cls: type) -> dict[str, Bounds]:
    """Each field's declared range, looked up through the base classes; a number without a
    declared range must still be finite."""
    out: dict[str, Bounds] = {}
    for f in dataclasses.fields(hparams_cls):
        declared = _declaration(hparams_cls, f.name)
        out[f.name] = declared.metadata["bounds"] if declared is not None else Bounds()
    return out


def added_later(hparams_cls: type) -> frozenset[str]:
    """The fields a run spec leaves out while they hold their default (see :func:`hparam`)."""
    return frozenset(f.name for f in dataclasses.fields(hparams_cls)
                     if (d := _declaration(hparams_cls, f.name)) is not None
                     and d.metadata.get("added_later"))


def spec_fields(hparams: Any) -> dict[str, Any]:
    """The hyperparameters as a run spec stores them: every field, except a field added later
    that holds its class's default (so specs made before it existed hash as they did)."""
    defaults = hparams.__class__()
    later = added_later(type(hparams))
    return {k: v for k, v in dataclasses.asdict(hparams).items()
            if not (k in later and v == getattr(defaults, k))}


def check_bounds(hparams: Any, train_size: int | None = None) -> None:
    """Raises a one-line ConfigError for the first value outside its range. With
    ``train_size`` the bounds that depend on the training set are checked too."""
    defaults = hparams.__class__()
    for name, bounds in bounds_of(type(hparams)).items():
        value = getattr(hparams, name)
        ok = bounds.accepts(value)
        if ok and train_size is not None and bounds.at_most_train_size:
            ok = value <= train_size
            if not ok:
                raise ConfigError(f"{name}={value} is larger than the training set "
                                  f"({train_size} images); use --set {name}=N with N <= "
                                  f"{train_size} (default {getattr(defaults, name)})")
        if not ok:
            raise ConfigError(f"{name}={_show(value)} is out of range: {name} must be "
                              f"{bounds.describe()} (default {_show(getattr(defaults, name))})")


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


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
        if origin in (typing.Union, types.UnionType):  # Optional[X] or X | None
            if raw.lower() == "none":
                return None
            inner = [a for a in typing.get_args(kind) if a is not type(None)]
            return _coerce(name, raw, inner[0])
    # literal_eval raises TypeError for "{[]: 1}" and RecursionError for deep nesting
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
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
    """Defaults with overrides applied, each checked against its declared range (and by the
    dataclass's own ``__post_init__``, for rules that tie several fields together)."""
    try:
        hparams = dataclasses.replace(hparams_cls(), **overrides)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid hyperparameters: {exc}") from None
    check_bounds(hparams)
    return hparams
