"""Leaderboard rows and their markdown table.

One row per run spec (method + hyperparameters + extras) within a protocol, so a variant with
other settings is never merged into the default one: it gets its own row, labelled with the
settings that set it apart. Rows are ranked on ``acc_conflicting`` *within* their
supervision class (a method that reads bias labels is not ranked against one that does not):
a row's rank is 1 + the number of rows significantly better than it (paired t-test over
shared seeds, see :func:`bench.leaderboard.stats.compare`), so rows the data cannot separate
share a rank ("=2"). Reference models are shown but not ranked. Every row counts its failed
runs; a row whose seeds are bimodal or heavy-tailed shows median, IQR and per-seed values.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.stats import (MIN_SEEDS_FOR_GAP, SIGNIFICANCE, Summary, compare,
                                     is_clumped, median_iqr, summarize)
from bench.record import RunRecord
from bench.supervision import Supervision

RANK_METRIC = "acc_conflicting"
MISSING = "—"
SUPERVISION_ORDER = tuple(s.value for s in Supervision)


@dataclass(frozen=True)
class Column:
    metric: str
    header: str
    scale: float = 1.0
    digits: int = 3
    with_ci: bool = False
    bounded: bool = False   # a share in [0, 1]: the interval is clipped to it
    headline: bool = True   # shown in the README's and the index's headline table


COLUMNS = (
    Column(RANK_METRIC, "acc_conflicting % (mean ± std [95% CI])", 100, 2, True, True),
    Column("acc_aligned", "acc_aligned %", 100, 1),
    Column("worst_group_acc", "worst_group_acc %", 100, 1),
    Column("color_following", "color_following %", 100, 1),
    Column("acc_greyscale", "acc_greyscale %", 100, 1),
    # On the images the model classifies correctly: the same population for every method.
    Column("eps_to_flip_aligned_correct", "ε-to-flip aligned (correct)", 1, 3),
    Column("eps_to_flip_conflicting_correct", "ε-to-flip conflicting (correct)", 1, 3),
    # LLC grows with training length, not only with the method: compare it at equal budget
    # (the protocol page's paired section), never across the headline's rows.
    Column("llc", "LLC", 1, 2, headline=False),
    Column("seconds_train", "train s", 1, 0),
)
LEAD_HEADERS = ("rank", "method", "supervision", "seeds", "failed")
# A metric whose run also stores a validity flag counts only where the flag is 1: an LLC from
# chains that did not settle is not an estimate (the cell then shows n=k of the seeds).
VALID_ONLY_WHEN = {"llc": "llc_converged"}
# A metric that cannot take values below a bound counts only at or above it. The LLC is >= 0
# at a local minimum of the loss it is measured on; a negative estimate says the trained
# weights are not at one (e.g. `greyscale`, trained on grey images and measured on the
# coloured training split), so it is not an LLC at all.
VALID_AT_LEAST = {"llc": 0.0}


def valid_value(metric: str, metrics: dict[str, float]) -> float | None:
    """The run's ``metric`` where it is a valid estimate, else None."""
    value = metrics.get(metric)
    flag = VALID_ONLY_WHEN.get(metric)
    if value is None or (flag is not None and metrics.get(flag, 1.0) != 1.0):
        return None
    if metric in VALID_AT_LEAST and value < VALID_AT_LEAST[metric]:
        return None
    return value


@dataclass
class Row:
    label: str
    method: str
    spec_hash: str
    supervision: str
    reference: bool
    records: list[RunRecord]                  # sorted by seed
    non_default: dict[str, Any] | None        # None: the method's defaults are unknown here
    rank: int | None = None
    shared_rank: bool = False                 # another row of its class has the same rank
    failed: int = 0                           # seeds that failed and have no completed run
    summaries: dict[str, Summary] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.records]

    def by_seed(self, metric: str) -> dict[int, float | None]:
        return {r.seed: r.metrics.get(metric) for r in self.records}

    @property
    def devices(self) -> list[str]:
        return sorted({r.device for r in self.records})

    def summary(self, metric: str) -> Summary:
        if metric not in self.summaries:
            self.summaries[metric] = summarize([valid_value(metric, r.metrics)
                                                for r in self.records])
        return self.summaries[metric]


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def format_extra(key: str, value: Any) -> str:
    """A spec extra as a short readable label: diagnostics settings are named by what ran and
    what differs from the defaults (``diagnostics color,pgd; pgd.steps=100``), never as JSON."""
    if key == "diagnostics":
        from bench.diagnostics import settings_label
        return settings_label(value)
    return f"{key}={format_value(value)}"


