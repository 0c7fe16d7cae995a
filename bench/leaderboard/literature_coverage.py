"""How much of the literature table is measured, and what finishing it costs: seeds per
(method, ratio) cell, the runs left to reach a target number of seeds, and their run time at
each method's mean so far. Generated from the records, so the count of what is left never has
to be typed (and go stale) in the docs. Pure: a function of records."""
from __future__ import annotations

from collections.abc import Sequence

from bench.record import RunRecord

TARGET_SEEDS = 3   # issue 28: "5 seeds where the cost allows (at least 3)"


def run_seconds(record: RunRecord) -> float:
    """A run's whole cost: data, bias proxy, training, evaluation and diagnostics."""
    return sum(v for k, v in record.metrics.items() if k.startswith("seconds_"))


def seeds_left(by_cell: dict[tuple[str, float], list[RunRecord]], methods: Sequence[str],
               ratios: Sequence[float], target: int = TARGET_SEEDS) -> dict[str, int]:
    """Runs each method still needs for ``target`` distinct seeds in every ratio's cell."""
    return {m: sum(max(0, target - len({r.seed for r in by_cell.get((m, ratio), [])}))
                   for ratio in ratios) for m in methods}


def coverage_lines(by_cell: dict[tuple[str, float], list[RunRecord]], methods: Sequence[str],
                   ratios: Sequence[float], names: dict[str, str], header: list[str],
                   target: int = TARGET_SEEDS) -> list[str]:
    """A methods x ratios table of seeds measured, then the runs left and their estimated
    run time (one process each, on the devices the method's runs used so far)."""
    lines = ["## Coverage: seeds measured, and what is left", "",
             f"Distinct seeds per cell; the table's target is at least {target} a cell.", "",
             *header]
    for method in methods:
        counts = [len({r.seed for r in by_cell.get((method, ratio), [])}) for ratio in ratios]
        lines.append(f"| {names[method]} | " + " | ".join(str(n) for n in counts) + " |")
    left = {m: n for m, n in seeds_left(by_cell, methods, ratios, target).items() if n}
    if not left:
        return lines + ["", f"Every cell has {target} seeds or more.", ""]
    hours: dict[str, float] = {}
    for method in left:
        runs = [r for ratio in ratios for r in by_cell.get((method, ratio), [])]
        if runs:
            hours[method] = left[method] * sum(map(run_seconds, runs)) / len(runs) / 3600
    devices = sorted({r.device for m in hours for ratio in ratios
                      for r in by_cell.get((m, ratio), [])})
    parts = ", ".join(f"`{m}` {n}" for m, n in left.items())
    lines += ["", f"Left for {target} seeds a cell: {sum(left.values())} runs ({parts})."]
    if hours:
        each = ", ".join(f"`{m}` {h:.1f}" for m, h in hours.items())
        lines.append(f"At each method's mean run time so far (all phases, one process a run, "
                     f"on {', '.join(devices)}): about {sum(hours.values()):.1f} h ({each}).")
    unmeasured = [m for m in left if m not in hours]
    if unmeasured:
        lines.append("No run yet, so no estimate: "
                     + ", ".join(f"`{m}`" for m in unmeasured) + ".")
    return lines + [""]
