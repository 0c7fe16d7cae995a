"""``bench leaderboard``: markdown pages and figures from stored and committed run records."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.leaderboard import code_versions, gradcam_figure, pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.protocol import protocol_of
from bench.errors import ConfigError
from bench.leaderboard.readme_block import check_readme, update_readme
from bench.leaderboard.sources import (RECORDS_DIR, conflicts, describe_conflict, export,
                                       failures, load_failures, merge, read_records_dir,
                                       read_store)
from bench.store import default_store_path
from bench.weights import legacy_weights_dir_for, weights_dir_for

# Pages for the user's own store go to a folder of theirs; the committed pages under
# leaderboards/ change only when asked (--out leaderboards).
DEFAULT_OUT = Path("runs") / "leaderboard"
COMMITTED_OUT = Path("leaderboards")
SHOWN_CONFLICTS = 5


def add_parser(sub) -> None:
    p = sub.add_parser("leaderboard", help="write leaderboard pages and figures from run records")
    p.add_argument("--store", type=Path, default=None,
                   help="results database to read (default: $BENCH_STORE or runs/results.sqlite, "
                        "when it exists)")
    p.add_argument("--no-store", action="store_true",
                   help="read only the record files (what the committed pages are built from)")
    p.add_argument("--records", type=Path, default=None,
                   help=f"folder of exported *.jsonl records (default: {RECORDS_DIR}; a "
                        f"folder given here must exist)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"where pages and figures go (default: {DEFAULT_OUT}; the committed "
                        f"pages: --out {COMMITTED_OUT})")
    p.add_argument("--no-figures", action="store_true",
                   help="write only the markdown (existing figures are left as they are)")
    p.add_argument("--weights", type=Path, default=None,
                   help="kept weights for the Grad-CAM figures (default: the store's own "
                        "<name>.weights folder beside it, then the older shared weights/ "
                        "folder, when a store is read)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder holding MNIST/raw, for Grad-CAM figures of full-MNIST runs "
                        "(default: $BENCH_DATA_ROOT, else the MNIST shipped with the suite)")
    p.add_argument("--readme", type=Path, default=None,
                   help="also write the headline table into this file's "
                        "'<!-- leaderboard:start/end -->' block (e.g. README.md); a table "
                        "there is never replaced by an empty one unless asked")
    p.add_argument("--allow-empty-headline", action="store_true",
                   help="let --readme replace the headline table with 'no runs' when no "
                        "record of the main protocol is read")
    p.add_argument("--export", action="store_true",
                   help="first add the store's completed records to <records>/<protocol>.jsonl")
    p.add_argument("--replace-committed", action="store_true",
                   help="where the store and a committed record share a run key, use (and "
                        "with --export write) the store's; by default the committed one is "
                        "kept and the conflict reported")
    p.add_argument("--selection", default=None, metavar="RULE",
                   help="show every run as if RULE had chosen its model (each record keeps "
                        "every rule's pick; bench list shows the rules); default: each run's "
                        "primary rule")
    p.set_defaults(func=run)


def regenerate_command(args: argparse.Namespace) -> str:
    """The command stated on every page: from the committed record files alone."""
    selection = f" --selection {args.selection}" if args.selection else ""
    return (f"bench leaderboard --no-store --records {args.records.as_posix()} "
            f"--out {args.out.as_posix()}{selection}")


def _store_path(args: argparse.Namespace) -> Path | None:
    if args.no_store:
        return None
    if args.store is not None:
        return args.store
    default = default_store_path()
    return default if default.exists() else None


def committed_llcs(records_dir: Path) -> dict | None:
    """The re-measured LLCs committed beside the records, if any (pages show them instead of
    the stored ones; bench.diagnostics.llc_remeasured)."""
    from bench.diagnostics.llc_remeasured import REMEASURED_FILE, read_remeasured
    path = records_dir / REMEASURED_FILE
    return read_remeasured(path) if path.is_file() else None


def zoo_of(args: argparse.Namespace) -> Path:
    """The zoo beside the records folder (leaderboards/records -> leaderboards/models)."""
    return args.records.parent / "models"


def draw_gradcam_figures(args: argparse.Namespace, store_path: Path | None,
                         records: list) -> None:
    """Before the pages: a page links its Grad-CAM figure only when the file exists. Weights
    come from --weights, else the store's folder, else the committed zoo."""
    if args.weights is not None:
        source = gradcam_figure.WeightSource(args.weights, args.data_root)
    elif store_path is not None:
        source = gradcam_figure.WeightSource(weights_dir_for(store_path), args.data_root,
                                             legacy_dir=legacy_weights_dir_for(store_path))
    elif (zoo_of(args) / "manifest.json").is_file():
        from bench.zoo import ZooWeights
        source = ZooWeights(zoo_of(args), args.data_root)
    else:
        return
    drawn, notes = gradcam_figure.draw_figures(records, MethodCatalog.from_registry(),
                                               args.out, source)
    for note in notes:
        sys.stderr.write(f"note: {note}\n")
    for path in drawn:
        print(f"drew {path}")


