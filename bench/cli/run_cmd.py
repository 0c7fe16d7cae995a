"""``bench run``: train and evaluate one method over several seeds, store every seed."""
from __future__ import annotations

import argparse
import warnings

from rich.console import Console
from rich.table import Table

from bench.cli.options import add_data_options, check_ratio, data_spec, positive_int
from bench.cli.progress import RichProgress, make_bar
from bench.datasets.digits import resolve_source
from bench.harness import RunEnvironment, execute, make_spec, resolve_device
from bench.hooks import HookOptions, after_fit_hooks, spec_extras
from bench.hparams import parse_overrides
from bench.registry import BACKBONES, DATASETS, METHODS
from bench.store import Store
from bench.summary import HEADLINE_METRICS, summary_rows
from bench.weights import weights_dir_for


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="train and evaluate a method over seeds")
    p.add_argument("--method", required=True, help="registered method (see bench list)")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds (0..n-1)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="shorthand for --set epochs=N")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a hyperparameter (repeatable)")
    p.add_argument("--force", action="store_true", help="rerun seeds already stored")
    p.add_argument("--no-keep-weights", dest="keep_weights", action="store_false",
                   help="do not keep the selected model's weights (bench explain needs them)")
    p.add_argument("--diagnostics", default="all", metavar="all|none|pgd,llc,color,gradcam",
                   help="diagnostics to run after each fit (default all; see docs/diagnostics.md)")
    add_data_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    method_cls = METHODS.get(args.method)
    DATASETS.get(args.dataset)
    BACKBONES.get(args.backbone)
    check_ratio(args.conflict_ratio)
    pairs = list(args.overrides)
    if args.epochs is not None:
        pairs.append(f"epochs={args.epochs}")
    overrides = parse_overrides(method_cls.Hparams, pairs)
    device = resolve_device(args.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = resolve_source(args.source, args.data_root, args.allow_unofficial_data)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    spec = make_spec(args.method, overrides, data_spec(args, source), args.dataset, args.backbone,
                     extras=spec_extras(HookOptions(diagnostics=args.diagnostics)))
    store = Store(args.store)
    store.check_writable()
    hook_options = HookOptions(diagnostics=args.diagnostics, keep_weights=args.keep_weights,
                               weights_dir=weights_dir_for(store.path))
    env = RunEnvironment(device, args.data_root, after_fit=after_fit_hooks(hook_options))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    console.print(f"[bold]{args.method}[/] on {args.dataset} ({source}, r={args.conflict_ratio}, "
                  f"{args.mode}) · device {device} · spec {spec.hash()} · store {store.path}")
    failed = 0
    with make_bar(console) as bar:
        seeds_task = bar.add_task("seeds", total=len(seeds))
        for seed in seeds:
            status = store.status(spec.key(seed))
            if status == "completed" and not args.force:
                console.print(f"seed {seed}: already stored, skipped (use --force to rerun)")
                bar.advance(seeds_task)
                continue
            progress = RichProgress(bar, f"seed {seed}")
            env.progress = progress
            record = execute(spec, seed, env)
            progress.finish()
            store.put(record, replace=True)
            if record.status == "failed":
                failed += 1
                console.print(f"[red]seed {seed} failed:[/] {record.error}")
            else:
                m = record.metrics
                console.print(f"seed {seed}: aligned {m['acc_aligned']:.3f} · conflicting "
                              f"{m['acc_conflicting']:.3f} · train {m['seconds_train']:.1f}s")
            bar.advance(seeds_task)
    records = [r for r in store.records(method=args.method) if r.spec.hash() == spec.hash()
               and r.seed in seeds]
    print_summary(Console(width=max(Console().width, 180)), records)
    store.close()
    return 1 if failed else 0


def print_summary(console: Console, records) -> None:
    table = Table(title="mean ± std (n seeds)")
    columns = ("method", "source", "r", *HEADLINE_METRICS)
    for col in columns:
        table.add_column(col)
    for row in summary_rows(records):
        table.add_row(*(row[c] for c in columns))
    console.print(table)
