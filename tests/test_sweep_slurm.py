"""The SLURM launcher through submitit's local executor (no SLURM needed): one array, records
streamed into the store, failures recorded, and a killed driver's finished tasks ingested by
the next sweep instead of being run again."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("submitit")

import sweep_probe  # noqa: E402,F401  (registers "sweep-probe")
from bench.cli import main  # noqa: E402
from bench.store import Store  # noqa: E402
from bench.runs.slurm_launcher import left_by_earlier_driver, record_path  # noqa: E402

TESTS_DIR = str(Path(__file__).resolve().parent)
SWEEP = ["sweep", "--methods", "sweep-probe", "--set", "crash=no,raise", "--set", "limit=64",
         "--images", "mnist-5k", "--diagnostics", "none", "--no-keep-weights",
         "--device", "cpu", "--launcher", "slurm", "--slurm-local", "--time-min", "5"]


def _array_folders(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_dir() and p.name != "records"}


def test_slurm_array_streams_records_and_resumes(tmp_path, monkeypatch, capsys):
    # array tasks are fresh interpreters: they import the probe by name, as a cluster node would
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (TESTS_DIR, os.environ.get("PYTHONPATH")) if p))
    folder = tmp_path / "slurm"
    store_a = tmp_path / "a.sqlite"
    args = [*SWEEP, "--slurm-folder", str(folder)]
    assert main([*args, "--store", str(store_a)]) == 1          # one run fails on purpose
    err = " ".join(capsys.readouterr().err.split())
    assert "1 completed, 1 failed" in err
    with Store(store_a) as store:
        records = {r.spec.hparams["crash"]: r for r in store.records()}
    assert records["no"].status == "completed"
    assert records["raise"].status == "failed"
    assert records["raise"].error == "RuntimeError: probe asked to fail"
    submitted = _array_folders(folder)
    assert len(submitted) >= 2                                   # a folder per array task
    assert record_path(folder, records["no"].key).exists()

    # A driver killed after its tasks finished: a new sweep (here into a fresh store) finds
    # the completed task's record, stores it without submitting it again, reruns the failure.
    store_b = tmp_path / "b.sqlite"
    assert main([*args, "--store", str(store_b), "--set", "crash=no"]) == 0
    assert _array_folders(folder) == submitted                   # nothing was submitted
    with Store(store_b) as store:
        [again] = store.records()
    assert again.key == records["no"].key and again.metrics == records["no"].metrics


def test_leftover_records_that_failed_or_are_corrupt_are_run_again(tmp_path):
    from bench.runs.grid import SweepGrid, expand, parse_set_flags
    jobs = expand(SweepGrid(("sweep-probe",), seeds=2, source="mnist-5k", diagnostics="none",
                            sets=parse_set_flags(["limit=64"])), "mnist-5k")
    path = record_path(tmp_path, jobs[0].key)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    found, todo = left_by_earlier_driver(jobs, tmp_path)
    assert found == [] and todo == jobs


def test_slurm_options_are_checked_before_anything_runs(tmp_path, capsys):
    code = main([*SWEEP, "--gpus-per-run", "0.5", "--store", str(tmp_path / "s.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "SLURM reserves whole GPUs" in err and "Traceback" not in err


def test_slurm_without_slurm_fails_fast_and_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))            # no sbatch, no srun
    args = [a for a in SWEEP if a != "--slurm-local"]
    assert main([*args, "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "SLURM is not available here" in err and "--slurm-local" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CPU-only machine")
def test_slurm_local_resolves_the_device_where_the_jobs_run(tmp_path, monkeypatch):
    """``--slurm-local`` runs the array on this machine: ``--device auto`` is this machine's
    device (cpu here), and no GPU is reserved."""
    import bench.runs.slurm_launcher as slurm
    seen = {}
    monkeypatch.setattr(slurm, "run_slurm", lambda jobs, settings, on_record, options:
                        seen.update(device=settings.device, gpus=options.gpus_per_run))
    args = [a if a != "cpu" else "auto" for a in SWEEP]
    assert main([*args, "--store", str(tmp_path / "s.sqlite")]) == 0
    assert seen == {"device": "cpu", "gpus": 0}


class _Task:
    def __init__(self, job_id: str):
        self.job_id, self.cancelled = job_id, False

    def cancel(self, check: bool = True) -> None:
        self.cancelled = True


def test_an_interrupted_array_is_cancelled_or_the_command_to_do_it_printed(monkeypatch,
                                                                              capsys):
    import subprocess

    from bench.runs.slurm_launcher import cancel_array
    calls = []

    def scancel(argv, **kwargs):
        calls.append(argv)
        raise FileNotFoundError("scancel")
    monkeypatch.setattr(subprocess, "run", scancel)
    cancel_array([_Task("4321_0"), _Task("4321_1")], "slurm")
    assert calls == [["scancel", "4321"]]                 # one call for the whole array
    assert "cancel them with: scancel 4321" in capsys.readouterr().err
    local = [_Task("1"), _Task("2")]
    cancel_array(local, "local")
    assert all(t.cancelled for t in local)
