"""``bench sweep``: run a grid of methods x seeds x conflict ratios x hyperparameters,
skipping runs already stored, on a local process pool or a Ray cluster."""
from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.cli.options import add_data_options, positive_int
from bench.cli.progress import make_bar
from bench.datasets.digits import resolve_source
from bench.errors import ConfigError
from bench.harness import resolve_device
from bench.registry import BACKBONES, DATASETS, METHODS
from bench.store import Store
from bench.summary import HEADLINE_METRICS, summary_rows
from bench.sweep.grid import SweepGrid, expand, load_grid_file, parse_set_flags, split_values
from bench.sweep.plan import Estimator, describe_overrides, estimate_total, format_seconds, plan
from bench.sweep.worker import WorkerSettings, threads_per_worker, usable_cores

# grid fields that data options fill; their parser defaults are None so that "given on the
# command line" can be told apart from "left at the default" (flags override a grid file)
DATA_FLAGS = ("source", "dataset", "mode", "jitter", "backbone", "device")


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of methods, seeds, ratios and hyperparameters")
    p.add_argument("grid", nargs="?", type=Path, help="a TOML grid file (see docs/sweep.md)")
    p.add_argument("--methods", help="comma list of registered methods, e.g. erm,jtt")
    p.add_argument("--seeds", type=positive_int, help="number of seeds (default 1)")
    p.add_argument("--first-seed", type=int, help="first seed (default 0)")
    p.add_argument("--conflict-ratios", metavar="R,R,...", help="comma list, e.g. 0.01,0.05")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=V[,V...]", help="hyperparameter values to sweep (repeatable); "
                   "applies to every method that has KEY")
    p.add_argument("--diagnostics", help="all (default), none or a comma list")
    p.add_argument("--no-keep-weights", dest="keep_weights", action="store_false",
                   help="do not keep the selected models' weights (bench explain needs them)")
    p.add_argument("--launcher", choices=("local", "ray"), default="local")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="parallel runs (default: the number of usable cores)")
    p.add_argument("--ray-address", default=None,
                   help="an existing Ray cluster (auto or host:port); default: a local instance")
    p.add_argument("--gpus-per-run", type=float, default=1.0,
                   help="GPUs each Ray task reserves when the device is cuda (default 1)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs that would execute and estimate their time")
    add_data_options(p)
    p.set_defaults(func=sweep, conflict_ratio=None, **{name: None for name in DATA_FLAGS})


def grid_from_args(args: argparse.Namespace) -> SweepGrid:
    given = {name: getattr(args, name) for name in DATA_FLAGS if getattr(args, name) is not None}
    if args.data_root is not None:
        given["data_root"] = str(args.data_root)
    if args.methods:
        given["methods"] = split_values(args.methods)
    if args.seeds is not None:
        given["seeds"] = args.seeds
    if args.first_seed is not None:
        given["first_seed"] = args.first_seed
    if args.conflict_ratios and args.conflict_ratio is not None:
        raise ConfigError("give --conflict-ratios or --conflict-ratio, not both")
    try:
        if args.conflict_ratios:
            given["conflict_ratios"] = tuple(float(v) for v in split_values(args.conflict_ratios))
        elif args.conflict_ratio is not None:
            given["conflict_ratios"] = (args.conflict_ratio,)
    except ValueError:
        raise ConfigError(f"--conflict-ratios {args.conflict_ratios}: expected numbers, e.g. "
                          f"0.01,0.05") from None
    if args.diagnostics is not None:
        given["diagnostics"] = args.diagnostics
    sets = parse_set_flags(args.overrides)
    if args.grid is not None:
        grid = load_grid_file(args.grid, {k: v for k, v in given.items()})
        merged = {**dict(grid.sets), **dict(sets)}       # --set wins over the file's [set]
        return dataclasses.replace(grid, sets=tuple(merged.items()))
    if "methods" not in given:
        raise ConfigError("name the methods (--methods erm,jtt) or give a grid file")
    return SweepGrid(**given, sets=sets)


