"""Which figures a leaderboard has, decided from the records alone.

Pages link exactly the planned figures, whether or not ``--no-figures`` skips drawing them,
so the markdown never depends on that flag. Each plan carries a ``draw(path)`` closure.
The one exception, the Grad-CAM figure, needs kept weights: it is linked when its file exists
(:mod:`bench.leaderboard.gradcam_figure`).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from bench.escape import markdown_text
from bench.leaderboard import figures
from bench.leaderboard.format import per_seed_text
from bench.leaderboard.protocol import Protocol
from bench.leaderboard.stats import MIN_SEEDS_FOR_GAP
from bench.leaderboard.tables import RANK_METRIC, Row, format_value

EPS_SPLITS = ("aligned", "conflicting")
_QUANTILE_SUFFIX = {"q10": "_q10", "q25": "_q25", "median": "", "q75": "_q75", "q90": "_q90"}


@dataclass(frozen=True)
class PlannedFigure:
    path: str                        # relative to the leaderboard folder
    alt: str
    caption: str
    draw: Callable[[Path], Path]
    table: tuple[str, ...] = ()      # markdown lines shown under the figure (its numbers)


def _summed_confusion(row: Row) -> np.ndarray | None:
    matrices = [np.asarray(r.confusion) for r in row.records if r.confusion]
    return np.sum(matrices, axis=0) if matrices else None


def erm_and_best(rows: list[Row]) -> tuple[Row, Row] | None:
    """ERM (its default variant when there is one) and the non-reference row with the best
    mean acc_conflicting among the others; both need stored confusion matrices."""
    erm = [r for r in rows if r.method == "erm" and _summed_confusion(r) is not None]
    others = [r for r in rows if r.method != "erm" and not r.reference
              and r.summary(RANK_METRIC).n > 0 and _summed_confusion(r) is not None]
    if not erm or not others:
        return None
    erm_row = next((r for r in erm if r.non_default == {}), erm[0])
    best = max(others, key=lambda r: round(r.summary(RANK_METRIC).mean, 4))  # first on ties
    return erm_row, best


def eps_quantiles(row: Row) -> dict[str, dict[str, float]]:
    """{split: {quantile: mean over seeds}} from the stored ``eps_to_flip_<split>[_qNN]``."""
    out: dict[str, dict[str, float]] = {}
    for split in EPS_SPLITS:
        values = {}
        for name, suffix in _QUANTILE_SUFFIX.items():
            s = row.summary(f"eps_to_flip_{split}{suffix}")
            if s.n > 0:
                values[name] = s.mean
        if values:
            out[split] = values
    return out


def protocol_figures(protocol: Protocol, rows: list[Row]) -> list[PlannedFigure]:
    planned = []
    pair = erm_and_best(rows)
    if pair is not None:
        panels = [(f"{r.label} ({r.summary(RANK_METRIC).mean * 100:.1f}% on conflicting)",
                   _summed_confusion(r)) for r in pair]
        planned.append(PlannedFigure(
            f"figures/{protocol.slug}-confusion.png", "confusion matrices on conflicting",
            f"Confusion on `conflicting` (summed over seeds, rows normalised to %): "
            f"{pair[0].label} beside the best method, {pair[1].label} "
            f"(supervision: {pair[1].supervision}).",
            partial(figures.confusion_pair, panels)))
    eps_rows = [(r.label, q) for r in rows if (q := eps_quantiles(r))]
    if eps_rows:
        planned.append(PlannedFigure(
            f"figures/{protocol.slug}-eps.png", "epsilon-to-flip distribution per method",
            "ε-to-flip per method on all sampled images, right and wrong predictions alike "
            "(means over seeds of the stored quantiles; the tables' columns use the correctly "
            "classified images only): box from the 25% to the 75% quantile, red line at the "
            "median, whiskers from 10% to 90%.",
            partial(figures.eps_boxes, eps_rows)))
    return planned


# Extras that do not change what is trained (which diagnostics ran after the fit): a curve of
# training accuracy against the ratio joins runs that differ only in them. The protocol
# preset does change it, but a family's rows share it (it is part of the family's key).
NOT_TRAINING = frozenset({"diagnostics"})
NOT_IN_LABELS = NOT_TRAINING | {"protocol"}


def _settings_label(row: Row) -> tuple[str, str]:
    """(series key, label) that stay the same across conflict ratios: method plus
    hyperparameters and the extras that change training (row labels are per page, so they can
    differ between pages)."""
    spec = row.records[0].spec
    extras = {k: v for k, v in spec.extras.items() if k not in NOT_IN_LABELS}
    key = json.dumps([spec.method, spec.hparams, extras], sort_keys=True)
    if row.non_default is None:
        return key, markdown_text(f"{spec.method} "
                                  f"[{hashlib.sha256(key.encode()).hexdigest()[:6]}]")
    parts = [f"{k}={format_value(v)}" for k, v in row.non_default.items()]
    parts += [f"{k}={format_value(v)}" for k, v in sorted(extras.items())]
    return key, markdown_text(f"{spec.method} ({', '.join(parts)})" if parts else spec.method)


def ratio_figures(rows_by_protocol: dict[Protocol, list[Row]]) -> list[PlannedFigure]:
    """One acc_conflicting-vs-conflict-ratio figure per protocol family with >= 2 ratios;
    one series per method and settings."""
    # family -> series key -> ratio -> (n seeds, point); at one ratio the row with most seeds
    # stands for a series (rows that differ only in their diagnostics share a series).
    points: dict[Protocol, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    labels: dict[Protocol, dict[str, str]] = defaultdict(dict)
    for protocol in sorted(rows_by_protocol, key=Protocol.sort_key):
        for row in rows_by_protocol[protocol]:
            s = row.summary(RANK_METRIC)
            if s.n == 0:
                continue
            std = 0.0 if math.isnan(s.std) else s.std * 100
            key, label = _settings_label(row)
            ratio = protocol.conflict_ratio
            held = points[protocol.family][key].get(ratio)
            if held is None or s.n > held[0]:
                points[protocol.family][key][ratio] = (s.n, (ratio, s.mean * 100, std),
                                                       row.by_seed(RANK_METRIC))
            labels[protocol.family][key] = label
    planned = []
    for family in sorted(points, key=Protocol.sort_key):
        if len({r for per_ratio in points[family].values() for r in per_ratio}) < 2:
            continue
        series = {labels[family][k]: sorted(point for _, point, _ in per_ratio.values())
                  for k, per_ratio in sorted(points[family].items())}
        by_label = {labels[family][k]: per_ratio for k, per_ratio in points[family].items()}
        planned.append(PlannedFigure(
            f"figures/ratio-{family.slug}.png", "acc_conflicting against the conflict ratio",
            f"`acc_conflicting` against the training conflict ratio ({family.title}); "
            f"error bars: std over seeds.",
            partial(figures.ratio_curves, series, title=family.title),
            ratio_table(by_label)))
    return planned


def ratio_table(by_label: dict[str, dict[float, tuple[int, tuple[float, float, float], dict]]]
                ) -> tuple[str, ...]:
    """The figure's points as markdown: one row per series, one column per ratio, each cell
    mean ± std % (n seeds), with every seed's value where fewer than 4 seeds ran (as on the
    protocol pages); only series measured at two or more ratios (the others are on their
    protocol's page)."""
    curves = {label: per_ratio for label, per_ratio in by_label.items() if len(per_ratio) >= 2}
    if not curves:
        return ()
    ratios = sorted({r for per_ratio in curves.values() for r in per_ratio})

    def cell(held: tuple[int, tuple[float, float, float], dict] | None) -> str:
        if held is None:
            return "—"
        n, (_, mean, std), seeds = held
        if n == 1:
            return f"{mean:.1f} (n=1)"
        text = f"{mean:.1f} ± {std:.1f} (n={n})"
        if n < MIN_SEEDS_FOR_GAP:
            text += "; per seed " + per_seed_text(seeds, 100, 1)
        return text
    lines = ["| method | " + " | ".join(f"r = {r:g}" for r in ratios) + " |",
             "|---|" + "---|" * len(ratios)]
    lines += [f"| {label} | " + " | ".join(cell(curves[label].get(r)) for r in ratios) + " |"
              for label in sorted(curves)]
    return (*lines, "", "Cells: `acc_conflicting` %, mean ± std over seeds (n seeds), and every "
            "seed's value (seed order) where fewer than 4 seeds ran; series measured at one "
            "ratio only are on that ratio's page.")
