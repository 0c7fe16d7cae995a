"""LLC through training: the diagnostic's LLC after every epoch of every training phase.

Runs a method exactly as ``bench run`` does (same harness, spec and seeds; no diagnostics, no
store) with an epoch observer that measures the LLC on the diagnostic's training subset —
training data only — at the given settings (default: the calibrated ones, ``bench.diagnostics.llc.CALIBRATED``, at
which the pages' LLCs are measured), and, with
``--probe``, llc-guard's cheap probe beside it (to show whether the cheap one tracks the full
one). Writes one CSV row per (seed, phase, epoch); ``--from-csv`` merges saved CSVs (several
methods) into a table and a figure without training.

    python scripts/llc_trajectory.py --method jtt --seeds 0,1 --source mnist \\
        --data-root ../shared/data --device cuda --probe --csv jtt.csv
    python scripts/llc_trajectory.py --from-csv erm.csv jtt.csv --png llc-trajectory.png
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from bench.studies.curves import plot_band, summarize_curves
from bench.data import prepare_splits
from bench.data import data_spec_of, new_data_spec
from bench.diagnostics import NotApplicable, method_class
from bench.diagnostics.llc import CALIBRATED, LLCSettings, estimate_llc, images_as_fitted
from bench.diagnostics.pgd import sample_positions
from bench.errors import BenchError, one_line
from bench.harness import RunEnvironment, execute, make_spec
from bench.hparams import parse_overrides
from bench.methods.llc_guard import LLCGuardHparams
from bench.registry import METHODS, RegistryError
from bench.supervision import to_float_images


class LLCRecorder:
    """Epoch observer: one row per (phase, epoch) with the LLC metrics (and the probe's)."""

    def __init__(self, train, settings: LLCSettings, device: torch.device, probe: bool,
                 method: type | None = None):
        self.settings, self.device = settings, device
        self.probe = LLCGuardHparams().probe() if probe else None
        self.rows: list[dict] = []
        self._subsets = {}
        for s in [settings] + ([self.probe] if probe else []):
            index = sample_positions(len(train), s.subset, s.seed)
            images = to_float_images(train.images[index], device)
            self._subsets[s] = (images_as_fitted(method, images),   # as the diagnostic sees them
                                train.labels[index].to(device))

    def __call__(self, phase: str, epoch: int, model) -> None:
        metrics = estimate_llc(model, *self._subsets[self.settings], self.settings, self.device)
        row = {"phase": phase, "epoch": epoch, **metrics}
        if self.probe is not None:
            row["probe_llc"] = estimate_llc(model, *self._subsets[self.probe], self.probe,
                                            self.device)["llc"]
        self.rows.append(row)


def run_trajectory(method: str, seeds: list[int], source: str, ratio: float,
                   data_root: Path | None, device: torch.device, settings: LLCSettings,
                   overrides: dict, probe: bool, log=print) -> list[dict]:
    spec = make_spec(method, overrides, new_data_spec(source=source, conflict_ratio=ratio))
    label = method + "".join(f" {k}={v}" for k, v in sorted(overrides.items()))
    rows = []
    for seed in seeds:
        splits = prepare_splits(data_spec_of(spec, seed), spec.dataset,
                                data_root)
        recorder = LLCRecorder(splits.train, settings, device, probe, method_class(method))
        record = execute(spec, seed, RunEnvironment(device, data_root,
                                                    epoch_observer=recorder), splits)
        if record.status != "completed":
            raise BenchError(f"{label} seed {seed} failed ({record.error}); no rows written")
        log(f"{label} seed {seed}: {len(recorder.rows)} epochs, last LLC "
            f"{recorder.rows[-1]['llc']:.3f}, selected epoch "
            f"{record.metrics.get('selected_epoch')}, seconds_train "
            f"{record.metrics.get('seconds_train', float('nan')):.0f}")
        rows += [{"method": label, "seed": seed, **row} for row in recorder.rows]
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_csv(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append({k: v if k in ("method", "phase") else
                             int(v) if k in ("seed", "epoch") else float(v)
                             for k, v in row.items()})
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: per method and phase, the LLC after each epoch, mean ± std over seeds (with
    how many seeds' chains passed the convergence check, and the probe's mean, where the rows
    have them), then how closely the probe followed the full estimate within each run."""
    probe = all("probe_llc" in r for r in rows)
    flags = all("llc_converged" in r for r in rows)
    keep = [{k: r[k] for k in ("method", "phase", "epoch", "seed", "llc", "llc_mcse",
                               *(["probe_llc"] if probe else []),
                               *(["llc_converged"] if flags else []))} for r in rows]
    summary = summarize_curves(keep, by=("method", "phase", "epoch"))
    extra = (["converged"] if flags else []) + (["probe (mean ± std)"] if probe else [])
    lines = ["| method | phase | epoch | LLC (mean ± std over seeds) | MCSE (mean) | seeds |"
             + "".join(f" {e} |" for e in extra),
             "|---|---|---|---|---|---|" + "---|" * len(extra)]
    for s in summary:
        cells = [f"{s['llc']:.2f}{_spread(s['llc_std'])}", f"{s['llc_mcse']:.2f}", str(s["n"])]
        if flags:
            cells.append(f"{round(s['llc_converged'] * s['n'])}/{s['n']}")
        if probe:
            cells.append(f"{s['probe_llc']:.2f}{_spread(s['probe_llc_std'])}")
        lines.append(f"| {s['method']} | {s['phase']} | {s['epoch']} | " + " | ".join(cells)
                     + " |")
    lines += ["", "How much the LLC moves from one epoch to the next (all phases in order), "
              "and how often SGLD found lower loss than the weights' own:"]
    for method, (step, negative, epochs) in movement(rows).items():
        lines.append(f"- {method}: mean |change| between consecutive epochs {step:.2f}; "
                     f"negative estimate at {negative} of {epochs} epochs")
    if probe:
        lines += ["", "Within each run, the Pearson correlation over its epochs of the probe "
                  "with the full estimate:"]
        for method, values in probe_tracking(rows).items():
            lines.append(f"- {method}: " + ", ".join(f"seed {seed} {r:.2f}"
                                                     for seed, r in values.items()))
    return "\n".join(lines)


def _spread(std: float) -> str:
    return "" if math.isnan(std) else f" ± {std:.2f}"


def movement(rows: list[dict]) -> dict[str, tuple[float, int, int]]:
    """Method -> (mean over its runs' consecutive epochs of |LLC change|, epochs with a
    negative estimate, epochs measured), every seed pooled; rows in training order."""
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        steps, negative, epochs = [], 0, 0
        for seed in sorted({r["seed"] for r in rows if r["method"] == method}):
            run = [r["llc"] for r in rows if r["method"] == method and r["seed"] == seed]
            steps += [abs(b - a) for a, b in zip(run, run[1:])]
            negative += sum(v < 0 for v in run)
            epochs += len(run)
        out[method] = (float(np.mean(steps)) if steps else float("nan"), negative, epochs)
    return out


def probe_tracking(rows: list[dict]) -> dict[str, dict[int, float]]:
    """Method -> seed -> Pearson correlation, over that run's epochs (every phase), of the
    probe with the full estimate (NaN where either is constant or there are < 3 epochs)."""
    out: dict[str, dict[int, float]] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        for seed in sorted({r["seed"] for r in rows if r["method"] == method}):
            run = [r for r in rows if r["method"] == method and r["seed"] == seed]
            full = np.array([r["llc"] for r in run])
            cheap = np.array([r["probe_llc"] for r in run])
            constant = len(run) < 3 or np.ptp(full) == 0 or np.ptp(cheap) == 0
            out.setdefault(method, {})[seed] = (float("nan") if constant
                                                else float(np.corrcoef(full, cheap)[0, 1]))
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    from matplotlib.figure import Figure
    summary = summarize_curves([{k: r[k] for k in ("method", "phase", "epoch", "seed", "llc")}
                                for r in rows], by=("method", "phase", "epoch"))
    with matplotlib.rc_context():
        fig = Figure(figsize=(6.4, 4.0))
        ax = fig.add_subplot()
        for method in dict.fromkeys(s["method"] for s in summary):
            part = [s for s in summary if s["method"] == method]
            plot_band(ax, [s["llc"] for s in part], [s["llc_std"] for s in part],
                      marker="o", ms=3, label=method)
        ax.set(xlabel="epoch (all training phases in order)", ylabel="LLC (training subset)",
               title="LLC after every epoch, mean ± std over seeds")
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=110, metadata={"Software": None})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="erm")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--settings", default="{}", help="JSON overrides of the calibrated "
                        "settings (bench.diagnostics.llc.CALIBRATED)")
    parser.add_argument("--probe", action="store_true", help="also llc-guard's cheap probe")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--from-csv", nargs="+", type=Path)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.from_csv:
            rows = read_csv(args.from_csv)
        else:
            overrides = parse_overrides(METHODS.get(args.method).Hparams, args.overrides)
            rows = run_trajectory(args.method, [int(s) for s in args.seeds.split(",")],
                                  args.source, args.conflict_ratio, args.data_root,
                                  torch.device(args.device),
                                  dataclasses.replace(CALIBRATED, **json.loads(args.settings)),
                                  overrides,
                                  args.probe, log=lambda line: print(line, file=sys.stderr,
                                                                     flush=True))
        if args.csv:
            write_csv(rows, args.csv)
        print(table(rows))
        if args.png:
            plot(rows, args.png)
    except (BenchError, RegistryError, ValueError, NotApplicable) as exc:
        sys.stderr.write(f"llc_trajectory: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
