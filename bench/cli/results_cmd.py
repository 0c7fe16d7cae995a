"""``bench results``: the stored runs as a table, JSON or CSV."""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.store import Store

TABLE_METRICS = ("acc_aligned", "acc_conflicting", "acc_cycled", "acc_greyscale",
                 "worst_group_acc", "seconds_train")


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="show stored runs")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--method", default=None, help="only this method")
    p.add_argument("--status", choices=("completed", "failed"), default=None)
    p.add_argument("--store", type=Path, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with Store(args.store) as store:
        records = store.records(method=args.method, status=args.status)
    if args.format == "json":
        json.dump([r.to_json_dict() for r in records], sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    elif args.format == "csv":
        metric_names = sorted({k for r in records for k in r.metrics})
        writer = csv.writer(sys.stdout)
        writer.writerow(["id", "method", "dataset", "source", "seed", "status", "spec",
                         "hparams", *metric_names])
        for r in records:
            writer.writerow([r.id, r.spec.method, r.spec.dataset, r.source, r.seed, r.status,
                             r.spec.hash(), json.dumps(r.spec.hparams, sort_keys=True),
                             *(r.metrics.get(k, "") for k in metric_names)])
    else:
        table = Table(title=f"{len(records)} runs")
        for col in ("id", "method", "source", "r", "seed", "status", *TABLE_METRICS):
            table.add_column(col)
        for r in records:
            table.add_row(str(r.id), r.spec.method, r.source, str(r.spec.data["conflict_ratio"]),
                          str(r.seed), r.status,
                          *(f"{r.metrics[k]:.3f}" if k in r.metrics else "—" for k in TABLE_METRICS))
        Console(width=200).print(table)
    return 0
