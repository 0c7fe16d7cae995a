"""Paired comparisons printed under a protocol's table.

LLC at equal training budget: the Local Learning Coefficient of a network depends on how long
it trained (on full MNIST, ERM's falls from 10 to 20 epochs), so two rows' LLCs say something
about the methods only when their measured models trained for the same number of steps. A
row's budget is its ``epochs`` and ``batch_size`` hyperparameters (the stage whose model is
measured; JTT's and kmeans' final stage, ERM's only stage); rows without them are left out.
Each row is compared with the ERM row of its budget over their shared seeds whose chains
converged, by a paired t-test.

Where the runs carry the chains' Monte Carlo standard error (``llc_mcse``, from the
calibrated estimator or a re-measurement of the kept models), the section first lists every
row's LLC with its seeds, the convergence count, the median MCSE and split-R̂, so a reader can
see how much of a difference is sampling noise of the estimator itself.
"""
from __future__ import annotations

import math
import statistics
from itertools import product

from bench.leaderboard.stats import FAMILY_LEVEL, Comparison, compare, holm_rejections
from bench.diagnostics.llc_remeasured import settings_text
from bench.escape import markdown_text
from bench.leaderboard.cells import NOT_MEASURED, valid_value
from bench.leaderboard.tables import Row

LLC = "llc"
BASELINE_METHOD = "erm"


def training_budget(row: Row) -> tuple[int, int] | None:
    hp = row.records[0].spec.hparams
    if "epochs" not in hp or "batch_size" not in hp:
        return None
    return int(hp["epochs"]), int(hp["batch_size"])


def valid_values(row: Row, metric: str) -> dict[int, float | None]:
    """Seed -> the seed's valid value (flagged or out-of-range estimates left out; none where
    the row's method declares the metric undefined)."""
    if metric in row.undefined:
        return {}
    return {r.seed: value for r in row.records
            if (value := valid_value(metric, r.metrics)) is not None}


def equal_budget_pairs(rows: list[Row], metric: str = LLC) -> list[tuple[Row, Row, Comparison]]:
    """Each row against each ERM row of the same budget (the question is what a method does
    to the LLC relative to plain training of equal length), when they share >= 2 seeds
    reporting ``metric``."""
    pairs = []
    for a, b in product(rows, rows):
        if b.method != BASELINE_METHOD or a.method == BASELINE_METHOD:
            continue
        budget = training_budget(a)
        if budget is None or budget != training_budget(b):
            continue
        test = compare(valid_values(a, metric), valid_values(b, metric))
        if test.test == "paired t":
            pairs.append((a, b, test))
    return pairs


def _p(p: float) -> str:
    return "—" if math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else "< 0.001")


def _median(values: list[float], digits: int) -> str:
    return f"{statistics.median(values):.{digits}f}" if values else NOT_MEASURED


def undefined_lines(rows: list[Row]) -> list[str]:
    """The rows whose method declares the LLC undefined (``n/a``), each with its reason."""
    reasons = [f"`{markdown_text(row.label)}` ({markdown_text(row.undefined[LLC])})"
               for row in rows if LLC in row.undefined]
    if not reasons:
        return []
    return ["Not defined (`n/a`), as the method declares, so not measured: "
            + "; ".join(reasons) + ".", ""]


def estimator_table(rows: list[Row]) -> list[str]:
    """Every row with an LLC: seeds measured, seeds whose estimate counts, the mean ± std over
    those, and the median MCSE and split-R̂ of the measured seeds' chains."""
    lines = ["| row | epochs, batch | measured | counted | LLC (counted seeds) | "
             "median MCSE | median R̂ |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        measured = [r for r in row.records if r.metrics.get(LLC) is not None]
        if not measured or LLC in row.undefined:
            continue
        summary = row.summary(LLC)
        cell = (f"{summary.mean:.2f} ± {summary.std:.2f}" if summary.n >= 2
                else f"{summary.mean:.2f}" if summary.n == 1 else NOT_MEASURED)
        budget = training_budget(row)
        mcse = [r.metrics["llc_mcse"] for r in measured if r.metrics.get("llc_mcse") is not None]
        rhat = [r.metrics["llc_rhat"] for r in measured if r.metrics.get("llc_rhat") is not None]
        lines.append(f"| {markdown_text(row.label)} | "
                     f"{f'{budget[0]}, {budget[1]}' if budget else NOT_MEASURED} | "
                     f"{len(measured)} of {len(row.records)} | {summary.n} | {cell} | "
                     f"{_median(mcse, 2)} | {_median(rhat, 3)} |")
    return lines


def llc_section(rows: list[Row], remeasured_settings: dict | None = None) -> list[str]:
    """Markdown lines: the rows' LLCs with their estimator's uncertainty (when the runs carry
    it), then the equal-budget comparisons; nothing when no row has an LLC.
    ``remeasured_settings``: the page's LLCs were re-measured from the kept models at these
    settings (:mod:`bench.diagnostics.llc_remeasured`)."""
    if not any(r.summary(LLC).n for r in rows):
        return []
    lines = ["## LLC at equal training budget", ""]
    if remeasured_settings is not None:
        lines += ["**These LLCs were re-measured** from each run's kept model (the zoo) with "
                  "`scripts/llc_remeasure.py`, on the run's own training split, at "
                  f"{settings_text(remeasured_settings)} (docs/llc-calibration.md); not at the "
                  "settings in the runs' specs. A seed whose model was not kept has no LLC "
                  "here (`—`): estimates made at other settings are never mixed in.", ""]
    if any(r.metrics.get("llc_mcse") is not None for row in rows for r in row.records):
        lines += ["Per row: seeds with an estimate, seeds that count (converged chains, "
                  "estimate ≥ 0), their mean ± std, and the median over the measured seeds "
                  "of the chains' Monte Carlo standard error and split-R̂.", "",
                  *estimator_table(rows), ""]
    lines += undefined_lines(rows)
    lines += ["The LLC grows or shrinks with training length as well as with the method, so the "
              "table's LLC column does not compare rows trained for different budgets. Here "
              "each row is compared with the `erm` row of the same `epochs` and `batch_size` "
              "over their shared "
              "seeds with converged chains: mean difference ± std of the per-seed differences, "
              "paired t-test, two-sided p; a pair is *separated* only where Holm's correction "
              f"over all the pairs of this table rejects it at family-wise {FAMILY_LEVEL:g}.",
              ""]
    pairs = equal_budget_pairs(rows)
    if not pairs:
        return lines + ["_No row shares a training budget and two seeds with an LLC with an "
                        "`erm` row._", ""]
    separated = holm_rejections({i: test.p_value for i, (_, _, test) in enumerate(pairs)})
    lines += ["| row A | row B (erm) | epochs, batch | pairs | LLC A − B | p | Holm |",
              "|---|---|---|---|---|---|---|"]
    for i, (a, b, test) in enumerate(pairs):
        diffs = [va - vb for s, va in valid_values(a, LLC).items()
                 if va is not None and (vb := valid_values(b, LLC).get(s)) is not None]
        spread = math.sqrt(sum((d - test.mean_diff) ** 2 for d in diffs) / (len(diffs) - 1))
        epochs, batch = training_budget(a)
        lines.append(f"| {a.label} | {b.label} | {epochs}, {batch} | {test.n} | "
                     f"{test.mean_diff:+.2f} ± {spread:.2f} | {_p(test.p_value)} | "
                     f"{'separated' if i in separated else 'not separated'} |")
    return lines + [""]
