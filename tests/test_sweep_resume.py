"""A sweep killed with SIGKILL (driver and workers: the whole process group) and started again
finishes the rest, with no duplicates and no completed run lost; Ctrl-C stops cleanly."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from live_processes import wait_until_gone

pytestmark = pytest.mark.slow   # spawns and kills sweep processes: end to end

TESTS_DIR = str(Path(__file__).resolve().parent)
# the driver must know the probe method too, so it runs through a one-line launcher
LAUNCH = [sys.executable, "-c", "import sys, sweep_probe; from bench.cli import main; "
          "sys.exit(main(sys.argv[1:]))"]
SWEEP = ["sweep", "--methods", "sweep-probe", "--seeds", "3", "--conflict-ratios", "0.02,0.05",
         "--set", "limit=64", "--images", "mnist-5k", "--diagnostics", "none",
         "--no-keep-weights", "--device", "cpu"]
TOTAL = 6


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (TESTS_DIR, os.environ.get("PYTHONPATH")) if p)}


def _rows(store: str) -> dict[str, tuple]:
    if not Path(store).exists():
        return {}
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT key, id, status, created_at, record FROM runs").fetchall()
    except sqlite3.OperationalError:          # table not created yet
        return {}
    finally:
        conn.close()
    return {key: rest for key, *rest in rows}


def _start_and_wait_for_first_result(store: str, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([*LAUNCH, *SWEEP, "--workers", "1"], env=_env(),
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))
    deadline = time.monotonic() + 300
    while not any(r[1] == "completed" for r in _rows(store).values()):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no run completed in 300 s"
        time.sleep(0.2)
    return proc


def test_sigkill_mid_sweep_then_rerun_finishes_without_duplicates(tmp_path):
    store = os.environ["BENCH_STORE"]
    proc = _start_and_wait_for_first_result(store, tmp_path / "first.log")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert wait_until_gone(proc.pid) == []
    before = {k: r for k, r in _rows(store).items() if r[1] == "completed"}
    assert 1 <= len(before) < TOTAL, "the kill must land mid-sweep"

    done = subprocess.run([*LAUNCH, *SWEEP, "--workers", "2"], env=_env(), timeout=600,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} already stored, {TOTAL - len(before)} to run" in \
        " ".join(done.stderr.split())
    after = _rows(store)
    assert len(after) == TOTAL                      # the key is unique: no duplicates
    assert {r[1] for r in after.values()} == {"completed"}
    for key, row in before.items():                 # completed rows untouched (id, record)
        assert after[key] == row


def test_ctrl_c_stops_workers_and_keeps_completed_runs(tmp_path):
    store = os.environ["BENCH_STORE"]
    log = tmp_path / "sweep.log"
    proc = _start_and_wait_for_first_result(store, log)
    os.killpg(proc.pid, signal.SIGINT)              # what a terminal's Ctrl-C does
    assert proc.wait(timeout=60) == 130, log.read_text()
    assert "sweep interrupted" in log.read_text()
    assert wait_until_gone(proc.pid) == []         # no worker left running
    rows = _rows(store)
    completed = [r for r in rows.values() if r[1] == "completed"]
    assert 1 <= len(completed) < TOTAL
