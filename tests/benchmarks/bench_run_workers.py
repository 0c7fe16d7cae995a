"""Benchmark: the same ``bench run`` with ``--workers 1`` and with the default workers, in one
run of this script, and the ratio of their wall times. Target (issue 13): >= 1.3 on a quiet
2-core machine, >= 1.8 with ``--busy`` (another process keeps one core busy).

    python tests/benchmarks/bench_run_workers.py                  # ERM, 4 seeds, 10 epochs
    python tests/benchmarks/bench_run_workers.py --busy
    python tests/benchmarks/bench_run_workers.py --seeds 2 --epochs 1   # a quick check

Each side is a fresh ``bench`` process (as a user runs it, imports and worker start-up
included) writing to its own throwaway store; both share one warm split cache, built before
timing. ``--workers 1`` trains the seeds one after another in one process with a thread per
core; the default runs one single-thread worker per core. Diagnostics are off (they are not
what is compared). Run it on a quiet machine: the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench_run(args: argparse.Namespace, store: Path, workers: int | None) -> float:
    command = [sys.executable, "-m", "bench", "run", "--method", args.method,
               "--seeds", str(args.seeds), "--epochs", str(args.epochs), "--source", args.source,
               "--diagnostics", "none", "--no-keep-weights", "--device", "cpu",
               "--store", str(store)]
    if workers is not None:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    plan = next((line for line in done.stderr.splitlines() if "in parallel" in line), "")
    print(f"  {' '.join(command[2:])}\n  {plan.strip()}\n  {phase_seconds(store)}")
    return seconds


def phase_seconds(store: Path) -> str:
    """Where the wall time went, summed over the seeds' records: training and evaluation are
    timed inside each seed; what is left of the wall time is start-up, data and scheduling."""
    from bench.store import Store
    with Store(store) as results:
        metrics = [r.metrics for r in results.records(status="completed")]
    train = sum(m.get("seconds_train", 0.0) for m in metrics)
    other = sum(v for m in metrics for k, v in m.items()
                if k.startswith("seconds_") and k != "seconds_train")
    return f"summed over {len(metrics)} seeds: train {train:.1f} s, eval and data {other:.1f} s"


def spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="erm")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--source", default="mnist-5k")
    parser.add_argument("--busy", action="store_true",
                        help="keep one core busy with a spinning process during both runs")
    args = parser.parse_args()
    print(f"{args.method}, {args.seeds} seeds, {args.epochs} epochs, {args.source}; "
          f"{len(os.sched_getaffinity(0))} usable cores; load average "
          f"{os.getloadavg()[0]:.1f}{'; one core kept busy' if args.busy else ''}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_CACHE_DIR"] = os.path.join(tmp, "cache")
        warm = Path(tmp, "warm.sqlite")        # one tiny run builds the split cache
        subprocess.run([sys.executable, "-m", "bench", "run", "--method", "erm", "--epochs", "1",
                        "--set", "batch_size=512", "--source", args.source, "--diagnostics",
                        "none", "--no-keep-weights", "--device", "cpu", "--store", str(warm)],
                       capture_output=True, check=True)
        busy = multiprocessing.Process(target=spin, daemon=True) if args.busy else None
        if busy is not None:
            busy.start()
        try:
            one = bench_run(args, Path(tmp, "one.sqlite"), workers=1)
            print(f"--workers 1:     {one:7.1f} s")
            default = bench_run(args, Path(tmp, "default.sqlite"), workers=None)
            print(f"default workers: {default:7.1f} s")
        finally:
            if busy is not None:
                busy.terminate()
    target = 1.8 if args.busy else 1.3
    print(f"speed-up (--workers 1 / default): {one / default:.2f} (target >= {target})")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
