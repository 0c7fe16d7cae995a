"""Aggregating run records over seeds: mean ± std (n), grouped by run spec."""
from __future__ import annotations

from collections import defaultdict

from bench.datasets.interface import DatasetInfo
from bench.metrics import mean_std
from bench.record import RunRecord


def headline_metrics(info: DatasetInfo) -> tuple[str, ...]:
    """Accuracy on every split of the dataset, worst-group accuracy, training seconds."""
    return (*info.metric_names(), "worst_group_acc", "seconds_train")


def narrow_metrics(info: DatasetInfo) -> tuple[str, ...]:
    """The headline split's accuracy, the first other test split's (on the colour datasets,
    ``aligned``), worst-group accuracy and training seconds."""
    others = [t for t in info.splits.tests if t != info.splits.headline][:1]
    return (f"acc_{info.splits.headline}", *(f"acc_{t}" for t in others), "worst_group_acc",
            "seconds_train")


def summary_metrics(records: list[RunRecord], wide: bool) -> tuple[str, ...]:
    """The columns of a run or sweep summary, from the first record's dataset: every headline
    metric with ``wide``, else the narrow set; none without records."""
    if not records:
        return ()
    from bench.data import info_of   # bench.data imports the dataset builders: load lazily
    info = info_of(records[0].spec)
    return headline_metrics(info) if wide else narrow_metrics(info)


def group_by_spec(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        if rec.status == "completed":
            groups[rec.spec.hash()].append(rec)
    return dict(groups)


def format_mean_std(values: list[float], digits: int = 3, seeds: int | None = None) -> str:
    """``mean ± std (n)``; the ``(n)`` is left out when it equals ``seeds`` (the table's n
    column), so that only a metric missing for some seeds carries its own count."""
    mean, std, n = mean_std(values)
    if n == 0:
        return "—"
    count = "" if n == seeds else f" ({n})"
    if n == 1:   # no spread from one seed
        return f"{mean:.{digits}f}{count}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}{count}"


def summary_rows(records: list[RunRecord], metric_names: tuple[str, ...]) -> list[dict[str, str]]:
    """One row per run spec: method, source, r, n (completed seeds) and each metric's
    mean ± std over those seeds."""
    rows = []
    for spec_hash, recs in group_by_spec(records).items():
        spec = recs[0].spec
        row = {"method": spec.method, "source": spec.data.get("source", "?"),
               "r": f"{spec.data.get('conflict_ratio')}", "spec": spec_hash,
               "n": str(len(recs))}
        for name in metric_names:
            digits = 1 if name.startswith("seconds") else 3
            row[name] = format_mean_std([r.metrics.get(name, float("nan")) for r in recs],
                                        digits, seeds=len(recs))
        rows.append(row)
    return rows
