"""Linear probes on kept models' pooled features, on validation data only (no test split is
built): how much of the class the features hold on bias-conflicting images, against the floor a
bias-only code scores, and how well they give the bias value away (bench/studies/feature_probes.py).

    python scripts/feature_probe.py --methods erm,group-balanced,untrained --seeds 5 \
        --store runs/results.sqlite --source mnist --data-root ../shared/data

``untrained`` is the backbone freshly initialised with torch seed = the seed (a random draw
of its own, not the harness's initialisation of that seed's run), never trained: what random
convolutions hold before any learning. Other names load the model ``bench run`` kept for the
method's default row at each seed (bench/studies/kept_models.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch
from tabulate import tabulate

from bench.backbones import build_backbone
from bench.data import prepare_splits
from bench.data import new_data_spec
from bench.datasets.interface import DataSpec
from bench.errors import BenchError, one_line
from bench.studies.feature_probes import probe_scores
from bench.group_inference import pooled_features
from bench.studies.kept_models import stored_model
from bench.leaderboard.stats import compare
from bench.metrics import mean_std
from bench.registry import RegistryError
from bench.supervision import to_float_images

UNTRAINED = "untrained"
COLUMNS = ("class_on_conflicting", "bias_only_floor", "bias_value")


def model_for(method: str, data: DataSpec, seed: int, store: Path | None,
              backbone: str) -> torch.nn.Module:
    if method == UNTRAINED:
        with torch.random.fork_rng(devices=[]):   # the caller's generator stays as it was
            torch.manual_seed(seed)
            return build_backbone(backbone)
    if store is None:
        raise BenchError(f"{method} needs --store (the results store bench run kept it in)")
    return stored_model(method, data, seed, store, backbone)


def rows_for(methods: list[str], seeds: list[int], data: DataSpec, store: Path | None,
             backbone: str, data_root: Path | None, log) -> list[dict]:
    rows = []
    for seed in seeds:
        # () test names: train and validation only, so nothing here can read a test split
        splits = prepare_splits(dataclasses.replace(data, seed=seed),
                                "colored", data_root, test_names=())
        val, info = splits.val, splits.info
        conflicting = info.conflicting(val.labels, val.bias).numpy()
        images = to_float_images(val.images, torch.device("cpu"))
        for method in methods:
            model = model_for(method, data, seed, store, backbone)
            with torch.no_grad():
                features = pooled_features(model, images).double().numpy()
            scores = probe_scores(features, val.labels.numpy(), val.bias.numpy(),
                                  conflicting, info.num_bias_values, seed)
            rows.append({"method": method, "seed": seed, **scores})
            log(f"{method} seed {seed}: " + ", ".join(f"{k} {scores[k]:.3f}" for k in COLUMNS))
    return rows


def summary(rows: list[dict], methods: list[str]) -> list[dict]:
    """Mean ± std per method, and against the untrained control (when probed) the paired
    difference in class_on_conflicting over shared seeds: does training add decodable class
    information beyond what random convolutions hold?"""
    control = {r["seed"]: r["class_on_conflicting"] for r in rows if r["method"] == UNTRAINED}
    out = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        line = {"method": method, "n": len(mine)}
        for column in COLUMNS:
            mean, std, _ = mean_std([r[column] for r in mine])
            line[column] = f"{mean:.3f} ± {std:.3f}"
        if control and method != UNTRAINED:
            versus = compare({r["seed"]: r["class_on_conflicting"] for r in mine}, control)
            line[f"vs {UNTRAINED} ({versus.test}, p)"] = f"{versus.mean_diff:+.3f} ({versus.p_value:.3f})"
        counts = [r["conflicting_images"] for r in mine]
        line["conflicting images"] = f"{min(counts)}–{max(counts)}" if counts else "0"
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> None:
    """Bad input (unknown method, missing data or weights) exits 2 with one line."""
    try:
        _main(argv)
    except (BenchError, RegistryError) as exc:
        sys.stderr.write(f"feature_probe: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=f"erm,group-balanced,{UNTRAINED}")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--backbone", default="baseline")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--store", type=Path, help="the results store that kept the models")
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    data = new_data_spec(source=args.source, conflict_ratio=args.conflict_ratio)
    log = lambda line: print(line, file=sys.stderr, flush=True)   # noqa: E731
    rows = rows_for(methods, seeds, data, args.store, args.backbone, args.data_root, log)
    print(tabulate(rows, headers="keys", floatfmt=".3f"))
    print()
    print(tabulate(summary(rows, methods), headers="keys"))


if __name__ == "__main__":
    main()
