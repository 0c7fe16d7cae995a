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
from bench.record import RunRecord, git_commit, package_versions
from bench.registry import METHODS
from bench.sweep.grid import Job


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs besides the job; small and picklable."""
    device: str                      # "cpu" or "cuda" (resolved by the driver)
    hooks: HookOptions
    data_root: Path | None = None
    cache_dir: Path | None = None
    threads: int = 1


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))   # respects taskset and container CPU sets
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Workers share the cores instead of each starting one thread per core."""
    return max(1, (cores or usable_cores()) // max(1, workers))


def run_job(job: Job, settings: WorkerSettings, splits: Splits | None = None) -> RunRecord:
    torch.set_num_threads(settings.threads)
    importlib.import_module(job.method_module)   # registers methods defined outside bench
    env = RunEnvironment(torch.device(settings.device), settings.data_root, settings.cache_dir,
                         after_fit=after_fit_hooks(settings.hooks))
    return execute(job.spec, job.seed, env, splits)


def failed_record(job: Job, error: str, device: str = "cpu") -> RunRecord:
    """The record of a run that never returned one (its worker raised or died)."""
    supervision = METHODS.get(job.spec.method).supervision.value
    return RunRecord(job.spec, job.seed, "failed", supervision, error=error, device=device,
                     versions=package_versions(), git_commit=git_commit())
