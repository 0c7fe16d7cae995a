"""Benchmark: where a batch-16 training step spends its time on CUDA, and what each
``--train-step`` (eager, fused, compiled) makes of it. Needs a GPU; prints a note and exits 0
without one (``--device cpu`` runs it on CPU anyway, to check the script).

    python tests/benchmarks/gpu_step.py [--epochs 2] [--batch-size 16] [--profile-steps 20]

1. A profile of eager steps: kernels launched per step, GPU busy time per step against wall
   time per step (a small ratio means the step is bound by launches, not by the GPU), and
   the most expensive operators on the CPU side.
2. ``bench.training.train`` (the harness's loop, the same the methods use) for ``--epochs``
   epochs of mnist-5k on the device, per train-step mode: images/s, and the accuracy on the
   conflicting test split after training, which must agree within seed noise.
Compilation is timed separately (first epoch) from the steady state (the others).
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F

from bench.backbones import build_backbone
from bench.data import prepare_splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.evaluate import predict
from bench.method import RunContext
from bench.supervision import SplitView, Supervision, to_float_images
from bench.training import TRAIN_STEPS, SGDConfig, train


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def profile_eager(device: torch.device, batch: int, steps: int) -> None:
    from torch.profiler import ProfilerActivity, profile
    model = build_backbone("baseline", 10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.rand(batch, 3, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for _ in range(10):
        step()
    sync(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                           else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        sync(device)
    wall = (time.perf_counter() - start) / steps
    events = prof.key_averages()
    if device.type == "cuda":
        kernels = [e for e in prof.events() if e.device_type.name == "CUDA"]
        busy = sum(e.device_time for e in kernels) / 1e6 / steps
        print(f"eager step, batch {batch}: {wall * 1e3:.2f} ms wall, {len(kernels) / steps:.0f} "
              f"kernels launched, GPU busy {busy * 1e3:.2f} ms ({busy / wall:.0%} of the step)")
    else:
        print(f"eager step, batch {batch}: {wall * 1e3:.2f} ms wall (CPU)")
    print(events.table(sort_by="self_cpu_time_total", row_limit=12))


def harness_epochs(mode: str, device: torch.device, splits, epochs: int, batch: int):
    view = lambda split: SplitView(split, device, True, dataset=splits.info)   # noqa: E731
    ctx = RunContext(view(splits.train), view(splits.val), device,
                     torch.Generator().manual_seed(0), Supervision.NONE, train_step=mode,
                     dataset=splits.info)
    model = ctx.new_model()
    n = len(ctx.train.labels)
    times = []

    def timed_epoch(epoch: int) -> None:
        sync(device)
        times.append(time.perf_counter())
    start = time.perf_counter()
    train(model, ctx, SGDConfig(epochs, batch, 0.1), select=False, on_epoch_end=timed_epoch)
    first = times[0] - start
    steady = (times[-1] - times[0]) / max(1, epochs - 1)
    test = splits.tests["conflicting"]
    images = to_float_images(test.images, device)
    acc = float((predict(model, images).cpu() == test.labels).double().mean())
    return n / first, (n / steady if epochs > 1 else float("nan")), acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--profile-steps", type=int, default=20)
    parser.add_argument("--modes", default=",".join(TRAIN_STEPS))
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing measured (pass --device cpu to check the script)")
        return
    device = torch.device(args.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    profile_eager(device, args.batch_size, args.profile_steps)
    splits = prepare_splits(ColoredMNISTSpec(source="mnist-5k", conflict_ratio=0.05, seed=0))
    print(f"\nbench.training.train, {len(splits.train.labels)} images x {args.epochs} epochs, "
          f"batch {args.batch_size}")
    results = {}
    for mode in args.modes.split(","):
        first, steady, acc = harness_epochs(mode, device, splits, args.epochs, args.batch_size)
        results[mode] = steady
        print(f"  {mode:9s} first epoch {first:8.0f} img/s (compilation included), steady "
              f"{steady:8.0f} img/s, acc_conflicting {acc:.3f}")
    if "eager" in results:
        for mode, speed in results.items():
            if mode != "eager":
                print(f"  {mode} / eager (steady): {speed / results['eager']:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
