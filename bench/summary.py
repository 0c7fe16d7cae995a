"""Aggregating run records over seeds: mean ± std (n), grouped by run spec."""
from __future__ import annotations

from collections import defaultdict

from bench.metrics import mean_std
from bench.record import RunRecord

HEADLINE_METRICS = ("acc_train", "acc_val", "acc_aligned", "acc_conflicting", "acc_cycled",
                    "acc_greyscale", "worst_group_acc", "seconds_train")


def group_by_spec(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        if rec.status == "completed":
            groups[rec.spec.hash()].append(rec)
    return dict(groups)


def format_mean_std(values: list[float], digits: int = 3) -> str:
    mean, std, n = mean_std(values)
    if n == 0:
        return "—"
    if n == 1:   # no spread from one seed
        return f"{mean:.{digits}f} (1)"
    return f"{mean:.{digits}f} ± {std:.{digits}f} ({n})"


def summary_rows(records: list[RunRecord],
                 metric_names: tuple[str, ...] = HEADLINE_METRICS) -> list[dict[str, str]]:
    rows = []
    for spec_hash, recs in group_by_spec(records).items():
        spec = recs[0].spec
        row = {"method": spec.method, "source": spec.data.get("source", "?"),
               "r": f"{spec.data.get('conflict_ratio')}", "spec": spec_hash}
        for name in metric_names:
            digits = 1 if name.startswith("seconds") else 3
            row[name] = format_mean_std([r.metrics.get(name, float("nan")) for r in recs], digits)
        rows.append(row)
    return rows
