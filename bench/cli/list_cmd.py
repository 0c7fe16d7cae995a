"""``bench list``: methods (supervision, defaults, reference), datasets, sources, backbones."""
from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from bench.registry import BACKBONES, DATASETS, METHODS, SOURCES


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list methods, datasets, digit sources and backbones")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(width=160)
    table = Table(title="methods")
    for col in ("name", "supervision", "defaults", "reference"):
        table.add_column(col, overflow="fold")
    for name, cls in METHODS.items():
        # the field --epochs sets is marked: "main training length" differs between methods
        defaults = ", ".join(f"{k}={v}" + (" (--epochs)" if k == cls.epochs_field else "")
                             for k, v in cls.defaults().items())
        label = name + (" (reference)" if cls.is_reference_model else "")
        table.add_row(label, cls.supervision.value, defaults, cls.reference)
    console.print(table)
    console.print("datasets: " + ", ".join(f"{n} ({b.role})" for n, b in DATASETS.items()))
    console.print("digit sources: auto, " + ", ".join(SOURCES.names()))
    from bench.backbones import BASELINE_ALIAS, canonical_name
    names = [f"{n} (= {canonical_name(n)})" if n == BASELINE_ALIAS else n
             for n in BACKBONES.names()]
    console.print("backbones: " + ", ".join(names) + " (docs/backbones.md)")
    return 0
