"""Are the zoo's models at a minimum of the loss their LLC is measured on?

The LLC estimator assumes the weights sit at a local minimum of the training loss it samples
around (plain cross-entropy on the training images as the method fitted them). SGLD started
where the gradient of that loss is not zero drifts downhill, so the sampled losses can fall
below the loss at the weights and the estimate goes negative. A method that minimises another
objective (a penalty, a min-max game, a reweighted or refitted loss) leaves its weights off the
plain loss's minimum by design.

This script measures, for every zoo model of the protocol, the loss and the norm of its
full gradient on the diagnostic's training subset (the same images, as fitted, and labels as
the LLC) at the kept weights, beside the committed full LLC estimate. Training data only; no
retraining; nothing is written but the CSV asked for.

    python scripts/llc_stationarity.py --zoo leaderboards/models --data-root ../shared/data \\
        --csv out/llc-stationarity.csv
    python scripts/llc_stationarity.py --from-csv out/llc-stationarity.csv   # the table again
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from bench.diagnostics import method_class
from bench.diagnostics.llc import CALIBRATED, LLCSettings
from bench.diagnostics.llc_remeasured import read_remeasured
from bench.diagnostics.llc_sources import find_zoo_runs, subset_of, training_split
from bench.errors import BenchError, one_line
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.tables import variant_labels

FIELDS = ("row", "seed", "key", "llc_defined", "loss", "grad_norm", "llc",
          "llc_converged")


def loss_and_gradient_norm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                           chunk: int = 512) -> tuple[float, float]:
    """Mean cross-entropy over all the images and the norm of its gradient in every
    parameter (summed over chunks, so the chunk size changes nothing but memory)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = [torch.zeros_like(p) for p in params]
    total = 0.0
    for start in range(0, len(labels), chunk):
        x, y = images[start:start + chunk], labels[start:start + chunk]
        loss = F.cross_entropy(model(x), y, reduction="sum") / len(labels)
        for acc, g in zip(grads, torch.autograd.grad(loss, params)):
            acc += g
        total += loss.item()
    return total, float(torch.sqrt(sum((g ** 2).sum() for g in grads)))


def row_labels(runs) -> dict[str, str]:
    """Spec hash -> the row label the protocol's page gives those runs (e.g. ``erm`` and
    ``erm (epochs=20)`` are two rows)."""
    groups = defaultdict(list)
    for run in runs:
        groups[run.record.spec.hash()].append(run.record)
    return variant_labels(groups, MethodCatalog.from_registry())


def measure(zoo: Path, data_root: Path | None, remeasured: Path, settings: LLCSettings,
            ratio: float, source: str, backbone: str, log=print) -> list[dict]:
    full = read_remeasured(remeasured)["runs"] if remeasured.is_file() else {}
    runs = find_zoo_runs(zoo, conflict_ratio=ratio, source=source, backbone=backbone)
    row_of = row_labels(runs)
    rows = []
    for run in sorted(runs, key=lambda r: (row_of[r.record.spec.hash()], r.record.seed)):
        label, committed = row_of[run.record.spec.hash()], full.get(run.record.key, {})
        method = method_class(run.record.spec.method)
        images, labels = subset_of(training_split(run.record, data_root), settings)
        # as fitted, even where the LLC is declared undefined: that is what is being checked
        images = method.llc_training_images(images)
        loss, norm = loss_and_gradient_norm(run.model(), images, labels)
        rows.append({"row": label, "seed": run.record.seed, "key": run.record.key,
                     "llc_defined": int(not method.llc_not_defined), "loss": loss,
                     "grad_norm": norm, "llc": committed.get("llc", float("nan")),
                     "llc_converged": int(committed.get("llc_converged", 0))})
        log(f"{label} seed {run.record.seed}: loss {loss:.4f}, |grad| {norm:.4f}")
    return rows


def summary(rows: list[dict]) -> str:
    """Markdown, one line per row: mean ± std over its models of the loss, the gradient norm
    and the committed LLC, then the rank correlation of the last two across models."""
    def cell(values: list[float], fmt: str) -> str:
        values = [v for v in values if v == v]          # NaN: no committed estimate
        if not values:
            return "—"
        spread = f" ± {statistics.stdev(values):{fmt}}" if len(values) > 1 else ""
        return f"{statistics.mean(values):{fmt}}{spread}"

    # every committed estimate, negative ones included (the pages count only converged,
    # non-negative seeds), since a negative one is itself what this table helps explain
    lines = ["| row | models | loss at the weights | gradient norm | LLC (every committed "
             "estimate) | chains converged |", "|---|---|---|---|---|---|"]
    for label in sorted({r["row"] for r in rows}):
        part = [r for r in rows if r["row"] == label]
        defined = part[0]["llc_defined"]
        llc = cell([r["llc"] for r in part], ".2f") if defined else "n/a (declared)"
        converged = f"{sum(r['llc_converged'] for r in part)}/{len(part)}" if defined else "—"
        lines.append(f"| {label} | {len(part)} | {cell([r['loss'] for r in part], '.3f')} | "
                     f"{cell([r['grad_norm'] for r in part], '.3f')} | {llc} | {converged} |")
    estimated = [r for r in rows if r["llc_defined"] and r["llc"] >= 0]
    if len(estimated) > 2:
        rho = spearmanr([r["grad_norm"] for r in estimated], [r["llc"] for r in estimated])
        lines += ["", f"Spearman correlation of the gradient norm with the LLC over the "
                  f"{len(estimated)} models with a defined, non-negative estimate: "
                  f"{rho.statistic:.2f} (p = {rho.pvalue:.2g})."]
    return "\n".join(lines)


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return [{k: v if k in ("row", "key") else int(v) if k in ("seed", "llc_defined", "llc_converged")
                 else float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("leaderboards/models"))
    parser.add_argument("--remeasured", type=Path,
                        default=Path("leaderboards/records/llc-remeasured.json"))
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--conflict-ratio", type=float, default=0.05)
    parser.add_argument("--source", default="mnist")
    parser.add_argument("--backbone", default="k3-4-16-16-pool-end")    # `baseline`
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--from-csv", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.from_csv:
            rows = read_csv(args.from_csv)
        else:
            rows = measure(args.zoo, args.data_root, args.remeasured, CALIBRATED,
                           args.conflict_ratio, args.source, args.backbone,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
        if not rows:
            raise BenchError("no zoo models of the protocol found")
        if args.csv:
            write_csv(rows, args.csv)
        print(summary(rows))
    except (BenchError, ValueError, OSError) as exc:
        sys.stderr.write(f"llc_stationarity: error: {one_line(exc)}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
