"""``bench results``: the stored runs as a table, JSON or CSV."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from bench.cli.tables import add_wide_option, new_table, print_table
from bench.record import RunRecord
from bench.store import Store

# headline diagnostics (bench.diagnostics); their settings are in the json extras
DIAGNOSTIC_METRICS = ("color_following", "gradcam_shape_share", "eps_to_flip_conflicting", "llc")


def table_metrics(records: list[RunRecord], wide: bool) -> tuple[str, ...]:
    """Accuracy on the test splits the records' datasets declare (in their order; within 100
    columns only each dataset's headline split and the first other one), then the rest."""
    from bench.data import info_of
    from bench.errors import BenchError
    from bench.registry import RegistryError
    names: list[str] = []
    for spec in {r.spec.hash(): r.spec for r in records}.values():
        try:
            info = info_of(spec)
        except (BenchError, RegistryError):   # a plugin's source that is not installed here
            continue
        others = [t for t in info.splits.tests if t != info.splits.headline]
        shown = info.splits.tests if wide else [t for t in info.splits.tests
                                                if t == info.splits.headline or t in others[:1]]
        names += [f"acc_{t}" for t in shown if f"acc_{t}" not in names]
    if wide:
        return (*names, "worst_group_acc", "seconds_train", *DIAGNOSTIC_METRICS)
    return (*names, "seconds_train")


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="show stored runs")
    p.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table",
                   help="jsonl: one record per line, sorted keys (leaderboards/records/ format)")
    p.add_argument("--out", type=Path, default=None, help="write to this file (json/jsonl/csv)")
    p.add_argument("--method", default=None, help="only this method")
    p.add_argument("--status", choices=("completed", "failed"), default=None)
    p.add_argument("--store", type=Path, default=None)
    add_wide_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Store(args.store, readonly=True) as store:
        records = store.records(method=args.method, status=args.status)
    if args.format != "table":
        if args.out is None:
            write_records(records, args.format, sys.stdout)
            return 0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8", newline="") as stream:
            write_records(records, args.format, stream)
        return 0
    metrics = table_metrics(records, args.wide)
    table = new_table(f"{len(records)} runs", ("id", "method", "source", "r", "seed", "status",
                                               *metrics))
    for r in records:
        table.add_row(str(r.id), r.spec.method, r.source, str(r.spec.data["conflict_ratio"]),
                      str(r.seed), r.status,
                      *(f"{r.metrics[k]:.3f}" if k in r.metrics else "—" for k in metrics))
    print_table(table, args.wide)
    return 0


def write_records(records: list[RunRecord], fmt: str, stream) -> None:
    """json (a list), jsonl (one record per line, as in ``leaderboards/records/``) or csv;
    keys sorted so that the same records give the same bytes."""
    if fmt == "jsonl":
        for r in records:
            stream.write(json.dumps(r.to_json_dict(), sort_keys=True) + "\n")
    elif fmt == "json":
        json.dump([r.to_json_dict() for r in records], stream, indent=2, sort_keys=True)
        stream.write("\n")
    else:
        metric_names = sorted({k for r in records for k in r.metrics})
        writer = csv.writer(stream)
        writer.writerow(["id", "method", "dataset", "source", "seed", "status", "spec",
                         "hparams", *metric_names])
        for r in records:
            writer.writerow([r.id, r.spec.method, r.spec.dataset, r.source, r.seed, r.status,
                             r.spec.hash(), json.dumps(r.spec.hparams, sort_keys=True),
                             *(r.metrics.get(k, "") for k in metric_names)])
