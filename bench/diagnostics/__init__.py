"""Diagnostics run after every fit: they say *how* a model is biased, not only that it is.

``DIAGNOSTICS`` maps a name to its settings class and function ``fn(model, splits, ctx,
settings) -> dict of metrics``. Each diagnostic times itself (``seconds_<name>``); the hook
always adds the process's peak memory. Select with ``--diagnostics all|none|pgd,llc,...``.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from bench.diagnostics.color import ColorSettings, run_color
from bench.diagnostics.gradcam import GradCAMSettings, run_gradcam
from bench.diagnostics.llc import LLCSettings, run_llc
from bench.diagnostics.memory import peak_memory
from bench.diagnostics.pgd import PGDSettings, run_pgd
from bench.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Diagnostic:
    settings: type
    run: Callable[..., dict[str, float]]


# Cheap ones first, so a failure in an expensive one still leaves the cheap numbers logged.
DIAGNOSTICS: dict[str, Diagnostic] = {
    "color": Diagnostic(ColorSettings, run_color),
    "gradcam": Diagnostic(GradCAMSettings, run_gradcam),
    "pgd": Diagnostic(PGDSettings, run_pgd),
    "llc": Diagnostic(LLCSettings, run_llc),
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


def diagnostic_settings(names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each selected diagnostic's settings as plain data, for the run spec."""
    return {n: dataclasses.asdict(DIAGNOSTICS[n].settings()) for n in names}


def make_after_fit(names: tuple[str, ...]):
    """The after-fit hook: runs the selected diagnostics at their default settings."""
    def run_diagnostics(model, splits, ctx, record) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in names:
            diagnostic = DIAGNOSTICS[name]
            ctx.progress.start(f"diagnostic {name}", 1)
            start = time.perf_counter()
            out.update(diagnostic.run(model, splits, ctx, diagnostic.settings()))
            out[f"seconds_{name}"] = time.perf_counter() - start
            ctx.progress.advance(1)
            log.info("diagnostic %s: %.1fs", name, out[f"seconds_{name}"])
        out.update(peak_memory(ctx.device))
        return out
    return run_diagnostics
