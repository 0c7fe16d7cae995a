"""The local launcher: a real process pool on mnist-5k with tiny runs."""
from __future__ import annotations

from collections import Counter

import sweep_probe  # noqa: F401  (registers "sweep-probe"; workers import it by name)
from bench.cli import main
from bench.hooks import HookOptions
from bench.store import Store
from bench.sweep.grid import SweepGrid, expand, parse_set_flags
from bench.sweep.local import run_local
from bench.sweep.worker import WorkerSettings

TINY = ["--source", "mnist-5k", "--diagnostics", "none", "--no-keep-weights", "--device", "cpu",
        "--set", "epochs=1", "--set", "batch_size=256"]


def test_tiny_sweep_on_two_workers_then_nothing_left(capsys):
    args = ["sweep", "--methods", "erm,sweep-probe", "--seeds", "2",
            "--conflict-ratios", "0.02,0.05", "--workers", "2", *TINY]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "8 completed, 0 failed" in " ".join(out.err.split())
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
