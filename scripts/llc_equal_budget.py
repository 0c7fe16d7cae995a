"""The LLC of every row of a protocol, and the equal-budget comparison, from re-measured LLCs.

Reads stores read-only, replaces each record's LLC metrics by the re-measured ones
(``bench.diagnostics.llc_remeasured.overlay``), builds the page's rows with the leaderboard's
own code and prints, per row, how many seeds converged, the LLC over them and the median MCSE,
then the page's "LLC at equal training budget" section. This is what a page shows once it
reads the re-measured file.

    python scripts/llc_equal_budget.py --store runs/selection.sqlite out/guard.sqlite \\
        --remeasured out/llc-remeasured.json out/llc-remeasured-guard.json
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from bench.diagnostics.llc_remeasured import overlay, read_remeasured
from bench.diagnostics.llc_sources import read_records
from bench.errors import BenchError, one_line
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.comparisons import llc_section, valid_values
from bench.leaderboard.tables import build_rows


def row_lines(rows) -> list[str]:
    lines = ["| row | seeds | converged | LLC (converged seeds) | median MCSE | median R̂ |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        values = [v for v in valid_values(row, "llc").values() if v is not None]
        mcse = [r.metrics["llc_mcse"] for r in row.records if "llc_mcse" in r.metrics]
        rhat = [r.metrics["llc_rhat"] for r in row.records if "llc_rhat" in r.metrics]
        if not mcse:
            continue
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        mean = f"{statistics.mean(values):.2f}{spread}" if values else "—"
        lines.append(f"| {row.label} | {len(row.records)} | {len(values)} | {mean} | "
                     f"{statistics.median(mcse):.2f} | {statistics.median(rhat):.3f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", nargs="+", required=True, type=Path)
    parser.add_argument("--remeasured", nargs="+", required=True, type=Path)
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--backbone", default="k3-4-16-16-pool-end")
    args = parser.parse_args(argv)
    try:
        runs: dict = {}
        for path in args.remeasured:
            runs.update(read_remeasured(path)["runs"])
        records = [r for store in args.store for r in read_records(store)
                   if r.spec.data.get("conflict_ratio") == args.conflict_ratio
                   and r.spec.data.get("source") == args.source
                   and r.spec.backbone == args.backbone]
        rows = build_rows(overlay(records, {"runs": runs}), MethodCatalog.from_registry())
    except BenchError as exc:
        sys.stderr.write(f"llc_equal_budget: error: {one_line(exc)}\n")
        raise SystemExit(2) from None
    print("\n".join(row_lines(rows)))
    print()
    print("\n".join(llc_section(rows)))


if __name__ == "__main__":
    main()
