"""LLCs re-measured from kept weights (``scripts/llc_remeasure.py``), and how a page uses them.

The file is JSON: ``{"settings": <LLCSettings as a dict>, "measured_at": ..., "device": ...,
"runs": {<record key>: {"llc": ..., "llc_std": ..., "llc_converged": ..., "llc_mcse": ...,
"llc_rhat": ..., "llc_ess": ..., "seconds_llc": ..., "created_at": ...}}}``, one entry per
stored run (spec hash and seed), so it joins a results store or a record file by key; the
run's ``created_at`` names the very record (and so the weights) measured, so an entry is never
applied to a later rerun of the same key. :func:`overlay` gives records
whose LLC metrics are the re-measured ones (the rest of each record untouched), so a page
renders them with its usual LLC column and equal-budget comparison.

A file named :data:`REMEASURED_FILE` beside the committed records is applied by ``bench
leaderboard`` to every protocol holding at least one of its keys (:func:`overlay_where_measured`):
there the page's LLCs are the re-measured ones, and no LLC of another setting is shown.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Callable, Hashable, Iterable

from bench.errors import BenchError
from bench.record import RunRecord

# The committed re-measured LLCs, beside the record files (leaderboards/records/)
REMEASURED_FILE = "llc-remeasured.json"
LLC_KEYS = ("llc", "llc_std", "llc_converged", "llc_mcse", "llc_rhat", "llc_ess",
            "seconds_llc")


def write_remeasured(path: Path | str, settings: dict, runs: dict[str, dict],
                     extra: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"settings": settings, **(extra or {}),
            "runs": {k: {m: v[m] for m in (*LLC_KEYS, "created_at") if m in v}
                     for k, v in sorted(runs.items())}}
    path.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    return path


def read_remeasured(path: Path | str) -> dict:
    try:
        body = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read re-measured LLCs {path}: {exc}") from None
    if not isinstance(body, dict) or "runs" not in body or "settings" not in body:
        raise BenchError(f"{path} is not a re-measured LLC file (no 'runs' and 'settings')")
    return body


def overlay(records: Iterable[RunRecord], remeasured: dict) -> list[RunRecord]:
    """Copies of ``records``: where the file has the record's key, its LLC metrics replace the
    stored ones and the LLC settings in the spec's extras are left as they were (the spec
    hash, and so the row, does not change); elsewhere the stored LLC metrics are dropped, so
    that a page never mixes estimates made at different settings."""
    runs = remeasured["runs"]
    out = []
    for record in records:
        copied = copy.copy(record)
        metrics = {k: v for k, v in record.metrics.items() if k not in LLC_KEYS}
        entry = runs.get(record.key, {})
        if entry.get("created_at", record.created_at) == record.created_at:
            metrics.update({k: v for k, v in entry.items() if k in LLC_KEYS})
        copied.metrics = metrics
        out.append(copied)
    return out


def overlay_where_measured(records: Iterable[RunRecord], remeasured: dict,
                           group_of: Callable[[RunRecord], Hashable]
                           ) -> tuple[list[RunRecord], set]:
    """:func:`overlay` applied to every group (a protocol, for the pages) that holds at least
    one re-measured key; the other groups' records are returned as they are. Also returns the
    groups that were overlaid, in which a record without an entry has no LLC at all."""
    records = list(records)
    keys = set(remeasured["runs"])
    measured = {group_of(r) for r in records if r.key in keys}
    return [overlay([r], remeasured)[0] if group_of(r) in measured else r
            for r in records], measured


def settings_text(settings: dict) -> str:
    """The settings a page states beside re-measured LLCs, in words a reader can rerun."""
    batch = settings.get("batch_size", 256)
    nbeta = settings.get("nbeta")
    nbeta_text = (f"nβ = {nbeta:g}" if nbeta is not None
                  else f"nβ = batch / ln(batch) ≈ {batch / math.log(batch):.1f}")
    return (f"{settings.get('chains')} chains × ({settings.get('burnin')} burn-in + "
            f"{settings.get('draws')} draws) SGLD steps, step {settings.get('lr'):g}, "
            f"localisation {settings.get('localization'):g}, {nbeta_text}, batch {batch}, "
            f"a fixed {settings.get('subset'):,}-image subset of the training split, "
            f"convergence test `{settings.get('convergence', 'halves')}`")
