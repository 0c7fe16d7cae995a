"""What llc-guard adds to ERM, per epoch and per run, on the seed protocol.

Run:  python tests/benchmarks/llc_guard_cost.py [--data-root ../shared/data] [--repeats 2]

`llc-guard` (methods/llc_guard.py) trains as ERM and, after every epoch but the last, takes a
cheap LLC probe (2 chains x 60 SGLD steps on 1,024 training images); after an epoch whose
probe triggers, it also computes every training example's loss to choose the examples to
upweight (a weighted sampler then draws the next epoch: same number of steps). On the seed
protocol (full MNIST, r = 0.05, `baseline`, SGD at batch 16, one torch thread) this times, in
one process, one ERM training epoch, one probe and one per-example loss pass, each the best
of ``repeats`` interleaved runs, as the thread's CPU time (fair on a shared machine; the
wall clock is printed too). A 10-epoch run makes 9 probes and at most 8 loss passes, so

    guard / ERM  <=  (10 epochs + 9 probes + 8 loss passes) / 10 epochs

is the most its training can cost relative to ERM's (with fewer triggers, less).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.diagnostics.llc import estimate_llc
from bench.diagnostics.pgd import sample_positions
from bench.method import RunContext
from bench.methods.llc_guard import PROBE_SEED, LLCGuardHparams, per_example_loss
from bench.supervision import SplitView, Supervision
from bench.training import SGDConfig, train

EPOCHS, PROBES, LOSS_PASSES = 10, 9, 8


def setup(data_root: Path | None) -> RunContext:
    spec = ColoredMNISTSpec(source="mnist", conflict_ratio=0.05, seed=0)
    splits = prepare_splits(spec, data_root=data_root)
    info, cpu = splits.info, torch.device("cpu")
    return RunContext(SplitView(splits.train, cpu, False, dataset=info),
                      SplitView(splits.val, cpu, False, dataset=info), cpu,
                      torch.Generator().manual_seed(0), Supervision.NONE, "baseline", info)


def timed(work) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) of ``work()``."""
    wall, cpu = time.perf_counter(), time.thread_time()
    work()
    return time.perf_counter() - wall, time.thread_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ctx = setup(args.data_root)
    model = ctx.new_model()
    settings = LLCGuardHparams().probe()
    index = sample_positions(len(ctx.train.labels), settings.subset, PROBE_SEED)
    probe_images, probe_labels = ctx.train.images[index], ctx.train.labels[index]
    epoch, probe, losses = [], [], []
    for _ in range(args.repeats):
        epoch.append(timed(lambda: train(model, ctx, SGDConfig(1, 16, 0.1), select=False)))
        probe.append(timed(lambda: estimate_llc(model, probe_images, probe_labels, settings,
                                                ctx.device)))
        losses.append(timed(lambda: per_example_loss(model, ctx.train.images,
                                                     ctx.train.labels)))
    for clock, i in (("wall clock", 0), ("CPU time", 1)):
        e, p, l = (min(t[i] for t in ts) for ts in (epoch, probe, losses))
        bound = (EPOCHS * e + PROBES * p + LOSS_PASSES * l) / (EPOCHS * e)
        print(f"{clock}: ERM epoch {e:.1f} s; probe {p:.2f} s ({p / e:.1%} of an epoch); "
              f"per-example loss pass {l:.2f} s ({l / e:.1%}); a 10-epoch llc-guard run's "
              f"training costs at most {bound:.2f}x ERM's ({PROBES} probes, {LOSS_PASSES} "
              f"loss passes)")


if __name__ == "__main__":
    main()
