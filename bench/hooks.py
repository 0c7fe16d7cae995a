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
    keep_weights: bool = True
    weights_dir: Path | None = None   # default: next to the results store


def spec_extras(options: HookOptions) -> dict[str, Any]:
    """Settings that change stored numbers and therefore belong to the run spec (and its hash)."""
    return {}


def after_fit_hooks(options: HookOptions) -> list[AfterFit]:
    return []
