"""``bench run``: train and evaluate one method over several seeds, store every seed."""
from __future__ import annotations

import argparse
import dataclasses
import warnings

from rich.markup import escape

from bench.cli.options import add_data_options, add_parallel_options, add_selection_option, \
    check_jitter, check_ratio, data_spec, data_warnings, positive_int, settle_protocol
from bench.cli.progress import RunBoard, message_console, result_summary
from bench.cli.tables import add_wide_option, new_table, print_table
from bench.datasets.digits import resolve_source
from bench.errors import ConfigError
from bench.harness import make_spec, resolve_device
from bench.hooks import HookOptions, spec_extras
from bench.hparams import parse_overrides
from bench.registry import BACKBONES, DATASETS, METHODS
from bench.seeds import check_seeds
from bench.store import Store
from bench.summary import summary_metrics, summary_rows
from bench.runs.grid import Job
from bench.runs.local import run_local
from bench.runs.worker import WorkerSettings, default_workers, threads_per_worker
from bench.training import check_train_step
from bench.weights import weights_dir_for


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="train and evaluate a method over seeds")
    p.add_argument("--method", required=True, help="registered method (see bench list)")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds (0..n-1)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="the method's main training length: --set epochs=N for most "
                        "methods, erm_epochs=N for dfr (bench list shows which)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a hyperparameter (repeatable)")
    p.add_argument("--force", action="store_true", help="rerun seeds already stored")
    p.add_argument("--no-keep-weights", dest="keep_weights", action="store_false",
                   help="do not keep the selected model's weights (bench explain needs them)")
    p.add_argument("--diagnostics", default=None, metavar="all|none|pgd,llc,color,gradcam",
                   help="diagnostics to run after each fit (default: the protocol's; seed: all; "
                        "see docs/diagnostics.md)")
    p.add_argument("--diagnostic", dest="diagnostic_settings", action="append", default=[],
                   metavar="NAME.KEY=VALUE", help="change a diagnostic's setting, e.g. "
                   "pgd.steps=100 (repeatable; part of the run's spec)")
    add_selection_option(p)
    add_parallel_options(p, "seeds")
    add_wide_option(p)
    add_data_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = message_console()
    method_cls = METHODS.get(args.method)
    protocol = settle_protocol(args)
    DATASETS.get(args.dataset)
    BACKBONES.get(args.backbone)
    check_ratio(args.conflict_ratio)
    check_jitter(args.jitter)
    check_seeds(args.first_seed, args.seeds)
    for warning in data_warnings((args.conflict_ratio,), args.mode, args.jitter):
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    pairs = list(args.overrides)
    if args.epochs is not None:
        field = method_cls.epochs_field
        if any(pair.split("=", 1)[0].strip() == field for pair in pairs):
            raise ConfigError(f"--epochs {args.epochs} and --set {field}=...: give one of them")
        pairs.append(f"{field}={args.epochs}")
    # the protocol's settings for this method, then the user's (--set, --epochs) over them
    overrides = {**protocol.overrides_for(args.method),
                 **parse_overrides(method_cls.Hparams, pairs)}
    device = resolve_device(args.device)
    check_train_step(args.train_step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = resolve_source(args.source, args.data_root, args.allow_unofficial_data)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    hook_options = HookOptions(diagnostics=args.diagnostics,
                               diagnostic_settings=tuple(args.diagnostic_settings),
                               keep_weights=args.keep_weights)
    spec = make_spec(args.method, overrides, data_spec(args, source, protocol), args.dataset,
                     args.backbone, extras={**spec_extras(hook_options), **protocol.extras()},
                     selection=args.selection)
    store = Store(args.store)
    if store.ingested:
        console.print(f"added {len(store.ingested)} result(s) kept from an earlier failed write")
    store.check_writable()
    store.check_rows()                           # before any training is paid for
    hook_options = dataclasses.replace(hook_options, weights_dir=weights_dir_for(store.path))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    named = f"protocol {protocol.name} · " if protocol.named_in_records else ""
    console.print(f"[bold]{args.method}[/] · {named}{args.dataset} ({source}, "
                  f"r={args.conflict_ratio}, {args.mode}, {args.backbone}) · device {device} · "
                  f"spec {spec.hash()} · store {store.path}")
    todo = []
    for seed in seeds:
        if store.status(spec.key(seed)) == "completed" and not args.force:
            console.print(f"seed {seed}: already stored, skipped (use --force to rerun)")
        else:
            todo.append(Job(spec, seed, method_cls.__module__))
    workers = min(args.workers or default_workers(str(device), len(todo)), max(1, len(todo)))
    settings = WorkerSettings(str(device), hook_options, args.data_root,
                              threads=threads_per_worker(workers), train_step=args.train_step)
    if todo:
        console.print(f"{len(todo)} seeds to run · {workers} in parallel × {settings.threads} "
                      f"torch threads each · train step {settings.train_step}")
    failed = 0
    with RunBoard(console, len(todo), "seeds") as board:
        def on_record(record) -> None:
            nonlocal failed
            store.put(record, replace=True)          # one transaction per seed
            if record.status == "failed":
                failed += 1
                board.finished(f"[red]seed {record.seed} failed:[/] {escape(record.error or '')}")
            else:
                board.finished(f"seed {record.seed}: {result_summary(record.metrics)}")
                # printed, not counted: the seed was counted once above
                for name, error in record.diagnostic_errors.items():
                    board.print(f"[yellow]seed {record.seed}: {name} failed (the run is "
                                f"kept):[/] {escape(error)}")
                for name, note in record.diagnostic_notes.items():
                    board.print(f"seed {record.seed}: {name} {escape(note)}")

        run_local(todo, settings, workers, on_record, isolate=False, stop_on_input_error=True,
                  progress_for=lambda job: board.progress_for(f"seed {job.seed}"))
    records = [r for r in store.records(method=args.method) if r.spec.hash() == spec.hash()
               and r.seed in seeds]
    print_summary(records, args.wide)
    store.close()
    return 1 if failed else 0


def print_summary(records, wide: bool = False) -> None:
    """mean ± std over the n completed seeds; the main metrics within 100 columns, or every
    headline metric with ``wide``."""
    metrics = summary_metrics(records, wide)
    rows = summary_rows(records, metrics)
    sources = ", ".join(sorted({row["source"] for row in rows})) or "no completed seed"
    columns = ("method", "source", "r", "n", *metrics) if wide else ("method", "r", "n", *metrics)
    table = new_table(f"mean ± std over n seeds · {sources}", columns)
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    print_table(table, wide)
