"""The local launcher: a real process pool on mnist-5k with tiny runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import sweep_probe  # noqa: F401  (registers "sweep-probe"; workers import it by name)
from live_processes import HAS_PROC, is_alive
from bench.cli import main
from bench.hooks import HookOptions
from bench.method import Progress
from bench.store import Store
from bench.runs.grid import SweepGrid, expand, parse_set_flags
from bench.runs.local import run_local
from bench.runs.worker import WorkerSettings

TESTS_DIR = str(Path(__file__).resolve().parent)
# the driver must know the probe method too, so it runs through a one-line launcher
LAUNCH = [sys.executable, "-c", "import sys, sweep_probe; from bench.cli import main; "
          "sys.exit(main(sys.argv[1:]))"]
TINY = ["--images", "mnist-5k", "--diagnostics", "none", "--no-keep-weights", "--device", "cpu",
        "--set", "epochs=1", "--set", "batch_size=256"]


def test_tiny_sweep_on_two_workers_then_nothing_left(capsys):
    args = ["sweep", "--methods", "erm,sweep-probe", "--seeds", "2",
            "--conflict-ratios", "0.02,0.05", "--workers", "2", *TINY]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "8 completed, 0 failed" in " ".join(out.err.split())
    finished = [line for line in out.err.splitlines() if "/8 runs" in line]   # one per run
    assert len(finished) == 8 and finished[-1].endswith("[8/8 runs]"), out.err
    line = "sweep-probe r=0.05 batch_size=256 epochs=1 seed 1:"
    assert sum(line in done for done in finished) == 1
    assert "sweep-probe" in out.out and "erm" in out.out          # the summary table
    with Store() as store:
        records = store.records()
    assert len(records) == 8 and {r.status for r in records} == {"completed"}
    assert len({r.key for r in records}) == 8
    assert Counter(r.spec.method for r in records) == {"erm": 4, "sweep-probe": 4}
    assert {(r.spec.data["conflict_ratio"], r.seed) for r in records} == \
        {(0.02, 0), (0.02, 1), (0.05, 0), (0.05, 1)}
    assert all(r.spec.hparams["epochs"] == 1 for r in records)    # --set reached both methods

    assert main(args) == 0                                         # resumable: nothing to run
    assert "8 already stored, 0 to run" in " ".join(capsys.readouterr().err.split())
    with Store() as store:
        assert len(store.records()) == 8


def test_a_crashing_run_is_recorded_and_the_sweep_goes_on():
    """An exception inside fit (the harness records it), a BenchError escaping the worker,
    and a worker that dies: each becomes one failed record; the healthy run completes."""
    grid = SweepGrid(("sweep-probe",), source="mnist-5k", diagnostics="none",
                     sets=parse_set_flags(["crash=no,raise,data,exit", "limit=64"]))
    jobs = expand(grid, "mnist-5k")
    records = []
    settings = WorkerSettings("cpu", HookOptions(diagnostics="none", keep_weights=False))
    run_local(jobs, settings, workers=2, on_record=records.append)
    assert sorted(r.key for r in records) == sorted(j.key for j in jobs)   # once each
    by_crash = {r.spec.hparams["crash"]: r for r in records}
    assert by_crash["no"].status == "completed"
    assert by_crash["raise"].status == "failed"
    assert by_crash["raise"].error == "RuntimeError: probe asked to fail"
    assert by_crash["data"].status == "failed"
    assert by_crash["data"].error == "DataError: probe asked for missing data"
    assert by_crash["exit"].status == "failed"
    assert "worker process died" in by_crash["exit"].error


def _comparable(record) -> dict[str, float]:
    """Metrics that depend on the computation only (not on timing or memory)."""
    return {k: v for k, v in record.metrics.items()
            if not k.startswith("seconds_") and k != "peak_memory_mb"}


def test_a_seed_in_a_parallel_pool_equals_the_same_seed_run_alone():
    grid = SweepGrid(("erm",), seeds=2, source="mnist-5k", diagnostics="none",
                     sets=parse_set_flags(["epochs=1", "batch_size=128"]))
    jobs = expand(grid, "mnist-5k")
    settings = WorkerSettings("cpu", HookOptions(diagnostics="none", keep_weights=False),
                              threads=1)
    pooled = []
    run_local(jobs, settings, workers=2, on_record=pooled.append)
    alone = []                      # in this process, one after another, at one thread too
    run_local(jobs, settings, workers=1, on_record=alone.append, isolate=False)
    pooled = {r.seed: r for r in pooled}
    for record in alone:
        twin = pooled[record.seed]
        assert record.status == twin.status == "completed"
        assert record.versions["torch_num_threads"] == twin.versions["torch_num_threads"] == "1"
        assert _comparable(record) == _comparable(twin)
        assert record.confusion == twin.confusion
    assert _comparable(pooled[0]) != _comparable(pooled[1])    # seeds differ: a real check


class _Recorder(Progress):
    def __init__(self, log: list, key: str):
        self.log, self.key = log, key

    def start(self, phase: str, total: int) -> None:
        self.log.append((self.key, "start", phase, total))

    def advance(self, steps: int) -> None:
        self.log.append((self.key, "advance", steps))

    def finish(self) -> None:
        self.log.append((self.key, "finish"))


def test_workers_progress_reaches_the_driver_and_ends_with_each_record():
    grid = SweepGrid(("sweep-probe",), seeds=2, source="mnist-5k", diagnostics="none",
                     sets=parse_set_flags(["limit=256", "batch_size=16"]))
    jobs = expand(grid, "mnist-5k")
    log: list = []
    records = []

    def on_record(record):
        log.append((record.key, "record"))
        records.append(record)
    settings = WorkerSettings("cpu", HookOptions(diagnostics="none", keep_weights=False))
    run_local(jobs, settings, 2, on_record, progress_for=lambda job: _Recorder(log, job.key))
    for job in jobs:
        mine = [e for e in log if e[0] == job.key]
        # the selection's bias proxy trains first (all 3,600 of mnist-5k's training images,
        # fewer than its 4,096, at batch 16), then the probe (256 images / batch 16)
        assert [e[2:] for e in mine if e[1] == "start"] == [("bias proxy", 225), ("train", 16)]
        assert sum(e[2] for e in mine if e[1] == "advance") == 225 + 16
        # the job's Progress is finished before its record is handed on, and hears no more
        assert [e[1] for e in mine[-2:]] == ["finish", "record"]


@pytest.mark.skipif(not HAS_PROC, reason="reads /proc (Linux)")
@pytest.mark.parametrize("command", [
    ["run", "--method", "sweep-probe", "--seeds", "2"],
    ["sweep", "--methods", "sweep-probe", "--seeds", "2"],
])
def test_sigkill_of_the_driver_leaves_no_worker_running(command, tmp_path):
    """Only the driver is killed (not its process group, as a user's ``kill -9 PID`` or an
    out-of-memory killer would); its two workers, stuck in fit, must exit on their own."""
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "SWEEP_PROBE_MARKS": str(marks), "PYTHONPATH": os.pathsep.join(
        p for p in (TESTS_DIR, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([*LAUNCH, *command, "--set", "crash=hang", "--workers", "2",
                             *TINY[:-4]], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(list(marks.iterdir())) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "workers never started"
            time.sleep(0.2)
        workers = [int(p.name) for p in marks.iterdir()]
        assert all(is_alive(pid) for pid in workers)
        proc.kill()                                   # SIGKILL, the driver only
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(is_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in workers if is_alive(pid)] == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)       # whatever a failure left behind
        except ProcessLookupError:
            pass


def test_stop_terminates_workers_that_are_running_a_job():
    """On Python 3.9-3.13 the pool's shutdown() forgets its processes: the stop must take them
    first, or a worker in the middle of a run trains on to the end of it."""
    import concurrent.futures as cf
    import multiprocessing

    from bench.runs.local import _stop
    pool = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    running = [pool.submit(time.sleep, 600) for _ in range(2)]
    processes = list(pool._processes.values())
    deadline = time.monotonic() + 120
    while not all(f.running() for f in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    _stop(pool)
    for process in processes:
        process.join(timeout=10)
    assert [p.pid for p in processes if p.is_alive()] == []
