"""``bench zoo``: the trained models behind the committed leaderboard (bench.zoo)."""
from __future__ import annotations

import argparse
from collections import defaultdict

from rich.console import Console

from bench.cli.tables import add_wide_option, new_table, print_table


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", help="list or describe the committed trained models")
    verbs = p.add_subparsers(dest="verb", required=True, parser_class=type(p))
    listing = verbs.add_parser("list", help="a table of the zoo: protocol, row, seeds, size")
    listing.add_argument("--protocol", default=None,
                         help="one protocol page's slug (default: every protocol)")
    add_wide_option(listing)
    show = verbs.add_parser("show", help="one model: its file, hash, record and how to load it")
    show.add_argument("method")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--protocol", default=None, help="a page slug (default: the headline)")
    show.add_argument("--row", default=None,
                      help="the row label where a method has several, e.g. 'erm (epochs=20)'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.zoo import find, read_manifest, verified_path
    if args.verb == "list":
        entries = [e for e in read_manifest() if args.protocol in (None, e.protocol)]
        rows: dict[tuple, list] = defaultdict(list)
        for e in entries:
            rows[(e.protocol, e.row, e.supervision)].append(e)
        table = new_table(f"zoo: {len(entries)} models, "
                          f"{sum(e.bytes for e in entries) / 1e6:.2f} MB",
                          ("protocol", "row", "supervision", "seeds", "acc_conflicting %",
                           "KB"), folding=("protocol",))
        for (protocol, row, supervision), es in sorted(rows.items()):
            accs = [e.acc_conflicting for e in es if e.acc_conflicting is not None]
            mean = f"{100 * sum(accs) / len(accs):.2f}" if accs else "—"
            table.add_row(protocol, row, supervision, ",".join(str(e.seed) for e in es), mean,
                          f"{sum(e.bytes for e in es) / 1e3:.0f}")
        print_table(table, args.wide)
        return 0
    entry = find(args.method, args.seed, args.protocol, row=args.row)
    path = verified_path(entry)
    console = Console(soft_wrap=True)
    for name, value in (("file", path), ("sha256", f"{entry.sha256} (verified)"),
                        ("record", entry.key), ("protocol", entry.protocol), ("row", entry.row),
                        ("seed", entry.seed), ("supervision", entry.supervision),
                        ("backbone", entry.backbone),
                        ("acc_conflicting", entry.acc_conflicting)):
        console.print(f"{name}: {value}", markup=False)
    row = f", row={entry.row!r}" if entry.row != entry.method else ""
    console.print(f"load: from bench.zoo import load_model; model, record = load_model("
                  f"{entry.method!r}, seed={entry.seed}, protocol={entry.protocol!r}{row})",
                  markup=False)
    return 0
