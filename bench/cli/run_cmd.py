"""``bench run``: train and evaluate one method over several seeds, store every seed.

A plan of one method and one configuration, executed by the same engine as ``bench sweep``
(:func:`bench.runs.executor.execute_plan`); this module only turns its flags into that plan."""
from __future__ import annotations

import argparse

from bench.cli.options import add_data_options, add_parallel_options, add_selection_option, \
    positive_int
from bench.cli.tables import add_wide_option
from bench.errors import ConfigError


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
    from bench.cli.plan_view import PlanView
    from bench.runs.executor import Execution, execute_plan
    from bench.runs.launchers import configured
    grid = grid_of(args)
    execution = Execution(configured("local", args), "local", args.store, args.workers,
                          args.train_step, args.keep_weights, args.allow_unofficial_data,
                          force=args.force)
    return execute_plan(grid, execution, PlanView("run", "seeds", set(), args.wide))


def grid_of(args: argparse.Namespace):
    """The one-method grid this command stands for. ``--set`` takes one value per key (commas
    included), and ``--epochs`` with ``--set`` of the same field says two things: an error."""
    from bench.protocols import preset
    from bench.registry import METHODS
    from bench.runs.grid import SweepGrid, single_value_sets
    sets = single_value_sets(args.overrides)
    if args.epochs is not None:
        field = METHODS.get(args.method).epochs_field
        if field in dict(sets):
            raise ConfigError(f"--epochs {args.epochs} and --set {field}=...: give one of them")
    ratio = args.conflict_ratio
    if ratio is None:
        ratio = preset(args.protocol).default_ratio     # bench run's, not the sweep's list
    return SweepGrid(methods=(args.method,), seeds=args.seeds, first_seed=args.first_seed,
                     conflict_ratios=(ratio,), sets=sets, source=args.source,
                     data_root=None if args.data_root is None else str(args.data_root),
                     dataset=args.dataset, mode=args.mode, jitter=args.jitter,
                     backbone=args.backbone, device=args.device, diagnostics=args.diagnostics,
                     diagnostic_settings=tuple(args.diagnostic_settings),
                     protocol=args.protocol, epochs=args.epochs, selection=args.selection)
