"""Pick llc-guard's settings from its validation grid (the rule in docs/llc-calibration.md,
section 4): the (top_fraction, upweight) with the highest mean validation accuracy over the
grid's seeds; ties (within 0.001) go to the smaller upweight, then the smaller fraction (the
setting closer to ERM). Reads only ``acc_val`` and the training time; the store is opened
read-only. Prints the pick as JSON and writes it with ``--out``.

    python scripts/llc_guard_pick.py --store out/guard-grid.sqlite --out out/guard-pick.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bench.diagnostics.llc_sources import read_records
from bench.errors import BenchError, one_line

GRID_KEYS = ("top_fraction", "upweight")


def pick(records) -> dict:
    by_setting: dict[tuple, list] = {}
    for record in records:
        if record.spec.method != "llc-guard":
            continue
        key = tuple(record.spec.hparams[k] for k in GRID_KEYS)
        by_setting.setdefault(key, []).append(record)
    if not by_setting:
        raise BenchError("no completed llc-guard runs in the grid store")
    scored = {key: statistics.mean(r.metrics["acc_val"] for r in runs)
              for key, runs in by_setting.items()}
    top = max(scored.values())
    chosen = min((k for k, v in scored.items() if v >= top - 0.001), key=lambda k: (k[1], k[0]))
    return {"hparams": dict(zip(GRID_KEYS, chosen)), "acc_val": scored[chosen],
            "grid": [{"top_fraction": k[0], "upweight": k[1], "acc_val": v,
                      "seeds": sorted(r.seed for r in by_setting[k]),
                      "interventions": [r.metrics.get("guard_interventions")
                                        for r in by_setting[k]],
                      "seconds_train": [r.metrics.get("seconds_train") for r in by_setting[k]]}
                     for k, v in sorted(scored.items())]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    try:
        chosen = pick(read_records(args.store))
    except BenchError as exc:
        sys.stderr.write(f"llc_guard_pick: error: {one_line(exc)}\n")
        raise SystemExit(2) from None
    text = json.dumps(chosen, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
