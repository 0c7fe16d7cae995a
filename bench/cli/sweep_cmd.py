"""``bench sweep``: run a grid of methods x seeds x conflict ratios x hyperparameters,
skipping runs already stored, with any registered launcher (a local process pool, Ray, SLURM).
This module only turns flags (or a grid file) into the grid; the engine that executes it is
:func:`bench.runs.executor.execute_plan`, the same as ``bench run``'s."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bench.cli.options import add_data_options, add_parallel_options, add_selection_option, \
    positive_int
from bench.cli.tables import add_wide_option
from bench.errors import ConfigError
from bench.runs.grid import SweepGrid, load_grid_file, parse_set_flags, split_values
from bench.runs.launchers import add_launcher_options

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
    add_selection_option(p)
    add_parallel_options(p, "runs")
    add_wide_option(p)
    add_launcher_options(p)
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
    from bench.cli.plan_view import PlanView
    from bench.runs.executor import Execution, execute_plan
    from bench.runs.launchers import configured
    grid = grid_from_args(args)
    execution = Execution(configured(args.launcher, args), args.launcher, args.store,
                          args.workers, args.train_step, args.keep_weights,
                          args.allow_unofficial_data, dry_run=args.dry_run)
    view = PlanView("sweep", "runs", {key for key, _ in grid.sets}, args.wide)
    return execute_plan(grid, execution, view)
