"""ε-to-flip against the seed report: how its PGD measurement may differ from ours, measured.

The seed report gives ε-to-flip ≈ 0.05 for the naive model and ≈ 0.12 for the robust one
(PGD, L∞) without the protocol. This script re-measures kept models (read-only store) on a
small sample of the diagnostic's own images under each plausible difference, one at a time:

- ``ours``: the diagnostic (bisection of a 10-step PGD, steps of 2.5·ε/10, projected on
  [0, 1], cross-entropy of the current prediction), median over correctly classified images;
- ``mean``: the mean instead of the median; ``all images``: right and wrong predictions;
- ``no clamp``: the perturbed image may leave [0, 1];
- ``fgsm``: one step of size ε (a weaker attack: larger ε);
- ``fixed step``: 40 steps of 0.01 whatever ε (a common tutorial attack);
- ``acc < 50%``: no per-image ε; the smallest ε of a grid at which accuracy under a 10-step
  PGD (true labels) falls below 50% — a "robustness threshold" read off an accuracy curve;
- ``normalised units``: ``ours`` divided by MNIST's std 0.3081, the ε a model that normalises
  its inputs would report for the same perturbation.

    OMP_NUM_THREADS=1 python scripts/eps_seed_variants.py --store runs/selection.sqlite \\
        --data-root ../shared/data --models erm:0,jtt:0,group-balanced:0 --images 100
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from tabulate import tabulate

from bench.data import prepare_splits
from bench.data import data_spec_of
from bench.diagnostics.llc_sources import find_runs
from bench.studies.pgd_strength import sampled_images
from bench.errors import BenchError, one_line
from bench.evaluate import predict

EPS_MIN, EPS_MAX, BISECTION = 1 / 1024, 0.5, 7
GRID = (0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)
MNIST_STD = 0.3081


def attack(model, images, target, eps, steps, step, clamp=True, loss_sign=1.0):
    """Whether an L∞ PGD of radius ``eps`` (per image) changes the prediction away from
    ``target``; ``step`` is a tensor of per-image step sizes. Any iterate counts."""
    radius = eps.view(-1, 1, 1, 1)
    alpha = step.view(-1, 1, 1, 1)
    x = images.clone()
    flipped = torch.zeros(len(images), dtype=torch.bool, device=images.device)
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        logits = model(x)
        flipped |= logits.argmax(1) != target
        grad, = torch.autograd.grad(F.cross_entropy(logits, target, reduction="sum"), x)
        x = x.detach() + alpha * grad.sign()
        x = torch.max(torch.min(x, images + radius), images - radius)
        if clamp:
            x = x.clamp(0, 1)
    with torch.no_grad():
        flipped |= model(x).argmax(1) != target
    return flipped


def bisect(flips, n: int, device) -> torch.Tensor:
    """Per image the smallest ε (log-bisected in [EPS_MIN, EPS_MAX]) at which ``flips(eps)``
    holds; EPS_MAX where it never does."""
    hi = torch.full((n,), EPS_MAX, device=device)
    ever = flips(hi)
    lo_log, hi_log = torch.full((n,), math.log(EPS_MIN), device=device), hi.log()
    for _ in range(BISECTION):
        mid = (lo_log + hi_log) / 2
        now = flips(mid.exp())
        hi_log, lo_log = torch.where(now, mid, hi_log), torch.where(now, lo_log, mid)
    return torch.where(ever, hi_log.exp(), hi)


def variants(model, images, labels) -> dict[str, float]:
    model.eval()
    pred = predict(model, images).clone()
    correct = pred == labels
    n, dev = len(images), images.device

    def per_image(steps, ratio=None, fixed=None, clamp=True):
        def flips(eps):
            step = eps * ratio / steps if fixed is None else torch.full_like(eps, fixed)
            return attack(model, images, pred, eps, steps, step, clamp)
        return bisect(flips, n, dev)
    ours = per_image(10, ratio=2.5)
    out = {"ours": ours[correct].median().item(), "mean": ours[correct].mean().item(),
           "all images": ours.median().item(),
           "no clamp": per_image(10, ratio=2.5, clamp=False)[correct].median().item(),
           "fgsm": per_image(1, ratio=1.0)[correct].median().item(),
           "fixed step": per_image(40, fixed=0.01)[correct].median().item()}
    threshold = math.nan
    for eps in GRID:
        e = torch.full((n,), eps, device=dev)
        robust = ~attack(model, images, labels, e, 10, e * 0.25) & correct
        if robust.double().mean().item() < 0.5:
            threshold = eps
            break
    out["acc < 50%"] = threshold
    out["normalised units"] = out["ours"] / MNIST_STD
    out["correct"] = int(correct.sum())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--models", default="erm:0,jtt:0")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--splits", default="aligned,conflicting")
    args = parser.parse_args(argv)
    rows = []
    try:
        for item in args.models.split(","):
            method, seed = item.split(":")
            runs = [r for r in find_runs(args.store, method=method, seed=int(seed),
                                         conflict_ratio=0.05, source="mnist")
                    if r.record.spec.hparams.get("epochs") in (None, 10, 20)]
            if not runs:
                print(f"{item}: not in the store; skipped", file=sys.stderr)
                continue
            run = runs[0]
            spec = data_spec_of(run.record.spec, run.record.seed)
            names = tuple(args.splits.split(","))
            splits = prepare_splits(spec, run.record.spec.dataset, args.data_root,
                                    test_names=names)
            model = run.model()
            for name in names:
                images, labels = sampled_images(splits.tests[name], args.images, 0,
                                                torch.device("cpu"))
                rows.append({"model": run.label, "split": name,
                             **variants(model, images, labels)})
                print(rows[-1], file=sys.stderr, flush=True)
    except BenchError as exc:
        sys.stderr.write(f"eps_seed_variants: error: {one_line(exc)}\n")
        raise SystemExit(2) from None
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".3f"))


if __name__ == "__main__":
    main()
