"""``bench leaderboard --selection RULE``: the same records, as if every run had reported the
model that RULE chose.

A record keeps each rule's pick with its accuracies (``RunRecord.selection``), so another rule
needs no retraining: its accuracies replace the primary rule's. Diagnostics (colour following,
ε-to-flip, LLC, Grad-CAM) were measured on the primary rule's model only, so they stay only
where RULE picked the same epoch. A record without RULE's pick (made before picks were
recorded) keeps no accuracy; a method whose model is not chosen among epochs (its record has
no picks) keeps its numbers, since every rule gets that model. The supervision of each number
becomes the stronger of the method's and RULE's.
"""
from __future__ import annotations

import dataclasses

from bench.errors import ConfigError
from bench.record import RunRecord
from bench.selection import SELECTION_RULES, rule

# Metrics that describe the selected model but are not accuracies of it: measured on the
# primary rule's model only (or logged by training), dropped where RULE chose another epoch.
KEPT_ALWAYS_PREFIXES = ("seconds_", "bias_proxy_", "peak_")


def check_view_rule(name: str) -> str:
    if name not in SELECTION_RULES:
        rule(name)       # the registry's one-line "unknown ... did you mean" error
    if rule(name).oracle:
        raise ConfigError(f"--selection {name}: an oracle rule is reported on every page's "
                          f"selection section but never ranks rows; pick a rule that reads "
                          f"no test split")
    return name


def reselect(record: RunRecord, name: str) -> RunRecord:
    """``record`` as if ``name`` had chosen its reported model."""
    if record.status != "completed" or record.selection_rule == name:
        return record
    if record.selection_rule is not None and not record.selection:
        return dataclasses.replace(record, selection_rule=name)   # one model for every rule
    pick = record.selection.get(name)
    kept = {k: v for k, v in record.metrics.items() if k.startswith(KEPT_ALWAYS_PREFIXES)}
    if pick is None:
        return dataclasses.replace(record, metrics=kept, confusion=None, selection_rule=name)
    primary = record.selection.get(record.selection_rule or "", {}).get("epoch")
    metrics = dict(record.metrics) if pick["epoch"] == primary else kept
    metrics.update(pick["metrics"])
    metrics["selected_epoch"] = float(pick["epoch"])
    confusion = record.confusion if pick["epoch"] == primary else None
    return dataclasses.replace(record, metrics=metrics, confusion=confusion,
                               selection_rule=name)


def reselect_all(records: list[RunRecord], name: str) -> list[RunRecord]:
    check_view_rule(name)
    return [reselect(r, name) for r in records]
