"""Learning curves: aligned / conflicting accuracy and colour following after every epoch.

Runs a method exactly as ``bench run`` does (same harness, spec, seeds; no diagnostics) with
an epoch observer that evaluates test splits for the report only, never for selection. Prints
mean ± std (n) over seeds per (conflict ratio, phase, epoch) and writes the per-seed rows as
CSV and, with ``--png``, a figure. Nothing is written to a results store.

    OMP_NUM_THREADS=1 python scripts/epoch_curves.py --method erm --ratios 0.05,0.02 \
        --seeds 3 --source mnist --data-root ../shared/data --csv curves.csv --png curves.png


At equal thread counts the last epoch reproduces the ``final_*`` metrics ``bench run`` stores
for the same seed; the script prints both so that drift would show. ``--from-csv`` re-plots
saved rows without training (pass the same ``--method`` and ``--source`` for the title).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import torch
from tabulate import tabulate

from bench.studies.curves import CurveRecorder, plot_band, summarize_curves
from bench.data import prepare_splits
from bench.data import data_spec_of, new_data_spec
from bench.errors import BenchError, one_line
from bench.harness import RunEnvironment, execute, make_spec
from bench.hparams import parse_overrides
from bench.registry import METHODS, RegistryError


def run_curves(method: str, ratios: list[float], seeds: int, source: str,
               data_root: Path | None, overrides: dict | None = None,
               log=print) -> list[dict]:
    """Per-seed rows: conflict_ratio, seed, phase, epoch, acc_<split>, color_following."""
    rows: list[dict] = []
    device = torch.device("cpu")
    for ratio in ratios:
        data = new_data_spec(source=source, conflict_ratio=ratio)
        spec = make_spec(method, overrides or {}, data)
        for seed in range(seeds):
            splits = prepare_splits(data_spec_of(spec, seed),
                                    spec.dataset, data_root)
            recorder = CurveRecorder(splits, device)
            record = execute(spec, seed, RunEnvironment(device, data_root,
                                                        epoch_observer=recorder), splits)
            if record.status != "completed":
                raise BenchError(f"r={ratio} seed {seed} failed ({record.error}); no curves "
                                 f"written")
            last = recorder.rows[-1]
            stored = record.metrics.get("final_acc_conflicting")
            log(f"r={ratio} seed {seed}: last epoch acc_conflicting {last['acc_conflicting']:.4f}"
                f" (run's final_acc_conflicting {stored if stored is None else f'{stored:.4f}'};"
                f" selected epoch {record.metrics.get('selected_epoch')}, "
                f"acc_conflicting {record.metrics['acc_conflicting']:.4f})")
            rows += [{"conflict_ratio": ratio, "seed": seed, **row} for row in recorder.rows]
    return rows


def format_table(summary: list[dict]) -> str:
    def cell(row, name):
        std = row[f"{name}_std"]
        return f"{row[name]:.3f}" + ("" if math.isnan(std) else f" ± {std:.3f}")
    names = [k for k in summary[0] if k.startswith(("acc_", "color_")) and not k.endswith("_std")]
    table = [[r["conflict_ratio"], r["phase"], r["epoch"], *[cell(r, n) for n in names], r["n"]]
             for r in summary]
    return tabulate(table, headers=["r", "phase", "epoch", *names, "n"])


def read_csv(path: Path) -> list[dict]:
    """Rows as ``write_csv`` wrote them, numbers as numbers (to re-plot without retraining)."""
    def value(name: str, text: str):
        if name == "phase":
            return text
        return int(text) if name in ("seed", "epoch") else float(text)
    with open(path, newline="") as handle:
        return [{k: value(k, v) for k, v in row.items()} for row in csv.DictReader(handle)]


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(summary: list[dict], path: Path, title: str) -> None:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    with matplotlib.rc_context():
        fig = Figure(figsize=(6.4, 4.0))
        ax = fig.add_subplot()
        for ratio in dict.fromkeys(r["conflict_ratio"] for r in summary):
            rows = [r for r in summary if r["conflict_ratio"] == ratio]
            line = plot_band(ax, [r["acc_conflicting"] for r in rows],
                             [r["acc_conflicting_std"] for r in rows], marker="o",
                             label=f"conflicting, r = {ratio}")
            if "color_following" in rows[0]:
                ax.plot(range(1, len(rows) + 1), [r["color_following"] for r in rows], ls="--",
                        color=line.get_color(), label=f"colour following, r = {ratio}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch", ylabel="share of test images", ylim=(-0.02, 1.02), title=title)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=110, metadata={"Software": None})


def main(argv: list[str] | None = None) -> None:
    """Bad input (unknown method, malformed --set, missing MNIST) exits 2 with one line."""
    try:
        _main(argv)
    except (BenchError, RegistryError) as exc:
        sys.stderr.write(f"epoch_curves: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="erm")
    parser.add_argument("--ratios", default="0.05", help="comma list of conflict ratios")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a hyperparameter, as for bench run")
    parser.add_argument("--csv", type=Path, help="per-seed rows")
    parser.add_argument("--from-csv", type=Path, help="summarise and plot rows saved by --csv "
                        "instead of training")
    parser.add_argument("--png", type=Path, help="figure of the conflicting curve")
    args = parser.parse_args(argv)
    ratios = [float(r) for r in args.ratios.split(",")]
    overrides = parse_overrides(METHODS.get(args.method).Hparams, args.overrides)
    if args.from_csv:
        rows = read_csv(args.from_csv)
    else:
        rows = run_curves(args.method, ratios, args.seeds, args.source, args.data_root,
                          overrides, log=lambda line: print(line, file=sys.stderr, flush=True))
    summary = summarize_curves(rows)
    seeds = len({row["seed"] for row in rows})
    print(format_table(summary))
    if args.csv:
        write_csv(rows, args.csv)
    if args.png:
        plot(summary, args.png, f"{args.method} on {args.source}, mean ± std over "
                                f"{seeds} seeds")


if __name__ == "__main__":
    main()
