"""Paired comparisons printed under a protocol's table.

LLC at equal training budget: the Local Learning Coefficient of a network depends on how long
it trained (on full MNIST, ERM's falls from 10 to 20 epochs), so two rows' LLCs say something
about the methods only when their measured models trained for the same number of steps. A
row's budget is its ``epochs`` and ``batch_size`` hyperparameters (the stage whose model is
measured; JTT's and kmeans' final stage, ERM's only stage); rows without them are left out.
Each row is compared with the ERM row of its budget over their shared seeds whose chains
converged, by a paired t-test.
"""
from __future__ import annotations

import math
from itertools import product

from bench.leaderboard.stats import SIGNIFICANCE, Comparison, compare
from bench.leaderboard.cells import valid_value
from bench.leaderboard.tables import Row

LLC = "llc"
BASELINE_METHOD = "erm"


def training_budget(row: Row) -> tuple[int, int] | None:
    hp = row.records[0].spec.hparams
    if "epochs" not in hp or "batch_size" not in hp:
        return None
    return int(hp["epochs"]), int(hp["batch_size"])


def valid_values(row: Row, metric: str) -> dict[int, float | None]:
    """Seed -> the seed's valid value (flagged or out-of-range estimates left out)."""
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


def llc_section(rows: list[Row]) -> list[str]:
    """Markdown lines: the equal-budget LLC comparisons, or nothing when there are none."""
    if not any(r.summary(LLC).n for r in rows):
        return []
    lines = ["## LLC at equal training budget", "",
             "The LLC grows or shrinks with training length as well as with the method, so the "
             "table's LLC column does not compare rows trained for different budgets. Here "
             "each row is compared with the `erm` row of the same `epochs` and `batch_size` "
             "over their shared "
             "seeds with converged chains: mean difference ± std of the per-seed differences, "
             f"paired t-test, two-sided p (significant below {SIGNIFICANCE:g}).", ""]
    pairs = equal_budget_pairs(rows)
    if not pairs:
        return lines + ["_No row shares a training budget and two seeds with an LLC with an "
                        "`erm` row._", ""]
    lines += ["| row A | row B (erm) | epochs, batch | pairs | LLC A − B | p |", "|---|---|---|---|---|---|"]
    for a, b, test in pairs:
        diffs = [va - vb for s, va in valid_values(a, LLC).items()
                 if va is not None and (vb := valid_values(b, LLC).get(s)) is not None]
        spread = math.sqrt(sum((d - test.mean_diff) ** 2 for d in diffs) / (len(diffs) - 1))
        epochs, batch = training_budget(a)
        lines.append(f"| {a.label} | {b.label} | {epochs}, {batch} | {test.n} | "
                     f"{test.mean_diff:+.2f} ± {spread:.2f} | {_p(test.p_value)} |")
    return lines + [""]
