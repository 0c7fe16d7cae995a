"""Chooses ``baseline`` among networks that fit the seed report's BaselineNet, test-free.

Trains every candidate of ``bench.backbones.CANDIDATES`` with ERM at the seed protocol for 12
epochs (stage a) and, for those that pass, with group-balanced sampling for 10 (stage b),
``--seeds`` seeds each, through the same harness as ``bench run``. Only the training split and
the validation split carved from it are built: no test split exists in this process. The
acceptance rule and tie-break are in ``bench/studies/calibration.py`` (fixed before the first run).

    OMP_NUM_THREADS=1 python scripts/calibrate_backbone.py --seeds 3 --source mnist \
        --data-root ../shared/data --csv runs/calibration.csv --markdown runs/calibration.md

Per-(job, epoch) rows are appended to ``--csv`` as each job ends, and jobs already there are
skipped, so an interrupted calibration resumes where it stopped.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import sys
from pathlib import Path

import torch
from tabulate import tabulate

from bench import metrics
from bench.backbones import CANDIDATES, build_backbone
from bench.studies.calibration import CalibrationRule, Verdict, choose, judge_balanced, judge_erm
from bench.data import prepare_splits
from bench.data import data_spec_of, new_data_spec
from bench.errors import BenchError
from bench.evaluate import predict
from bench.harness import RunEnvironment, execute, make_spec

ERM_EPOCHS = 12          # the protocol's 10, and two more for the stability window 8-12
FIELDS = ("backbone", "method", "seed", "epoch", "val_conflicting_acc", "train_acc")


def run_job(backbone: str, method: str, seed: int, source: str, data_root: str | None,
            conflict_ratio: float, rule: CalibrationRule = CalibrationRule(),
            erm_epochs: int = ERM_EPOCHS) -> list[dict]:
    """One (backbone, method, seed): per-epoch validation-conflicting accuracy, and training
    accuracy at the protocol epoch. Builds train and val only (``test_names=()``)."""
    torch.set_num_threads(1)
    device = torch.device("cpu")
    root = Path(data_root) if data_root else None
    data = new_data_spec(source=source, conflict_ratio=conflict_ratio)
    overrides = {"epochs": erm_epochs} if method == "erm" else {}
    spec = make_spec(method, overrides, data, backbone=backbone)
    splits = prepare_splits(data_spec_of(spec, seed), spec.dataset, root,
                            test_names=())
    val, train = splits.val, splits.train
    conflicting = val.bias != val.labels
    val_images = val.images[conflicting].to(device).float().div_(255)
    rows: list[dict] = []

    def observe(phase: str, epoch: int, model) -> None:
        row = {"backbone": backbone, "method": method, "seed": seed, "epoch": epoch,
               "val_conflicting_acc": metrics.accuracy(predict(model, val_images).cpu(),
                                                       val.labels[conflicting]),
               "train_acc": None}
        if epoch == rule.protocol_epoch:
            train_images = train.images.to(device).float().div_(255)
            row["train_acc"] = metrics.accuracy(predict(model, train_images).cpu(),
                                                train.labels)
        rows.append(row)

    record = execute(spec, seed, RunEnvironment(device, root, epoch_observer=observe), splits)
    if record.status != "completed":
        raise BenchError(f"{backbone} {method} seed {seed} failed: {record.error}")
    return rows


def _run_star(args: tuple) -> list[dict]:
    return run_job(*args)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["seed"], row["epoch"] = int(row["seed"]), int(row["epoch"])
        for key in ("val_conflicting_acc", "train_acc"):
            row[key] = float(row[key]) if row[key] not in ("", "None") else None
    return rows


def append_rows(path: Path, rows: list[dict]) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def run_stage(jobs: list[tuple], workers: int, csv_path: Path, log) -> None:
    """Runs the jobs not yet in the CSV, ``workers`` processes at a time, appending as each
    finishes."""
    done = {(r["backbone"], r["method"], r["seed"]) for r in read_rows(csv_path)}
    todo = [job for job in jobs if tuple(job[:3]) not in done]
    if not todo:
        return
    if workers == 1:   # in this process: no start-up cost, and what tests exercise
        for job in todo:
            rows = _run_star(job)
            append_rows(csv_path, rows)
            log(f"{job[0]} {job[1]} seed {job[2]} done")
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(todo)), maxtasksperchild=1) as pool:
        for rows in pool.imap_unordered(_run_star, todo):
            append_rows(csv_path, rows)
            last = rows[-1]
            log(f"{last['backbone']} {last['method']} seed {last['seed']}: epoch {last['epoch']}"
                f" val-conflicting {last['val_conflicting_acc']:.3f}")


def calibrate(seeds: int, source: str, data_root: str | None, csv_path: Path, workers: int = 2,
              conflict_ratio: float = 0.05, candidates=CANDIDATES,
              rule: CalibrationRule = CalibrationRule(), log=print) -> list[Verdict]:
    names = [c.name for c in candidates]
    job = lambda name, method, seed: (name, method, seed, source, data_root, conflict_ratio)
    run_stage([job(n, "erm", s) for n in names for s in range(seeds)], workers, csv_path, log)
    rows = read_rows(csv_path)
    verdicts = []
    for name in names:
        params = sum(p.numel() for p in build_backbone(name).parameters())
        erm = [r for r in rows if r["backbone"] == name and r["method"] == "erm"
               and r["seed"] < seeds]
        verdicts.append(judge_erm(name, params, erm, rule))
    lazy = [v.backbone for v in verdicts if v.lazy]
    run_stage([job(n, "group-balanced", s) for n in lazy for s in range(seeds)], workers,
              csv_path, log)
    rows = read_rows(csv_path)
    for verdict in verdicts:
        if verdict.lazy:
            balanced = [r for r in rows if r["backbone"] == verdict.backbone
                        and r["method"] == "group-balanced" and r["seed"] < seeds]
            judge_balanced(verdict, balanced, rule)
    return verdicts


def format_table(verdicts: list[Verdict], chosen: Verdict | None) -> str:
    def pm(mean, std):
        return "—" if mean != mean else f"{mean:.3f} ± {std:.3f}"
    table = [[v.backbone, v.params, v.seeds, f"{v.train_acc:.3f}",
              pm(v.val_conflicting, v.val_conflicting_std), f"{v.drift:.3f}",
              "pass" if v.lazy else "fail",
              pm(v.balanced_val_conflicting, v.balanced_val_conflicting_std),
              {True: "pass", False: "fail", None: "not run"}[v.capable],
              "**chosen**" if chosen is not None and v is chosen else ""]
             for v in verdicts]
    headers = ["backbone", "params", "seeds", "ERM train acc (ep 10)",
               "ERM val-conflicting (ep 10)", "drift ep 8-12", "(a)",
               "balanced val-conflicting (ep 10)", "(b)", "choice"]
    return tabulate(table, headers=headers, tablefmt="github")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=Path("runs/calibration.csv"))
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.workers < 1:
        print("error: --seeds and --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        verdicts = calibrate(args.seeds, args.source, args.data_root, args.csv, args.workers,
                             args.conflict_ratio)
    except (BenchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chosen = choose(verdicts)
    table = format_table(verdicts, chosen)
    choice = (f"chosen: {chosen.backbone}" if chosen
              else "no candidate passes both stages: baseline stays unchanged")
    print(table + "\n\n" + choice)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n\n" + choice + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
