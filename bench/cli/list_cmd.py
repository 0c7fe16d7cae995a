"""``bench list``: methods (supervision, defaults, reference), protocol presets (what each
sets), selection rules, datasets (classes, bias attribute, splits), sources, backbones."""
from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from bench.registry import BACKBONES, DATASETS, METHODS, SOURCES


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list methods, datasets, image sources and backbones")
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
    console.print(protocol_table())
    console.print(selection_table())
    console.print(dataset_table())
    console.print("colourings (--dataset trains on one; the test splits are the others): "
                  + ", ".join(f"{n} ({b.role})" for n, b in DATASETS.items()))
    console.print("image sources: auto (= mnist), " + ", ".join(SOURCES.names()))
    from bench.backbones import BASELINE_ALIAS, canonical_name
    names = [f"{n} (= {canonical_name(n)})" if n == BASELINE_ALIAS else n
             for n in BACKBONES.names()]
    console.print("backbones: " + ", ".join(names) + " (docs/backbones.md)")
    return 0


def protocol_table() -> Table:
    """The protocol presets (--protocol): what each sets, and its source."""
    from bench.protocols import PROTOCOLS
    table = Table(title="protocols (--protocol; docs/protocols.md)")
    for col in ("protocol", "summary", "sets", "source"):
        table.add_column(col, overflow="fold")
    for name, chosen in PROTOCOLS.items():
        sets = chosen.describe() + ("" if chosen.fixes_data else " (each can be changed by "
                                    "its flag)")
        table.add_row(name, chosen.summary, sets, chosen.reference)
    return table


def selection_table() -> Table:
    """The selection rules: what each reads, its supervision and its source."""
    from bench.selection import rule, rule_names
    table = Table(title="selection rules (--selection; every run records every rule's pick; "
                        "docs/selection.md)")
    for col in ("rule", "supervision", "chooses by", "source"):
        table.add_column(col, overflow="fold")
    for name in rule_names():
        chosen = rule(name)
        supervision = "test labels (oracle: reported, never ranked)" if chosen.oracle else \
            chosen.supervision.value
        table.add_row(name, supervision, chosen.summary, chosen.source)
    return table


def dataset_table() -> Table:
    """One row per source: the coloured dataset built from it, as it declares itself."""
    from bench.data import new_data_spec
    table = Table(title="datasets (docs/datasets.md)")
    for col in ("dataset", "--images", "classes", "bias attribute", "splits"):
        table.add_column(col, overflow="fold")
    for source in SOURCES.names():
        info = DATASETS.get("colored").info(new_data_spec(source=source))
        roles = info.splits
        tests = ", ".join(f"{t} (headline)" if t == roles.headline else t for t in roles.tests)
        table.add_row(info.name, source, ", ".join(info.classes),
                      f"{info.bias.name}: {', '.join(info.bias.values)}",
                      f"train: {roles.train}; validation: {roles.val} ({roles.validation} from "
                      f"train); test: {tests}")
    return table
