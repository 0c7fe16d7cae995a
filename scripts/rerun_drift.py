"""How far reruns moved recorded numbers (bench/studies/rerun_drift.py): pairs every completed run of
a rerun store with the reference record of the same key, prints per rerun the change of each
metric and the conditions that changed, then per row the largest change against the seed
std of the reference's seeds.

    # on another machine (or another build, thread count, instruction set):
    bench run --method erm --seeds 3 --store rerun.sqlite --source mnist --data-root ../shared/data
    python scripts/rerun_drift.py --rerun rerun.sqlite            # against leaderboards/records

The rerun must use the same spec (method, settings, data, backbone, diagnostics) as the
reference, or its key differs and it has nothing to pair with.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from bench.errors import BenchError, one_line
from bench.leaderboard.sources import RECORDS_DIR, read_records_dir, read_store
from bench.record import RunRecord
from bench.studies.rerun_drift import DRIFT_METRICS, Rerun, pair_reruns, row_drift


def load(path: Path) -> list[RunRecord]:
    """A results store (a file) or a folder of committed ``*.jsonl`` records."""
    if path.is_dir():
        return read_records_dir(path)
    if not path.exists():
        raise BenchError(f"{path} does not exist; pass a results store or a records folder")
    return read_store(path)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.2f}"


def rerun_rows(pairs: list[Rerun], metrics: list[str]) -> list[dict]:
    rows = []
    for pair in pairs:
        changed = pair.changed_conditions()
        rows.append({"method": pair.rerun.spec.method, "key": pair.rerun.key,
                     **{f"Δ {m} (pts)": percent(pair.delta(m)) for m in metrics},
                     "changed": "; ".join(f"{k}: {a} → {b}" for k, (a, b) in changed.items())
                     or "nothing recorded"})
    return rows


def summary_rows(pairs: list[Rerun], reference: list[RunRecord], metrics: list[str]
                 ) -> list[dict]:
    rows = []
    for metric in metrics:
        for row in row_drift(pairs, reference, metric):
            rows.append({"method": row.method, "spec": row.spec_hash, "metric": metric,
                         "reruns": row.reruns,
                         "mean |Δ| (pts)": f"{100 * row.mean_abs_delta:.2f}",
                         "max |Δ| (pts)": f"{100 * row.max_abs_delta:.2f}",
                         "seed std (pts)": f"{100 * row.seed_std:.2f} (n={row.seeds})",
                         "max |Δ| / seed std": f"{row.max_over_seed_std:.2f}"})
    return rows


def main(argv: list[str] | None = None) -> None:
    """Bad input (missing store, nothing to pair) exits 2 with one line."""
    try:
        _main(argv)
    except BenchError as exc:
        sys.stderr.write(f"rerun_drift: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rerun", type=Path, required=True,
                        help="the results store (or records folder) holding the reruns")
    parser.add_argument("--reference", type=Path, default=RECORDS_DIR,
                        help=f"the records they rerun (default: {RECORDS_DIR})")
    parser.add_argument("--metrics", default=",".join(DRIFT_METRICS))
    parser.add_argument("--format", default="github", help="tabulate format (default github)")
    args = parser.parse_args(argv)
    metrics = args.metrics.split(",")
    reference = load(args.reference)
    pairs = pair_reruns(reference, load(args.rerun))
    if not pairs:
        raise BenchError(f"no completed run in {args.rerun} has a reference record in "
                         f"{args.reference}; rerun with the reference's exact spec and seed")
    print(tabulate(rerun_rows(pairs, metrics), headers="keys", tablefmt=args.format,
                   disable_numparse=True))
    print()
    print(tabulate(summary_rows(pairs, reference, metrics), headers="keys",
                   tablefmt=args.format, disable_numparse=True))


if __name__ == "__main__":
    main()
