"""The local launcher: a process pool on this machine.

- ``workers`` processes (spawned, so no state leaks from the driver), each with
  ``cores // workers`` torch threads: together they use the cores once, not ``workers`` times.
- At most ``workers`` jobs are submitted at a time, so that Ctrl-C has little to cancel and a
  dead worker can be attributed to the job that killed it.
- A job that raises becomes a failed record. A worker that dies (killed, out of memory,
  segfault) breaks the whole pool: the jobs in flight are requeued, and each is then run
  alone; one that kills its worker while running alone is recorded as failed.
- Ctrl-C cancels what is pending, stops the workers and re-raises; records already handed
  to ``on_record`` (and stored by the driver) are kept.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import signal
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

import torch

from bench.data import prepare_splits
from bench.record import RunRecord
from bench.sweep.grid import Job
from bench.sweep.worker import WorkerSettings, failed_record, run_job

OnRecord = Callable[[RunRecord], None]
JobFunction = Callable[[Job, WorkerSettings], RunRecord]

WORKER_DIED = ("its worker process died while running it (killed, out of memory or a crash "
               "in native code)")


def _init_worker(threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the driver's to handle
    torch.set_num_threads(threads)


def _new_pool(workers: int, settings: WorkerSettings) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_init_worker, initargs=(settings.threads,))


def _stop(pool: cf.ProcessPoolExecutor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(pool, "terminate_workers", None)          # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # Older Pythons have no public way to stop a running worker; the pool's process table
    # has been stable since 3.2.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def prepare_data(jobs: list[Job], settings: WorkerSettings) -> None:
    """Builds each distinct data spec once, in the driver, so workers find it in the disk
    cache instead of several of them generating the same images at the same time."""
    for data, dataset in dict.fromkeys((j.data_spec(), j.spec.dataset) for j in jobs):
        prepare_splits(data, dataset, settings.data_root, settings.cache_dir)


def run_local(jobs: list[Job], settings: WorkerSettings, workers: int, on_record: OnRecord,
              job_fn: JobFunction = run_job) -> None:
    """Runs every job; ``on_record`` is called in this process for each record as it
    arrives (completed or failed)."""
    prepare_data(jobs, settings)
    queue = deque(jobs)
    suspects: set[str] = set()      # keys of jobs in flight when a worker died
    while queue:
        pool = _new_pool(workers, settings)
        try:
            _run_until_broken(pool, queue, suspects, settings, workers, on_record, job_fn)
        except BaseException:       # Ctrl-C, or the store failing in on_record
            _stop(pool)
            raise
        pool.shutdown(wait=True)


def _run_until_broken(pool, queue: deque, suspects: set[str], settings: WorkerSettings,
                      workers: int, on_record: OnRecord, job_fn: JobFunction) -> None:
    in_flight: dict[cf.Future, Job] = {}
    while queue or in_flight:
        while queue and len(in_flight) < workers:
            if queue[0].key in suspects and in_flight:
                break                                   # a suspect runs alone
            job = queue.popleft()
            in_flight[pool.submit(job_fn, job, settings)] = job
            if job.key in suspects:
                break
        done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
        lost = []
        for future in done:
            job = in_flight.pop(future)
            if _lost(future, job, settings, on_record):
                lost.append(job)
        if not lost:
            continue
        # The pool is broken: whatever else was in flight is lost with it.
        for future in cf.wait(in_flight).done:
            if _lost(future, in_flight[future], settings, on_record):
                lost.append(in_flight[future])
        in_flight.clear()
        if len(lost) == 1:
            on_record(failed_record(lost[0], WORKER_DIED, settings.device))
        else:
            # Several were in flight: run each alone to find which one kills its worker.
            for job in reversed(lost):
                if job.key in suspects:
                    on_record(failed_record(job, WORKER_DIED, settings.device))
                else:
                    suspects.add(job.key)
                    queue.appendleft(job)
        return


def _lost(future: cf.Future, job: Job, settings: WorkerSettings, on_record: OnRecord) -> bool:
    """Hands a finished future's record to ``on_record``; True when its worker died."""
    try:
        record = future.result()
    except BrokenProcessPool:
        return True
    except Exception as exc:       # raised in the worker (e.g. bad data): a failed run
        record = failed_record(job, f"{type(exc).__name__}: {exc}", settings.device)
    on_record(record)
    return False
