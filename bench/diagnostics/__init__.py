"""Diagnostics run after every fit: they say *how* a model is biased, not only that it is.

``DIAGNOSTICS`` maps a name to its settings class and function ``fn(model, splits, ctx,
settings) -> dict of metrics``. Each diagnostic times itself (``seconds_<name>``); the hook
always adds the process's peak memory. Select with ``--diagnostics all|none|pgd,llc,...`` and
change a setting with ``--diagnostic pgd.steps=100``; the settings travel in the run spec.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import time
import typing
from dataclasses import dataclass
from typing import Any, Callable

from bench.diagnostics.color import ColorSettings, run_color
from bench.diagnostics.gradcam import GradCAMSettings, run_gradcam
from bench.diagnostics.llc import LLCSettings, run_llc
from bench.diagnostics.memory import peak_memory
from bench.diagnostics.pgd import PGDSettings, run_pgd
from bench.errors import ConfigError
from bench.hparams import parse_overrides, resolve

log = logging.getLogger(__name__)


class NotApplicable(Exception):
    """Raised by a diagnostic that does not apply to the run's model (Grad-CAM on a backbone
    without feature maps); recorded as a note on the run, not as a failure."""


@dataclass(frozen=True)
class Diagnostic:
    settings: type
    run: Callable[..., dict[str, float]]
    # run(..., method=the run's Method class): for a diagnostic whose meaning depends on how
    # the method trained (the LLC: on which images, and whether it is defined at all)
    reads_method: bool = False


# Cheap ones first, so a failure in an expensive one still leaves the cheap numbers logged.
DIAGNOSTICS: dict[str, Diagnostic] = {
    "color": Diagnostic(ColorSettings, run_color),
    "gradcam": Diagnostic(GradCAMSettings, run_gradcam),
    "pgd": Diagnostic(PGDSettings, run_pgd),
    "llc": Diagnostic(LLCSettings, run_llc, reads_method=True),
}


def parse_diagnostics(text: str) -> tuple[str, ...]:
    """``all``, ``none`` or a comma list of names, returned in table order without repeats."""
    text = text.strip().lower()
    if text == "all":
        return tuple(DIAGNOSTICS)
    if text in ("none", ""):
        return ()
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in DIAGNOSTICS:
            close = difflib.get_close_matches(name, [*DIAGNOSTICS, "all", "none"], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--diagnostics: unknown diagnostic {name!r} (known: "
                              f"{', '.join(DIAGNOSTICS)}, all, none){hint}")
    return tuple(n for n in DIAGNOSTICS if n in names)


def parse_settings(pairs: list[str] | tuple[str, ...],
                   names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``["pgd.steps=100"]`` -> {"pgd": {"steps": 100}}, typed and range-checked by the
    diagnostic's settings class like ``--set`` is by a method's hyperparameters."""
    by_name: dict[str, list[str]] = {}
    for pair in pairs:
        head, equals, value = pair.partition("=")
        name, dot, key = head.strip().partition(".")
        if not (dot and key and equals):
            raise ConfigError(f"--diagnostic {pair!r}: expected NAME.KEY=VALUE, e.g. "
                              f"--diagnostic pgd.steps=100")
        if name not in DIAGNOSTICS:
            close = difflib.get_close_matches(name, list(DIAGNOSTICS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--diagnostic {pair}: unknown diagnostic {name!r} (known: "
                              f"{', '.join(DIAGNOSTICS)}){hint}")
        if name not in names:
            raise ConfigError(f"--diagnostic {pair}: {name} is not selected; add it to "
                              f"--diagnostics (now {','.join(names) or 'none'})")
        by_name.setdefault(name, []).append(f"{key.strip()}={value}")
    out = {}
    for name, settings_pairs in by_name.items():
        try:
            out[name] = parse_overrides(DIAGNOSTICS[name].settings, settings_pairs)
            resolve(DIAGNOSTICS[name].settings, out[name])
        except ConfigError as exc:
            message = str(exc).replace("--set ", f"--diagnostic {name}.")
            message = message.replace("hyperparameter", "setting")
            raise ConfigError(message if message.startswith("--diagnostic") else
                              f"--diagnostic {name}: {message}") from None
    return out


def diagnostic_settings(names: tuple[str, ...], overrides: dict[str, dict[str, Any]] | None = None
                        ) -> dict[str, dict[str, Any]]:
    """Each selected diagnostic's full settings (defaults + overrides) as plain data, for the
    run spec; with no overrides exactly the defaults, so default specs hash as they always did."""
    overrides = overrides or {}
    out = {}
    for n in names:
        values = dataclasses.asdict(resolve(DIAGNOSTICS[n].settings, overrides.get(n, {})))
        added = getattr(DIAGNOSTICS[n].settings, "ADDED_FIELDS", {})
        # a field added later is hashed only when it changes what the older specs computed
        out[n] = {k: v for k, v in values.items() if not (k in added and v == added[k])}
    return out


def settings_from_spec(extras: dict[str, Any]) -> dict[str, Any]:
    """Name -> settings object, from a spec's ``extras["diagnostics"]``: the one place the
    computation learns its settings, so what ran is what was hashed. A spec without the
    entry ran no diagnostics."""
    out = {}
    for name, values in (extras.get("diagnostics") or {}).items():
        cls = DIAGNOSTICS[name].settings
        hints = typing.get_type_hints(cls)
        # JSON turned tuples into lists; the settings classes are frozen and hashable
        fixed = {k: tuple(v) if isinstance(v, list) and "tuple" in str(hints.get(k)) else v
                 for k, v in values.items()}
        # a spec made before a field existed computed what the field's old value computes
        out[name] = cls(**{**getattr(cls, "ADDED_FIELDS", {}), **fixed})
    return out


def changed_settings(settings: dict[str, dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """(diagnostic, key, value) for each setting that differs from its default."""
    changed = []
    for name in [n for n in DIAGNOSTICS if n in settings]:
        cls = DIAGNOSTICS[name].settings
        defaults = dataclasses.asdict(cls())
        for key, value in sorted({**getattr(cls, "ADDED_FIELDS", {}), **settings[name]}.items()):
            # compared as JSON: a spec read back from a file holds lists where tuples were
            if json.dumps(value) != json.dumps(defaults.get(key)):
                changed.append((name, key, value))
    return changed


def settings_label(settings: dict[str, dict[str, Any]] | None) -> str:
    """A short readable label for a spec's diagnostics entry: which ran and the settings that
    differ from the defaults, e.g. ``diagnostics color,pgd; pgd.steps=100``."""
    if settings is None:
        return "diagnostics not recorded"
    if not settings:
        return "no diagnostics"
    names = [n for n in DIAGNOSTICS if n in settings] + sorted(set(settings) - set(DIAGNOSTICS))
    label = "all diagnostics" if set(names) == set(DIAGNOSTICS) else f"diagnostics {','.join(names)}"
    changed = [f"{name}.{key}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
               for name, key, v in changed_settings(settings)]
    return f"{label}; {' '.join(changed)}" if changed else label


def settings_options(settings: dict[str, dict[str, Any]]) -> list[str]:
    """The ``--diagnostic`` options that reproduce the non-default settings."""
    def text(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return "(" + ",".join(repr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        return str(value)
    return [f"--diagnostic {name}.{key}={text(value)}"
            for name, key, value in changed_settings(settings)]


def method_class(name: str) -> type | None:
    """The registered Method class of ``name``; None where it is not registered here."""
    from bench.registry import METHODS, RegistryError
    try:
        return METHODS.get(name)
    except RegistryError:
        return None


def make_after_fit():
    """The after-fit hook: runs the diagnostics the record's spec names, at the settings the
    spec holds. A diagnostic that raises is recorded as that diagnostic's error on the run
    (``record.diagnostic_errors``); the others still run and the fit is kept. One that does
    not apply to the model says why in ``record.diagnostic_notes``."""
    def run_diagnostics(model, splits, ctx, record) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, settings in settings_from_spec(record.spec.extras).items():
            ctx.progress.start(f"diagnostic {name}", 1)
            start = time.perf_counter()
            try:
                diagnostic = DIAGNOSTICS[name]
                extra = {"method": method_class(record.spec.method)} if diagnostic.reads_method \
                    else {}
                out.update(diagnostic.run(model, splits, ctx, settings, **extra))
            except KeyboardInterrupt:
                raise
            except NotApplicable as exc:
                record.diagnostic_notes[name] = str(exc)
            except Exception as exc:
                record.diagnostic_errors[name] = " ".join(f"{type(exc).__name__}: {exc}".split())
                log.warning("diagnostic %s failed: %s", name, record.diagnostic_errors[name])
            out[f"seconds_{name}"] = time.perf_counter() - start
            ctx.progress.advance(1)
            log.info("diagnostic %s: %.1fs", name, out[f"seconds_{name}"])
        out.update(peak_memory(ctx.device))
        return out
    return run_diagnostics
