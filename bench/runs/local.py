"""The local launcher: a process pool on this machine.

- ``workers`` processes (spawned, so no state leaks from the driver), each with
  ``cores // workers`` torch threads: together they use the cores once, not ``workers`` times.
- At most ``workers`` jobs are submitted at a time, so that Ctrl-C has little to cancel and a
  dead worker can be attributed to the job that killed it.
- A job that raises becomes a failed record. A worker that dies (killed, out of memory,
  segfault) breaks the whole pool: the jobs in flight are requeued, and each is then run
  alone; one that kills its worker while running alone is recorded as failed.
- Ctrl-C (or SIGTERM, :mod:`bench.interrupts`) cancels what is pending, terminates the
  workers and re-raises; records already handed to ``on_record`` (and stored) are kept.
- A worker whose driver dies (even by SIGKILL, which leaves no chance to clean up) notices
  that it was orphaned within a second and exits, so no training outlives its command.
- Progress (``start``/``advance`` of each training phase) travels from the workers to the
  driver over one queue; the driver hands it to a :class:`Progress` per job.
- With one worker and ``isolate=False`` (``bench run --workers 1``) the jobs run in this
  process, one after another, through the same job function: no spawn cost, but a crash in
  native code then ends the command, as it always did.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import torch

from bench.errors import BenchError
from bench.data import prepare_splits
from bench.method import Progress
from bench.record import RunRecord
from bench.runs.grid import Job
from bench.runs.worker import WorkerSettings, failed_record, run_job

OnRecord = Callable[[RunRecord], None]
# job_fn(job, settings, progress=...) -> record; runs in a worker (or inline)
JobFunction = Callable[..., RunRecord]
# progress_for(job) -> the driver-side Progress that shows this job
ProgressFactory = Callable[[Job], Progress]

WORKER_DIED = ("its worker process died while running it (killed, out of memory or a crash "
               "in native code)")
ORPHAN_CHECK_S = 0.5          # how often a worker checks that its driver is alive
ORPHAN_EXIT_CODE = 75
STOP_GRACE_S = 2.0            # a stopped worker gets this long to exit on SIGTERM

_SPAWN = multiprocessing.get_context("spawn")
# The worker's end of the progress queue, set once per worker process by _init_worker (a
# queue can only reach a process when it starts, not with each job).
_worker_events: Any = None


def _exit_when_orphaned(parent_pid: int) -> None:
    # When the driver dies the worker is re-parented (to init or a subreaper), so its parent
    # pid changes; polling works on Linux and macOS, for every way the driver can die.
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(ORPHAN_EXIT_CODE)


def _init_worker(threads: int, events: Any = None, parent_pid: int | None = None) -> None:
    global _worker_events
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the driver's to handle
    torch.set_num_threads(threads)
    _worker_events = events
    if events is not None:
        # Progress is best effort: a worker never waits at exit to flush it (a worker that
        # died mid-write could otherwise hold the queue's lock and stall the others' exit).
        events.cancel_join_thread()
    if parent_pid is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True,
                         name="exit-when-orphaned").start()


class QueueProgress(Progress):
    """A worker's progress, sent to the driver as small tuples tagged with the job's key."""

    def __init__(self, events: Any, key: str):
        self.events, self.key = events, key

    def start(self, phase: str, total: int) -> None:
        self.events.put(("start", self.key, phase, total))

    def advance(self, steps: int) -> None:
        self.events.put(("advance", self.key, steps))


def _job_in_worker(job_fn: JobFunction, job: Job, settings: WorkerSettings) -> RunRecord:
    progress = QueueProgress(_worker_events, job.key) if _worker_events is not None else None
    return job_fn(job, settings, progress=progress)


def _new_pool(workers: int, settings: WorkerSettings, events: Any) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(workers, mp_context=_SPAWN, initializer=_init_worker,
                                  initargs=(settings.threads, events, os.getpid()))


def _ready() -> None:
    """A no-op job: submitting one makes the pool spawn a worker now."""


def _started_pool(workers: int, settings: WorkerSettings, events: Any) -> cf.ProcessPoolExecutor:
    pool = _new_pool(workers, settings, events)
    for _ in range(workers):       # a process pool spawns its workers as jobs arrive
        pool.submit(_ready)
    return pool


class _ProgressPump:
    """Driver side of the progress queue: a thread that hands each event to the job's
    Progress, until the job's record has arrived (late events are dropped)."""

    def __init__(self, jobs: list[Job], progress_for: ProgressFactory):
        self.events = _SPAWN.Queue()
        self._jobs = {job.key: job for job in jobs}
        self._progress_for = progress_for
        self._live: dict[str, Progress] = {}
        self._ended: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, daemon=True, name="progress")
        self._thread.start()

    def _pump(self) -> None:
        while True:
            try:
                event = self.events.get()
            except (EOFError, OSError):      # a worker died mid-write: stop showing progress
                return
            if event is None:
                return
            kind, key, *payload = event
            with self._lock:
                if key in self._ended or key not in self._jobs:
                    continue
                progress = self._live.get(key)
                if progress is None:
                    progress = self._live[key] = self._progress_for(self._jobs[key])
                if kind == "start":
                    progress.start(*payload)
                else:
                    progress.advance(*payload)

    def ended(self, key: str) -> None:
        with self._lock:
            self._ended.add(key)
            progress = self._live.pop(key, None)
        finish = getattr(progress, "finish", None)
        if finish is not None:
            finish()

    def close(self, wait_s: float = 5.0) -> None:
        """Stops the thread. After an interrupt ``wait_s`` is short: a worker terminated
        mid-write can leave the queue locked, and the thread is a daemon that exit does not
        wait for; a thread still reading keeps the queue (closing it under the thread's read
        would raise there)."""
        self.events.put(None)
        self._thread.join(timeout=wait_s)
        if not self._thread.is_alive():
            self.events.close()
        self.events.cancel_join_thread()