def _differing(dicts: list[dict[str, Any]], absent_differs: bool = True) -> set[str]:
    """Keys whose values differ between the dicts; a dict that lacks a key counts as a value
    unless ``absent_differs`` is False."""
    keys = set().union(*dicts) if dicts else set()
    return {k for k in keys if len({json.dumps(d.get(k), sort_keys=True) for d in dicts
                                    if absent_differs or k in d}) > 1}


def variant_labels(groups: dict[str, list[RunRecord]], catalog: MethodCatalog) -> dict[str, str]:
    """Spec hash -> row label: the method name, plus the hyperparameters that differ from
    the defaults or between this method's rows, plus differing extras."""
    by_method: dict[str, list[str]] = defaultdict(list)
    for spec_hash, recs in groups.items():
        by_method[recs[0].spec.method].append(spec_hash)
    labels: dict[str, str] = {}
    for method, hashes in by_method.items():
        specs = {h: groups[h][0].spec for h in hashes}
        # for a method whose defaults are known, a key some rows lack is said by `predates`
        hp_keys = _differing([s.hparams for s in specs.values()],
                             absent_differs=method not in catalog.defaults)
        extra_keys = _differing([s.extras for s in specs.values()])
        for h, spec in specs.items():
            missing = catalog.predates(method, spec.hparams)
            differing = catalog.non_default(method, spec.hparams, preset_of(spec)) or {}
            keys = (hp_keys | set(differing)) - set(missing)
            parts = [f"{k}={format_value(spec.hparams.get(k, differing.get(k)))}"
                     for k in sorted(keys)]
            parts += [format_extra(k, spec.extras.get(k)) for k in sorted(extra_keys)]
            if missing:
                parts.append(f"ran before {', '.join(missing)} existed")
            labels[h] = f"{method} ({', '.join(parts)})" if parts else method
    counts = defaultdict(int)
    for label in labels.values():
        counts[label] += 1
    return {h: (f"{l} [{h[:8]}]" if counts[l] > 1 else l) for h, l in labels.items()}


def preset_of(spec) -> str:
    """The protocol preset a run started from ("" for the seed protocol's records)."""
    return str(spec.extras.get("protocol") or "")


def _supervision_position(supervision: str) -> tuple[int, str]:
    if supervision in SUPERVISION_ORDER:
        return (SUPERVISION_ORDER.index(supervision), supervision)
    return (len(SUPERVISION_ORDER), supervision)


def rank_rows(rows: list[Row], level: float = SIGNIFICANCE) -> None:
    """Within each supervision class, rank = 1 + the number of rows whose acc_conflicting is
    significantly higher (two-sided p < ``level``; paired over shared seeds). Rows no test
    separates share a rank. References and rows with fewer than 2 seeds get no rank."""
    classes: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        row.rank, row.shared_rank = None, False
        # One seed has no spread to test against: such a row is shown, not ranked.
        if not row.reference and row.summary(RANK_METRIC).n >= 2:
            classes[row.supervision].append(row)
    for members in classes.values():
        values = {id(r): r.by_seed(RANK_METRIC) for r in members}
        for row in members:
            better = 0
            for other in members:
                if other is not row:
                    test = compare(values[id(other)], values[id(row)])
                    better += test.mean_diff > 0 and test.significant(level)
            row.rank = 1 + better
        for row in members:
            row.shared_rank = sum(o.rank == row.rank for o in members) > 1


def order_rows(rows: list[Row]) -> list[Row]:
    """Each supervision class in turn (ranked rows, then unranked), references last."""
    def key(row: Row) -> tuple:
        mean = row.summary(RANK_METRIC).mean if row.summary(RANK_METRIC).n else 0.0
        return (row.reference, _supervision_position(row.supervision),
                row.rank is None, row.rank or 0, -mean, row.label)
    return sorted(rows, key=key)


