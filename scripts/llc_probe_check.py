"""Does llc-guard's cheap LLC probe track the full estimate? Measured on the zoo's models.

`llc-guard` (methods/llc_guard.py) decides every epoch from a probe: the diagnostic's
estimator on a fixed 1,024-image training subset with 2 short chains (120 SGLD steps), where
the full estimate (the pages' LLC) takes 4,096 images and 2 × (50 + 100) steps. Issue 27 lets
the guard use a cheap estimate only if it tracks the full one. This script takes every zoo
model of the protocol with a full estimate in the committed re-measured file, measures the
probe on it with several probe seeds (a seed picks both the subset and the chains' noise),
and reports, across models, how the probe (seed 0, the guard's own) correlates with the full
estimate and how its seed-to-seed spread compares with the spread between models. Training
data only; no retraining; nothing is written but the CSV asked for.

    python scripts/llc_probe_check.py --zoo leaderboards/models --data-root ../shared/data \\
        --csv out/probe-check.csv
    python scripts/llc_probe_check.py --from-csv out/probe-check.csv    # the summary again

A model whose full estimate is negative (no estimate: the pages show ``<0``) is kept in the
CSV and left out of the comparison.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

from bench.diagnostics import NotApplicable, method_class
from bench.diagnostics.llc import estimate_llc, images_as_fitted
from bench.diagnostics.llc_remeasured import read_remeasured
from bench.diagnostics.llc_sources import find_zoo_runs, subset_of, training_split
from bench.errors import BenchError, one_line
from bench.methods.llc_guard import LLCGuardHparams


def probe_at(seed: int):
    """The guard's probe settings with another seed (the guard itself uses seed 0)."""
    return dataclasses.replace(LLCGuardHparams().probe(), seed=seed)


def measure(zoo: Path, full: dict[str, dict], data_root: Path | None, probe_seeds: list[int],
            ratio: float, source: str, backbone: str, device: torch.device,
            log=print) -> list[dict]:
    rows = []
    for run in sorted(find_zoo_runs(zoo, conflict_ratio=ratio, source=source, backbone=backbone),
                      key=lambda r: (r.record.spec.method, r.record.key)):
        entry = full.get(run.record.key)
        method = method_class(run.record.spec.method)
        # nothing to compare with: no converged full estimate, or none defined (a method that
        # declared its LLC undefined after its estimates were committed keeps them on file)
        if entry is None or not entry.get("llc_converged") or method.llc_not_defined:
            continue
        probes = []
        model = run.model(device)
        train = training_split(run.record, data_root)   # built once; each seed samples from it
        for seed in probe_seeds:
            settings = probe_at(seed)
            images, labels = subset_of(train, settings, device)
            probes.append(estimate_llc(model, images_as_fitted(method, images), labels,
                                       settings, device)["llc"])
        row = {"method": run.record.spec.method, "seed": run.record.seed, "key": run.record.key,
               "full": entry["llc"], "full_mcse": entry["llc_mcse"]}
        row.update({f"probe_{s}": v for s, v in zip(probe_seeds, probes)})
        rows.append(row)
        log(f"{run.label}: full {entry['llc']:.2f}, probe "
            + " ".join(f"{v:.2f}" for v in probes))
    return rows


def comparable(rows: list[dict]) -> list[dict]:
    """Rows whose full estimate is an estimate: the pages show a negative LLC as ``<0`` (the
    weights are at no minimum of that loss), not as a number, so it is not compared here."""
    return [r for r in rows if r["full"] >= 0]


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return [{k: v if k in ("method", "key") else float(v) for k, v in row.items()}
                for row in csv.DictReader(f)]


def _ranks(values: np.ndarray) -> np.ndarray:
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for v in np.unique(values):          # ties share their mean rank
        ranks[values == v] = ranks[values == v].mean()
    return ranks


def tracking(rows: list[dict], probe_seeds: list[int]) -> dict[str, float]:
    """How the guard's probe (the first seed) follows the full estimate across models: Pearson
    and Spearman correlation, the probe's typical seed-to-seed std (root mean within-model
    variance) against the models' spread (std of the full estimates), and the mean difference
    probe − full."""
    if len(rows) < 3:
        raise BenchError(f"{len(rows)} models with a full estimate; need at least 3")
    full = np.array([r["full"] for r in rows])
    probe = np.array([r[f"probe_{probe_seeds[0]}"] for r in rows])
    within = ([statistics.variance([r[f"probe_{s}"] for s in probe_seeds]) for r in rows]
              if len(probe_seeds) > 1 else [float("nan")])
    return {"models": float(len(rows)),
            "pearson": float(np.corrcoef(probe, full)[0, 1]),
            "spearman": float(np.corrcoef(_ranks(probe), _ranks(full))[0, 1]),
            "probe_seed_std": float(np.sqrt(np.mean(within))),
            "full_between_std": float(full.std(ddof=1)),
            "mean_probe_minus_full": float((probe - full).mean())}


def table(rows: list[dict], probe_seeds: list[int]) -> str:
    """Markdown: per method, the full LLC and the guard's probe, mean ± std over seeds."""
    lines = ["| method | models | full LLC | probe (guard's seed) | probe std over probe seeds |",
             "|---|---|---|---|---|"]
    for method in dict.fromkeys(r["method"] for r in rows):
        part = [r for r in rows if r["method"] == method]
        full = [r["full"] for r in part]
        probe = [r[f"probe_{probe_seeds[0]}"] for r in part]
        spread = [statistics.stdev([r[f"probe_{s}"] for s in probe_seeds]) for r in part] \
            if len(probe_seeds) > 1 else []
        sd = (lambda v: f" ± {statistics.stdev(v):.2f}" if len(v) > 1 else "")
        lines.append(f"| {method} | {len(part)} | {statistics.mean(full):.2f}{sd(full)} | "
                     f"{statistics.mean(probe):.2f}{sd(probe)} | "
                     + (f"{statistics.mean(spread):.2f} |" if spread else "— |"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("leaderboards/models"))
    parser.add_argument("--llc", type=Path, default=Path("leaderboards/records/"
                                                         "llc-remeasured.json"))
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--probe-seeds", default="0,1,2")
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--backbone", default="k3-4-16-16-pool-end")
    parser.add_argument("--csv", type=Path, help="write the per-model rows here")
    parser.add_argument("--from-csv", type=Path, help="summarise rows written by --csv")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.probe_seeds.split(",")]
        if args.from_csv:
            rows = read_csv(args.from_csv)
        else:
            rows = measure(args.zoo, read_remeasured(args.llc)["runs"], args.data_root, seeds,
                           args.conflict_ratio, args.source, args.backbone,
                           torch.device(args.device),
                           log=lambda line: print(line, file=sys.stderr, flush=True))
        if args.csv:
            args.csv.parent.mkdir(parents=True, exist_ok=True)
            with args.csv.open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        shown = comparable(rows)
        summary = tracking(shown, seeds)
        print(table(shown, seeds))
        print()
        print(" · ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    except (BenchError, ValueError, NotApplicable) as exc:
        sys.stderr.write(f"llc_probe_check: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
