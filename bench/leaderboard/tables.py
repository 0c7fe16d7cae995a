"""Leaderboard rows and their markdown table.

One row per run spec (method + hyperparameters + extras) within a protocol, so a variant with
other settings is never merged into the default one: it gets its own row, labelled with the
settings that set it apart. Rows are compared on ``acc_conflicting`` *within* their
supervision class (a method that reads bias labels is not ranked against one that does not)
and shown as a compact letter display: rows that share a letter are not separated by
Holm-corrected pairwise tests (:mod:`bench.leaderboard.ranking`). Reference models, rows of
one seed and a class of one row are shown but not ranked. Every row counts its failed runs;
a row whose seeds are bimodal or heavy-tailed shows median, IQR and per-seed values.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from bench.escape import markdown_text
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.cells import NOT_MEASURED as MISSING, valid_value
from bench.leaderboard.format import value_cell
from bench.leaderboard.ranking import MIN_SEEDS_TO_RANK, letter_display, separated_pairs
from bench.leaderboard.stats import FAMILY_LEVEL, Summary, summarize
from bench.record import RunRecord
from bench.supervision import Supervision

RANK_METRIC = "acc_conflicting"
SUPERVISION_ORDER = tuple(s.value for s in Supervision)


@dataclass(frozen=True)
class Column:
    metric: str
    header: str
    scale: float = 1.0
    digits: int = 3
    with_ci: bool = False
    bounded: bool = False   # a share in [0, 1]: its interval is one for accuracies
    headline: bool = True   # shown in the index's headline table
    front: bool = False     # shown in the README's slim table (the columns a reader needs first)


COLUMNS = (
    Column(RANK_METRIC, "acc_conflicting % (mean ± std [95% interval])", 100, 2, True, True,
           front=True),
    Column("acc_aligned", "acc_aligned %", 100, 1, front=True),
    Column("worst_group_acc", "worst_group_acc %", 100, 1, front=True),
    Column("color_following", "color_following %", 100, 1, front=True),
    Column("acc_greyscale", "acc_greyscale %", 100, 1),
    # On the sampled test images the model classifies correctly: a population that depends on
    # the model, so each seed counts only with enough of them (bench.leaderboard.cells).
    Column("eps_to_flip_aligned_correct", "ε-to-flip aligned (correct)", 1, 3),
    Column("eps_to_flip_conflicting_correct", "ε-to-flip conflicting (correct)", 1, 3),
    # LLC grows with training length, not only with the method: compare it at equal budget
    # (the protocol page's paired section), never across the headline's rows.
    Column("llc", "LLC", 1, 2, headline=False),
    Column("seconds_train", "train s", 1, 0),
)
LEAD_HEADERS = ("group", "method", "supervision", "seeds", "failed")
@dataclass
class Row:
    label: str
    method: str
    spec_hash: str
    supervision: str
    reference: bool
    records: list[RunRecord]                  # sorted by seed
    non_default: dict[str, Any] | None        # None: the method's defaults are unknown here
    letters: str | None = None                # compact letter display; None: not ranked
    # what the records say when the method was reclassified after they ran (shown, not used)
    recorded_supervision: str | None = None
    failed: int = 0                           # seeds that failed and have no completed run
    summaries: dict[str, Summary] = field(default_factory=dict)
    # metric -> why it is not defined for this row's method (shown as n/a, never averaged)
    undefined: dict[str, str] = field(default_factory=dict)

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
            self.summaries[metric] = summarize([
                None if metric in self.undefined else valid_value(metric, r.metrics)
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


def rank_rows(rows: list[Row], level: float = FAMILY_LEVEL) -> None:
    """Within each supervision class, letters from Holm-corrected pairwise tests on
    ``acc_conflicting`` (paired over shared seeds): rows sharing a letter are not separated.
    References, rows with fewer than 2 seeds and a class of one row get no letters."""
    classes: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        row.letters = None
        # One seed has no spread to test against: such a row is shown, not ranked.
        if not row.reference and row.summary(RANK_METRIC).n >= MIN_SEEDS_TO_RANK:
            classes[row.supervision].append(row)
    for members in classes.values():
        if len(members) < 2:
            continue
        order = sorted(members, key=lambda r: (-r.summary(RANK_METRIC).mean, r.label))
        values = {id(r): r.by_seed(RANK_METRIC) for r in order}
        letters = letter_display([id(r) for r in order], separated_pairs(values, level))
        for row in order:
            row.letters = letters[id(row)]


def order_rows(rows: list[Row]) -> list[Row]:
    """Each supervision class in turn (ranked rows, then unranked), references last."""
    def key(row: Row) -> tuple:
        mean = row.summary(RANK_METRIC).mean if row.summary(RANK_METRIC).n else 0.0
        return (row.reference, _supervision_position(row.supervision),
                row.letters is None, -mean, row.label)
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
        supervision = row_supervision(catalog, recs[0])
        # records made before rules were named keep the class they ran under; when the method
        # was reclassified since, the row says so (newer records state their own class)
        recorded = sorted({r.supervision for r in recs if r.selection_rule is None}
                          - {supervision})
        # label and supervision carry record text into every page and figure: escaped once
        rows.append(Row(markdown_text(labels[spec_hash]), spec.method, spec_hash,
                        markdown_text(supervision),
                        catalog.is_reference(spec.method), recs,
                        catalog.non_default(spec.method, spec.hparams, preset_of(spec)),
                        failed=len(failed.get(spec_hash, ())),
                        recorded_supervision=markdown_text(", ".join(recorded)) or None,
                        undefined=({"llc": catalog.llc_undefined[spec.method]}
                                   if spec.method in catalog.llc_undefined else {})))
    rank_rows(rows)
    return order_rows(rows)


def row_supervision(catalog: MethodCatalog, record: RunRecord) -> str:
    """The supervision a row's numbers used: the method's current class (the record's own when
    the method is unknown here), raised to its selection rule's where that reads more."""
    method = catalog.supervision(record.spec.method, record.supervision)
    if record.selection_rule is None:
        return method
    from bench.registry import RegistryError
    from bench.selection import combined_supervision, rule
    try:
        return combined_supervision(Supervision(method), rule(record.selection_rule).supervision
                                    ).value
    except (ValueError, RegistryError):      # a plugin's class or rule not installed here
        return method


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