def export_zoo(args: argparse.Namespace, store_path: Path, committed: list) -> None:
    """Copies the exported records' kept weights into the zoo and regenerates its manifest."""
    from bench.zoo_export import copy_weights, write_manifest
    from bench.weights import kept_weights_path
    zoo = zoo_of(args)
    copied, missing = copy_weights(committed, lambda key: kept_weights_path(store_path, key), zoo)
    for path in copied:
        print(f"kept {path}")
    stored = {r.key for r in read_store(store_path)}
    lost = [key for key in missing if key in stored]
    if lost:
        sys.stderr.write(f"note: {len(lost)} exported record(s) kept no weights in "
                         f"{weights_dir_for(store_path)} (their pages say 'weights: not kept'): "
                         f"{', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}\n")
    print(f"wrote {write_manifest(committed, MethodCatalog.from_registry(), zoo)}")


def report_conflicts(pairs: list, replaced: bool) -> None:
    if not pairs:
        return
    kept = "used yours (--replace-committed)" if replaced else \
        "kept the committed ones; pass --replace-committed to use yours"
    sys.stderr.write(f"note: {len(pairs)} stored run(s) differ from the committed record of the "
                     f"same run key; {kept}\n")
    for committed, local in pairs[:SHOWN_CONFLICTS]:
        sys.stderr.write(f"  conflict: {describe_conflict(committed, local)}\n")
    if len(pairs) > SHOWN_CONFLICTS:
        sys.stderr.write(f"  ... and {len(pairs) - SHOWN_CONFLICTS} more\n")


def run(args: argparse.Namespace) -> int:
    if args.records is None:
        args.records = RECORDS_DIR
    elif not args.records.is_dir() and not args.export:   # a typo would read no records
        raise ConfigError(f"--records {args.records}: no such folder (the committed records "
                          f"are in {RECORDS_DIR})")
    from bench import zoo_export
    if args.selection is not None:
        from bench.leaderboard.selection_view import check_view_rule
        check_view_rule(args.selection)
        if args.readme or args.out == COMMITTED_OUT:
            sys.stderr.write("bench leaderboard: --selection writes pages of another rule; "
                             "give them their own --out, never the committed leaderboards/ "
                             "or the README\n")
            return 2
    store_path = _store_path(args)
    stored = read_store(store_path) if store_path is not None else []
    committed = read_records_dir(args.records)
    report_conflicts(conflicts(committed, stored), args.replace_committed)
    if args.readme:     # before anything is written (an export adds no run the check misses)
        check_readme(args.readme, merge(committed, stored) + failures(committed, stored),
                     args.allow_empty_headline)
    if args.export:
        if store_path is None:
            sys.stderr.write("bench leaderboard: --export needs a results store (--store PATH)\n")
            return 2
        written = export(stored, args.records, lambda r: protocol_of(r).slug,
                         store_wins=args.replace_committed)
        for path in written:
            print(f"exported {path}")
        committed = read_records_dir(args.records)
        versions = code_versions.update(committed, args.records)
        if versions is not None:
            print(f"updated {versions}")
        export_zoo(args, store_path, committed)
    records = merge(committed, stored, store_wins=args.replace_committed)
    in_files = {r.key for r in committed}
    store_only = [r for r in records if r.key not in in_files]
    if store_only:
        sys.stderr.write(f"note: {len(store_only)} record(s) come from the store only, so the "
                         f"pages cannot be regenerated from {args.records} alone; add "
                         f"--export to commit them\n")
    failed = load_failures(store_path, args.records)   # counted in the rows, not shown
    if not args.no_figures:
        draw_gradcam_figures(args, store_path, records)
    rendered, planned = pages.render(records + failed, MethodCatalog.from_registry(),
                                     regenerate_command(args), figures_in=args.out,
                                     selection=args.selection,
                                     code_versions=code_versions.load(args.records),
                                     zoo_keys=zoo_export.kept_keys(zoo_of(args)),
                                     llc_remeasured=committed_llcs(args.records))
    written = pages.write(args.out, rendered, planned, draw_figures=not args.no_figures)
    catalog = MethodCatalog.from_registry()
    if args.readme and update_readme(args.readme, records + failed, catalog,
                                     args.out.as_posix()):
        print(f"updated the headline table in {args.readme}")
    print(f"{len(records)} completed runs, {len(rendered) - 1} protocol page(s): "
          f"wrote {len(written)} file(s) under {args.out}")
    return 0
