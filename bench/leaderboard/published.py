"""The seed report's numbers: shown in their own labelled block, never as measured rows.

They were measured once, by hand, outside this harness (one run each, no seeds or
confidence intervals), so a reader must be able to tell them apart from the table above.
"""
from __future__ import annotations

from dataclasses import dataclass

from tabulate import tabulate


@dataclass(frozen=True)
class PublishedFigure:
    model: str
    metric: str
    value: str
    note: str = ""


SEED_REPORT: tuple[PublishedFigure, ...] = (
    PublishedFigure("ERM (BaselineNet)", "acc_conflicting", "3.77%"),
    PublishedFigure("JTT", "acc_conflicting", "87%"),
    PublishedFigure("K-Means cluster reweighting", "acc_conflicting", "87%"),
    PublishedFigure("naive model", "ε-to-flip (PGD, L∞)", "≈ 0.05"),
    PublishedFigure("robust model", "ε-to-flip (PGD, L∞)", "≈ 0.12"),
    PublishedFigure("baseline model", "LLC", "≈ 1.5"),
    PublishedFigure("debiased model", "LLC", "≈ 2.5"),
)


def published_block(level: str = "##") -> str:
    rows = [(f.model, f.metric, f.value) for f in SEED_REPORT]
    table = tabulate(rows, headers=("model", "metric", "value"), tablefmt="github",
                     disable_numparse=True)
    return (f"{level} Published (seed report)\n\n"
            "Reported by the seed report, not measured by this harness: single runs without "
            "seeds or confidence intervals, kept here for comparison only.\n\n"
            f"{table}\n")