def rank_cell(row: Row) -> str:
    if row.reference:
        return "ref"
    return row.letters or MISSING


def shown_columns(headline: bool, front: bool = False) -> tuple[Column, ...]:
    if front:
        return tuple(c for c in COLUMNS if c.front)
    return tuple(c for c in COLUMNS if c.headline or not headline)


def table_cells(row: Row, headline: bool = False, front: bool = False) -> list[str]:
    supervision = row.supervision + (f" (recorded as {row.recorded_supervision})"
                                     if row.recorded_supervision else "")
    cells = [rank_cell(row), row.label, supervision, str(len(row.records))]
    cells += [] if front else [str(row.failed)]
    cells += [value_cell(row, c) for c in shown_columns(headline, front)]
    return cells + ([] if front else [", ".join(row.devices)])


def render_table(rows: list[Row], headline: bool = False, front: bool = False) -> str:
    """The markdown table; ``headline`` leaves out columns that do not compare across rows,
    ``front`` keeps only the columns a reader needs first (the README)."""
    if not rows:
        return "_No completed runs._\n"
    lead = LEAD_HEADERS[:4] if front else LEAD_HEADERS
    headers = (*lead, *(c.header for c in shown_columns(headline, front)),
               *(() if front else ("device",)))
    body = tabulate([table_cells(r, headline, front) for r in rows], headers=headers,
                    tablefmt="github", disable_numparse=True)
    return body + "\n"


def best_per_class(rows: list[Row]) -> list[Row]:
    """The rows no row of their class is separated from as better: those holding letter "a"
    (all of them where tests cannot separate the top), in table order."""
    return [r for r in rows if r.letters and "a" in r.letters]
