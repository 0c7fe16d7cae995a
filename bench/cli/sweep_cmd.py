"""``bench sweep``: run a grid of methods x seeds x conflict ratios x hyperparameters,
skipping runs already stored, on a local process pool or a Ray cluster."""
from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench.cli.options import add_data_options, add_parallel_options, add_selection_option, \
    check_jitter, data_warnings, positive_int
from bench.cli.progress import RunBoard, message_console, result_summary
from bench.cli.tables import add_wide_option, new_table, print_table
from bench.datasets.digits import resolve_source
from bench.errors import ConfigError
from bench.harness import resolve_device
from bench.interrupts import describe, exit_code
from bench.registry import BACKBONES, DATASETS, METHODS
from bench.store import Store, default_store_path
from bench.summary import summary_metrics, summary_rows
from bench.runs.grid import SweepGrid, expand, load_grid_file, parse_set_flags, split_values
from bench.runs.plan import Estimator, describe_overrides, estimate_total, format_seconds, plan
from bench.runs.worker import WorkerSettings, default_workers, threads_per_worker
from bench.training import check_train_step

# grid fields that data options fill; their parser defaults are None so that "given on the
# command line" can be told apart from "left at the default" (flags override a grid file)
DATA_FLAGS = ("source", "dataset", "mode", "jitter", "backbone", "device", "protocol")


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of methods, seeds, ratios and hyperparameters")
    p.add_argument("grid", nargs="?", type=Path, help="a TOML grid file (see docs/sweep.md)")
    p.add_argument("--methods", help="comma list of registered methods, e.g. erm,jtt")
    p.add_argument("--seeds", type=positive_int, help="number of seeds (default 1)")
    p.add_argument("--first-seed", type=int, help="first seed (default 0)")
    p.add_argument("--conflict-ratios", metavar="R,R,...", help="comma list, e.g. 0.01,0.05 "
                   "(default: the protocol's; seed: 0.05)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=V[,V...]", help="hyperparameter values to sweep (repeatable); "
                   "applies to every method that has KEY")
    p.add_argument("--diagnostics", help="all, none or a comma list (default: the protocol's; "
                   "seed: all)")
    p.add_argument("--diagnostic", dest="diagnostic_settings", action="append", default=[],
                   metavar="NAME.KEY=VALUE", help="change a diagnostic's setting, e.g. "
                   "pgd.steps=100 (repeatable; part of every run's spec)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="each method's main training length (epochs, or erm_epochs for dfr)")
    p.add_argument("--no-keep-weights", dest="keep_weights", action="store_false",
                   help="do not keep the selected models' weights (bench explain needs them)")
    p.add_argument("--launcher", choices=("local", "ray", "slurm"), default="local")
    add_selection_option(p)
    add_parallel_options(p, "runs")
    add_wide_option(p)
    p.add_argument("--ray-address", default=None,
                   help="an existing Ray cluster (auto or host:port); default: a local instance")
    p.add_argument("--gpus-per-run", type=float, default=None,
                   help="GPUs each run reserves when the device is cuda: Ray (default 1, "
                        "fractions pack runs) or SLURM (a whole number, default 1)")
    slurm = p.add_argument_group("--launcher slurm (through submitit; see docs/sweep.md)")
    slurm.add_argument("--partition", default=None, help="SLURM partition (default: the "
                       "cluster's default)")
    slurm.add_argument("--time-min", type=positive_int, default=60,
                       help="time limit of each run in minutes (default 60)")
    slurm.add_argument("--cpus-per-run", type=positive_int, default=None,
                       help="CPUs (= torch threads) of each run (default 1)")
    slurm.add_argument("--mem-gb", type=float, default=4.0, help="memory per run (default 4)")
    slurm.add_argument("--max-parallel", type=positive_int, default=64,
                       help="array tasks running at once (default 64)")
    slurm.add_argument("--slurm-folder", type=Path, default=None,
                       help="logs and records of the array, on a file system the nodes share "
                            "(default: slurm/ next to the results store)")
    slurm.add_argument("--slurm-local", action="store_true",
                       help="run the array on this machine with submitit's local executor "
                            "(try the cluster path without SLURM)")
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
    if args.diagnostic_settings:
        given["diagnostic_settings"] = tuple(args.diagnostic_settings)
    if args.epochs is not None:
        given["epochs"] = args.epochs
    if args.selection is not None:
        given["selection"] = args.selection
    sets = parse_set_flags(args.overrides)
    if args.grid is not None:
        grid = load_grid_file(args.grid, {k: v for k, v in given.items()})
        merged = {**dict(grid.sets), **dict(sets)}       # --set wins over the file's [set]
        return dataclasses.replace(grid, sets=tuple(merged.items()))
    if "methods" not in given:
        raise ConfigError("name the methods (--methods erm,jtt) or give a grid file")
    return SweepGrid(**given, sets=sets)


def sweep(args: argparse.Namespace) -> int:
    console = message_console()
    check_train_step(args.train_step)
    grid = grid_from_args(args).settled()
    for method in grid.methods:
        METHODS.get(method)
    DATASETS.get(grid.dataset)
    BACKBONES.get(grid.backbone)
    check_jitter(grid.jitter)
    for warning in data_warnings(grid.conflict_ratios, grid.mode, grid.jitter):
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    data_root = Path(grid.data_root) if grid.data_root else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = resolve_source(grid.source, data_root, args.allow_unofficial_data)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    jobs = expand(grid, source)
    # a dry run only reads: it never creates the store
    store = Store(args.store, readonly=args.dry_run, missing_ok=args.dry_run)
    todo = plan(jobs, store.completed_keys()).todo
    # On Ray or SLURM the runs' nodes, not this one, have (or lack) the GPU; --slurm-local runs
    # them here, so the device resolves here
    remote_launcher = args.launcher == "ray" or (args.launcher == "slurm" and not args.slurm_local)
    device = grid.device if remote_launcher and grid.device in ("auto", "cuda") else \
        str(resolve_device(grid.device))
    workers = min(args.workers or default_workers(device, len(todo)), max(1, len(todo)))
    slurm = slurm_options(args, device) if args.launcher == "slurm" else None
    varied = {key for key, _ in grid.sets}
    console.print(f"sweep: {len(jobs)} runs in the grid, {len(jobs) - len(todo)} already "
                  f"stored, {len(todo)} to run · launcher {args.launcher} · store {store.path}")
    if args.dry_run:
        print_plan(store, todo, varied, workers, args.wide)
        return 0
    if not todo:
        print_summary(store, jobs, varied, args.wide)
        return 0
    store.check_writable()
    store.check_rows()                 # before any training is paid for
    remote = args.launcher == "ray" and args.ray_address is not None
    if remote and args.keep_weights:
        console.print("note: weights are not kept on a remote Ray cluster (they would land "
                      "on the workers' disks)")
    from bench.weights import weights_dir_for
    hooks = grid.hook_options(keep_weights=args.keep_weights and not remote,
                              weights_dir=weights_dir_for(store.path.resolve()))
    threads = args.cpus_per_run or 1 if args.launcher == "slurm" else \
        threads_per_worker(workers)
    settings = WorkerSettings(device, hooks, data_root, threads=threads,
                              train_step=args.train_step)
    failed = 0
    start = time.perf_counter()
    by_key = {job.key: job for job in todo}
    board = RunBoard(console, len(todo), "runs")

    def on_record(record) -> None:
        nonlocal failed
        store.put(record)              # one transaction; a completed row is never replaced
        what = " ".join(f"{record.spec.method} r={record.spec.data['conflict_ratio']} "
                        f"{describe_overrides(by_key[record.key], varied)} "
                        f"seed {record.seed}".split())
        if record.status == "failed":
            failed += 1
            board.finished(f"[red]failed[/] {escape(what)}: {escape(record.error or '')}")
        else:
            board.finished(f"{escape(what)}: {result_summary(record.metrics)}")

    def progress_for(job):
        return board.progress_for(f"{job.spec.method} r={job.spec.data['conflict_ratio']} "
                                  f"seed {job.seed}")

    try:
        with board:
            launch(args, todo, settings, workers, on_record, progress_for, slurm)
    except KeyboardInterrupt as exc:    # Ctrl-C or SIGTERM (bench.interrupts)
        console.print(f"sweep {describe(exc)}: {board.done} runs stored, "
                      f"{len(todo) - board.done} not run; run the same command again to "
                      f"finish them")
        store.close()
        return exit_code(exc)
    console.print(f"sweep finished in {format_seconds(time.perf_counter() - start)}: "
                  f"{len(todo) - failed} completed, {failed} failed")
    print_summary(store, jobs, varied, args.wide)
    store.close()
    return 1 if failed else 0


def launch(args, todo, settings: WorkerSettings, workers: int, on_record,
           progress_for=None, slurm=None) -> None:
    if args.launcher == "ray":
        from bench.runs.ray_launcher import run_ray
        run_ray(todo, settings, on_record, address=args.ray_address,
                gpus_per_run=1.0 if args.gpus_per_run is None else args.gpus_per_run)
    elif args.launcher == "slurm":
        from bench.runs.slurm_launcher import run_slurm
        run_slurm(todo, settings, on_record, slurm)
    else:
        from bench.runs.local import run_local
        run_local(todo, settings, workers, on_record, progress_for=progress_for)


def slurm_options(args, device: str):
    from bench.runs.slurm_launcher import SlurmOptions, check_slurm_available
    if not args.slurm_local:
        check_slurm_available()
    gpus = args.gpus_per_run
    if gpus is None:
        gpus = 1 if device in ("cuda", "auto") else 0
    if gpus != int(gpus) or gpus < 0:
        raise ConfigError(f"--gpus-per-run {gpus}: SLURM reserves whole GPUs (e.g. 1); pack "
                          f"runs on a GPU with --launcher ray instead")
    if device == "cuda" and gpus == 0:
        raise ConfigError("--device cuda with --gpus-per-run 0: each run needs a GPU")
    folder = args.slurm_folder or Path(args.store or default_store_path()).parent / "slurm"
    return SlurmOptions(folder=folder, partition=args.partition, time_min=args.time_min,
                        gpus_per_run=int(gpus), mem_gb=args.mem_gb,
                        max_parallel=args.max_parallel,
                        cluster="local" if args.slurm_local else "slurm")


def print_plan(store: Store, todo, varied: set[str], workers: int, wide: bool = False) -> None:
    estimator = Estimator(store.records(status="completed"))
    seconds = [estimator.seconds(job) for job in todo]
    table = new_table(f"{len(todo)} runs to execute",
                      ("method", "r", "seed", "hyperparameters", "key", "estimate"),
                      folding=("hyperparameters",))
    for job, secs in zip(todo, seconds):
        table.add_row(job.spec.method, str(job.spec.data["conflict_ratio"]), str(job.seed),
                      describe_overrides(job, varied), job.key,
                      format_seconds(secs) if secs is not None else "no estimate")
    print_table(table, wide)
    total = estimate_total(seconds, workers)
    Console(soft_wrap=True).print(f"estimate with {workers} parallel runs: {total.describe()}")


def print_summary(store: Store, jobs, varied: set[str], wide: bool = False) -> None:
    keys = {job.key for job in jobs}
    by_hash = {job.spec.hash(): job for job in jobs}
    records = [r for r in store.records() if r.key in keys]
    metrics = summary_metrics(records, wide)
    rows = summary_rows(records, metrics)
    sources = ", ".join(sorted({row["source"] for row in rows})) or "no completed run"
    columns = ("method", "r", "hyperparameters", "n", *metrics)
    table = new_table(f"mean ± std over n seeds · {sources}", columns,
                      folding=("hyperparameters",))
    for row in rows:
        row["hyperparameters"] = describe_overrides(by_hash[row["spec"]], varied)
        table.add_row(*(row[c] for c in columns))
    print_table(table, wide)
