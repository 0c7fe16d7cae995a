"""Benchmark: 8 tiny runs one after another vs the local launcher with 2 workers, in one
process run, same jobs, warm data cache. Target: parallel / sequential <= 0.7 on 2 cores.

    python tests/benchmarks/bench_sweep_parallel.py [--method erm] [--workers 2]

The sequential side runs in this process with torch's default threads (all cores); the
parallel side includes starting the worker processes (spawn + imports), as a user pays it.
Results go to a throwaway store; the split cache is a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from bench.harness import RunEnvironment, execute
from bench.hooks import HookOptions
from bench.runs.grid import SweepGrid, expand, parse_set_flags
from bench.runs.local import prepare_data, run_local
from bench.runs.worker import WorkerSettings, threads_per_worker, usable_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="erm")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", dest="sets", action="append",
                        default=["epochs=1", "batch_size=256", "lr=0.1,0.05"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_CACHE_DIR"] = os.path.join(tmp, "cache")   # workers inherit it
        grid = SweepGrid((args.method,), seeds=2, conflict_ratios=(0.02, 0.05),
                         sets=parse_set_flags(args.sets), source="mnist-5k",
                         diagnostics="none")
        jobs = expand(grid, "mnist-5k")
        hooks = HookOptions(diagnostics="none", keep_weights=False)
        cores = usable_cores()
        print(f"{len(jobs)} runs of {args.method} on mnist-5k, {cores} usable cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        prepare_data(jobs, WorkerSettings("cpu", hooks))             # both sides: warm cache

        torch.set_num_threads(cores)
        start = time.perf_counter()
        env = RunEnvironment(torch.device("cpu"))
        sequential = [execute(job.spec, job.seed, env) for job in jobs]
        seq_s = time.perf_counter() - start

        settings = WorkerSettings("cpu", hooks, threads=threads_per_worker(args.workers))
        parallel = []
        start = time.perf_counter()
        run_local(jobs, settings, args.workers, parallel.append)
        par_s = time.perf_counter() - start

    ok = all(r.status == "completed" for r in sequential + parallel)
    print(f"sequential ({cores} threads):        {seq_s:7.1f} s")
    print(f"local launcher ({args.workers} workers x {settings.threads} thread): {par_s:7.1f} s")
    print(f"ratio parallel / sequential: {par_s / seq_s:.2f} (target <= 0.70)"
          f"{'' if ok else '  [some runs failed]'}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