def _stop(pool: cf.ProcessPoolExecutor) -> None:
    """Cancels what is pending and ends every worker within ``STOP_GRACE_S`` (SIGTERM, then
    SIGKILL for one that does not exit), so that no training outlives an interrupt."""
    # Before shutdown: on Python 3.9-3.13 shutdown() empties the pool's process table (the
    # only way to reach a running worker before 3.14's terminate_workers), and a worker left
    # training would hold the command until its run ends.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.exitcode is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    waiting = [p for p in processes if p.exitcode is None]
    while waiting and time.monotonic() < deadline:
        multiprocessing.connection.wait([p.sentinel for p in waiting],
                                        timeout=deadline - time.monotonic())
        waiting = [p for p in waiting if p.exitcode is None]
    for process in waiting:
        process.kill()


def prepare_data(jobs: list[Job], settings: WorkerSettings) -> None:
    """Builds each distinct data spec once, in the driver, so workers find it in the disk
    cache instead of several of them generating the same images at the same time."""
    for data, dataset in dict.fromkeys((j.data_spec(), j.spec.dataset) for j in jobs):
        prepare_splits(data, dataset, settings.data_root, settings.cache_dir)


def run_local(jobs: list[Job], settings: WorkerSettings, workers: int, on_record: OnRecord,
              job_fn: JobFunction = run_job, progress_for: ProgressFactory | None = None,
              isolate: bool = True, stop_on_input_error: bool = False) -> None:
    """Runs every job; ``on_record`` is called in this process for each record as it
    arrives (completed or failed). ``progress_for(job)``: where a job's progress is shown.
    A BenchError (bad input or data) raised by a job becomes a failed record, so a sweep's
    other cells go on; with ``stop_on_input_error`` (``bench run``: one configuration, so
    every seed would fail alike) it is raised instead, after the records already in."""
    if workers == 1 and not isolate:
        prepare_data(jobs, settings)
        _run_inline(jobs, settings, on_record, job_fn, progress_for, stop_on_input_error)
        return
    pump = _ProgressPump(jobs, progress_for) if progress_for is not None else None
    events = pump.events if pump is not None else None
    # Spawn the first pool's workers before preparing the data: each spends seconds importing
    # torch, which then overlaps the driver's data preparation instead of following it.
    pool: cf.ProcessPoolExecutor | None = _started_pool(workers, settings, events)
    try:
        prepare_data(jobs, settings)
    except BaseException:
        _stop(pool)
        if pump is not None:
            pump.close()
        raise

    def record_arrived(record: RunRecord) -> None:
        if pump is not None:
            pump.ended(record.key)
        on_record(record)

    queue = deque(jobs)
    suspects: set[str] = set()      # keys of jobs in flight when a worker died
    stopped = False
    try:
        while queue:
            pool = pool or _new_pool(workers, settings, events)
            try:
                _run_until_broken(pool, queue, suspects, settings, workers, record_arrived,
                                  job_fn, stop_on_input_error)
            except BaseException:       # Ctrl-C, SIGTERM, or the store failing in on_record
                stopped = True
                _stop(pool)
                raise
            pool.shutdown(wait=True)
            pool = None
        if pool is not None:        # no jobs at all: the warm pool was never used
            pool.shutdown(wait=True)
    finally:
        if pump is not None:
            pump.close(wait_s=0.5 if stopped else 5.0)