def build_rows(records: list[RunRecord], catalog: MethodCatalog) -> list[Row]:
    """Rows of one protocol's completed records, ranked and ordered."""
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        if rec.status == "completed":
            groups[rec.spec.hash()].append(rec)
    failed = failed_seeds(records)
    labels = variant_labels(groups, catalog)
    rows = []
    for spec_hash, recs in groups.items():
        recs = sorted(recs, key=lambda r: r.seed)
        spec = recs[0].spec
        supervision = catalog.supervision(spec.method, recs[0].supervision)
        rows.append(Row(labels[spec_hash], spec.method, spec_hash, supervision,
                        catalog.is_reference(spec.method), recs,
                        catalog.non_default(spec.method, spec.hparams, preset_of(spec)),
                        failed=len(failed.get(spec_hash, ()))))
    rank_rows(rows)
    return order_rows(rows)


def failed_seeds(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Spec hash -> its failed records whose seed has no completed run (a failure later
    rerun successfully is not counted)."""
    done = {(r.spec.hash(), r.seed) for r in records if r.status == "completed"}
    out: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        key = (rec.spec.hash(), rec.seed)
        if rec.status == "failed" and key not in done:
            out[key[0]].append(rec)
    return dict(out)


def format_clumped(values: dict[int, float | None], column: Column) -> str:
    """Median, IQR and every seed's value (seed order), for a bimodal or heavy-tailed row."""
    d, s = column.digits, column.scale
    kept = [v for v in values.values() if v is not None]
    median, q1, q3 = median_iqr(kept)
    return (f"median {median * s:.{d}f}, IQR [{q1 * s:.{d}f}, {q3 * s:.{d}f}]; "
            f"per seed {per_seed_text(values, column)}")


def format_cell(summary: Summary, column: Column, n_seeds: int) -> str:
    if summary.n == 0:
        return MISSING
    d, s = column.digits, column.scale
    text = f"{summary.mean * s:.{d}f}"
    if summary.n >= 2:
        text += f" ± {summary.std * s:.{d}f}"
        if column.with_ci:
            low, high = summary.ci_low, summary.ci_high
            if column.bounded:
                low, high = max(low, 0.0), min(high, 1.0)
            text += f" [{low * s:.{d}f}, {high * s:.{d}f}]"
    if summary.n != n_seeds:
        text += f" (n={summary.n})"
    return text


def rank_cell(row: Row) -> str:
    if row.reference:
        return "ref"
    if row.rank is None:
        return MISSING
    return f"={row.rank}" if row.shared_rank else str(row.rank)


def per_seed_text(values: dict[int, float | None], column: Column) -> str:
    d, s = column.digits, column.scale
    return ", ".join(MISSING if v is None else f"{v * s:.{d}f}" for v in values.values())


def value_cell(row: Row, column: Column) -> str:
    if column.with_ci:   # the ranked metric: a mean and t-interval only where they fit
        values = row.by_seed(column.metric)
        measured = [v for v in values.values() if v is not None]
        if is_clumped(measured):
            return format_clumped(values, column)
        if 2 <= len(measured) < MIN_SEEDS_FOR_GAP:
            # Too few seeds for the clump test: a 9 / 75 / 77 split would pass for a wide
            # interval, so the seeds themselves are shown beside the mean.
            return (f"{format_cell(row.summary(column.metric), column, len(row.records))}; "
                    f"per seed {per_seed_text(values, column)}")
    return format_cell(row.summary(column.metric), column, len(row.records))


def shown_columns(headline: bool) -> tuple[Column, ...]:
    return tuple(c for c in COLUMNS if c.headline or not headline)


def table_cells(row: Row, headline: bool = False) -> list[str]:
    cells = [rank_cell(row), row.label, row.supervision, str(len(row.records)), str(row.failed)]
    cells += [value_cell(row, c) for c in shown_columns(headline)]
    cells.append(", ".join(row.devices))
    return cells


def render_table(rows: list[Row], headline: bool = False) -> str:
    """The markdown table; ``headline`` leaves out columns that do not compare across rows."""
    if not rows:
        return "_No completed runs._\n"
    headers = (*LEAD_HEADERS, *(c.header for c in shown_columns(headline)), "device")
    body = tabulate([table_cells(r, headline) for r in rows], headers=headers,
                    tablefmt="github", disable_numparse=True)
    return body + "\n"


def best_per_class(rows: list[Row]) -> list[Row]:
    """The rank-1 rows (all of them on a tie), in table order."""
    return [r for r in rows if r.rank == 1]
