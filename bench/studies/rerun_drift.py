"""How far a rerun moves a recorded number.

A rerun of a record has the same key (run spec and seed) but may run under other conditions:
another processor or instruction set, another torch build, thread count or train step.
Metrics are bit-identical only when all of those match (docs/reproducibility.md). This module
measures what happens when they do not: for each rerun, the change of each metric and the
conditions that changed; per row (one spec), the largest change against the seed-to-seed
spread of the reference's seeds, the yardstick any machine-to-machine difference has to be
read against. Pure functions of records; ``scripts/rerun_drift.py`` is the command.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from bench.metrics import mean_std
from bench.record import RunRecord

# The record's `versions` entries a CPU result depends on (bench/environment.py writes them).
CONDITION_KEYS = ("cpu_model", "torch_cpu_capability", "torch_git", "torch_blas_library",
                  "torch_onednn", "onednn_max_cpu_isa", "torch_num_threads", "train_step")
DRIFT_METRICS = ("acc_conflicting", "acc_aligned", "color_following", "acc_train")


def _finite(value: object) -> float | None:
    if isinstance(value, (int, float)) and math.isfinite(float(value)):
        return float(value)
    return None


@dataclass(frozen=True)
class Rerun:
    """One record and its rerun (same key)."""
    reference: RunRecord
    rerun: RunRecord

    def delta(self, metric: str) -> float | None:
        """rerun − reference, or None where either lacks the metric."""
        before = _finite(self.reference.metrics.get(metric))
        after = _finite(self.rerun.metrics.get(metric))
        return None if before is None or after is None else after - before

    def changed_conditions(self) -> dict[str, tuple[str | None, str | None]]:
        """Condition -> (reference, rerun) for every condition that differs, device included.
        A condition the reference did not record counts as changed: nothing says it matched."""
        pairs = {key: (self.reference.versions.get(key), self.rerun.versions.get(key))
                 for key in CONDITION_KEYS}
        pairs["device"] = (self.reference.device, self.rerun.device)
        return {key: pair for key, pair in pairs.items() if pair[0] != pair[1]}


def pair_reruns(reference: Iterable[RunRecord], reruns: Iterable[RunRecord]) -> list[Rerun]:
    """Completed reruns whose key has a completed reference record, in method, spec, seed
    order. Records that are the same run (same creation time and metrics) are not reruns."""
    completed = {r.key: r for r in reference if r.status == "completed"}
    out = []
    for rec in reruns:
        ref = completed.get(rec.key)
        if rec.status != "completed" or ref is None:
            continue
        if ref.created_at == rec.created_at and ref.metrics == rec.metrics:
            continue
        out.append(Rerun(ref, rec))
    return sorted(out, key=lambda p: (p.rerun.spec.method, p.rerun.spec.hash(), p.rerun.seed))


@dataclass(frozen=True)
class RowDrift:
    """One spec's reruns on one metric, read against its reference seeds' spread."""
    method: str
    spec_hash: str
    metric: str
    reruns: int
    mean_abs_delta: float
    max_abs_delta: float
    seed_std: float        # sample std of the metric over the reference's seeds of this spec
    seeds: int

    @property
    def max_over_seed_std(self) -> float:
        """The largest change in units of the seed std (NaN without a spread)."""
        if not self.seed_std or math.isnan(self.seed_std):
            return math.nan
        return self.max_abs_delta / self.seed_std


def row_drift(pairs: list[Rerun], reference: Iterable[RunRecord], metric: str) -> list[RowDrift]:
    """Per spec with at least one rerun that has ``metric``: mean and largest |change| and
    the reference seeds' std of the metric, in the order of ``pairs``."""
    by_spec: dict[str, list[float]] = {}
    method: dict[str, str] = {}
    for pair in pairs:
        delta = pair.delta(metric)
        if delta is not None:
            spec_hash = pair.rerun.spec.hash()
            by_spec.setdefault(spec_hash, []).append(abs(delta))
            method[spec_hash] = pair.rerun.spec.method
    seed_values: dict[str, list[float]] = {}
    for rec in reference:
        if rec.status == "completed" and rec.spec.hash() in by_spec:
            value = _finite(rec.metrics.get(metric))
            if value is not None:
                seed_values.setdefault(rec.spec.hash(), []).append(value)
    rows = []
    for spec_hash, deltas in by_spec.items():
        _, std, n = mean_std(seed_values.get(spec_hash, []))
        rows.append(RowDrift(method[spec_hash], spec_hash, metric, len(deltas),
                             math.fsum(deltas) / len(deltas), max(deltas), std, n))
    return rows