def _run_inline(jobs: list[Job], settings: WorkerSettings, on_record: OnRecord,
                job_fn: JobFunction, progress_for: ProgressFactory | None,
                stop_on_input_error: bool) -> None:
    threads = torch.get_num_threads()
    try:
        for job in jobs:
            progress = progress_for(job) if progress_for is not None else None
            try:
                record = job_fn(job, settings, progress=progress)
            except Exception as exc:    # as a worker's exception becomes a failed record
                record = _failed_or_raise(job, exc, settings, stop_on_input_error)
            finish = getattr(progress, "finish", None)
            if finish is not None:
                finish()
            on_record(record)
    finally:
        torch.set_num_threads(threads)   # the driver's own setting, as it was


def _run_until_broken(pool, queue: deque, suspects: set[str], settings: WorkerSettings,
                      workers: int, on_record: OnRecord, job_fn: JobFunction,
                      stop_on_input_error: bool) -> None:
    in_flight: dict[cf.Future, Job] = {}
    while queue or in_flight:
        while queue and len(in_flight) < workers:
            if queue[0].key in suspects and in_flight:
                break                                   # a suspect runs alone
            job = queue.popleft()
            in_flight[pool.submit(_job_in_worker, job_fn, job, settings)] = job
            if job.key in suspects:
                break
        done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
        lost = []
        for future in done:
            job = in_flight.pop(future)
            if _lost(future, job, settings, on_record, stop_on_input_error):
                lost.append(job)
        if not lost:
            continue
        # The pool is broken: whatever else was in flight is lost with it.
        for future in cf.wait(in_flight).done:
            if _lost(future, in_flight[future], settings, on_record, stop_on_input_error):
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


def _failed_or_raise(job: Job, exc: Exception, settings: WorkerSettings,
                     stop_on_input_error: bool) -> RunRecord:
    if stop_on_input_error and isinstance(exc, BenchError):
        raise exc
    return failed_record(job, f"{type(exc).__name__}: {exc}", settings.device)


def _lost(future: cf.Future, job: Job, settings: WorkerSettings, on_record: OnRecord,
          stop_on_input_error: bool) -> bool:
    """Hands a finished future's record to ``on_record``; True when its worker died."""
    try:
        record = future.result()
    except BrokenProcessPool:
        return True
    except Exception as exc:       # raised in the worker (e.g. bad data): a failed run
        record = _failed_or_raise(job, exc, settings, stop_on_input_error)
    on_record(record)
    return False
