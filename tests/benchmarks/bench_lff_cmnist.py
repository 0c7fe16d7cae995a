"""Benchmark (issue 28): what one seed of the ``lff-cmnist`` preset costs on one CPU core.

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_lff_cmnist.py            # erm, lff-paper, dfa
    OMP_NUM_THREADS=1 python tests/benchmarks/bench_lff_cmnist.py --methods erm --ratio 0.05

For each method, the harness runs one seed of the preset on full MNIST twice, with 1 and with
2 epochs (diagnostics as the preset's: colour following), single-threaded. The difference of
the two training times is one epoch (its validation pass for the selection rules included);
what the 1-epoch run spent outside training (data, bias proxy, evaluation, diagnostics) is
the per-seed overhead. One seed then costs overhead + training(1 epoch) + (E - 1) x epoch,
with E the preset's epochs for the method (100; DFA 237). DFA is timed past its warm-up
(``swap_start_step=0``), the dearer regime, so its figure is an upper bound.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from bench.harness import RunEnvironment, execute
from bench.hooks import HookOptions, diagnostics_hooks
from bench.sweep.grid import SweepGrid, expand


def timed_run(method: str, ratio: float, epochs: int, extra: tuple) -> dict[str, float]:
    grid = SweepGrid((method,), protocol="lff-cmnist", conflict_ratios=(ratio,), epochs=epochs,
                     sets=extra)
    (job,) = expand(grid, "mnist")
    env = RunEnvironment(torch.device("cpu"),
                         after_fit=diagnostics_hooks(HookOptions(diagnostics="color")))
    start = time.perf_counter()
    record = execute(job.spec, 0, env)
    if record.status != "completed":
        raise SystemExit(f"{method}: {record.error}")
    seconds = {k: v for k, v in record.metrics.items() if k.startswith("seconds_")}
    seconds["wall"] = time.perf_counter() - start
    seconds["epochs_total"] = float(job.spec.hparams["epochs"])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="erm,lff-paper,dfa")
    parser.add_argument("--ratio", type=float, default=0.01)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {os.getloadavg()}")
    from bench.protocols import preset
    for method in args.methods.split(","):
        extra = (("swap_start_step", ("0",)),) if method == "dfa" else ()
        one, two = (timed_run(method, args.ratio, e, extra) for e in (1, 2))
        epoch = two["seconds_train"] - one["seconds_train"]
        overhead = sum(v for k, v in one.items()
                       if k.startswith("seconds_") and k != "seconds_train")
        epochs = preset("lff-cmnist").overrides_for(method)["epochs"]
        seed = overhead + one["seconds_train"] + (epochs - 1) * epoch
        parts = ", ".join(f"{k[8:]} {v:.1f}" for k, v in sorted(one.items())
                          if k.startswith("seconds_"))
        print(f"{method}: one epoch {epoch:.2f} s (54,000 images: {54_000 / epoch:,.0f} "
              f"images/s); 1-epoch run: {parts}; one seed of {epochs} epochs ≈ "
              f"{seed / 60:.1f} min")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