def sweep(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    grid = grid_from_args(args)
    for method in grid.methods:
        METHODS.get(method)
    DATASETS.get(grid.dataset)
    BACKBONES.get(grid.backbone)
    data_root = Path(grid.data_root) if grid.data_root else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = resolve_source(grid.source, data_root, args.allow_unofficial_data)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    jobs = expand(grid, source)
    store = Store(args.store)
    todo = plan(jobs, store.completed_keys()).todo
    workers = args.workers or usable_cores()
    varied = {key for key, _ in grid.sets}
    console.print(f"sweep: {len(jobs)} runs in the grid, {len(jobs) - len(todo)} already "
                  f"stored, {len(todo)} to run · launcher {args.launcher} · store {store.path}")
    if args.dry_run:
        print_plan(store, todo, varied, workers)
        return 0
    if not todo:
        print_summary(store, jobs, varied)
        return 0
    store.check_writable()
    remote = args.launcher == "ray" and args.ray_address is not None
    if remote and args.keep_weights:
        console.print("note: weights are not kept on a remote Ray cluster (they would land "
                      "on the workers' disks)")
    from bench.weights import weights_dir_for
    hooks = grid.hook_options(keep_weights=args.keep_weights and not remote,
                              weights_dir=weights_dir_for(store.path))
    device = grid.device if args.launcher == "ray" and grid.device == "auto" else \
        str(resolve_device(grid.device))
    settings = WorkerSettings(device, hooks, data_root, threads=threads_per_worker(workers))
    failed = 0
    with make_bar(console) as bar:
        task = bar.add_task("runs", total=len(todo))

        def on_record(record) -> None:
            nonlocal failed
            store.put(record)              # one transaction; a completed row is never replaced
            if record.status == "failed":
                failed += 1
                bar.console.print(f"[red]failed[/] {record.spec.method} seed {record.seed} "
                                  f"r={record.spec.data['conflict_ratio']}: {record.error}")
            bar.update(task, advance=1, description=f"runs ({failed} failed)" if failed
                       else "runs")

        start = time.perf_counter()
        try:
            launch(args, todo, settings, workers, on_record)
        except KeyboardInterrupt:
            bar.stop()
            done = int(bar.tasks[0].completed)
            console.print(f"sweep interrupted: {done} runs stored, {len(todo) - done} not run; "
                          f"run the same command again to finish them")
            store.close()
            return 130
    console.print(f"sweep finished in {format_seconds(time.perf_counter() - start)}: "
                  f"{len(todo) - failed} completed, {failed} failed")
    print_summary(store, jobs, varied)
    store.close()
    return 1 if failed else 0


def launch(args, todo, settings: WorkerSettings, workers: int, on_record) -> None:
    if args.launcher == "ray":
        from bench.sweep.ray_launcher import run_ray
        run_ray(todo, settings, on_record, address=args.ray_address,
                gpus_per_run=args.gpus_per_run)
    else:
        from bench.sweep.local import run_local
        run_local(todo, settings, workers, on_record)


def print_plan(store: Store, todo, varied: set[str], workers: int) -> None:
    estimator = Estimator(store.records(status="completed"))
    seconds = [estimator.seconds(job) for job in todo]
    table = Table(title=f"{len(todo)} runs to execute")
    for col in ("method", "r", "seed", "hyperparameters", "key", "estimate"):
        table.add_column(col)
    for job, secs in zip(todo, seconds):
        table.add_row(job.spec.method, str(job.spec.data["conflict_ratio"]), str(job.seed),
                      describe_overrides(job, varied), job.key,
                      format_seconds(secs) if secs is not None else "no estimate")
    out = Console(width=max(Console().width, 120))
    out.print(table)
    total = estimate_total(seconds, workers)
    out.print(f"estimate with {workers} parallel runs: {total.describe()}")


def print_summary(store: Store, jobs, varied: set[str]) -> None:
    keys = {job.key for job in jobs}
    by_hash = {job.spec.hash(): job for job in jobs}
    records = [r for r in store.records() if r.key in keys]
    table = Table(title="mean ± std (n seeds)")
    columns = ("method", "r", "hyperparameters", *HEADLINE_METRICS)
    for col in columns:
        table.add_column(col)
    for row in summary_rows(records):
        row["hyperparameters"] = describe_overrides(by_hash[row["spec"]], varied)
        table.add_row(*(row[c] for c in columns))
    Console(width=max(Console().width, 180)).print(table)
