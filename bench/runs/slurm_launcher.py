"""The SLURM launcher: the sweep's runs as one job array, submitted through ``submitit``.

- One array per sweep (``executor.batch()``), one array task per run; each task declares its
  CPUs (= its torch threads), GPUs, memory, time limit and partition.
- Records stream back as tasks finish; the driver alone writes the store, one transaction each.
- Each task also leaves its record in ``<folder>/records/``. A driver that was killed (or a
  laptop that went to sleep) loses nothing: the next ``bench sweep`` ingests the records that
  finished meanwhile instead of running them again, then submits what is still missing.
- Ctrl-C or SIGTERM cancels the array's unfinished tasks (one ``scancel``; where that fails,
  the command to run is printed).
- Tasks read the digits from ``--data-root`` and the split cache, so both must be on a file
  system the nodes see (the driver builds each split into the cache before submitting).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.errors import ConfigError
from bench.record import RunRecord
from bench.record_schema import RecordError, record_from_text
from bench.runs.grid import Job
from bench.runs.local import WORKER_DIED, OnRecord, prepare_data
from bench.runs.worker import WorkerSettings, failed_record, run_job

INSTALL_HINT = "--launcher slurm needs submitit: pip install 'lazy-artist-bench[slurm]'"


@dataclass(frozen=True)
class SlurmOptions:
    folder: Path                       # submitit's logs and pickles, and the records/ folder
    partition: str | None = None
    time_min: int = 60                 # per run
    gpus_per_run: int = 0
    mem_gb: float = 4.0
    max_parallel: int = 64             # array tasks running at once
    cluster: str = "slurm"             # "local": submitit's local executor (tests, no SLURM)
    poll_s: float = 5.0


def check_slurm_available() -> None:
    """Fails fast, before any data is built, where SLURM's commands are missing."""
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise ConfigError(f"--launcher slurm: SLURM is not available here ({' and '.join(missing)}"
                          f" not found on PATH); run the sweep on the cluster's login node, or "
                          f"add --slurm-local to run the array on this machine")


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return submitit


def record_path(folder: Path, key: str) -> Path:
    return Path(folder) / "records" / (key.replace("/", "-") + ".json")


def _run_task(job: Job, settings: WorkerSettings, folder: str) -> RunRecord:
    """What an array task runs: the job, then its record written next to the logs (atomically,
    so a half-written file is never ingested)."""
    record = run_job(job, settings)
    path = record_path(Path(folder), job.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record.to_json_dict(), sort_keys=True))
    partial.replace(path)
    return record


def left_by_earlier_driver(jobs: list[Job], folder: Path) -> tuple[list[RunRecord], list[Job]]:
    """Completed records that tasks of an earlier, interrupted sweep wrote, and the jobs that
    still have to run. Failed or unreadable leftovers are run again."""
    found, todo = [], []
    for job in jobs:
        path = record_path(folder, job.key)
        try:
            record = record_from_text(path.read_text())
        except (OSError, UnicodeDecodeError, RecordError):
            todo.append(job)
            continue
        if record.status == "completed" and record.key == job.key:
            found.append(record)
        else:
            todo.append(job)
    return found, todo


def make_executor(options: SlurmOptions, settings: WorkerSettings):
    submitit = import_submitit()
    try:
        executor = submitit.AutoExecutor(folder=Path(options.folder) / "%j",
                                         cluster=options.cluster)
    except RuntimeError as exc:               # e.g. "Could not detect srun"
        raise ConfigError(f"--launcher slurm: {exc}; run on the cluster's login node or add "
                          f"--slurm-local") from None
    params = dict(timeout_min=options.time_min, cpus_per_task=settings.threads,
                  mem_gb=options.mem_gb, name="bench-sweep")
    if options.gpus_per_run:
        params["gpus_per_node"] = options.gpus_per_run
    if options.cluster == "slurm":
        params["slurm_array_parallelism"] = options.max_parallel
        if options.partition:
            params["slurm_partition"] = options.partition
    executor.update_parameters(**params)
    return executor


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    # submitit's UncompletedJobError means the task died (time limit, node failure, killed)
    if type(exc).__name__ == "UncompletedJobError":
        return f"{WORKER_DIED}; see the SLURM log: {text.splitlines()[0] if text else ''}"
    # a FailedJobError carries the task's traceback; its last line is the exception
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


def run_slurm(jobs: list[Job], settings: WorkerSettings, on_record: OnRecord,
              options: SlurmOptions) -> None:
    """Submits the jobs as one array and calls ``on_record`` on the driver as tasks finish."""
    submitit = import_submitit()
    if settings.device == "auto":
        settings = dataclasses.replace(
            settings, device="cuda" if options.gpus_per_run else "cpu")
    found, todo = left_by_earlier_driver(jobs, options.folder)
    for record in found:
        on_record(record)
    if not todo:
        return
    prepare_data(todo, settings)
    executor = make_executor(options, settings)
    with executor.batch():
        submitted = [executor.submit(_run_task, job, settings, str(options.folder))
                     for job in todo]
    by_id = {task.job_id: job for task, job in zip(submitted, todo)}
    try:
        for task in submitit.helpers.as_completed(submitted, poll_frequency=options.poll_s):
            job = by_id[task.job_id]
            try:
                record = task.result()
            except Exception as exc:          # the task raised, timed out or was killed
                record = failed_record(job, _error_text(exc), settings.device)
            on_record(record)
    except BaseException:                     # Ctrl-C or a store failure: stop the array
        cancel_array(submitted, options.cluster)
        raise


def cancel_array(tasks: list, cluster: str) -> None:
    """Cancels the array's unfinished tasks and says so; where that fails, prints the
    command that does it (tasks already finished are stored or left in the records folder)."""
    if not tasks:
        return
    if cluster != "slurm":                    # submitit's local executor: its own processes
        for task in tasks:
            task.cancel(check=False)
        sys.stderr.write(f"cancelled the {len(tasks)} local array task(s)\n")
        return
    array = str(tasks[0].job_id).split("_")[0]
    try:
        done = subprocess.run(["scancel", array], capture_output=True, text=True, timeout=30)
        failed = done.returncode != 0 and (done.stderr.strip() or f"exit {done.returncode}")
    except (OSError, subprocess.SubprocessError) as exc:
        failed = str(exc)
    if failed:
        sys.stderr.write(f"could not cancel SLURM array {array} ({failed}); its unfinished "
                         f"tasks may still run: cancel them with: scancel {array}\n")
    else:
        sys.stderr.write(f"cancelled SLURM array {array} (scancel {array})\n")
