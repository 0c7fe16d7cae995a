"""``bench`` end to end on the bundled digits with a tiny config, and its one-line errors."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys

import pytest

from bench.cli import main

TINY = ["--source", "mnist-5k", "--epochs", "1", "--set", "batch_size=64", "--device", "cpu",
        "--diagnostics", "none", "--no-keep-weights"]


def _run(store, *extra: str) -> int:
    return main(["run", "--method", "erm", *TINY, "--store", str(store), *extra])


def _records(store) -> list[dict]:
    con = sqlite3.connect(store)
    try:
        return [json.loads(r[0]) for r in con.execute("SELECT record FROM runs ORDER BY id")]
    finally:
        con.close()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """One finished tiny run (seed 0), shared by the read-only tests of this module."""
    store = tmp_path_factory.mktemp("cli") / "results.sqlite"
    assert _run(store) == 0
    return store


def test_run_stores_a_completed_seed_with_the_headline_metrics(stored):
    [record] = _records(stored)
    assert record["status"] == "completed" and record["source"] == "mnist-5k"
    for name in ("acc_train", "acc_val", "acc_aligned", "acc_conflicting", "acc_cycled",
                 "acc_greyscale", "worst_group_acc", "seconds_data", "seconds_train",
                 "seconds_eval"):
        assert name in record["metrics"], name
    assert len(record["confusion_conflicting"]) == 10


def test_rerun_skips_stored_seeds_and_force_reruns(stored, capsys):
    assert _run(stored) == 0
    assert "already stored, skipped" in capsys.readouterr().err
    assert len(_records(stored)) == 1


def test_results_formats(stored, capsys):
    assert main(["results", "--format", "json", "--store", str(stored)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    for key in ("id", "method", "dataset", "source", "seed", "hparams", "metrics", "versions",
                "created_at"):
        assert key in row
    assert row["method"] == "erm" and row["hparams"]["batch_size"] == 64
    assert main(["results", "--format", "csv", "--store", str(stored)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["method"] == "erm"
    assert abs(float(rows[0]["acc_aligned"]) - row["metrics"]["acc_aligned"]) < 1e-12
    assert main(["results", "--format", "table", "--store", str(stored)]) == 0
    assert "erm" in capsys.readouterr().out


def test_list_shows_methods_datasets_sources(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("erm", "conflicting", "mnist-5k", "baseline"):
        assert word in out
    assert "knowledge of the bias's form" in " ".join(out.split())   # greyscale's class


def test_subprocess_run_and_results(tmp_path):
    store = tmp_path / "r.sqlite"
    run = subprocess.run([sys.executable, "-m", "bench", "run", "--method", "erm", *TINY,
                          "--seeds", "2", "--store", str(store)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "mean ± std" in run.stdout
    shown = subprocess.run([sys.executable, "-m", "bench", "results", "--format", "json",
                            "--store", str(store)], capture_output=True, text=True, timeout=300)
    assert sorted(r["seed"] for r in json.loads(shown.stdout)) == [0, 1]


def test_failed_seeds_are_stored_and_the_run_goes_on(tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    code = _run(store, "--set", "lr=1e30", "--seeds", "2")
    assert code == 1
    records = _records(store)
    assert [(r["seed"], r["status"]) for r in records] == [(0, "failed"), (1, "failed")]
    assert all("FloatingPointError" in r["error"] for r in records)


def _one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    # progress lines may come first; the error itself is the one last line, no traceback
    lines = [line for line in err.splitlines() if line.strip()]
    assert "error:" in lines[-1] and "Traceback" not in err, err
    assert sum("error" in line for line in lines) == 1, err
    return lines[-1]


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:          # argparse errors exit through sys.exit(2)
        return exc.code


@pytest.mark.parametrize("argv,expected", [
    (["run", "--method", "ermm", *TINY], "did you mean 'erm'"),
    (["run", "--method", "erm", "--dataset", "colord", *TINY], "did you mean 'colored'"),
    (["run", "--method", "erm", "--conflict-ratio", "1.5", *TINY], "--conflict-ratio 1.5"),
    (["run", "--method", "erm", "--seeds", "0", *TINY], "positive integer"),
    (["run", "--method", "erm", *TINY, "--set", "lr=abc"], "lr expects a float"),
    (["run", "--method", "erm", *TINY, "--set", "lrr=0.1"], "did you mean 'lr'"),
    (["run", "--method", "erm", *TINY, "--device", "tpu"], "expected auto, cpu or cuda"),
])
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    line = _one_line_error(capsys, _exit_code([*argv, "--store", str(tmp_path / "r.sqlite")]))
    assert expected in line


def test_missing_mnist_names_the_files_and_the_fix(tmp_path, capsys, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    (tmp_path / "empty" / "MNIST" / "raw").mkdir(parents=True)
    code = main(["run", "--method", "erm", *TINY, "--source", "mnist", "--data-root",
                 str(tmp_path / "empty"), "--store", str(tmp_path / "r.sqlite")])
    line = _one_line_error(capsys, code)
    assert "train-images-idx3-ubyte" in line and "--source mnist-5k" in line


def test_corrupt_mnist_file_is_named(tmp_path, capsys):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03garbage")
    code = main(["run", "--method", "erm", *TINY, "--source", "mnist", "--data-root",
                 str(tmp_path / "data"), "--store", str(tmp_path / "r.sqlite")])
    line = _one_line_error(capsys, code)
    assert "train-images-idx3-ubyte" in line and "corrupt" in line


def test_unwritable_store_path(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    line = _one_line_error(capsys, _run(tmp_path / "a-file" / "r.sqlite"))
    assert "--store" in line


def test_locked_store_fails_fast_and_loses_nothing(stored, tmp_path, capsys):
    before = _records(stored)
    other = sqlite3.connect(stored, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        line = _one_line_error(capsys, _run(stored, "--first-seed", "5"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked" in line
    assert _records(stored) == before


def test_results_on_a_non_database_file(tmp_path, capsys):
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database\n" * 50)
    line = _one_line_error(capsys, main(["results", "--store", str(path)]))
    assert "not a readable results database" in line
