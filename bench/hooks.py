"""What runs after a method is fitted (diagnostics, keeping weights), built from CLI options
in one place so that ``bench run`` and ``bench sweep`` behave the same."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import AfterFit


@dataclass(frozen=True)
class HookOptions:
    diagnostics: str = "all"          # "all", "none" or a comma list (see bench.diagnostics)
    diagnostic_settings: tuple[str, ...] = ()   # "pgd.steps=100", ... (--diagnostic)
    keep_weights: bool = True
    weights_dir: Path | None = None   # default: next to the results store


def spec_extras(options: HookOptions) -> dict[str, Any]:
    """Settings that change stored numbers and therefore belong to the run spec (and its hash)."""
    from bench.diagnostics import diagnostic_settings, parse_diagnostics, parse_settings
    names = parse_diagnostics(options.diagnostics)
    overrides = parse_settings(options.diagnostic_settings, names)
    return {"diagnostics": diagnostic_settings(names, overrides)}


def after_fit_hooks(options: HookOptions) -> list[AfterFit]:
    return [*diagnostics_hooks(options), *weights_hooks(options)]


def diagnostics_hooks(options: HookOptions) -> list[AfterFit]:
    """The diagnostics the run's spec names, at its settings (``spec_extras`` put them there),
    then peak memory (recorded even with ``none``)."""
    from bench.diagnostics import make_after_fit
    return [make_after_fit()]


def weights_hooks(options: HookOptions) -> list[AfterFit]:
    """Keeping the selected model's weights (for ``bench explain``); a diagnostic that fails
    no longer fails the run, so its weights are kept too."""
    if not options.keep_weights:
        return []
    from bench.store import default_store_path
    from bench.weights import keep_weights_hook, weights_dir_for
    return [keep_weights_hook(options.weights_dir or weights_dir_for(default_store_path()))]
