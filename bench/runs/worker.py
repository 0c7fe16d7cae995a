"""What every sweep worker does, whatever launches it: one job in, one record out.

Workers never write the results store; the driver does, one transaction per record.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.data import Splits
from bench.harness import RunEnvironment, execute
from bench.hooks import HookOptions, after_fit_hooks
from bench.method import Progress
from bench.record import RunRecord, git_commit, package_versions
from bench.registry import METHODS
from bench.runs.grid import Job


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs besides the job; small and picklable."""
    device: str                      # "cpu" or "cuda" (resolved by the driver)
    hooks: HookOptions
    data_root: Path | None = None
    cache_dir: Path | None = None
    threads: int = 1
    train_step: str = "eager"        # bench.training.TRAIN_STEPS


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))   # respects taskset and container CPU sets
    except AttributeError:
        return os.cpu_count() or 1


def thread_limit(environ=os.environ) -> int | None:
    """The thread count the user asked for with ``OMP_NUM_THREADS`` (a whole number >= 1),
    else None."""
    value = environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) >= 1 else None


def threads_per_worker(workers: int, cores: int | None = None, environ=os.environ) -> int:
    """Workers share the cores instead of each starting one thread per core, and never take
    more threads than ``OMP_NUM_THREADS`` allows: that is how side-by-side processes are kept
    at one thread each, and a process of two threads slows down tenfold when another process
    holds one of its cores (measured: an ERM run at 10 steps/s against 120; docs/performance.md).
    """
    share = max(1, (cores or usable_cores()) // max(1, workers))
    limit = thread_limit(environ)
    return min(share, limit) if limit is not None else share


# Training processes that one GPU serves well at the seed protocol's batch 16. A batch-16 step
# is bound by kernel launches, which each process issues from its own CPU core, so the GPU
# keeps up with many of them: on an H200, 17 processes ran 3,300-4,500 images/s each (about
# 65,000 together) against 6,100 for one alone. Each process holds a CUDA context and its
# data (~1 GiB), hence the memory cap below; one worker per core is the other limit.
GPU_WORKERS_CAP = 16
GPU_MEMORY_PER_WORKER = 1 << 30


def default_workers(device: str, runs: int, cores: int | None = None,
                    gpu_free_bytes: int | None = None) -> int:
    """Parallel runs when ``--workers`` is not given: one per usable core on CPU (each with
    ``cores // workers`` threads); on CUDA one per core as well, at most ``GPU_WORKERS_CAP``
    and as many as the free GPU memory holds. Never more than there are runs."""
    cores = cores or usable_cores()
    workers = cores
    if device.startswith("cuda"):
        workers = min(cores, GPU_WORKERS_CAP)
        if gpu_free_bytes is None and torch.cuda.is_available():
            gpu_free_bytes = torch.cuda.mem_get_info()[0]
        if gpu_free_bytes is not None:
            workers = min(workers, max(1, gpu_free_bytes // GPU_MEMORY_PER_WORKER))
    return max(1, min(workers, runs))


def run_job(job: Job, settings: WorkerSettings, splits: Splits | None = None,
            progress: Progress | None = None) -> RunRecord:
    torch.set_num_threads(settings.threads)
    importlib.import_module(job.method_module)   # registers methods defined outside bench
    env = RunEnvironment(torch.device(settings.device), settings.data_root, settings.cache_dir,
                         after_fit=after_fit_hooks(settings.hooks),
                         train_step=settings.train_step)
    if progress is not None:
        env.progress = progress
    return execute(job.spec, job.seed, env, splits)


def failed_record(job: Job, error: str, device: str = "cpu") -> RunRecord:
    """The record of a run that never returned one (its worker raised or died)."""
    supervision = METHODS.get(job.spec.method).supervision.value
    return RunRecord(job.spec, job.seed, "failed", supervision, error=error, device=device,
                     versions=package_versions(), git_commit=git_commit())
