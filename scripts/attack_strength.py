"""Attack-strength check for ε-to-flip (see bench/studies/pgd_strength.py).

Either trains the methods as ``bench run`` does (same harness and spec, default
hyperparameters, no diagnostics, nothing stored), or, with ``--store``, loads the models that
``bench run`` kept for the methods' default rows at that seed (no training at all):

    OMP_NUM_THREADS=1 python scripts/attack_strength.py --methods erm,jtt --seed 0 \
        --source mnist --data-root ../shared/data --images 200
    python scripts/attack_strength.py --methods erm,jtt --store runs/results.sqlite

Prints, per split and population (all sampled images / correctly classified ones), the median
ε of every attack, the median per-image ratio to the default attack, and whether the order of
the models by median ε is the default attack's.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
from tabulate import tabulate

from bench.data import prepare_splits
from bench.data import new_data_spec
from bench.datasets.interface import DataSpec
from bench.diagnostics.pgd import PGDSettings
from bench.studies.pgd_strength import (attacks, measure, ranking_holds, sampled_images,
                                            summary_rows)
from bench.errors import BenchError, one_line
from bench.harness import RunEnvironment, execute, make_spec
from bench.registry import RegistryError
from bench.studies.kept_models import stored_model


def trained_model(method: str, data: DataSpec, seed: int, data_root: Path | None,
                  log) -> torch.nn.Module:
    spec = make_spec(method, {}, data)
    kept = {}

    def keep(model, splits, ctx, record):
        kept["model"] = model
        return {}
    env = RunEnvironment(torch.device("cpu"), data_root, after_fit=[keep])
    record = execute(spec, seed, env)
    if record.status != "completed":
        raise BenchError(f"{method} seed {seed} failed ({record.error}); nothing measured")
    log(f"{method} seed {seed}: acc_conflicting {record.metrics['acc_conflicting']:.4f}")
    return kept["model"]


def main(argv: list[str] | None = None) -> None:
    """Bad input (unknown method, missing data or weights) exits 2 with one line."""
    try:
        _main(argv)
    except (BenchError, RegistryError) as exc:
        sys.stderr.write(f"attack_strength: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="erm,jtt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--store", type=Path, help="load kept weights instead of training")
    parser.add_argument("--images", type=int, default=PGDSettings().sample_per_split,
                        help="sampled test images per split (the diagnostic's sample)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=5)
    args = parser.parse_args(argv)
    data = new_data_spec(source=args.source, conflict_ratio=args.conflict_ratio)
    splits = prepare_splits(dataclasses.replace(data, seed=args.seed),
                            "colored", args.data_root)
    chosen = attacks(PGDSettings(), args.steps, args.restarts)
    log = lambda line: print(line, file=sys.stderr, flush=True)   # noqa: E731
    results = {}
    for method in args.methods.split(","):
        model = (stored_model(method, data, args.seed, args.store) if args.store
                 else trained_model(method, data, args.seed, args.data_root, log))
        results[method] = {}
        for split in PGDSettings().splits:
            images, digits = sampled_images(splits.tests[split], args.images, 0,
                                            torch.device("cpu"))
            results[method][split] = measure(model, images, digits, chosen)
            log(f"{method} {split}: measured")
    rows = summary_rows(results, chosen)
    print(tabulate(rows, headers="keys", floatfmt=".3f"))
    print()
    print(tabulate(ranking_holds(rows, chosen[0].name), headers="keys"))


if __name__ == "__main__":
    main()
