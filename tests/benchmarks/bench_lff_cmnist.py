"""Benchmark (issue 28): what one seed of the ``lff-cmnist`` preset costs on one CPU core.

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_lff_cmnist.py            # erm, lff-paper, dfa
    OMP_NUM_THREADS=1 python tests/benchmarks/bench_lff_cmnist.py --methods erm --ratio 0.05
    python tests/benchmarks/bench_lff_cmnist.py --ops --methods erm,lff-paper,dfa,groupdro

``--ops`` counts instead the operators one training step dispatches (top-level ``aten`` calls
under the profiler, over 20 steps, with the optimisers' multi-tensor ``foreach`` kernels that
CUDA uses by default): what bounds a step on a GPU that waits for launches. ``--protocol
seed`` gives the conv baseline's batch-16 step to compare with.

For each method, the harness runs one seed of the preset on full MNIST twice, with 1 and with
3 epochs (diagnostics as the preset's: colour following), single-threaded. Half the
difference of the two training times is one epoch (its validation pass for the selection
rules included);
what the 1-epoch run spent outside training (data, bias proxy, evaluation, diagnostics) is
the per-seed overhead. One seed then costs overhead + training(1 epoch) + (E - 1) x epoch,
with E the preset's epochs for the method (100; DFA 237). DFA is timed past its warm-up
(``swap_start_step=0``), the dearer regime, so its figure is an upper bound.

Both the process's CPU time (``time.process_time``: what one core spends, nearly the same on a
busy machine) and wall time are printed; on a machine whose cores other jobs share, only the
CPU time says what a quiet core would take.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from bench.harness import RunEnvironment, execute
from bench.hooks import HookOptions, diagnostics_hooks
from bench.runs.grid import SweepGrid, expand


def timed_run(method: str, ratio: float, epochs: int, extra: tuple) -> dict[str, float]:
    grid = SweepGrid((method,), protocol="lff-cmnist", conflict_ratios=(ratio,), epochs=epochs,
                     sets=extra)
    (job,) = expand(grid, "mnist")
    env = RunEnvironment(torch.device("cpu"),
                         after_fit=diagnostics_hooks(HookOptions(diagnostics="color")))
    start, cpu = time.perf_counter(), time.process_time()
    record = execute(job.spec, 0, env)
    if record.status != "completed":
        raise SystemExit(f"{method}: {record.error}")
    seconds = {k: v for k, v in record.metrics.items() if k.startswith("seconds_")}
    seconds["wall"] = time.perf_counter() - start
    seconds["cpu"] = time.process_time() - cpu
    seconds["epochs_total"] = float(job.spec.hparams["epochs"])
    return seconds


def ops_per_step(method: str, protocol: str, ratio: float, steps: int = 20) -> float:
    import dataclasses
    from torch.profiler import ProfilerActivity, profile

    import bench.training as training
    from bench.data import prepare_splits
    from bench.hparams import resolve
    from bench.method import RunContext
    from bench.registry import METHODS
    from bench.supervision import SplitView
    (job,) = expand(SweepGrid((method,), protocol=protocol, conflict_ratios=(ratio,), epochs=1,
                              diagnostics="none"), "mnist")
    cls = METHODS.get(method)
    hparams = resolve(cls.Hparams, job.spec.hparams)
    if method == "dfa":
        hparams = dataclasses.replace(hparams, swap_start_step=0)
    splits = prepare_splits(job.data_spec(), job.spec.dataset)
    cpu = torch.device("cpu")
    train = splits.train.subset(torch.arange(steps * hparams.batch_size))
    ctx = RunContext(SplitView(train, cpu, cls.supervision.allows("train"), dataset=splits.info),
                     SplitView(splits.val.subset(torch.arange(0)), cpu, False,
                               dataset=splits.info),
                     cpu, torch.Generator().manual_seed(0), cls.supervision, job.spec.backbone,
                     splits.info)
    loop, make = training.train, training.make_optimizer
    counted: list[int] = []

    def foreach(params, cfg, fused=False):   # CUDA's default optimiser kernels
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                    foreach=True)
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, foreach=True)

    def profiled(*args, **kwargs):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            result = loop(*args, **{**kwargs, "select": False})
        counted.append(sum(1 for e in prof.events() if e.name.startswith("aten::") and (
            e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::"))))
        return result

    module = __import__(cls.__module__, fromlist=["train"])
    training.make_optimizer, module.train = foreach, profiled
    try:
        cls(hparams).fit(ctx)
    finally:
        training.make_optimizer, module.train = make, loop
    return counted[-1] / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="erm,lff-paper,dfa")
    parser.add_argument("--ratio", type=float, default=0.01)
    parser.add_argument("--ops", action="store_true", help="count operators per step instead")
    parser.add_argument("--protocol", default="lff-cmnist", help="with --ops")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.ops:
        for method in args.methods.split(","):
            print(f"{method} ({args.protocol}): {ops_per_step(method, args.protocol, args.ratio):.1f} "
                  f"operators per training step")
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load {os.getloadavg()}")
    from bench.protocols import preset
    for method in args.methods.split(","):
        extra = (("swap_start_step", ("0",)),) if method == "dfa" else ()
        one, three = (timed_run(method, args.ratio, e, extra) for e in (1, 3))
        epochs = preset("lff-cmnist").overrides_for(method)["epochs"]
        parts = ", ".join(f"{k[8:]} {v:.1f}" for k, v in sorted(one.items())
                          if k.startswith("seconds_"))
        print(f"{method}: 1-epoch run, wall seconds: {parts}")
        for clock in ("cpu", "wall"):
            epoch = (three[clock] - one[clock]) / 2
            seed = one[clock] + (epochs - 1) * epoch
            print(f"  {clock} time: one epoch {epoch:.2f} s ({54_000 / epoch:,.0f} images/s), "
                  f"the rest of a run {one[clock] - epoch:.1f} s; one seed of {epochs} epochs "
                  f"≈ {seed / 60:.1f} min")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
