"""scripts/lff_cmnist_rows.sh: the 140 runs of issue 28 on the lff-cmnist preset, planned in
full, and its path run on a CPU (one method here; all seven with -m slow)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.store import Store

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lff_cmnist_rows.sh"
METHODS = ("erm", "lff-paper", "dfa", "jtt", "kmeans", "groupdro", "group-balanced")
SMOKE = ("--device", "cpu", "--images", "mnist-5k", "--seeds", "1", "--conflict-ratios", "0.01",
         "--epochs", "1", "--workers", "1")


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BENCH": f"{sys.executable} -m bench", "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=1800)


def test_it_plans_seven_methods_at_four_ratios_and_five_seeds(tmp_path):
    done = run_script(str(tmp_path / "rows"), "--dry-run", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-2000:]
    out = " ".join((done.stdout + done.stderr).split())
    assert "sweep: 140 runs in the plan" in out and "140 to run" in out
    assert all(f" {m} " in out for m in METHODS)
    assert (tmp_path / "rows").is_dir()          # the store's folder, nothing else yet


def test_its_path_runs_on_a_cpu_and_stores_the_preset(tmp_path):
    folder = tmp_path / "rows"
    done = run_script(str(folder), *SMOKE, "--methods", "erm")
    assert done.returncode == 0, done.stderr[-2000:]
    with Store(folder / "results.sqlite") as store:
        (record,) = store.records()
    assert record.status == "completed" and record.spec.extras["protocol"] == "lff-cmnist"
    assert record.spec.backbone == "mlp-3x100" and record.spec.dataset == "colored-exact"
    # it exports nothing: the store and its weights folder are all it writes
    assert sorted(p.name for p in folder.iterdir()) == ["results.sqlite", "results.weights"]


@pytest.mark.slow
def test_every_method_of_the_rows_runs_on_a_cpu(tmp_path):
    folder = tmp_path / "rows"
    done = run_script(str(folder), *SMOKE)
    assert done.returncode == 0, done.stderr[-3000:]
    with Store(folder / "results.sqlite") as store:
        records = store.records()
    assert sorted(r.spec.method for r in records) == sorted(METHODS)
    assert all(r.status == "completed" for r in records)


def test_without_a_folder_it_says_how_to_call_it():
    done = run_script()
    assert done.returncode == 2 and "usage:" in done.stderr
